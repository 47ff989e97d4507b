"""The evaluation command end to end: files in, metrics worked out by hand, files out, clean
errors."""

from __future__ import annotations

import csv
import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from reo_core.atomic import json_text
from reo_core.errors import InputError
from reo_core.evaluate import evaluate_file, evaluate_records, main
from reo_core.evaluation_scores import Evaluation
from reo_core.tasks import Task

REPO_ROOT = Path(__file__).resolve().parents[1]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

# One small file of every task, worked out by hand below.
ROWS = [
    # land cover: labels = truth {40, 50, 112, 20} | parsed predictions {40, 20} = [20, 40, 50, 112]
    {"id": "a1", "task": "land_cover", "truth": 40, "prediction": "cropland"},  # right
    {"id": "a2", "task": "land_cover", "truth": "urban", "prediction": "The patch is cropland."},
    {"id": "a3", "task": "land_cover", "truth": 112, "prediction": "no idea"},  # unparsable: wrong
    {"id": "a4", "task": "land_cover", "truth": "Shrubs", "prediction": 20},  # right
    # patch counts: parsed y [3, 5], p [3, 4]; the third is unparsable and left out
    {"id": "b1", "task": "patch_count", "truth": 3, "prediction": "There are three patches"},
    {"id": "b2", "task": "patch_count", "truth": "5", "prediction": "4"},
    {"id": "b3", "task": "patch_count", "truth": 2, "prediction": "lots"},
    # human activity: right, right, unparsable (wrong), wrong
    {"id": "c1", "task": "human_activity", "truth": "yes", "prediction": "Yes, there is cropland."},
    {"id": "c2", "task": "human_activity", "truth": "Agriculture", "prediction": "agriculture."},
    {"id": "c3", "task": "human_activity", "truth": "no", "prediction": ""},
    {"id": "c4", "task": "human_activity", "truth": "yes", "prediction": "No."},
    # AGB: parsed y [100, 40.5], p [110, 30.5]; the last two are unparsable and left out
    {"id": "d1", "task": "agb", "truth": 100, "prediction": "110 Mg/ha", "model": "ignored"},
    {"id": "d2", "task": "agb", "truth": 40.5, "prediction": 30.5},
    {"id": "d3", "task": "agb", "truth": 300, "prediction": None},
    {"id": "d4", "task": "agb", "truth": "250 Mg/ha", "prediction": "I cannot tell"},
]


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def write_csv(path: Path, rows: list[dict]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.DictWriter(out, fieldnames=["id", "task", "truth", "prediction", "model"])
        writer.writeheader()
        writer.writerows(rows)  # None is written as an empty field
    return path


def assert_hand_computed(result: dict) -> None:
    tasks = result["tasks"]
    assert list(tasks) == ["land_cover", "patch_count", "human_activity", "agb"]  # enum order

    lc = tasks["land_cover"]
    assert (lc["n_total"], lc["n_parsed"], lc["n_unparsable"]) == (4, 3, 1)
    assert lc["overall_accuracy"] == pytest.approx(2 / 4)
    # per class [20, 40, 50, 112]: TP [1, 1, 0, 0], predicted [1, 2, 0, 0], support [1, 1, 1, 1]
    # precision [1, 1/2, 0 (never predicted), 0]; recall [1, 1, 0, 0 (its one answer unparsable)]
    # F1 [1, 2*0.5*1/1.5 = 2/3, 0, 0]
    # macro precision 1.5/4 = 0.375, recall 2/4 = 0.5, F1 (1 + 2/3)/4 = 5/12
    assert [c["code"] for c in lc["per_class"]] == [20, 40, 50, 112]
    assert [c["precision"] for c in lc["per_class"]] == pytest.approx([1, 0.5, 0, 0])
    assert [c["recall"] for c in lc["per_class"]] == pytest.approx([1, 1, 0, 0])
    assert [c["support"] for c in lc["per_class"]] == [1, 1, 1, 1]
    assert lc["macro_precision"] == pytest.approx(0.375)
    assert lc["macro_recall"] == pytest.approx(0.5)
    assert lc["macro_f1"] == pytest.approx(5 / 12)
    cm = lc["confusion_matrix"]
    assert cm["names"] == ["shrubs", "cropland", "urban", "closed evergreen broadleaf forest"]
    assert cm["matrix"] == [[1, 0, 0, 0], [0, 1, 0, 0], [0, 1, 0, 0], [0, 0, 0, 0]]
    assert cm["unparsable"] == [0, 0, 0, 1]

    pc = tasks["patch_count"]
    assert (pc["n_total"], pc["n_parsed"], pc["n_unparsable"]) == (3, 2, 1)
    # errors p - y = [0, -1]: RMSE sqrt(1/2), MAE 1/2, bias -1/2
    # mean y = 4, SS_tot = 1 + 1 = 2, SS_res = 1 -> R^2 = 0.5; exact match 1 of 2
    assert pc["rmse"] == pytest.approx(math.sqrt(0.5))
    assert pc["mae"] == pytest.approx(0.5)
    assert pc["bias"] == pytest.approx(-0.5)
    assert pc["r2"] == pytest.approx(0.5)
    assert pc["exact_match_accuracy"] == pytest.approx(0.5)

    ha = tasks["human_activity"]
    assert (ha["n_total"], ha["n_parsed"], ha["n_unparsable"]) == (4, 3, 1)
    assert ha["accuracy"] == pytest.approx(2 / 4)  # the unparsable one counts as wrong
    assert ha["per_answer"][0] == {"answer": "yes", "support": 2, "accuracy": 0.5}

    agb = tasks["agb"]
    assert (agb["n_total"], agb["n_parsed"], agb["n_unparsable"]) == (4, 2, 2)
    # errors [10, -10]: RMSE 10, MAE 10, bias 0
    # mean y = 70.25; SS_tot = 2 * 29.75^2 = 1770.125; SS_res = 200 -> R^2 = 1 - 200/1770.125
    assert agb["rmse"] == pytest.approx(10.0)
    assert agb["mae"] == pytest.approx(10.0)
    assert agb["bias"] == pytest.approx(0.0)
    assert agb["r2"] == pytest.approx(1 - 200 / 1770.125)
    # bins of the true AGB: 40.5 in 0-50, 100 in 100-150
    assert [b["n"] for b in agb["bins"]] == [1, 0, 1, 0, 0, 0, 0, 0, 0, 0]
    assert agb["bins"][0]["rmse"] == pytest.approx(10.0)
    assert agb["bins"][2] == {"low": 100.0, "high": 150.0, "n": 1, "rmse": pytest.approx(10.0)}


def leftovers(folder: Path) -> list[str]:
    """Temporary folders the atomic writer may have left beside the report."""
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


# --- end to end --------------------------------------------------------------------------------


@pytest.mark.parametrize("writer", [write_jsonl, write_csv], ids=["jsonl", "csv"])
def test_evaluate_file_writes_every_artefact_with_hand_computed_metrics(tmp_path, writer):
    suffix = ".jsonl" if writer is write_jsonl else ".csv"
    path = writer(tmp_path / f"predictions{suffix}", ROWS)
    result = evaluate_file(path)
    out = tmp_path / "predictions_evaluation"  # the default: <stem>_evaluation beside the file
    assert result.out_dir == str(out)
    assert sorted(p.name for p in out.iterdir()) == [
        "agb_scatter.png",
        "confusion_matrix.png",
        "metrics.json",
        "report.md",
    ]
    assert_hand_computed(result.to_json())
    written = json.loads((out / "metrics.json").read_text())
    assert_hand_computed(written)
    assert written == json.loads(json_text(result.to_json()))  # the document is the scores
    assert written["source"] == str(path)
    assert (out / "agb_scatter.png").read_bytes().startswith(PNG_MAGIC)
    assert (out / "confusion_matrix.png").read_bytes().startswith(PNG_MAGIC)
    report = (out / "report.md").read_text()
    assert "| 40 | cropland | 50.00 % | 100.00 % | 66.67 % | 1 | 2 |" in report
    assert "| truth \\ prediction | shrubs | cropland | urban |" in report
    assert "| closed evergreen broadleaf forest | 0 | 0 | 0 | 0 | 1 |" in report
    assert "computed on the parsed predictions only" in report
    assert leftovers(tmp_path) == []


def test_evaluate_records_matches_the_file(tmp_path):
    records = [{**row, "task": Task(row["task"])} for row in ROWS]  # enum members work too
    result = evaluate_records(records)
    assert_hand_computed(result.to_json())
    assert result.tasks["agb"].rmse == pytest.approx(10.0)  # typed scores
    assert [c.code for c in result.tasks["land_cover"].per_class] == [20, 40, 50, 112]
    again = Evaluation.from_json(json.loads(json_text(result.to_json())))
    assert json_text(again.to_json()) == json_text(result.to_json())  # read back as written
    assert list(tmp_path.iterdir()) == []  # the API writes nothing


def test_perfect_predictions(tmp_path):
    rows = [
        {"id": 1, "task": "land_cover", "truth": 40, "prediction": "Cropland."},
        {"id": 2, "task": "land_cover", "truth": 50, "prediction": "urban"},
        {"id": 3, "task": "agb", "truth": 10, "prediction": "10 Mg/ha"},
        {"id": 4, "task": "agb", "truth": 20, "prediction": 20},
        {"id": 5, "task": "patch_count", "truth": 2, "prediction": "two"},
        {"id": 6, "task": "patch_count", "truth": 3, "prediction": "3"},
        {"id": 7, "task": "human_activity", "truth": "yes", "prediction": "Yes."},
    ]
    tasks = evaluate_file(write_jsonl(tmp_path / "p.jsonl", rows)).tasks
    assert tasks["land_cover"].overall_accuracy == tasks["land_cover"].macro_f1 == 1.0
    assert (tasks["agb"].rmse, tasks["agb"].r2) == (0.0, 1.0)
    assert tasks["patch_count"].exact_match_accuracy == 1.0
    assert tasks["human_activity"].accuracy == 1.0


def test_all_predictions_unparsable(tmp_path):
    rows = [
        {"id": 1, "task": "land_cover", "truth": 40, "prediction": None},
        {"id": 2, "task": "land_cover", "truth": 50, "prediction": "?"},
        {"id": 3, "task": "agb", "truth": 10, "prediction": None},
        {"id": 4, "task": "agb", "truth": 20, "prediction": "high"},
        {"id": 5, "task": "human_activity", "truth": "yes", "prediction": ""},
    ]
    path = write_jsonl(tmp_path / "p.jsonl", rows)
    evaluate_file(path, tmp_path / "out")
    tasks = json.loads((tmp_path / "out" / "metrics.json").read_text())["tasks"]
    lc, agb = tasks["land_cover"], tasks["agb"]
    # land cover: every answer wrong; both classes never predicted -> precision 0, recall 0
    assert (lc["n_parsed"], lc["n_unparsable"], lc["overall_accuracy"], lc["macro_f1"]) == (
        0,
        2,
        0,
        0,
    )
    assert lc["confusion_matrix"]["unparsable"] == [1, 1]
    # AGB: nothing to compute on -> every metric null in JSON (nan in Python), with a note
    assert (agb["n_parsed"], agb["n_unparsable"]) == (0, 2)
    assert agb["rmse"] is agb["r2"] is agb["mae"] is None
    assert "no parsable prediction" in agb["note"]
    assert tasks["human_activity"]["accuracy"] == 0.0
    assert "n/a" in (tmp_path / "out" / "report.md").read_text()


def test_constant_truth_r2_is_reported_undefined(tmp_path):
    rows = [{"id": i, "task": "agb", "truth": 50, "prediction": 50 + i} for i in range(3)]
    result = evaluate_file(write_jsonl(tmp_path / "p.jsonl", rows))
    assert math.isnan(result.tasks["agb"].r2)
    assert "truth is constant" in result.tasks["agb"].note
    written = json.loads((tmp_path / "p_evaluation" / "metrics.json").read_text())
    assert written["tasks"]["agb"]["r2"] is None


def test_existing_report_is_replaced_as_a_whole(tmp_path):
    out = tmp_path / "report"
    out.mkdir()
    (out / "metrics.json").write_text("{}")
    (out / "stale.txt").write_text("from an older run")
    evaluate_file(write_jsonl(tmp_path / "p.jsonl", ROWS), out)
    assert not (out / "stale.txt").exists()
    assert (out / "metrics.json").is_file()
    assert leftovers(tmp_path) == []


def test_only_present_tasks_get_figures(tmp_path):
    rows = [{"id": 1, "task": "patch_count", "truth": 2, "prediction": "2"}]
    evaluate_file(write_jsonl(tmp_path / "p.jsonl", rows), tmp_path / "out")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["metrics.json", "report.md"]


def test_csv_with_bom_and_extra_columns(tmp_path):
    path = tmp_path / "p.csv"
    path.write_text(
        "\ufeffid,model,task,truth,prediction\n1,m,agb,100,90 Mg/ha\n", encoding="utf-8"
    )
    assert evaluate_file(path).tasks["agb"].rmse == pytest.approx(10.0)


# --- errors: a message naming file and line, and nothing written ------------------------------

BAD_JSONL = {
    "missing key": (
        [ROWS[0], {"id": 2, "task": "agb", "truth": 1}],
        r"p\.jsonl line 2: missing column 'prediction'",
    ),
    "unknown task": (
        [ROWS[0], {**ROWS[1], "task": "landcover"}],
        r"p\.jsonl line 2: Unknown task 'landcover'.*"
        r"'land_cover', 'patch_count', 'human_activity', 'agb'",
    ),
    "unreadable AGB truth": (
        [ROWS[11], {**ROWS[12], "truth": "lots"}],
        r"p\.jsonl line 2: truth 'lots' cannot be read; expected a biomass in Mg/ha",
    ),
    "null truth": ([{**ROWS[12], "truth": None}], r"p\.jsonl line 1: truth None cannot be read"),
    "unknown land-cover class": (
        [ROWS[0], ROWS[1], {**ROWS[2], "truth": 41}],
        r"p\.jsonl line 3: truth 41 cannot be read; expected a CGLS-LC100 class code \(0, 20,",
    ),
    "fractional count truth": (
        [{**ROWS[4], "truth": 2.5}],
        r"p\.jsonl line 1: truth 2.5 cannot be read; expected a non-negative whole number",
    ),
    "empty answer truth": (
        [{**ROWS[7], "truth": "?"}],
        r"p\.jsonl line 1: truth '\?' cannot be read; expected a non-empty answer",
    ),
}


@pytest.fixture
def existing_report(tmp_path) -> Path:
    """A report folder from an earlier run, which a failed run must leave exactly as it was."""
    out = tmp_path / "out"
    out.mkdir()
    (out / "metrics.json").write_text("{}")
    return out


def assert_untouched(tmp_path: Path, out: Path) -> None:
    assert sorted(p.name for p in out.iterdir()) == ["metrics.json"]
    assert (out / "metrics.json").read_text() == "{}"
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("case", BAD_JSONL)
def test_bad_jsonl_raises_and_writes_nothing(tmp_path, existing_report, case):
    rows, message = BAD_JSONL[case]
    path = write_jsonl(tmp_path / "p.jsonl", rows)
    with pytest.raises(InputError, match=message):
        evaluate_file(path, existing_report)
    assert_untouched(tmp_path, existing_report)
    with pytest.raises(InputError, match=message):
        evaluate_file(path)  # default folder: never created
    assert not (tmp_path / "p_evaluation").exists()


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        (
            "p.csv",
            "id,task,truth,prediction\n1,agb,1,1\n" * 1 + "2,agb,2,2\n" * 4 + "7,agb\n",
            r"p\.csv line 7: missing column 'truth'",
        ),
        (
            "p.csv",
            "id,task,truth\n1,agb,1\n",
            r"p\.csv line 1: missing column 'prediction' in the header",
        ),
        ("p.csv", "", r"p\.csv holds no predictions"),
        ("p.csv", "id,task,truth,prediction\n", r"p\.csv holds no predictions"),
        ("p.jsonl", "", r"p\.jsonl holds no predictions"),
        ("p.jsonl", "\n  \n", r"p\.jsonl holds no predictions"),
        (
            "p.jsonl",
            '{"id": 1, "task": "agb", "truth": 1, "prediction": 1}\n{"id": 2,\n',
            r"p\.jsonl line 2: not valid JSON",
        ),
        ("p.jsonl", "[1, 2]\n", r"p\.jsonl line 1: expected a JSON object"),
        (
            "p.txt",
            "id,task,truth,prediction\n",
            r"p\.txt: unknown file type '\.txt'.*\.jsonl.*\.csv",
        ),
    ],
)
def test_bad_files_raise_and_write_nothing(tmp_path, existing_report, name, text, message):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError, match=message):
        evaluate_file(path, existing_report)
    assert_untouched(tmp_path, existing_report)


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match=r"nope\.jsonl not found; check the --predictions path"):
        evaluate_file(tmp_path / "nope.jsonl")
    assert list(tmp_path.iterdir()) == []


def test_non_utf8_file(tmp_path, existing_report):
    path = tmp_path / "p.csv"
    path.write_bytes(b"id,task,truth,prediction\n1,agb,1,\xff\xfe\n")
    with pytest.raises(InputError, match=r"p\.csv is not UTF-8"):
        evaluate_file(path, existing_report)
    assert_untouched(tmp_path, existing_report)


def test_failure_while_writing_leaves_nothing(tmp_path, existing_report, monkeypatch):
    real_write_bytes = Path.write_bytes

    def failing_write_bytes(self: Path, data: bytes) -> int:
        if self.name == "report.md":
            raise OSError("disk full")
        return real_write_bytes(self, data)

    monkeypatch.setattr(Path, "write_bytes", failing_write_bytes)
    with pytest.raises(OSError, match="disk full"):
        evaluate_file(write_jsonl(tmp_path / "p.jsonl", ROWS), existing_report)
    assert_untouched(tmp_path, existing_report)


def test_out_that_is_a_file_is_refused(tmp_path):
    (tmp_path / "out").write_text("x")
    with pytest.raises(InputError, match="is a file; give a folder path"):
        evaluate_file(write_jsonl(tmp_path / "p.jsonl", ROWS), tmp_path / "out")
    assert leftovers(tmp_path) == []


def test_out_that_is_not_a_report_is_never_replaced(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "scene.tif").write_text("precious")
    path = write_jsonl(tmp_path / "p.jsonl", ROWS)
    with pytest.raises(InputError, match="is not an earlier evaluation report"):
        evaluate_file(path, data)
    assert (data / "scene.tif").read_text() == "precious"
    inside = write_jsonl(data / "p.jsonl", ROWS)
    with pytest.raises(InputError, match="holds the predictions file"):
        evaluate_file(inside, data)
    assert sorted(p.name for p in data.iterdir()) == ["p.jsonl", "scene.tif"]


def test_evaluate_records_errors_name_the_record():
    with pytest.raises(InputError, match="record 2: missing column 'truth'"):
        evaluate_records([ROWS[0], {"id": 2, "task": "agb", "prediction": 1}])
    with pytest.raises(InputError, match="no predictions to evaluate"):
        evaluate_records([])


def test_task_parse_lists_allowed_values():
    assert Task.parse("agb") is Task.AGB
    assert Task.parse(" land_cover ") is Task.LAND_COVER
    assert Task.parse(Task.PATCH_COUNT) is Task.PATCH_COUNT
    assert Task.HUMAN_ACTIVITY.value == "human_activity"
    with pytest.raises(InputError, match=r"Unknown task 'AGBD'.*'land_cover', 'patch_count'"):
        Task.parse("AGBD")
    with pytest.raises(InputError, match="Unknown task None"):
        Task.parse(None)


# --- command line -------------------------------------------------------------------------------


def test_cli_prints_one_summary_line(tmp_path, capsys):
    path = write_csv(tmp_path / "p.csv", ROWS)
    assert main(["--predictions", str(path), "--out", str(tmp_path / "o")]) == 0
    summary = capsys.readouterr().out.strip().splitlines()
    assert len(summary) == 1
    assert summary[0].startswith("Evaluated 15 predictions (land_cover OA 50.00 %")
    assert (tmp_path / "o" / "report.md").is_file()


def test_cli_error_exits_2_with_the_message(tmp_path, caplog):
    path = write_jsonl(tmp_path / "p.jsonl", [{"id": 1, "task": "x", "truth": 1, "prediction": 1}])
    assert main(["--predictions", str(path)]) == 2
    assert "p.jsonl line 1: Unknown task 'x'" in caplog.text
    assert leftovers(tmp_path) == [] and not (tmp_path / "p_evaluation").exists()


def test_module_runs_as_a_command(tmp_path):
    path = write_jsonl(tmp_path / "p.jsonl", ROWS)
    done = subprocess.run(
        [sys.executable, "-m", "reo_core.evaluate", "--predictions", str(path)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Evaluated 15 predictions")
    assert (tmp_path / "p_evaluation" / "metrics.json").is_file()


def test_figures_leave_pyplot_alone(tmp_path):
    """Figures are drawn on the Agg canvas directly: a QGIS or notebook pyplot backend is
    untouched."""
    path = write_jsonl(tmp_path / "p.jsonl", ROWS)
    code = (
        "import sys\nfrom reo_core.evaluate import evaluate_file\n"
        f"evaluate_file({str(path)!r})\nprint('matplotlib.pyplot' in sys.modules)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "False"
    assert (tmp_path / "p_evaluation" / "agb_scatter.png").is_file()
