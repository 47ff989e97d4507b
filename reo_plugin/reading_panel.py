"""The dock's "How REO reads this": the worker's decision on the chosen inputs, before the run.

A collapsible section of its own right under Inputs (inside it, a reading of two or three lines
would push the band grid out of a laptop screen's height). One line of text (level, BOA offset
and its source, clouds, how the bands were recognised, patches), wrapped to the dock's width and
selectable; the whole decision in its tooltip and behind a "…" button; below it, the decision's
warnings (orange) or the error that stops the run (red), with what to change. Hidden until there
is something to say.
"""

from __future__ import annotations

import html

from qgis.gui import QgsCollapsibleGroupBox

from reo_plugin import messages
from reo_plugin.messages import ERROR_COLOUR
from reo_plugin.model_card import CAVEAT_COLOUR
from reo_plugin.option_hints import DOCK, with_hint
from reo_plugin.qt import QtCore, QtWidgets
from reo_plugin.reading import Reading

PREFIX = "How REO reads this: "
TITLE = "How REO reads this"


class ReadingPanel(QgsCollapsibleGroupBox):
    """Hidden until there is something to say; ``line`` is the one-line reading."""

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(TITLE, parent)
        self.setObjectName("reoReadingSection")
        self.setSaveCollapsedState(True)
        self.line = QtWidgets.QLabel("")
        self.line.setObjectName("reoReading")
        self.line.setWordWrap(True)
        self.line.setTextFormat(QtCore.Qt.TextFormat.RichText)
        self.line.setTextInteractionFlags(QtCore.Qt.TextInteractionFlag.TextSelectableByMouse)
        self.details_button = QtWidgets.QToolButton()
        self.details_button.setObjectName("reoReadingDetails")
        self.details_button.setText("…")
        self.details_button.setToolTip("The whole decision: every choice, where it comes from.")
        self.details_button.clicked.connect(self.show_details)
        self.issues = FittedText()
        self.issues.setObjectName("reoReadingIssues")
        row = QtWidgets.QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.line, 1)
        row.addWidget(self.details_button, 0, QtCore.Qt.AlignmentFlag.AlignTop)
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(6, 4, 6, 4)
        layout.setSpacing(2)
        layout.addLayout(row)
        layout.addWidget(self.issues)
        self.reading: Reading | None = None
        self.line_text = ""
        self.issue_texts: list[str] = []
        self.clear()

    # -- what is shown ----------------------------------------------------------------------------

    def set_text(self, text: str, details: str = "") -> None:
        """The line alone ('' hides it); ``details`` in its tooltip."""
        self.line_text = f"{PREFIX}{text}" if text else ""
        self.line.setText(html.escape(text))
        self.line.setToolTip(details or text)
        self.line.setVisible(bool(text))
        self.details_button.setVisible(bool(text) and bool(details))
        self._refresh()

    def show_checking(self) -> None:
        self.reading = None
        self._set_issues([], CAVEAT_COLOUR)
        self.set_text("asking the worker…")

    def show_reading(self, reading: Reading) -> None:
        """The worker's decision: the line, its details, its warnings."""
        self.reading = reading
        warnings = [with_hint(text, DOCK) for text in reading.marked_warnings()]
        self._set_issues(warnings, CAVEAT_COLOUR)
        self.set_text(reading.line(), reading.details())

    def show_error(self, message: str) -> None:
        """What stops the run (the worker's or the dock's message), in red; no reading."""
        self.reading = None
        self._set_issues([message], ERROR_COLOUR)
        self.set_text("")

    def clear(self) -> None:
        self.reading = None
        self._set_issues([], CAVEAT_COLOUR)
        self.set_text("")

    def text(self) -> str:
        """Everything shown, as plain text (the line, then the warnings or the error)."""
        return "\n".join(filter(None, [self.line_text, *self.issue_texts]))

    def show_details(self) -> None:
        if self.reading is not None:
            messages.show_details(self, TITLE, self.reading.line(), self.reading.details())

    # -- internals ------------------------------------------------------------------------------

    def _set_issues(self, texts: list[str], colour: str) -> None:
        self.issue_texts = list(texts)
        body = "".join(
            f'<p style="margin:0">{html.escape(text).replace(chr(10), "<br>")}</p>'
            for text in texts
        )
        self.issues.setHtml(f'<div style="color:{colour}">{body}</div>' if texts else "")
        self.issues.setVisible(bool(texts))

    def _refresh(self) -> None:
        self.setVisible(bool(self.line_text) or bool(self.issue_texts))


class FittedText(QtWidgets.QTextBrowser):
    """Read-only rich text as tall as its text at the given width, up to ``MAX_LINES`` lines; more
    scrolls (several long warnings must not push the rest of the dock off a laptop screen)."""

    MAX_LINES = 9

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFrameShape(QtWidgets.QFrame.Shape.NoFrame)
        self.setOpenLinks(False)
        self.viewport().setAutoFillBackground(False)
        self.setHorizontalScrollBarPolicy(QtCore.Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        policy = QtWidgets.QSizePolicy(
            QtWidgets.QSizePolicy.Policy.Preferred, QtWidgets.QSizePolicy.Policy.Preferred
        )
        policy.setHeightForWidth(True)
        self.setSizePolicy(policy)
        self.document().contentsChanged.connect(self.updateGeometry)

    def hasHeightForWidth(self) -> bool:
        return True

    def heightForWidth(self, width: int) -> int:
        document = self.document().clone()
        document.setTextWidth(max(width - 2 * self.frameWidth(), 1))
        cap = self.MAX_LINES * self.fontMetrics().lineSpacing()
        return int(min(document.size().height(), cap)) + 2 * self.frameWidth()

    def sizeHint(self) -> QtCore.QSize:
        width = max(self.width(), 200)
        return QtCore.QSize(width, self.heightForWidth(width))

    def minimumSizeHint(self) -> QtCore.QSize:
        return QtCore.QSize(50, self.fontMetrics().lineSpacing())
