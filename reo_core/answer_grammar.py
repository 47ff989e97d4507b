"""The answers the templates can give, as a grammar that can tell whether a text may still become
one.

Each REO-Instruct answer pattern ("There {is_are} {count} ecological {patches}.") becomes a sequence
of parts: fixed text, a choice among strings (class names, "patch" / "patches") or an integer in a
range (counts, shares). A :class:`Grammar` is a set of such sequences; it answers two questions
character by character, which is what constrained decoding needs (``reo_core.model.constrained``):

- ``advance(states, text)``: the grammar positions after reading ``text`` (empty: ``text`` cannot
  start any answer);
- ``accepts(states)``: whether the text read so far is a whole answer.

The slot values come from where the dialogues get theirs (``reo_core.instruct.dialogues``), so an
answer the model learned is always in the grammar.
"""

from __future__ import annotations

import itertools
import string
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache

from reo_core.instruct.dialogues import PatchFacts, template_values
from reo_core.instruct.templates import PRESENCE_TARGETS, Template
from reo_core.landcover import CLASSES, HUMAN_ACTIVITY_CODES

UNKNOWN_CODE = 0  # "Unknown" is no answer to a land-cover question
MAX_PATCHES = 625  # a 25 x 25 patch has at most 625 ecological patches (every pixel its own)
NUMBER_WORDS_UP_TO = 20  # counts up to twenty are also written as words ({count_word})


@dataclass(frozen=True)
class Choice:
    """One of several strings."""

    options: tuple[str, ...]

    def can_extend(self, prefix: str) -> bool:
        return any(option.startswith(prefix) for option in self.options)

    def is_complete(self, text: str) -> bool:
        return text in self.options

    def values(self) -> tuple[str, ...]:
        return self.options


@dataclass(frozen=True)
class Integer:
    """A whole number in ``low..high``, written in digits without leading zeros."""

    low: int
    high: int

    def can_extend(self, prefix: str) -> bool:
        if prefix == "":
            return True
        if not prefix.isdigit() or (prefix[0] == "0" and len(prefix) > 1):
            return False
        value = int(prefix)
        for extra in range(len(str(self.high)) - len(prefix) + 1):
            first, last = value * 10**extra, value * 10**extra + 10**extra - 1
            if first <= self.high and last >= self.low and not (extra and value == 0):
                return True
        return False

    def is_complete(self, text: str) -> bool:
        return self.can_extend(text) and text != "" and self.low <= int(text) <= self.high

    def values(self) -> tuple[str, ...]:
        return tuple(str(n) for n in range(self.low, self.high + 1))


Part = Choice | Integer
# A position in the grammar: (sequence, part, the text of that part read so far).
State = tuple[int, int, str]


class Grammar:
    """A finite set of part sequences; texts are read into sets of :data:`State`."""

    def __init__(self, sequences: Iterable[Sequence[Part]]) -> None:
        unique = list(dict.fromkeys(tuple(s) for s in sequences if s))
        if not unique:
            raise ValueError("a grammar needs at least one answer")
        self.sequences: tuple[tuple[Part, ...], ...] = tuple(unique)
        self._advanced: dict[tuple[frozenset, str], frozenset] = {}

    def start(self) -> frozenset[State]:
        return self._closure({(index, 0, "") for index in range(len(self.sequences))})

    def advance(self, states: frozenset[State], text: str) -> frozenset[State]:
        """The states after reading ``text``; empty when it leads out of the grammar."""
        for char in text:
            if not states:
                break
            key = (states, char)
            if key not in self._advanced:
                self._advanced[key] = self._step(states, char)
            states = self._advanced[key]
        return states

    def accepts(self, states: frozenset[State]) -> bool:
        """True when the text read so far is a whole answer."""
        return any(
            part == len(self.sequences[seq]) - 1 and self.sequences[seq][part].is_complete(text)
            for seq, part, text in states
        )

    def matches(self, text: str) -> bool:
        return self.accepts(self.advance(self.start(), text))

    def examples(self) -> Iterable[str]:
        """Every answer of the grammar (small grammars only: integers make many)."""
        for sequence in self.sequences:
            for values in itertools.product(*(part.values() for part in sequence)):
                yield "".join(values)

    def _step(self, states: frozenset[State], char: str) -> frozenset[State]:
        moved = set()
        for seq, part, text in states:
            if self.sequences[seq][part].can_extend(text + char):
                moved.add((seq, part, text + char))
        return self._closure(moved)

    def _closure(self, states: set[State]) -> frozenset[State]:
        """Add the start of the next part wherever the current part is complete."""
        pending, closed = list(states), set(states)
        while pending:
            seq, part, text = pending.pop()
            parts = self.sequences[seq]
            if part + 1 < len(parts) and parts[part].is_complete(text):
                following = (seq, part + 1, "")
                if following not in closed:
                    closed.add(following)
                    pending.append(following)
        return frozenset(closed)


# --- from the templates ---------------------------------------------------------------------------
def pattern_sequences(
    pattern: str, class_codes: Sequence[int], target: int | None = None
) -> list[tuple[Part, ...]]:
    """The part sequences of one answer pattern, its first letter upper case as the dialogues write
    it.

    ``target`` fills ``{target}`` / ``{target_bare}`` (a PRESENCE_TARGETS code); a pattern with
    those placeholders and no target gives no sequence.
    """
    alternatives: list[list[Part]] = [[]]
    for literal, field, _, _ in string.Formatter().parse(pattern):
        options = [[Choice((literal,))]] if literal else [[]]
        if field is not None:
            slot = _slot(field, class_codes, target)
            if slot is None:
                return []
            options = [option + alternative for option in options for alternative in slot]
        alternatives = [done + option for done in alternatives for option in options]
    return [_capitalised(tuple(parts)) for parts in alternatives if parts]


def _slot(field: str, class_codes: Sequence[int], target: int | None) -> list[list[Part]] | None:
    """The alternatives of one placeholder; None when it cannot be filled."""
    codes = [c for c in class_codes if c != UNKNOWN_CODE]
    if field == "name":
        return [[Choice(tuple(CLASSES[c].name for c in codes))]]
    if field == "short":
        return [[Choice(tuple(CLASSES[c].short_name for c in codes))]]
    if field in ("share",):
        return [[Integer(0, 100)]]
    if field == "count":
        return [[Integer(0, MAX_PATCHES)]]
    if field == "count_word":
        words = tuple(
            placeholder_values(count=n)["count_word"] for n in range(NUMBER_WORDS_UP_TO + 1)
        )
        return [[Choice(words)], [Integer(NUMBER_WORDS_UP_TO + 1, MAX_PATCHES)]]
    if field in ("patches", "regions", "is_are"):
        return [[Choice(tuple(placeholder_values(count=n)[field] for n in (1, 2)))]]
    if field in ("activities", "activity_clause"):
        return [[Choice(tuple(placeholder_values(activities=a)[field] for a in activity_sets()))]]
    if field in ("target", "target_bare"):
        if target is None:
            return None
        with_article, bare = PRESENCE_TARGETS[target]
        return [[Choice((with_article if field == "target" else bare,))]]
    raise ValueError(f"answer placeholder {{{field}}} has no grammar; add it to answer_grammar")


def placeholder_values(count: int = 2, activities: tuple[int, ...] = ()) -> dict:
    """The dialogues' placeholder values for a patch with ``count`` patches and ``activities``."""
    facts = PatchFacts(land_cover=20, share=50, count=count, activities=activities, agb=0.0)
    return template_values(facts)


@cache
def activity_sets() -> tuple[tuple[int, ...], ...]:
    """Every set of human-activity classes a patch can hold: (), (40,), (50,), (40, 50)."""
    codes = sorted(HUMAN_ACTIVITY_CODES)
    return tuple(
        combo for size in range(len(codes) + 1) for combo in itertools.combinations(codes, size)
    )


def _capitalised(parts: tuple[Part, ...]) -> tuple[Part, ...]:
    """The dialogues upper-case an answer's first letter (``reo_core.instruct.dialogues._fill``)."""
    first = parts[0]
    if isinstance(first, Integer):
        return parts
    upper = tuple(option[:1].upper() + option[1:] for option in first.options)
    return (Choice(tuple(dict.fromkeys(upper))), *parts[1:])


def template_grammar(
    templates: Iterable[Template],
    class_codes: Sequence[int],
    outcomes: Iterable[str] | None = None,
    target: int | None = None,
) -> Grammar:
    """Every answer of ``templates`` (of the given outcomes, e.g. "yes" / "no")."""
    sequences = []
    for template in templates:
        for outcome, pattern in template.answers.items():
            if outcomes is None or outcome in outcomes:
                sequences += pattern_sequences(pattern, class_codes, target)
    return Grammar(sequences)
