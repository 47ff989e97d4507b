"""Answer-type-constrained decoding: at each step only tokens that keep the answer inside a grammar.


A :class:`GrammarConstraint` is a transformers logits processor (``(generated, scores) -> scores``),
so the lean decoder and ``generate`` use the same one. For each row it reads the text generated so
far into grammar states (``reo_core.answer_grammar``) and allows exactly the tokens whose text keeps
a whole answer reachable, and EOS once the text is a whole answer. Greedy decoding then picks the
model's most likely token among those: a land-cover question can only be answered with a
land-cover answer, a count question with a count, a yes/no question with yes or no.

Which tokens a set of grammar states allows is found by walking the vocabulary's character trie
together with the grammar (only prefixes the grammar accepts are visited) and kept per state set,
so after the first batches a step costs a dictionary lookup per row.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from reo_core.answer_grammar import Choice, Grammar

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

# The answer text starts after "ASSISTANT:"; training encodes answers as " " + answer, and some
# tokenizers fold that space into the first token, others make it a token of its own.
LEADING_SPACE = Choice(("", " "))
# Answers seen per constraint before its prefix cache starts again (bounds memory on big maps).
MAX_CACHED_PREFIXES = 200_000


class VocabularyTrie:
    """The decoded text of every token of a tokenizer, as a character trie.

    A token's text is what it adds after a plain token ("a"), so a SentencePiece "▁the" is " the"
    as a byte-level "Ġthe" is. Special tokens and texts that are not printable ASCII are left out:
    no answer of the templates needs them.
    """

    def __init__(self, tokenizer: PreTrainedTokenizerBase) -> None:
        self.size = len(tokenizer)
        anchor = tokenizer("a", add_special_tokens=False)["input_ids"][-1]
        prefix = tokenizer.decode([anchor])
        special = set(tokenizer.all_special_ids)
        decoded = tokenizer.batch_decode([[anchor, i] for i in range(self.size)])
        self.root: dict = {}
        self.texts: list[str | None] = []
        for token_id, text in enumerate(decoded):
            text = text[len(prefix) :] if text.startswith(prefix) else None
            if token_id in special or not text or not (text.isascii() and text.isprintable()):
                text = None
            self.texts.append(text)
            if text is not None:
                node = self.root
                for char in text:
                    node = node.setdefault(char, {})
                node.setdefault(None, []).append(token_id)


class GrammarConstraint:
    """A logits processor keeping every row's answer inside ``grammar`` until its EOS.

    Args:
        grammar: the answers allowed (``reo_core.infer.answer_types.answer_grammar``).
        vocabulary: the tokenizer's :class:`VocabularyTrie` (built once per tokenizer).
        eos_token_id: allowed once the text is a whole answer; a row that has said it is free.
    """

    def __init__(self, grammar: Grammar, vocabulary: VocabularyTrie, eos_token_id: int) -> None:
        self.answers = grammar
        self.grammar = Grammar((LEADING_SPACE, *sequence) for sequence in grammar.sequences)
        self.vocabulary = vocabulary
        self.eos = eos_token_id
        self._states: dict[tuple[int, ...], frozenset] = {(): self.grammar.start()}
        self._allowed: dict[frozenset, torch.Tensor] = {}

    def __call__(self, generated: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        """Scores (B, V) with every token the grammar does not allow at -inf.

        Args:
            generated: (B, n) the ids generated so far (the prompt is not in it).
        """
        masks = []
        for row in generated.tolist():
            if self.eos in row:
                masks.append(None)  # answered; what follows is padding
                continue
            masks.append(self.allowed(self.states(tuple(row))))
        if all(mask is None for mask in masks):
            return scores
        vocab = scores.shape[-1]
        allowed = torch.stack(
            [torch.ones(vocab, dtype=torch.bool) if m is None else _fit(m, vocab) for m in masks]
        ).to(scores.device)
        return scores.masked_fill(~allowed, float("-inf"))

    def states(self, tokens: tuple[int, ...]) -> frozenset:
        """Grammar states after the answer ``tokens`` (cached by prefix)."""
        if tokens not in self._states:
            if len(self._states) > MAX_CACHED_PREFIXES:
                self._states = {(): self.grammar.start()}
            before = self.states(tokens[:-1])
            text = self.vocabulary.texts[tokens[-1]] if tokens[-1] < self.vocabulary.size else None
            self._states[tokens] = self.grammar.advance(before, text) if text else frozenset()
        return self._states[tokens]

    def allowed(self, states: frozenset) -> torch.Tensor:
        """(V,) bool: the tokens allowed after reaching ``states``."""
        if states not in self._allowed:
            mask = torch.zeros(self.vocabulary.size, dtype=torch.bool)
            ids = self._walk(self.vocabulary.root, states)
            if ids:
                mask[ids] = True
            if self.grammar.accepts(states) or not ids:
                mask[self.eos] = True  # a whole answer may end; a dead end ends rather than stalls
            self._allowed[states] = mask
        return self._allowed[states]

    def _walk(self, node: dict, states: frozenset) -> list[int]:
        """Ids of the tokens below ``node`` whose text keeps ``states`` inside the grammar."""
        found: list[int] = []
        stack = [(node, states)]
        while stack:
            current, reached = stack.pop()
            for char, child in current.items():
                if char is None:
                    continue
                moved = self.grammar.advance(reached, char)
                if moved:
                    found += child.get(None, [])
                    stack.append((child, moved))
        return found


def _fit(mask: torch.Tensor, vocab: int) -> torch.Tensor:
    """The mask at the width of the scores (an LM head padded past the tokenizer's size)."""
    if mask.shape[0] == vocab:
        return mask
    if mask.shape[0] > vocab:
        return mask[:vocab]
    return torch.cat([mask, torch.zeros(vocab - mask.shape[0], dtype=torch.bool)])


def longest_answer_tokens(grammar: Grammar, tokenizer: PreTrainedTokenizerBase) -> int:
    """Tokens of the grammar's longest answer as training encodes it (" " + answer, no EOS).

    Per answer pattern, each part takes in turn the value that makes the whole answer longest (one
    pass, the other parts held): exact for tokenizers whose pieces do not cross the spaces and
    punctuation between parts (byte-level BPE), close for others.
    """

    def tokens(values: list[str]) -> int:
        return len(tokenizer(" " + "".join(values), add_special_tokens=False)["input_ids"])

    longest = 0
    for sequence in grammar.sequences:
        chosen = [part.values()[0] for part in sequence]
        for index, part in enumerate(sequence):
            options = part.values()
            if len(options) > 1:
                chosen[index] = max(
                    options, key=lambda v: tokens([*chosen[:index], v, *chosen[index + 1 :]])
                )
        longest = max(longest, tokens(chosen))
    return longest
