"""Land-cover-balanced sampling of patches by weighted resampling (REO-VLM supplementary, 1).

AGBD is dominated by a few land-cover classes (cropland, herbaceous vegetation, forests). The paper
balanced REO-Instruct "by weighted selection and resampling". Here each patch gets the weight

    w_i = 1 / n(c_i) ** alpha

where ``c_i`` is the patch's dominant land-cover class and ``n(c)`` the number of patches of the
split whose dominant class is ``c``. A class then receives a share of the draws proportional to
``n(c) ** (1 - alpha)``:

- ``alpha = 0``: no balancing (every patch equally likely; classes keep their natural shares);
- ``alpha = 0.5`` (default): shares follow the square root of the class sizes, a compromise that
  lifts rare classes without repeating their few patches too often;
- ``alpha = 1``: every class equally likely (rare-class patches repeat many times).

``replace=True`` (training) draws with replacement, so a patch can be drawn several times (each
draw gives its own dialogues; the patch's arrays are stored once). ``replace=False`` (evaluation
splits) selects distinct patches with the same weights, so evaluation never repeats a sample.
"""

from __future__ import annotations

import numpy as np

DEFAULT_ALPHA = 0.5


def check_alpha(alpha: float) -> float:
    """``alpha`` if it is a number in [0, 1]; else ValueError."""
    if not (0.0 <= float(alpha) <= 1.0):
        raise ValueError(f"alpha must be between 0 and 1 (0 = no balancing), got {alpha}")
    return float(alpha)


def class_weights(classes: np.ndarray, alpha: float = DEFAULT_ALPHA) -> np.ndarray:
    """Per-patch weights ``1 / n(class) ** alpha``, normalised to sum 1.

    Args:
        classes: (N,) dominant class code of each patch.
    Returns:
        (N,) float64 probabilities.
    """
    alpha = check_alpha(alpha)
    classes = np.asarray(classes)
    if classes.size == 0:
        return np.zeros(0)
    _, inverse, counts = np.unique(classes, return_inverse=True, return_counts=True)
    weights = 1.0 / counts[inverse].astype(np.float64) ** alpha
    return weights / weights.sum()


def balanced_sample(
    classes: np.ndarray,
    n: int,
    rng: np.random.Generator,
    alpha: float = DEFAULT_ALPHA,
    replace: bool = True,
) -> np.ndarray:
    """Indices of ``n`` land-cover-balanced draws among the patches, sorted ascending.

    Args:
        classes: (N,) dominant class code of each patch.
        n: number of draws; with ``replace=False`` at most N.
        rng: the seeded generator (the same seed and input give the same draws).
    Returns:
        (n,) int64 indices into ``classes``, ascending (repeats adjacent when ``replace``).
    """
    classes = np.asarray(classes)
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    if not replace and n > classes.size:
        raise ValueError(f"cannot select {n} distinct patches out of {classes.size}")
    if n == 0 or classes.size == 0:
        return np.zeros(0, dtype=np.int64)
    picks = rng.choice(classes.size, size=n, replace=replace, p=class_weights(classes, alpha))
    return np.sort(picks).astype(np.int64)
