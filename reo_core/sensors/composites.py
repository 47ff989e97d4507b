"""The paper's three-band images of a patch: five Sentinel-2 composites and the PALSAR-2 pseudo-RGB.

REO-VLM feeds an RGB-pretrained vision encoder, so a multispectral patch becomes several RGB images
(paper, supplementary 2). Each channel is scaled to 0-255 with fixed dataset statistics, never per
patch, so the same ground always gives the same picture. No-data (NaN) pixels become 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from reo_core.errors import InputError
from reo_core.sensors.palsar2 import POLARISATIONS
from reo_core.sensors.sentinel2 import AGBD_BAND_ORDER
from reo_core.sensors.statistics import DatasetStatistics


@dataclass(frozen=True)
class Composite:
    """A named three-band image: ``bands`` map to red, green and blue in that order."""

    name: str
    bands: tuple[str, str, str]
    purpose: str


SPECTRAL_COMPOSITES: dict[str, Composite] = {
    c.name: c
    for c in (
        Composite("red_edge", ("B05", "B06", "B07"), "vegetation health"),
        Composite("geology", ("B12", "B11", "B02"), "lithology and bare ground"),
        Composite("natural_color", ("B04", "B03", "B02"), "what the eye sees"),
        Composite("color_infrared", ("B08", "B04", "B03"), "vegetation density"),
        Composite("swir", ("B12", "B08", "B04"), "vegetation density and soil"),
    )
}
SAR_COMPOSITE_NAME = "sar_pseudo_rgb"

# Which images a modality feeds the model, in order.
MODALITY_IMAGES: dict[str, tuple[str, ...]] = {
    "rgb": ("natural_color",),
    "ms": tuple(SPECTRAL_COMPOSITES),
    "ms+sar": (*SPECTRAL_COMPOSITES, SAR_COMPOSITE_NAME),
}
MODALITIES: tuple[str, ...] = tuple(MODALITY_IMAGES)  # rgb, ms, ms+sar


def reads_sar(modality: str) -> bool:
    """Whether a model of ``modality`` reads PALSAR-2 HH/HV (its images include the SAR one)."""
    return SAR_COMPOSITE_NAME in MODALITY_IMAGES.get(modality, ())


def bands_needed(modality: str) -> tuple[str, ...]:
    """Sentinel-2 bands a modality reads, in AGBD order."""
    names = _check_modality(modality)
    needed = {b for n in names if n in SPECTRAL_COMPOSITES for b in SPECTRAL_COMPOSITES[n].bands}
    return tuple(b for b in AGBD_BAND_ORDER if b in needed)


def scale_to_byte(values: np.ndarray, low: float, high: float) -> np.ndarray:
    """Map ``[low, high]`` linearly to 0..255 (clipped, rounded); NaN -> 0."""
    scaled = (np.asarray(values, dtype=np.float32) - np.float32(low)) / np.float32(high - low)
    scaled = np.clip(np.nan_to_num(scaled, nan=0.0), 0.0, 1.0)
    return np.round(scaled * 255.0).astype(np.uint8)


def spectral_composite(
    s2: np.ndarray, band_order: tuple[str, ...], composite: Composite, stats: DatasetStatistics
) -> np.ndarray:
    """One composite of a reflectance stack.

    Args:
        s2: reflectance, shape (..., bands, H, W), NaN for no-data.
        band_order: the band name of each entry of the band axis.
    Returns:
        uint8 image, shape (..., 3, H, W).
    """
    channels = []
    for band in composite.bands:
        if band not in band_order:
            raise InputError(
                f"The '{composite.name}' composite needs band {band}, which the input lacks "
                f"(it has {', '.join(band_order)})."
            )
        low, high = stats.s2_range(band)
        channels.append(scale_to_byte(s2[..., band_order.index(band), :, :], low, high))
    return np.stack(channels, axis=-3)


def sar_pseudo_rgb(sar_db: np.ndarray, stats: DatasetStatistics) -> np.ndarray:
    """PALSAR-2 pseudo-RGB: (HH, HV, mean(HH, HV)) in dB, each scaled to 0-255.

    Args:
        sar_db: gamma-naught in dB, shape (..., 2, H, W) ordered HH, HV; NaN for no-data.
    Returns:
        uint8 image, shape (..., 3, H, W).
    """
    if sar_db.shape[-3] != len(POLARISATIONS):
        raise InputError(f"SAR input must have 2 bands (HH, HV), got {sar_db.shape[-3]}.")
    hh, hv = sar_db[..., 0, :, :], sar_db[..., 1, :, :]
    (hh_low, hh_high), (hv_low, hv_high) = stats.sar_range("HH"), stats.sar_range("HV")
    mean = (hh + hv) / 2.0
    return np.stack(
        [
            scale_to_byte(hh, hh_low, hh_high),
            scale_to_byte(hv, hv_low, hv_high),
            scale_to_byte(mean, (hh_low + hv_low) / 2.0, (hh_high + hv_high) / 2.0),
        ],
        axis=-3,
    )


def clipped_shares(
    s2: np.ndarray, band_order: tuple[str, ...], stats: DatasetStatistics
) -> dict[str, tuple[float, float]]:
    """Per band: the shares of valid pixels that scaling with ``stats`` clips to 0 and to 255.

    A composite channel is faithful when few pixels clip; with statistics that do not match the
    data (AGBD's offset-inflated p1 on offset-free reflectance) most dark pixels turn black.

    Args:
        s2: reflectance, shape (..., bands, H, W), NaN for no data.
    Returns:
        ``{band: (share at 0, share at 255)}`` for every band of ``band_order``.
    """
    shares = {}
    for i, band in enumerate(band_order):
        values = np.asarray(s2[..., i, :, :], dtype=np.float32)
        valid = values[np.isfinite(values)]
        scaled = scale_to_byte(valid, *stats.s2_range(band))
        total = max(valid.size, 1)
        shares[band] = (float((scaled == 0).sum() / total), float((scaled == 255).sum() / total))
    return shares


def modality_images(
    modality: str,
    s2: np.ndarray,
    band_order: tuple[str, ...],
    stats: DatasetStatistics,
    sar_db: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Every image a modality feeds the model, by name, each uint8 of shape (..., 3, H, W)."""
    images = {}
    for name in _check_modality(modality):
        if name == SAR_COMPOSITE_NAME:
            if sar_db is None:
                raise InputError("Modality 'ms+sar' needs PALSAR-2 input; give HH and HV rasters.")
            images[name] = sar_pseudo_rgb(sar_db, stats)
        else:
            images[name] = spectral_composite(s2, band_order, SPECTRAL_COMPOSITES[name], stats)
    return images


def _check_modality(modality: str) -> tuple[str, ...]:
    if modality not in MODALITY_IMAGES:
        raise InputError(
            f"Unknown modality '{modality}'; use one of: {', '.join(MODALITY_IMAGES)}."
        )
    return MODALITY_IMAGES[modality]
