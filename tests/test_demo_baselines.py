"""bench/demo_baselines.py makes its own data from seeds and scores every method on every task."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench" / "demo_baselines.py"


def _bench():
    spec = importlib.util.spec_from_file_location("demo_baselines", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow  # simulates, builds, trains trees and runs the demo model: about 2 minutes
def test_the_table_is_reproduced_from_nothing(tmp_path, capsys):
    bench = _bench()  # imports torch and transformers: seconds
    with pytest.raises(SystemExit) as exit_info:
        bench.main(["--train-seeds", "7", "8", "--test-seeds", "8", "--out", str(tmp_path)])
    assert (
        exit_info.value.code == 2
        and "[8] are both training and held-out" in capsys.readouterr().err
    )
    args = ["--train-seeds", "11", "--train-patches", "120", "--test-seeds", "12"]
    assert bench.main([*args, "--test-patches", "60", "--out", str(tmp_path)]) == 0
    table = (tmp_path / "table.md").read_text().splitlines()
    rows = [line for line in table if line.startswith("| ") and "---" not in line][1:]
    assert [row.split(" | ")[0][2:] for row in rows] == [
        "training mean",
        "gradient-boosted trees (band statistics)",
        "REO model",
    ]
    for row in rows:
        cells = row.strip("| ").split(" | ")[1:]
        assert len(cells) == 8 and all(cell.replace("%", "").strip() != "nan" for cell in cells)
    assert {p.name for p in (tmp_path / "work").iterdir()} == {
        "train-seeds11-n120",
        "held-out-seeds12-n60",
    }
