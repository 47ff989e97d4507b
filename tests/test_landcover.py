"""CGLS-LC100 class table, patch counting and human-activity classes."""

from __future__ import annotations

import numpy as np
import pytest

from reo_core import landcover
from reo_core.errors import InputError


def test_class_table_has_the_official_codes_and_colours():
    assert sorted(landcover.CLASSES) == [
        0,
        20,
        30,
        40,
        50,
        60,
        70,
        80,
        90,
        100,
        111,
        112,
        113,
        114,
        115,
        116,
        121,
        122,
        123,
        124,
        125,
        126,
        200,
    ]
    assert landcover.CLASSES[112].color == "#009900"
    assert landcover.CLASSES[80].rgb == (0, 50, 200)
    assert landcover.color_table()[50] == (250, 0, 0, 255)


def test_human_activity_classes_are_cropland_and_built_up():
    assert {40, 50} == landcover.HUMAN_ACTIVITY_CODES
    assert landcover.land_cover_class(40).human_activity == "agriculture"


def test_unknown_code_is_an_error_listing_valid_codes():
    with pytest.raises(InputError, match="Land-cover code 41 is not a CGLS-LC100 class"):
        landcover.land_cover_class(41)
    with pytest.raises(InputError, match=r"\[41\]"):
        landcover.check_codes(np.array([[20, 41], [255, 20]]))
    landcover.check_codes(np.array([[20, 255]]))


def test_patch_count_uses_eight_connectivity_by_default():
    diagonal = np.array(
        [
            [20, 30, 30],
            [30, 20, 30],
            [30, 30, 20],
        ]
    )
    # 8-connected: the diagonal of shrubs is one patch, and the two herbaceous triangles touch
    # corner to corner at (0, 1)-(1, 0), so they are one patch too. 4-connected: 3 + 2 patches.
    assert landcover.count_patches(diagonal) == 2
    assert landcover.count_patches(diagonal, connectivity=4) == 5


def test_patch_count_of_worked_examples():
    uniform = np.full((25, 25), 111)
    assert landcover.count_patches(uniform) == 1
    stripes = np.zeros((25, 25), dtype=int) + 40
    stripes[:, 5:10] = 80
    stripes[:, 15:20] = 80
    assert landcover.count_patches(stripes) == 5
    # A ring of forest around a lake, inside a herbaceous border with a second lake in a corner.
    ring = np.full((7, 7), 30)
    ring[1:6, 1:6] = 112
    ring[3, 3] = 80
    ring[0, 6] = 80
    assert landcover.count_patches(ring) == 4  # herbaceous border, forest ring, two lakes


def test_patch_count_ignores_no_data_and_batches():
    maps = np.full((2, 3, 4, 4), 20)
    maps[0, 0, :, 2] = landcover.NODATA_CODE  # splits one region into two
    maps[1, 2] = landcover.NODATA_CODE  # nothing valid
    counts = landcover.count_patches(maps)
    assert counts.shape == (2, 3)
    assert counts.tolist() == [[2, 1, 1], [1, 1, 0]]


def _reference_count(class_map: np.ndarray, connectivity: int) -> int:
    """Breadth-first flood fill, the textbook way, to check the vectorised counter against."""
    height, width = class_map.shape
    seen = class_map == landcover.NODATA_CODE
    steps = [(0, 1), (1, 0), (0, -1), (-1, 0)]
    if connectivity == 8:
        steps += [(1, 1), (1, -1), (-1, 1), (-1, -1)]
    count = 0
    for start in zip(*np.nonzero(~seen), strict=True):
        if seen[start]:
            continue
        count += 1
        queue, seen[start] = [start], True
        while queue:
            y, x = queue.pop()
            for dy, dx in steps:
                ny, nx = y + dy, x + dx
                inside = 0 <= ny < height and 0 <= nx < width
                if inside and not seen[ny, nx] and class_map[ny, nx] == class_map[y, x]:
                    seen[ny, nx] = True
                    queue.append((ny, nx))
    return count


@pytest.mark.parametrize("connectivity", [4, 8])
def test_patch_count_matches_a_flood_fill_on_random_maps(connectivity):
    rng = np.random.default_rng(3)
    maps = rng.choice(
        [20, 30, 112, landcover.NODATA_CODE], size=(40, 25, 25), p=[0.4, 0.3, 0.25, 0.05]
    )
    # Coarsen half of them into 5x5 blocks, like LC100 upsampled to 10 m.
    maps[20:] = np.repeat(np.repeat(maps[20:, ::5, ::5], 5, axis=1), 5, axis=2)
    expected = [_reference_count(m, connectivity) for m in maps]
    assert landcover.count_patches(maps, connectivity).tolist() == expected


def test_dominant_class_breaks_ties_towards_the_smaller_code():
    maps = np.array([[[20, 30], [30, 20]], [[255, 255], [255, 80]], [[255, 255], [255, 255]]])
    assert landcover.dominant_class(maps).tolist() == [20, 80, 255]
