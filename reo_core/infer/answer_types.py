"""What kind of answer a question asks for, the answers of that kind, and whether an answer is one.

Every question a user types gets an answer type (type: answered by; an answer of the type):

- ``agb``: the regression head (the number the map holds); a number in Mg/ha
- ``land_cover``: the map's own generation (so the chat and the map agree); a CGLS-LC100 class
- ``count``: the map's own generation; a number of ecological patches
- ``yes_no``: generation constrained to the templates' yes/no answers; starts with yes or no
- ``activity``: generation constrained to "which human activity" answers; agriculture, built-up
  area, none
- ``natural``: generation constrained to "natural" / "human-modified"; one of the two
- ``free``: free generation; anything

A question that is one of REO-Instruct's templates gets that template's type and answers. Any
other question is typed by the words it uses (:func:`question_type`); the rules are general
English cues (what the templates ask, and common words for the same things), not a model.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum
from functools import lru_cache

from reo_core.answer_grammar import (
    Choice,
    Grammar,
    activity_sets,
    placeholder_values,
    template_grammar,
)
from reo_core.answers import normalize_answer, parse_count, parse_land_cover, parse_yes_no
from reo_core.instruct.templates import PRESENCE_TARGETS, TEMPLATES, Template, templates_for
from reo_core.tasks import Task


class AnswerType(str, Enum):
    AGB = "agb"
    LAND_COVER = "land_cover"
    COUNT = "count"
    YES_NO = "yes_no"
    ACTIVITY = "activity"
    NATURAL = "natural"
    FREE = "free"


# Template kinds (reo_core.instruct.templates.KINDS) -> answer type.
KIND_TYPES = {
    "class": AnswerType.LAND_COVER,
    "count": AnswerType.COUNT,
    "presence": AnswerType.YES_NO,
    "any": AnswerType.YES_NO,
    "which": AnswerType.ACTIVITY,
    "natural": AnswerType.NATURAL,
    "agb": AnswerType.AGB,
}
# Types answered from the map's generation (the estimate question), not a generation of their own.
FROM_ESTIMATE = (AnswerType.AGB, AnswerType.LAND_COVER, AnswerType.COUNT)

_AGB = re.compile(
    r"\b(?:biomass|agb|carbon)\b|\bmg\s*/\s*ha\b|\bt\s*/\s*ha\b"
    r"|\b(?:tonnes?|tons?|megagrams?|mg)\s+(?:of\s+\w+\s+)?per\s+hectare\b"
)
_NATURAL = re.compile(r"\bnatural\b.*\bhuman[- ]modified\b|\bhuman[- ]modified\b.*\bnatural\b")
_ACTIVITY = re.compile(
    r"\b(?:which|what)\b.*\b(?:human (?:activit|land use|influence)|people use|kinds? of human)"
)
_COUNT = re.compile(
    r"\bhow many\b|\bcount\b|\bnumber of\b|\bhow (?:fragmented|patchy)\b|\binto how many\b"
)
# A request to name something ...
_NAME_IT = re.compile(
    r"^(?:what|which)\b|\b(?:name|classify|label|identify|describe|categori[sz]e|assign|choose|"
    r"tell me|give)\b"
)
# ... that is a land cover.
_LAND_COVER = re.compile(
    r"\bland[- ]?cover\b|\bland[- ]?use\b|\bclass(?:es)?\b|\bcategor(?:y|ies)\b|\bcover(?:s|ed)?\b|"
    r"\blandscape\b|\bsurface\b|\bvegetation\b|\becosystem\b|\bdominat\w*|\bmade of\b|\bmostly\b|"
    r"\bmainly\b|\bprevail\w*|\bprevalent\b|\bkind of (?:place|area|land)\b"
)
_YES_NO = re.compile(
    r"^(?:is|are|does|do|did|can|could|would|will|has|have|was|were|should|may)\b|\byes or no\b"
)
# Words that say which human-activity class a yes/no question is about.
_TARGET_WORDS = {
    40: re.compile(r"\bcrop\w*|\bfarm\w*|\bagricultur\w*|\bcultivat\w*|\barable\b|\bfields?\b"),
    50: re.compile(
        r"\bbuilt[- ]?(?:up|on)?\b|\burban\b|\bsettle\w*|\bbuildings?\b|\bhouses?\b|\broads?\b|"
        r"\bvillages?\b|\btowns?\b|\bcit(?:y|ies)\b"
    ),
}
_HUMAN = re.compile(
    r"\bhuman\w*|\bpeople\b|\bman[- ]made\b|\bmodified\b|\bfootprint\b|\bland use\b"
)


@dataclass(frozen=True)
class QuestionKind:
    """A question's answer type; ``template`` when it is a REO-Instruct question, ``target`` the
    human-activity class a yes/no question names (PRESENCE_TARGETS code) or None."""

    type: AnswerType
    template: Template | None = None
    target: int | None = None
    human: bool = False  # a yes/no question about human activity in general


def question_type(question: str) -> QuestionKind:
    """The answer type ``question`` asks for (see the module table)."""
    text = _canonical(question)
    template, target = _template_of(text)
    if template is not None:
        return QuestionKind(KIND_TYPES[template.kind], template, target)
    if _AGB.search(text):
        return QuestionKind(AnswerType.AGB)
    if _NATURAL.search(text):
        return QuestionKind(AnswerType.NATURAL)
    if _ACTIVITY.search(text):
        return QuestionKind(AnswerType.ACTIVITY)
    if _COUNT.search(text):
        return QuestionKind(AnswerType.COUNT)
    names_a_class = bool(_NAME_IT.search(text) and _LAND_COVER.search(text))
    if _YES_NO.search(text) and not (names_a_class and re.search(r"\bname\b|\bwhich\b", text)):
        targets = [code for code, words in _TARGET_WORDS.items() if words.search(text)]
        target = targets[0] if len(targets) == 1 else None
        return QuestionKind(AnswerType.YES_NO, target=target, human=bool(_HUMAN.search(text)))
    if names_a_class:
        return QuestionKind(AnswerType.LAND_COVER)
    return QuestionKind(AnswerType.FREE)


def answer_grammar(kind: QuestionKind, class_codes: tuple[int, ...]) -> Grammar | None:
    """The answers allowed for a question of ``kind``; None for free questions.

    A template question gets its own template's answers. Other questions get every template answer
    of their type; yes/no questions only the plain "Yes." / "No." unless they are about cropland,
    built-up areas or human activity, the only presence questions the templates teach.
    """
    if kind.template is not None:
        return _grammar((kind.template.id,), class_codes, kind.target)
    if kind.type is AnswerType.FREE:
        return None
    if kind.type is AnswerType.YES_NO:
        if kind.target is not None:
            return _grammar(_ids(Task.HUMAN_ACTIVITY, "presence"), class_codes, kind.target)
        if kind.human:
            return _grammar(_ids(Task.HUMAN_ACTIVITY, "any"), class_codes, None)
        return Grammar(_plain_yes_no())
    task, template_kind = _TYPE_TEMPLATES[kind.type]
    return _grammar(_ids(task, template_kind), class_codes, None)


def is_answer_of_type(answer_type: AnswerType, answer: str | float | None) -> bool:
    """Whether ``answer`` is an answer of ``answer_type`` (a number for AGB, a class, a
    count...)."""
    if answer_type is AnswerType.AGB:
        return isinstance(answer, (int, float)) and answer == answer
    if not isinstance(answer, str):
        return False
    if answer_type is AnswerType.LAND_COVER:
        return parse_land_cover(answer) not in (None, 0)
    if answer_type is AnswerType.COUNT:
        return parse_count(answer) is not None
    if answer_type is AnswerType.YES_NO:
        return parse_yes_no(answer) is not None
    if answer_type is AnswerType.ACTIVITY:
        return normalize_answer(answer) in _activity_answers()
    if answer_type is AnswerType.NATURAL:
        return normalize_answer(answer) in ("natural", "human modified")
    return bool(answer.strip())


# --- helpers --------------------------------------------------------------------------------------
_TYPE_TEMPLATES = {
    AnswerType.LAND_COVER: (Task.LAND_COVER, None),
    AnswerType.COUNT: (Task.PATCH_COUNT, None),
    AnswerType.ACTIVITY: (Task.HUMAN_ACTIVITY, "which"),
    AnswerType.NATURAL: (Task.HUMAN_ACTIVITY, "natural"),
    AnswerType.AGB: (Task.AGB, None),
}


def _ids(task: Task, kind: str | None) -> tuple[str, ...]:
    return tuple(t.id for t in templates_for(task, kind))


@lru_cache(maxsize=64)
def _grammar(
    template_ids: tuple[str, ...], class_codes: tuple[int, ...], target: int | None
) -> Grammar:
    by_id = {t.id: t for t in TEMPLATES}
    return template_grammar([by_id[i] for i in template_ids], class_codes, target=target)


def _plain_yes_no() -> list[tuple[Choice]]:
    return [(Choice(("Yes.", "No.")),)]


@lru_cache(maxsize=1)
def _activity_answers() -> frozenset[str]:
    return frozenset(
        normalize_answer(placeholder_values(activities=a)["activities"]) for a in activity_sets()
    )


def _canonical(text: str) -> str:
    return " ".join(text.lower().replace("<image>", " ").split()).strip()


@lru_cache(maxsize=1)
def _template_questions() -> dict[str, tuple[Template, int | None]]:
    """Every template question as users would type it (targets filled) -> (template, target)."""
    questions: dict[str, tuple[Template, int | None]] = {}
    for template in TEMPLATES:
        if "{target" in template.question:
            for code, (with_article, bare) in PRESENCE_TARGETS.items():
                text = template.question.format(target=with_article, target_bare=bare)
                questions[_canonical(text)] = (template, code)
        else:
            questions[_canonical(template.question)] = (template, None)
    return questions


def _template_of(text: str) -> tuple[Template | None, int | None]:
    return _template_questions().get(text, (None, None))
