"""What the engine answers: patch predictions, their place on a block of the patch grid, and blocks
whose host work (composites, spectral inputs) is done."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from reo_core.raster.reader import PatchBlock

UNKNOWN_CLASS = 0  # CGLS-LC100 "Unknown": the answer named no class
COUNT_NODATA = 255  # no count in the answer (uint8 rasters)
MAX_COUNT = 254


@dataclass
class PatchPredictions:
    """Answers for N patches."""

    agb: np.ndarray  # (N,) float32 Mg/ha
    agb_std: np.ndarray | None  # (N,) float32 Mg/ha, with the uncertainty head
    land_cover: np.ndarray  # (N,) uint8 CGLS-LC100 code, UNKNOWN_CLASS when the text names none
    patch_count: np.ndarray  # (N,) uint8, COUNT_NODATA when the text states no count
    texts: list[str]

    @classmethod
    def concat(cls, parts: list[PatchPredictions], has_std: bool) -> PatchPredictions:
        if not parts:
            empty = np.zeros(0, dtype=np.float32)
            return cls(
                empty,
                empty if has_std else None,
                empty.astype(np.uint8),
                empty.astype(np.uint8),
                [],
            )
        return cls(
            agb=np.concatenate([p.agb for p in parts]),
            agb_std=np.concatenate([p.agb_std for p in parts]) if has_std else None,
            land_cover=np.concatenate([p.land_cover for p in parts]),
            patch_count=np.concatenate([p.patch_count for p in parts]),
            texts=[t for p in parts for t in p.texts],
        )

    def take(self, indices: np.ndarray | list[int]) -> PatchPredictions:
        """The answers for the patches at ``indices``, in that order."""
        indices = np.asarray(indices, dtype=np.int64)
        return PatchPredictions(
            agb=self.agb[indices],
            agb_std=None if self.agb_std is None else self.agb_std[indices],
            land_cover=self.land_cover[indices],
            patch_count=self.patch_count[indices],
            texts=[self.texts[i] for i in indices.tolist()],
        )


@dataclass
class BlockResult:
    """Answers of one block of the patch grid; skipped patches hold NaN / no-data."""

    row: int
    col: int
    keep: np.ndarray  # (R, C) bool: patches that were predicted
    agb: np.ndarray  # (R, C) float32 Mg/ha, NaN where skipped
    agb_std: np.ndarray | None  # (R, C) float32 Mg/ha, NaN where skipped
    land_cover: np.ndarray  # (R, C) uint8, 255 where skipped
    patch_count: np.ndarray  # (R, C) uint8, 255 where skipped or no count


@dataclass
class PreparedBlock(PatchBlock):
    """A block with the host's share of the work done: its kept patches' composite images."""

    images: np.ndarray | None = None  # (K, n_images, 3, 25, 25) uint8, the kept patches
    spectral: dict | None = None  # their spectral-channel inputs (ReoProcessor.spectral)


def scatter(block: PatchBlock, predictions: PatchPredictions) -> BlockResult:
    """Put the answers of a block's kept patches back on the block's (R, C) grid."""
    shape, keep = block.keep.shape, block.keep

    def filled(values: np.ndarray, fill: float, dtype: np.dtype | type) -> np.ndarray:
        grid = np.full(shape, fill, dtype=dtype)
        grid[keep] = values
        return grid

    return BlockResult(
        row=block.row,
        col=block.col,
        keep=keep.copy(),
        agb=filled(predictions.agb, np.nan, np.float32),
        agb_std=None
        if predictions.agb_std is None
        else filled(predictions.agb_std, np.nan, np.float32),
        land_cover=filled(predictions.land_cover, 255, np.uint8),
        patch_count=filled(predictions.patch_count, COUNT_NODATA, np.uint8),
    )
