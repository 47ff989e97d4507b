"""Benchmark: inference throughput and peak memory by batch size, token budget, threads and lever.

    python bench/predict.py [--model resources/demo-model/model] [--batch-sizes 16 32 64]
        [--pools 1 2] [--threads 1 2] [--size-km 5] [--json FILE]
    python bench/predict.py --levers [--threads 1] [--size-km 5]
    python bench/predict.py --gpu-paper [--pools 1 2 4 8] [--batch-sizes 8 32] [--patches 64]

CPU (default): every configuration runs in a fresh process and is measured twice: end to end
(``run_estimate`` on a synthetic scene: raster reading, compositing, the model, GeoTIFF writing, no
quicklook) and model only (``InferenceEngine.predict_patches`` on patches in memory). Peak memory
is the process's VmHWM (/proc/self/status), which, unlike ru_maxrss, a fresh process does not
inherit across fork/exec. Besides wall time, the process's CPU time (all its threads) is given:
on a machine shared with other work it varies far less than wall time. ``visual_token_pool``
overrides the model's token budget (answers change; this measures speed only).

``--levers``: the same two measurements for the engine's levers (issue 14), added one at a time
from the plain path (transformers' ``generate``, eager attention, host preprocessing, no
read-ahead, free answers of up to 32 tokens): lean decoder, SDPA, answer grammar with its length
cap, static KV cache, read-ahead, float32 logits.

``--gpu-paper`` (CUDA): the paper-size LLaVA-1.5-7B shape (``BaseSpec()``) with random weights,
built in bf16 directly on the GPU (nothing saved), with REO-VLM's heads. The naive path,
transformers' ``LlavaForConditionalGeneration.generate`` with ``pixel_values`` over batches of 8
patches at the full 6 x 576 image tokens and 16 new tokens, against the engine (one vision pass,
pooled tokens, lean decoder, regression head; answers of exactly 16 tokens on both paths, as random
weights give no grammar-shaped answer) at each token budget and batch size (``auto``: from the free
memory), then the levers one at a time at one budget. ``--paper-spec tiny --device cpu`` runs the
same code on the tiny shape.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

DEFAULT_MODEL = REPO_ROOT / "resources" / "demo-model" / "model"
PAPER_NEW_TOKENS = 16
NAIVE_BATCH = 8
PLAIN = {
    "decoder": "hf",
    "attention": "eager",
    "device_preprocessing": False,
    "read_ahead": 0,
    "constrained": False,
    "max_new_tokens": 32,
    "float32_logits": False,
}
# Levers added one at a time to the plain path, cumulatively.
LEVER_STEPS = [
    ("plain (transformers generate)", {}),
    ("+ lean decoder", {"decoder": "lean"}),
    ("+ SDPA attention", {"attention": "sdpa"}),
    ("+ answer grammar and its length cap", {"constrained": True, "max_new_tokens": None}),
    ("+ static KV cache", {"static_cache": True}),
    ("+ read-ahead thread", {"read_ahead": 1}),
    (
        "+ device preprocessing, float32 logits",
        {"device_preprocessing": True, "float32_logits": True},
    ),
]
GPU_LEVERS = [
    ("transformers generate", {"decoder": "hf"}),
    ("host preprocessing", {"device_preprocessing": False}),
    ("static KV cache", {"static_cache": True}),
    ("static KV cache + CUDA graphs", {"static_cache": True, "compile": True}),
]


def peak_rss_mb() -> float:
    """VmHWM of this process in MiB (peak resident set since the process started)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


# --- CPU: one configuration in a fresh process ---------------------------------------------------
def worker(spec: dict) -> dict:
    """Measure one configuration (called in a fresh interpreter); a JSON-able result."""
    import torch

    from reo_core.infer.engine import EngineOptions, load_engine
    from reo_core.infer.estimate import EstimateRequest, run_estimate
    from reo_core.infer.inputs import InputSpec, open_reader

    options = EngineOptions(
        device="cpu",
        batch_size=spec["batch_size"],
        visual_token_pool=spec["pool"],
        threads=spec["threads"],
        **spec.get("options", {}),
    )
    started = time.perf_counter()
    engine = load_engine(spec["model"], options)
    load_s = time.perf_counter() - started
    inputs = InputSpec(s2=[Path(p) for p in spec["s2"]])
    if spec["mode"] == "model":
        s2 = np.concatenate(
            [engine.block_patches(b)[0] for b in open_reader(engine.config, inputs).blocks()]
        )
        s2 = s2[: spec["patches"]]
        engine.predict_patches(s2[: spec["batch_size"]])  # warm-up
        started, cpu_started = time.perf_counter(), time.process_time()
        with timed_parts(engine.loaded.model) as parts:
            engine.predict_patches(s2)
        seconds, patches = time.perf_counter() - started, len(s2)
    else:
        parts = None
        engine.predict_patches(np.full((1, len(engine.config.bands), 25, 25), 0.1, np.float32))
        started, cpu_started = time.perf_counter(), time.process_time()
        request = EstimateRequest(inputs, Path(spec["out"]), quicklook=False, overwrite=True)
        summary = run_estimate(engine, request)  # each configuration replaces the one before
        seconds, patches = time.perf_counter() - started, summary["patches"]["done"]
    cpu_seconds = time.process_time() - cpu_started  # all threads: steadier on a shared machine
    return {
        **{k: spec[k] for k in ("mode", "threads", "batch_size", "pool")},
        "lever": spec.get("lever"),
        "tokens_per_image": engine.processor.tokens_per_image,
        "patches": patches,
        "seconds": round(seconds, 3),
        "patches_per_s": round(patches / seconds, 1),
        "cpu_seconds": round(cpu_seconds, 3),
        "patches_per_cpu_s": round(patches / cpu_seconds, 1),
        "load_s": round(load_s, 2),
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "torch_threads": torch.get_num_threads(),
        "parts_s": None if parts is None else {k: round(v, 3) for k, v in parts.items()},
    }


@contextmanager
def timed_parts(model: object) -> Iterator[dict[str, float]]:
    """Seconds the model spends, while inside, in its vision tower and image tokens
    (``patch_embeds``), the answer's generation (the lean decoder; transformers' ``generate``,
    the plain path of ``--levers``, is not timed) and the regression head."""
    from reo_core.model.decoding import LeanDecoder

    spent = {"vision": 0.0, "generation": 0.0, "head": 0.0}

    def timed(function: Callable, part: str) -> Callable:
        def run(*args: object, **kwargs: object) -> object:
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                spent[part] += time.perf_counter() - started

        return run

    decode = LeanDecoder.decode
    model.patch_embeds = timed(model.patch_embeds, "vision")
    model.regress = timed(model.regress, "head")
    LeanDecoder.decode = timed(decode, "generation")
    try:
        yield spent
    finally:
        del model.patch_embeds, model.regress  # the class's methods again
        LeanDecoder.decode = decode


def run_worker(spec: dict) -> dict:
    result = subprocess.run(
        [sys.executable, __file__, "--worker", json.dumps(spec)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "OMP_NUM_THREADS": str(spec["threads"])},
    )
    if result.returncode != 0:
        raise RuntimeError(f"worker failed for {spec}:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def scene_files(workdir: Path, size_km: float) -> list[str]:
    from reo_core.synth.__main__ import SynthArgs
    from reo_core.synth.__main__ import run as run_synth

    scene = workdir / f"scene-{size_km:g}km"
    if not (scene / "scene.json").is_file():
        run_synth(SynthArgs(scene, size_km, 7, False, None, 0.05, "temperate"))
    return [str(p) for p in sorted((scene / "s2").glob("*.tif"))]


def bench_cpu(args: argparse.Namespace) -> list[dict]:
    s2 = scene_files(args.workdir, args.size_km)
    results = []
    for threads in args.threads:
        for pool in args.pools:
            for batch_size in args.batch_sizes:
                for mode in ("end-to-end", "model"):
                    spec = worker_spec(
                        args,
                        s2,
                        mode=mode,
                        threads=threads,
                        pool=pool,
                        batch_size=batch_size,
                        options={"max_new_tokens": args.max_new_tokens},
                    )
                    results.append(run_worker(spec))
                    print(json.dumps(results[-1]), flush=True)
    return results


def worker_spec(args: argparse.Namespace, s2: list[str], **settings: object) -> dict:
    """What one worker process measures: ``settings`` (mode, threads, pool, batch size, options)
    on the model, scene and patch count of ``args``."""
    return {
        **settings,
        "model": str(args.model),
        "s2": s2,
        "patches": args.patches,
        "out": str(args.workdir / "estimate"),
    }


def bench_levers(args: argparse.Namespace) -> list[dict]:
    """The levers added one at a time, each configuration in a fresh process."""
    s2 = scene_files(args.workdir, args.size_km)
    results, options = [], dict(PLAIN)
    for name, change in LEVER_STEPS:
        options.update(change)
        for mode in ("end-to-end", "model"):
            spec = worker_spec(
                args,
                s2,
                mode=mode,
                threads=args.threads[0],
                pool=None,
                batch_size=32,
                options=dict(options),
                lever=name,
            )
            results.append(run_worker(spec))
            print(json.dumps(results[-1]), flush=True)
    return results


# --- GPU: the paper's shape -----------------------------------------------------------------------
def paper_engine(spec_name: str, device: str, dtype, pool: int, **options):
    """REO-VLM on a random LLaVA base of the paper's shape, built on ``device`` (nothing saved)."""
    import torch
    from transformers import LlavaForConditionalGeneration

    from reo_core.infer.engine import EngineOptions, InferenceEngine
    from reo_core.instruct.templates import TEMPLATES
    from reo_core.model.base import TINY_BASE, BaseSpec
    from reo_core.model.checkpoint import LoadedModel
    from reo_core.model.config import ReoConfig
    from reo_core.model.processor import ImageSpec, ReoProcessor
    from reo_core.model.reo_vlm import ReoVLM
    from reo_core.model.tokenizer import IMAGE_TOKEN, build_tokenizer

    spec = BaseSpec() if spec_name == "paper" else TINY_BASE
    corpus = [t.question for t in TEMPLATES] + [a for t in TEMPLATES for a in t.answers.values()]
    tokenizer = build_tokenizer(corpus)
    config = spec.llava_config(
        image_token_index=tokenizer.convert_tokens_to_ids(IMAGE_TOKEN),
        vocab_size=max(spec.vocab_size, len(tokenizer)) if spec_name == "paper" else len(tokenizer),
        pad_token_id=tokenizer.pad_token_id,
    )
    config._attn_implementation = options.pop("attention", "sdpa")
    default = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        with torch.device(device):
            llava = LlavaForConditionalGeneration(config).eval()
    finally:
        torch.set_default_dtype(default)
    reo_config = ReoConfig(base_model=f"random-{spec_name}", modality="ms", visual_token_pool=pool)
    model = ReoVLM(reo_config, llava, tokenizer).to(device).eval()  # heads float32, as loaded
    image_spec = ImageSpec(size=spec.image_size)
    processor = ReoProcessor(
        reo_config, tokenizer, image_spec, model.tokens_per_image, config.image_token_index
    )
    engine_options = EngineOptions(
        device=device,
        batch_size=NAIVE_BATCH,
        max_new_tokens=PAPER_NEW_TOKENS,
        min_new_tokens=PAPER_NEW_TOKENS,
        constrained=False,
        **options,
    )
    return InferenceEngine(
        LoadedModel(model, processor), torch.device(device), dtype, engine_options
    )


def naive_generate(engine, s2: np.ndarray) -> float:
    """HF's own path: LlavaForConditionalGeneration.generate with pixel_values, full tokens;
    seconds."""
    import torch

    from reo_core.infer.prompt import ESTIMATE_QUESTION, prompt_messages

    processor, llava = engine.processor, engine.model.llava
    prompt = processor.encode_dialogue(prompt_messages(ESTIMATE_QUESTION), generation=True)
    _sync(engine.device)
    started = time.perf_counter()
    for start in range(0, len(s2), NAIVE_BATCH):
        chunk = s2[start : start + NAIVE_BATCH]
        pixels = processor.pixel_values(processor.images(chunk))
        batch = processor.collate([prompt] * len(chunk), pixels, padding_side="left")
        batch = batch.to(engine.device, engine.dtype)
        with torch.inference_mode():
            llava.generate(
                input_ids=batch.input_ids,
                pixel_values=batch.pixel_values,
                attention_mask=batch.attention_mask,
                max_new_tokens=PAPER_NEW_TOKENS,
                min_new_tokens=PAPER_NEW_TOKENS,
                do_sample=False,
                pad_token_id=engine.processor.tokenizer.pad_token_id,
            )
    _sync(engine.device)
    return time.perf_counter() - started


def timed_engine(engine, s2: np.ndarray, batch_size: int | None) -> dict:
    """patches/s and peak memory of ``engine.predict_patches`` at ``batch_size`` (None: auto)."""
    from reo_core.infer.batching import BatchSizer

    size = engine.auto_batch_size() if batch_size is None else batch_size
    engine.sizer = BatchSizer(size)
    engine.predict_patches(s2[:size])  # warm-up (and CUDA graph capture)
    _reset_peak(engine.device)
    _sync(engine.device)
    started = time.perf_counter()
    engine.predict_patches(s2)
    _sync(engine.device)
    seconds = time.perf_counter() - started
    return {
        "batch_size": engine.sizer.size,
        "auto_batch": batch_size is None,
        "tokens_per_image": engine.processor.tokens_per_image,
        "patches_per_s": round(len(s2) / seconds, 2),
        "peak_gpu_gb": _peak(engine.device),
    }


def bench_gpu_paper(args: argparse.Namespace) -> list[dict]:
    import torch

    from reo_core.infer.engine import InferenceEngine

    device = args.device
    dtype = torch.bfloat16 if device.startswith("cuda") else torch.float32
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise SystemExit(
            "--gpu-paper needs a CUDA GPU (or --paper-spec tiny --device cpu to check it)"
        )
    engine = paper_engine(args.paper_spec, device, dtype, 1)
    rng = np.random.default_rng(0)
    s2 = rng.uniform(0.02, 0.45, size=(args.patches, len(engine.config.bands), 25, 25)).astype(
        np.float32
    )
    results = []
    naive_generate(engine, s2[:NAIVE_BATCH])  # warm-up
    _reset_peak(device)
    seconds = naive_generate(engine, s2)
    results.append(
        {
            "path": "hf-generate (naive)",
            "pool": 1,
            "batch_size": NAIVE_BATCH,
            "tokens_per_image": engine.processor.tokens_per_image,
            "patches_per_s": round(len(s2) / seconds, 2),
            "peak_gpu_gb": _peak(device),
        }
    )
    print(json.dumps(results[-1]), flush=True)
    for pool in args.pools:
        engine.set_token_pool(pool)
        for batch_size in args.batch_sizes:
            results.append({"path": "engine", "pool": pool, **timed_engine(engine, s2, batch_size)})
            print(json.dumps(results[-1]), flush=True)
    engine.set_token_pool(args.lever_pool)
    skipped = getattr(args, "skip_levers", ())
    deadline = getattr(args, "deadline", None)  # time.monotonic() by which to stop starting levers
    for name, change in GPU_LEVERS if args.levers_too else []:
        row = {"path": f"engine, {name}", "pool": args.lever_pool}
        if name in skipped or (deadline is not None and time.monotonic() > deadline):
            results.append({**row, "skipped": True})
            continue
        lever = InferenceEngine(
            engine.loaded, engine.device, engine.dtype, engine.options.replace(**change)
        )  # the same weights
        try:
            results.append({**row, **timed_engine(lever, s2, args.batch_sizes[-1])})
        except Exception as error:  # one lever failing (CUDA graphs) must not lose the others
            results.append({**row, "error": f"{type(error).__name__}: {str(error)[:300]}"})
        print(json.dumps(results[-1]), flush=True)
    return results


def _sync(device) -> None:
    import torch

    if str(device).startswith("cuda"):
        torch.cuda.synchronize()


def _reset_peak(device) -> None:
    import torch

    if str(device).startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()


def _peak(device) -> float | None:
    import torch

    if str(device).startswith("cuda"):
        return round(torch.cuda.max_memory_allocated() / 2**30, 2)
    return None


def _batch_size(value: str) -> int | None:
    return None if value == "auto" else int(value)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL, help="model folder (CPU)")
    parser.add_argument("--batch-sizes", type=_batch_size, nargs="+", default=None)
    parser.add_argument(
        "--pools", type=int, nargs="+", default=None, help="visual_token_pool values"
    )
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="torch CPU threads")
    parser.add_argument(
        "--size-km", type=float, default=5.0, help="scene side (5 km = 400 patches)"
    )
    parser.add_argument("--patches", type=int, default=None, help="patches of the model-only runs")
    parser.add_argument("--max-new-tokens", type=int, default=None)
    parser.add_argument("--workdir", type=Path, default=REPO_ROOT / "out" / "bench-predict")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--levers", action="store_true", help="the CPU lever table")
    parser.add_argument(
        "--gpu-paper", action="store_true", help="the paper-size comparison on CUDA"
    )
    parser.add_argument("--paper-spec", choices=("paper", "tiny"), default="paper")
    parser.add_argument("--device", default="cuda", help="device of --gpu-paper")
    parser.add_argument("--lever-pool", type=int, default=4, help="token pool of the GPU levers")
    parser.add_argument("--no-gpu-levers", dest="levers_too", action="store_false")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    if args.worker:
        print(json.dumps(worker(json.loads(args.worker))))
        return 0
    args.workdir.mkdir(parents=True, exist_ok=True)
    if args.gpu_paper:
        args.pools, args.batch_sizes = args.pools or [1, 2, 4, 8], args.batch_sizes or [8, 32]
        args.patches = args.patches or 64
        results = bench_gpu_paper(args)
    elif args.levers:
        args.patches = args.patches or 256
        results = bench_levers(args)
    else:
        args.pools, args.batch_sizes = args.pools or [None], args.batch_sizes or [16, 32, 64]
        args.patches = args.patches or 256
        results = bench_cpu(args)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
