"""bench/predict.py's breakdown of the model's time into its parts."""

from __future__ import annotations

import numpy as np
from infer_helpers import load_bench

from reo_core.model.decoding import LeanDecoder


def test_the_parts_are_timed_and_the_model_is_left_as_it_was(engines):
    engine = engines("ms")
    model = engine.loaded.model
    decode = LeanDecoder.decode
    s2 = np.random.default_rng(1).uniform(0.02, 0.4, (3, len(engine.config.bands), 25, 25))
    before = engine.predict_patches(s2.astype(np.float32))
    with load_bench("predict").timed_parts(model) as spent:
        during = engine.predict_patches(s2.astype(np.float32))
    assert set(spent) == {"vision", "generation", "head"} and all(v > 0 for v in spent.values())
    assert during.texts == before.texts and np.array_equal(during.agb, before.agb)
    assert LeanDecoder.decode is decode
    assert "patch_embeds" not in vars(model) and "regress" not in vars(model)
