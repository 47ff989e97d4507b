"""Evaluation metrics of REO-VLM's tasks, as small pure numpy functions.

Classification (land cover, VQA): overall accuracy, confusion matrix, per-class precision / recall /
F1 / support, macro averages. Regression (AGB, patch counts): RMSE, MAE, R^2, bias, exact-match
accuracy of rounded counts, RMSE and counts per bin of the true value (AGBD's 50 Mg/ha bins).

Conventions, stated once:

* ``y`` is the truth, ``p`` the prediction, ``n`` the number of pairs.
* A metric of zero pairs is ``nan``; so is R^2 of a constant truth (its denominator is zero).
* A ratio with a zero denominator in per-class scores is 0, as scikit-learn's ``zero_division=0``:
  a class never predicted has precision 0; a class never in the truth has recall 0; F1 is 0 when
  precision + recall is 0.
* Macro averages run over ``labels``: by default every class present in the truth OR the
  predictions.
* A prediction outside ``labels`` (an unparsable answer, say, encoded as -1) counts as wrong: it
  lowers its true class's recall and the accuracy, and no class's precision.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

AGB_BIN_EDGES = np.arange(0.0, 501.0, 50.0)  # Mg/ha: 0-50, 50-100, ..., 450-500 (AGBD's bins)


def _pair(truth: np.ndarray, prediction: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    y, p = np.asarray(truth), np.asarray(prediction)
    if y.shape != p.shape:
        raise ValueError(f"truth and prediction differ in shape: {y.shape} vs {p.shape}")
    return y, p


# --- classification ---------------------------------------------------------------------------


def overall_accuracy(truth: np.ndarray, prediction: np.ndarray) -> float:
    """Overall accuracy OA = (1/n) * sum_i [y_i == p_i]; nan when n = 0."""
    y, p = _pair(truth, prediction)
    return float(np.mean(y == p)) if y.size else float("nan")


def class_labels(truth: np.ndarray, prediction: np.ndarray) -> np.ndarray:
    """Stable label order: the sorted union of the values in truth and prediction."""
    y, p = _pair(truth, prediction)
    return np.union1d(y.ravel(), p.ravel())


def confusion_matrix(
    truth: np.ndarray, prediction: np.ndarray, labels: np.ndarray | None = None
) -> np.ndarray:
    """C[i, j] = #{k : y_k == labels[i] and p_k == labels[j]}, rows truth, columns prediction.

    ``labels`` defaults to ``class_labels(truth, prediction)`` (sorted); pairs with a value outside
    ``labels`` are left out. Returns int64, shape (L, L).
    """
    y, p = _pair(truth, prediction)
    labels = class_labels(y, p) if labels is None else np.asarray(labels)
    order = np.argsort(labels, kind="stable")
    sorted_labels = labels[order]
    size = len(labels)
    if size == 0:
        return np.zeros((0, 0), dtype=np.int64)

    def index(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        position = np.clip(np.searchsorted(sorted_labels, values.ravel()), 0, size - 1)
        return order[position], sorted_labels[position] == values.ravel()

    row, row_ok = index(y)
    col, col_ok = index(p)
    keep = row_ok & col_ok
    counts = np.bincount(row[keep] * size + col[keep], minlength=size * size)
    return counts.reshape(size, size).astype(np.int64)


@dataclass(frozen=True)
class ClassScores:
    """Per-class scores, all arrays of shape (L,) in the order of ``labels``."""

    labels: np.ndarray
    precision: np.ndarray  # TP / (TP + FP), 0 when never predicted
    recall: np.ndarray  # TP / (TP + FN), 0 when never in the truth
    f1: np.ndarray  # 2 P R / (P + R), 0 when P + R = 0
    support: np.ndarray  # number of truth values of the class, TP + FN
    predicted: np.ndarray  # number of predictions of the class, TP + FP


def _safe_ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """numerator / denominator, 0 where the denominator is 0 (``zero_division=0``)."""
    numerator, denominator = np.asarray(numerator, float), np.asarray(denominator, float)
    out = np.zeros_like(numerator)
    np.divide(numerator, denominator, out=out, where=denominator != 0)
    return out


def class_scores(
    truth: np.ndarray, prediction: np.ndarray, labels: np.ndarray | None = None
) -> ClassScores:
    """Per-class precision, recall, F1 and support from the confusion matrix C (rows truth).

    TP_c = C[c, c]; predicted_c = TP_c + FP_c = sum_i C[i, c]; support_c = TP_c + FN_c =
    #{k : y_k == c} (counted from the truth, so a prediction outside ``labels`` still adds a false
    negative).
    precision_c = TP_c / predicted_c, recall_c = TP_c / support_c, F1_c = 2 P_c R_c / (P_c + R_c);
    each 0 when its denominator is 0.
    """
    y, p = _pair(truth, prediction)
    labels = class_labels(y, p) if labels is None else np.asarray(labels)
    matrix = confusion_matrix(y, p, labels)
    true_positive = np.diag(matrix)
    predicted = matrix.sum(axis=0)
    support = confusion_matrix(y, y, labels).diagonal().copy()
    precision = _safe_ratio(true_positive, predicted)
    recall = _safe_ratio(true_positive, support)
    f1 = _safe_ratio(2 * precision * recall, precision + recall)
    return ClassScores(labels, precision, recall, f1, support, predicted)


def macro_average(scores: ClassScores) -> dict[str, float]:
    """Unweighted means over the labels: macro_P = (1/L) sum_c P_c, likewise recall and F1.

    Note macro F1 is the mean of the per-class F1 (as scikit-learn), not the F1 of macro P and R.
    nan when there are no labels.
    """
    if len(scores.labels) == 0:
        return {"precision": float("nan"), "recall": float("nan"), "f1": float("nan")}
    return {
        "precision": float(np.mean(scores.precision)),
        "recall": float(np.mean(scores.recall)),
        "f1": float(np.mean(scores.f1)),
    }


# --- regression --------------------------------------------------------------------------------


def _float_pair(truth: np.ndarray, prediction: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    y, p = _pair(truth, prediction)
    return y.astype(np.float64, copy=False), p.astype(np.float64, copy=False)


def rmse(truth: np.ndarray, prediction: np.ndarray) -> float:
    """Root-mean-square error RMSE = sqrt((1/n) * sum_i (p_i - y_i)^2); nan when n = 0."""
    y, p = _float_pair(truth, prediction)
    return float(np.sqrt(np.mean((p - y) ** 2))) if y.size else float("nan")


def mae(truth: np.ndarray, prediction: np.ndarray) -> float:
    """Mean absolute error MAE = (1/n) * sum_i |p_i - y_i|; nan when n = 0."""
    y, p = _float_pair(truth, prediction)
    return float(np.mean(np.abs(p - y))) if y.size else float("nan")


def bias(truth: np.ndarray, prediction: np.ndarray) -> float:
    """Mean error bias = (1/n) * sum_i (p_i - y_i): positive when the model over-predicts; nan when
    n = 0."""
    y, p = _float_pair(truth, prediction)
    return float(np.mean(p - y)) if y.size else float("nan")


def r2(truth: np.ndarray, prediction: np.ndarray) -> float:
    """Coefficient of determination R^2 = 1 - SS_res / SS_tot.

    SS_res = sum_i (y_i - p_i)^2, SS_tot = sum_i (y_i - mean(y))^2. R^2 is undefined when the truth
    is constant (SS_tot = 0) or n = 0: then nan is returned, never a division by zero. R^2 is
    negative when the model does worse than predicting mean(y).
    """
    y, p = _float_pair(truth, prediction)
    if y.size == 0:
        return float("nan")
    total = float(np.sum((y - y.mean()) ** 2))
    if total == 0.0:
        return float("nan")
    return 1.0 - float(np.sum((y - p) ** 2)) / total


def round_half_up(values: np.ndarray) -> np.ndarray:
    """floor(x + 0.5): 2.5 -> 3, -2.5 -> -2 (numpy's own rounding sends 2.5 to 2)."""
    return np.floor(np.asarray(values, dtype=np.float64) + 0.5)


def exact_match_accuracy(truth: np.ndarray, prediction: np.ndarray) -> float:
    """Share of counts predicted exactly: (1/n) * sum_i [round(p_i) == round(y_i)], rounding half
    up.

    nan when n = 0.
    """
    y, p = _float_pair(truth, prediction)
    return overall_accuracy(round_half_up(y), round_half_up(p))


def bin_index(values: np.ndarray, edges: np.ndarray = AGB_BIN_EDGES) -> np.ndarray:
    """Bin of each value: b such that edges[b] <= v < edges[b+1]; the last bin includes its right
    edge; -1 for values outside [edges[0], edges[-1]] or nan."""
    v = np.asarray(values, dtype=np.float64)
    edges = np.asarray(edges, dtype=np.float64)
    index = np.searchsorted(edges, v, side="right") - 1
    index[v == edges[-1]] = len(edges) - 2
    outside = ~((v >= edges[0]) & (v <= edges[-1]))
    index[outside] = -1
    return index


def bin_counts(truth: np.ndarray, edges: np.ndarray = AGB_BIN_EDGES) -> np.ndarray:
    """n_b = #{i : y_i in bin b} for every bin of ``edges`` (see ``bin_index``), int64 shape
    (B,)."""
    index = bin_index(truth, edges)
    return np.bincount(index[index >= 0], minlength=len(edges) - 1).astype(np.int64)


def binned_rmse(
    truth: np.ndarray, prediction: np.ndarray, edges: np.ndarray = AGB_BIN_EDGES
) -> np.ndarray:
    """RMSE per bin of the TRUE value: RMSE_b = sqrt((1/n_b) * sum_{i: y_i in b} (p_i - y_i)^2).

    Bins are those of ``bin_index`` (AGBD's 50 Mg/ha bins by default); nan for an empty bin.
    Returns float64, shape (B,).
    """
    y, p = _float_pair(truth, prediction)
    index = bin_index(y, edges)
    inside = index >= 0
    n_bins = len(edges) - 1
    squared = np.bincount(index[inside], weights=(p - y)[inside] ** 2, minlength=n_bins)
    counts = np.bincount(index[inside], minlength=n_bins)
    out = np.full(n_bins, np.nan)
    np.sqrt(squared / np.maximum(counts, 1), out=out, where=counts > 0)
    return out
