"""The inference engine: device choice, OOM halving, cancel, parsing answers, block scattering."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from reo_core.errors import Canceled, InputError, ReoError
from reo_core.infer.batching import BatchSizer, map_batches
from reo_core.infer.device import choose_device, choose_dtype
from reo_core.infer.engine import COUNT_NODATA, UNKNOWN_CLASS, PatchPredictions, scatter
from reo_core.infer.prompt import ESTIMATE_QUESTION, is_agb_question
from reo_core.instruct.templates import Task, templates_for
from reo_core.model.reo_vlm import GenerationOutput
from reo_core.raster.reader import PatchBlock


def seeded_patches(count: int, bands: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.uniform(0.02, 0.45, size=(count, bands, 25, 25)).astype(np.float32)


def test_auto_device_is_the_cpu_here_and_unavailable_devices_say_what_to_use():
    if not torch.cuda.is_available():
        assert choose_device("auto").type in ("cpu", "mps")
    assert choose_dtype(torch.device("cpu")) is torch.float32
    if not torch.cuda.is_available():
        with pytest.raises(InputError, match="use device 'cpu'"):
            choose_device("cuda")
    with pytest.raises(InputError, match="auto, cpu, cuda, mps"):
        choose_device("tpu")
    with pytest.raises(InputError, match="float16 is not supported on the CPU"):
        choose_dtype(torch.device("cpu"), "float16")


def test_the_estimate_question_is_the_first_agb_template():
    assert templates_for(Task.AGB)[0].question == ESTIMATE_QUESTION
    assert is_agb_question("How much carbon is stored here?")
    assert is_agb_question("AGB in Mg/ha?")
    assert not is_agb_question("Is there cropland in this patch?")


def test_batches_halve_on_out_of_memory_and_stay_halved():
    sizes = []

    def forward(start: int, stop: int) -> list[int]:
        sizes.append(stop - start)
        if stop - start > 3:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return list(range(start, stop))

    sizer = BatchSizer(8)
    done = []
    results = map_batches(forward, 11, sizer, on_batch=done.append)
    assert [i for part in results for i in part] == list(range(11))
    assert sizes[:3] == [8, 4, 2] and set(sizes[3:]) <= {2, 1}
    assert sizer.size == 2  # later calls start at the size that fitted
    assert done[-1] == 11


def test_out_of_memory_at_one_patch_says_what_to_change_and_other_errors_pass():
    def always_oom(start, stop):
        raise RuntimeError("MPS backend out of memory")

    with pytest.raises(ReoError, match="visual_token_pool"):
        map_batches(always_oom, 4, BatchSizer(4))

    def broken(start, stop):
        raise ValueError("not memory")

    with pytest.raises(ValueError, match="not memory"):
        map_batches(broken, 4, BatchSizer(4))


def test_engine_retries_smaller_batches_with_the_same_answers(engines, monkeypatch):
    engine = engines("ms")
    s2 = seeded_patches(8, len(engine.config.bands))
    engine.sizer.size = 2
    expected = engine.predict_patches(s2)
    real_generate = engine.model.generate
    seen = []

    def fake_oom_generate(batch, max_new_tokens, **decoding):
        seen.append(batch.input_ids.shape[0])
        if batch.input_ids.shape[0] > 2:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory (injected)")
        return real_generate(batch, max_new_tokens=max_new_tokens, **decoding)

    monkeypatch.setattr(engine.model, "generate", fake_oom_generate)
    engine.sizer.size = 8
    got = engine.predict_patches(s2)
    assert seen == [8, 4, 2, 2, 2, 2]  # halved twice, then every batch at the size that fitted
    assert engine.sizer.size == 2
    np.testing.assert_array_equal(got.agb, expected.agb)
    np.testing.assert_array_equal(got.agb_std, expected.agb_std)
    assert got.texts == expected.texts


def test_cancel_stops_before_the_next_batch(engines, monkeypatch):
    engine = engines("rgb")
    engine.sizer.size = 2
    calls = []
    real_generate = engine.model.generate

    def counting(batch, max_new_tokens, **decoding):
        calls.append(1)
        return real_generate(batch, max_new_tokens=max_new_tokens, **decoding)

    monkeypatch.setattr(engine.model, "generate", counting)
    with pytest.raises(Canceled):
        engine.predict_patches(seeded_patches(10, 3), is_canceled=lambda: len(calls) >= 2)
    assert len(calls) == 2


def test_answers_become_classes_and_counts(engines):
    engine = engines("ms")
    texts = [
        "This patch is mostly closed mixed forest (80% of the area) in 3 ecological patches, "
        "with no sign of human activity.",
        "bodies bodies bodies",
        "This patch is mostly cropland (55% of the area) in twelve ecological patches, "
        "with agriculture.",
    ]
    out = GenerationOutput(
        torch.zeros(3, 1, dtype=torch.long), texts, torch.tensor([10.0, 20.0, 30.0]), None
    )
    predictions = engine._read(out)
    assert predictions.land_cover.tolist() == [115, UNKNOWN_CLASS, 40]
    assert predictions.patch_count.tolist() == [3, COUNT_NODATA, 12]
    assert predictions.agb.dtype == np.float32 and predictions.agb_std is None


def test_block_results_put_answers_on_the_kept_cells():
    keep = np.array([[True, False], [False, True]])
    block = PatchBlock(
        0,
        4,
        np.zeros((2, 2, 3, 25, 25), np.float32),
        None,
        keep.astype(np.float32),
        keep,
        ("B02", "B03", "B04"),
    )
    predictions = PatchPredictions(
        agb=np.array([5.0, 7.0], np.float32),
        agb_std=None,
        land_cover=np.array([112, 40], np.uint8),
        patch_count=np.array([2, COUNT_NODATA], np.uint8),
        texts=["a", "b"],
    )
    result = scatter(block, predictions)
    assert (result.row, result.col) == (0, 4)
    np.testing.assert_array_equal(result.agb, [[5.0, np.nan], [np.nan, 7.0]])
    np.testing.assert_array_equal(result.land_cover, [[112, 255], [255, 40]])
    np.testing.assert_array_equal(result.patch_count, [[2, 255], [255, 255]])


def test_uncertainty_comes_with_the_head_that_has_it(engines):
    with_head, without = engines("ms"), engines("rgb")
    a = with_head.predict_patches(seeded_patches(2, len(with_head.config.bands)))
    b = without.predict_patches(seeded_patches(2, 3))
    assert a.agb_std is not None and np.all(a.agb_std > 0)
    assert b.agb_std is None
    assert np.all((a.agb >= 0) & (a.agb <= 500))
