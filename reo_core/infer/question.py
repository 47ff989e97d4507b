"""Asking about one patch: the patch under a point, answered the way the map answers it.

The patch is the one of the patch grid whose cell holds the point (``PatchGrid.patch_at``): the grid
of all of the Sentinel-2 imagery, or of an estimate's extent when it is given, so a click on an
estimate's raster asks about the patch that made that cell.

Each question gets an answer type (``reo_core.infer.answer_types``). AGB questions are answered by
the regression head after the estimate's own question, land-cover and patch-count questions by the
class and count of that same answer, so the chat says what the map holds for the patch. Yes/no and
other template questions are answered by generation held to the answers of their type; questions
of no known type by free generation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
from pyproj import CRS, Transformer

from reo_core.errors import ExtentError, InputError
from reo_core.infer.answer_types import FROM_ESTIMATE, AnswerType, question_type
from reo_core.infer.engine import COUNT_NODATA, UNKNOWN_CLASS, InferenceEngine, PatchPredictions
from reo_core.infer.inputs import InputSpec, open_reader
from reo_core.infer.products import IPCC_CARBON_FRACTION
from reo_core.infer.prompt import mentions_carbon
from reo_core.landcover import CLASSES
from reo_core.patch_lattice import Bounds
from reo_core.raster import Extent, skips
from reo_core.raster.extent import parse_crs
from reo_core.raster.reader import PatchBlock, PatchReader

DEFAULT_ANSWER_TOKENS = 64


@dataclass(frozen=True)
class AskRequest:
    """A question about the patch under ``point`` (x, y in ``crs``)."""

    inputs: InputSpec
    point: tuple[float, float]
    crs: str
    question: str
    max_new_tokens: int = DEFAULT_ANSWER_TOKENS
    carbon_fraction: float = IPCC_CARBON_FRACTION

    def __post_init__(self) -> None:
        if not self.question or not self.question.strip():
            raise InputError("The question is empty; type a question about the patch.")
        if len(self.point) != 2 or not all(math.isfinite(float(v)) for v in self.point):
            raise InputError(f"The point must be two finite numbers (x, y), got {self.point}.")


def ask_patch(engine: InferenceEngine, request: AskRequest) -> dict:
    """Answer ``request``: a dict with the answer text, its kind ('agb' or 'text'), numbers,
    patch."""
    name = f"The model {engine.name}"
    grid = open_reader(engine.config, request.inputs, name).patch_grid
    x, y = _to_grid_crs(request.point, request.crs, grid.pixels.crs)
    try:
        row, col = grid.patch_at(x, y)
    except ExtentError:
        raise ExtentError(
            f"The point ({request.point[0]}, {request.point[1]}) in {request.crs} lies outside the "
            "Sentinel-2 imagery (or the estimate's extent); click inside it.",
            details=f"point in {grid.pixels.crs}: ({x:.2f}, {y:.2f}); "
            f"grid bounds {grid.pixels.bounds}",
        ) from None
    bounds = grid.patch_bounds(row, col)
    one_patch = replace(
        request.inputs, extent=Extent.from_bounds(*bounds, grid.pixels.crs), block_patches=1
    )
    reader = open_reader(engine.config, one_patch, name)
    blocks = reader.blocks()
    block = next(blocks)  # the only block; closing skips the reader's all-no-data check
    blocks.close()
    valid = float(block.valid_fraction[0, 0])
    if not block.keep[0, 0]:
        raise _skipped_patch(request, reader, bounds, block)
    s2, sar = engine.block_patches(block)
    patch = {
        "row": row,
        "col": col,
        "bounds": list(bounds),
        "crs": grid.pixels.crs.to_string(),
        "valid_fraction": round(valid, 4),
    }
    answer = answer_patches(
        engine, s2, sar, request.question, request.max_new_tokens, request.carbon_fraction
    )[0]
    return {"question": request.question, **answer, "patch": patch}


def _skipped_patch(
    request: AskRequest, reader: PatchReader, bounds: Bounds, block: PatchBlock
) -> ExtentError:
    """Why the patch under the point cannot be answered, in the user's words."""
    point = f"({request.point[0]}, {request.point[1]})"
    data = reader.data_bounds
    outside = 1.0 - _overlap_share(bounds, data)
    if outside > 0 and block.skip_reason[0, 0] == skips.NO_DATA:
        return ExtentError(
            f"No whole patch fits at {point}: the 250 m patch there reaches past the edge of the "
            f"Sentinel-2 imagery ({100 * outside:.0f}% of it lies outside). Ask about a point "
            "further inside the imagery.",
            details=f"patch {_fmt(bounds)}; imagery {_fmt(data)}",
        )
    reason = skips.REASONS.get(int(block.skip_reason[0, 0]), "no_data").replace("_", " ")
    share = 100 * (1 - float(block.valid_fraction[0, 0]))
    return ExtentError(
        f"The patch at {point} is {share:.0f}% no-data or cloud (mostly {reason}; clouds from the "
        f"{reader.s2.decision.clouds.detail}); ask about a clearer place."
    )


def _overlap_share(a: Bounds, b: Bounds) -> float:
    width = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    height = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    return width * height / ((a[2] - a[0]) * (a[3] - a[1]))


def _fmt(bounds: Bounds) -> str:
    return "(" + ", ".join(f"{v:.1f}" for v in bounds) + ")"


def answer_patches(
    engine: InferenceEngine,
    s2: np.ndarray,
    sar: np.ndarray | None,
    question: str,
    max_new_tokens: int = DEFAULT_ANSWER_TOKENS,
    carbon_fraction: float = IPCC_CARBON_FRACTION,
    via_estimate: bool = True,
    estimate: PatchPredictions | None = None,
) -> list[dict]:
    """The answer to ``question`` about each of N patches (s2 (N, bands, 25, 25), sar or None).

    ``kind`` says what answered: "agb" (the regression head), "land_cover" / "count" (the map's
    own answer for the patch), "text" (generation). ``via_estimate`` False answers land-cover and
    count questions by their own generation instead (how REO 1.0 answered; for comparisons).
    ``estimate``: the map's answers for these N patches (``engine.predict_patches``) when the
    caller has them already, so several questions about the same patches make the estimate once.
    """
    kind = question_type(question)
    if kind.type is AnswerType.AGB or (via_estimate and kind.type in FROM_ESTIMATE):
        predictions = estimate if estimate is not None else engine.predict_patches(s2, sar)
        if len(predictions.agb) != s2.shape[0]:
            raise ValueError(
                f"the estimate holds {len(predictions.agb)} patches, the question {s2.shape[0]}"
            )
        make = {
            AnswerType.AGB: lambda i: _agb_answer(predictions, i, question, carbon_fraction),
            AnswerType.LAND_COVER: lambda i: _land_cover_answer(predictions, i),
            AnswerType.COUNT: lambda i: _count_answer(predictions, i),
        }[kind.type]
        answers = [make(i) for i in range(s2.shape[0])]
    else:
        texts = engine.answer(s2, sar, question, max_new_tokens).texts
        answers = [{"kind": "text", "answer": text, "generated": text} for text in texts]
    return [{**answer, "answer_type": kind.type.value} for answer in answers]


def _agb_answer(predictions: PatchPredictions, i: int, question: str, carbon: float) -> dict:
    agb = float(predictions.agb[i])
    std = None if predictions.agb_std is None else float(predictions.agb_std[i])
    text = predictions.texts[i]
    answer = f"Above-ground biomass: {agb:.1f}" + (f" ± {std:.1f}" if std is not None else "")
    answer += " Mg/ha."
    result = {"kind": "agb", "agb": agb, "agb_std": std, "unit": "Mg/ha"}
    if mentions_carbon(question):
        answer += f" Carbon: {agb * carbon:.1f} Mg C/ha (carbon fraction {carbon})."
        result |= {"carbon": agb * carbon, "carbon_unit": "Mg C/ha"}
    if text:
        answer += f" {text}"
    return result | {"answer": answer, "generated": text, "land_cover": _class(predictions, i)}


def _land_cover_answer(predictions: PatchPredictions, i: int) -> dict:
    """The class the map holds for the patch, as the land-cover answer."""
    land_cover, text = _class(predictions, i), predictions.texts[i]
    answer = (
        f"{land_cover['name']}." if land_cover else f"No land-cover class could be read: {text}"
    )
    return {"kind": "land_cover", "answer": answer, "generated": text, "land_cover": land_cover}


def _count_answer(predictions: PatchPredictions, i: int) -> dict:
    """The patch count the map holds for the patch, as the count answer."""
    count, text = int(predictions.patch_count[i]), predictions.texts[i]
    if count == COUNT_NODATA:
        answer, count = f"No patch count could be read: {text}", None
    else:
        answer = f"{count} ecological patch{'' if count == 1 else 'es'}."
    return {
        "kind": "count",
        "answer": answer,
        "generated": text,
        "patch_count": count,
        "land_cover": _class(predictions, i),
    }


def _class(predictions: PatchPredictions, i: int) -> dict | None:
    code = int(predictions.land_cover[i])
    return None if code == UNKNOWN_CLASS else {"code": code, "name": CLASSES[code].name}


def _to_grid_crs(point: tuple[float, float], crs: str, target: str | CRS) -> tuple[float, float]:
    source = parse_crs(crs)
    target = parse_crs(target)
    if source == target:
        return float(point[0]), float(point[1])
    x, y = Transformer.from_crs(source, target, always_xy=True).transform(*map(float, point))
    if not (math.isfinite(x) and math.isfinite(y)):
        raise ExtentError(f"The point {tuple(point)} cannot be expressed in {target.name}.")
    return x, y
