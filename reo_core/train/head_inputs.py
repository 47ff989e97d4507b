"""What the regression head reads, recorded where the model hands it over, and cached for stage 2.

Stage 2 trains the head on the inputs it gets at inference. In stage 2 everything before the head
is frozen, so those inputs are fixed per patch: the stage-1 model answers once for every patch (as
the inference engine answers, or with the dialogue's true answer for ``stage2_text=reference``),
and whatever the model passes to its head entry (``ReoVLM.regress``: the visual tokens, the answer's
states and mask, and any input a newer head takes) is recorded and stored. Nothing here names
those inputs: they are the arguments of that call, so training feeds the head exactly what
inference feeds it, whatever the head reads.

A cache folder holds ``fingerprint.json`` (what it was made from) and one safetensors file per
chunk of ``chunk_size`` units (patches or dialogues), written whole and renamed into place, so a
killed run keeps the chunks it finished.
"""

from __future__ import annotations

import inspect
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save_file
from torch import nn

HEAD_ENTRY = "regress"  # the model method that takes the head's inputs
FINGERPRINT = "fingerprint.json"


class HeadInputRecorder:
    """Within ``with``, every call of the model's head entry is recorded (and still runs)."""

    def __init__(self, model: nn.Module) -> None:
        self.model = model
        self.calls: list[dict[str, object]] = []

    def __enter__(self) -> HeadInputRecorder:
        original = getattr(self.model, HEAD_ENTRY)
        signature = inspect.signature(original)

        def recording(*args: object, **kwargs: object) -> object:
            # The call first: one that fails (a GPU out-of-memory the engine retries with a
            # smaller batch) records nothing.
            result = original(*args, **kwargs)
            arguments = signature.bind(*args, **kwargs).arguments
            self.calls.append(
                {k: v.detach() if torch.is_tensor(v) else v for k, v in arguments.items()}
            )
            return result

        setattr(self.model, HEAD_ENTRY, recording)  # an instance attribute shadows the method
        return self

    def __exit__(self, *exc: object) -> None:
        delattr(self.model, HEAD_ENTRY)

    def samples(self) -> list[dict[str, object]]:
        """Per-sample inputs of every recorded call, in call order (tensors lose the batch dim)."""
        samples = []
        for call in self.calls:
            sizes = {v.shape[0] for v in call.values() if torch.is_tensor(v)}
            if len(sizes) != 1:
                raise RuntimeError(
                    "the head's tensor inputs must share their first (batch) dimension; "
                    f"got {sorted(sizes)}"
                )
            for row in range(sizes.pop()):
                samples.append({k: v[row] if torch.is_tensor(v) else v for k, v in call.items()})
        return samples


def collate_inputs(samples: list[dict[str, object]]) -> dict[str, object]:
    """Stack per-sample head inputs into a batch; shorter tensors are zero-padded at the end.

    A generated answer's states and mask are as long as the longest answer of the batch it was
    generated in; padding positions are masked out, as they are at inference (where a batch is
    padded to its longest answer), so the head reads the same values either way.
    """
    batch: dict[str, object] = {}
    for name, first in samples[0].items():
        values = [sample[name] for sample in samples]
        if not torch.is_tensor(first):
            if any(v != first for v in values):
                raise ValueError(f"head input '{name}' differs between samples: {values[:3]}")
            batch[name] = first
            continue
        shape = [max(v.shape[d] for v in values) for d in range(first.dim())]
        stacked = torch.zeros((len(values), *shape), dtype=first.dtype)
        for row, value in enumerate(values):
            stacked[(row, *(slice(0, n) for n in value.shape))] = value
        batch[name] = stacked
    return batch


@dataclass
class HeadBatch:
    """A stage-2 batch: the head's inputs, the AGB targets (Mg/ha) and the dialogue ids."""

    inputs: dict[str, object]
    agb: torch.Tensor  # (B,)
    ids: list[str]

    def to(self, device: torch.device | str, non_blocking: bool = False) -> HeadBatch:
        moved = {
            k: v.to(device, non_blocking=non_blocking) if torch.is_tensor(v) else v
            for k, v in self.inputs.items()
        }
        return HeadBatch(moved, self.agb.to(device, non_blocking=non_blocking), self.ids)


class HeadInputCache:
    """Recorded head inputs of ``count`` units, ``chunk_size`` per file."""

    def __init__(self, folder: Path, count: int, chunk_size: int) -> None:
        self.folder = Path(folder)
        self.count = count
        self.chunk_size = chunk_size
        self._open: dict[int, object] = {}

    @property
    def chunks(self) -> int:
        return -(-self.count // self.chunk_size)

    def chunk_units(self, chunk: int) -> range:
        start = chunk * self.chunk_size
        return range(start, min(start + self.chunk_size, self.count))

    def path(self, chunk: int) -> Path:
        return self.folder / f"chunk{chunk:06d}.safetensors"

    def matches(self, fingerprint: dict) -> bool:
        path = self.folder / FINGERPRINT
        as_saved = json.loads(json.dumps(fingerprint))  # tuples become lists, as on disk
        return path.is_file() and json.loads(path.read_text()) == as_saved

    def reset(self, fingerprint: dict) -> None:
        """Empty the folder unless it was made from the same things (main process only)."""
        if self.matches(fingerprint):
            return
        shutil.rmtree(self.folder, ignore_errors=True)
        self.folder.mkdir(parents=True)
        (self.folder / FINGERPRINT).write_text(json.dumps(fingerprint, indent=2, sort_keys=True))

    def missing(self, chunks: list[int]) -> list[int]:
        return [c for c in chunks if not self.path(c).is_file()]

    def write(self, chunk: int, samples: list[dict[str, object]]) -> None:
        expected = len(self.chunk_units(chunk))
        if len(samples) != expected:
            raise RuntimeError(
                f"chunk {chunk} recorded {len(samples)} samples, expected {expected}"
            )
        tensors, constants = {}, {}
        for row, sample in enumerate(samples):
            for name, value in sample.items():
                if torch.is_tensor(value):
                    tensors[f"{row}/{name}"] = value.detach().to("cpu").contiguous().clone()
                else:
                    constants[name] = value
        temporary = self.folder / f".{self.path(chunk).name}.{os.getpid()}.tmp"
        save_file(tensors, str(temporary), metadata={"constants": json.dumps(constants)})
        os.replace(temporary, self.path(chunk))

    def read(self, unit: int) -> dict[str, object]:
        """The recorded inputs of one unit (a patch or a dialogue)."""
        chunk, row = divmod(unit, self.chunk_size)
        handle = self._open.get(chunk)
        if handle is None:
            if len(self._open) > 8:
                self._open.clear()
            handle = self._open[chunk] = safe_open(str(self.path(chunk)), framework="pt")
        prefix = f"{row}/"
        sample = {
            key[len(prefix) :]: handle.get_tensor(key)
            for key in handle.keys()  # noqa: SIM118 (a safetensors handle, not a dict)
            if key.startswith(prefix)
        }
        sample.update(json.loads(handle.metadata()["constants"]))
        return sample

    def __getstate__(self) -> dict:  # DataLoader workers open their own files
        return {**self.__dict__, "_open": {}}
