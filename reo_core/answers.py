"""Reading generated text answers: land-cover class, counts, yes/no and short answers, biomass.

Every parser returns ``None`` when the text does not state one clear answer; none of them guesses.
Two different numbers where one is expected, two classes named with equal weight, or an empty answer
are all "unparsable", and the evaluation counts them as such.
"""

from __future__ import annotations

import itertools
import math
import re

from reo_core.landcover import CLASSES

# A number token: optional sign, digits with optional thousands commas, decimals, exponent.
# The look-behind keeps "x25" in "25x25" and the "5" of "1.5" from starting a token of their own.
_NUMBER = r"(?<![\w.])[-+]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:[eE][-+]?\d+)?"
_NUMBER_RE = re.compile(_NUMBER)

# Biomass units: name -> (pattern, factor to Mg/ha). 1 Mg/ha = 1 t/ha; 1 kg/m^2 = 10,000 kg/ha = 10
# Mg/ha.
_UNITS: dict[str, tuple[str, float]] = {
    "Mg/ha": (r"(?:mg|t|tons?|tonnes?|megagrams?)\s*(?:/|per)\s*(?:ha|hectares?)\b", 1.0),
    "kg/m2": (r"kg\s*(?:/|per)\s*(?:m\s*(?:2|²|\^2)|square\s+met(?:er|re)s?)", 10.0),
    "kg/ha": (r"kg\s*(?:/|per)\s*(?:ha|hectares?)\b", 0.001),
}
# The factor of each unit, in the order of its capture group (2, 3, 4) in _QUANTITY_RE.
_UNIT_FACTORS = [factor for _, factor in _UNITS.values()]
_QUANTITY_RE = re.compile(
    rf"({_NUMBER})\s*(?:" + "|".join(f"({pattern})" for pattern, _ in _UNITS.values()) + ")?",
    re.IGNORECASE,
)

_ONES = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
]
_TENS = {
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "fifty": 50,
    "sixty": 60,
    "seventy": 70,
    "eighty": 80,
    "ninety": 90,
}


def _number_words() -> dict[str, int]:
    """English number words 0-99, compounds written with a hyphen or a space ("twenty-one")."""
    words = {word: value for value, word in enumerate(_ONES)}
    for tens, value in _TENS.items():
        words[tens] = value
        for unit, unit_value in zip(_ONES[1:10], range(1, 10), strict=True):
            words[f"{tens}-{unit}"] = words[f"{tens} {unit}"] = value + unit_value
    return words


NUMBER_WORDS: dict[str, int] = _number_words()
# The one spelling of each number 0-99 (compounds with a hyphen: "twenty-one").
NUMBER_NAMES: dict[int, str] = {
    value: word for word, value in NUMBER_WORDS.items() if " " not in word
}
_WORD_RE = re.compile(
    r"\b(" + "|".join(sorted(map(re.escape, NUMBER_WORDS), key=len, reverse=True)) + r")\b",
    re.IGNORECASE,
)
# What joins two numbers of a range or a list: "3-5", "3 to 5", "3 or 4", "3, 4" (\u2013: en dash).
_JOINER_RE = re.compile(r"\s*(?:-|\u2013|to|or|and|,|/)\s*", re.IGNORECASE)
_COUNTED_NOUN_RE = re.compile(
    r"\s+(?:[a-z-]+\s+)?(?:patch|patches|region|regions)\b", re.IGNORECASE
)

_ARTICLES = frozenset({"a", "an", "the"})
_PUNCTUATION_RE = re.compile(r"[^\w\s]|_")


def _canonical(text: str) -> str:
    """Lower case, punctuation to spaces, one space between words, "needle leaf" -> "needleleaf"."""
    words = " ".join(_PUNCTUATION_RE.sub(" ", text.lower()).split())
    return words.replace("needle leaf", "needleleaf").replace("broad leaf", "broadleaf")


def _class_aliases() -> dict[str, int]:
    """Canonical official and short names of every CGLS-LC100 class -> its code."""
    aliases: dict[str, int] = {}
    for code, cls in CLASSES.items():
        aliases[_canonical(cls.name)] = code
        aliases[_canonical(cls.short_name)] = code
    return aliases


_CLASS_ALIASES = _class_aliases()
_CLASS_RE = re.compile(
    r"\b(" + "|".join(sorted(map(re.escape, _CLASS_ALIASES), key=len, reverse=True)) + r")\b"
)
_BARE_CODE_RE = re.compile(r"\s*(\d+)(?:\.0*)?\s*[.!]?\s*")


def parse_land_cover(answer: str | int | float | None) -> int | None:
    """CGLS-LC100 class code named by ``answer``, or None.

    Accepts a bare class code (``40``, ``"40"``) or text naming a class by its official or short
    name (``reo_core.landcover.CLASSES``), case and punctuation ignored. When several names occur,
    the longest match wins ("closed evergreen broadleaf forest" over a shorter name elsewhere); two
    different classes tied for the longest match give None.
    """
    if answer is None or isinstance(answer, bool):
        return None
    if isinstance(answer, (int, float)):
        code = int(answer) if math.isfinite(answer) and float(answer).is_integer() else None
        return code if code in CLASSES else None
    bare = _BARE_CODE_RE.fullmatch(answer)
    if bare:
        code = int(bare.group(1))
        return code if code in CLASSES else None
    matches = _CLASS_RE.findall(_canonical(answer))
    if not matches:
        return None
    longest = max(len(m) for m in matches)
    codes = {_CLASS_ALIASES[m] for m in matches if len(m) == longest}
    return codes.pop() if len(codes) == 1 else None


def _to_float(token: str) -> float:
    return float(token.replace(",", ""))


def parse_count(answer: str | None) -> int | None:
    """Non-negative integer count stated by ``answer`` ("3", "three", "There are 4 patches"), or
    None.

    Digits and English number words 0-99 are read. One distinct number is the answer; with several,
    the one right before "patch(es)"/"region(s)" (one optional word between) is, if it is unique and
    no two numbers form a range or a list ("3 to 5 patches", "3 or 4 patches" give None).
    Negative or fractional numbers give None.
    """
    if not answer:
        return None
    found = sorted(
        [(m.start(), m.end(), _to_float(m.group())) for m in _NUMBER_RE.finditer(answer)]
        + [
            (m.start(), m.end(), float(NUMBER_WORDS[m.group().lower()]))
            for m in _WORD_RE.finditer(answer)
        ]
    )
    values = {value for _, _, value in found}
    if len(values) > 1:
        if any(
            _JOINER_RE.fullmatch(answer, left[1], right[0])
            for left, right in itertools.pairwise(found)
        ):
            return None
        values = {v for _, end, v in found if _COUNTED_NOUN_RE.match(answer, end)}
    if len(values) != 1:
        return None
    value = values.pop()
    return int(value) if value >= 0 and value.is_integer() else None


def normalize_answer(answer: str | None) -> str | None:
    """Canonical short answer for exact-match VQA scoring, or None when nothing is left.

    Lower case; punctuation becomes spaces; articles (a, an, the) are dropped; number words become
    digits ("three" -> "3"); an answer that starts with yes or no is just "yes" / "no"
    ("Yes, there is cropland." -> "yes").
    """
    if answer is None:
        return None
    words = [w for w in _PUNCTUATION_RE.sub(" ", answer.lower()).split() if w not in _ARTICLES]
    if not words:
        return None
    if words[0] in ("yes", "no"):
        return words[0]
    return " ".join(str(NUMBER_WORDS[w]) if w in NUMBER_WORDS else w for w in words)


def parse_yes_no(answer: str | None) -> str | None:
    """``"yes"`` or ``"no"`` when ``answer`` starts with that word (case, punctuation ignored), else
    None."""
    normalized = normalize_answer(answer)
    return normalized if normalized in ("yes", "no") else None


def parse_agb(answer: str | None) -> float | None:
    """Above-ground biomass stated by ``answer``, in Mg/ha ("123.4 Mg/ha" -> 123.4), or None.

    Units understood: Mg/ha = t/ha = tonnes per hectare (x1), kg/m^2 (x10), kg/ha (x0.001); a number
    without a unit is taken as Mg/ha. Every number in the text must state the same value after
    conversion ("12 kg/m2 (120 Mg/ha)" -> 120.0); two different values ("100 to 140 Mg/ha", "in
    2020: 120 Mg/ha") or no number give None.
    """
    if not answer:
        return None
    values: set[float] = set()
    for match in _QUANTITY_RE.finditer(answer):
        value = _to_float(match.group(1))
        for group, factor in enumerate(_UNIT_FACTORS, start=2):
            if match.group(group):
                value *= factor
        values.add(round(value, 9))  # 9 decimals: conversions that agree compare equal
    if len(values) != 1:
        return None
    value = values.pop()
    return value if math.isfinite(value) else None
