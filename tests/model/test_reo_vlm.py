"""REO-VLM on a tiny random LLaVA: forward, backward, stages, save/load, batching, wrong inputs."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from batches import QUESTION, answer, patches, prompt_batch, training_batch

from reo_core.errors import InputError
from reo_core.model.checkpoint import load_checkpoint, save_checkpoint
from reo_core.model.config import TOKEN_STRATEGIES
from reo_core.model.regression_head import HeadOutput

FROZEN_PREFIXES = ("vision_tower", "multi_modal_projector")


def _grad_owners(model) -> set[str]:
    return {
        name
        for name, p in model.named_parameters()
        if p.grad is not None and p.grad.abs().sum() > 0
    }


@pytest.mark.parametrize("modality", ["rgb", "ms", "ms+sar"])
@pytest.mark.parametrize("strategy", TOKEN_STRATEGIES)
def test_forward_and_backward_for_every_modality_and_strategy(make_model, modality, strategy):
    loaded = make_model(modality=modality, token_strategy=strategy)
    model = loaded.model
    batch = training_batch(loaded)
    model.set_stage(1)
    out = model(batch)
    assert out.logits.shape[:2] == batch.input_ids.shape
    assert out.agb.shape == (3,) and torch.isfinite(out.agb).all()
    out.lm_loss.backward()
    stage1 = _grad_owners(model)
    assert stage1 and all("lora_" in name for name in stage1)
    model.zero_grad(set_to_none=True)
    model.set_stage(2)
    model(batch).agb_loss.backward()
    stage2 = _grad_owners(model)
    assert {n.split(".")[0] for n in stage2} == {"reverse_projection", "regression_head"}
    for name, parameter in model.named_parameters():
        if any(part in name for part in FROZEN_PREFIXES) or (
            "lora_" not in name and name.startswith("base.")
        ):
            assert parameter.grad is None or not parameter.grad.any(), name


def test_stage_two_trains_only_reverse_projection_and_head(make_model):
    model = make_model().model
    model.set_stage(2)
    trainable = {n.split(".")[0] for n, p in model.named_parameters() if p.requires_grad}
    assert trainable == {"reverse_projection", "regression_head"}
    model.set_stage(1)
    assert all("lora_" in n for n, p in model.named_parameters() if p.requires_grad)
    with pytest.raises(ValueError, match="stage must be 1 or 2"):
        model.set_stage(3)


def test_vision_tower_and_projector_never_train(make_model):
    model = make_model().model
    for stage in (1, 2):
        model.set_stage(stage)
        for name, parameter in model.named_parameters():
            if any(part in name for part in FROZEN_PREFIXES):
                assert not parameter.requires_grad, name


def test_save_then_load_gives_identical_outputs(make_model, tmp_path):
    loaded = make_model(modality="ms+sar", uncertainty="gaussian")
    loaded.model.eval()
    s2, sar = patches(loaded.model.config, 4, seed=5)
    before = loaded.model.generate(prompt_batch(loaded, s2, sar), max_new_tokens=6)
    folder = save_checkpoint(loaded, tmp_path / "model")
    names = {p.name for p in folder.iterdir()}
    assert {
        "reo_config.json",
        "adapter_config.json",
        "adapter_model.safetensors",
        "heads.safetensors",
        "README.md",
        "preprocessor_config.json",
        "tokenizer.json",
    } <= names
    assert not any(n.endswith((".bin", ".pt", ".pkl")) for n in names)  # no pickle
    assert not (folder / "model.safetensors").exists()  # the base is referenced, not copied
    reloaded = load_checkpoint(folder)
    after = reloaded.model.generate(prompt_batch(reloaded, s2, sar), max_new_tokens=6)
    assert torch.equal(before.token_ids, after.token_ids) and before.texts == after.texts
    torch.testing.assert_close(before.agb, after.agb, rtol=0, atol=1e-5)
    torch.testing.assert_close(before.agb_std, after.agb_std, rtol=0, atol=1e-5)
    train = training_batch(loaded)
    torch.testing.assert_close(
        loaded.model(train).agb, reloaded.model(training_batch(reloaded)).agb
    )


def test_batch_of_eight_equals_eight_single_calls(make_model):
    loaded = make_model(modality="ms", visual_token_pool=2)
    model = loaded.model.eval()
    s2, _ = patches(model.config, 8, seed=9)
    batched = model.generate(prompt_batch(loaded, s2), max_new_tokens=6)
    singles = [
        model.generate(prompt_batch(loaded, s2[i : i + 1]), max_new_tokens=6) for i in range(8)
    ]
    for i, single in enumerate(singles):
        n = single.token_ids.shape[1]
        assert torch.equal(batched.token_ids[i, :n], single.token_ids[0]), i
        assert batched.texts[i] == single.texts[0]
        torch.testing.assert_close(batched.agb[i], single.agb[0], rtol=1e-4, atol=1e-3)


def test_training_forward_is_batch_invariant(make_model):
    loaded = make_model()
    model = loaded.model.eval()
    batch = training_batch(loaded, count=4, seed=2)
    together = model(batch)
    for i in range(4):
        one = training_batch(loaded, count=4, seed=2)
        single = type(one)(
            one.pixel_values.reshape(4, -1, *one.pixel_values.shape[1:])[i],
            one.input_ids[i : i + 1],
            one.attention_mask[i : i + 1],
            one.labels[i : i + 1],
            one.context_mask[i : i + 1],
            one.agb[i : i + 1],
        )
        torch.testing.assert_close(model(single).agb[0], together.agb[i], rtol=1e-4, atol=1e-3)


def test_uncertainty_head_predicts_a_spread_trained_by_gaussian_nll(make_model):
    loaded = make_model(uncertainty="gaussian")
    loaded.model.set_stage(2)
    out = loaded.model(training_batch(loaded))
    assert out.agb_std is not None and (out.agb_std > 0).all()
    out.agb_loss.backward()  # the NLL is differentiable in both mean and log-variance
    readout = loaded.model.regression_head.readout.weight.grad
    assert readout.shape[0] == 2 and readout[1].abs().sum() > 0


def test_a_gaussian_head_can_learn_its_mean_by_mse_and_only_its_spread_by_nll(make_model):
    model = make_model(uncertainty="gaussian", gaussian_mean_loss="mse").model
    target_mg_ha = torch.tensor([50.0, 300.0])
    mean = torch.tensor([0.1, -0.2], requires_grad=True)
    log_variance = torch.tensor([0.5, -1.0], requires_grad=True)
    model._agb_loss(HeadOutput(mean, log_variance), target_mg_ha).backward()
    target = (target_mg_ha - model.config.agb_mean) / model.config.agb_std
    error = (mean - target).detach()
    torch.testing.assert_close(
        mean.grad, error
    )  # d/d mean of MSE over 2 patches: the NLL adds none
    # d/d log-variance of the mean NLL 0.5 (log v + e^2 / v): the spread learns the squared error.
    expected = 0.25 * (1 - error**2 / log_variance.detach().exp())
    torch.testing.assert_close(log_variance.grad, expected)
    with pytest.raises(InputError, match="gaussian_mean_loss must be one of nll, mse"):
        make_model(uncertainty="gaussian", gaussian_mean_loss="mae")


def test_pooled_token_budget_shortens_the_sequence(make_model):
    full, pooled = make_model(visual_token_pool=1), make_model(visual_token_pool=4)
    assert full.model.tokens_per_image == 16 and pooled.model.tokens_per_image == 1
    assert (
        training_batch(full).input_ids.shape[1] - training_batch(pooled).input_ids.shape[1]
        == 5 * 15
    )
    with pytest.raises(ValueError, match="does not divide the 4 x 4 token grid"):
        _ = make_model(visual_token_pool=3).model.tokens_per_image


def test_another_token_budget_leaves_the_loaded_model_as_it_is(make_model):
    from reo_core.infer.engine import with_token_pool

    loaded = make_model(visual_token_pool=1)
    before = loaded.model.config.to_dict()
    pooled = with_token_pool(loaded, 2)
    assert pooled.model.config.visual_token_pool == 2 and pooled.model.tokens_per_image == 4
    assert pooled.processor.tokens_per_image == 4
    assert loaded.model.config.to_dict() == before and loaded.model.tokens_per_image == 16
    assert vars(loaded.model).keys() == vars(pooled.model).keys()  # no attribute hung on either
    assert all(
        a is b for a, b in zip(loaded.model.parameters(), pooled.model.parameters(), strict=True)
    )
    with pytest.raises(InputError, match="visual_token_pool 3 does not fit"):
        with_token_pool(loaded, 3)
    assert loaded.model.config.to_dict() == before


def test_wrong_inputs_state_the_numbers(make_model):
    loaded = make_model(modality="ms")
    processor = loaded.processor
    with pytest.raises(ValueError, match=r"must be \(B, 9, 25, 25\).*got \(2, 12, 25, 25\)"):
        processor.images(np.zeros((2, 12, 25, 25), np.float32))
    with pytest.raises(ValueError, match="must be 25 x 25 pixels, got 32 x 32"):
        processor.images(np.zeros((2, 9, 32, 32), np.float32))
    with pytest.raises(ValueError, match="reads modality 'ms' and takes no PALSAR-2"):
        processor.images(np.zeros((2, 9, 25, 25), np.float32), np.zeros((2, 2, 25, 25), np.float32))
    long_question = {"role": "user", "content": "<image>\n" + "describe the forest " * 200}
    with pytest.raises(ValueError, match=r"has \d+ text tokens, more than max_text_tokens=256"):
        processor.encode_dialogue([long_question, {"role": "assistant", "content": "ok"}])
    batch = training_batch(loaded)
    with pytest.raises(
        ValueError, match=r"pixel_values must be \(15, 3, 56, 56\).*got \(15, 3, 28, 28\)"
    ):
        loaded.model.encode_images(batch.pixel_values[:, :, :28, :28], 3)
    with pytest.raises(ValueError, match="holds 0 image tokens but the images give 240 embeddings"):
        loaded.model.embed(torch.zeros((3, 10), dtype=torch.long), torch.zeros(3, 80, 64))
    sar_model = make_model(modality="ms+sar")
    with pytest.raises(ValueError, match="needs PALSAR-2 patches"):
        sar_model.processor.images(np.zeros((1, 9, 25, 25), np.float32))


def test_dialogue_roles_and_placeholders_are_checked(make_model):
    processor = make_model().processor
    with pytest.raises(ValueError, match="must hold 1 '<image>', found 0"):
        processor.encode_dialogue(
            [{"role": "user", "content": "no image"}, {"role": "assistant", "content": "y"}]
        )
    with pytest.raises(ValueError, match="message 1 must have role 'assistant'"):
        processor.encode_dialogue([QUESTION, QUESTION])
    encoded = processor.encode_dialogue(answer("closed mixed forest"))
    labelled = [
        t for t, lab in zip(encoded["input_ids"], encoded["labels"], strict=True) if lab != -100
    ]
    context = [t for t, c in zip(encoded["input_ids"], encoded["context_mask"], strict=True) if c]
    assert labelled[-1] == processor.tokenizer.eos_token_id
    assert context[1:] == labelled[:-1]  # the cue token, then the answer without EOS


def test_checkpoint_for_other_bands_or_modality_is_refused(make_model, tmp_path):
    folder = save_checkpoint(make_model(modality="ms+sar"), tmp_path / "sar-model")
    with pytest.raises(InputError, match="trained for modality 'ms\\+sar', not 'ms'"):
        load_checkpoint(folder, modality="ms")
    with pytest.raises(InputError, match=r"the input lacks \['B05', 'B06', 'B07'"):
        load_checkpoint(folder, bands=("B02", "B03", "B04", "B08", "B11", "B12"))
    with pytest.raises(InputError, match="not a REO model folder"):
        load_checkpoint(tmp_path)


def test_full_modules_train_in_stage_one_and_are_saved(make_model, tmp_path):
    loaded = make_model(lora_full_modules=("embed_tokens", "lm_head"))
    model = loaded.model
    model.set_stage(1)
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    assert any("lm_head.modules_to_save" in n for n in trainable)
    assert any("embed_tokens.modules_to_save" in n for n in trainable)
    out = model(training_batch(loaded))
    out.lm_loss.backward()
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if "lm_head.modules_to_save" in name:
                parameter.add_(0.1)  # a trained LM head differs from the base's
    model.eval()
    s2, _ = patches(model.config, 2, seed=3)
    before = model.generate(prompt_batch(loaded, s2), max_new_tokens=5)
    reloaded = load_checkpoint(save_checkpoint(loaded, tmp_path / "full"))
    after = reloaded.model.generate(prompt_batch(reloaded, s2), max_new_tokens=5)
    assert torch.equal(before.token_ids, after.token_ids)
    torch.testing.assert_close(before.agb, after.agb, rtol=0, atol=1e-5)
    with pytest.raises(ValueError, match="lora_full_modules \\['vision_tower'\\] not allowed"):
        make_model(lora_full_modules=("vision_tower",))


def test_a_model_shipped_beside_its_base_moves_with_it(
    tiny_base, make_model, tmp_path, monkeypatch
):
    import shutil

    bundle = tmp_path / "bundle"
    shutil.copytree(tiny_base, bundle / "base")
    loaded = make_model()
    loaded.model.config.base_model = str(bundle / "base")
    save_checkpoint(loaded, bundle / "model")
    assert '"base_model": "../base"' in (bundle / "model" / "reo_config.json").read_text()
    adapter = json.loads((bundle / "model" / "adapter_config.json").read_text())
    assert adapter["base_model_name_or_path"] == "../base"  # no path of this machine
    moved = tmp_path / "elsewhere" / "bundle"
    shutil.move(bundle, moved)
    monkeypatch.chdir(tmp_path)  # not the bundle's folder
    reloaded = load_checkpoint(moved / "model")
    resaved = save_checkpoint(reloaded, moved / "model-copy")
    assert (resaved / "preprocessor_config.json").is_file()
    assert '"base_model": "../base"' in (resaved / "reo_config.json").read_text()
