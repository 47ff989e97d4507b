"""InstructDataset: what one item holds, loss masking, seeded order, and DataLoader workers."""

from __future__ import annotations

import pytest
import torch
from torch.utils.data import DataLoader, RandomSampler

from reo_core.errors import InputError
from reo_core.instruct.torch_dataset import InstructDataset, seeded_generator
from reo_core.model.base import TINY_BASE, build_base
from reo_core.model.checkpoint import create_model
from reo_core.model.config import ReoConfig
from reo_core.model.processor import IGNORE_INDEX
from reo_core.tasks import Task


@pytest.fixture(scope="module")
def processor(tmp_path_factory):
    base = build_base(tmp_path_factory.mktemp("base"), TINY_BASE)
    config = ReoConfig(
        base_model=str(base), modality="ms+sar", head_token_hidden=8, lora_r=2, lora_alpha=4
    )
    return create_model(config).processor


def test_items_hold_images_masked_labels_and_targets(instruct_folder, processor):
    dataset = InstructDataset(instruct_folder, "train", processor)
    families = {dataset.records[i]["task"] for i in range(len(dataset))}
    assert families == {t.value for t in Task}
    item = dataset[0]
    assert item["images"].shape == (6, 3, 25, 25) and item["images"].dtype.name == "uint8"
    ids, labels = item["encoded"]["input_ids"], item["encoded"]["labels"]
    answer = dataset.records[0]["messages"][1]["content"]
    learned = [t for t, lab in zip(ids, labels, strict=True) if lab != IGNORE_INDEX]
    assert processor.tokenizer.decode(learned, skip_special_tokens=True).strip() == answer.strip()
    assert labels[: len(labels) - len(learned)] == [IGNORE_INDEX] * (len(labels) - len(learned))
    agb_items = [dataset[i] for i in range(len(dataset)) if dataset.records[i]["task"] == "agb"][:3]
    assert all(isinstance(it["agb"], float) for it in agb_items)
    batch = dataset.collate(agb_items)
    assert batch.pixel_values.shape == (3 * 6, 3, 56, 56) and torch.isfinite(batch.agb).all()


def test_stage_two_view_keeps_only_agb_dialogues(instruct_folder, processor):
    dataset = InstructDataset(instruct_folder, "val", processor, tasks=(Task.AGB,), limit=5)
    assert len(dataset) == 5 and {r["task"] for r in dataset.records} == {"agb"}


def test_order_is_seeded_and_workers_give_the_same_batches(instruct_folder, processor):
    dataset = InstructDataset(instruct_folder, "train", processor)

    def ids(workers: int, seed: int) -> list[str]:
        sampler = RandomSampler(dataset, generator=seeded_generator(seed))
        loader = DataLoader(
            dataset,
            batch_size=4,
            sampler=sampler,
            num_workers=workers,
            collate_fn=lambda items: [it["id"] for it in items],
        )
        return [i for batch, _ in zip(loader, range(5), strict=False) for i in batch]

    assert ids(0, seed=1) == ids(0, seed=1) == ids(2, seed=1)
    assert ids(0, seed=1) != ids(0, seed=2)


def test_missing_split_or_family_is_a_clear_error(instruct_folder, processor, tmp_path):
    with pytest.raises(
        InputError,
        match=r"has no holdout\.jsonl; is it a folder made by python -m reo_core\.build_instruct",
    ):
        InstructDataset(instruct_folder, "holdout", processor)
    (tmp_path / "train.jsonl").write_text('{"task": "agb"}\n')
    with pytest.raises(InputError, match="holds no dialogues of land_cover"):
        InstructDataset(tmp_path, "train", processor, tasks=(Task.LAND_COVER,))
