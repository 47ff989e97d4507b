"""Benchmark: does every answer have the type its question asks for? (issue 11, item 6)

    python bench/answer_types.py [--model resources/demo-model/model] [--patches 16]
        [--seed 9001] [--json FILE]

Patches: the first ``--patches`` kept patches of a synthetic scene of a seed no training used
(9001). Questions: every REO-Instruct template question (presence questions once per target:
cropland, a built-up area) and the held-out paraphrases of ``tests/data/paraphrased_questions.json``
(written before any model was trained against this benchmark, never used in training). Each is
asked about every patch, answered in three ways:

- ``reo-1.0``: AGB questions by the regression head, every other question by free generation;
- ``via-estimate``: land-cover and count questions from the map's own answer, others free;
- ``constrained`` (REO's default): via the estimate, and generation held to the answers of the
  question's type (``reo_core.model.constrained``).

An answer matches when it is of the expected type (``is_answer_of_type``: a class for land cover, a
number for counts, yes or no...). Printed: the share of matching answers per question set, way of
answering and type, as JSON lines and a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

DEFAULT_MODEL = REPO_ROOT / "resources" / "demo-model" / "model"
PARAPHRASES = REPO_ROOT / "tests" / "data" / "paraphrased_questions.json"
WAYS = ("reo-1.0", "via-estimate", "constrained")


def template_questions() -> list[tuple[str, str]]:
    """(question, expected type) of every template, presence questions once per target."""
    from reo_core.infer.answer_types import KIND_TYPES
    from reo_core.instruct.templates import PRESENCE_TARGETS, TEMPLATES

    questions = []
    for template in TEMPLATES:
        expected = KIND_TYPES[template.kind].value
        if "{target" in template.question:
            for with_article, bare in PRESENCE_TARGETS.values():
                text = template.question.format(target=with_article, target_bare=bare)
                questions.append((text[:1].upper() + text[1:], expected))
        else:
            questions.append((template.question, expected))
    return questions


def paraphrased_questions(path: Path = PARAPHRASES) -> list[tuple[str, str]]:
    document = json.loads(path.read_text())
    return [(q["question"], q["type"]) for q in document["questions"]]


def scene_patches(engine, seed: int, count: int, workdir: Path) -> np.ndarray:
    """The first ``count`` kept patches of a 2.5 km synthetic scene of ``seed``, model bands."""
    from reo_core.infer.inputs import InputSpec, open_reader
    from reo_core.synth.__main__ import SynthArgs
    from reo_core.synth.__main__ import run as run_synth

    scene = workdir / f"scene-{seed}"
    if not (scene / "scene.json").is_file():
        run_synth(SynthArgs(scene, 2.5, seed, False, None, 0.05, "temperate"))
    reader = open_reader(engine.config, InputSpec(s2=sorted((scene / "s2").glob("*.tif"))))
    patches = [engine.block_patches(block)[0] for block in reader.blocks()]
    return np.concatenate(patches)[:count]


def evaluate(engines: dict, s2: np.ndarray, question_sets: dict) -> list[dict]:
    """Rows of (set, way, type, matched, asked) for every way of answering."""
    from reo_core.infer.answer_types import AnswerType, is_answer_of_type
    from reo_core.infer.question import answer_patches

    rows = []
    for way, (engine, via_estimate) in engines.items():
        counts: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
        for set_name, questions in question_sets.items():
            for question, expected in questions:
                answers = answer_patches(engine, s2, None, question, via_estimate=via_estimate)
                for answer in answers:
                    value = answer.get("agb") if expected == "agb" else answer["answer"]
                    matched = is_answer_of_type(AnswerType(expected), value)
                    for key in ((set_name, expected), (set_name, "all")):
                        counts[key][0] += int(matched)
                        counts[key][1] += 1
        for (set_name, kind), (matched, asked) in sorted(counts.items()):
            rows.append(
                {
                    "set": set_name,
                    "way": way,
                    "type": kind,
                    "matched": matched,
                    "asked": asked,
                    "share": round(matched / asked, 4),
                }
            )
    return rows


def markdown(rows: list[dict]) -> str:
    types = [*sorted({r["type"] for r in rows} - {"all"}), "all"]
    lines = [
        "| questions | answered | " + " | ".join(types) + " |",
        "|---|---|" + "---|" * len(types),
    ]
    by_key = {(r["set"], r["way"], r["type"]): r for r in rows}
    for set_name in sorted({r["set"] for r in rows}, reverse=True):
        for way in WAYS:
            cells = []
            for kind in types:
                row = by_key.get((set_name, way, kind))
                cells.append("-" if row is None else f"{100 * row['share']:.1f} %")
            lines.append(f"| {set_name} | {way} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    parser.add_argument("--patches", type=int, default=16)
    parser.add_argument("--seed", type=int, default=9001, help="scene seed (never in training)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--workdir", type=Path, default=REPO_ROOT / "out" / "bench-answer-types")
    parser.add_argument("--json", type=Path, help="also write the rows here")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    from reo_core.infer.engine import EngineOptions, load_engine

    options = EngineOptions(device=args.device)
    free = load_engine(args.model, options.replace(constrained=False))
    engines = {
        "reo-1.0": (free, False),
        "via-estimate": (free, True),
        "constrained": (load_engine(args.model, options), True),
    }
    args.workdir.mkdir(parents=True, exist_ok=True)
    s2 = scene_patches(free, args.seed, args.patches, args.workdir)
    sets = {"templates": template_questions(), "paraphrases": paraphrased_questions()}
    rows = evaluate(engines, s2, sets)
    for row in rows:
        print(json.dumps(row))
    print(f"\n{len(s2)} patches; model {args.model}\n")
    print(markdown(rows))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
