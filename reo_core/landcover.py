"""Copernicus CGLS-LC100 land cover: the discrete class table, ecological patch counts, human
activity.

Class codes, names and colours are those of the Copernicus Global Land Service Land Cover 100 m
product (collection 3, "discrete_classification"), which AGBD carries in its LC layer.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from reo_core.errors import InputError

NODATA_CODE = 255  # AGBD's no-data value for the LC layer
PATCH_CONNECTIVITY = 8  # FRAGSTATS' default "8-cell neighbour rule"


@dataclass(frozen=True)
class LandCoverClass:
    """One CGLS-LC100 class: code, official name, short name for answers, colour, human activity."""

    code: int
    name: str
    short_name: str
    color: str  # official palette, "#RRGGBB"
    human_activity: str | None = None  # what people do there, for classes made by people

    @property
    def rgb(self) -> tuple[int, int, int]:
        channels = (int(self.color[i : i + 2], 16) for i in (1, 3, 5))
        return tuple(channels)  # type: ignore[return-value]


CLASSES: dict[int, LandCoverClass] = {
    c.code: c
    for c in (
        LandCoverClass(0, "Unknown", "unknown", "#282828"),
        LandCoverClass(20, "Shrubs", "shrubs", "#FFBB22"),
        LandCoverClass(30, "Herbaceous vegetation", "herbaceous vegetation", "#FFFF4C"),
        LandCoverClass(
            40,
            "Cultivated and managed vegetation / agriculture (cropland)",
            "cropland",
            "#F096FF",
            human_activity="agriculture",
        ),
        LandCoverClass(50, "Urban / built up", "urban", "#FA0000", human_activity="built-up area"),
        LandCoverClass(60, "Bare / sparse vegetation", "bare or sparse vegetation", "#B4B4B4"),
        LandCoverClass(70, "Snow and ice", "snow and ice", "#F0F0F0"),
        LandCoverClass(80, "Permanent water bodies", "permanent water", "#0032C8"),
        LandCoverClass(90, "Herbaceous wetland", "herbaceous wetland", "#0096A0"),
        LandCoverClass(100, "Moss and lichen", "moss and lichen", "#FAE6A0"),
        LandCoverClass(
            111,
            "Closed forest, evergreen needle leaf",
            "closed evergreen needleleaf forest",
            "#58481F",
        ),
        LandCoverClass(
            112,
            "Closed forest, evergreen broad leaf",
            "closed evergreen broadleaf forest",
            "#009900",
        ),
        LandCoverClass(
            113,
            "Closed forest, deciduous needle leaf",
            "closed deciduous needleleaf forest",
            "#70663E",
        ),
        LandCoverClass(
            114,
            "Closed forest, deciduous broad leaf",
            "closed deciduous broadleaf forest",
            "#00CC00",
        ),
        LandCoverClass(115, "Closed forest, mixed", "closed mixed forest", "#4E751F"),
        LandCoverClass(116, "Closed forest, other", "closed forest, other", "#007800"),
        LandCoverClass(
            121, "Open forest, evergreen needle leaf", "open evergreen needleleaf forest", "#666000"
        ),
        LandCoverClass(
            122, "Open forest, evergreen broad leaf", "open evergreen broadleaf forest", "#8DB400"
        ),
        LandCoverClass(
            123, "Open forest, deciduous needle leaf", "open deciduous needleleaf forest", "#8D7400"
        ),
        LandCoverClass(
            124, "Open forest, deciduous broad leaf", "open deciduous broadleaf forest", "#A0DC00"
        ),
        LandCoverClass(125, "Open forest, mixed", "open mixed forest", "#929900"),
        LandCoverClass(126, "Open forest, other", "open forest, other", "#648C00"),
        LandCoverClass(200, "Oceans, seas", "open sea", "#000080"),
    )
}

HUMAN_ACTIVITY_CODES: frozenset[int] = frozenset(
    code for code, c in CLASSES.items() if c.human_activity is not None
)
FOREST_CODES: frozenset[int] = frozenset(code for code in CLASSES if code >= 111 and code <= 126)


def land_cover_class(code: int) -> LandCoverClass:
    """The class of a CGLS-LC100 code; an unknown code is an error listing the valid ones."""
    try:
        return CLASSES[int(code)]
    except KeyError:
        raise InputError(
            f"Land-cover code {code} is not a CGLS-LC100 class; valid codes: "
            f"{', '.join(str(c) for c in CLASSES)} (and {NODATA_CODE} for no data)."
        ) from None


def color_table() -> dict[int, tuple[int, int, int, int]]:
    """GDAL colour table of the classes (RGBA), for writing land-cover GeoTIFFs."""
    return {code: (*c.rgb, 255) for code, c in CLASSES.items()}


def check_codes(class_map: np.ndarray, source: str = "land-cover map") -> None:
    """Raise InputError naming the first code of ``class_map`` that is neither a class nor
    no-data."""
    present = np.unique(np.asarray(class_map))
    unknown = [int(c) for c in present if int(c) not in CLASSES and int(c) != NODATA_CODE]
    if unknown:
        raise InputError(
            f"{source} holds land-cover code(s) {unknown} that are not CGLS-LC100 classes.",
            details=f"valid codes: {sorted(CLASSES)}; no data: {NODATA_CODE}",
        )


def count_patches(class_map: np.ndarray, connectivity: int = PATCH_CONNECTIVITY) -> np.ndarray:
    """Ecological patch count: connected regions of one class, no-data pixels excluded.

    Two pixels belong to one patch when they share a class and touch by an edge (``connectivity=4``)
    or by an edge or a corner (``connectivity=8``, the default, as FRAGSTATS counts patches).

    Args:
        class_map: integer class codes, shape (..., H, W); ``NODATA_CODE`` marks no data.
    Returns:
        int64 patch counts, shape (...).
    """
    if connectivity not in (4, 8):
        raise ValueError(f"connectivity must be 4 or 8, got {connectivity}")
    classes = np.asarray(class_map)
    batch_shape, (height, width) = classes.shape[:-2], classes.shape[-2:]
    classes = classes.reshape(-1, height, width)  # (N, H, W)
    valid = classes != NODATA_CODE
    labels = _connected_labels(classes, valid, connectivity)
    pixel_index = np.arange(height * width).reshape(height, width)
    # A region's label is the smallest pixel index in it, so roots label themselves.
    roots = valid & (labels == pixel_index)
    return roots.sum(axis=(-2, -1)).reshape(batch_shape).astype(np.int64)


def _connected_labels(classes: np.ndarray, valid: np.ndarray, connectivity: int) -> np.ndarray:
    """Min-label propagation with pointer jumping: every pixel ends with the smallest pixel index
    of its region.

    A pixel's label is always the index of a pixel of its own region, so following the label's own
    label (pointer jumping) is safe, and it shortcuts long winding regions: far fewer rounds than
    propagating one pixel per round.
    """
    n, height, width = classes.shape
    sentinel = height * width
    labels = np.where(valid, np.arange(sentinel).reshape(1, height, width), sentinel)
    offsets = [(0, 1), (1, 0), (0, -1), (-1, 0)]
    if connectivity == 8:
        offsets += [(1, 1), (1, -1), (-1, 1), (-1, -1)]
    padded_classes = np.pad(classes, ((0, 0), (1, 1), (1, 1)), constant_values=-1)
    same_class = [
        valid & (padded_classes[:, 1 + dy : 1 + dy + height, 1 + dx : 1 + dx + width] == classes)
        for dy, dx in offsets
    ]
    same_class = np.stack(same_class)  # (directions, N, H, W)
    active = np.arange(n)  # maps still changing; the others are done and left alone
    while active.size:
        current = labels[active]
        padded = np.pad(current, ((0, 0), (1, 1), (1, 1)), constant_values=sentinel)
        updated = current
        for (dy, dx), same in zip(offsets, same_class[:, active], strict=True):
            neighbour = padded[:, 1 + dy : 1 + dy + height, 1 + dx : 1 + dx + width]
            updated = np.where(same, np.minimum(updated, neighbour), updated)
        updated = _jump(updated.reshape(active.size, sentinel), sentinel).reshape(current.shape)
        changed = (updated != current).any(axis=(1, 2))
        labels[active] = updated
        active = active[changed]
    return labels


def _jump(labels: np.ndarray, sentinel: int) -> np.ndarray:
    """Replace each label (N, P) by its own label until that changes nothing; no-data stays
    sentinel."""
    while True:
        extended = np.concatenate([labels, np.full((labels.shape[0], 1), sentinel)], axis=1)
        jumped = np.take_along_axis(extended, labels, axis=1)
        if np.array_equal(jumped, labels):
            return labels
        labels = jumped


def dominant_class(class_map: np.ndarray) -> np.ndarray:
    """Most frequent valid class code per map (ties: the smaller code); NODATA_CODE if none valid.

    Args:
        class_map: integer class codes, shape (..., H, W).
    Returns:
        codes, shape (...).
    """
    classes = np.asarray(class_map)
    flat = classes.reshape(-1, classes.shape[-2] * classes.shape[-1]).astype(np.int64)
    counts = np.zeros((flat.shape[0], NODATA_CODE + 1), dtype=np.int64)
    np.add.at(counts, (np.arange(flat.shape[0])[:, None], flat), 1)
    counts[:, NODATA_CODE] = 0
    dominant = counts.argmax(axis=1)
    dominant[counts.max(axis=1) == 0] = NODATA_CODE
    return dominant.reshape(classes.shape[:-2])
