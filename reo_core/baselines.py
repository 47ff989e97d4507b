"""Classic baselines on per-patch band statistics: what a model must beat, and a world must defeat.

A patch becomes 25 numbers, the mean and standard deviation of each of its 12 Sentinel-2 bands
(surface reflectance, no data left out) and its mean NDVI (:func:`band_features`); scikit-learn's
gradient-boosted trees learn from them (:func:`fit_trees`). The trees run on one thread: on a
shared CPU their default thread pool spends its time waiting, not working (measured: 37 s of CPU
instead of 2 s for 13 fits of 1,600 patches). scikit-learn is a development dependency, imported
only here and only when trees are fitted.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from contextlib import AbstractContextManager
from types import ModuleType
from typing import Any

import numpy as np

from reo_core.errors import InputError
from reo_core.sensors.sentinel2 import AGBD_BAND_ORDER

RED, NIR = AGBD_BAND_ORDER.index("B04"), AGBD_BAND_ORDER.index("B08")
FEATURE_NAMES: tuple[str, ...] = (
    *(f"mean {b}" for b in AGBD_BAND_ORDER),
    *(f"std {b}" for b in AGBD_BAND_ORDER),
    "mean NDVI",
)


def band_features(reflectance: np.ndarray) -> np.ndarray:
    """Per patch: mean and standard deviation of each band, and mean NDVI.

    Args:
        reflectance: (N, 12, H, W) float surface reflectance in AGBD band order, NaN = no data.
    Returns:
        float64 array, shape (N, 25) (:data:`FEATURE_NAMES`); NaN where a patch has no data.
    """
    values = np.asarray(reflectance, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN patches stay NaN
        ndvi = (values[:, NIR] - values[:, RED]) / (values[:, NIR] + values[:, RED])
        return np.concatenate(
            [
                np.nanmean(values, axis=(2, 3)),
                np.nanstd(values, axis=(2, 3)),
                np.nanmean(ndvi, axis=(1, 2))[:, None],
            ],
            axis=1,
        )


def _sklearn() -> tuple[ModuleType, Callable[[int], AbstractContextManager]]:
    try:
        from sklearn import ensemble
        from threadpoolctl import threadpool_limits
    except ImportError as error:
        raise InputError(
            "The band-statistics baselines need scikit-learn: pip install -r requirements-dev.txt",
            details=str(error),
        ) from None
    return ensemble, threadpool_limits


# The classifier's L2 penalty on leaf values. With scikit-learn's default (0), a class of few
# patches (25 built-up ones among 8,650) gets near-zero hessians in the multi-class Newton steps,
# its leaf values blow up and the scores reach 1e5: the classifier then fits 28 % of its own
# training land cover (held out 27 %); with 1.0 it fits 99.9 % and gets 57 % held out
# (bench/demo_baselines.py).
CLASSIFIER_L2 = 1.0


def fit_trees(
    features: np.ndarray, target: np.ndarray, classify: bool = False, seed: int = 0
) -> Any:
    """Gradient-boosted trees (scikit-learn ``HistGradientBoosting*``) fitted on one thread: a
    regressor with the defaults, or with ``classify`` a classifier with :data:`CLASSIFIER_L2`."""
    ensemble, threadpool_limits = _sklearn()
    if classify:
        model = ensemble.HistGradientBoostingClassifier(
            random_state=seed, l2_regularization=CLASSIFIER_L2
        )
    else:
        model = ensemble.HistGradientBoostingRegressor(random_state=seed)
    with threadpool_limits(1):
        return model.fit(features, target)


def predict(model: Any, features: np.ndarray) -> np.ndarray:
    """``model.predict`` on one thread (see the module doc)."""
    _, threadpool_limits = _sklearn()
    with threadpool_limits(1):
        return model.predict(features)
