"""The four REO-Instruct task families, as carried in dialogue and prediction files.

The enum values (``"land_cover"``, ``"patch_count"``, ``"human_activity"``, ``"agb"``) are the
strings files hold in their ``task`` column; ``Task.parse`` turns such a string into the enum or
raises an ``InputError`` that lists the allowed values.
"""

from __future__ import annotations

from enum import Enum

from reo_core.errors import InputError


class Task(str, Enum):
    """A task family of REO-Instruct and how it is scored (see ``reo_core.evaluate``)."""

    LAND_COVER = "land_cover"  # CGLS-LC100 class of the patch: OA, macro precision/recall/F1
    PATCH_COUNT = "patch_count"  # ecological patches in the patch: RMSE, MAE, R^2, exact match
    HUMAN_ACTIVITY = "human_activity"  # VQA about human activity: accuracy of the short answer
    AGB = "agb"  # above-ground biomass at the centre pixel, Mg/ha: RMSE, MAE, R^2

    @property
    def title(self) -> str:
        """Human-readable name, for reports."""
        return _TITLES[self]

    @classmethod
    def parse(cls, value: object) -> Task:
        """The task named by ``value`` (surrounding whitespace ignored); unknown names raise
        InputError."""
        if isinstance(value, cls):
            return value
        text = value.strip() if isinstance(value, str) else value
        try:
            return cls(text)
        except ValueError:
            allowed = ", ".join(repr(task.value) for task in cls)
            raise InputError(
                f"Unknown task {value!r}; the task column must be one of {allowed}."
            ) from None


_TITLES = {
    Task.LAND_COVER: "Land-cover classification",
    Task.PATCH_COUNT: "Ecological patch counting",
    Task.HUMAN_ACTIVITY: "Human-activity VQA",
    Task.AGB: "Above-ground biomass regression",
}
