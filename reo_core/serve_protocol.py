"""The JSON-lines protocol of ``python -m reo_core.serve``: every message, both ways, defined once.

One JSON object per line each way, UTF-8, strict JSON (no NaN). Requests carry an ``id`` and an
``op`` plus the fields of that op's dataclass below; replies carry the request's ``id`` and a
``type``: ``progress``, ``result`` (holding the op's result dataclass) or ``error``. The worker
(reo_core/serve.py) and the QGIS plugin (reo_plugin/worker_client.py, results.py) both read and
write messages only through these types, so they cannot disagree about a shape. Documented for
people in docs/serve.md.

To add a field: add it, typed and with its default (``REQUIRED`` if it must be given), to the op's
dataclass (the codec checks it on both sides). To add an op: a request dataclass (with ``op`` and
``result``), its result dataclass, an entry in ``REQUEST_TYPES`` and its handler in serve.py.

Standard library only (no torch, no GDAL) and Python 3.9 (no ``kw_only``, unions as ``Union`` at
run time): the plugin imports this inside QGIS, whose Python is 3.9 up to QGIS 3.28 on Windows.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, ClassVar, Union

from reo_core.atomic import json_text
from reo_core.errors import ReoError
from reo_core.typed_json import REQUIRED, FieldError, check_required, from_json, to_json

# 2: requests are checked field by field (unknown fields refused), results typed; `overwrite`.
# (1 had the same ops and fields, `inspect` and the Sentinel-2 reading fields among them.)
PROTOCOL_VERSION = 2
CANCELED_KIND = "Canceled"  # the error kind of a canceled request (the class name of Canceled)
INTERNAL_KIND = "InternalError"  # an unexpected failure in the worker: a bug
TYPE_KEY = "type"  # the key of a reply line that names its class (ready, progress, result, error)

RequestId = Union[str, int, float]  # noqa: UP007 (evaluated at run time, also on Python 3.9)
BandFile = Union[str, tuple[str, int]]  # noqa: UP007 a file, or [file, 1-based band index]


class ProtocolError(ReoError):
    """A line that is not a valid request or reply; ``request_id`` is the line's id, if readable."""

    def __init__(self, message: str, details: str | None = None, request_id: Any = None) -> None:
        super().__init__(message, details)
        self.request_id = request_id


# --- request fields shared by several ops ---------------------------------------------------------
# Requests inherit fields, so a field without default is spelled ``= REQUIRED`` (checked on decode).
@dataclass(frozen=True)
class ModelOptions:
    """The model a work request wants (None = the loaded one) and how to run it."""

    model: str | None = None  # checkpoint folder
    device: str = "auto"  # auto (CUDA, then MPS, then CPU) | cpu | cuda | cuda:N | mps
    dtype: str = "auto"  # auto (bf16/fp16 on GPUs, fp32 on CPU) | float32 | bfloat16 | float16
    batch_size: int | None = None  # patches per forward pass (None: 32, or as set before)
    # The estimate's answer length; None: as set before, else the engine's own (the longest answer
    # of the estimate question's grammar + EOS, reo_core.infer.engine), as stage 2 trained on.
    max_new_tokens: int | None = None
    visual_token_pool: int | None = None  # override the token budget (faster, changes answers)
    threads: int | None = None  # torch CPU threads (None: 1 for small models, else all)


@dataclass(frozen=True)
class ExtentFields:
    bounds: tuple[float, float, float, float]  # xmin, ymin, xmax, ymax
    crs: str  # e.g. "EPSG:4326"


@dataclass(frozen=True)
class Imagery:
    """The inputs of a request that reads imagery: the same as the predict command line's."""

    s2: tuple[str, ...] = ()  # Sentinel-2: .SAFE folders or zips, product folders, stacks, bands
    sar: tuple[str, ...] = ()  # PALSAR-2 HH and HV, for ms+sar models
    extent: ExtentFields | None = None  # None: all of the Sentinel-2 imagery
    aoi: str | None = None  # or a GeoJSON file of the area of interest
    stride: int | None = None  # pixels between patches (None: 25, adjacent patches)
    max_nodata_fraction: float | None = None  # patches with more no-data are skipped (None: 0.25)
    band_mapping: dict[str, BandFile] = field(default_factory=dict)  # band -> its file (and band)
    band_order: str | None = None  # stacks without band names: agbd | l1c | eurosat
    boa_offset: str | int = "auto"  # "auto" (from the metadata, checked against data), 0 or 1000
    allow_l1c: bool = False  # read Level-1C (top-of-atmosphere) products, with a warning
    cloud_mask: str | None = None  # a cloud mask raster instead of the SCL / screening
    cloud_mask_kind: str = "scl"  # what its values mean: scl | fmask | binary | probability
    cloud_threshold: float | None = None  # probability masks: cloudy at or above
    cloud_screening: bool = True  # the built-in screening when there is no SCL or mask

    def __post_init__(self) -> None:
        check_required(self)
        if not self.s2 and not self.band_mapping:
            raise ProtocolError(
                '"s2" is required (a list of strings) unless "band_mapping" names the bands.'
            )
        if not all(self.s2) or not all(self.sar):
            raise ProtocolError('"s2" and "sar" must not hold empty paths.')
        if isinstance(self.boa_offset, str) and self.boa_offset != "auto":
            raise ProtocolError(f'"boa_offset" must be "auto", 0 or 1000, got "{self.boa_offset}".')


# --- results --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ModelInfo:
    """The loaded model: the result of load_model, and part of info."""

    folder: str
    modality: str  # rgb | ms | ms+sar
    bands: tuple[str, ...]
    uncertainty: str  # none | gaussian
    visual_token_pool: int
    device: str
    dtype: str


@dataclass(frozen=True)
class EstimateResult:
    out: str  # the output folder (absolute)
    paths: dict[str, str]  # absolute path by product key: agb, land_cover, ..., summary
    summary: dict[str, Any]  # the content of summary.json (reo_core.infer.estimate)


@dataclass(frozen=True)
class PatchInfo:
    row: int
    col: int
    bounds: tuple[float, float, float, float]  # in ``crs``
    crs: str
    valid_fraction: float


@dataclass(frozen=True)
class LandCoverInfo:
    code: int  # CGLS-LC100 class code
    name: str


@dataclass(frozen=True)
class AskResult:
    question: str
    # What answered: "agb" the regression head; "land_cover" / "count" the map's own answer for
    # the patch; "text" generation (reo_core.infer.question).
    kind: str
    answer: str
    generated: str  # the model's own text
    patch: PatchInfo
    agb: float | None = None  # Mg/ha (kind "agb")
    agb_std: float | None = None  # models with the uncertainty head
    unit: str | None = None
    carbon: float | None = None  # questions about carbon
    carbon_unit: str | None = None
    land_cover: LandCoverInfo | None = None
    patch_count: int | None = None  # kind "count" (None when the answer stated none)
    # The type of answer the question asks for: agb, land_cover, count, yes_no, activity,
    # natural or free (reo_core.infer.answer_types).
    answer_type: str | None = None


@dataclass(frozen=True)
class GridInfo:
    crs: str
    transform: tuple[
        float, float, float, float, float, float
    ]  # of the patch grid (a, b, c, d, e, f)
    width: int  # patches
    height: int
    stride: int


@dataclass(frozen=True)
class InspectResult:
    decision: dict[str, Any]  # how Sentinel-2 is read: summary.json's inputs.sentinel2
    grid: GridInfo
    patches: int


@dataclass(frozen=True)
class CancelResult:
    target: RequestId
    canceled: bool  # False: no such request is queued or running


@dataclass(frozen=True)
class WorkerInfo:
    version: str  # reo_core's
    protocol: int
    pid: int
    python: str
    torch: str
    cuda: str | None  # torch's CUDA version
    cuda_available: bool
    gpu: str | None
    device: str  # the loaded model's, else what "auto" picks
    model_loaded: bool
    model: ModelInfo | None


@dataclass(frozen=True)
class ShutdownResult:
    shutdown: bool


# --- requests, one dataclass per op ---------------------------------------------------------------
@dataclass(frozen=True)
class LoadModel(ModelOptions):
    op: ClassVar[str] = "load_model"
    result: ClassVar[type] = ModelInfo
    control: ClassVar[bool] = False  # work: queued, run one at a time in the worker thread

    model: str = REQUIRED

    def __post_init__(self) -> None:
        check_required(self)


@dataclass(frozen=True)
class Estimate(Imagery, ModelOptions):
    op: ClassVar[str] = "estimate"
    result: ClassVar[type] = EstimateResult
    control: ClassVar[bool] = False

    out: str = REQUIRED  # output folder
    carbon_fraction: float | None = None  # carbon per dry biomass (None: IPCC's 0.47)
    quicklook: bool = True  # write quicklook.png
    overwrite: bool = False  # replace an earlier run's products in ``out`` (once this one is done)


@dataclass(frozen=True)
class Ask(Imagery, ModelOptions):
    op: ClassVar[str] = "ask"
    result: ClassVar[type] = AskResult
    control: ClassVar[bool] = False

    point: tuple[float, float] = REQUIRED  # x, y in ``crs``
    crs: str = REQUIRED
    question: str = REQUIRED
    max_new_tokens: int | None = None  # the answer's length (None: 64); not the estimate's


@dataclass(frozen=True)
class Inspect(Imagery):
    """How the inputs of an estimate would be read, for ``model``'s bands; no model is run."""

    op: ClassVar[str] = "inspect"
    result: ClassVar[type] = InspectResult
    control: ClassVar[bool] = False

    model: str | None = None  # its reo_config.json says the bands (None: the loaded model, or all)


@dataclass(frozen=True)
class Cancel:
    op: ClassVar[str] = "cancel"
    result: ClassVar[type] = CancelResult
    control: ClassVar[bool] = True  # answered at once by the main thread

    target: RequestId


@dataclass(frozen=True)
class Info:
    op: ClassVar[str] = "info"
    result: ClassVar[type] = WorkerInfo
    control: ClassVar[bool] = True


@dataclass(frozen=True)
class Shutdown:
    op: ClassVar[str] = "shutdown"
    result: ClassVar[type] = ShutdownResult
    control: ClassVar[bool] = True


REQUEST_TYPES: dict[str, type] = {
    cls.op: cls for cls in (LoadModel, Estimate, Ask, Inspect, Cancel, Info, Shutdown)
}
OPS = tuple(REQUEST_TYPES)


@dataclass(frozen=True)
class Request:
    """One request line: its id and the op's fields."""

    id: RequestId
    body: Any  # an instance of one of REQUEST_TYPES

    @property
    def op(self) -> str:
        return self.body.op


# --- replies --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Ready:
    type: ClassVar[str] = "ready"
    version: str  # reo_core's
    protocol: int  # PROTOCOL_VERSION of the worker
    pid: int


@dataclass(frozen=True)
class Progress:
    type: ClassVar[str] = "progress"
    id: RequestId
    fraction: float  # 0..1, never decreasing
    message: str


@dataclass(frozen=True)
class Result:
    type: ClassVar[str] = "result"
    id: RequestId
    result: dict[str, Any]  # the op's result dataclass as JSON (``decode_result``)


@dataclass(frozen=True)
class ErrorInfo:
    kind: str  # the REO error class (InputError, Canceled, ...) or InternalError
    message: str  # for the user: what to change
    details: str | None = None  # for logs and a details box


@dataclass(frozen=True)
class ErrorReply:
    type: ClassVar[str] = "error"
    id: RequestId | None  # None when the line had no readable id
    error: ErrorInfo


REPLY_TYPES: dict[str, type] = {cls.type: cls for cls in (Ready, Progress, Result, ErrorReply)}


# --- lines ----------------------------------------------------------------------------------------
def parse_request(line: str | bytes) -> Request:
    """The request on one line; ProtocolError (carrying the id when readable) otherwise."""
    value = _parse_object(line, "request", 'e.g. {"id": 1, "op": "info"}')
    request_id = value.pop("id", None)
    try:
        request_id = from_json(RequestId, request_id, "id")
    except FieldError:
        raise ProtocolError(
            'Every request needs an "id" (a string or a number) for its replies.'
        ) from None
    op = value.pop("op", None)
    cls = REQUEST_TYPES.get(op) if isinstance(op, str) else None
    if cls is None:
        raise ProtocolError(f"Unknown op {op!r}; use one of {', '.join(OPS)}.", None, request_id)
    return Request(request_id, _decode(cls, value, request_id))


def request_line(request_id: RequestId, op: str, fields: dict[str, Any]) -> str:
    """The line of a request (fields checked against the op's dataclass first)."""
    cls = REQUEST_TYPES.get(op)
    if cls is None:
        raise ProtocolError(f"Unknown op {op!r}; use one of {', '.join(OPS)}.")
    given = {
        key: value
        for key, value in to_json(_decode(cls, fields, request_id)).items()
        if key in fields
    }
    return json_text({"id": request_id, "op": op, **given}, indent=None, sort_keys=False)


def reply_line(reply: Ready | Progress | Result | ErrorReply) -> str:
    """The line of a reply: strict JSON, NaN and infinities as null."""
    data = to_json(reply)
    head = {"id": data.pop("id")} if "id" in data else {}
    return json_text({**head, TYPE_KEY: reply.type, **data}, indent=None, sort_keys=False)


def parse_reply(line: str | bytes) -> Ready | Progress | Result | ErrorReply:
    """A reply from the worker; ProtocolError for anything else (e.g. a stray print)."""
    value = _parse_object(line, "reply", "as reo_core.serve_protocol defines")
    kind = value.pop(TYPE_KEY, None)
    cls = REPLY_TYPES.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise ProtocolError(f"Not a worker reply (no known type): {str(line)[:80]}")
    return _decode(cls, value, value.get("id"))


def result_of(request_id: RequestId, body: Any, value: Any) -> Result:
    """The result reply of ``body``'s op; ``value`` must be (or decode into) its result type.

    A value of another shape is a bug of the worker: FieldError (a ValueError), not ProtocolError.
    """
    if not isinstance(value, body.result):
        value = from_json(body.result, value)
    return Result(request_id, to_json(value))


def decode_result(op: str, result: dict[str, Any]) -> Any:
    """The result dataclass of ``op`` from a result reply's ``result`` (ProtocolError if it
    differs)."""
    return _decode(REQUEST_TYPES[op].result, result, None)


def error_reply(request_id: RequestId | None, exception: BaseException) -> ErrorReply:
    """REO errors keep their class name as kind; anything else is an InternalError."""
    if isinstance(exception, ReoError):
        kind = type(exception).__name__
        return ErrorReply(request_id, ErrorInfo(kind, exception.message, exception.details))
    return ErrorReply(
        request_id,
        ErrorInfo(
            INTERNAL_KIND,
            f"{type(exception).__name__}: {exception}",
            "an unexpected failure; the worker keeps serving (see its log on stderr)",
        ),
    )


def _parse_object(line: str | bytes, what: str, example: str) -> dict:
    if isinstance(line, bytes):
        try:
            line = line.decode("utf-8")
        except UnicodeDecodeError as error:
            raise ProtocolError(
                f"The {what} is not UTF-8 text (byte {line[error.start]:#04x} at position "
                f"{error.start}); send UTF-8 JSON, {example}."
            ) from None
    try:
        value = json.loads(line, parse_constant=_no_constant)
    except RecursionError:
        raise ProtocolError(
            f"The {what} is nested too deeply to read; send one flat JSON object, {example}."
        ) from None
    except ValueError as error:  # JSONDecodeError, NaN / Infinity, a number too long to read
        reason = f"{error.msg} at character {error.pos}" if hasattr(error, "pos") else str(error)
        raise ProtocolError(
            f"The {what} is not valid JSON ({reason}); send one JSON object per line, {example}."
        ) from None
    if not isinstance(value, dict):
        raise ProtocolError(f"A {what} must be a JSON object, got {type(value).__name__}.")
    return value


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not a JSON number")


def _decode(cls: type, value: dict, request_id: Any) -> Any:
    try:
        return from_json(cls, value)
    except FieldError as error:
        raise ProtocolError(str(error), None, request_id) from None
    except ProtocolError as error:  # a dataclass's own check
        raise ProtocolError(error.message, error.details, request_id) from None
