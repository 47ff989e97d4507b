"""The worker's results as the plugin shows them: output files, the summary line, an answer.

Results are read with reo_core.serve_protocol's result types, exactly as the worker sends them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from reo_core import serve_protocol as protocol
from reo_plugin.reading import Reading, skipped_text

SUMMARY_KEY = "summary"  # the key of summary.json among an estimate's paths (not a layer)
TOP_CLASSES = 4  # classes named in the one-line summary


@dataclass
class EstimateOutcome:
    """What an estimate produced: its folder, files by key and the summary numbers."""

    out: Path
    files: dict[str, Path]
    summary: dict = field(default_factory=dict)

    @classmethod
    def from_result(cls, result: dict, out: str | Path | None = None) -> EstimateOutcome:
        """Read an ``estimate`` result (``serve_protocol.EstimateResult``).

        Args:
            result: the result as the worker sent it.
            out: the folder the request named; the worker must have written there.
        Raises:
            ProtocolError: the result has another shape, or lies in another folder.
        """
        estimate = protocol.decode_result(protocol.Estimate.op, result)
        folder = Path(estimate.out)
        if out is not None and not _same_folder(folder, Path(out)):
            raise protocol.ProtocolError(
                f"The worker wrote the results into {folder}, not into {out} as asked; is the "
                "worker running on another file system?"
            )
        files = {key: Path(path) for key, path in estimate.paths.items() if key != SUMMARY_KEY}
        return cls(folder, files, estimate.summary)

    @property
    def total_agb_mg(self) -> float | None:
        return _number((self.summary.get("agb") or {}).get("total_mg"))

    @property
    def total_carbon_mg(self) -> float | None:
        return _number((self.summary.get("carbon") or {}).get("total_mg"))

    @property
    def mean_agb(self) -> float | None:
        return _number((self.summary.get("agb") or {}).get("mean"))

    @property
    def area_ha(self) -> float | None:
        return _number(self.summary.get("valid_area_ha"))

    @cached_property
    def reading(self) -> Reading | None:
        """How the worker read the Sentinel-2 input (summary.json's ``inputs.sentinel2``)."""
        return Reading.from_summary(self.summary)

    def warnings(self) -> list[str]:
        """The warnings of the input decision (a conflict of metadata and data, L1C read, ...)."""
        reading = self.reading
        return reading.warnings if reading is not None else []

    def skipped_text(self) -> str:
        """'13 of 100 patches skipped: 8 cloud, 1 shadow, 4 no data'; '' when none was skipped."""
        patches = self.summary.get("patches") or {}
        skipped = int(patches.get("skipped") or 0)
        if not skipped:
            return ""
        reasons = skipped_text(patches.get("skipped_by_reason"))
        total = patches.get("total")
        of = f" of {total}" if total is not None else ""
        return f"{skipped}{of} patches skipped" + (f": {reasons}" if reasons else "")

    def class_areas(self) -> list[tuple[str, float]]:
        """(class name, area in ha), largest first (summary.json's ``land_cover_area_ha``)."""
        table = self.summary.get("land_cover_area_ha") or {}
        areas = [(entry["name"], float(entry["area_ha"])) for entry in table.values()]
        return sorted(areas, key=lambda item: -item[1])

    def summary_text(self) -> str:
        """One line for the message bar: totals, mean and the largest classes."""
        parts = []
        if self.total_agb_mg is not None:
            text = f"Total AGB {_mg(self.total_agb_mg)}"
            if self.total_carbon_mg is not None:
                text += f" (carbon {_mg(self.total_carbon_mg)} C)"
            if self.area_ha is not None:
                text += f" over {self.area_ha:,.0f} ha"
            parts.append(text)
        if self.mean_agb is not None:
            parts.append(f"mean {self.mean_agb:.1f} Mg/ha")
        areas = self.class_areas()
        total = sum(area for _, area in areas)
        if areas and total > 0:
            shown = ", ".join(
                f"{name} {100 * area / total:.0f} %" for name, area in areas[:TOP_CLASSES]
            )
            parts.append(f"land cover: {shown}")
        return "; ".join(parts) + "." if parts else "Estimate finished."

    def details_text(self) -> str:
        """Several lines for the details box: the summary, skipped patches, how the input was
        read and its warnings, every class area and the files."""
        lines = [self.summary_text()]
        skipped = self.skipped_text()
        if skipped:
            lines.append(f"{skipped}.")
        reading = self.reading
        if reading is not None:
            lines.append(f"Input read as: {reading.line()}")
            lines += reading.marked_warnings()
        lines.append("")
        lines += [f"{name}: {area:,.1f} ha" for name, area in self.class_areas()]
        lines += ["", f"Folder: {self.out}"] + [
            f"{key}: {path}" for key, path in self.files.items()
        ]
        return "\n".join(lines)


@dataclass
class AskAnswer:
    """The worker's answer about one patch."""

    question: str
    text: str
    agb: float | None = None
    agb_std: float | None = None
    unit: str = "Mg/ha"
    patch_bounds: tuple[float, float, float, float] | None = None
    patch_crs: str | None = None
    land_cover: str | None = None

    @classmethod
    def from_result(cls, result: dict, question: str = "") -> AskAnswer:
        """Read an ``ask`` result (``serve_protocol.AskResult``); ``question`` if it has none."""
        answer = protocol.decode_result(protocol.Ask.op, result)
        return cls(
            question=answer.question or question,
            text=answer.answer.strip(),
            agb=answer.agb,
            agb_std=answer.agb_std,
            unit=answer.unit or "Mg/ha",
            patch_bounds=answer.patch.bounds,
            patch_crs=answer.patch.crs,
            land_cover=None if answer.land_cover is None else answer.land_cover.name,
        )

    @property
    def agb_text(self) -> str | None:
        if self.agb is None:
            return None
        if self.agb_std is not None:
            return f"{self.agb:.1f} ± {self.agb_std:.1f} {self.unit}"
        return f"{self.agb:.1f} {self.unit}"


def _number(value: object) -> float | None:
    try:
        return None if value is None else float(value)
    except (TypeError, ValueError):
        return None


def _same_folder(a: Path, b: Path) -> bool:
    if a.exists() and b.exists():
        return os.path.samefile(a, b)
    return a.resolve() == b.resolve()


def _mg(value: float) -> str:
    if abs(value) >= 1e6:
        return f"{value / 1e6:,.2f} Mt"
    return f"{value:,.0f} Mg"
