"""The worker's results as the plugin shows them: output files, the summary line, an answer."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from reo_core.landcover import CLASSES

OUTPUT_KEYS = ("agb", "agb_std", "land_cover", "patch_count", "quicklook")
TOP_CLASSES = 4  # classes named in the one-line summary


@dataclass
class EstimateOutcome:
    """What an estimate produced: its folder, files by key and the summary numbers."""

    out: Path
    files: dict[str, Path]
    summary: dict = field(default_factory=dict)

    @classmethod
    def from_result(cls, result: dict, out: str | Path) -> EstimateOutcome:
        """Read the ``estimate`` result: files may be absolute, or names relative to ``out``."""
        out = Path(result.get("out") or out)
        summary = result.get("summary") if isinstance(result.get("summary"), dict) else result
        files: dict[str, Path] = {}
        sources = [
            summary.get("files"),
            result.get("files"),
            result.get("outputs"),
            result.get("paths"),
        ]
        for source in sources:
            if not isinstance(source, dict):
                continue
            for key, value in source.items():
                if key in OUTPUT_KEYS and isinstance(value, str) and value:
                    path = Path(value)
                    files[key] = path if path.is_absolute() else out / path
        for key in OUTPUT_KEYS:  # flat keys: {"agb": "/x/agb.tif", "quicklook": ...}
            value = result.get(key)
            if key not in files and isinstance(value, str) and value:
                path = Path(value)
                files[key] = path if path.is_absolute() else out / path
        return cls(out, files, summary)

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

    def class_areas(self) -> list[tuple[str, float]]:
        """(class name, area in ha), largest first."""
        table = self.summary.get("land_cover_area_ha") or {}
        areas = []
        for code, entry in table.items():
            area = _number(entry.get("area_ha") if isinstance(entry, dict) else entry)
            if area is None:
                continue
            name = entry.get("name") if isinstance(entry, dict) else None
            areas.append((name or _class_name(code), area))
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
        """Several lines for the details box: files and every class area."""
        lines = [self.summary_text(), ""]
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
        patch = result.get("patch") or {}
        bounds = patch.get("bounds")
        land_cover = result.get("land_cover")
        return cls(
            question=str(result.get("question") or question),
            text=str(result.get("answer") or result.get("text") or "").strip(),
            agb=_number(result.get("agb")),
            agb_std=_number(result.get("agb_std")),
            unit=str(result.get("unit") or "Mg/ha"),
            patch_bounds=tuple(float(v) for v in bounds) if bounds and len(bounds) == 4 else None,
            patch_crs=patch.get("crs"),
            land_cover=land_cover.get("name") if isinstance(land_cover, dict) else land_cover,
        )

    @property
    def agb_text(self) -> str | None:
        if self.agb is None:
            return None
        if self.agb_std is not None:
            return f"{self.agb:.1f} ± {self.agb_std:.1f} {self.unit}"
        return f"{self.agb:.1f} {self.unit}"


def _number(value) -> float | None:
    try:
        return None if value is None else float(value)
    except (TypeError, ValueError):
        return None


def _mg(value: float) -> str:
    if abs(value) >= 1e6:
        return f"{value / 1e6:,.2f} Mt"
    return f"{value:,.0f} Mg"


def _class_name(code) -> str:
    try:
        return CLASSES[int(code)].name
    except (KeyError, TypeError, ValueError):
        return f"class {code}"
