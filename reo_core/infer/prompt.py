"""The questions inference asks: the fixed AGB prompt of an estimate, and what counts as an AGB
question.

An estimate asks every patch one question, the first AGB template of REO-Instruct. The model answers
with domain text ("This patch is mostly closed mixed forest (80% of the area) in 3 ecological
patches, ..."): the land-cover class and the patch count are read from it, and the regression head
reads its hidden states for AGB.
"""

from __future__ import annotations

import re

from reo_core.instruct.templates import IMAGE_TOKEN, TEMPLATES_BY_ID

ESTIMATE_TEMPLATE_ID = "agb-001"
ESTIMATE_QUESTION = TEMPLATES_BY_ID[ESTIMATE_TEMPLATE_ID].question


def prompt_messages(question: str) -> list[dict[str, str]]:
    """The one-turn dialogue asking ``question`` about a patch's images."""
    question = question.strip()
    if not question:
        raise ValueError("the question is empty")
    return [{"role": "user", "content": f"{IMAGE_TOKEN}\n{question}"}]


def is_agb_question(question: str) -> bool:
    """True when the question asks for biomass or carbon (reo_core.infer.answer_types)."""
    from reo_core.infer.answer_types import AnswerType, question_type

    return question_type(question).type is AnswerType.AGB


def mentions_carbon(question: str) -> bool:
    return bool(re.search(r"\bcarbon\b", question, re.IGNORECASE))
