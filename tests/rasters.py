"""Small seeded rasters for tests: Sentinel-2 stacks and per-band files, PALSAR-2 in EPSG:4326."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import rasterio
from rasterio.transform import from_origin

from reo_core.sensors.sentinel2 import AGBD_BAND_ORDER, ALL_BANDS

UTM32N = "EPSG:32632"
ORIGIN = (600_000.0, 5_100_000.0)  # top-left corner, on a 60 m multiple so every band aligns


# Reflectance of green vegetation per band: dark in the visible, bright in the near infrared.
VEGETATION = {
    "B01": 0.03,
    "B02": 0.035,
    "B03": 0.065,
    "B04": 0.04,
    "B05": 0.10,
    "B06": 0.25,
    "B07": 0.30,
    "B08": 0.33,
    "B8A": 0.35,
    "B09": 0.34,
    "B10": 0.01,
    "B11": 0.18,
    "B12": 0.09,
}


def s2_reflectance(height: int, width: int, seed: int = 0, bands=AGBD_BAND_ORDER) -> np.ndarray:
    """Reflectance (bands, H, W) of clear vegetation, each pixel scaled by 0.6..1.4 per band,
    so bands and pixels differ and neither the cloud screening nor the offset check is fooled."""
    rng = np.random.default_rng(seed)
    scale = rng.uniform(0.6, 1.4, size=(len(bands), height, width))
    spectrum = np.array([VEGETATION[b] for b in bands])[:, None, None]
    return (spectrum * scale).astype(np.float32)


def write_s2_stack(
    path: Path,
    reflectance: np.ndarray,
    origin=ORIGIN,
    crs: str | None = UTM32N,
    descriptions=AGBD_BAND_ORDER,
    dtype: str = "uint16",
    nodata: float | None = 0,
    **creation: object,
) -> Path:
    """A multi-band 10 m Sentinel-2 raster; uint16 DN (reflectance*10000) or float reflectance.
    ``creation``: GeoTIFF creation options (tiled=True, blockxsize=32, compress="deflate", ...)."""
    data = (
        np.round(reflectance * 10000).astype(dtype)
        if dtype == "uint16"
        else reflectance.astype(dtype)
    )
    profile = dict(
        driver="GTiff",
        width=data.shape[2],
        height=data.shape[1],
        count=data.shape[0],
        dtype=dtype,
        transform=from_origin(*origin, 10, 10),
        nodata=nodata,
        **creation,
    )
    if crs is not None:
        profile["crs"] = crs
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data)
        for i, description in enumerate(descriptions or (), start=1):
            dst.set_band_description(i, description)
    return path


def write_s2_band_files(
    folder: Path, reflectance_10m: np.ndarray, stem: str = "T32TNN_20200601"
) -> list[Path]:
    """Per-band files ``<stem>_<BAND>.tif`` at native resolution (block means of the 10 m
    values)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for band, values in zip(AGBD_BAND_ORDER, reflectance_10m, strict=True):
        factor = ALL_BANDS[band].resolution_m // 10
        h, w = values.shape[0] // factor, values.shape[1] // factor
        coarse = values[: h * factor, : w * factor].reshape(h, factor, w, factor).mean(axis=(1, 3))
        path = folder / f"{stem}_{band}.tif"
        with rasterio.open(
            path,
            "w",
            driver="GTiff",
            width=w,
            height=h,
            count=1,
            dtype="uint16",
            crs=UTM32N,
            transform=from_origin(*ORIGIN, 10 * factor, 10 * factor),
            nodata=0,
        ) as dst:
            dst.write(np.round(coarse * 10000).astype("uint16"), 1)
        paths.append(path)
    return paths


def write_palsar_4326(
    folder: Path, west: float, north: float, values_hh: np.ndarray, values_hv: np.ndarray
) -> list[Path]:
    """HH and HV uint16 DN files on JAXA's 1/4500 degree grid with the top-left corner (west,
    north)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, values in (("HH", values_hh), ("HV", values_hv)):
        path = folder / f"N46E009_20_sl_{name}_F02DAR.tif"
        with rasterio.open(
            path,
            "w",
            driver="GTiff",
            width=values.shape[1],
            height=values.shape[0],
            count=1,
            dtype="uint16",
            crs="EPSG:4326",
            transform=from_origin(west, north, 1 / 4500, 1 / 4500),
            nodata=0,
        ) as dst:
            dst.write(values.astype("uint16"), 1)
        paths.append(path)
    return paths
