"""How REO reads a Sentinel-2 input, as the worker decided it: shown before a run (the ``inspect``
op), after it (summary.json's ``inputs.sentinel2``) and in Processing's log.

The decision is made in one place, ``reo_core.raster.product`` (``ProductDecision.to_dict()``);
this module only words it: one line for the dock, the full decision for a tooltip or a details
box, and its warnings. It decides nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from reo_core import serve_protocol as protocol
from reo_plugin.model_card import CAVEAT_MARK as WARNING_MARK

SEPARATOR = " · "
# The decision's cloud sources (``clouds.kind``; ``mask`` is worded with its kind), in a few words.
CLOUD_WORDS = {
    "scl": "clouds from the SCL",
    "screening": "clouds by REO's screening",
    "none": "no cloud screening",
}


@dataclass(frozen=True)
class Reading:
    """A ``ProductDecision`` as JSON (what inspect answers, what summary.json records)."""

    decision: dict
    patches: int | None = None  # patches of the extent (inspect only)
    grid: protocol.GridInfo | None = None  # the patch grid of the extent (inspect only)

    @classmethod
    def from_inspect(cls, result: dict) -> Reading:
        """From an ``inspect`` result (``serve_protocol.InspectResult``); ProtocolError
        otherwise."""
        inspected = protocol.decode_result(protocol.Inspect.op, result)
        return cls(inspected.decision, inspected.patches, inspected.grid)

    @classmethod
    def from_summary(cls, summary: dict) -> Reading | None:
        """From an estimate's summary.json; None when it records no decision."""
        decision = (summary.get("inputs") or {}).get("sentinel2")
        return cls(decision) if isinstance(decision, dict) else None

    # -- parts --------------------------------------------------------------------------------

    @property
    def warnings(self) -> list[str]:
        return [str(text) for text in self.decision.get("warnings") or []]

    def marked_warnings(self) -> list[str]:
        """The warnings, each marked as one (the dock shows them in the caveat's colour)."""
        return [f"{WARNING_MARK} {text}" for text in self.warnings]

    def level_text(self) -> str:
        level = self.decision.get("level") or {}
        value = level.get("value") or "unknown"
        if value == "unknown":
            return "level unknown (read as L2A)"
        return f"{value} ({level.get('source')})" if level.get("source") else str(value)

    def offset_text(self) -> str:
        offset = self.decision.get("boa_offset") or {}
        text = f"BOA offset {offset.get('value', '?')} DN"
        return f"{text} ({offset.get('source')})" if offset.get("source") else text

    def units_text(self) -> str:
        """'' for digital numbers (the usual), else what the files hold."""
        kinds = sorted({str(u.get("kind")) for u in (self.decision.get("units") or {}).values()})
        return "" if kinds in ([], ["dn"]) else f"values: {', '.join(kinds)}"

    def clouds_text(self) -> str:
        """Where the clouds come from, in a few words (the file and the rule in ``details``)."""
        clouds = self.decision.get("clouds") or {}
        kind = clouds.get("kind")
        if kind == "mask":
            return f"clouds from the {clouds.get('mask_kind')} mask"
        return CLOUD_WORDS.get(kind) or f"clouds: {clouds.get('detail') or 'unknown'}"

    def bands_text(self) -> str:
        ways = sorted({str(b.get("identified_by") or "?") for b in self._read_bands().values()})
        return f"bands by {' and '.join(ways)}" if ways else ""

    def line(self) -> str:
        """One line: level, offset, units, clouds, band identification, patches."""
        parts = [
            self.level_text(),
            self.offset_text(),
            self.units_text(),
            self.clouds_text(),
            self.bands_text(),
        ]
        if self.patches is not None:
            parts.append(f"{self.patches} patch{'es' if self.patches != 1 else ''}")
        return SEPARATOR.join(part for part in parts if part)

    def details(self) -> str:
        """The whole decision, one fact a line, each with where it comes from."""
        d = self.decision
        level, offset = d.get("level") or {}, d.get("boa_offset") or {}
        layouts = ", ".join(dict.fromkeys(d.get("layouts") or []))
        lines = [
            f"Product: {d.get('product') or '(no product name)'}"
            + (f" ({layouts})" if layouts else ""),
            f"Level: {level.get('value', 'unknown')} — {level.get('source')}"
            + (f": {level['detail']}" if level.get("detail") else ""),
            f"BOA offset: {offset.get('value')} DN — {offset.get('source')}"
            + (f": {offset['detail']}" if offset.get("detail") else ""),
        ]
        check = offset.get("data_check") or {}
        if check:
            lines.append(
                f"  data check on {', '.join(check.get('bands') or [])} "
                f"({check.get('pixels', 0)} pixels): {check.get('verdict')}"
            )
        if d.get("quantification"):
            lines.append(f"Quantification: {d['quantification']:g} DN per unit of reflectance")
        lines += self._units_lines()
        clouds = d.get("clouds") or {}
        lines.append(f"Clouds: {clouds.get('kind')} — {clouds.get('detail')}")
        read = self._read_bands()
        lines.append("Bands read:")
        lines += [
            f"  {name}: {Path(str(b.get('file'))).name} band {b.get('band')} "
            f"({b.get('identified_by')})"
            for name, b in read.items()
        ]
        others = [name for name in sorted(d.get("bands") or {}) if name not in read]
        if others:
            lines.append(f"Bands found, not read by this model: {', '.join(others)}")
        if d.get("files_not_used"):
            lines.append(f"Files not used: {', '.join(d['files_not_used'])}")
        if self.grid is not None:
            g = self.grid
            lines.append(
                f"Patch grid: {g.width} x {g.height} patches "
                f"({self.patches} in the extent), stride {g.stride}, {g.crs}"
            )
        if self.warnings:
            lines += ["Warnings:"] + [f"  - {text}" for text in self.warnings]
        return "\n".join(lines)

    def _units_lines(self) -> list[str]:
        """What the files hold: one line when they all hold the same, else one per file."""
        units = self.decision.get("units") or {}
        kinds = {(u.get("kind"), u.get("reason")) for u in units.values()}
        if len(units) > 1 and len(kinds) == 1:
            kind, reason = kinds.pop()
            return [f"Values: {kind} ({reason}) in all {len(units)} files"]
        return [
            f"Values of {Path(path).name}: {u.get('kind')} ({u.get('reason')})"
            for path, u in sorted(units.items())
        ]

    def _read_bands(self) -> dict[str, dict]:
        bands = self.decision.get("bands") or {}
        return {
            name: b for name, b in sorted(bands.items()) if isinstance(b, dict) and b.get("read")
        }


def skipped_text(skipped_by_reason: dict | None) -> str:
    """'8 cloud, 1 shadow, 4 no data' from summary.json's ``patches.skipped_by_reason``."""
    counts = [
        (str(reason).replace("_", " "), int(count))
        for reason, count in (skipped_by_reason or {}).items()
        if count
    ]
    return ", ".join(f"{count} {reason}" for reason, count in counts)
