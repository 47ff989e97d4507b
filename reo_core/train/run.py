"""The run folder: which stages are done, whether the run is finished, starting over.

``stage<N>.json`` is written once stage N's model is saved; ``summary.json`` once every stage of the
run is done, and it marks the run finished. Running the same command again continues where the run
stopped: finished stages are kept, the running stage resumes from its newest checkpoint, and a
finished run says so. ``--force`` deletes what a run wrote and starts over.
"""

from __future__ import annotations

import json
import logging
import shutil
from dataclasses import dataclass
from pathlib import Path

from reo_core.atomic import write_json
from reo_core.errors import InputError
from reo_core.evaluation_scores import Evaluation
from reo_core.model.config import CONFIG_NAME
from reo_core.train.config import CONFIG_FILE, EXECUTION_SETTINGS, TrainConfig
from reo_core.train.logbook import LOSS_PLOT, METRICS_FILE, VALIDATION_PLOT
from reo_core.train.stage2 import CACHE_FOLDER
from reo_core.train.state import CHECKPOINTS_FOLDER
from reo_core.train.validation import VALIDATION_FOLDER

logger = logging.getLogger(__name__)

SUMMARY = "summary.json"
STAGE_MODELS = {1: "stage1-model", 2: "model"}


def stage_result_file(stage: int) -> str:
    """The file that marks stage ``stage`` as finished (its model folder, steps and metrics)."""
    return f"stage{stage}.json"


# Everything a run writes into its folder (and nothing else is deleted by --force).
RUN_FILES = (
    CHECKPOINTS_FOLDER,
    VALIDATION_FOLDER,
    CACHE_FOLDER,
    *STAGE_MODELS.values(),
    METRICS_FILE,
    LOSS_PLOT,
    VALIDATION_PLOT,
    SUMMARY,
    *map(stage_result_file, STAGE_MODELS),
    CONFIG_FILE,
)


@dataclass
class StageResult:
    """What a finished stage left: its model folder, steps, speed and final validation metrics."""

    model_folder: Path
    steps: int
    samples_per_second: float
    metrics: Evaluation  # of the final validation


class RunFolder:
    def __init__(self, output: str | Path) -> None:
        self.path = Path(output)

    def model_folder(self, stage: int) -> Path:
        return self.path / STAGE_MODELS[stage]

    def is_finished(self) -> bool:
        return (self.path / SUMMARY).is_file()

    def final_model(self) -> Path:
        summary = json.loads((self.path / SUMMARY).read_text())
        last = max(summary, key=lambda name: int(name.removeprefix("stage")))
        return Path(summary[last]["model"])

    def stage_result(self, stage: int) -> StageResult | None:
        """The result of stage ``stage`` if it finished in this folder, else None."""
        path = self.path / stage_result_file(stage)
        if not path.is_file() or not (self.model_folder(stage) / CONFIG_NAME).is_file():
            return None
        values = json.loads(path.read_text())
        return StageResult(
            Path(values["model_folder"]),
            values["steps"],
            values["samples_per_second"],
            Evaluation.from_json(values["metrics"]),
        )

    def save_stage_result(self, stage: int, result: StageResult) -> None:
        write_json(
            self.path / stage_result_file(stage),
            {
                "model_folder": str(result.model_folder),
                "steps": result.steps,
                "samples_per_second": result.samples_per_second,
                "metrics": result.metrics.to_json(),
            },
        )

    def save_summary(self, results: dict[int, StageResult]) -> None:
        write_json(
            self.path / SUMMARY,
            {
                f"stage{s}": {
                    "model": str(r.model_folder),
                    "steps": r.steps,
                    "samples_per_second": r.samples_per_second,
                    "validation": r.metrics.to_json(),
                }
                for s, r in results.items()
            },
        )

    def check_settings(self, config: TrainConfig) -> None:
        """A folder holding a run with other settings is not continued with these."""
        saved_path = self.path / CONFIG_FILE
        if not saved_path.is_file():
            return
        saved = _flat(json.loads(saved_path.read_text()))
        now = _flat(json.loads(json.dumps(config.to_dict())))
        changed = sorted(
            k
            for k in set(saved) | set(now)
            if k not in (*EXECUTION_SETTINGS, "output") and saved.get(k) != now.get(k)
        )
        if changed:
            shown = "; ".join(f"{k}: {saved.get(k)!r} -> {now.get(k)!r}" for k in changed[:4])
            raise InputError(
                f"{self.path} holds a run with other settings ({shown}). Continue it with its own "
                "settings, choose another output folder, or add --force to start over."
            )

    def clear(self) -> None:
        """Delete everything a run writes here (--force); other files are left alone."""
        if not self.path.is_dir():
            return
        for name in RUN_FILES:
            target = self.path / name
            if target.is_dir():
                shutil.rmtree(target)
            elif target.exists():
                target.unlink()
        for folder in STAGE_MODELS.values():  # staging folders of a save that was killed
            for leftover in self.path.glob(f".{folder}.*"):
                shutil.rmtree(leftover, ignore_errors=True)
        logger.info("--force: removed the earlier run in %s", self.path)


def _flat(values: dict, prefix: str = "") -> dict:
    flat = {}
    for key, value in values.items():
        if isinstance(value, dict) and key == "model":
            flat.update(_flat(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat
