"""Window counts by integral image against a plain sliding-window sum."""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from reo_core.window_sums import window_counts


def test_window_counts_equal_the_sum_of_every_window():
    mask = np.random.default_rng(0).random((23, 31)) < 0.3
    for size in (1, 3, 25 - 2):
        expected = sliding_window_view(mask, (size, size)).sum(axis=(-2, -1))
        np.testing.assert_array_equal(window_counts(mask, size), expected)
    assert window_counts(np.ones((5, 5), dtype=bool), 5).tolist() == [[25]]
