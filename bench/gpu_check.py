"""REO's GPU check (issue 14): everything a GPU session must measure, in one run, as one JSON
document.

    bench/gpu_check.sh [--wheels DIR] [--dry-run] [--workdir DIR] [--budget-s 450]
    python bench/gpu_check.py [--dry-run] ...        # the same, without installing wheels

Sections, each in its own process (a crash or an out-of-memory error ends only that section) with
its share of the time budget, in this order:

- ``environment``: versions, the GPU, its memory and bf16 support;
- ``paper_inference``: the paper-shape model (random LLaVA-1.5-7B weights, bf16): transformers'
  ``generate`` (naive) against the engine at every token budget and batch size (``auto`` from the
  free memory), then each lever at one budget (``bench/predict.py --gpu-paper``), with the bf16
  TFLOP/s each row implies (``reo_core.model.cost``);
- ``demo``: the built-in demo model end to end (``run_estimate``, a 5 km synthetic scene of seed
  9001; ``--scene-km``) on CUDA and on the CPU of the same machine, and how far GPU answers are
  from CPU answers (land cover, text, AGB) with the default precision and with bf16;
- ``paper_training``: a few optimiser steps of ``configs/paper.yaml`` on one GPU (bf16 weights,
  gradient checkpointing, the preset's micro-batch) through the training command line, on a random
  paper-shape base saved to the work folder and a small synthetic REO-Instruct build; an option the
  training code does not know makes it fail with its own one-line message.

``--dry-run`` runs every section on the CPU with the tiny shapes (bf16 on the CPU standing in for
the GPU's precision), so the script is known to work before a GPU session uses it
(tests/infer/test_gpu_check.py). Only the final JSON document goes to stdout; each section's log is
``<workdir>/<section>.log``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))
sys.path.insert(0, str(REPO_ROOT / "bench"))

DEMO_MODEL = REPO_ROOT / "resources" / "demo-model" / "model"
# Section -> (share of the budget, least seconds worth starting it with).
SECTIONS = {
    "environment": (0.04, 5),
    "paper_inference": (0.36, 60),
    "demo": (0.20, 30),
    "paper_training": (0.40, 90),
}


# --- sections (each runs in a fresh process) ------------------------------------------------------
def environment(args: argparse.Namespace) -> dict:
    import accelerate
    import peft
    import torch
    import transformers

    info = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "peft": peft.__version__,
        "accelerate": accelerate.__version__,
        "cuda_available": torch.cuda.is_available(),
        "cpu_count": os.cpu_count(),
    }
    if torch.cuda.is_available():
        properties = torch.cuda.get_device_properties(0)
        info |= {
            "gpu": properties.name,
            "gpu_memory_gb": round(properties.total_memory / 2**30, 1),
            "bf16": torch.cuda.is_bf16_supported(),
            "cuda": torch.version.cuda,
        }
    elif not args.dry_run:
        raise RuntimeError("no CUDA GPU is visible to torch; use --dry-run to check on a CPU")
    return info


def paper_inference(args: argparse.Namespace) -> dict:
    import predict as bench_predict

    from reo_core.model.base import TINY_BASE, BaseSpec
    from reo_core.model.cost import patch_cost

    tiny = args.dry_run
    run = argparse.Namespace(
        device="cpu" if tiny else "cuda",
        paper_spec="tiny" if tiny else "paper",
        pools=[1, 2] if tiny else [1, 2, 4, 8],
        batch_sizes=[4, None] if tiny else [8, 32, None],
        patches=8 if tiny else 64,
        lever_pool=2 if tiny else 4,
        levers_too=True,
        skip_levers=("static KV cache + CUDA graphs",) if tiny else (),
        deadline=time.monotonic() + args.seconds - 90,  # levers only while 90 s are left
    )
    rows = bench_predict.bench_gpu_paper(run)
    spec = TINY_BASE if tiny else BaseSpec()
    for row in (r for r in rows if "patches_per_s" in r):  # the rate in arithmetic (5 images)
        cost = patch_cost(spec, 5, row["pool"], new_tokens=bench_predict.PAPER_NEW_TOKENS)
        row["tflop_per_patch"] = round(cost.total / 1e12, 4)
        row["tflop_per_s"] = round(cost.total * row["patches_per_s"] / 1e12, 1)
    return {"rows": rows, "new_tokens": bench_predict.PAPER_NEW_TOKENS}


def demo(args: argparse.Namespace) -> dict:
    import torch

    from reo_core.infer.engine import EngineOptions, load_engine
    from reo_core.infer.estimate import EstimateRequest, run_estimate
    from reo_core.infer.inputs import InputSpec, open_reader
    from reo_core.synth.__main__ import SynthArgs
    from reo_core.synth.__main__ import run as run_synth

    size_km = args.scene_km or (2.5 if args.dry_run else 5.0)
    scene = args.workdir / f"scene-{size_km:g}km"
    if not (scene / "scene.json").is_file():
        run_synth(SynthArgs(scene, size_km, 9001, False, None, 0.05, "temperate"))
    inputs = InputSpec(s2=sorted((scene / "s2").glob("*.tif")))
    gpu = "cpu" if args.dry_run else "cuda"
    result = {"scene_km": size_km, "end_to_end": {}, "agreement": {}}
    for device in dict.fromkeys([gpu, "cpu"]):
        engine = load_engine(DEMO_MODEL, EngineOptions(device=device))
        engine.predict_patches(np.full((2, len(engine.config.bands), 25, 25), 0.1, np.float32))
        started = time.perf_counter()
        request = EstimateRequest(
            inputs, args.workdir / f"estimate-{device}", quicklook=False, overwrite=True
        )
        summary = run_estimate(engine, request)
        seconds = time.perf_counter() - started
        result["end_to_end"][device] = {
            "patches": summary["patches"]["done"],
            "seconds": round(seconds, 2),
            "patches_per_s": round(summary["patches"]["done"] / seconds, 1),
            "dtype": str(engine.dtype).replace("torch.", ""),
            "batch_size": engine.sizer.size,
        }
    reference = load_engine(DEMO_MODEL, EngineOptions(device="cpu"))
    s2 = np.concatenate(
        [reference.block_patches(b)[0] for b in open_reader(reference.config, inputs).blocks()]
    )
    truth = reference.predict_patches(s2)
    variants = {
        "auto": {},
        "bfloat16": {"dtype": "bfloat16"},
        "bfloat16, bf16 logits": {"dtype": "bfloat16", "float32_logits": False},
    }
    for name, options in variants.items():
        engine = load_engine(DEMO_MODEL, EngineOptions(device=gpu, **options))
        got = engine.predict_patches(s2)
        difference = np.abs(got.agb - truth.agb)
        result["agreement"][f"{gpu} {name} vs cpu float32"] = {
            "dtype": str(engine.dtype).replace("torch.", ""),
            "patches": len(s2),
            "land_cover_agree_pct": round(
                100 * float(np.mean(got.land_cover == truth.land_cover)), 2
            ),
            "text_agree_pct": round(
                100 * float(np.mean([a == b for a, b in zip(got.texts, truth.texts, strict=True)])),
                2,
            ),
            "agb_abs_diff_p50": round(float(np.percentile(difference, 50)), 3),
            "agb_abs_diff_p99": round(float(np.percentile(difference, 99)), 3),
            "agb_abs_diff_max": round(float(difference.max()), 3),
        }
    result["torch_threads"] = torch.get_num_threads()
    return result


def paper_training(args: argparse.Namespace) -> dict:
    import torch
    import yaml

    from reo_core.instruct.build import BuildConfig, build_instruct
    from reo_core.instruct.templates import TEMPLATES
    from reo_core.model.base import BaseSpec, build_base
    from reo_core.synth.agbd_h5 import write_agbd
    from reo_core.train.__main__ import main as train_main

    data = args.workdir / "instruct"
    if not (data / "train.jsonl").is_file():
        write_agbd(args.workdir / "agbd", 96 if args.dry_run else 256, seed=5)
        agbd = sorted((args.workdir / "agbd").glob("data_subset-*.h5"))
        build_instruct(BuildConfig(agbd=tuple(agbd), out=data, seed=0, overwrite=True))
    output = args.workdir / "train"
    if args.dry_run:
        preset, steps = REPO_ROOT / "configs" / "tiny.yaml", 1
        base_args = [
            "build_base=tiny",
            f"model.base_model={args.workdir / 'tiny-base'}",
            "device=cpu",
        ]
        base_seconds = 0.0
    else:
        preset, steps = REPO_ROOT / "configs" / "paper.yaml", 3
        base = args.workdir / "paper-base"
        started = time.perf_counter()
        if not (base / "config.json").is_file():
            corpus = [t.question for t in TEMPLATES] + [
                a for t in TEMPLATES for a in t.answers.values()
            ]
            build_base(
                base, BaseSpec(), corpus, dtype=torch.bfloat16, device="cuda", full_vocabulary=True
            )
            torch.cuda.empty_cache()
        base_seconds = time.perf_counter() - started
        base_args = [f"model.base_model={base}", "mixed_precision=bf16"]
    settings = yaml.safe_load(preset.read_text())
    micro = int(settings.get("micro_batch_size") or 4)
    overrides = [
        f"data={data}",
        f"output={output}",
        "stage=1",
        f"steps={steps}",
        f"batch_size={2 * micro}",  # two micro-batches per step: accumulation is exercised
        "gradient_checkpointing=true",
        "eval_every=0",
        "save_every=0",
        "eval_samples=1",
        "num_workers=0",
        *base_args,
    ]
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()
    started = time.perf_counter()
    code = train_main(["--config", str(preset), "--force", *overrides])  # never an earlier run
    seconds = time.perf_counter() - started
    if code != 0:
        raise RuntimeError(f"the training command ended with status {code}: {_last_error(args)}")
    summary = json.loads((output / "summary.json").read_text())
    stages = {
        name: {k: v for k, v in stage.items() if k in ("samples_per_second", "steps")}
        for name, stage in summary.items()
        if isinstance(stage, dict)
    }
    return {
        "preset": preset.name,
        "overrides": overrides,
        "steps": steps,
        "micro_batch": micro,
        "seconds": round(seconds, 1),
        "base_build_seconds": round(base_seconds, 1),
        "stages": stages,
        "peak_gpu_gb": round(torch.cuda.max_memory_allocated() / 2**30, 2)
        if torch.cuda.is_available()
        else None,
    }


def _last_error(args: argparse.Namespace) -> str:
    """The training command's last ERROR line from this section's log (its own message)."""
    log = args.workdir / "paper_training.log"
    lines = log.read_text(errors="replace").splitlines() if log.is_file() else []
    errors = [line for line in lines if line.startswith("ERROR")]
    return errors[-1] if errors else "(see the log)"


# --- the orchestration ----------------------------------------------------------------------------
def run_section(name: str, args: argparse.Namespace, timeout: float) -> dict:
    """One section in a fresh process with ``timeout`` seconds; its result or its error."""
    log = args.workdir / f"{name}.log"
    command = [
        sys.executable,
        __file__,
        "--section",
        name,
        "--workdir",
        str(args.workdir),
        "--seconds",
        str(timeout),
    ]
    if args.dry_run:
        command.append("--dry-run")
    if args.scene_km:
        command += ["--scene-km", str(args.scene_km)]
    started = time.perf_counter()
    with log.open("w") as stderr:
        try:
            done = subprocess.run(
                command,
                cwd=REPO_ROOT,
                stdout=subprocess.PIPE,
                stderr=stderr,
                text=True,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return {
                "ok": False,
                "seconds": round(timeout, 1),
                "error": f"out of time after {timeout:.0f} s (log: {log})",
                "partial": _json_lines(log),
            }
    seconds = round(time.perf_counter() - started, 1)
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    try:
        reply = json.loads(lines[-1])
    except (IndexError, json.JSONDecodeError):
        tail = log.read_text(errors="replace").strip().splitlines()[-1:] or ["no output"]
        return {"ok": False, "seconds": seconds, "error": f"exit {done.returncode}: {tail[0]}"}
    return {"seconds": seconds, **reply}


def _json_lines(log: Path) -> list[dict]:
    """The JSON objects a section printed to its log before it was stopped (benchmark rows)."""
    rows = []
    for line in log.read_text(errors="replace").splitlines():
        if line.startswith("{"):
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return rows


def section_main(name: str, args: argparse.Namespace) -> int:
    """Run one section here; its JSON reply is the last line on stdout."""
    import logging

    logging.basicConfig(
        level=logging.INFO, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s"
    )
    real_stdout = sys.stdout
    sys.stdout = sys.stderr  # whatever the section prints goes to its log
    try:
        reply = {"ok": True, "result": globals()[name](args)}
    except Exception as error:  # reported in the document; the other sections still run
        import traceback

        traceback.print_exc()
        reply = {
            "ok": False,
            "error": f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}",
        }
    finally:
        sys.stdout = real_stdout
    print(json.dumps(reply))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dry-run", action="store_true", help="every section on the CPU, tiny")
    parser.add_argument("--workdir", type=Path, default=REPO_ROOT / "out" / "gpu-check")
    parser.add_argument("--budget-s", type=float, default=450.0, help="for all sections")
    parser.add_argument("--only", nargs="+", choices=list(SECTIONS), help="run these sections")
    parser.add_argument("--scene-km", type=float, help="demo scene side (5 km; dry run 2.5 km)")
    parser.add_argument("--section", choices=list(SECTIONS), help=argparse.SUPPRESS)
    parser.add_argument("--seconds", type=float, default=600.0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.workdir = args.workdir.resolve()
    args.workdir.mkdir(parents=True, exist_ok=True)
    if args.section:
        return section_main(args.section, args)
    started = time.perf_counter()
    document = {
        "check": "reo-gpu-check",
        "dry_run": args.dry_run,
        "budget_s": args.budget_s,
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "host": platform.node(),
        "workdir": str(args.workdir),
        "sections": {},
    }
    names = args.only or list(SECTIONS)
    for index, name in enumerate(names):
        left = args.budget_s - (time.perf_counter() - started)
        later = sum(SECTIONS[n][1] for n in names[index + 1 :])
        share, least = SECTIONS[name]
        later_shares = sum(SECTIONS[n][0] for n in names[index + 1 :]) * args.budget_s
        # Its share, more when earlier sections left time, never the later sections' minimum.
        timeout = min(left - later, max(share * args.budget_s, left - later_shares))
        if timeout < least:
            document["sections"][name] = {
                "ok": False,
                "seconds": 0.0,
                "error": f"skipped: {left:.0f} s left of the budget",
            }
            continue
        document["sections"][name] = run_section(name, args, timeout)
    document["seconds"] = round(time.perf_counter() - started, 1)
    document["ok"] = all(s.get("ok") for s in document["sections"].values())
    print(json.dumps(document, indent=2))
    return 0 if document["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
