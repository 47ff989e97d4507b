"""Metrics against values worked out by hand on small cases (the working is in the comments)."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from reo_core import metrics

# truth    = [1, 1, 2, 2, 3]
# pred     = [1, 2, 2, 2, 4]   class 3 is never predicted, class 4 is never in the truth
# labels   = union, sorted = [1, 2, 3, 4]
# confusion matrix (rows truth, columns prediction):
#   1: [1, 1, 0, 0]   2: [0, 2, 0, 0]   3: [0, 0, 0, 1]   4: [0, 0, 0, 0]
TRUTH = np.array([1, 1, 2, 2, 3])
PRED = np.array([1, 2, 2, 2, 4])


@pytest.fixture(autouse=True)
def _no_numpy_warnings():
    """No metric may divide by zero or average an empty array behind our back."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


def test_overall_accuracy_counts_equal_pairs():
    # correct: positions 0, 2, 3 -> 3 / 5
    assert metrics.overall_accuracy(TRUTH, PRED) == pytest.approx(0.6)


def test_confusion_matrix_rows_truth_columns_prediction_in_sorted_label_order():
    matrix = metrics.confusion_matrix(TRUTH, PRED)
    expected = [[1, 1, 0, 0], [0, 2, 0, 0], [0, 0, 0, 1], [0, 0, 0, 0]]
    np.testing.assert_array_equal(matrix, expected)
    assert matrix.dtype == np.int64
    np.testing.assert_array_equal(metrics.class_labels(TRUTH, PRED), [1, 2, 3, 4])


def test_confusion_matrix_follows_given_labels_and_drops_values_outside_them():
    # labels [4, 2, 1] (3 left out): pair (3 -> 4) drops (truth 3 not a label); rows/cols in given
    # order
    #   truth 4: nothing; truth 2: pred 2 twice; truth 1: pred 2 once, pred 1 once
    matrix = metrics.confusion_matrix(TRUTH, PRED, labels=np.array([4, 2, 1]))
    np.testing.assert_array_equal(matrix, [[0, 0, 0], [0, 2, 0], [0, 1, 1]])


def test_confusion_matrix_of_strings():
    # labels sorted: ["no", "yes"]; pairs (yes, yes), (no, yes), (no, no)
    matrix = metrics.confusion_matrix(np.array(["yes", "no", "no"]), np.array(["yes", "yes", "no"]))
    np.testing.assert_array_equal(matrix, [[1, 1], [0, 1]])


def test_class_scores_with_a_class_never_predicted_and_one_never_in_truth():
    scores = metrics.class_scores(TRUTH, PRED)
    # TP = diag = [1, 2, 0, 0]; predicted = column sums = [1, 3, 0, 1]; support = [2, 2, 1, 0]
    np.testing.assert_array_equal(scores.labels, [1, 2, 3, 4])
    np.testing.assert_array_equal(scores.support, [2, 2, 1, 0])
    np.testing.assert_array_equal(scores.predicted, [1, 3, 0, 1])
    # precision = TP / predicted = [1/1, 2/3, 0 (never predicted: zero_division=0), 0/1]
    np.testing.assert_allclose(scores.precision, [1.0, 2 / 3, 0.0, 0.0])
    # recall = TP / support = [1/2, 2/2, 0/1, 0 (never in truth: zero_division=0)]
    np.testing.assert_allclose(scores.recall, [0.5, 1.0, 0.0, 0.0])
    # F1 = 2PR/(P+R): class 1: 2*1*0.5/1.5 = 2/3; class 2: 2*(2/3)*1/(5/3) = 4/5; classes 3, 4: 0
    np.testing.assert_allclose(scores.f1, [2 / 3, 4 / 5, 0.0, 0.0])


def test_macro_average_over_classes_in_truth_or_prediction():
    macro = metrics.macro_average(metrics.class_scores(TRUTH, PRED))
    # precision (1 + 2/3 + 0 + 0) / 4 = 5/12; recall (1/2 + 1 + 0 + 0) / 4 = 3/8
    # F1 (2/3 + 4/5 + 0 + 0) / 4 = (22/15) / 4 = 11/30  (mean of per-class F1, not F1 of the means)
    assert macro == pytest.approx({"precision": 5 / 12, "recall": 3 / 8, "f1": 11 / 30})


def test_prediction_outside_labels_is_wrong_but_costs_no_class_precision():
    # truth [1, 1, 2], pred [1, -1, 2] with labels [1, 2]: -1 stands for an unparsable answer
    # TP [1, 1]; predicted [1, 1]; support [2, 1] -> precision [1, 1], recall [1/2, 1]
    # F1 class 1 = 2*1*0.5/1.5 = 2/3; OA = 2/3
    truth, pred = np.array([1, 1, 2]), np.array([1, -1, 2])
    scores = metrics.class_scores(truth, pred, labels=np.array([1, 2]))
    np.testing.assert_allclose(scores.precision, [1.0, 1.0])
    np.testing.assert_allclose(scores.recall, [0.5, 1.0])
    np.testing.assert_allclose(scores.f1, [2 / 3, 1.0])
    np.testing.assert_array_equal(scores.support, [2, 1])
    assert metrics.overall_accuracy(truth, pred) == pytest.approx(2 / 3)


def test_all_predictions_unparsable_score_zero():
    # nothing predicted: TP = predicted = 0 -> precision 0, recall 0/1 = 0, F1 0; OA 0/2
    truth, pred = np.array([1, 2]), np.array([-1, -1])
    scores = metrics.class_scores(truth, pred, labels=np.array([1, 2]))
    assert metrics.macro_average(scores) == {"precision": 0.0, "recall": 0.0, "f1": 0.0}
    assert metrics.overall_accuracy(truth, pred) == 0.0


def test_perfect_classification():
    truth = np.array([5, 5, 7])
    scores = metrics.class_scores(truth, truth)
    assert metrics.overall_accuracy(truth, truth) == 1.0
    assert metrics.macro_average(scores) == {"precision": 1.0, "recall": 1.0, "f1": 1.0}
    np.testing.assert_array_equal(metrics.confusion_matrix(truth, truth), [[2, 0], [0, 1]])


def test_empty_classification_is_nan():
    empty = np.array([], dtype=int)
    assert math.isnan(metrics.overall_accuracy(empty, empty))
    assert metrics.confusion_matrix(empty, empty).shape == (0, 0)
    macro = metrics.macro_average(metrics.class_scores(empty, empty))
    assert all(math.isnan(v) for v in macro.values())


def test_shape_mismatch_names_both_shapes():
    with pytest.raises(ValueError, match=r"\(3,\) vs \(2,\)"):
        metrics.overall_accuracy(np.zeros(3), np.zeros(2))


# truth [1, 2, 3, 4], pred [2, 2, 2, 6]: errors p - y = [1, 0, -1, 2], squared [1, 0, 1, 4]
Y = np.array([1.0, 2.0, 3.0, 4.0])
P = np.array([2.0, 2.0, 2.0, 6.0])


def test_rmse_mae_bias_by_hand():
    assert metrics.rmse(Y, P) == pytest.approx(math.sqrt(6 / 4))  # sqrt(1.5) = 1.2247
    assert metrics.mae(Y, P) == pytest.approx(1.0)  # (1 + 0 + 1 + 2) / 4
    assert metrics.bias(Y, P) == pytest.approx(0.5)  # (1 + 0 - 1 + 2) / 4


def test_r2_by_hand_can_be_negative():
    # mean y = 2.5; SS_tot = 2.25 + 0.25 + 0.25 + 2.25 = 5; SS_res = 6 -> R^2 = 1 - 6/5 = -0.2
    assert metrics.r2(Y, P) == pytest.approx(-0.2)


def test_r2_of_constant_truth_is_nan_not_a_division_by_zero():
    # SS_tot = 0: R^2 undefined. RMSE still defined: errors [-1, 0, 1] -> sqrt(2/3)
    truth, pred = np.array([3.0, 3.0, 3.0]), np.array([2.0, 3.0, 4.0])
    assert math.isnan(metrics.r2(truth, pred))
    assert metrics.rmse(truth, pred) == pytest.approx(math.sqrt(2 / 3))


def test_perfect_regression():
    assert metrics.rmse(Y, Y) == 0.0
    assert metrics.mae(Y, Y) == 0.0
    assert metrics.bias(Y, Y) == 0.0
    assert metrics.r2(Y, Y) == 1.0
    assert metrics.exact_match_accuracy(Y, Y) == 1.0


def test_regression_of_no_pairs_is_nan():
    empty = np.array([])
    for metric in (
        metrics.rmse,
        metrics.mae,
        metrics.bias,
        metrics.r2,
        metrics.exact_match_accuracy,
    ):
        assert math.isnan(metric(empty, empty)), metric.__name__


def test_round_half_up():
    # floor(x + 0.5): numpy's np.round would give 2.0 for 2.5 (round half to even)
    np.testing.assert_array_equal(metrics.round_half_up([2.5, -2.5, 0.49, 1.5]), [3, -2, 0, 2])


def test_exact_match_accuracy_of_rounded_counts():
    # pred rounded half up: [0.4, 1.5, 2.49, 2.5] -> [0, 2, 2, 3]; truth [0, 1, 2, 3]
    # equal at positions 0, 2, 3 -> 3 / 4
    truth, pred = np.array([0, 1, 2, 3]), np.array([0.4, 1.5, 2.49, 2.5])
    assert metrics.exact_match_accuracy(truth, pred) == pytest.approx(0.75)


# AGB bins of the TRUE value: edges 0, 50, ..., 500; the last bin holds 500 itself
AGB_TRUTH = np.array([10.0, 49.9, 50.0, 120.0, 500.0, 600.0, -1.0])
AGB_PRED = np.array([20.0, 49.9, 60.0, 100.0, 490.0, 0.0, 0.0])


def test_agb_bin_edges_are_agbd_50_mg_bins():
    np.testing.assert_array_equal(metrics.AGB_BIN_EDGES, np.arange(0, 501, 50))


def test_bin_index_left_closed_last_bin_closed_outside_minus_one():
    # 10 -> 0, 49.9 -> 0, 50 -> 1 (left edge belongs to the bin), 120 -> 2, 500 -> 9, 600 and
    # -1 -> -1
    index = metrics.bin_index(np.append(AGB_TRUTH, np.nan))
    np.testing.assert_array_equal(index, [0, 0, 1, 2, 9, -1, -1, -1])


def test_bin_counts_and_binned_rmse_by_hand():
    np.testing.assert_array_equal(metrics.bin_counts(AGB_TRUTH), [2, 1, 1, 0, 0, 0, 0, 0, 0, 1])
    # bin 0: errors [10, 0] -> sqrt(100 / 2) = sqrt(50); bin 1: |60 - 50| = 10;
    # bin 2: |100 - 120| = 20; bin 9: |490 - 500| = 10; empty bins nan; 600 and -1 are in no bin
    nan = float("nan")
    expected = [math.sqrt(50), 10.0, 20.0, nan, nan, nan, nan, nan, nan, 10.0]
    np.testing.assert_allclose(metrics.binned_rmse(AGB_TRUTH, AGB_PRED), expected)


def test_binned_rmse_with_custom_edges():
    # edges [0, 1, 2]: truth 0.5 -> bin 0 (error 1), truth 2 -> bin 1 (error 0.5, 2 is the right
    # edge)
    rmse = metrics.binned_rmse(
        np.array([0.5, 2.0]), np.array([1.5, 1.5]), np.array([0.0, 1.0, 2.0])
    )
    np.testing.assert_allclose(rmse, [1.0, 0.5])
