"""The demo model against two baselines on synthetic scenes it has never seen.

    python bench/demo_baselines.py --model resources/demo-model/model --train-data out/demo-instruct \
        [--test-seed 9001] [--test-patches 1200] [--out out/demo-eval]

Held-out data: synthetic AGBD files simulated with a seed never used in training, built into
REO-Instruct (all splits are unseen scenes). Baselines, trained on the same training patches as the
model: the training-mean predictor (majority class for land cover), and gradient-boosted trees on
per-patch band statistics (the classic approach). Every method's predictions are scored by
``reo_core.evaluate``; the table goes to stdout and ``<out>/table.md``.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from reo_core.evaluate import evaluate_file  # noqa: E402
from reo_core.instruct.build import BuildConfig, build_instruct  # noqa: E402
from reo_core.instruct.store import PatchStore, s2_reflectance  # noqa: E402
from reo_core.instruct.torch_dataset import InstructDataset  # noqa: E402
from reo_core.model.checkpoint import load_checkpoint  # noqa: E402
from reo_core.synth.agbd_h5 import RAW_NAME, write_agbd  # noqa: E402
from reo_core.tasks import Task  # noqa: E402
from reo_core.train.validation import predict_dialogues  # noqa: E402

logger = logging.getLogger("demo_baselines")
SPLITS = ("train", "val", "test")


def patch_table(folder: Path, splits: tuple[str, ...]) -> dict[str, np.ndarray]:
    """Unique patches of a build: band-statistic features, AGB and land cover, keyed by dialogue patch."""
    store = PatchStore(folder)
    keys, features, agb, land_cover = [], [], [], []
    for split in splits:
        path = folder / f"{split}.jsonl"
        if not path.is_file():
            continue
        for line in path.read_text().splitlines():
            record = json.loads(line)
            if record["task"] != Task.AGB.value:
                continue
            ref = record["patch"]
            key = (ref["split"], ref["shard"], ref["index"])
            if key in keys:
                continue
            keys.append(key)
            features.append(band_statistics(store.get(*key)["s2"]))
            agb.append(record["target"]["agb"])
            land_cover.append(record["target"]["land_cover"])
    return {"keys": keys, "x": np.array(features), "agb": np.array(agb), "lc": np.array(land_cover)}


def band_statistics(s2_stored: np.ndarray) -> np.ndarray:
    """Mean and standard deviation of each band, and mean NDVI: 25 numbers per patch."""
    reflectance = s2_reflectance(np.asarray(s2_stored))  # (12, 25, 25), AGBD order
    with np.errstate(invalid="ignore", divide="ignore"):
        ndvi = (reflectance[7] - reflectance[3]) / (reflectance[7] + reflectance[3])
    return np.concatenate(
        [
            np.nanmean(reflectance, axis=(1, 2)),
            np.nanstd(reflectance, axis=(1, 2)),
            [np.nanmean(ndvi)],
        ]
    )


def baseline_records(train: dict, test: dict) -> dict[str, list[dict]]:
    """Predictions of the mean predictor and of gradient-boosted trees for every held-out patch."""
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

    regressor = HistGradientBoostingRegressor(random_state=0).fit(train["x"], train["agb"])
    classifier = HistGradientBoostingClassifier(random_state=0).fit(train["x"], train["lc"])
    codes, counts = np.unique(train["lc"], return_counts=True)
    majority = int(codes[counts.argmax()])
    methods = {
        "training mean": (
            np.full(len(test["agb"]), train["agb"].mean()),
            np.full(len(test["lc"]), majority),
        ),
        "gradient-boosted trees (band statistics)": (
            regressor.predict(test["x"]),
            classifier.predict(test["x"]),
        ),
    }
    return {name: _records(test, agb, lc) for name, (agb, lc) in methods.items()}


def _records(test: dict, agb: np.ndarray, lc: np.ndarray) -> list[dict]:
    records = []
    for i, key in enumerate(test["keys"]):
        ident = "-".join(map(str, key))
        records.append(
            {
                "id": f"{ident}-agb",
                "task": Task.AGB.value,
                "truth": float(test["agb"][i]),
                "prediction": float(agb[i]),
            }
        )
        records.append(
            {
                "id": f"{ident}-lc",
                "task": Task.LAND_COVER.value,
                "truth": int(test["lc"][i]),
                "prediction": int(lc[i]),
            }
        )
    return records


def model_records(model_folder: Path, test_folder: Path, batch_size: int) -> list[dict]:
    """The REO model's answers to the land-cover and AGB questions of every held-out patch."""
    loaded = load_checkpoint(model_folder)
    records = []
    for split in SPLITS:
        if not (test_folder / f"{split}.jsonl").is_file():
            continue
        dataset = InstructDataset(
            test_folder, split, loaded.processor, tasks=(Task.LAND_COVER, Task.AGB)
        )
        records += predict_dialogues(
            loaded.model, dataset, batch_size=batch_size, max_new_tokens=32
        )
    return records


def score(name: str, records: list[dict], out: Path) -> dict:
    slug = "".join(c if c.isalnum() else "-" for c in name.lower()).strip("-")
    path = out / f"{slug}.predictions.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    metrics = evaluate_file(path, out / f"{slug}_evaluation")
    agb, lc = metrics["tasks"][Task.AGB.value], metrics["tasks"][Task.LAND_COVER.value]
    return {"method": name, "rmse": agb["rmse"], "mae": agb["mae"], "r2": agb["r2"], "bias": agb["bias"],
            "oa": lc["overall_accuracy"], "macro_f1": lc["macro_f1"],
            "n": agb["n_total"]}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--model", type=Path, default=REPO_ROOT / "resources" / "demo-model" / "model"
    )
    parser.add_argument(
        "--train-data", type=Path, required=True, help="the build the model was trained on"
    )
    parser.add_argument("--test-seed", type=int, default=9001)
    parser.add_argument("--test-patches", type=int, default=1200)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "out" / "demo-eval")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        write_agbd(Path(tmp) / "agbd", args.test_patches, seed=args.test_seed)
        test_folder = Path(tmp) / "instruct"
        build_instruct(
            BuildConfig(agbd=(Path(tmp) / "agbd" / RAW_NAME,), out=test_folder, seed=args.test_seed)
        )
        train, test = patch_table(args.train_data, ("train",)), patch_table(test_folder, SPLITS)
        rows = [
            score(name, records, args.out)
            for name, records in baseline_records(train, test).items()
        ]
        rows.append(
            score(
                "REO demo model", model_records(args.model, test_folder, args.batch_size), args.out
            )
        )
    table = _table(rows, args)
    (args.out / "table.md").write_text(table + "\n")
    print(table)
    return 0


def _table(rows: list[dict], args) -> str:
    lines = [
        f"Held-out: {rows[0]['n']} synthetic patches (seed {args.test_seed}, never used in training).",
        "",
        "| method | AGB RMSE (Mg/ha) | AGB MAE | AGB R^2 | AGB bias | land-cover OA | land-cover macro F1 |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['method']} | {r['rmse']:.1f} | {r['mae']:.1f} | {r['r2']:.3f} | {r['bias']:+.1f} | "
            f"{100 * r['oa']:.1f} % | {r['macro_f1']:.3f} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
