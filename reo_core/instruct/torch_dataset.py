"""REO-Instruct as a torch Dataset: dialogues of a built folder -> model batches.

Each item is one dialogue with its patch's composite images (for the model's modality and bands),
its token ids with the prompt masked out of the loss, its task family and its AGB target. Patches
come memory-mapped from the shards, so DataLoader workers share them. Order is the JSONL's; the
DataLoader's seeded sampler shuffles.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from reo_core.errors import InputError
from reo_core.instruct.store import MANIFEST_NAME, PatchStore, s2_reflectance
from reo_core.jsonl import read_jsonl
from reo_core.model.processor import ReoBatch, ReoProcessor
from reo_core.sensors.composites import reads_sar
from reo_core.sensors.palsar2 import dn_to_db
from reo_core.sensors.sentinel2 import AGBD_BAND_ORDER
from reo_core.tasks import Task


class InstructDataset(Dataset):
    """Dialogues of one split of a build folder.

    Args:
        folder: made by ``python -m reo_core.build_instruct``.
        split: train, val or test.
        processor: the model's processor (bands, modality, tokenizer).
        tasks: keep only these task families (stage 2 trains on AGB dialogues alone).
        limit: keep the first ``limit`` dialogues of each family (quick validation).
    """

    def __init__(
        self,
        folder: str | Path,
        split: str,
        processor: ReoProcessor,
        tasks: tuple[Task, ...] | None = None,
        limit: int | None = None,
    ) -> None:
        self.folder = Path(folder)
        self.split = split
        self.processor = processor
        self.records = _read_dialogues(self.folder, split, tasks, limit)
        self.store = PatchStore(self.folder)
        self._band_index = [AGBD_BAND_ORDER.index(b) for b in processor.config.bands]
        self._check_bands()

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, index: int) -> dict[str, Any]:
        record = self.records[index]
        s2, sar = self.patch_arrays(index)
        images = self.processor.images(s2[None], None if sar is None else sar[None])[0]
        # images: (n_images, 3, 25, 25) uint8
        agb = float(record["target"]["agb"]) if record["task"] == Task.AGB.value else None
        return {
            "id": record["id"],
            "task": record["task"],
            "images": images,
            "spectral": self.processor.spectral(s2[None], None if sar is None else sar[None]),
            "encoded": self.processor.encode_dialogue(record["messages"]),
            "agb": agb,
            "record": record,
        }

    def patch_key(self, index: int) -> tuple[str, int, int]:
        """Where the dialogue's patch is stored: (split, shard, index); equal keys, same patch."""
        ref = self.records[index]["patch"]
        return ref["split"], int(ref["shard"]), int(ref["index"])

    def patch_arrays(self, index: int) -> tuple[np.ndarray, np.ndarray | None]:
        """The dialogue's patch as inference reads patches: Sentinel-2 reflectance (bands, 25, 25)
        in the model's band order, and PALSAR-2 dB (2, 25, 25) for modality ms+sar, else None."""
        arrays = self.store.get(*self.patch_key(index))
        s2 = s2_reflectance(np.asarray(arrays["s2"])[self._band_index])
        wants_sar = reads_sar(self.processor.config.modality)
        return s2, dn_to_db(np.asarray(arrays["sar"])) if wants_sar else None

    def collate(self, items: list[dict[str, Any]]) -> ReoBatch:
        """Stack items into a right-padded training batch."""
        pixels = self.processor.pixel_values(np.stack([item["images"] for item in items]))
        return self.processor.collate(
            [item["encoded"] for item in items],
            pixels,
            agb=[item["agb"] for item in items],
            spectral=[item["spectral"] for item in items],
        )

    def _check_bands(self) -> None:
        manifest = self.folder / MANIFEST_NAME
        if not manifest.is_file():
            return
        order = json.loads(manifest.read_text()).get("band_order")
        missing = [b for b in self.processor.config.bands if order is not None and b not in order]
        if missing:
            raise InputError(
                f"{self.folder} was built for bands {order}; the model needs {missing} too. "
                "Rebuild the data with those bands or train a model for the bands it has."
            )


def _read_dialogues(
    folder: Path, split: str, tasks: tuple[Task, ...] | None, limit: int | None
) -> list[dict]:
    path = folder / f"{split}.jsonl"
    if not path.is_file():
        raise InputError(
            f"{folder} has no {split}.jsonl; "
            "is it a folder made by python -m reo_core.build_instruct?"
        )
    wanted = {t.value for t in tasks} if tasks else None
    kept: list[dict] = []
    per_task: dict[str, int] = {}
    for number, record in read_jsonl(path, "one REO-Instruct dialogue (a JSON object)"):
        task = record.get("task")
        if task is None:
            raise InputError(f"{path} line {number}: not a REO-Instruct dialogue (no 'task').")
        if wanted is not None and task not in wanted:
            continue
        if limit is not None and per_task.get(task, 0) >= limit:
            continue
        per_task[task] = per_task.get(task, 0) + 1
        kept.append(record)
    if not kept:
        names = ", ".join(sorted(wanted)) if wanted else "any family"
        raise InputError(
            f"{path} holds no dialogues of {names}; rebuild the data or choose another split."
        )
    return kept


def seeded_generator(seed: int) -> torch.Generator:
    """A torch generator for the DataLoader's shuffling: the same seed, the same order."""
    return torch.Generator().manual_seed(int(seed))
