"""Writing a simulated :class:`Scene` as GeoTIFFs laid out like the real products, plus scene.json.

Layout under the output folder::

    s2/<product>.tif                 12-band L2A stack, 10 m, uint16 DN (baseline 04.00: +1000)
    s2/<product>_<BAND>.tif          or one file per band at its native 10/20/60 m
                                     (--per-band-files)
    s2/<product>_SCL.tif             scene classification, 20 m
    palsar2/<tile>_20_sl_HH_F02DAR.tif, ..._HV_...   JAXA mosaic DN, EPSG:4326, 1/4500 degree
    truth/landcover_10m.tif, agb_10m.tif, landcover_100m.tif
    truth/patch_agb.tif, patch_landcover.tif, patch_count.tif   (250 m patch grid)
    scene.json                       what every file is, the seed, CRS, offsets, band order

Files carry no timestamps, so the same scene always gives byte-identical files.
"""

from __future__ import annotations

import datetime
import json
import logging
import math
import os
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from rasterio.crs import CRS
from rasterio.transform import Affine

from reo_core.landcover import CLASSES, NODATA_CODE, color_table
from reo_core.raster.writer import PatchGridWriter, partial_path
from reo_core.sensors import palsar2, sentinel2
from reo_core.synth.fields import block_mean, block_mode
from reo_core.synth.radar import PALSAR_LOOKS, PALSAR_PIXEL_DEG, SAR_EXTINCTION
from reo_core.synth.scene import LC100_FACTOR, PATCH_SIZE, Scene, class_fractions, patch_truth
from reo_core.synth.structure import AGB_EXPONENT

logger = logging.getLogger(__name__)

S2_PRODUCT_TEMPLATE = "S2B_MSIL2A_{date}T101559_N0400_R065_T{tile}_synthetic"
PRODUCT_YEAR = 2020  # scenes are dated in this year (baseline 04.00 names; the offset applies)
PALSAR_NAME_TEMPLATE = "{tile}_20_sl_{pol}_F02DAR.tif"  # 2020 yearly mosaic, FNF-free DAR product
SCL_RESOLUTION_M = 20
TILE_SIZE = 256
FLOAT_NODATA = -9999.0  # truth rasters: AGB is never negative
MANIFEST_NAME = "scene.json"
SCL_CODES = {
    "0": "no data",
    "3": "cloud shadow",
    "4": "vegetation",
    "5": "not vegetated",
    "6": "water",
    "8": "cloud medium probability",
    "9": "cloud high probability",
}


def s2_product_name(tile: str, day_of_year: int = 167) -> str:
    """The synthetic L2A product name of an MGRS tile and acquisition day (baseline 04.00, with
    offset), e.g. ``S2B_MSIL2A_20200615T101559_N0400_R065_T32TNN_synthetic``."""
    acquired = datetime.date(PRODUCT_YEAR, 1, 1) + datetime.timedelta(days=day_of_year - 1)
    return S2_PRODUCT_TEMPLATE.format(date=acquired.strftime("%Y%m%d"), tile=tile)


def scene_product_name(scene: Scene) -> str:
    """The L2A product name of a simulated scene."""
    return s2_product_name(scene.location.tile, scene.acquisition.day_of_year)


def palsar_tile_name(west_deg: float, north_deg: float) -> str:
    """JAXA's 1 x 1 degree tile name from its north-west corner, e.g. 'N43E009' or 'S04E032'.

    The tile is the one holding the point (``west_deg``, ``north_deg``), named after its corner.
    """
    top = math.floor(north_deg) + 1
    left = math.floor(west_deg)
    return f"{'N' if top >= 0 else 'S'}{abs(top):02d}{'E' if left >= 0 else 'W'}{abs(left):03d}"


def write_raster(
    path: Path,
    values: np.ndarray,
    crs: CRS | str,
    transform: Affine,
    nodata: float,
    descriptions: list[str] | None = None,
    colormap: dict[int, tuple[int, int, int, int]] | None = None,
    tags: dict[str, str] | None = None,
    units: str | None = None,
) -> dict[str, Any]:
    """Write a tiled, deflate-compressed GeoTIFF atomically (``.partial.tif`` then rename).

    Args:
        values: (bands, H, W) or (H, W); its dtype is the file's.
    Returns:
        the file's scene.json entry (path, CRS, resolution, size, dtype, nodata, bands).
    """
    values = values[None] if values.ndim == 2 else values
    count, height, width = values.shape
    profile = {
        "driver": "GTiff",
        "width": width,
        "height": height,
        "count": count,
        "dtype": values.dtype.name,
        "crs": crs,
        "transform": transform,
        "nodata": nodata,
        "tiled": True,
        "blockxsize": TILE_SIZE,
        "blockysize": TILE_SIZE,
        "compress": "deflate",
        "predictor": 3 if values.dtype.kind == "f" else 2,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = partial_path(path)
    with rasterio.open(temporary, "w", **profile) as dst:
        # The colour table sets the TIFF's photometric tag, which is frozen once pixels are written.
        if colormap:
            dst.write_colormap(1, colormap)
        for band, description in enumerate(descriptions or [], start=1):
            dst.set_band_description(band, description)
        if units:
            for band in range(1, count + 1):
                dst.set_band_unit(band, units)
        if tags:
            dst.update_tags(**tags)
        dst.write(values)
    os.replace(temporary, path)
    logger.info("wrote %s", path)
    return _entry(path, crs, transform, width, height, values.dtype, nodata, descriptions)


def _entry(
    path: Path,
    crs: CRS | str | int,
    transform: Affine,
    width: int,
    height: int,
    dtype: np.dtype | str,
    nodata: float | None,
    bands: list[str] | None,
) -> dict[str, Any]:
    crs = CRS.from_user_input(crs)
    return {
        "path": str(path),
        "crs": crs.to_string(),
        "resolution": [transform.a, -transform.e],
        "transform": list(transform)[:6],
        "width": width,
        "height": height,
        "dtype": np.dtype(dtype).name,
        "nodata": nodata,
        "bands": list(bands) if bands else None,
    }


def write_sentinel2(scene: Scene, folder: Path, per_band_files: bool) -> list[dict[str, Any]]:
    """The L2A product as one 12-band 10 m stack, or as per-band files at native resolution.

    DN = reflectance * 10000 + BOA offset (1000 for the product's baseline 04.00); no data is DN 0.
    Per-band files average the 10 m reflectance over 2 x 2 (20 m) or 6 x 6 (60 m) blocks.
    """
    stem = scene_product_name(scene)
    offset = sentinel2.boa_offset_for_baseline(sentinel2.processing_baseline(stem))
    tags = {
        "PRODUCT_NAME": stem,
        "BOA_ADD_OFFSET": str(-offset),
        "QUANTIFICATION_VALUE": str(int(sentinel2.QUANTIFICATION_VALUE)),
    }
    bands = list(scene.band_order)
    if not per_band_files:
        dn = sentinel2.reflectance_to_dn(scene.reflectance, offset)
        path = folder / f"{stem}.tif"
        return [write_raster(path, dn, scene.crs, scene.transform, 0, bands, tags=tags)]
    entries = []
    for i, band in enumerate(bands):
        factor = sentinel2.ALL_BANDS[band].resolution_m // int(scene.transform.a)
        values = block_mean(scene.reflectance[i], factor) if factor > 1 else scene.reflectance[i]
        transform = scene.transform @ Affine.scale(factor)
        dn = sentinel2.reflectance_to_dn(values, offset)
        path = folder / f"{stem}_{band}.tif"
        entries.append(write_raster(path, dn, scene.crs, transform, 0, None, tags=tags))
        entries[-1]["band"] = band
    return entries


def write_scl(scene: Scene, folder: Path) -> dict[str, Any]:
    """Scene classification at 20 m (mode of 2 x 2 blocks; 0 = no data)."""
    factor = SCL_RESOLUTION_M // int(scene.transform.a)
    scl, _ = block_mode(scene.scl, factor, nodata=0)
    path = folder / f"{scene_product_name(scene)}_SCL.tif"
    transform = scene.transform @ Affine.scale(factor)
    return write_raster(path, scl, scene.crs, transform, 0, ["SCL"])


def write_palsar(scene: Scene, folder: Path) -> list[dict[str, Any]]:
    """HH and HV as JAXA yearly-mosaic DN (uint16, 0 = no data) on their own EPSG:4326 grid."""
    transform = scene.palsar_transform
    tile = palsar_tile_name(transform.c, transform.f)
    entries = []
    for pol, dn in (("HH", scene.palsar_hh_dn), ("HV", scene.palsar_hv_dn)):
        path = folder / PALSAR_NAME_TEMPLATE.format(tile=tile, pol=pol)
        entries.append(write_raster(path, dn, "EPSG:4326", transform, palsar2.NODATA_DN))
        entries[-1]["polarisation"] = pol
    return entries


def write_truth(scene: Scene, folder: Path) -> list[dict[str, Any]]:
    """10 m land cover and AGB, the 100 m land-cover map, and per-patch truth on the 250 m grid."""
    colors = color_table()
    lc100_transform = scene.transform @ Affine.scale(LC100_FACTOR)
    entries = [
        write_raster(
            folder / "landcover_10m.tif",
            scene.landcover,
            scene.crs,
            scene.transform,
            NODATA_CODE,
            ["land cover (CGLS-LC100 code)"],
            colormap=colors,
        ),
        write_raster(
            folder / "agb_10m.tif",
            scene.agb,
            scene.crs,
            scene.transform,
            FLOAT_NODATA,
            ["AGB (Mg/ha)"],
            units="Mg/ha",
        ),
        write_raster(
            folder / "landcover_100m.tif",
            scene.lc100,
            scene.crs,
            lc100_transform,
            NODATA_CODE,
            ["land cover (CGLS-LC100 code, mode of 10 x 10 pixels)"],
            colormap=colors,
        ),
    ]
    truth = patch_truth(scene)
    grid = scene.patch_grid.grid
    layers = (
        (
            "patch_agb.tif",
            "agb",
            "float32",
            FLOAT_NODATA,
            "AGB (Mg/ha), mean of the centre 3x3 pixels",
            None,
        ),
        (
            "patch_landcover.tif",
            "landcover",
            "uint8",
            NODATA_CODE,
            "dominant land cover (CGLS-LC100 code)",
            colors,
        ),
        (
            "patch_count.tif",
            "count",
            "uint8",
            255,
            "ecological patch count (LC100 map, 8-connected)",
            None,
        ),
    )
    for name, key, dtype, nodata, description, colormap in layers:
        path = folder / name
        with PatchGridWriter(
            path,
            grid,
            dtype,
            nodata,
            [description],
            colormap=colormap,
            categorical=key != "agb",
            units=["Mg/ha" if key == "agb" else None],
        ) as writer:
            writer.write(0, 0, truth[key])
        size = (grid.width, grid.height)
        entries.append(_entry(path, grid.crs, grid.transform, *size, dtype, nodata, [description]))
    return entries


def write_scene(
    scene: Scene, out_dir: str | Path, *, per_band_files: bool = False, extra: dict | None = None
) -> dict[str, Any]:
    """Write every product of ``scene`` under ``out_dir`` and the scene.json that describes them.

    Args:
        extra: more top-level entries for scene.json (e.g. the AGBD HDF5 description).
    Returns:
        the scene.json content (paths relative to ``out_dir``).
    """
    out = Path(out_dir)
    files = [
        *write_sentinel2(scene, out / "s2", per_band_files),
        write_scl(scene, out / "s2"),
        *write_palsar(scene, out / "palsar2"),
        *write_truth(scene, out / "truth"),
    ]
    for entry in files:
        entry["path"] = Path(entry["path"]).relative_to(out).as_posix()
    manifest = scene_manifest(scene, files)
    manifest.update(extra or {})
    (out / MANIFEST_NAME).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    logger.info("wrote %s", out / MANIFEST_NAME)
    return manifest


def acquisition_entry(scene: Scene) -> dict[str, Any]:
    """scene.json's account of the acquisition: date, sun, season, snow line and haze."""
    acq = scene.acquisition
    return {
        "day_of_year": acq.day_of_year,
        "season": acq.season,
        "sun_elevation_deg": round(acq.sun_elevation_deg, 2),
        "sun_azimuth_deg": round(acq.sun_azimuth_deg, 2),
        "deciduous_leaf": round(acq.leaf, 3),
        "herb_green": round(acq.herb_green, 3),
        "snow_line_m": acq.snow_line_m if np.isfinite(acq.snow_line_m) else None,
        "snow_share": round(float(scene.snow.mean()), 4),
        "haze_peak": round(acq.haze, 3),
        "water": acq.water,
    }


def scene_manifest(scene: Scene, files: list[dict[str, Any]]) -> dict[str, Any]:
    """scene.json: how the scene was made and how to read each file."""
    stem = scene_product_name(scene)
    baseline = sentinel2.processing_baseline(stem)
    offset = sentinel2.boa_offset_for_baseline(baseline)
    rows, cols = scene.patch_grid.rows, scene.patch_grid.cols
    return {
        "generator": "reo_core.synth (synthetic scene, truth known exactly)",
        "seed": int(scene.seed),
        "size_km": scene.size_km,
        "biome": scene.biome,
        "tile": scene.location.tile,
        "crs": scene.crs.to_string(),
        "transform": list(scene.transform)[:6],
        "width": scene.width,
        "height": scene.height,
        "cloud_fraction": scene.cloud_fraction,
        "acquisition": acquisition_entry(scene),
        "sentinel2": {
            "product": stem,
            "processing_baseline": f"{baseline[0]:02d}.{baseline[1]:02d}",
            "band_order": list(scene.band_order),
            "boa_add_offset": -offset,
            "quantification_value": int(sentinel2.QUANTIFICATION_VALUE),
            "reflectance": f"(DN - {offset}) / 10000; DN 0 = no data",
            "scl_codes": SCL_CODES,
        },
        "palsar2": {
            "crs": "EPSG:4326",
            "pixel_size_deg": PALSAR_PIXEL_DEG,
            "gamma0_db": "10*log10(DN^2) - 83; DN 0 = no data",
            "model": f"water-cloud, two-way transmissivity exp(-{SAR_EXTINCTION} * AGB)",
            "speckle_looks": PALSAR_LOOKS,
        },
        "truth": {
            "agb": f"a(class) * canopy_cover * canopy_height^{AGB_EXPONENT}, Mg/ha, 0..500",
            "patch_grid": {"size": PATCH_SIZE, "stride": PATCH_SIZE, "rows": rows, "cols": cols},
            "patch_agb": "mean AGB of the centre 3x3 pixels of each 25x25 patch (AGBD's label)",
            "patch_count": "connected regions of the 100 m land-cover map upsampled to 10 m",
        },
        "class_fractions": {
            str(code): round(share, 6) for code, share in class_fractions(scene).items()
        },
        "class_names": {str(code): CLASSES[code].name for code in class_fractions(scene)},
        "files": files,
    }
