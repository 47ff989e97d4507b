"""Why patches are skipped: no data, cloud or cloud shadow (or lying outside the area).

Each skipped patch gets the reason that covers most of its pixels; the counts go into
summary.json, and when nothing is left to estimate the message says why, in these words.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from reo_core.errors import ExtentError

KEPT, NO_DATA, CLOUD, SHADOW, OUTSIDE = 0, 1, 2, 3, 4
REASONS = {NO_DATA: "no_data", CLOUD: "cloud", SHADOW: "shadow", OUTSIDE: "outside_area"}
_WORDS = {NO_DATA: "no data", CLOUD: "cloud", SHADOW: "cloud shadow"}


def skip_reasons(keep: np.ndarray, inside: np.ndarray, fractions: np.ndarray) -> np.ndarray:
    """(R, C) reason codes: KEPT, OUTSIDE, or the largest of ``fractions`` (R, C, 3) =
    (no data, cloud, shadow) shares of each patch's pixels (ties go to no data)."""
    reasons = np.argmax(fractions, axis=-1).astype(np.uint8) + NO_DATA
    reasons[~inside] = OUTSIDE
    reasons[keep] = KEPT
    return reasons


@dataclass
class SkipCounts:
    """Patches of a run by reason."""

    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(REASONS.values(), 0))

    def add(self, reasons: np.ndarray) -> None:
        for code, name in REASONS.items():
            self.counts[name] += int(np.count_nonzero(reasons == code))

    def merge(self, other: dict[str, int]) -> None:
        for name, count in other.items():
            self.counts[name] += count

    def to_dict(self) -> dict[str, int]:
        return dict(self.counts)


def no_usable_patch(
    counts: dict[str, int] | None, max_nodata_fraction: float, cloud_source: str | None = None
) -> ExtentError:
    """The error of a run where no patch has enough valid pixels, saying why."""
    message = "No patch in the extent has enough valid pixels"
    if counts and (cloud := counts.get("cloud", 0) + counts.get("shadow", 0)):
        total = sum(v for k, v in counts.items() if k != "outside_area")
        parts = [
            f"{counts[REASONS[c]]} {_WORDS[c]}"
            for c in (CLOUD, SHADOW, NO_DATA)
            if counts.get(REASONS[c])
        ]
        message += (
            f": of {total} patches, mostly {', '.join(parts)}"
            + (f" (clouds from the {cloud_source})" if cloud_source else "")
            + ("; the scene is overcast here, so no AGB can be estimated" if cloud == total else "")
            + ". Choose a clearer acquisition or another extent"
        )
    else:
        message += (
            ": it is all no-data (or clouds) in the input. Choose an extent over valid imagery"
        )
    return ExtentError(
        f"{message}, or allow more no-data per patch (max_nodata_fraction is "
        f"{max_nodata_fraction})."
    )
