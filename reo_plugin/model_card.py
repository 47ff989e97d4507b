"""What a model says about itself, shown wherever its numbers are: beside the model chooser, in the
run's results, the message bar, the chat and the layers' metadata.

A model folder states it in ``reo_config.json`` (``extra.trained_on``, ``extra.caveat``; keys in
``reo_core.model.config``), read as plain JSON: the plugin never loads torch. A model that states a
caveat is one whose numbers are no estimates for real places (the built-in demo model); a model
for real use states none, and REO then shows none.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from pathlib import Path

from reo_core.errors import ReoError
from reo_core.model.config import CARD_CAVEAT, CARD_TRAINED_ON
from reo_plugin.parameters import read_model_config

CAVEAT_MARK = "⚠"
CAVEAT_TAG = f"{CAVEAT_MARK} not for real places"  # where a whole sentence does not fit
CAVEAT_COLOUR = "#a14d00"  # dark orange: a warning, readable on light and grey backgrounds


@dataclass(frozen=True)
class ModelCard:
    """The model's card line: what it was trained on, and its caveat if it has one."""

    trained_on: str = ""
    caveat: str = ""

    @classmethod
    def from_config(cls, config: dict) -> ModelCard:
        """From a parsed ``reo_config.json``; missing or non-text entries count as not stated."""
        extra = config.get("extra")
        extra = extra if isinstance(extra, dict) else {}
        return cls(_text(extra.get(CARD_TRAINED_ON)), _text(extra.get(CARD_CAVEAT)))

    @property
    def has_caveat(self) -> bool:
        return bool(self.caveat)

    def trained_on_text(self) -> str:
        return f"Trained on {self.trained_on}." if self.trained_on else ""

    def caveat_text(self) -> str:
        return f"{CAVEAT_MARK} {self.caveat}" if self.caveat else ""

    def line(self) -> str:
        """One line: what it was trained on, then the caveat; empty when the model states
        neither."""
        return " ".join(part for part in (self.trained_on_text(), self.caveat_text()) if part)

    def html(self) -> str:
        """The line for a rich-text label, the caveat in bold warning colour."""
        parts = [html.escape(self.trained_on_text())] if self.trained_on else []
        return " ".join([*parts, self.caveat_html()] if self.caveat else parts)

    def caveat_html(self) -> str:
        """The caveat alone, in bold warning colour ('' when the model has none)."""
        if not self.caveat:
            return ""
        return f"<b style='color:{CAVEAT_COLOUR}'>{html.escape(self.caveat_text())}</b>"


def model_card(folder: str | Path) -> ModelCard:
    """The card of the model in ``folder``; an empty card when it cannot be read (the model
    chooser then says why)."""
    try:
        return ModelCard.from_config(read_model_config(folder))
    except ReoError:
        return ModelCard()


def _text(value: object) -> str:
    return " ".join(value.split()) if isinstance(value, str) else ""
