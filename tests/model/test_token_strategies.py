"""Token selection: the paper's table 5 strategies pick the layers the paper describes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from reo_core.errors import InputError
from reo_core.model.config import (
    LEGACY_TOKEN_STRATEGIES,
    PAPER_TOKEN_STRATEGIES,
    TOKEN_STRATEGIES,
    ReoConfig,
)
from reo_core.model.visual_tokens import select_layers

DEMO_MODEL = Path(__file__).resolve().parents[2] / "resources" / "demo-model" / "model"

# CLIP ViT-L/14-336 (the paper's encoder) has 24 layers.
PAPER_LAYERS = {
    "last_layer": [24],
    "half_layers": [2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24],  # every second from the top
    "half_layers_deep": [1, 5, 8, 12, 13, 15, 16, 18, 19, 21, 22, 24],  # 4 shallow, 8 deep
    "all_layers": list(range(1, 25)),
    "even_spread": [1, 3, 5, 7, 9, 11, 14, 16, 18, 20, 22, 24],  # REO 1.0's "half"
}


def test_the_paper_names_its_four_strategies():
    assert PAPER_TOKEN_STRATEGIES == ("last_layer", "half_layers", "half_layers_deep", "all_layers")
    assert set(TOKEN_STRATEGIES) == set(PAPER_LAYERS)


@pytest.mark.parametrize("strategy", TOKEN_STRATEGIES)
def test_layers_of_the_paper_encoder(strategy):
    assert select_layers(strategy, 24) == PAPER_LAYERS[strategy]


def test_every_half_strategy_reads_half_the_layers_and_the_last():
    for layers in (6, 24, 32):
        for strategy in ("half_layers", "half_layers_deep", "even_spread"):
            picked = select_layers(strategy, layers)
            assert len(picked) == layers // 2 and picked[-1] == layers, (strategy, layers)
        deep = select_layers("half_layers_deep", layers)
        assert sum(layer > layers // 2 for layer in deep) > sum(
            layer <= layers // 2 for layer in deep
        )
    # Counted from the top: with an odd depth the last layer is still read, the first is not.
    assert select_layers("half_layers", 7) == [1, 3, 5, 7][-3:]


@pytest.mark.parametrize(
    ("layers", "old", "expected"),
    [
        (24, "half", [1, 3, 5, 7, 9, 11, 14, 16, 18, 20, 22, 24]),  # what REO 1.0's "half" read
        (6, "half", [1, 4, 6]),  # the demo model's 6-layer tower
        (24, "every2", list(range(2, 25, 2))),
        (24, "half_deep", [1, 5, 8, 12, 13, 15, 16, 18, 19, 21, 22, 24]),
        (24, "last", [24]),
        (24, "all", list(range(1, 25))),
    ],
)
def test_old_names_keep_the_layers_their_heads_were_trained_on(layers, old, expected):
    assert select_layers(LEGACY_TOKEN_STRATEGIES[old], layers) == expected


def test_a_saved_old_name_loads_and_a_new_config_must_use_the_new_names(tmp_path):
    folder = tmp_path / "model"  # the demo model's config as REO 1.0 saved it ("half")
    shutil.copytree(DEMO_MODEL, folder, ignore=shutil.ignore_patterns("*.safetensors", "*.png"))
    old = {**json.loads((folder / "reo_config.json").read_text()), "token_strategy": "half"}
    (folder / "reo_config.json").write_text(json.dumps(old))
    assert ReoConfig.load(folder).token_strategy == "even_spread"
    with pytest.raises(
        ValueError, match=r"'half' is an old name: say 'even_spread'.*'half_layers'"
    ):
        ReoConfig(token_strategy="half")
    with pytest.raises(ValueError, match="must be one of last_layer, half_layers"):
        ReoConfig(token_strategy="every_other")
    saved = json.loads((folder / "reo_config.json").read_text())
    ReoConfig.load(folder).save(folder)  # saving again writes today's name
    again = json.loads((folder / "reo_config.json").read_text())
    assert again["token_strategy"] == "even_spread"
    assert {k: again[k] for k in saved if k != "token_strategy"} == {
        k: v for k, v in saved.items() if k != "token_strategy"
    }


def test_a_damaged_config_says_what_is_wrong(tmp_path):
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "reo_config.json").write_text("{not json")
    with pytest.raises(InputError, match=r"reo_config.json is not valid JSON.*copy it again"):
        ReoConfig.load(folder)
    (folder / "reo_config.json").write_text(json.dumps({"modality": "ms", "colour": "red"}))
    with pytest.raises(InputError, match=r"key\(s\) \['colour'\] that this REO does not know"):
        ReoConfig.load(folder)
    (folder / "reo_config.json").write_text(json.dumps({"modality": "infrared"}))
    with pytest.raises(InputError, match="invalid REO config: Unknown modality 'infrared'"):
        ReoConfig.load(folder)
    (folder / "reo_config.json").write_text("[1, 2]")
    with pytest.raises(InputError, match="holds no JSON object"):
        ReoConfig.load(folder)
