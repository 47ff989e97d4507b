"""The spectral channel into the regression head (issue 11, item 3): what it computes, that the head
reads it, that it trains in stage 2 and travels with the checkpoint, and that it stays off by
default and in the paper's configuration, while the shipped demo model turns it on."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from batches import patches, prompt_batch, training_batch

from reo_core.model.checkpoint import load_checkpoint, save_checkpoint
from reo_core.model.config import ReoConfig
from reo_core.model.spectral import band_statistics, feature_names, standardised_reflectance
from reo_core.sensors.statistics import load_statistics
from reo_core.train.config import load_train_config

REPO_ROOT = Path(__file__).resolve().parents[2]
DEMO_MODEL = REPO_ROOT / "resources" / "demo-model" / "model"


def test_off_by_default_and_for_the_paper_on_for_the_demo_model(tmp_path):
    assert ReoConfig().spectral_tokens == 0 and not ReoConfig().spectral_conv
    assert ReoConfig().llm_spectral_tokens == 0 and not ReoConfig().llm_spectral_conv
    paper = load_train_config(REPO_ROOT / "configs" / "paper.yaml", ["data=x"]).model_config
    assert paper.spectral_tokens == 0 and paper.llm_spectral_tokens == 0
    demo = ReoConfig.load(DEMO_MODEL)
    assert demo.spectral_tokens == 4 and demo.spectral_conv
    assert demo.llm_spectral_tokens == 4 and demo.llm_spectral_conv
    # A model saved before the channel existed has no such keys, and loads with it off.
    old = json.loads((DEMO_MODEL / "reo_config.json").read_text())
    for key in ("spectral_tokens", "spectral_conv", "llm_spectral_tokens", "llm_spectral_conv"):
        del old[key]
    (tmp_path / "reo_config.json").write_text(json.dumps(old))
    assert ReoConfig.load(tmp_path).spectral_tokens == 0
    assert ReoConfig.load(tmp_path).llm_spectral_tokens == 0
    with pytest.raises(ValueError, match="spectral_conv needs spectral_tokens"):
        ReoConfig(spectral_conv=True)
    with pytest.raises(ValueError, match="spectral_tokens must be >= 0"):
        ReoConfig(spectral_tokens=-1)


def test_band_statistics_are_standardised_means_spreads_ndvi_and_valid_share():
    stats = load_statistics("agbd-2019-2020")
    bands = ("B04", "B08")
    s2 = np.empty((2, 2, 25, 25), np.float32)
    s2[:, 0] = 0.05  # red
    s2[:, 1] = 0.35  # near infrared
    s2[1, 1, :5] = np.nan  # 5 rows of patch 1 have no NIR
    s2[1, 1, 5:10] = 0.25
    features = band_statistics(s2, bands, stats)
    names = feature_names(bands, with_sar=False)
    assert names == [
        "B04_mean",
        "B04_spread",
        "B08_mean",
        "B08_spread",
        "ndvi_mean",
        "ndvi_spread",
        "valid_fraction",
    ]
    assert features.shape == (2, 7) and features.dtype == np.float32
    row = dict(zip(names, features[0], strict=True))
    assert row["B04_mean"] == pytest.approx((0.05 - stats.s2["B04"].mean) / stats.s2["B04"].std)
    assert row["B08_spread"] == pytest.approx(0.0, abs=1e-6)
    assert row["ndvi_mean"] == pytest.approx(0.3 / 0.4) and row["valid_fraction"] == 1.0
    second = dict(zip(names, features[1], strict=True))
    nir = np.r_[np.full(5 * 25, 0.25), np.full(15 * 25, 0.35)]  # the valid NIR pixels
    assert second["B08_mean"] == pytest.approx(
        (nir.mean() - stats.s2["B08"].mean) / stats.s2["B08"].std, rel=1e-5
    )
    assert second["B08_spread"] == pytest.approx(nir.std() / stats.s2["B08"].std, rel=1e-5)
    assert second["valid_fraction"] == pytest.approx(0.8)
    s2[1, 1] = np.nan  # a band with no valid pixel at all: zeros, never NaN
    assert np.isfinite(band_statistics(s2, bands, stats)).all()
    sar = np.full((2, 2, 25, 25), -12.0, np.float32)
    assert band_statistics(s2, bands, stats, sar).shape == (2, 11)
    reflectance = standardised_reflectance(s2, bands, stats)
    assert reflectance.shape == s2.shape and np.isfinite(reflectance).all()


@pytest.mark.parametrize("conv", [False, True], ids=["statistics", "statistics+conv"])
def test_the_head_reads_the_channel_and_stage_two_trains_it(make_model, conv):
    loaded = make_model(modality="ms+sar", spectral_tokens=3, spectral_conv=conv)
    model = loaded.model
    features = len(feature_names(model.config.bands, with_sar=True))
    assert model.spectral_encoder.project.in_features == features + (64 if conv else 0)
    layers = len(model.head_layers) * len(model.config.images) * (1 + model.config.head_grid**2)
    assert model.regression_head.num_tokens == layers + model.config.head_text_tokens + 3
    batch = training_batch(loaded)
    assert batch.spectral is not None and batch.spectral.shape == (3, features)
    assert (batch.reflectance is not None) == conv
    model.set_stage(2)
    out = model(batch)
    out.agb_loss.backward()
    trained = {
        n.split(".")[0]
        for n, p in model.named_parameters()
        if p.grad is not None and p.grad.abs().sum() > 0
    }
    assert trained == {"reverse_projection", "spectral_encoder", "regression_head"}
    without = type(batch)(**{**vars(batch), "spectral": None, "reflectance": None})
    with pytest.raises(ValueError, match="reads the patches' band statistics"):
        model(without)


def test_the_channel_sees_what_the_8_bit_images_cannot(make_model):
    """Two patches whose composites are identical but whose reflectance differs get different AGB:
    above the composites' p99 every reflectance is 255 (issue 11: 41-59 % of bright patches)."""
    loaded = make_model(modality="ms", spectral_tokens=2)
    model, processor = loaded.model.eval(), loaded.processor
    s2 = np.full((1, len(model.config.bands), 25, 25), 0.8, np.float32)
    brighter = s2 + 0.1
    np.testing.assert_array_equal(processor.images(s2), processor.images(brighter))
    with torch.no_grad():
        torch.nn.init.normal_(model.spectral_encoder.project.weight, std=50.0)
    a = model.generate(prompt_batch(loaded, s2), max_new_tokens=3)
    b = model.generate(prompt_batch(loaded, brighter), max_new_tokens=3)
    assert torch.equal(a.token_ids, b.token_ids)
    assert not torch.equal(a.agb, b.agb)


def test_the_channel_travels_with_the_checkpoint(make_model, tmp_path):
    loaded = make_model(modality="ms", spectral_tokens=2, spectral_conv=True)
    loaded.model.eval()
    s2, _ = patches(loaded.model.config, 4, seed=6)
    before = loaded.model.generate(prompt_batch(loaded, s2), max_new_tokens=4)
    folder = save_checkpoint(loaded, tmp_path / "model")
    assert json.loads((folder / "reo_config.json").read_text())["spectral_tokens"] == 2
    reloaded = load_checkpoint(folder)
    assert reloaded.model.spectral_encoder.project.weight.dtype is torch.float32
    after = reloaded.model.generate(prompt_batch(reloaded, s2), max_new_tokens=4)
    assert torch.equal(before.token_ids, after.token_ids)
    torch.testing.assert_close(before.agb, after.agb, rtol=0, atol=1e-5)


# --- the spectral channel into the LLM (llm_spectral_tokens) -------------------------------------


def test_the_llm_channel_is_off_by_default_and_checked():
    assert ReoConfig().llm_spectral_tokens == 0 and not ReoConfig().llm_spectral_conv
    with pytest.raises(ValueError, match="llm_spectral_conv needs llm_spectral_tokens"):
        ReoConfig(llm_spectral_conv=True)
    with pytest.raises(ValueError, match="llm_spectral_tokens must be >= 0"):
        ReoConfig(llm_spectral_tokens=-1)


@pytest.mark.parametrize("conv", [False, True], ids=["statistics", "statistics+conv"])
def test_the_llm_reads_its_channel_and_stage_one_trains_it(make_model, conv):
    loaded = make_model(modality="ms", llm_spectral_tokens=3, llm_spectral_conv=conv)
    model, processor = loaded.model, loaded.processor
    images = len(model.config.images) * model.tokens_per_image
    assert processor.image_tokens == images + 3  # placeholders: every image's tokens, then 3
    assert (
        model.spectral_prompt.project.out_features == 3 * model.llava.config.text_config.hidden_size
    )
    batch = training_batch(loaded)
    assert (batch.reflectance is not None) == conv
    model.set_stage(1)
    model(batch).lm_loss.backward()
    grads = {n.split(".")[0] for n, p in model.named_parameters() if p.grad is not None}
    assert "spectral_prompt" in grads and "regression_head" not in grads
    model.set_stage(2)
    assert not any(p.requires_grad for p in model.spectral_prompt.parameters())
    without = type(batch)(**{**vars(batch), "spectral": None, "reflectance": None})
    with pytest.raises(ValueError, match="LLM reads the patches' band statistics"):
        model(without)


def test_the_llm_states_read_the_channel_where_the_images_cannot_tell(make_model):
    """The head here has no spectral channel: the reflectance can reach its AGB only through the
    states of the LLM, which differ when its spectral tokens do."""
    loaded = make_model(modality="ms", llm_spectral_tokens=2)
    model, processor = loaded.model.eval(), loaded.processor
    s2 = np.full((1, len(model.config.bands), 25, 25), 0.8, np.float32)
    brighter = s2 + 0.1  # above every composite's p99: the same 8-bit images
    np.testing.assert_array_equal(processor.images(s2), processor.images(brighter))
    with torch.no_grad():
        torch.nn.init.normal_(model.spectral_prompt.project.weight, std=50.0)
    a = model.generate(prompt_batch(loaded, s2), max_new_tokens=6)
    b = model.generate(prompt_batch(loaded, brighter), max_new_tokens=6)
    assert not torch.allclose(a.agb, b.agb)
    with torch.no_grad():  # and the next-token scores differ
        assert not torch.allclose(
            model(prompt_batch(loaded, s2)).logits[:, -1],
            model(prompt_batch(loaded, brighter)).logits[:, -1],
        )


def test_the_llm_channel_travels_with_the_checkpoint_and_into_stage_two(make_model, tmp_path):
    from reo_core.train.stage2 import stage2_model_config, with_new_heads

    loaded = make_model(modality="ms", llm_spectral_tokens=2, llm_spectral_conv=True)
    loaded.model.eval()
    with torch.no_grad():
        torch.nn.init.normal_(loaded.model.spectral_prompt.project.weight, std=5.0)
    s2, _ = patches(loaded.model.config, 4, seed=6)
    before = loaded.model.generate(prompt_batch(loaded, s2), max_new_tokens=4)
    reloaded = load_checkpoint(save_checkpoint(loaded, tmp_path / "model"))
    after = reloaded.model.generate(prompt_batch(reloaded, s2), max_new_tokens=4)
    assert torch.equal(before.token_ids, after.token_ids)
    # Stage 2 builds new heads but keeps the stage-1 channel (and may not change it).
    config = stage2_model_config(reloaded.model.config, {"head_depth": 2, "llm_spectral_tokens": 5})
    assert config.llm_spectral_tokens == 2
    staged = with_new_heads(reloaded, config)
    staged.model.eval()
    again = staged.model.generate(prompt_batch(staged, s2), max_new_tokens=4)
    assert torch.equal(before.token_ids, again.token_ids)
