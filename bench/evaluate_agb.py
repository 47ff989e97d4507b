"""Benchmark: evaluate 120,000 AGB predictions end to end (read file, metrics, report, figures).

    python bench/evaluate_agb.py [--n 120000] [--repeats 3] [--seed 0]

Writes seeded AGB predictions to a temporary JSON Lines file (numbers, text answers with units and
a few unparsable answers, as a model produces them), then times ``reo_core.evaluate.evaluate_file``
end to end and prints the best of ``--repeats`` runs.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from reo_core.evaluate import evaluate_file  # noqa: E402


def write_predictions(path: Path, n: int, seed: int = 0) -> None:
    """``n`` AGB rows: truth ~ Gamma(2, 50) clipped to 0-500 Mg/ha, prediction = truth + N(0, 60^2).

    Of the predictions, 60 % are JSON numbers, 39 % text ("The AGB is about 123.4 Mg/ha."), 1 %
    unparsable text.
    """
    rng = np.random.default_rng(seed)
    truth = np.clip(rng.gamma(2.0, 50.0, n), 0.0, 500.0).round(2)
    prediction = (truth + rng.normal(0.0, 60.0, n)).round(1)
    kind = rng.random(n)
    with path.open("w", encoding="utf-8") as out:
        for i in range(n):
            if kind[i] < 0.60:
                answer: float | str = float(prediction[i])
            elif kind[i] < 0.99:
                answer = f"The AGB is about {prediction[i]:.1f} Mg/ha."
            else:
                answer = "I cannot tell from this patch."
            row = {"id": f"p{i:06d}", "task": "agb", "truth": float(truth[i]), "prediction": answer}
            out.write(json.dumps(row) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=120_000, help="number of predictions")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs; the best is reported")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "agb_predictions.jsonl"
        write_predictions(path, args.n, args.seed)
        times = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            result = evaluate_file(path, Path(tmp) / "evaluation")
            times.append(time.perf_counter() - start)
        agb = result.tasks["agb"]
    print(f"evaluate {args.n} AGB predictions: {min(times):.2f} s")
    print(
        f"  runs {', '.join(f'{t:.2f}' for t in times)} s; RMSE {agb.rmse:.2f} Mg/ha, "
        f"R^2 {agb.r2:.3f}, {agb.n_unparsable} unparsable"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
