"""Class spectra of the simulator checked against real Sentinel-2 L2A patches with CORINE labels.

    python -m reo_core.synth.realism [--data ../shared/data/real/bigearthnet-s2-l2a]

The real patches are BigEarthNet v1 examples (120 x 120 pixels at 10 m, 2017-2018, Europe), each
with patch-level CORINE Land Cover labels. A :class:`Reference` names a patch, the CORINE label
whose pixels it stands for, the CGLS-LC100 classes that label means in the simulator, a biome and
date like the patch's place and acquisition, and a *pixel rule* (a spectral index threshold) that
picks that label's pixels out of a patch with several labels (the green fields of arable land,
the lake among forests). The same rule picks the synthetic pixels of those classes from a scene
simulated for that biome and date, so like is compared with like.

A class spectrum *matches* when the mean of every band of :data:`CHECKED_BANDS` is within
:data:`TOLERANCE_ABS` + :data:`TOLERANCE_REL` x the real mean. B01 and B09 (60 m aerosol and water
vapour bands, which no composite uses) are reported but not checked: at 60 m a pixel's value says
more about how far it is from other surfaces than about its class (a lake shore's B09 is half
forest). Leaf-off deciduous forest, built-up land, wetland and tropical classes have no real
patch here and are not checked.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import rasterio

from reo_core.landcover import NODATA_CODE
from reo_core.sensors.sentinel2 import AGBD_BAND_ORDER, ALL_BANDS, QUANTIFICATION_VALUE
from reo_core.synth.fields import block_mean
from reo_core.synth.scene import simulate_scene
from reo_core.synth.spectra import ndsi, ndvi

TOLERANCE_ABS = 0.02  # reflectance
TOLERANCE_REL = 0.25  # of the real mean
CHECKED_BANDS = tuple(b for b in AGBD_BAND_ORDER if b not in ("B01", "B09"))
SCENE_KM = 2.5
SEEDS = tuple(range(6))  # scenes per reference: class means over several acquisitions
MIN_PIXELS = 100
_B = {band: i for i, band in enumerate(AGBD_BAND_ORDER)}


def _indices(r: np.ndarray) -> dict[str, np.ndarray]:
    return {
        "ndvi": ndvi(r[_B["B04"]], r[_B["B08"]]),
        "ndsi": ndsi(r[_B["B03"]], r[_B["B11"]]),
        "nir": r[_B["B08"]],
        "green": r[_B["B03"]],
    }


# Pixel rules: reflectance (12, ...) -> bool mask, named so reports can say which was used.
RULES: dict[str, Callable[[dict[str, np.ndarray]], np.ndarray]] = {
    "all pixels": lambda x: np.isfinite(x["ndvi"]),
    "NDVI > 0.6 (green)": lambda x: x["ndvi"] > 0.6,
    "NDVI < 0.3 (bare)": lambda x: x["ndvi"] < 0.3,
    "NDVI > 0.7 (dense canopy)": lambda x: x["ndvi"] > 0.7,
    "B08 < 0.06 (water)": lambda x: x["nir"] < 0.06,
    "NDSI > 0.6, B03 > 0.5 (open snow)": lambda x: (x["ndsi"] > 0.6) & (x["green"] > 0.5),
    "NDSI > 0.6, B03 < 0.25 (snow under trees)": lambda x: (x["ndsi"] > 0.6) & (x["green"] < 0.25),
}


def rule_mask(reflectance: np.ndarray, rule: str) -> np.ndarray:
    """The pixels of reflectance (12, ...) in AGBD band order that follow ``rule`` (a RULES key)."""
    return RULES[rule](_indices(reflectance))


@dataclass(frozen=True)
class Reference:
    """A real class spectrum and the synthetic pixels it is compared with."""

    name: str
    patch: str  # BigEarthNet folder name
    corine: str  # the CORINE label of the patch the rule's pixels belong to
    classes: tuple[int, ...]  # CGLS-LC100 classes of the synthetic pixels
    biome: str
    day_of_year: int  # the real acquisition's day
    rule: str  # key of RULES


REFERENCES: tuple[Reference, ...] = (
    Reference(
        "pasture, June",
        "S2A_MSIL2A_20170617T113321_4_55",
        "Pastures",
        (30,),
        "temperate",
        164,
        "all pixels",
    ),
    Reference(
        "green cropland, June",
        "S2A_MSIL2A_20170613T101031_87_48",
        "Non-irrigated arable land",
        (40,),
        "temperate",
        164,
        "NDVI > 0.6 (green)",
    ),
    Reference(
        "bare cropland, June",
        "S2A_MSIL2A_20170613T101031_87_48",
        "Non-irrigated arable land",
        (40,),
        "temperate",
        164,
        "NDVI < 0.3 (bare)",
    ),
    Reference(
        "conifer and mixed forest, September",
        "S2B_MSIL2A_20170924T93020_69_24",
        "Coniferous forest",
        (111, 115),
        "boreal",
        267,
        "NDVI > 0.7 (dense canopy)",
    ),
    Reference(
        "lake, September",
        "S2B_MSIL2A_20170924T93020_69_24",
        "Water bodies",
        (80,),
        "boreal",
        267,
        "B08 < 0.06 (water)",
    ),
    Reference(
        "snow on fields, February",
        "S2B_MSIL2A_20180204T94161_57_38",
        "Non-irrigated arable land",
        (40, 30, 20, 90),
        "boreal",
        35,
        "NDSI > 0.6, B03 > 0.5 (open snow)",
    ),
    Reference(
        "snow under conifers, February",
        "S2B_MSIL2A_20180204T94161_57_38",
        "Coniferous forest",
        (111, 115),
        "boreal",
        35,
        "NDSI > 0.6, B03 < 0.25 (snow under trees)",
    ),
)


def read_bigearthnet(folder: Path) -> tuple[np.ndarray, list[str]]:
    """A BigEarthNet patch as (12, 120, 120) float32 reflectance at 10 m, and its CORINE labels.

    20 m and 60 m bands are repeated onto the 10 m grid (nearest): class means need no more.
    """
    stack = []
    for band in AGBD_BAND_ORDER:
        path = next(folder.glob(f"*_{band}.tif"), None)
        if path is None:
            raise FileNotFoundError(f"{folder} has no band {band} file")
        with rasterio.open(path) as src:
            values = src.read(1).astype(np.float32) / np.float32(QUANTIFICATION_VALUE)
        factor = 120 // values.shape[0]
        stack.append(np.repeat(np.repeat(values, factor, axis=0), factor, axis=1))
    labels = json.loads(next(folder.glob("*_labels_metadata.json")).read_text())["labels"]
    return np.stack(stack), labels


def real_spectrum(data: Path, reference: Reference) -> tuple[np.ndarray, int]:
    """Mean spectrum (12,) and pixel count of the rule's pixels in the reference's real patch."""
    reflectance, labels = read_bigearthnet(data / reference.patch)
    if reference.corine not in labels:
        raise ValueError(f"{reference.patch} is not labelled '{reference.corine}': {labels}")
    mask = rule_mask(reflectance, reference.rule)
    return reflectance[:, mask].mean(axis=1), int(mask.sum())


def synthetic_spectrum(
    reference: Reference, seeds: tuple[int, ...] = SEEDS
) -> tuple[np.ndarray, int]:
    """Mean spectrum (12,) and pixel count of the reference's classes under its rule, over clear
    scenes simulated for its biome and date with each of ``seeds`` (acquisitions differ: haze,
    soil moisture, sun-view geometry)."""
    total, count = np.zeros(len(AGBD_BAND_ORDER)), 0
    for seed in seeds:
        scene_classes, reflectance = _scene(reference.biome, reference.day_of_year, seed)
        mask = rule_mask(reflectance, reference.rule)
        mask &= np.isin(scene_classes, reference.classes)
        total += reflectance[:, mask].sum(axis=1)
        count += int(mask.sum())
    return total / max(count, 1), count


@lru_cache(maxsize=32)
def _scene(biome: str, day_of_year: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Land cover and native-resolution reflectance of a clear scene (NaN where no data)."""
    scene = simulate_scene(SCENE_KM, seed, biome=biome, cloud_fraction=0.0, day_of_year=day_of_year)
    classes = np.where(scene.nodata, NODATA_CODE, scene.landcover)
    return classes, at_native_resolution(scene.reflectance)


def at_native_resolution(reflectance: np.ndarray) -> np.ndarray:
    """The 10 m stack as a real L2A product delivers it: 20 m and 60 m bands averaged over their
    pixels and repeated back onto the 10 m grid (as :func:`read_bigearthnet` reads them)."""
    out = np.empty_like(reflectance)
    for i, band in enumerate(AGBD_BAND_ORDER):
        factor = ALL_BANDS[band].resolution_m // 10
        coarse = block_mean(reflectance[i], factor) if factor > 1 else reflectance[i]
        repeated = np.repeat(np.repeat(coarse, factor, axis=0), factor, axis=1)
        out[i] = repeated[: reflectance.shape[1], : reflectance.shape[2]]
    return out


def within_tolerance(synthetic: np.ndarray, real: np.ndarray) -> np.ndarray:
    """Per band (12): |synthetic - real| <= TOLERANCE_ABS + TOLERANCE_REL * real; bands outside
    :data:`CHECKED_BANDS` count as matching."""
    checked = np.array([band in CHECKED_BANDS for band in AGBD_BAND_ORDER])
    return (np.abs(synthetic - real) <= TOLERANCE_ABS + TOLERANCE_REL * real) | ~checked


def compare(data: Path, seeds: tuple[int, ...] = SEEDS) -> list[dict]:
    """One row per reference: both spectra, pixel counts and which bands match."""
    rows = []
    for reference in REFERENCES:
        real, n_real = real_spectrum(data, reference)
        synthetic, n_synthetic = synthetic_spectrum(reference, seeds)
        rows.append(
            {
                "reference": reference,
                "real": real,
                "synthetic": synthetic,
                "n_real": n_real,
                "n_synthetic": n_synthetic,
                "match": within_tolerance(synthetic, real),
            }
        )
    return rows


def report(rows: list[dict]) -> str:
    """A Markdown table: per reference, real / synthetic per band, and bands out of tolerance."""
    header = (
        "| class (rule) | pixels real / synth | " + " | ".join(AGBD_BAND_ORDER) + " | outside |"
    )
    lines = [header, "|" + "---|" * (len(AGBD_BAND_ORDER) + 3)]
    for row in rows:
        ref = row["reference"]
        cells = [f"{r:.3f}/{s:.3f}" for r, s in zip(row["real"], row["synthetic"], strict=True)]
        outside = [b for b, ok in zip(AGBD_BAND_ORDER, row["match"], strict=True) if not ok]
        lines.append(
            f"| {ref.name} ({ref.rule}) | {row['n_real']} / {row['n_synthetic']} | "
            + " | ".join(cells)
            + f" | {', '.join(outside) or 'none'} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    default = (
        Path(__file__).resolve().parents[3] / "shared" / "data" / "real" / "bigearthnet-s2-l2a"
    )
    parser.add_argument("--data", type=Path, default=default, help="BigEarthNet S2 L2A folders")
    parser.add_argument("--seeds", type=int, nargs="+", default=list(SEEDS))
    args = parser.parse_args(argv)
    if not args.data.is_dir():
        parser.error(f"--data {args.data} is not a folder of BigEarthNet patches")
    rows = compare(args.data, tuple(args.seeds))
    print(
        f"real / synthetic mean reflectance; tolerance {TOLERANCE_ABS} + {TOLERANCE_REL:.0%} "
        f"of the real value in {', '.join(CHECKED_BANDS)}"
    )
    print(report(rows))
    return 0 if all(row["match"].all() for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
