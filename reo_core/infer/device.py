"""Where the model runs and in which precision: auto = CUDA, then Apple MPS, then the CPU."""

from __future__ import annotations

import torch

from reo_core.errors import InputError

DEVICE_CHOICES = ("auto", "cpu", "cuda", "mps")  # "cuda:N" picks one GPU
DTYPE_CHOICES = ("auto", "float32", "bfloat16", "float16")


def choose_device(name: str = "auto") -> torch.device:
    """The torch device for ``name`` (auto, cpu, cuda, cuda:N, mps); an unavailable one is an
    error."""
    name = (name or "auto").strip().lower()
    kind = name.split(":")[0]
    if kind not in DEVICE_CHOICES:
        raise InputError(
            f"Unknown device '{name}'; choose one of {', '.join(DEVICE_CHOICES)} or cuda:N."
        )
    if kind == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    if kind == "cuda" and not torch.cuda.is_available():
        raise InputError(
            f"Device '{name}' asked for, but this torch ({torch.__version__}) sees no CUDA GPU; "
            "install a CUDA build of torch for the worker, or use device 'cpu' (or 'auto')."
        )
    if kind == "mps" and not _mps_available():
        raise InputError("Device 'mps' asked for, but Apple's MPS is not available; use 'cpu'.")
    return torch.device(name)


def choose_dtype(device: torch.device, name: str = "auto") -> torch.dtype:
    """Model precision: auto = bfloat16 on GPUs that have it, else float16 on GPUs, float32 on
    CPU."""
    if name not in DTYPE_CHOICES:
        raise InputError(f"Unknown dtype '{name}'; choose one of {', '.join(DTYPE_CHOICES)}.")
    if name != "auto":
        dtype = getattr(torch, name)
        if device.type == "cpu" and dtype is torch.float16:
            raise InputError("float16 is not supported on the CPU; use float32 or bfloat16.")
        return dtype
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if device.type == "mps":
        return torch.float16
    return torch.float32


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())
