"""Small Sentinel-2 products laid out as users download them, written by the tests themselves.

Each writer takes the true surface reflectance (bands, H, W) at 10 m and stores it the way one
product layout does, so a test can check what REO decides and what the model receives:

- ``write_safe``: a .SAFE tree (``MTD_MSIL2A.xml``, ``GRANULE/*/IMG_DATA/R10m|R20m|R60m`` with the
  bands at 10, 20 and 60 m, the SCL) or an L1C one (``IMG_DATA/*_B01.jp2``, B10 included), in
  JPEG 2000 written losslessly by GDAL's OpenJPEG driver, as ESA's are;
- ``write_band_folder``: one GeoTIFF per band named ``B02.tif`` (Major-TOM, STAC COG downloads),
  with a STAC item JSON when asked;
- ``write_stack``: one multi-band GeoTIFF (Google Earth Engine exports, EuroSAT).

The reflectance is constant over 60 m blocks, so the 20 and 60 m bands hold it exactly.
"""

from __future__ import annotations

import json
import zipfile
from datetime import date
from pathlib import Path

import numpy as np
import rasterio
import rasterio.shutil
from rasterio.io import MemoryFile
from rasterio.transform import from_origin
from rasters import ORIGIN, UTM32N, VEGETATION

from reo_core.sensors.sentinel2 import ALL_BANDS, L1C_BAND_ORDER

TILE = "T32TNN"
SENSED = date(2023, 6, 15)
# Clouds: bright and flat in the visible, as Sen2Cor's screening expects them.
CLOUD = {
    "B01": 0.55,
    "B02": 0.55,
    "B03": 0.55,
    "B04": 0.55,
    "B05": 0.56,
    "B06": 0.57,
    "B07": 0.58,
    "B08": 0.58,
    "B8A": 0.58,
    "B09": 0.3,
    "B10": 0.05,
    "B11": 0.45,
    "B12": 0.35,
}


def reflectance(
    size: int = 100, seed: int = 0, spectrum: dict = VEGETATION
) -> dict[str, np.ndarray]:
    """Reflectance per band (size x size at 10 m), constant over 60 m blocks, 0.7..1.3 x
    ``spectrum``."""
    rng = np.random.default_rng(seed)
    blocks = size // 6 + 1
    result = {}
    for band in L1C_BAND_ORDER:
        coarse = spectrum[band] * rng.uniform(0.7, 1.3, size=(blocks, blocks))
        result[band] = np.kron(coarse, np.ones((6, 6)))[:size, :size].astype(np.float32)
    return result


def to_dn(values: np.ndarray, offset: int) -> np.ndarray:
    """L2A digital numbers: reflectance x 10000 + offset, at least 1 (0 is no data)."""
    return np.clip(np.round(values * 10000) + offset, 1, 65535).astype(np.uint16)


def product_name(level: str = "L2A", baseline: str = "N0509", sensed: date = SENSED) -> str:
    day = sensed.strftime("%Y%m%d")
    return f"S2B_MSI{level}_{day}T101559_{baseline}_R065_{TILE}_{day}T130000"


def write_safe(
    root: Path,
    bands: dict[str, np.ndarray],
    level: str = "L2A",
    baseline: str = "05.09",
    offset: int = 1000,
    sensed: date = SENSED,
    scl: np.ndarray | None = None,
) -> Path:
    """A .SAFE product folder under ``root``; its path."""
    name = product_name(level, "N" + baseline.replace(".", ""), sensed)
    safe = root / f"{name}.SAFE"
    day = sensed.strftime("%Y%m%d")
    granule = safe / "GRANULE" / f"{level}_{TILE}_A032950_{day}T101557"
    stem = f"{TILE}_{day}T101559"
    for band in L1C_BAND_ORDER if level == "L1C" else [b for b in L1C_BAND_ORDER if b != "B10"]:
        native = ALL_BANDS[band].resolution_m
        if level == "L1C":
            _write_jp2(granule / "IMG_DATA" / f"{stem}_{band}.jp2", bands[band], native, offset)
            continue
        for res in (10, 20, 60):  # L2A: every band at its native and at the coarser resolutions
            if res >= native:
                path = granule / "IMG_DATA" / f"R{res}m" / f"{stem}_{band}_{res}m.jp2"
                _write_jp2(path, bands[band], res, offset)
    if level == "L2A":
        classes = np.full((bands["B02"].shape[0] // 2,) * 2, 4, np.uint8) if scl is None else scl
        _write_jp2(granule / "IMG_DATA" / "R20m" / f"{stem}_SCL_20m.jp2", classes, 20, None)
        aerosol = np.full(bands["B02"].shape, 120, np.uint16)  # not a band: must be left alone
        _write_jp2(granule / "IMG_DATA" / "R10m" / f"{stem}_AOT_10m.jp2", aerosol, 10, None)
    (safe / f"MTD_MSI{level}.xml").write_text(_mtd(name, level, baseline, offset, sensed))
    return safe


def zip_folder(folder: Path, archive: Path) -> Path:
    """``folder`` zipped as it is downloaded: the folder itself at the top of the archive."""
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_STORED) as out:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                out.write(path, path.relative_to(folder.parent).as_posix())
    return archive


def write_band_folder(
    folder: Path,
    bands: dict[str, np.ndarray],
    offset: int,
    names: tuple[str, ...] = tuple(b for b in L1C_BAND_ORDER if b != "B10"),
    stac: dict | None = None,
) -> Path:
    """``folder/B02.tif ...`` at native resolution (Major-TOM, a STAC download); ``stac``: the
    item's properties and per-asset offset, written as ``<folder name>.json`` beside the bands."""
    folder.mkdir(parents=True, exist_ok=True)
    for band in names:
        res = ALL_BANDS[band].resolution_m
        _write_tif(folder / f"{band}.tif", [to_dn(_coarse(bands[band], res), offset)], res)
    if stac is not None:
        (folder / f"{folder.name}.json").write_text(
            json.dumps(_stac_item(folder.name, names, stac))
        )
    return folder


def write_stack(
    path: Path, layers: list[np.ndarray], descriptions=None, dtype: str = "uint16"
) -> Path:
    """One 10 m multi-band GeoTIFF of ``layers`` (values as given, cast to ``dtype``)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    return _write_tif(path, [layer.astype(dtype) for layer in layers], 10, descriptions)


def _coarse(values: np.ndarray, res: int) -> np.ndarray:
    factor = res // 10
    h, w = values.shape[0] // factor, values.shape[1] // factor
    return values[: h * factor, : w * factor].reshape(h, factor, w, factor).mean(axis=(1, 3))


def _write_tif(path: Path, layers, res: int, descriptions=None) -> Path:
    data = np.stack(layers)
    profile = dict(
        driver="GTiff",
        width=data.shape[2],
        height=data.shape[1],
        count=data.shape[0],
        dtype=data.dtype.name,
        crs=UTM32N,
        transform=from_origin(*ORIGIN, res, res),
    )
    if data.dtype.kind == "u":
        profile["nodata"] = 0
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data)
        for index, text in enumerate(descriptions or (), start=1):
            dst.set_band_description(index, text)
    return path


def _write_jp2(path: Path, values: np.ndarray, res: int, offset: int | None) -> None:
    """A lossless JPEG 2000 without a no-data declaration, as the .SAFE's are."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = values if offset is None else to_dn(_coarse(values, res), offset)
    profile = dict(
        driver="GTiff",
        width=data.shape[1],
        height=data.shape[0],
        count=1,
        dtype=data.dtype.name,
        crs=UTM32N,
        transform=from_origin(*ORIGIN, res, res),
    )
    with MemoryFile() as memory:
        with memory.open(**profile) as dataset:
            dataset.write(data, 1)
        with memory.open() as dataset:
            rasterio.shutil.copy(
                dataset, path, driver="JP2OpenJPEG", REVERSIBLE="YES", QUALITY="100"
            )


def _mtd(name: str, level: str, baseline: str, offset: int, sensed: date) -> str:
    """The parts of an MTD_MSIL2A.xml / MTD_MSIL1C.xml that say how to read the numbers."""
    tag = "BOA" if level == "L2A" else "RADIO"
    offsets = (
        "".join(f'<{tag}_ADD_OFFSET band_id="{i}">{-offset}</{tag}_ADD_OFFSET>' for i in range(13))
        if baseline >= "04.00"
        else ""
    )
    quantification = (
        '<BOA_QUANTIFICATION_VALUE unit="none">10000</BOA_QUANTIFICATION_VALUE>'
        if level == "L2A"
        else '<QUANTIFICATION_VALUE unit="none">10000</QUANTIFICATION_VALUE>'
    )
    number = level[1:]
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<n1:Level-{number}_User_Product
    xmlns:n1="https://psd-14.sentinel2.eo.esa.int/PSD/User_Product_Level-{number}.xsd">
  <n1:General_Info>
    <Product_Info>
      <PRODUCT_START_TIME>{sensed.isoformat()}T10:15:59.024Z</PRODUCT_START_TIME>
      <PRODUCT_URI>{name}.SAFE</PRODUCT_URI>
      <PROCESSING_LEVEL>Level-{number}</PROCESSING_LEVEL>
      <PRODUCT_TYPE>S2MSI{number}</PRODUCT_TYPE>
      <PROCESSING_BASELINE>{baseline}</PROCESSING_BASELINE>
    </Product_Info>
    <Product_Image_Characteristics>
      <Special_Values>
        <SPECIAL_VALUE_TEXT>NODATA</SPECIAL_VALUE_TEXT>
        <SPECIAL_VALUE_INDEX>0</SPECIAL_VALUE_INDEX>
      </Special_Values>
      <QUANTIFICATION_VALUES_LIST>{quantification}</QUANTIFICATION_VALUES_LIST>
      <{tag}_ADD_OFFSET_VALUES_LIST>{offsets}</{tag}_ADD_OFFSET_VALUES_LIST>
    </Product_Image_Characteristics>
  </n1:General_Info>
</n1:Level-{number}_User_Product>
"""


def _stac_item(item_id: str, bands: tuple[str, ...], stac: dict) -> dict:
    """A Sentinel-2 L2A STAC item as Earth Search publishes it (the fields REO reads)."""
    offset = stac.get("offset")
    keys = {
        "B01": "coastal",
        "B02": "blue",
        "B03": "green",
        "B04": "red",
        "B05": "rededge1",
        "B06": "rededge2",
        "B07": "rededge3",
        "B08": "nir",
        "B8A": "nir08",
        "B09": "nir09",
        "B11": "swir16",
        "B12": "swir22",
    }
    assets = {}
    for band in bands:
        raster = {"nodata": 0, "data_type": "uint16", "scale": 0.0001}
        if offset is not None:
            raster["offset"] = offset
        assets[keys[band]] = {
            "href": f"./{band}.tif",
            "type": "image/tiff",
            "eo:bands": [{"name": keys[band], "common_name": keys[band]}],
            "raster:bands": [raster],
        }
    return {
        "type": "Feature",
        "stac_version": "1.0.0",
        "id": item_id,
        "properties": {"datetime": f"{SENSED.isoformat()}T10:15:59Z", **stac.get("properties", {})},
        "geometry": None,
        "links": [],
        "assets": assets,
    }
