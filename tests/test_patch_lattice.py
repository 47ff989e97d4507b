"""The global patch lattice: plain arithmetic shared by the reader and the plugin's map tool."""

from __future__ import annotations

import pytest

from reo_core.errors import ExtentError
from reo_core.patch_lattice import patch_layout


def test_patches_start_on_multiples_of_250_m_whatever_the_extent():
    data = (404400.0, 5341200.0, 405600.0, 5342400.0)  # BigEarthNet-like, off the lattice
    whole = patch_layout((404400.0, 5342400.0), data)
    assert (whole.left, whole.top, whole.rows, whole.cols) == (404250.0, 5342500.0, 6, 6)
    part = patch_layout(
        (404400.0, 5342400.0), data, extent=(404811.0, 5341777.0, 405333.0, 5342111.0)
    )
    assert part.left % 250 == 0 and part.top % 250 == 0
    assert (part.rows, part.cols) == (2, 3)  # the cells that meet the extent, no more
    row, col = whole.patch_at(405000.0, 5342000.0)
    assert part.patch_bounds(*part.patch_at(405000.0, 5342000.0)) == whole.patch_bounds(row, col)


def test_an_extent_on_lattice_lines_takes_no_neighbouring_cell():
    layout = patch_layout(
        (0.0, 0.0), (0.0, -2500.0, 2500.0, 0.0), extent=(500.0, -1000.0, 1000.0, -500.0)
    )
    assert (layout.left, layout.top, layout.rows, layout.cols) == (500.0, -500.0, 2, 2)


def test_the_lattice_follows_the_phase_of_the_imagery_pixels():
    """Imagery whose 10 m pixels start 3 m off a multiple keeps its own pixels, unresampled."""
    for anchor_x in (600003.0, 599993.0, -7.0, 3.0):  # one pixel lattice, written four ways
        layout = patch_layout((anchor_x, 0.0), (600003.0, -1000.0, 601003.0, 0.0))
        assert layout.left == pytest.approx(600003.0) and layout.cols == 4  # 3 + 2400 x 250 m


def test_stride_cells_are_centred_on_patch_centres():
    layout = patch_layout((0.0, 0.0), (0.0, -1000.0, 1000.0, 0.0), stride=10)
    assert layout.cell_size == 100.0
    row, col = layout.patch_at(125.0, -125.0)  # the centre of the patch whose corner is (0, 0)
    assert layout.patch_bounds(row, col) == (0.0, -250.0, 250.0, 0.0)


def test_outside_and_non_overlapping_are_said():
    layout = patch_layout((0.0, 0.0), (0.0, -500.0, 500.0, 0.0))
    with pytest.raises(ExtentError, match="outside the Sentinel-2 imagery"):
        layout.patch_at(9000.0, 0.0)
    with pytest.raises(ExtentError, match="does not overlap the Sentinel-2 imagery"):
        patch_layout((0.0, 0.0), (0.0, -500.0, 500.0, 0.0), extent=(600.0, -100.0, 700.0, 0.0))
