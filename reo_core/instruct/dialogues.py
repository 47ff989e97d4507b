"""REO-Instruct dialogues of one patch: land cover, patch count, human activity, AGB.

Truth comes from the patch's CGLS-LC100 map and its GEDI label:

- land cover: the dominant class of the LC map (``reo_core.landcover.dominant_class``);
- patch count: connected regions of one class (``reo_core.landcover.count_patches``, 8-neighbour);
- human activity: the human-activity classes present anywhere in the LC map
  (``reo_core.landcover.HUMAN_ACTIVITY_CODES``: cropland -> agriculture, urban -> built-up area);
- AGB: the GEDI L4A ``agbd`` at the centre footprint, Mg/ha, stored as the regression target.

A dialogue is a dict (one JSON line of ``{split}.jsonl``)::

    {"id": "train-00000042-lc", "patch": {"split": "train", "shard": 0, "index": 17},
     "task": "land_cover", "template": "lc-017",
     "messages": [{"role": "user", "content": "<image>\\n..."},
                  {"role": "assistant", "content": "..."}],
     "target": {"answer": 112, ...}}

``target["answer"]`` is the truth ``reo_core.evaluate`` scores against (class code, count, short
answer, AGB in Mg/ha); the other target keys are family-specific facts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from reo_core.answers import NUMBER_NAMES
from reo_core.instruct.templates import IMAGE_TOKEN, PRESENCE_TARGETS, Template, templates_for
from reo_core.landcover import (
    CLASSES,
    HUMAN_ACTIVITY_CODES,
    NODATA_CODE,
    count_patches,
    dominant_class,
)
from reo_core.tasks import Task

ACTIVITY_CODES: tuple[int, ...] = tuple(sorted(HUMAN_ACTIVITY_CODES))  # bit i of the mask = code i
NO_ACTIVITY = "none"
_SPELLED_COUNTS_UP_TO = 20  # counts up to twenty are written as words, larger ones as digits
_ABBREVIATIONS = {
    Task.LAND_COVER: "lc",
    Task.PATCH_COUNT: "pc",
    Task.HUMAN_ACTIVITY: "ha",
    Task.AGB: "agb",
}


@dataclass(frozen=True)
class PatchFacts:
    """What the dialogues of one patch state: the truth of every family."""

    land_cover: int  # dominant CGLS-LC100 code
    share: int  # percent of the valid pixels in the dominant class
    count: int  # ecological patches
    activities: tuple[int, ...]  # human-activity class codes present, ascending
    agb: float  # GEDI agbd, Mg/ha

    @property
    def activity_text(self) -> str:
        """Short answer naming the activities ("agriculture and built-up area") or "none"."""
        return activity_answer("which", self.activities)[1]


def facts_arrays(lc: np.ndarray, agbd: np.ndarray) -> dict[str, np.ndarray]:
    """The facts of N patches as arrays (cheap to keep for millions of patches).

    Args:
        lc: (N, 25, 25) CGLS-LC100 codes (255 = no data).
        agbd: (N,) Mg/ha.
    Returns:
        ``land_cover`` (N,) uint8 (255 when the map is all no data), ``share`` (N,) uint8 %,
        ``count`` (N,) int32, ``activity`` (N,) uint8 bit mask over :data:`ACTIVITY_CODES`,
        ``agb`` (N,) float32.
    """
    lc = np.asarray(lc)
    dominant = dominant_class(lc)  # (N,)
    valid = (lc != NODATA_CODE).sum(axis=(1, 2))
    in_dominant = (lc == dominant[:, None, None]).sum(axis=(1, 2))
    share = np.where(valid > 0, np.rint(100.0 * in_dominant / np.maximum(valid, 1)), 0)
    activity = np.zeros(lc.shape[0], dtype=np.uint8)
    for bit, code in enumerate(ACTIVITY_CODES):
        activity |= ((lc == code).any(axis=(1, 2)) << bit).astype(np.uint8)
    return {
        "land_cover": dominant.astype(np.uint8),
        "share": share.astype(np.uint8),
        "count": count_patches(lc).astype(np.int32),
        "activity": activity,
        "agb": np.asarray(agbd, dtype=np.float32),
    }


def activities_of(mask: int) -> tuple[int, ...]:
    """The human-activity class codes of a bit mask over :data:`ACTIVITY_CODES`, ascending."""
    return tuple(c for bit, c in enumerate(ACTIVITY_CODES) if int(mask) >> bit & 1)


def facts_at(arrays: dict[str, np.ndarray], i: int) -> PatchFacts:
    """The :class:`PatchFacts` of entry ``i`` of :func:`facts_arrays` output."""
    return PatchFacts(
        land_cover=int(arrays["land_cover"][i]),
        share=int(arrays["share"][i]),
        count=int(arrays["count"][i]),
        activities=activities_of(arrays["activity"][i]),
        agb=round(float(arrays["agb"][i]), 3),
    )


def template_values(facts: PatchFacts) -> dict[str, Any]:
    """Placeholder values of the templates (reo_core.instruct.templates); the answer grammar
    builds its answers from them too."""
    cls = CLASSES[facts.land_cover]
    one = facts.count == 1
    activities = facts.activity_text
    clause = (
        "with no sign of human activity"
        if not facts.activities
        else f"with {activities.replace('built-up area', 'a built-up area')} visible"
    )
    return {
        "name": cls.name,
        "short": cls.short_name,
        "share": facts.share,
        "count": facts.count,
        "count_word": NUMBER_NAMES[facts.count]
        if facts.count <= _SPELLED_COUNTS_UP_TO
        else facts.count,
        "patches": "patch" if one else "patches",
        "regions": "region" if one else "regions",
        "is_are": "is" if one else "are",
        "activities": activities,
        "activity_clause": clause,
    }


def _fill(pattern: str, values: dict[str, Any]) -> str:
    text = pattern.format_map(values)
    return text[:1].upper() + text[1:]


def activity_answer(
    kind: str, activities: tuple[int, ...], asked: int | None = None
) -> tuple[str, str]:
    """(template outcome, short answer) of a human-activity question of ``kind`` about a patch
    whose human-activity classes are ``activities``; ``asked`` is the class a presence question
    names. Baselines answer with it from the activities they predict."""
    present = bool(activities)
    if kind == "presence":
        outcome = "yes" if asked in activities else "no"
        return outcome, outcome
    if kind == "any":
        outcome = "yes" if present else "no"
        return outcome, outcome
    if kind == "which":
        names = [CLASSES[code].human_activity for code in activities]
        return ("some" if present else "none"), " and ".join(names) if names else NO_ACTIVITY
    outcome = "human-modified" if present else "natural"
    return outcome, outcome


def _human_activity(
    template: Template, facts: PatchFacts, rng: np.random.Generator
) -> tuple[str, str, dict[str, str], dict[str, int]]:
    """(outcome, truth, extra values, extra target) of a human-activity question."""
    if template.kind == "presence":
        asked = int(rng.choice(sorted(PRESENCE_TARGETS)))
        target, bare = PRESENCE_TARGETS[asked]
        outcome, truth = activity_answer(template.kind, facts.activities, asked)
        return outcome, truth, {"target": target, "target_bare": bare}, {"asked": asked}
    outcome, truth = activity_answer(template.kind, facts.activities)
    return outcome, truth, {}, {}


def dialogue(
    template: Template,
    facts: PatchFacts,
    patch: dict[str, Any],
    dialogue_id: str,
    rng: np.random.Generator,
) -> dict[str, Any]:
    """One single-turn dialogue of ``template`` about a patch (see the module doc for the
    format)."""
    values = template_values(facts)
    outcome, target = "", {}
    if template.task is Task.LAND_COVER:
        cls = CLASSES[facts.land_cover]
        target = {"answer": cls.code, "code": cls.code, "name": cls.name, "share": facts.share}
    elif template.task is Task.PATCH_COUNT:
        target = {"answer": facts.count, "count": facts.count}
    elif template.task is Task.HUMAN_ACTIVITY:
        outcome, truth, extra, target = _human_activity(template, facts, rng)
        values.update(extra)
        target = {"answer": truth, "kind": template.kind, **target}
    else:
        target = {
            "answer": facts.agb,
            "agb": facts.agb,
            "unit": "Mg/ha",
            "land_cover": facts.land_cover,
            "patch_count": facts.count,
        }
    if template.task in (Task.HUMAN_ACTIVITY, Task.AGB):
        target["activities"] = [CLASSES[c].human_activity for c in facts.activities]
    question = f"{IMAGE_TOKEN}\n{_fill(template.question, values)}"
    return {
        "id": dialogue_id,
        "patch": patch,
        "task": template.task.value,
        "template": template.id,
        "messages": [
            {"role": "user", "content": question},
            {"role": "assistant", "content": _fill(template.answers[outcome], values)},
        ],
        "target": target,
    }


def patch_dialogues(
    facts: PatchFacts, patch: dict[str, Any], id_prefix: str, rng: np.random.Generator
) -> list[dict[str, Any]]:
    """One dialogue per task family (enum order), each from a template drawn with ``rng``.

    Args:
        patch: the patch reference, ``{"split", "shard", "index"}``.
        id_prefix: unique per draw, e.g. ``"train-00000042"``; ids are ``<prefix>-<family>``.
    """
    dialogues = []
    for task in Task:
        options = templates_for(task)
        template = options[int(rng.integers(len(options)))]
        dialogues.append(
            dialogue(template, facts, patch, f"{id_prefix}-{_ABBREVIATIONS[task]}", rng)
        )
    return dialogues
