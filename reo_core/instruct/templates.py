"""REO-Instruct question/answer templates: over 100, across the four task families.

The paper wrote dialogues with GPT-4o from 100+ templates; offline, these templates are the
dialogues. A template pairs one question with answer patterns keyed by outcome ("" when the answer
does not branch; "yes" / "no" for presence questions...). Placeholders (``str.format``):

- land cover: ``{name}`` official CGLS-LC100 class name, ``{short}`` its short name. Answers name
  only the class, so ``reo_core.answers.parse_land_cover`` reads them back.
- patch count: ``{count}`` digits, ``{count_word}`` number word (digits above twenty),
  ``{patches}`` "patch"/"patches", ``{is_are}`` "is"/"are", ``{regions}`` "region"/"regions".
  Answers state one number only (``parse_count`` reads them back).
- human activity: ``{target}`` / ``{target_bare}`` the class asked about ("cropland", "a built-up
  area" / "built-up area"), ``{activities}`` the short answer ("agriculture", "none").
  Open questions ("which", "natural") answer with the short answer alone, yes/no questions start
  with "Yes" or "No": ``normalize_answer(answer)`` is then exactly the scored truth.
- AGB: the assistant turn is *domain text* (class, its share, patch count, human activity), which
  the regression head reads through the reverse projection; the biomass itself is the regression
  target stored in the record, never generated text. Extra placeholders: ``{share}`` percent of
  the patch in the dominant class, ``{activity_clause}`` ("with no sign of human activity").

The first user message of every dialogue starts with ``"<image>\\n"``, added by the dialogue
builder; the model code expands that placeholder into the patch's image tokens.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache

from reo_core.tasks import Task

TEMPLATE_VERSION = "reo-instruct-templates-1.0"
IMAGE_TOKEN = "<image>"

# Human-activity classes asked about in presence questions: code -> (with article, bare).
PRESENCE_TARGETS: dict[int, tuple[str, str]] = {
    40: ("cropland", "cropland"),
    50: ("a built-up area", "built-up area"),
}


@dataclass(frozen=True)
class Template:
    """One question with its answer patterns, keyed by outcome ("" = the only answer)."""

    id: str  # "lc-017": family prefix and number, stable across versions
    task: Task
    kind: str  # question kind within the family (KINDS)
    question: str
    answers: Mapping[str, str]


KINDS: dict[Task, tuple[str, ...]] = {
    Task.LAND_COVER: ("class",),
    Task.PATCH_COUNT: ("count",),
    Task.HUMAN_ACTIVITY: ("presence", "any", "which", "natural"),
    Task.AGB: ("agb",),
}
# The outcomes each kind's answers must cover.
OUTCOMES: dict[str, tuple[str, ...]] = {
    "class": ("",),
    "count": ("",),
    "presence": ("yes", "no"),
    "any": ("yes", "no"),
    "which": ("some", "none"),
    "natural": ("natural", "human-modified"),
    "agb": ("",),
}

_LAND_COVER = [
    ("What is the land-cover class of this patch?", "{name}."),
    ("Which land-cover category dominates this image?", "The dominant category is {short}."),
    ("Classify the land cover shown in this image.", "{name}."),
    ("What type of land cover is mostly present here?", "Mostly {short}."),
    ("Which Copernicus land-cover class best describes this area?", "{name}."),
    ("Identify the main land cover in this Sentinel-2 patch.", "The main land cover is {short}."),
    ("What covers most of the ground in this patch?", "Most of the ground is {short}."),
    ("Give the land-cover class of the scene.", "{name}."),
    ("What is the prevailing land cover in this 250 m square?", "It is {short}."),
    ("Name the dominant land-cover type.", "{name}"),
    ("Which class of the Copernicus Global Land Cover map applies here?", "{name}."),
    ("Describe the land cover of this image in one class.", "{short}."),
    ("What kind of surface dominates this patch?", "This patch is dominated by {short}."),
    ("Looking at this patch, what is the land-cover type?", "The land-cover type is {name}."),
    ("Tell me the land-cover class.", "{name}."),
    ("What is the primary land use or cover of this area?", "Primarily {short}."),
    ("Which land-cover class occupies the largest part of the image?", "{name}."),
    ("Assign this patch to a land-cover class.", "Class: {name}."),
    ("What does the land cover here consist of, mainly?", "Mainly {short}."),
    ("From the multispectral image, what is the land-cover class?", "{name}."),
    ("Choose the land-cover class that fits this patch best.", "{name}."),
    ("What would a land-cover map show for this location?", "It would show {short}."),
    ("Please classify this area by its land cover.", "This area is {short}."),
    ("What is the main ecosystem type visible in this patch?", "The main type is {short}."),
    ("Categorise the dominant land cover of this observation.", "{name}."),
    ("Which land-cover class is this?", "This is {short}."),
    ("State the land-cover class of the centre area.", "{name}."),
    ("What land cover does this satellite patch mostly show?", "It mostly shows {short}."),
    ("Determine the land-cover category.", "Category: {name}."),
    ("In terms of land cover, what is this area?", "{short}."),
]

_PATCH_COUNT = [
    (
        "How many ecological patches are in this image?",
        "There {is_are} {count} ecological {patches}.",
    ),
    ("Count the ecological patches in this area.", "{count}"),
    ("How many distinct land-cover patches can you find here?", "I find {count} {patches}."),
    ("How fragmented is this landscape? Give the number of patches.", "{count} {patches}."),
    ("What is the ecological patch count of this image?", "The patch count is {count}."),
    (
        "How many connected land-cover regions does this patch contain?",
        "It contains {count} connected {regions}.",
    ),
    ("Count the continuous land-cover units in the image.", "{count_word}"),
    ("How many separate habitat patches are visible?", "{count_word} habitat {patches}."),
    ("Number of ecological patches?", "{count}."),
    ("How many land-cover patches make up this scene?", "This scene is made of {count} {patches}."),
    (
        "Tell me how many ecological patches this area has.",
        "This area has {count_word} ecological {patches}.",
    ),
    ("How many contiguous areas of a single land cover are there?", "There {is_are} {count}."),
    ("Estimate the number of ecological patches.", "{count} ecological {patches}."),
    ("How many patches of different land cover can be counted here?", "{count} can be counted."),
    ("What is the number of distinct ecological units in this image?", "{count_word}."),
    (
        "How many landscape patches does this 250 m area hold?",
        "It holds {count} landscape {patches}.",
    ),
    ("Count the connected regions of uniform land cover.", "{count} {regions}."),
    (
        "How many ecological patches would a landscape analysis find here?",
        "It would find {count} {patches}.",
    ),
    ("How patchy is this area? Count the patches.", "{count} {patches}."),
    (
        "How many homogeneous land-cover patches are in the image?",
        "There {is_are} {count_word} homogeneous {patches}.",
    ),
    ("Give the count of ecological patches.", "Count: {count}."),
    ("How many separate land-cover regions are shown?", "{count} separate {regions}."),
    ("Determine the number of ecological patches in this observation.", "{count}"),
    (
        "How many different patches of vegetation, water or built land are there?",
        "{count} {patches} in total.",
    ),
    ("What is the patch count for this landscape?", "The landscape has {count} {patches}."),
]

_HUMAN_ACTIVITY = [
    (
        "presence",
        "Is there {target} in this patch?",
        "Yes, there is {target_bare} in this patch.",
        "No, there is no {target_bare} in this patch.",
    ),
    ("presence", "Does this image contain {target}?", "Yes.", "No."),
    (
        "presence",
        "Can you see {target} here?",
        "Yes, {target_bare} is visible.",
        "No, {target_bare} is not visible.",
    ),
    (
        "presence",
        "Is any {target_bare} present in this area?",
        "Yes, some {target_bare} is present.",
        "No, none is present.",
    ),
    (
        "presence",
        "Does {target_bare} appear in this satellite patch?",
        "Yes, it does.",
        "No, it does not.",
    ),
    (
        "presence",
        "Is {target_bare} part of this landscape?",
        "Yes, {target_bare} is part of it.",
        "No.",
    ),
    (
        "presence",
        "Would a land-cover map show {target} in this patch?",
        "Yes, it would.",
        "No, it would not.",
    ),
    ("presence", "Answer yes or no: is there {target} in the image?", "Yes.", "No."),
    (
        "presence",
        "Do you detect {target} in this observation?",
        "Yes, I detect {target_bare}.",
        "No, I do not detect any.",
    ),
    (
        "presence",
        "Is this patch partly covered by {target_bare}?",
        "Yes, partly.",
        "No, it is not.",
    ),
    (
        "any",
        "Is there any sign of human activity in this patch?",
        "Yes, there is human activity here.",
        "No, there is no sign of it.",
    ),
    (
        "any",
        "Has this area been modified by people?",
        "Yes, people have modified it.",
        "No, it looks untouched.",
    ),
    ("any", "Are human-made land-cover features visible?", "Yes.", "No."),
    (
        "any",
        "Does this image show human land use?",
        "Yes, it shows human land use.",
        "No, it does not.",
    ),
    ("any", "Answer yes or no: is human activity visible in this image?", "Yes.", "No."),
    (
        "any",
        "Do agriculture or built-up areas occur here?",
        "Yes, at least one of them occurs.",
        "No, neither occurs.",
    ),
    ("any", "Is this landscape influenced by human activity?", "Yes, it is.", "No, it is not."),
    ("any", "Can you find traces of farming or settlement in this patch?", "Yes.", "No, I cannot."),
    ("which", "What human activity is visible?", "{activities}.", "None."),
    ("which", "Which human activities can be seen in this patch?", "{activities}", "None"),
    ("which", "What kind of human land use does this image show?", "{activities}.", "None."),
    ("which", "Name the human activity present here, if any.", "{activities}.", "None."),
    (
        "which",
        "What human influence is visible in this area? Answer briefly.",
        "{activities}.",
        "None.",
    ),
    ("which", "Which types of human land use appear in the image?", "{activities}.", "None."),
    ("which", "What do people use this land for, as far as visible?", "{activities}.", "None."),
    ("natural", "Is this area natural or human-modified?", "Natural.", "Human-modified."),
    (
        "natural",
        "Would you describe this landscape as natural or human-modified?",
        "Natural",
        "Human-modified",
    ),
    (
        "natural",
        "Natural or human-modified: how would you classify this patch?",
        "Natural.",
        "Human-modified.",
    ),
    (
        "natural",
        "Answer with natural or human-modified: what is this land?",
        "Natural.",
        "Human-modified.",
    ),
    (
        "natural",
        "Is the land cover here natural, or has it been human-modified?",
        "Natural.",
        "Human-modified.",
    ),
]

_AGB_QUESTIONS = [
    (
        "Estimate the above-ground biomass of this patch.",
        "This patch is mostly {short} ({share}% of the area) in {count} ecological {patches}, "
        "{activity_clause}.",
    ),
    (
        "What is the above-ground biomass density here?",
        "The area is dominated by {short}, covering {share}% of it, {activity_clause}.",
    ),
    (
        "How much above-ground biomass does this area hold, in Mg/ha?",
        "Land cover: {name} ({share}%). Ecological patches: {count}. Human activity: {activities}.",
    ),
    (
        "Predict the AGB at the centre of this image.",
        "The centre lies in a landscape of {short} ({share}% cover), {activity_clause}.",
    ),
    (
        "Give the above-ground biomass of the GEDI footprint in this patch.",
        "This is {short}, fragmented into {count} {patches}, {activity_clause}.",
    ),
    (
        "What is the biomass of this forest or land area?",
        "Mostly {short}, {share}% of the patch, {activity_clause}.",
    ),
    (
        "Estimate AGB in Mg/ha for this Sentinel-2 patch.",
        "The patch shows {short} on {share}% of its area and {count} ecological {patches}.",
    ),
    (
        "How dense is the above-ground biomass in this image?",
        "Dominant land cover {name} ({share}%), {activity_clause}.",
    ),
    (
        "Regress the above-ground biomass of this location.",
        "Context: {short} covers {share}% of the patch; {count} {patches}; "
        "human activity: {activities}.",
    ),
    (
        "What amount of carbon-holding biomass stands here?",
        "The vegetation is {short} over {share}% of the area, {activity_clause}.",
    ),
    (
        "Assess the above-ground biomass of this area.",
        "This area is {share}% {short}, split into {count} {patches}, {activity_clause}.",
    ),
    ("Tell me the AGB value of this patch.", "This patch is {short}, {activity_clause}."),
    (
        "Estimate the standing biomass above ground at this site.",
        "The site is mainly {short} ({share}%) with {count} ecological {patches}.",
    ),
    (
        "What is the aboveground biomass density, according to this image?",
        "Land cover is mostly {name}, {activity_clause}.",
    ),
    (
        "Quantify the above-ground biomass in this 250 m patch.",
        "The 250 m patch holds {short} on {share}% of its area, {activity_clause}.",
    ),
    (
        "How much biomass is stored in the vegetation of this patch?",
        "The vegetation here is {short}; the landscape has {count} {patches}, {activity_clause}.",
    ),
    (
        "Provide an AGB estimate for this multispectral patch.",
        "Mostly {short} ({share}%), {count} {patches}, human activity: {activities}.",
    ),
    (
        "What is the AGB (Mg/ha) at this GEDI footprint?",
        "The footprint lies in {short}, {activity_clause}.",
    ),
    (
        "Estimate the above-ground biomass, considering the land cover.",
        "The land cover is {name} on {share}% of the patch, {activity_clause}.",
    ),
    (
        "Predict the biomass density of the area shown.",
        "The area shows {short} ({share}%) in {count} ecological {patches}, {activity_clause}.",
    ),
    (
        "What is the above-ground biomass of the vegetation in this image?",
        "The image shows mainly {short}, {activity_clause}.",
    ),
    (
        "Infer the above-ground biomass from this image.",
        "Dominated by {short} ({share}%), with {count} {patches} and human activity: {activities}.",
    ),
]


def _build() -> tuple[Template, ...]:
    templates: list[Template] = []
    for i, (question, answer) in enumerate(_LAND_COVER, start=1):
        templates.append(Template(f"lc-{i:03d}", Task.LAND_COVER, "class", question, {"": answer}))
    for i, (question, answer) in enumerate(_PATCH_COUNT, start=1):
        templates.append(Template(f"pc-{i:03d}", Task.PATCH_COUNT, "count", question, {"": answer}))
    for i, (kind, question, first, second) in enumerate(_HUMAN_ACTIVITY, start=1):
        answers = dict(zip(OUTCOMES[kind], (first, second), strict=True))
        templates.append(Template(f"ha-{i:03d}", Task.HUMAN_ACTIVITY, kind, question, answers))
    for i, (question, answer) in enumerate(_AGB_QUESTIONS, start=1):
        templates.append(Template(f"agb-{i:03d}", Task.AGB, "agb", question, {"": answer}))
    return tuple(templates)


TEMPLATES: tuple[Template, ...] = _build()
TEMPLATES_BY_ID: dict[str, Template] = {t.id: t for t in TEMPLATES}


@cache
def templates_for(task: Task, kind: str | None = None) -> tuple[Template, ...]:
    """The templates of one family (and question kind), in id order."""
    if kind is not None and kind not in KINDS[task]:
        raise ValueError(
            f"kind must be one of {', '.join(KINDS[task])} for {task.value}, got {kind!r}"
        )
    return tuple(t for t in TEMPLATES if t.task is task and (kind is None or t.kind == kind))
