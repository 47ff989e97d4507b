"""A REO model against two baselines on synthetic scenes it has never seen, from nothing, in one
run.

    python bench/demo_baselines.py [--model resources/demo-model/model]
        [--train-seeds 101 102 103 104] [--train-patches 6000]
        [--test-seeds 9001] [--test-patches 1200] [--out out/demo-eval] [--work DIR]

Training data: synthetic AGBD files simulated with the training seeds (by default the demo model's
own, ``reo_core.train.demo``), built into REO-Instruct; the baselines learn from its training
patches. Held-out data: synthetic AGBD files from seeds never used in training (refused if they
overlap), built into REO-Instruct; every split of it is unseen scenes, and each patch is asked each
question once. Builds are kept under ``--work`` (default ``<out>/work``) and reused when the same
seeds and sizes are asked again.

Methods, all answering the same held-out questions and scored by ``reo_core.evaluate``:

- training mean: the mean AGB and patch count, the most frequent land cover and human activity;
- gradient-boosted trees on band statistics (``reo_core.baselines``: mean and std of the 12 bands
  and mean NDVI), one model per task (AGB, land cover, patch count, human-activity classes present),
  the human-activity answer then made from the predicted classes by the dialogues' own rule;
- the REO model (``--model``), answering each question as the chat answers it with REO's default
  engine (``reo_core.infer.question.answer_patches``): AGB from the regression head, land cover and
  patch count from the map's own answer for the patch (the estimate question's generated text),
  human-activity questions by generation held to their answer type; the answer text is scored.

The table (AGB RMSE / MAE / R^2, land-cover OA and macro F1, patch-count RMSE and exact match,
human-activity accuracy) goes to stdout and ``<out>/table.md``; each method's predictions and
metrics to ``<out>/<method>.predictions.jsonl`` and ``<out>/<method>.metrics.json``.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from reo_core.atomic import write_json  # noqa: E402
from reo_core.baselines import band_features, fit_trees, predict  # noqa: E402
from reo_core.evaluate import evaluate_records  # noqa: E402
from reo_core.instruct.dialogues import activities_of, activity_answer, facts_arrays  # noqa: E402
from reo_core.instruct.store import PatchStore, s2_reflectance  # noqa: E402
from reo_core.instruct.templates import IMAGE_TOKEN  # noqa: E402
from reo_core.jsonl import read_jsonl  # noqa: E402
from reo_core.tasks import Task  # noqa: E402
from reo_core.train.demo import DATA_SEEDS, TRAIN_PATCHES, synthetic_instruct  # noqa: E402

logger = logging.getLogger("demo_baselines")
SPLITS = ("train", "val", "test")
MEAN, TREES = "training mean", "gradient-boosted trees (band statistics)"


# ------------------------------------------------------------------------------------------- data


def build(work: Path, name: str, seeds: list[int], patches: int) -> Path:
    """REO-Instruct from synthetic AGBD files of ``seeds`` (made unless a finished build exists)."""
    folder = work / f"{name}-seeds{'-'.join(map(str, seeds))}-n{patches}"
    return synthetic_instruct(folder, seeds, patches)


def patch_table(folder: Path, splits: tuple[str, ...]) -> dict[tuple, dict]:
    """Every stored patch of ``splits``: band features and the truth of every task, by reference."""
    store, table = PatchStore(folder), {}
    for split in splits:
        if not (folder / split).is_dir():
            continue
        for shard_index, shard in enumerate(store.shards(split)):
            s2 = s2_reflectance(np.asarray(shard["s2"]))
            agb = np.array([m["agb"] for m in shard["meta"]["patches"]])
            facts = facts_arrays(np.asarray(shard["lc"]), agb)
            features = band_features(s2)
            for i in range(len(agb)):
                table[(split, shard_index, i)] = {
                    "x": features[i],
                    "agb": agb[i],
                    "land_cover": int(facts["land_cover"][i]),
                    "count": int(facts["count"][i]),
                    "activity": int(facts["activity"][i]),
                }
    return table


def _patch_key(record: dict) -> tuple:
    """A dialogue's patch: (split, shard, index) in its build."""
    ref = record["patch"]
    return ref["split"], ref["shard"], ref["index"]


def held_out_questions(folder: Path) -> list[dict]:
    """Every dialogue of the held-out build, each (patch, task) once (the first draw's)."""
    seen, questions = set(), []
    for split in SPLITS:
        path = folder / f"{split}.jsonl"
        lines = read_jsonl(path, "a REO-Instruct dialogue") if path.is_file() else ()
        for _, record in lines:
            key = (*_patch_key(record), record["task"])
            if key not in seen:
                seen.add(key)
                questions.append(record)
    return questions


# -------------------------------------------------------------------------------------- baselines


def _stack(table: dict[tuple, dict], name: str) -> np.ndarray:
    return np.array([row[name] for row in table.values()])


def baseline_answers(train: dict[tuple, dict], test: dict[tuple, dict]) -> dict[str, dict]:
    """Per method: patch reference -> predicted AGB, land cover, count and activity mask."""
    x_train, x_test = _stack(train, "x"), _stack(test, "x")
    answers = {MEAN: {}, TREES: {}}
    means = {
        "agb": float(_stack(train, "agb").mean()),
        "count": round(float(_stack(train, "count").mean())),
        "land_cover": _most_frequent(_stack(train, "land_cover")),
        "activity": _most_frequent(_stack(train, "activity")),
    }
    trees = {
        name: predict(fit_trees(x_train, _stack(train, name), classify=name != "agb"), x_test)
        for name in ("agb", "land_cover", "activity", "count")
    }  # the count is a class: trees then answer whole numbers, as a count must be
    for i, ref in enumerate(test):
        answers[MEAN][ref] = means
        answers[TREES][ref] = {name: values[i] for name, values in trees.items()}
    return answers


def _most_frequent(values: np.ndarray) -> int:
    codes, counts = np.unique(values, return_counts=True)
    return int(codes[counts.argmax()])


def baseline_records(questions: list[dict], answers: dict[tuple, dict]) -> list[dict]:
    """One prediction record per held-out question, from a method's per-patch answers."""
    records = []
    for record in questions:
        target = record["target"]
        answer = answers[_patch_key(record)]
        task = Task(record["task"])
        if task is Task.AGB:
            prediction = float(answer["agb"])
        elif task is Task.LAND_COVER:
            prediction = int(answer["land_cover"])
        elif task is Task.PATCH_COUNT:
            prediction = int(answer["count"])
        else:
            activities = activities_of(int(answer["activity"]))
            prediction = activity_answer(target["kind"], activities, target.get("asked"))[1]
        records.append(_record(record, prediction))
    return records


def _record(record: dict, prediction) -> dict:
    return {
        "id": record["id"],
        "task": record["task"],
        "truth": record["target"]["answer"],
        "prediction": prediction,
    }


# ------------------------------------------------------------------------------------------ model


def model_records(model_folder: Path, test_folder: Path, questions: list[dict], batch: int):
    """The REO model's answers to the held-out questions, as users get them in the chat: every
    question through ``reo_core.infer.question.answer_patches`` with REO's default engine (AGB by
    the regression head; land cover and patch count from the map's own answer for the patch;
    other questions by generation held to their answer type); the answer text is scored. The
    map's answer is made once per patch and serves all three of its question families."""
    from reo_core.infer.engine import EngineOptions, load_engine
    from reo_core.infer.question import answer_patches
    from reo_core.instruct.torch_dataset import InstructDataset

    engine = load_engine(model_folder, EngineOptions(device="cpu", batch_size=batch))
    where = {}  # dialogue id -> (its split's dataset, its index there)
    for split in SPLITS:
        if (test_folder / f"{split}.jsonl").is_file():
            dataset = InstructDataset(test_folder, split, engine.processor)
            where |= {r["id"]: (dataset, i) for i, r in enumerate(dataset.records)}
    rows, arrays = {}, []  # patch reference -> its row in the stacked arrays
    for record in questions:
        if _patch_key(record) not in rows:
            rows[_patch_key(record)] = len(arrays)
            dataset, index = where[record["id"]]
            arrays.append(dataset.patch_arrays(index))
    s2 = np.stack([a[0] for a in arrays])
    sar = None if arrays[0][1] is None else np.stack([a[1] for a in arrays])
    estimate = engine.predict_patches(s2, sar)
    by_question: dict[str, list[dict]] = {}
    for record in questions:
        by_question.setdefault(record["messages"][0]["content"], []).append(record)
    records = []
    for text, asked in by_question.items():
        at = [rows[_patch_key(r)] for r in asked]
        question = text.removeprefix(IMAGE_TOKEN).strip()
        answers = answer_patches(
            engine,
            s2[at],
            None if sar is None else sar[at],
            question,
            estimate=estimate.take(at),
        )
        for record, answer in zip(asked, answers, strict=True):
            prediction = answer["agb"] if answer["kind"] == "agb" else answer["answer"]
            records.append(_record(record, prediction))
    return records


# ---------------------------------------------------------------------------------------- scoring


def score(name: str, records: list[dict], out: Path) -> dict:
    """Metrics of one method; its predictions and metrics are written beside the table."""
    slug = "".join(c if c.isalnum() else "-" for c in name.lower()).strip("-")
    (out / f"{slug}.predictions.jsonl").write_text(
        "".join(json.dumps(r) + "\n" for r in records), encoding="utf-8"
    )
    metrics = evaluate_records(records).to_json()
    write_json(out / f"{slug}.metrics.json", metrics)  # strict JSON: undefined metrics as null
    tasks = metrics["tasks"]
    agb, lc = tasks[Task.AGB.value], tasks[Task.LAND_COVER.value]
    count, activity = tasks[Task.PATCH_COUNT.value], tasks[Task.HUMAN_ACTIVITY.value]
    return {
        "method": name,
        "n": agb["n_total"],
        "rmse": agb["rmse"],
        "mae": agb["mae"],
        "r2": agb["r2"],
        "oa": lc["overall_accuracy"],
        "macro_f1": lc["macro_f1"],
        "count_rmse": count["rmse"],
        "count_exact": count["exact_match_accuracy"],
        "activity": activity["accuracy"],
    }


def table(rows: list[dict], args: argparse.Namespace, n_train: int) -> str:
    lines = [
        f"Held-out: {rows[0]['n']} synthetic patches (seeds {args.test_seeds}, never used in "
        f"training); baselines trained on {n_train} patches (seeds {args.train_seeds}).",
        "",
        "| method | AGB RMSE (Mg/ha) | AGB MAE | AGB R^2 | land-cover OA | land-cover macro F1 "
        "| patch-count RMSE | patch-count exact | human-activity accuracy |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['method']} | {r['rmse']:.1f} | {r['mae']:.1f} | {r['r2']:.3f} | "
            f"{100 * r['oa']:.1f} % | {r['macro_f1']:.3f} | {r['count_rmse']:.2f} | "
            f"{100 * r['count_exact']:.1f} % | {100 * r['activity']:.1f} % |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--model", type=Path, default=REPO_ROOT / "resources" / "demo-model" / "model"
    )
    parser.add_argument("--train-seeds", type=int, nargs="+", default=list(DATA_SEEDS))
    parser.add_argument("--train-patches", type=int, default=TRAIN_PATCHES, help="per seed")
    parser.add_argument("--test-seeds", type=int, nargs="+", default=[9001])
    parser.add_argument("--test-patches", type=int, default=1200, help="per seed")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "out" / "demo-eval")
    parser.add_argument(
        "--work", type=Path, help="where the data builds are kept and reused (default <out>/work)"
    )
    args = parser.parse_args(argv)
    shared = sorted(set(args.train_seeds) & set(args.test_seeds))
    if shared:
        parser.error(
            f"seeds {shared} are both training and held-out seeds; held-out must be unseen"
        )
    if not (args.model / "reo_config.json").is_file():
        parser.error(f"--model {args.model} is not a REO model folder (no reo_config.json)")
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    args.out.mkdir(parents=True, exist_ok=True)
    work = args.work or args.out / "work"
    train_folder = build(work, "train", args.train_seeds, args.train_patches)
    test_folder = build(work, "held-out", args.test_seeds, args.test_patches)
    train, test = patch_table(train_folder, ("train",)), patch_table(test_folder, SPLITS)
    questions = held_out_questions(test_folder)
    answers = baseline_answers(train, test)
    rows = [score(name, baseline_records(questions, answers[name]), args.out) for name in answers]
    rows.append(
        score(
            "REO model",
            model_records(args.model, test_folder, questions, args.batch_size),
            args.out,
        )
    )
    text = table(rows, args, len(train))
    (args.out / "table.md").write_text(text + "\n", encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
