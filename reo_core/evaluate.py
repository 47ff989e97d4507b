"""Score a predictions file of REO-Instruct tasks and write a report (metrics, Markdown, figures).

    python -m reo_core.evaluate --predictions FILE [--out DIR]

The file is JSON Lines (``.jsonl``, ``.ndjson``: one JSON object a line) or CSV (``.csv``, header
row first), with the columns ``id``, ``task`` (``land_cover``, ``patch_count``, ``human_activity``,
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
import sys
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from reo_core.atomic import json_text, staged_folder
from reo_core.errors import InputError, ReoError
from reo_core.evaluation_report import (
    agb_scatter_png,
    confusion_matrix_png,
    render_report,
    render_summary,
)
from reo_core.evaluation_scores import Evaluation, LandCoverScores, Locate, TaskRows, score_tasks
from reo_core.jsonl import read_jsonl
from reo_core.tasks import Task

logger = logging.getLogger(__name__)

REQUIRED_COLUMNS = ("id", "task", "truth", "prediction")
JSONL_SUFFIXES = (".jsonl", ".ndjson")
METRICS_FILE = "metrics.json"
CSV_SUFFIXES = (".csv",)
_MISSING = object()  # value of a column a CSV row is too short to hold


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


def _group(rows: Iterable[tuple[int, Mapping[str, Any]]], locate: Locate) -> dict[Task, TaskRows]:
    """Check every row's columns and task, and sort the rows by task (enum order)."""
    groups: dict[Task, TaskRows] = {}
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
        bucket = groups.setdefault(task, TaskRows())
        bucket.numbers.append(number)
        bucket.truth.append(row["truth"])
        bucket.prediction.append(row["prediction"])
    return {task: groups[task] for task in Task if task in groups}


# --- the API ------------------------------------------------------------------------------------


def evaluate_records(records: Iterable[Mapping[str, Any]]) -> Evaluation:
    """Scores of in-memory predictions, e.g. from the training loop (nothing is written).

    Args:
        records: mappings with the keys id, task (a ``Task`` or its value), truth, prediction.
    Returns:
        the scores of each task present; floats may be nan (undefined metric).
    Raises:
        InputError naming the record (1-based) with a missing key, unknown task or unreadable truth.
    """
    groups = _group(enumerate(records, start=1), lambda number: f"record {number}")
    return score_tasks(groups, lambda number: f"record {number}")


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
    if out_dir.is_dir() and any(out_dir.iterdir()) and not (out_dir / METRICS_FILE).is_file():
        raise InputError(
            f"--out {out_dir} exists and is not an earlier evaluation report (no {METRICS_FILE}); "
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


def evaluate_file(path: str | Path, out_dir: str | Path | None = None) -> Evaluation:
    """Score a predictions file and write metrics.json, report.md and the figures into ``out_dir``.

    Args:
        path: JSON Lines or CSV predictions (see the module docstring for the columns).
        out_dir: report folder; default ``default_out_dir(path)``. Replaced as a whole, so it
            must be new, empty or an earlier report (holding metrics.json).
    Returns:
        the scores, as from ``evaluate_records``, with ``source`` and ``out_dir`` set.
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
    evaluation = score_tasks(groups, locate)
    evaluation.source, evaluation.out_dir = str(path), str(out)
    tasks = evaluation.tasks
    files = {
        METRICS_FILE: (json_text(evaluation.to_json(), sort_keys=False) + "\n").encode(),
        "report.md": render_report(evaluation, path.name).encode(),
    }
    if isinstance(land_cover := tasks.get(Task.LAND_COVER.value), LandCoverScores):
        files["confusion_matrix.png"] = confusion_matrix_png(land_cover.confusion_matrix)
    if evaluation.agb_pairs is not None:
        files["agb_scatter.png"] = agb_scatter_png(*evaluation.agb_pairs, tasks[Task.AGB.value])
    _write_atomically(out, files)
    logger.info("Wrote %s into %s", ", ".join(files), out)
    return evaluation


# --- command line ------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m reo_core.evaluate",
        description="Score REO-Instruct predictions (JSONL or CSV: id, task, truth, prediction).",
    )
    parser.add_argument(
        "--predictions", type=Path, required=True, help="predictions file (.jsonl or .csv)"
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="report folder (default: <stem>_evaluation beside the file)",
    )
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
