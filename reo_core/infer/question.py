"""Asking about one patch: the patch under a point, answered by the regression head or by generation.

The patch is the one of the patch grid whose cell holds the point (``PatchGrid.patch_at``): the grid
of all of the Sentinel-2 imagery, or of an estimate's extent when it is given, so a click on an
estimate's raster asks about the patch that made that cell. AGB questions (biomass, AGB, Mg/ha,
carbon) are answered by the regression head after the estimate's own AGB question, so the number is
the one the map holds; any other question is answered by generation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from pyproj import Transformer

from reo_core.answers import parse_land_cover
from reo_core.errors import ExtentError, InputError
from reo_core.infer.engine import InferenceEngine
from reo_core.infer.inputs import InputSpec, open_reader
from reo_core.infer.products import IPCC_CARBON_FRACTION
from reo_core.infer.prompt import is_agb_question, mentions_carbon
from reo_core.landcover import CLASSES
from reo_core.raster import Extent, skips
from reo_core.raster.extent import parse_crs

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
    """Answer ``request``: a dict with the answer text, its kind ('agb' or 'text'), numbers, patch."""
    name = f"The model {engine.name}"
    grid = open_reader(engine.config, request.inputs, name).patch_grid
    x, y = _to_grid_crs(request.point, request.crs, grid.pixels.crs)
    try:
        row, col = grid.patch_at(x, y)
    except ExtentError:
        raise ExtentError(
            f"The point ({request.point[0]}, {request.point[1]}) in {request.crs} lies outside the "
            "Sentinel-2 imagery (or the estimate's extent); click inside it.",
            details=f"point in {grid.pixels.crs}: ({x:.2f}, {y:.2f}); grid bounds {grid.pixels.bounds}",
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
    patch = {"row": row, "col": col, "bounds": list(bounds), "crs": grid.pixels.crs.to_string(),
             "valid_fraction": round(valid, 4)}  # fmt: skip
    if is_agb_question(request.question):
        return {
            "question": request.question,
            **_agb_answer(engine, s2, sar, request),
            "patch": patch,
        }
    out = engine.answer(s2, sar, request.question, request.max_new_tokens)
    text = out.texts[0]
    return {"question": request.question, "kind": "text", "answer": text, "generated": text,
            "patch": patch}  # fmt: skip


def _skipped_patch(request: AskRequest, reader, bounds, block) -> ExtentError:
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


def _overlap_share(a, b) -> float:
    width = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    height = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    return width * height / ((a[2] - a[0]) * (a[3] - a[1]))


def _fmt(bounds) -> str:
    return "(" + ", ".join(f"{v:.1f}" for v in bounds) + ")"


def _agb_answer(engine: InferenceEngine, s2, sar, request: AskRequest) -> dict:
    predictions = engine.predict_patches(s2, sar)
    agb = float(predictions.agb[0])
    std = None if predictions.agb_std is None else float(predictions.agb_std[0])
    text = predictions.texts[0]
    answer = f"Above-ground biomass: {agb:.1f}" + (f" ± {std:.1f}" if std is not None else "")
    answer += " Mg/ha."
    result = {"kind": "agb", "agb": agb, "agb_std": std, "unit": "Mg/ha"}
    if mentions_carbon(request.question):
        carbon = agb * request.carbon_fraction
        answer += f" Carbon: {carbon:.1f} Mg C/ha (carbon fraction {request.carbon_fraction})."
        result |= {"carbon": carbon, "carbon_unit": "Mg C/ha"}
    code = parse_land_cover(text)
    if text:
        answer += f" {text}"
    result |= {
        "answer": answer,
        "generated": text,
        "land_cover": None if code is None else {"code": code, "name": CLASSES[code].name},
    }
    return result


def _to_grid_crs(point, crs: str, target) -> tuple[float, float]:
    source = parse_crs(crs)
    target = parse_crs(target)
    if source == target:
        return float(point[0]), float(point[1])
    x, y = Transformer.from_crs(source, target, always_xy=True).transform(*map(float, point))
    if not (math.isfinite(x) and math.isfinite(y)):
        raise ExtentError(f"The point {tuple(point)} cannot be expressed in {target.name}.")
    return x, y
