"""Is the synthetic world a fair test? AGB must not be readable off one band.

    python -m reo_core.synth.fairness [--train-seeds 1 2 3] [--test-seed 5] [--patches 800]

A world where one band's brightness gives the biomass teaches a model to look at that band. Here
AGBD-format patches are simulated for the training seeds and for a held-out seed
(:func:`reo_core.synth.agbd_h5.write_agbd`: every AGBD tile on its own date, so seasons, snow, haze,
soil moisture and slopes differ from scene to scene) and read back through REO's AGBD reader.
Gradient-boosted trees then learn AGB from one band's patch mean, for every band, and from all
band statistics together (:mod:`reo_core.baselines`), and from mean NDVI alone. The world is a fair
test when the best single band stays far below the multi-band trees (held-out R^2).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from reo_core.agbd import open_agbd
from reo_core.baselines import FEATURE_NAMES, band_features, fit_trees, predict
from reo_core.metrics import r2
from reo_core.sensors.sentinel2 import AGBD_BAND_ORDER
from reo_core.synth.agbd_h5 import RAW_NAME, write_agbd

DEFAULT_TRAIN_SEEDS = (1, 2, 3)
DEFAULT_TEST_SEED = 5
DEFAULT_PATCHES = 800  # per seed


@dataclass(frozen=True)
class Fairness:
    """Held-out R^2 of trees on one band's mean (per band) and on all band statistics."""

    single_band: dict[str, float]
    ndvi: float  # trees on the patch's mean NDVI alone
    multi_band: float
    train_patches: int
    test_patches: int

    @property
    def best_band(self) -> tuple[str, float]:
        band = max(self.single_band, key=self.single_band.get)
        return band, self.single_band[band]


def patch_table(seed: int, n_patches: int, folder: Path) -> tuple[np.ndarray, np.ndarray]:
    """Band features (N, 25) and AGB labels (N,) of the patches simulated with ``seed``."""
    write_agbd(folder, n_patches, seed=seed)
    patches = list(open_agbd(folder / RAW_NAME))
    reflectance = np.stack([np.moveaxis(p.reflectance(), -1, 0) for p in patches])
    return band_features(reflectance), np.array([p.agbd for p in patches])


def measure(
    train_seeds: tuple[int, ...] = DEFAULT_TRAIN_SEEDS,
    test_seed: int = DEFAULT_TEST_SEED,
    n_patches: int = DEFAULT_PATCHES,
) -> Fairness:
    """Simulate, fit and score (module doc); training seeds must not include the test seed."""
    if test_seed in train_seeds:
        raise ValueError(f"the test seed {test_seed} is also a training seed {train_seeds}")
    with tempfile.TemporaryDirectory() as tmp:
        train = [patch_table(s, n_patches, Path(tmp) / f"seed{s}") for s in train_seeds]
        x_test, y_test = patch_table(test_seed, n_patches, Path(tmp) / f"seed{test_seed}")
    x_train = np.concatenate([x for x, _ in train])
    y_train = np.concatenate([y for _, y in train])
    single = {}
    for i, band in enumerate(AGBD_BAND_ORDER):
        model = fit_trees(x_train[:, [i]], y_train)
        single[band] = r2(y_test, predict(model, x_test[:, [i]]))
    ndvi = FEATURE_NAMES.index("mean NDVI")
    by_ndvi = r2(y_test, predict(fit_trees(x_train[:, [ndvi]], y_train), x_test[:, [ndvi]]))
    multi = r2(y_test, predict(fit_trees(x_train, y_train), x_test))
    return Fairness(single, by_ndvi, multi, len(y_train), len(y_test))


def report(result: Fairness) -> str:
    band, best = result.best_band
    lines = [
        f"held-out R^2 ({result.train_patches} training, {result.test_patches} held-out patches)",
        "| trees on | " + " | ".join(AGBD_BAND_ORDER) + " | NDVI | all band statistics |",
        "|---|" + "---|" * (len(AGBD_BAND_ORDER) + 2),
        "| R^2 | "
        + " | ".join(f"{result.single_band[b]:.2f}" for b in AGBD_BAND_ORDER)
        + f" | {result.ndvi:.2f} | {result.multi_band:.2f} |",
        f"best single band: {band} ({best:.2f}); all bands: {result.multi_band:.2f}",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--train-seeds", type=int, nargs="+", default=list(DEFAULT_TRAIN_SEEDS))
    parser.add_argument("--test-seed", type=int, default=DEFAULT_TEST_SEED)
    parser.add_argument("--patches", type=int, default=DEFAULT_PATCHES, help="per seed")
    args = parser.parse_args(argv)
    if args.test_seed in args.train_seeds:
        parser.error("--test-seed must not be one of --train-seeds")
    print(report(measure(tuple(args.train_seeds), args.test_seed, args.patches)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
