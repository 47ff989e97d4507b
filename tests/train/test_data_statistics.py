"""A model scales its input with the statistics of the data it was trained on, and keeps them."""

from __future__ import annotations

import json

from train_helpers import TINY_PRESET, overrides

from reo_core.instruct.store import STATISTICS_NAME
from reo_core.train.config import load_train_config
from reo_core.train.stage1 import _with_data_statistics


def _model_config(instruct_folder, tmp_path, *settings):
    config = load_train_config(
        TINY_PRESET, [*overrides(instruct_folder, tmp_path / "base", tmp_path / "run"), *settings]
    )
    return _with_data_statistics(config.model_config, config)


def test_training_takes_the_statistics_of_its_build(instruct_folder, tmp_path):
    own = json.loads((instruct_folder / STATISTICS_NAME).read_text())
    assert _model_config(instruct_folder, tmp_path).statistics == own
    named = _model_config(instruct_folder, tmp_path, "model.statistics=agbd-2019-2020")
    assert named.statistics == "agbd-2019-2020"  # a set the user names wins
