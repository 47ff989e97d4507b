"""The JSON-lines protocol of ``python -m reo_core.serve`` (see docs/serve.md).

One JSON object per line each way. Requests carry an ``id`` and an ``op``; replies carry the
request's ``id`` and a ``type``: ``progress``, ``result`` or ``error``. This module parses and
checks requests into the library's own request types and builds the reply objects; it does no I/O.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reo_core.errors import InputError, ReoError

PROTOCOL_VERSION = 1
WORK_OPS = ("load_model", "estimate", "ask", "inspect")  # run one at a time in the worker thread
CONTROL_OPS = ("cancel", "info", "shutdown")  # answered at once by the main thread
OPS = WORK_OPS + CONTROL_OPS


class ProtocolError(ReoError):
    """A request that is not valid protocol: not JSON, not an object, no id, unknown op, bad field."""


@dataclass(frozen=True)
class Request:
    id: Any  # a string or a number, echoed in every reply
    op: str
    params: dict


def parse_request(line: str) -> Request:
    """A request from one line; ProtocolError (with the id when there is one) otherwise."""
    try:
        value = json.loads(line)
    except json.JSONDecodeError as error:
        raise ProtocolError(
            f"The request is not valid JSON ({error.msg} at character {error.pos}); send one JSON "
            'object per line, e.g. {"id": 1, "op": "info"}.'
        ) from None
    if not isinstance(value, dict):
        raise ProtocolError(f"A request must be a JSON object, got {type(value).__name__}.")
    request_id = value.get("id")
    if request_id is None or isinstance(request_id, (bool, dict, list)):
        raise ProtocolError('Every request needs an "id" (a string or a number) for its replies.')
    op = value.get("op")
    if op not in OPS:
        raise ProtocolError(
            f"Unknown op {op!r}; use one of {', '.join(OPS)}.", details=f"request id {request_id}"
        )
    params = {k: v for k, v in value.items() if k not in ("id", "op")}
    return Request(request_id, op, params)


def request_id_of(line: str) -> Any:
    """The id of a request line that failed to parse, when it has one (for the error reply)."""
    try:
        value = json.loads(line)
    except json.JSONDecodeError:
        return None
    return value.get("id") if isinstance(value, dict) else None


# --- replies --------------------------------------------------------------------------------------
def ready(version: str, pid: int) -> dict:
    return {"type": "ready", "version": version, "protocol": PROTOCOL_VERSION, "pid": pid}


def progress(request_id: Any, fraction: float, message: str) -> dict:
    return {"id": request_id, "type": "progress", "fraction": round(float(fraction), 4),
            "message": message}  # fmt: skip


def result(request_id: Any, value: dict) -> dict:
    return {"id": request_id, "type": "result", "result": value}


def error(request_id: Any, kind: str, message: str, details: str | None = None) -> dict:
    return {"id": request_id, "type": "error",
            "error": {"kind": kind, "message": message, "details": details}}  # fmt: skip


def error_from_exception(request_id: Any, exception: BaseException) -> dict:
    """ReoErrors keep their class name as kind; anything else is an InternalError."""
    if isinstance(exception, ReoError):
        return error(request_id, type(exception).__name__, exception.message, exception.details)
    return error(
        request_id, "InternalError", f"{type(exception).__name__}: {exception}",
        "an unexpected failure; the worker keeps serving (see its log on stderr)",
    )  # fmt: skip


# --- request fields -------------------------------------------------------------------------------
def paths(params: dict, key: str, required: bool = False) -> tuple[Path, ...]:
    """A list of file paths (a single string is one path)."""
    value = params.get(key)
    if value is None or value == []:
        if required:
            raise ProtocolError(f'"{key}" is required: a list of file paths.')
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ProtocolError(f'"{key}" must be a list of file paths (strings).')
    return tuple(Path(v) for v in value)


def text(params: dict, key: str, default: str | None = None, required: bool = False) -> str | None:
    value = params.get(key, default)
    if value is None and required:
        raise ProtocolError(f'"{key}" is required (a string).')
    if value is not None and not isinstance(value, str):
        raise ProtocolError(f'"{key}" must be a string, got {type(value).__name__}.')
    return value


def number(params: dict, key: str, default: float | None = None, integer: bool = False):
    value = params.get(key, default)
    if value is None:
        return None
    kind = int if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kind):
        raise ProtocolError(
            f'"{key}" must be {"an integer" if integer else "a number"}, got {value!r}.'
        )
    return value


def flag(params: dict, key: str, default: bool) -> bool:
    value = params.get(key, default)
    if not isinstance(value, bool):
        raise ProtocolError(f'"{key}" must be true or false, got {value!r}.')
    return value


def extent_fields(params: dict) -> tuple[list[float] | None, str | None, str | None]:
    """(bounds, crs, aoi path) from ``extent: {bounds: [...], crs: ...}`` or ``aoi``."""
    extent, aoi = params.get("extent"), text(params, "aoi")
    if extent is None:
        return None, None, aoi
    if not isinstance(extent, dict):
        raise ProtocolError(
            '"extent" must be {"bounds": [xmin, ymin, xmax, ymax], "crs": "EPSG:..."}.'
        )
    bounds, crs = extent.get("bounds"), extent.get("crs")
    if (
        not isinstance(bounds, list)
        or len(bounds) != 4
        or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in bounds)
    ):
        raise ProtocolError('"extent.bounds" must be 4 numbers [xmin, ymin, xmax, ymax].')
    if not isinstance(crs, str) or not crs:
        raise InputError('"extent.crs" is required, e.g. "EPSG:4326".')
    return [float(v) for v in bounds], crs, aoi


def point(params: dict) -> tuple[float, float]:
    value = params.get("point")
    if (
        not isinstance(value, list)
        or len(value) != 2
        or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
    ):
        raise ProtocolError('"point" must be [x, y] (two numbers in "crs").')
    return float(value[0]), float(value[1])


# --- requests -> library types --------------------------------------------------------------------
@dataclass(frozen=True)
class ModelChoice:
    """Which model a request wants (None = the loaded one) and how to run it."""

    folder: Path | None
    options: Any  # reo_core.infer.engine.EngineOptions

    @property
    def key(self) -> tuple:
        """What needs a reload when it changes (batch size and answer length do not)."""
        options = self.options
        folder = str(self.folder.resolve()) if self.folder else None
        return (folder, options.device, options.dtype, options.visual_token_pool)


def model_choice(params: dict, required: bool = False) -> ModelChoice:
    from reo_core.infer.engine import DEFAULT_BATCH_SIZE, DEFAULT_MAX_NEW_TOKENS, EngineOptions

    folder = text(params, "model", required=required)
    options = EngineOptions(
        device=text(params, "device", "auto"),
        dtype=text(params, "dtype", "auto"),
        batch_size=number(params, "batch_size", DEFAULT_BATCH_SIZE, integer=True),
        max_new_tokens=number(params, "max_new_tokens", DEFAULT_MAX_NEW_TOKENS, integer=True),
        visual_token_pool=number(params, "visual_token_pool", None, integer=True),
        threads=number(params, "threads", None, integer=True),
    )
    return ModelChoice(None if folder is None else Path(folder), options)


def band_mapping(params: dict) -> dict[str, tuple[str, int]]:
    """``band_mapping``: {"B8A": "b8a.tif" | ["stack.tif", 9], ...}."""
    value = params.get("band_mapping") or {}
    if not isinstance(value, dict):
        raise ProtocolError('"band_mapping" must be {"B8A": "file" or ["file", band index], ...}.')
    mapping = {}
    for band, target in value.items():
        if isinstance(target, str) and target:
            mapping[band] = (target, 1)
        elif (isinstance(target, list) and len(target) == 2 and isinstance(target[0], str)
              and isinstance(target[1], int) and not isinstance(target[1], bool)):  # fmt: skip
            mapping[band] = (target[0], target[1])
        else:
            raise ProtocolError(f'"band_mapping.{band}" must be "file" or ["file", band index].')
    return mapping


def boa_offset(params: dict) -> int | None:
    """``boa_offset``: "auto" (or absent) for the decision from metadata and data, or 0 / 1000."""
    value = params.get("boa_offset", "auto")
    if value == "auto":
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ProtocolError(f'"boa_offset" must be "auto", 0 or 1000, got {value!r}.')
    return value


def input_spec(params: dict):
    """The inputs of an estimate, ask or inspect: s2, sar, extent or aoi, stride,
    max_nodata_fraction, and how to read Sentinel-2 (band_mapping, band_order, boa_offset,
    allow_l1c, cloud_mask, cloud_mask_kind, cloud_threshold, cloud_screening)."""
    from reo_core.infer.inputs import InputSpec, make_extent
    from reo_core.raster.clouds import CloudOptions
    from reo_core.raster.grid import PATCH_SIZE
    from reo_core.raster.reader import DEFAULT_MAX_NODATA_FRACTION

    bounds, crs, aoi = extent_fields(params)
    mapping = band_mapping(params)
    cloud_mask = text(params, "cloud_mask")
    return InputSpec(
        s2=paths(params, "s2", required=not mapping),
        sar=paths(params, "sar"),
        extent=make_extent(bounds, crs, aoi),
        stride=number(params, "stride", PATCH_SIZE, integer=True),
        max_nodata_fraction=number(params, "max_nodata_fraction", DEFAULT_MAX_NODATA_FRACTION),
        band_mapping=mapping,
        band_order=text(params, "band_order"),
        boa_offset=boa_offset(params),
        allow_l1c=flag(params, "allow_l1c", False),
        clouds=CloudOptions(
            mask=None if cloud_mask is None else Path(cloud_mask),
            kind=text(params, "cloud_mask_kind", "scl"),
            threshold=number(params, "cloud_threshold"),
            screening=flag(params, "cloud_screening", True),
        ),
    )


def estimate_request(params: dict):
    """An EstimateRequest from an estimate op's fields."""
    from reo_core.infer.estimate import EstimateRequest
    from reo_core.infer.products import IPCC_CARBON_FRACTION

    out = text(params, "out", required=True)
    return EstimateRequest(
        input_spec(params),
        Path(out),
        carbon_fraction=number(params, "carbon_fraction", IPCC_CARBON_FRACTION),
        quicklook=flag(params, "quicklook", True),
    )


def ask_request(params: dict):
    """An AskRequest from an ask op's fields."""
    from reo_core.infer.question import DEFAULT_ANSWER_TOKENS, AskRequest

    return AskRequest(
        input_spec(params),
        point(params),
        text(params, "crs", required=True),
        text(params, "question", required=True),
        number(params, "max_new_tokens", DEFAULT_ANSWER_TOKENS, integer=True),
    )
