"""What a person follows during training: a progress bar, a metrics CSV and PNG curves at the
end."""

from __future__ import annotations

import csv
import math
from pathlib import Path

METRICS_FILE = "metrics.csv"
LOSS_PLOT, VALIDATION_PLOT = "loss.png", "validation.png"

COLUMNS = ("stage", "step", "kind", "name", "value")


class Logbook:
    """Appends rows ``stage, step, kind (train|val), name, value`` to ``metrics.csv``."""

    def __init__(self, output: Path, enabled: bool = True) -> None:
        self.path = Path(output) / METRICS_FILE
        self.enabled = enabled
        if enabled and not self.path.exists():
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("w", newline="") as handle:
                csv.writer(handle).writerow(COLUMNS)

    def log(self, stage: int, step: int, kind: str, values: dict[str, float]) -> None:
        if not self.enabled:
            return
        with self.path.open("a", newline="") as handle:
            writer = csv.writer(handle)
            for name, value in values.items():
                if isinstance(value, (int, float)) and math.isfinite(value):
                    writer.writerow((stage, step, kind, name, f"{value:.6g}"))

    def drop_after(self, stage: int, step: int) -> None:
        """On resume: forget rows the killed run logged after its last checkpoint."""
        if not (self.enabled and self.path.exists()):
            return
        with self.path.open(newline="") as handle:
            rows = list(csv.reader(handle))
        kept = [rows[0]] + [
            r for r in rows[1:] if int(r[0]) < stage or (int(r[0]) == stage and int(r[1]) <= step)
        ]
        with self.path.open("w", newline="") as handle:
            csv.writer(handle).writerows(kept)

    def read(self) -> list[dict]:
        with self.path.open(newline="") as handle:
            return [dict(zip(COLUMNS, row, strict=True)) for row in list(csv.reader(handle))[1:]]


def plot_curves(logbook: Logbook, output: Path) -> list[Path]:
    """``loss.png`` (training losses by stage) and ``validation.png`` (validation metrics)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    rows = logbook.read()
    written = []
    for kind, filename, title in (
        ("train", LOSS_PLOT, "training loss"),
        ("val", VALIDATION_PLOT, "validation"),
    ):
        series: dict[str, list[tuple[int, float]]] = {}
        for row in rows:
            if row["kind"] == kind and (kind == "val" or row["name"] == "loss"):
                series.setdefault(f"stage {row['stage']}: {row['name']}", []).append(
                    (int(row["step"]), float(row["value"]))
                )
        if not series:
            continue
        figure = Figure(figsize=(7, 4), dpi=100)
        axes = figure.add_subplot()
        for label, points in sorted(series.items()):
            steps, values = zip(*points, strict=True)
            axes.plot(
                steps, values, marker="o" if kind == "val" else None, markersize=3, label=label
            )
        axes.set_xlabel("optimiser step")
        axes.set_title(title)
        axes.grid(alpha=0.3)
        axes.legend(fontsize=7)
        figure.tight_layout()
        figure.savefig(output / filename, metadata={"Software": None})
        written.append(output / filename)
    return written
