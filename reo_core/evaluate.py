"""Score a predictions file of REO-Instruct tasks and write a report (metrics, Markdown, figures).

    python -m reo_core.evaluate --predictions FILE [--out DIR]

The file is JSON Lines (``.jsonl``, ``.ndjson``: one JSON object a line) or CSV (``.csv``, header row
first), with the columns ``id``, ``task`` (``land_cover``, ``patch_count``, ``human_activity``,
``agb``), ``truth`` and ``prediction`` (generated text, or a number); other columns are ignored.

Predictions that cannot be read (empty, null, no clear answer: see ``reo_core.answers``) are counted
per task as ``n_unparsable``. For land cover and human-activity VQA they count as wrong answers; for
AGB and patch counting, whose metrics need a number, the metrics are computed on the parsed
predictions only. Truth values must all be readable: a bad one is an error naming the line.

``--out`` (default: ``<stem>_evaluation`` beside the file) receives metrics.json, report.md,
confusion_matrix.png (if land cover is present) and agb_scatter.png (if AGB is present). Nothing is
written unless everything succeeds: the files go to a temporary folder beside ``--out`` that is
renamed into place at the very end, replacing an older report only then. The report and the
figures are drawn by ``reo_core.evaluation_report``.
"""

from __future__ import annotations

import argparse
import csv
import logging
import math
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from reo_core import metrics
from reo_core.answers import normalize_answer, parse_agb, parse_count, parse_land_cover
from reo_core.atomic import json_text, staged_folder
from reo_core.errors import InputError, ReoError
from reo_core.evaluation_report import (
    agb_scatter_png,
    confusion_matrix_png,
    render_report,
    render_summary,
)
from reo_core.jsonl import read_jsonl
from reo_core.landcover import CLASSES
from reo_core.tasks import Task

logger = logging.getLogger(__name__)

REQUIRED_COLUMNS = ("id", "task", "truth", "prediction")
JSONL_SUFFIXES = (".jsonl", ".ndjson")
CSV_SUFFIXES = (".csv",)
UNPARSED = -1  # land-cover code standing for an unparsable prediction: never equal to a truth

POLICY_WRONG = "unparsable predictions count as wrong answers"
POLICY_LEFT_OUT = (
    "metrics are computed on the parsed predictions only; unparsable ones are left out"
)

_MISSING = object()  # value of a column a CSV row is too short to hold
Locate = Callable[[int], str]  # row number -> "predictions.csv line 7"


@dataclass
class _TaskRows:
    """The rows of one task, in file order."""

    numbers: list[int] = field(default_factory=list)  # line (file) or record (API) numbers
    truth: list[Any] = field(default_factory=list)
    prediction: list[Any] = field(default_factory=list)


@dataclass
class _Evaluation:
    """Everything to write: the metrics and the arrays the figures need."""

    metrics: dict[str, Any]
    agb: tuple[np.ndarray, np.ndarray] | None = None  # (truth, prediction) of parsed pairs


# --- reading -----------------------------------------------------------------------------------


def _read_jsonl(path: Path) -> Iterator[tuple[int, Mapping[str, Any]]]:
    return read_jsonl(path, f"a JSON object with the keys {', '.join(REQUIRED_COLUMNS)}")


def _read_csv(path: Path) -> Iterator[tuple[int, Mapping[str, Any]]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle, restval=_MISSING)  # a short row fills with _MISSING
        if reader.fieldnames is None:
            return  # no header: an empty file
        for column in REQUIRED_COLUMNS:
            if column not in reader.fieldnames:
                raise InputError(
                    f"{path.name} line 1: missing column {column!r} in the header; the header must "
                    f"name {', '.join(REQUIRED_COLUMNS)} (found {', '.join(reader.fieldnames)})."
                )
        for row in reader:
            yield reader.line_num, row


def _read_rows(path: Path) -> Iterator[tuple[int, Mapping[str, Any]]]:
    suffix = path.suffix.lower()
    if suffix in JSONL_SUFFIXES:
        return _read_jsonl(path)
    if suffix in CSV_SUFFIXES:
        return _read_csv(path)
    raise InputError(
        f"{path.name}: unknown file type {path.suffix!r}; give a JSON Lines file "
        f"({', '.join(JSONL_SUFFIXES)}) or a CSV file ({', '.join(CSV_SUFFIXES)})."
    )


def _group(rows: Iterable[tuple[int, Mapping[str, Any]]], locate: Locate) -> dict[Task, _TaskRows]:
    """Check every row's columns and task, and sort the rows by task (enum order)."""
    groups: dict[Task, _TaskRows] = {}
    tasks: dict[Any, Task] = {}  # raw task value -> Task, so each distinct value is parsed once
    for number, row in rows:
        for column in REQUIRED_COLUMNS:
            if column not in row or row[column] is _MISSING:
                raise InputError(
                    f"{locate(number)}: missing column {column!r}; every row needs "
                    f"{', '.join(REQUIRED_COLUMNS)}."
                )
        raw_task = row["task"]
        task = tasks.get(raw_task) if isinstance(raw_task, str) else None
        if task is None:
            try:
                task = Task.parse(raw_task)
            except InputError as err:
                raise InputError(f"{locate(number)}: {err.message}") from None
            if isinstance(raw_task, str):
                tasks[raw_task] = task
        bucket = groups.setdefault(task, _TaskRows())
        bucket.numbers.append(number)
        bucket.truth.append(row["truth"])
        bucket.prediction.append(row["prediction"])
    return {task: groups[task] for task in Task if task in groups}


# --- reading answers ---------------------------------------------------------------------------


def _number(value: Any, text_parser: Callable[[str], float | int | None]) -> float | None:
    """A finite number from a JSON number, a numeric string ("12.5") or, failing that, text."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            parsed = text_parser(value)
            number = float("nan") if parsed is None else float(parsed)
    else:
        return None
    return number if math.isfinite(number) else None


def _text(value: Any) -> str | None:
    """A text answer: strings as they are, numbers written out, anything else (null) None."""
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return None


def _parse_truths(
    rows: _TaskRows, parse: Callable[[Any], Any], locate: Locate, expected: str
) -> list[Any]:
    """Every truth read with ``parse``; the first unreadable one is an InputError naming its line."""
    parsed = [parse(value) for value in rows.truth]
    for number, value, result in zip(rows.numbers, rows.truth, parsed, strict=True):
        if result is None:
            raise InputError(
                f"{locate(number)}: truth {value!r} cannot be read; expected {expected}."
            )
    return parsed


def _counts(n_total: int, n_parsed: int, policy: str) -> dict[str, Any]:
    return {
        "n_total": n_total,
        "n_parsed": n_parsed,
        "n_unparsable": n_total - n_parsed,
        "unparsable_policy": policy,
    }


# --- scoring -----------------------------------------------------------------------------------


def _score_land_cover(rows: _TaskRows, locate: Locate) -> dict[str, Any]:
    """OA, macro and per-class precision / recall / F1, confusion matrix; unparsable = wrong."""
    expected = f"a CGLS-LC100 class code ({', '.join(map(str, CLASSES))}) or class name"
    truth = np.array(_parse_truths(rows, parse_land_cover, locate, expected), dtype=np.int64)
    parsed = [parse_land_cover(value) for value in rows.prediction]
    prediction = np.array([UNPARSED if p is None else p for p in parsed], dtype=np.int64)
    valid = prediction != UNPARSED
    labels = np.union1d(truth, prediction[valid])  # classes in truth OR predictions, sorted
    scores = metrics.class_scores(truth, prediction, labels)
    macro = metrics.macro_average(scores)
    matrix = metrics.confusion_matrix(truth, prediction, labels)
    unparsed_by_truth = metrics.confusion_matrix(truth[~valid], truth[~valid], labels).diagonal()
    return {
        **_counts(len(truth), int(valid.sum()), POLICY_WRONG),
        "overall_accuracy": metrics.overall_accuracy(truth, prediction),
        "macro_precision": macro["precision"],
        "macro_recall": macro["recall"],
        "macro_f1": macro["f1"],
        "macro_over": "classes present in the truth or in the parsed predictions",
        "per_class": [
            {
                "code": int(code),
                "name": CLASSES[int(code)].short_name,
                "precision": float(scores.precision[i]),
                "recall": float(scores.recall[i]),
                "f1": float(scores.f1[i]),
                "support": int(scores.support[i]),
                "predicted": int(scores.predicted[i]),
            }
            for i, code in enumerate(labels)
        ],
        "confusion_matrix": {
            "rows": "truth",
            "columns": "prediction",
            "labels": [int(code) for code in labels],
            "names": [CLASSES[int(code)].short_name for code in labels],
            "matrix": matrix.tolist(),
            "unparsable": unparsed_by_truth.tolist(),  # per truth class, the extra column
        },
    }


def _score_human_activity(rows: _TaskRows, locate: Locate) -> dict[str, Any]:
    """Exact-match accuracy of normalised short answers; unparsable = wrong."""

    def answer(value: Any) -> str | None:
        return normalize_answer(_text(value))

    truth = _parse_truths(rows, answer, locate, "a non-empty answer such as 'yes' or 'agriculture'")
    prediction = [answer(value) for value in rows.prediction]
    correct = np.array([t == p for t, p in zip(truth, prediction, strict=True)], dtype=bool)
    n_parsed = sum(p is not None for p in prediction)
    answers, inverse = np.unique(np.array(truth, dtype=object).astype(str), return_inverse=True)
    support = np.bincount(inverse, minlength=len(answers))
    hits = np.bincount(inverse, weights=correct, minlength=len(answers))
    per_answer = [
        {"answer": str(a), "support": int(n), "accuracy": float(h / n)}
        for a, n, h in sorted(zip(answers, support, hits, strict=True), key=lambda x: -x[1])
    ]
    return {
        **_counts(len(truth), n_parsed, POLICY_WRONG),
        "accuracy": float(correct.mean()),
        "per_answer": per_answer,
    }


def _regression(truth: np.ndarray, prediction: np.ndarray) -> dict[str, Any]:
    """RMSE, MAE, R^2 and bias of parsed pairs, with a note when R^2 is undefined."""
    scores: dict[str, Any] = {
        "rmse": metrics.rmse(truth, prediction),
        "mae": metrics.mae(truth, prediction),
        "r2": metrics.r2(truth, prediction),
        "bias": metrics.bias(truth, prediction),
    }
    if truth.size == 0:
        scores["note"] = "no parsable prediction: every metric is undefined"
    elif math.isnan(scores["r2"]):
        scores["note"] = "R^2 is undefined: the truth is constant (zero variance)"
    return scores


def _parsed_pairs(
    rows: _TaskRows, truth: list[Any], parse: Callable[[str], float | int | None]
) -> tuple[np.ndarray, np.ndarray]:
    """(truth, prediction) float arrays of the rows whose prediction parses."""
    prediction = np.array(
        [np.nan if (p := _number(v, parse)) is None else p for v in rows.prediction], dtype=float
    )
    keep = ~np.isnan(prediction)
    return np.asarray(truth, dtype=float)[keep], prediction[keep]


def _score_patch_count(rows: _TaskRows, locate: Locate) -> dict[str, Any]:
    """RMSE, MAE, R^2, bias, exact-match accuracy on parsed predictions."""

    def count(value: Any) -> float | None:
        number = _number(value, parse_count)
        return number if number is not None and number >= 0 and number.is_integer() else None

    truth = _parse_truths(rows, count, locate, "a non-negative whole number of patches")
    y, p = _parsed_pairs(rows, truth, parse_count)
    return {
        **_counts(len(truth), len(y), POLICY_LEFT_OUT),
        **_regression(y, p),
        "exact_match_accuracy": metrics.exact_match_accuracy(y, p),
    }


def _score_agb(rows: _TaskRows, locate: Locate) -> tuple[dict[str, Any], np.ndarray, np.ndarray]:
    """RMSE, MAE, R^2, bias and RMSE per 50 Mg/ha bin of the true AGB, on parsed predictions."""
    truth = _parse_truths(
        rows, lambda v: _number(v, parse_agb), locate, "a biomass in Mg/ha such as 123.4"
    )
    y, p = _parsed_pairs(rows, truth, parse_agb)
    edges = metrics.AGB_BIN_EDGES
    counts, rmse = metrics.bin_counts(y, edges), metrics.binned_rmse(y, p, edges)
    bins = [
        {"low": float(lo), "high": float(hi), "n": int(n), "rmse": float(r)}
        for lo, hi, n, r in zip(edges[:-1], edges[1:], counts, rmse, strict=True)
    ]
    scores = {
        **_counts(len(truth), len(y), POLICY_LEFT_OUT),
        "unit": "Mg/ha",
        **_regression(y, p),
        "bins": bins,
        "n_truth_outside_bins": int(len(y) - counts.sum()),
    }
    return scores, y, p


def _evaluate(groups: dict[Task, _TaskRows], locate: Locate) -> _Evaluation:
    """Metrics of every task present (enum order), and the AGB pairs for the scatter plot."""
    if not groups:
        raise InputError("no predictions to evaluate")
    tasks: dict[str, Any] = {}
    evaluation = _Evaluation(metrics={})
    for task, rows in groups.items():
        if task is Task.LAND_COVER:
            tasks[task.value] = _score_land_cover(rows, locate)
        elif task is Task.HUMAN_ACTIVITY:
            tasks[task.value] = _score_human_activity(rows, locate)
        elif task is Task.PATCH_COUNT:
            tasks[task.value] = _score_patch_count(rows, locate)
        else:
            tasks[task.value], y, p = _score_agb(rows, locate)
            evaluation.agb = (y, p)
    n_records = sum(len(rows.numbers) for rows in groups.values())
    evaluation.metrics = {"n_records": n_records, "tasks": tasks}
    return evaluation


def evaluate_records(records: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Metrics of in-memory predictions, e.g. from the training loop (nothing is written).

    Args:
        records: mappings with the keys id, task (a ``Task`` or its value), truth, prediction.
    Returns:
        ``{"n_records": n, "tasks": {task value: metrics}}``; floats may be nan (undefined metric).
    Raises:
        InputError naming the record (1-based) with a missing key, unknown task or unreadable truth.
    """
    groups = _group(enumerate(records, start=1), lambda number: f"record {number}")
    return _evaluate(groups, lambda number: f"record {number}").metrics


# --- writing -----------------------------------------------------------------------------------


def _check_out_dir(out_dir: Path, predictions: Path) -> None:
    """Refuse an ``out_dir`` whose replacement would delete anything but an earlier report."""
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError(f"--out {out_dir} is a file; give a folder path for the report.")
    if predictions.resolve().is_relative_to(out_dir.resolve()):
        raise InputError(
            f"--out {out_dir} holds the predictions file, and the report replaces that folder "
            "as a whole; give another folder."
        )
    if out_dir.is_dir() and any(out_dir.iterdir()) and not (out_dir / "metrics.json").is_file():
        raise InputError(
            f"--out {out_dir} exists and is not an earlier evaluation report (no metrics.json); "
            "the report replaces that folder as a whole, so give a new or empty folder."
        )


def _write_atomically(out_dir: Path, files: dict[str, bytes]) -> None:
    """Write ``files`` into a staging folder that replaces ``out_dir`` only once complete."""
    with staged_folder(out_dir) as staging:
        for name, data in files.items():
            (staging / name).write_bytes(data)


def default_out_dir(predictions: Path) -> Path:
    """``<stem>_evaluation`` beside the predictions file."""
    return predictions.parent / f"{predictions.stem}_evaluation"


def evaluate_file(path: str | Path, out_dir: str | Path | None = None) -> dict[str, Any]:
    """Score a predictions file and write metrics.json, report.md and the figures into ``out_dir``.

    Args:
        path: JSON Lines or CSV predictions (see the module docstring for the columns).
        out_dir: report folder; default ``default_out_dir(path)``. Replaced as a whole, so it
            must be new, empty or an earlier report (holding metrics.json).
    Returns:
        the metrics, as in ``evaluate_records``, plus ``source`` and ``out_dir``.
    Raises:
        InputError naming the file and line of the first problem; then nothing is written.
    """
    path = Path(path)
    out = Path(out_dir) if out_dir is not None else default_out_dir(path)
    if not path.is_file():
        raise InputError(f"Predictions file {path} not found; check the --predictions path.")
    _check_out_dir(out, path)
    locate: Locate = lambda number: f"{path.name} line {number}"  # noqa: E731
    try:
        groups = _group(_read_rows(path), locate)
    except UnicodeDecodeError as err:
        raise InputError(
            f"{path.name} is not UTF-8 text ({err.reason}); save it as UTF-8."
        ) from None
    if not groups:
        raise InputError(
            f"{path.name} holds no predictions; it needs rows with {', '.join(REQUIRED_COLUMNS)}."
        )
    evaluation = _evaluate(groups, locate)
    result = {"source": str(path), **evaluation.metrics}
    tasks = result["tasks"]
    files = {
        "metrics.json": (json_text(result, sort_keys=False) + "\n").encode(),
        "report.md": render_report(result, path.name).encode(),
    }
    if Task.LAND_COVER.value in tasks:
        files["confusion_matrix.png"] = confusion_matrix_png(
            tasks["land_cover"]["confusion_matrix"]
        )
    if evaluation.agb is not None:
        files["agb_scatter.png"] = agb_scatter_png(*evaluation.agb, tasks[Task.AGB.value])
    _write_atomically(out, files)
    logger.info("Wrote %s into %s", ", ".join(files), out)
    return {**result, "out_dir": str(out)}


# --- command line ------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m reo_core.evaluate",
        description="Score REO-Instruct predictions (JSONL or CSV: id, task, truth, prediction).",
    )
    parser.add_argument(
        "--predictions", type=Path, required=True, help="predictions file (.jsonl or .csv)"
    )
    parser.add_argument("--out", type=Path, default=None, help="report folder (default: <stem>_evaluation beside the file)")  # fmt: skip
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        result = evaluate_file(args.predictions, args.out)
    except ReoError as err:
        logger.error("%s", err)
        return 2
    print(render_summary(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
