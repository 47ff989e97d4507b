"""Seeded smooth random fields and the small array helpers the simulator builds scenes from.

A field is a 2-D float array. Smooth fields are white noise low-passed with a Gaussian kernel in the
Fourier domain (numpy FFT; no scipy), so they are periodic: rolling one by any offset gives an
equally valid field, which the cloud-shadow offset relies on.
"""

from __future__ import annotations

import numpy as np


def gaussian_filter_fft(values: np.ndarray, sigma_px: float) -> np.ndarray:
    """Periodic Gaussian smoothing of the last two axes with standard deviation ``sigma_px`` pixels.

    Args:
        values: shape (..., H, W).
    Returns:
        float64 array of the same shape.
    """
    height, width = values.shape[-2:]
    fy = np.fft.fftfreq(height)[:, None]  # cycles per pixel
    fx = np.fft.rfftfreq(width)[None, :]
    # The Fourier transform of a unit-area Gaussian of std s is exp(-2 pi^2 s^2 f^2).
    transfer = np.exp(-2.0 * np.pi**2 * sigma_px**2 * (fy**2 + fx**2))
    spectrum = np.fft.rfft2(values, axes=(-2, -1)) * transfer
    return np.fft.irfft2(spectrum, s=(height, width), axes=(-2, -1))


def gaussian_field(shape: tuple[int, int], scale_px: float, rng: np.random.Generator) -> np.ndarray:
    """A zero-mean, unit-variance smooth random field whose features are about ``scale_px`` across.

    ``scale_px`` is the smoothing kernel's standard deviation; blobs above a threshold are roughly
    2-3 times that wide. Scales below ~0.3 pixel give (nearly) white noise.

    Returns:
        float32 array, shape ``shape``.
    """
    noise = rng.standard_normal(shape)
    field = gaussian_filter_fft(noise, scale_px) if scale_px > 0.3 else noise
    return standardize(field).astype(np.float32)


def gaussian_series(length: int, scale_px: float, rng: np.random.Generator) -> np.ndarray:
    """A 1-D smooth random series (zero mean, unit variance), e.g. a river's meander offsets.

    Returns:
        float64 array, shape (length,).
    """
    return standardize(gaussian_filter_fft(rng.standard_normal((1, length)), scale_px)[0])


def standardize(field: np.ndarray) -> np.ndarray:
    """``(field - mean) / std``; a constant field becomes zeros instead of NaN."""
    std = field.std()
    return (field - field.mean()) / std if std > 0 else np.zeros_like(field)


def quantile_threshold(field: np.ndarray, fraction: float) -> float:
    """The value that ``fraction`` of the field's pixels exceed (so ``field > t`` covers
    ``fraction``)."""
    if fraction <= 0:
        return float("inf")
    return float(np.quantile(field, 1.0 - min(fraction, 1.0)))


def ramp(values: np.ndarray, low: float, high: float) -> np.ndarray:
    """0 below ``low``, 1 above ``high``, linear between: a soft threshold for opacities."""
    return np.clip((values - low) / (high - low), 0.0, 1.0)


def block_mean(values: np.ndarray, factor: int) -> np.ndarray:
    """Mean of each ``factor`` x ``factor`` block over the finite values; NaN where a block has
    none.

    Edge blocks that the array does not fill completely average the pixels they do hold, so a grid
    coarser than the scene still covers all of it.

    Args:
        values: shape (..., H, W), NaN for no data.
    Returns:
        float32 array, shape (..., ceil(H/factor), ceil(W/factor)).
    """
    padded = _pad_to_multiple(values.astype(np.float32), factor, np.nan)
    *lead, height, width = padded.shape
    blocks = padded.reshape(*lead, height // factor, factor, width // factor, factor)
    finite = np.isfinite(blocks)
    count = finite.sum(axis=(-3, -1))
    total = np.where(finite, blocks, 0.0).sum(axis=(-3, -1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan).astype(np.float32)


def block_mode(codes: np.ndarray, factor: int, nodata: int) -> tuple[np.ndarray, np.ndarray]:
    """Most frequent code of each ``factor`` x ``factor`` block (ties: the smaller code) and its
    share.

    ``nodata`` pixels never win; a block of only no-data gets ``nodata`` and share 0. Edge blocks
    count the pixels they hold, as in :func:`block_mean`.

    Args:
        codes: integer class codes, shape (H, W).
    Returns:
        (modes (Hb, Wb) of codes.dtype, share (Hb, Wb) float32 in 0..1 of the block's valid pixels).
    """
    padded = _pad_to_multiple(codes, factor, nodata)
    height, width = padded.shape
    blocks = padded.reshape(height // factor, factor, width // factor, factor).transpose(0, 2, 1, 3)
    blocks = blocks.reshape(-1, factor * factor)  # (blocks, pixels)
    # Dense class indices keep the count table small (blocks x classes present).
    present, index = np.unique(blocks, return_inverse=True)
    index = index.reshape(blocks.shape)
    n_blocks, n_classes = blocks.shape[0], present.size
    keys = np.arange(n_blocks)[:, None] * n_classes + index
    counts = np.bincount(keys.ravel(), minlength=n_blocks * n_classes).reshape(n_blocks, -1)
    counts[:, present == nodata] = 0
    winner = counts.argmax(axis=1)
    best = counts[np.arange(counts.shape[0]), winner]
    valid = counts.sum(axis=1)
    modes = np.where(best > 0, present[winner], nodata).astype(codes.dtype)
    share = np.where(valid > 0, best / np.maximum(valid, 1), 0.0).astype(np.float32)
    shape = (height // factor, width // factor)
    return modes.reshape(shape), share.reshape(shape)


def _pad_to_multiple(values: np.ndarray, factor: int, fill: float) -> np.ndarray:
    """Pad the last two axes at the bottom/right with ``fill`` up to multiples of ``factor``."""
    height, width = values.shape[-2:]
    pad_h, pad_w = -height % factor, -width % factor
    if pad_h == 0 and pad_w == 0:
        return values
    pad = [(0, 0)] * (values.ndim - 2) + [(0, pad_h), (0, pad_w)]
    return np.pad(values, pad, constant_values=fill)
