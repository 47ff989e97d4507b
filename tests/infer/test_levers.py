"""Every inference lever gives the answers of the plain path (issue 14): same tokens, same AGB.

The plain path is transformers' ``generate`` on host-made pixel values with eager attention, the
whole vision tower and no read-ahead. Batches of 1, 3 and 32 patches, one question (no padding)
and mixed questions (left padding), on the tiny model.
"""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch
from infer_helpers import FAST, read_band, scene_s2

from reo_core.infer.batching import batch_size_for_memory
from reo_core.infer.engine import DEFAULT_BATCH_SIZE, PROBE_PATCHES, batch_size_from_probes
from reo_core.infer.estimate import EstimateRequest, run_estimate
from reo_core.infer.inputs import InputSpec
from reo_core.infer.prefetch import read_ahead
from reo_core.model.decoding import DecodeOptions
from reo_core.model.reo_vlm import _encoder_depth

PLAIN = DecodeOptions(decoder="hf")
QUESTIONS = [
    "Estimate the above-ground biomass of this patch.",
    "What is the land-cover class of this patch?",
    "Is there any sign of human activity in this patch?",
    "How many ecological patches are in this image?",
]
BATCH_SIZES = (1, 3, 32)


def seeded(count: int, bands: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.uniform(0.02, 0.45, size=(count, bands, 25, 25)).astype(np.float32)


def batch_of(engine, count: int, padded: bool, seed: int = 0):
    """A left-padded generation batch: one question for all, or a different one per row."""
    processor = engine.processor
    questions = [QUESTIONS[i % len(QUESTIONS)] if padded else QUESTIONS[0] for i in range(count)]
    encoded = [
        processor.encode_dialogue([{"role": "user", "content": f"<image>\n{q}"}], generation=True)
        for q in questions
    ]
    images = processor.images(seeded(count, len(engine.config.bands), seed))
    batch = processor.collate(encoded, processor.pixel_values(images), padding_side="left")
    assert bool((batch.attention_mask == 0).any()) == (padded and count > 1)
    return batch


def assert_same_answers(a, b, atol: float = 1e-3) -> None:
    assert torch.equal(a.token_ids, b.token_ids)
    assert a.texts == b.texts
    torch.testing.assert_close(a.agb, b.agb, rtol=0, atol=atol)
    if a.agb_std is not None:
        torch.testing.assert_close(a.agb_std, b.agb_std, rtol=0, atol=atol)


@pytest.mark.parametrize("padded", [False, True], ids=["one-question", "padded"])
@pytest.mark.parametrize("count", BATCH_SIZES)
@pytest.mark.parametrize(
    "options",
    [DecodeOptions(), DecodeOptions(static_cache=True)],
    ids=["lean", "lean-static-cache"],
)
def test_lean_decoder_gives_the_tokens_and_agb_of_generate(engines, options, count, padded):
    model = engines("ms").model
    batch = batch_of(engines("ms"), count, padded, seed=count)
    plain = model.generate(batch, max_new_tokens=6, options=PLAIN)
    assert_same_answers(model.generate(batch, max_new_tokens=6, options=options), plain)


@pytest.mark.parametrize("count", BATCH_SIZES)
def test_constrained_decoding_is_the_same_in_both_decoders(engines, count):
    engine = engines("ms")
    batch = batch_of(engine, count, padded=False, seed=count)
    constraint = engine.constraint_for(QUESTIONS[0])
    plain = engine.model.generate(batch, 40, options=PLAIN, constraint=constraint)
    lean = engine.model.generate(batch, 40, constraint=constraint)
    assert_same_answers(lean, plain)


def test_answers_end_where_an_eos_comes_and_rows_after_eos_are_padding(engines, monkeypatch):
    """A model that says EOS at different steps per row: the lean decoder stops like generate."""
    engine = engines("ms")
    model = engine.model
    batch = batch_of(engine, 3, padded=True)
    eos, pad = engine.processor.tokenizer.eos_token_id, engine.processor.tokenizer.pad_token_id
    head = model.llava.get_output_embeddings()
    original = head.forward

    def eos_after_rows(hidden):  # row r says EOS at its (r + 1)-th token
        logits = original(hidden)
        steps = eos_after_rows.calls
        eos_after_rows.calls += 1
        rows = torch.arange(logits.shape[0])
        forced = logits.clone()
        forced[rows == steps, ..., eos] = 1e4
        return forced

    for options in (PLAIN, DecodeOptions(float32_logits=False)):
        eos_after_rows.calls = 0
        monkeypatch.setattr(head, "forward", eos_after_rows)
        out = model.generate(batch, max_new_tokens=6, options=options)
        monkeypatch.setattr(head, "forward", original)
        assert out.token_ids.shape == (3, 3)  # everyone finished after 3 steps
        assert out.token_ids[0, 0] == eos and (out.token_ids[0, 1:] == pad).all()
        assert out.token_ids[2, 2] == eos
        if options is PLAIN:
            plain = out
    assert_same_answers(out, plain)


def test_one_new_token_works_in_both_decoders(engines):
    """--max-new-tokens 1 crashed in _answer_states (an empty mask, issue 14)."""
    model = engines("ms").model
    batch = batch_of(engines("ms"), 3, padded=True)
    plain = model.generate(batch, max_new_tokens=1, options=PLAIN)
    assert plain.token_ids.shape == (3, 1) and torch.isfinite(plain.agb).all()
    assert_same_answers(model.generate(batch, max_new_tokens=1), plain)
    with pytest.raises(ValueError, match="max_new_tokens must be >= 1"):
        model.generate(batch, max_new_tokens=0)


@pytest.mark.parametrize("count", BATCH_SIZES)
def test_optimised_engine_answers_patches_as_the_plain_engine(engines, count):
    plain = engines(
        "ms",
        decoder="hf",
        attention="eager",
        device_preprocessing=False,
        read_ahead=0,
        batch_size=count,
    )
    fast = engines("ms", static_cache=True, batch_size=count)
    s2 = seeded(count + 2, len(fast.config.bands), seed=count)
    a, b = fast.predict_patches(s2), plain.predict_patches(s2)
    assert a.texts == b.texts
    np.testing.assert_allclose(a.agb, b.agb, atol=1e-3)
    np.testing.assert_allclose(a.agb_std, b.agb_std, atol=1e-3)
    np.testing.assert_array_equal(a.land_cover, b.land_cover)
    np.testing.assert_array_equal(a.patch_count, b.patch_count)


def test_sdpa_and_eager_attention_agree(engines):
    sdpa, eager = engines("ms+sar", attention="sdpa"), engines("ms+sar", attention="eager")
    assert sdpa.model.llava.config._attn_implementation == "sdpa"
    assert eager.model.llava.config._attn_implementation == "eager"
    s2 = seeded(5, len(sdpa.config.bands))
    sar = np.random.default_rng(1).uniform(-25, -5, (5, 2, 25, 25)).astype(np.float32)
    a, b = sdpa.predict_patches(s2, sar), eager.predict_patches(s2, sar)
    assert a.texts == b.texts
    np.testing.assert_allclose(a.agb, b.agb, atol=1e-3)


def test_pixels_made_on_the_device_equal_the_hosts(engines):
    processor = engines("rgb").processor
    images = processor.images(seeded(3, 3))
    host = processor.pixel_values(images)
    device = processor.pixel_values(images, device="cpu", dtype=torch.bfloat16)
    assert device.dtype is torch.bfloat16 and host.dtype is torch.float32
    torch.testing.assert_close(processor.pixel_values(images, device="cpu"), host, rtol=0, atol=0)
    torch.testing.assert_close(device.float(), host, rtol=0, atol=0.02)


def test_the_vision_tower_runs_only_as_deep_as_read(engines):
    model = engines("ms").model
    tower = model.llava.model.vision_tower
    layers = model.llava.config.vision_config.num_hidden_layers
    assert model.vision_depth == max([layers - 1, *model.head_layers])  # LLaVA reads layer L-1
    pixels = batch_of(engines("ms"), 1, False).pixel_values
    full = tower(pixels, output_hidden_states=True).hidden_states
    with _encoder_depth(tower, 2):
        shallow = tower(pixels, output_hidden_states=True).hidden_states
    assert len(full) == layers + 1 and len(shallow) == 3
    for a, b in zip(shallow, full[:3], strict=False):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert len(tower.encoder.layers) == layers  # put back
    batch = batch_of(engines("ms"), 3, True)
    model.head_layers, saved = [1, 2], model.head_layers  # a head that reads no deep layer
    try:
        assert model.vision_depth == layers - 1
        truncated = model.generate(batch, 4)
        model.truncate_vision = False
        whole = model.generate(batch, 4)
    finally:
        model.head_layers, model.truncate_vision = saved, True
    assert_same_answers(truncated, whole, atol=1e-5)


def test_map_answers_are_no_longer_than_the_longest_answer_of_their_grammar(engines):
    engine = engines("ms", max_new_tokens=None)
    longest = engine.max_new_tokens
    grammar = engine.constraint_for(engine.question).answers
    tokenizer = engine.processor.tokenizer
    lengths = [
        len(tokenizer(" " + text, add_special_tokens=False)["input_ids"])
        for text, _ in zip(grammar.examples(), range(3000), strict=False)
    ]
    assert max(lengths) + 1 <= longest < 64
    assert engines("ms", max_new_tokens=64).max_new_tokens == longest  # never longer
    assert engines("ms", max_new_tokens=5).max_new_tokens == 5  # shorter when asked
    assert engines("ms", max_new_tokens=None, constrained=False).max_new_tokens == 32
    capped = engine
    uncapped = capped.model.generate(
        batch_of(capped, 3, False), 64, constraint=capped.constraint_for(capped.question)
    )
    s2 = seeded(3, len(capped.config.bands), seed=0)
    got = capped.predict_patches(s2)
    for text, full in zip(got.texts, uncapped.texts, strict=True):
        assert full.startswith(text)


def test_batch_size_from_free_memory():
    gib = 2**30
    assert batch_size_for_memory(80 * gib, 3 * gib, 6 * gib, 4) == 56  # 1 GiB a patch + 2 fixed
    assert batch_size_for_memory(2 * gib, 3 * gib, 6 * gib, 4) == 1  # never below 1
    assert batch_size_for_memory(10**15, 10, 20, 4) == 512  # capped
    assert batch_size_for_memory(80 * gib, 3 * gib, 3 * gib + 3, 4) == 512  # flat memory
    probes = []

    def fake_peak(patches: int) -> int:  # 2 GiB fixed + 0.5 GiB per patch
        probes.append(patches)
        return int(2 * gib + 0.5 * gib * patches)

    assert batch_size_from_probes(fake_peak, 40 * gib) == 56  # (32 - 2) / 0.5 = 60 -> 56
    assert probes == [1, PROBE_PATCHES]
    with pytest.raises(ValueError, match="two probes"):
        batch_size_for_memory(gib, 5, 4, 4)


def test_auto_batch_size_on_the_cpu_is_the_default(engines):
    engine = engines("rgb", batch_size=None)
    assert engine.sizer.size == DEFAULT_BATCH_SIZE == engine.auto_batch_size()


def test_read_ahead_runs_the_source_in_a_thread_and_hands_errors_over():
    threads = []

    def source():
        for i in range(5):
            threads.append(threading.current_thread().name)
            yield i

    assert list(read_ahead(source(), depth=2)) == list(range(5))
    assert set(threads) == {"reo-read-ahead"}
    assert list(read_ahead(source(), depth=0)) == list(range(5))

    def failing():
        yield 1
        raise RuntimeError("disk gone")

    got = []
    with pytest.raises(RuntimeError, match="disk gone"):
        for item in read_ahead(failing()):
            got.append(item)
    assert got == [1]
    closed = threading.Event()

    def endless():
        try:
            i = 0
            while True:
                yield i
                i += 1
        finally:
            closed.set()

    reader = read_ahead(endless(), depth=1)
    assert next(reader) == 0
    reader.close()  # the consumer stops (cancel): the thread ends and the source is closed
    assert closed.wait(5)
    assert not any(t.name == "reo-read-ahead" for t in threading.enumerate())


def test_an_estimate_reads_ahead_and_writes_what_it_writes_without(engines, scene, tmp_path):
    inputs = InputSpec(s2=scene_s2(scene), block_patches=4)
    outputs = {}
    for depth in (0, 1):
        engine = engines("ms", read_ahead=depth)
        run_estimate(engine, EstimateRequest(inputs, tmp_path / str(depth), quicklook=False))
        outputs[depth] = {
            n: read_band(tmp_path / str(depth) / n)[0]
            for n in ("agb.tif", "land_cover.tif", "patch_count.tif")
        }
    for name in outputs[0]:
        np.testing.assert_array_equal(outputs[0][name], outputs[1][name])


def test_a_small_model_runs_in_float32_where_auto_would_pick_half_precision(models, monkeypatch):
    import reo_core.infer.engine as engine_module

    monkeypatch.setattr(engine_module, "choose_dtype", lambda device, name: torch.bfloat16)
    assert engine_module.load_engine(models["rgb"], FAST).dtype is torch.float32  # auto
    asked = engine_module.load_engine(models["rgb"], FAST.replace(dtype="bfloat16"))
    assert asked.dtype is torch.bfloat16


def test_a_spectral_model_answers_the_same_read_ahead_or_not(tiny_base, tmp_path, scene):
    from infer_helpers import make_model

    from reo_core.infer.engine import load_engine
    from reo_core.infer.inputs import open_reader

    folder = make_model(tmp_path / "spectral", tiny_base, modality="ms", spectral_tokens=2)
    engine = load_engine(folder, FAST)
    blocks = list(open_reader(engine.config, InputSpec(s2=scene_s2(scene))).blocks())[:1]
    direct = engine.predict_block(blocks[0])
    prepared = next(iter(engine.read_ahead(blocks)))
    assert prepared.spectral["spectral"].shape[0] == int(blocks[0].keep.sum())
    ahead = engine.predict_block(prepared)
    np.testing.assert_array_equal(direct.agb, ahead.agb)
    s2 = engine.block_patches(blocks[0])[0][:3]
    single = engine.predict_patches(s2[:1]).agb[0]
    assert single == pytest.approx(engine.predict_patches(s2).agb[0], abs=1e-3)


@pytest.mark.slow
def test_compiled_decode_step_gives_the_same_answers(engines):
    """torch.compile of the decode step (CUDA graphs on a GPU; here inductor on the CPU, ~1 min)."""
    model = engines("ms").model
    batch = batch_of(engines("ms"), 3, padded=True)
    plain = model.generate(batch, max_new_tokens=6, options=PLAIN)
    compiled = DecodeOptions(static_cache=True, compile=True)
    assert_same_answers(model.generate(batch, max_new_tokens=6, options=compiled), plain)


def test_min_new_tokens_is_the_same_in_both_decoders(engines):
    model = engines("ms").model
    batch = batch_of(engines("ms"), 3, padded=True)
    plain = model.generate(batch, 5, options=DecodeOptions(decoder="hf", min_new_tokens=5))
    lean = model.generate(batch, 5, options=DecodeOptions(min_new_tokens=5))
    assert plain.token_ids.shape == (3, 5)
    assert_same_answers(lean, plain)


def test_lever_options_that_cannot_work_say_so():
    from reo_core.errors import InputError
    from reo_core.infer.engine import EngineOptions

    with pytest.raises(InputError, match="compile needs static_cache"):
        EngineOptions(compile=True)
    with pytest.raises(InputError, match="static_cache and compile are options of the lean"):
        EngineOptions(decoder="hf", static_cache=True)
    with pytest.raises(InputError, match="decoder must be one of lean, hf"):
        EngineOptions(decoder="beam")
    with pytest.raises(InputError, match="attention must be one of sdpa, eager"):
        EngineOptions(attention="flash")
    with pytest.raises(InputError, match="batch size must be at least 1"):
        EngineOptions(batch_size=0)
