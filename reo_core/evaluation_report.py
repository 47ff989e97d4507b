"""Render an evaluation's outputs: the Markdown report, the command line's summary and the figures.

The figures are drawn on matplotlib's Agg canvas, so pyplot's global state is never touched;
matplotlib is imported only when a figure is drawn.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from reo_core.evaluation_scores import (
    AgbScores,
    ConfusionMatrix,
    Evaluation,
    HumanActivityScores,
    LandCoverScores,
    PatchCountScores,
    TaskScores,
)
from reo_core.tasks import Task

# --- report ------------------------------------------------------------------------------------


def _pct(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{100 * value:.2f} %"


def _num(value: float, digits: int = 2) -> str:
    return "n/a" if math.isnan(value) else f"{value:.{digits}f}"


def _table(header: list[str], rows: Iterable[list[Any]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return lines


def _counts_lines(scores: TaskScores) -> list[str]:
    return [
        f"{scores.n_total} predictions, {scores.n_parsed} parsed, "
        f"{scores.n_unparsable} unparsable ({scores.unparsable_policy}).",
        "",
    ]


def _land_cover_section(scores: LandCoverScores) -> list[str]:
    values = (scores.overall_accuracy, scores.macro_precision, scores.macro_recall, scores.macro_f1)
    lines = _counts_lines(scores)
    lines += _table(
        ["overall accuracy", "macro precision", "macro recall", "macro F1"],
        [[_pct(value) for value in values]],
    )
    lines += [
        "",
        f"Macro averages over the {scores.macro_over}; a class never predicted has "
        "precision 0, a class never in the truth recall 0.",
        "",
        "### Per class",
        "",
    ]
    lines += _table(
        ["code", "class", "precision", "recall", "F1", "support", "predicted"],
        (
            [c.code, c.name, _pct(c.precision), _pct(c.recall), _pct(c.f1), c.support, c.predicted]
            for c in scores.per_class
        ),
    )
    cm = scores.confusion_matrix
    lines += ["", "### Confusion matrix (rows: truth, columns: prediction)", ""]
    lines += _table(
        ["truth \\ prediction", *cm.names, "unparsable"],
        (
            [name, *row, extra]
            for name, row, extra in zip(cm.names, cm.matrix, cm.unparsable, strict=True)
        ),
    )
    return [*lines, "", "![Confusion matrix](confusion_matrix.png)"]


def _regression_lines(scores: PatchCountScores | AgbScores, unit: str) -> list[str]:
    lines = _counts_lines(scores)
    header = [f"RMSE{unit}", f"MAE{unit}", "R^2", f"bias{unit}"]
    values = [_num(scores.rmse), _num(scores.mae), _num(scores.r2), _num(scores.bias)]
    if isinstance(scores, PatchCountScores):
        header.append("exact-match accuracy")
        values.append(_pct(scores.exact_match_accuracy))
    lines += _table(header, [values])
    if scores.note is not None:
        lines += ["", f"Note: {scores.note}."]
    return lines


def _agb_section(scores: AgbScores) -> list[str]:
    lines = _regression_lines(scores, " (Mg/ha)")
    lines += [
        "",
        "Bias is the mean of prediction - truth.",
        "",
        "### RMSE per bin of the true AGB",
        "",
    ]
    lines += _table(
        ["true AGB (Mg/ha)", "n", "RMSE (Mg/ha)"],
        ([f"{b.low:.0f}-{b.high:.0f}", b.n, _num(b.rmse)] for b in scores.bins),
    )
    if scores.n_truth_outside_bins:
        lines += ["", f"{scores.n_truth_outside_bins} truth values lie outside 0-500 Mg/ha."]
    return [*lines, "", "![Predicted vs true AGB](agb_scatter.png)"]


def _human_activity_section(scores: HumanActivityScores, max_answers: int = 20) -> list[str]:
    lines = [
        *_counts_lines(scores),
        f"Accuracy: {_pct(scores.accuracy)} (exact match of "
        "normalised answers: case, punctuation and articles ignored).",
        "",
    ]
    answers = scores.per_answer[:max_answers]
    if len(scores.per_answer) > max_answers:
        lines += [f"The {max_answers} most frequent true answers (all in metrics.json):", ""]
    lines += _table(
        ["true answer", "n", "accuracy"],
        ([a.answer, a.support, _pct(a.accuracy)] for a in answers),
    )
    return lines


def render_report(result: Evaluation, source: str) -> str:
    """The Markdown report of ``evaluate_records``' result for the predictions file ``source``."""
    lines = [
        f"# Evaluation of `{source}`",
        "",
        f"{result.n_records} predictions.",
        "",
        "Unparsable predictions (empty, or no clear answer) are counted per task. For land cover "
        "and human-activity VQA they count as wrong answers; for AGB and patch counting the "
        "metrics are computed on the parsed predictions only, and the number left out is "
        "reported.",
    ]
    sections: dict[Task, Callable[[Any], list[str]]] = {
        Task.LAND_COVER: _land_cover_section,
        Task.PATCH_COUNT: lambda s: _regression_lines(s, ""),
        Task.HUMAN_ACTIVITY: _human_activity_section,
        Task.AGB: _agb_section,
    }
    for task in Task:
        if task.value in result.tasks:
            lines += ["", f"## {task.title} (`{task.value}`)", ""]
            lines += sections[task](result.tasks[task.value])
    return "\n".join(lines) + "\n"


def render_summary(result: Evaluation) -> str:
    """The one line the command line prints: the headline metric of each task and the report
    folder."""
    parts = []
    for task, scores in result.tasks.items():
        if isinstance(scores, LandCoverScores):
            parts.append(
                f"{task} OA {_pct(scores.overall_accuracy)}, macro F1 {_pct(scores.macro_f1)}"
            )
        elif isinstance(scores, HumanActivityScores):
            parts.append(f"{task} accuracy {_pct(scores.accuracy)}")
        else:
            parts.append(f"{task} RMSE {_num(scores.rmse)}, R^2 {_num(scores.r2)}")
    return f"Evaluated {result.n_records} predictions ({'; '.join(parts)}) -> {result.out_dir}"


# --- figures -----------------------------------------------------------------------------------


def _png(figure: Any) -> bytes:
    """PNG bytes of a matplotlib Figure, drawn with the Agg canvas (pyplot's state is untouched)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    buffer = io.BytesIO()
    FigureCanvasAgg(figure).print_png(buffer)
    return buffer.getvalue()


def agb_scatter_png(truth: np.ndarray, prediction: np.ndarray, scores: AgbScores) -> bytes:
    """Predicted vs true AGB with the 1:1 line; RMSE and R^2 in the title."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(6, 6), dpi=100, layout="constrained")
    axes = figure.add_subplot()
    small = len(truth) < 1000
    axes.plot(
        truth,
        prediction,
        ".",
        ms=6 if small else 2,
        alpha=0.8 if small else 0.3,
        color="#1b7837",
        rasterized=True,
    )
    extent = np.concatenate([truth, prediction, [0.0, 500.0]])  # at least AGBD's 0-500 Mg/ha
    low, high = float(extent.min()), float(extent.max())
    axes.plot([low, high], [low, high], "k--", lw=1, label="1:1")
    axes.set(xlim=(low, high), ylim=(low, high), aspect="equal")
    axes.set_xlabel("true AGB (Mg/ha)")
    axes.set_ylabel("predicted AGB (Mg/ha)")
    r2 = "undefined" if math.isnan(scores.r2) else f"{scores.r2:.2f}"
    axes.set_title(f"AGB: RMSE {_num(scores.rmse)} Mg/ha, R² {r2} (n = {len(truth)})")
    axes.legend(loc="upper left")
    return _png(figure)


def confusion_matrix_png(cm: ConfusionMatrix) -> bytes:
    """Land-cover confusion matrix (rows truth, columns prediction), cells coloured by row share."""
    from matplotlib.figure import Figure

    matrix = np.column_stack([np.array(cm.matrix).reshape(len(cm.names), -1), cm.unparsable])
    share = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    size = 3 + 0.45 * matrix.shape[1]
    figure = Figure(figsize=(size + 1.5, size), dpi=100, layout="constrained")
    axes = figure.add_subplot()
    image = axes.imshow(share, cmap="Blues", vmin=0, vmax=1)
    figure.colorbar(image, ax=axes, label="share of the true class")
    axes.set_xticks(range(matrix.shape[1]), [*cm.names, "unparsable"], rotation=60, ha="right")
    axes.set_yticks(range(matrix.shape[0]), cm.names)
    axes.set_xlabel("predicted class")
    axes.set_ylabel("true class")
    axes.set_title("Land cover confusion matrix")
    if matrix.size <= 30 * 30:
        for (row, col), count in np.ndenumerate(matrix):
            color = "white" if share[row, col] > 0.5 else "black"
            axes.text(col, row, str(count), ha="center", va="center", fontsize=7, color=color)
    return _png(figure)
