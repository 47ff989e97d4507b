"""The scores of each REO-Instruct task, as typed records, and the scorers that compute them.

Every task's scores start with the counts of its predictions (``n_total``, ``n_parsed``,
``n_unparsable`` and the policy for unparsable ones); ``to_json`` gives the metrics document that
``metrics.json``, the training's validation files and ``summary.json`` hold. Floats may be nan
(an undefined metric; written as null).
"""

from __future__ import annotations

import dataclasses
import math
import typing
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Any, Union

import numpy as np

from reo_core import metrics
from reo_core.answers import normalize_answer, parse_agb, parse_count, parse_land_cover
from reo_core.errors import InputError
from reo_core.landcover import CLASSES
from reo_core.tasks import Task
from reo_core.typed_json import to_json

UNPARSED = -1  # land-cover code standing for an unparsable prediction: never equal to a truth
POLICY_WRONG = "unparsable predictions count as wrong answers"
POLICY_LEFT_OUT = (
    "metrics are computed on the parsed predictions only; unparsable ones are left out"
)
Locate = Callable[[int], str]  # row number -> "predictions.csv line 7"


# --- the records -------------------------------------------------------------------------------


@dataclass(frozen=True)
class TaskScores:
    """What every task reports first: how many predictions, and how many could be read."""

    n_total: int
    n_parsed: int
    n_unparsable: int
    unparsable_policy: str  # POLICY_WRONG or POLICY_LEFT_OUT

    def to_json(self) -> dict[str, Any]:
        """The JSON object of these scores (a ``note`` only where there is one)."""
        values = to_json(self)
        if values.get("note", "") is None:
            del values["note"]
        return values


@dataclass(frozen=True)
class ClassScore:
    code: int  # CGLS-LC100
    name: str
    precision: float
    recall: float
    f1: float
    support: int  # in the truth
    predicted: int


@dataclass(frozen=True)
class ConfusionMatrix:
    rows: str  # "truth"
    columns: str  # "prediction"
    labels: list[int]  # class codes, sorted: in the truth or in the parsed predictions
    names: list[str]
    matrix: list[list[int]]  # [truth][prediction]
    unparsable: list[int]  # per truth class, the extra column


@dataclass(frozen=True)
class LandCoverScores(TaskScores):
    overall_accuracy: float
    macro_precision: float
    macro_recall: float
    macro_f1: float
    macro_over: str
    per_class: list[ClassScore]
    confusion_matrix: ConfusionMatrix


@dataclass(frozen=True)
class AnswerScore:
    answer: str
    support: int
    accuracy: float


@dataclass(frozen=True)
class HumanActivityScores(TaskScores):
    accuracy: float  # exact match of normalised answers
    per_answer: list[AnswerScore]  # most frequent true answer first


@dataclass(frozen=True)
class PatchCountScores(TaskScores):
    rmse: float
    mae: float
    r2: float
    bias: float  # mean of prediction - truth
    note: str | None  # why a metric is undefined
    exact_match_accuracy: float


@dataclass(frozen=True)
class AgbBin:
    low: float  # Mg/ha, of the true AGB
    high: float
    n: int
    rmse: float


@dataclass(frozen=True)
class AgbScores(TaskScores):
    unit: str
    rmse: float
    mae: float
    r2: float
    bias: float
    note: str | None
    bins: list[AgbBin]
    n_truth_outside_bins: int


Scores = Union[LandCoverScores, HumanActivityScores, PatchCountScores, AgbScores]  # noqa: UP007


@dataclass
class Evaluation:
    """The scores of every task present (in ``Task`` order), keyed by the task's value."""

    n_records: int
    tasks: dict[str, Scores]
    source: str | None = None  # the predictions file, when one was read
    out_dir: str | None = None  # where its report was written (not part of the document)
    agb_pairs: tuple[np.ndarray, np.ndarray] | None = field(default=None, repr=False)  # parsed

    def to_json(self) -> dict[str, Any]:
        """The metrics document: ``{["source",] "n_records", "tasks": {task: scores}}``."""
        head = {"source": self.source} if self.source is not None else {}
        tasks = {task: scores.to_json() for task, scores in self.tasks.items()}
        return {**head, "n_records": self.n_records, "tasks": tasks}

    @classmethod
    def from_json(cls, document: dict[str, Any]) -> Evaluation:
        """The scores of a metrics document that ``to_json`` wrote (null floats read as nan)."""
        tasks = {
            task: _from_json(SCORES_OF_TASK[task], scores)
            for task, scores in document["tasks"].items()
        }
        return cls(document["n_records"], tasks, document.get("source"))


SCORES_OF_TASK: dict[str, type] = {
    Task.LAND_COVER.value: LandCoverScores,
    Task.PATCH_COUNT.value: PatchCountScores,
    Task.HUMAN_ACTIVITY.value: HumanActivityScores,
    Task.AGB.value: AgbScores,
}


def _from_json(hint: Any, value: Any) -> Any:
    """``value`` as ``hint`` (a score record, a list of them, or a plain value); null floats:
    nan."""
    if dataclasses.is_dataclass(hint):
        hints = typing.get_type_hints(hint)
        return hint(**{f.name: _from_json(hints[f.name], value.get(f.name)) for f in fields(hint)})
    if typing.get_origin(hint) is list:
        (item,) = typing.get_args(hint)
        return [_from_json(item, v) for v in value]
    if hint is float:
        return math.nan if value is None else float(value)
    return value


# --- reading answers ---------------------------------------------------------------------------


@dataclass
class TaskRows:
    """The rows of one task, in file order."""

    numbers: list[int] = field(default_factory=list)  # line (file) or record (API) numbers
    truth: list[Any] = field(default_factory=list)
    prediction: list[Any] = field(default_factory=list)


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
    rows: TaskRows, parse: Callable[[Any], Any], locate: Locate, expected: str
) -> list[Any]:
    """Every truth read with ``parse``; the first unreadable one is an InputError naming its
    line."""
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


def score_land_cover(rows: TaskRows, locate: Locate) -> LandCoverScores:
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
    names = [CLASSES[int(code)].short_name for code in labels]
    return LandCoverScores(
        **_counts(len(truth), int(valid.sum()), POLICY_WRONG),
        overall_accuracy=metrics.overall_accuracy(truth, prediction),
        macro_precision=macro["precision"],
        macro_recall=macro["recall"],
        macro_f1=macro["f1"],
        macro_over="classes present in the truth or in the parsed predictions",
        per_class=[
            ClassScore(
                code=int(code),
                name=names[i],
                precision=float(scores.precision[i]),
                recall=float(scores.recall[i]),
                f1=float(scores.f1[i]),
                support=int(scores.support[i]),
                predicted=int(scores.predicted[i]),
            )
            for i, code in enumerate(labels)
        ],
        confusion_matrix=ConfusionMatrix(
            rows="truth",
            columns="prediction",
            labels=[int(code) for code in labels],
            names=names,
            matrix=matrix.tolist(),
            unparsable=unparsed_by_truth.tolist(),
        ),
    )


def score_human_activity(rows: TaskRows, locate: Locate) -> HumanActivityScores:
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
        AnswerScore(str(a), int(n), float(h / n))
        for a, n, h in sorted(zip(answers, support, hits, strict=True), key=lambda x: -x[1])
    ]
    return HumanActivityScores(
        **_counts(len(truth), n_parsed, POLICY_WRONG),
        accuracy=float(correct.mean()),
        per_answer=per_answer,
    )


def _regression(truth: np.ndarray, prediction: np.ndarray) -> dict[str, Any]:
    """RMSE, MAE, R^2 and bias of parsed pairs, with a note when R^2 is undefined."""
    r2 = metrics.r2(truth, prediction)
    note = None
    if truth.size == 0:
        note = "no parsable prediction: every metric is undefined"
    elif math.isnan(r2):
        note = "R^2 is undefined: the truth is constant (zero variance)"
    return {
        "rmse": metrics.rmse(truth, prediction),
        "mae": metrics.mae(truth, prediction),
        "r2": r2,
        "bias": metrics.bias(truth, prediction),
        "note": note,
    }


def _parsed_pairs(
    rows: TaskRows, truth: list[Any], parse: Callable[[str], float | int | None]
) -> tuple[np.ndarray, np.ndarray]:
    """(truth, prediction) float arrays of the rows whose prediction parses."""
    prediction = np.array(
        [np.nan if (p := _number(v, parse)) is None else p for v in rows.prediction], dtype=float
    )
    keep = ~np.isnan(prediction)
    return np.asarray(truth, dtype=float)[keep], prediction[keep]


def score_patch_count(rows: TaskRows, locate: Locate) -> PatchCountScores:
    """RMSE, MAE, R^2, bias, exact-match accuracy on parsed predictions."""

    def count(value: Any) -> float | None:
        number = _number(value, parse_count)
        return number if number is not None and number >= 0 and number.is_integer() else None

    truth = _parse_truths(rows, count, locate, "a non-negative whole number of patches")
    y, p = _parsed_pairs(rows, truth, parse_count)
    return PatchCountScores(
        **_counts(len(truth), len(y), POLICY_LEFT_OUT),
        **_regression(y, p),
        exact_match_accuracy=metrics.exact_match_accuracy(y, p),
    )


def score_agb(rows: TaskRows, locate: Locate) -> tuple[AgbScores, np.ndarray, np.ndarray]:
    """RMSE, MAE, R^2, bias and RMSE per 50 Mg/ha bin of the true AGB, on parsed predictions;
    with the parsed (truth, prediction) pairs for the scatter plot."""
    truth = _parse_truths(
        rows, lambda v: _number(v, parse_agb), locate, "a biomass in Mg/ha such as 123.4"
    )
    y, p = _parsed_pairs(rows, truth, parse_agb)
    edges = metrics.AGB_BIN_EDGES
    counts, rmse = metrics.bin_counts(y, edges), metrics.binned_rmse(y, p, edges)
    bins = [
        AgbBin(float(lo), float(hi), int(n), float(r))
        for lo, hi, n, r in zip(edges[:-1], edges[1:], counts, rmse, strict=True)
    ]
    scores = AgbScores(
        **_counts(len(truth), len(y), POLICY_LEFT_OUT),
        unit="Mg/ha",
        **_regression(y, p),
        bins=bins,
        n_truth_outside_bins=int(len(y) - counts.sum()),
    )
    return scores, y, p


def score_tasks(groups: dict[Task, TaskRows], locate: Locate) -> Evaluation:
    """The scores of every task present (enum order), and the AGB pairs for the scatter plot."""
    if not groups:
        raise InputError("no predictions to evaluate")
    tasks: dict[str, Scores] = {}
    agb_pairs = None
    for task, rows in groups.items():
        if task is Task.LAND_COVER:
            tasks[task.value] = score_land_cover(rows, locate)
        elif task is Task.HUMAN_ACTIVITY:
            tasks[task.value] = score_human_activity(rows, locate)
        elif task is Task.PATCH_COUNT:
            tasks[task.value] = score_patch_count(rows, locate)
        else:
            tasks[task.value], y, p = score_agb(rows, locate)
            agb_pairs = (y, p)
    n_records = sum(len(rows.numbers) for rows in groups.values())
    return Evaluation(n_records, tasks, agb_pairs=agb_pairs)
