"""Validation during training: answer held-out dialogues as at inference, score with evaluate.

Every family is answered the way users get answers: the model generates from the question alone
and text answers are parsed; AGB comes from the regression head reading the text generated for
the estimate question (the one question the map and the chat ask for AGB). Validation runs in the
training precision at ``eval_batch_size``, on every process (each answers its share), so sharded
runs stay in step; the records are gathered to every process.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from reo_core.atomic import write_json
from reo_core.evaluation_scores import Evaluation
from reo_core.infer.prompt import ESTIMATE_QUESTION, prompt_messages
from reo_core.instruct.torch_dataset import InstructDataset
from reo_core.model.reo_vlm import ReoVLM
from reo_core.tasks import Task

# Headline numbers logged per family (the full metrics go to validation JSON files).
HEADLINES = {
    Task.LAND_COVER.value: ("overall_accuracy", "macro_f1"),
    Task.PATCH_COUNT.value: ("rmse", "exact_match_accuracy"),
    Task.HUMAN_ACTIVITY.value: ("accuracy",),
    Task.AGB.value: ("rmse", "r2", "mae"),
}


@torch.no_grad()
def predict_dialogues(
    model: ReoVLM,
    dataset: InstructDataset,
    batch_size: int,
    max_new_tokens: int,
    indices: Sequence[int] | None = None,
) -> list[dict]:
    """One prediction record (id, task, truth, prediction) per dialogue of ``dataset`` (or of
    ``indices``), answered in the model's own precision."""
    processor = dataset.processor
    device = next(model.parameters()).device
    dtype = next(model.llava.model.vision_tower.parameters()).dtype  # what the images go in as
    indices = range(len(dataset)) if indices is None else indices
    was_training = model.training
    model.eval()
    records = []
    for start in range(0, len(indices), batch_size):
        items = [dataset[i] for i in indices[start : start + batch_size]]
        prompts = [processor.encode_dialogue(_question(item), generation=True) for item in items]
        pixels = processor.pixel_values(np.stack([item["images"] for item in items]))
        spectral = [item["spectral"] for item in items]  # the head's spectral channel, if any
        batch = processor.collate(prompts, pixels, padding_side="left", spectral=spectral)
        batch = batch.to(device, dtype)
        answers = model.generate(batch, max_new_tokens=max_new_tokens)
        for i, item in enumerate(items):
            is_agb = item["task"] == Task.AGB.value
            prediction = float(answers.agb[i]) if is_agb else answers.texts[i]
            records.append(
                {
                    "id": item["id"],
                    "task": item["task"],
                    "truth": item["record"]["target"]["answer"],
                    "prediction": prediction,
                }
            )
    model.train(was_training)
    return records


def _question(item: dict) -> list[dict]:
    """The dialogue's own question; for AGB the estimate question, as users get AGB."""
    if item["task"] == Task.AGB.value:
        return prompt_messages(ESTIMATE_QUESTION)
    return item["record"]["messages"][:1]


def headline_metrics(evaluation: Evaluation) -> dict[str, float]:
    """Flat ``{family/metric: value}`` of the numbers worth a curve."""
    flat = {}
    for task, scores in evaluation.tasks.items():
        for name in HEADLINES.get(task, ()):
            value = float(getattr(scores, name))
            if math.isfinite(value):
                flat[f"{task}/{name}"] = value
    return flat


VALIDATION_FOLDER = "validation"  # a run folder's validation metrics and predictions


def write_validation(folder: Path, name: str, evaluation: Evaluation, records: list[dict]) -> None:
    """``<name>.json`` (metrics) and ``<name>.predictions.jsonl`` (for python -m
    reo_core.evaluate)."""
    folder.mkdir(parents=True, exist_ok=True)
    write_json(folder / f"{name}.json", evaluation.to_json())
    with (folder / f"{name}.predictions.jsonl").open("w") as lines:
        lines.writelines(json.dumps(record) + "\n" for record in records)
