"""Greedy decoding for REO-VLM: the lean decoder inference uses, beside Hugging Face's ``generate``.

The regression head reads one thing from generation: the last layer's state of the ``ASSISTANT:``
cue and of every generated token fed back before EOS. Hugging Face's
``generate(output_hidden_states=True)`` keeps every layer's states of every step (90 GB at batch 32
on the paper's shape, issue 14) and computes the LM head over the whole prompt at prefill. The lean
decoder calls the LLM's decoder stack directly, keeps only the last layer's state of the newest
position, applies the LM head to that one position, and stops when every row has said EOS. It
returns the same tokens and states as ``generate`` (tests/infer/test_levers.py): the same position
ids (``cumsum(mask) - 1`` over left padding), the same mask (dropped when there is no padding), the
same greedy rule (first maximum), and padding after EOS.

Options (``DecodeOptions``):

- ``static_cache``: a pre-allocated KV cache (``transformers.StaticCache``) of prompt + answer
  length instead of one that grows, so every step has the same shapes;
- ``compile``: the decode step through ``torch.compile(mode="reduce-overhead")``, which captures
  CUDA graphs on a GPU (needs ``static_cache``: with it and a mask as long as the cache every step
  has the same shapes, one graph for all steps; the prefill is not compiled; the first batch pays
  the compilation);
- ``float32_logits``: the LM head in float32 over a bf16/fp16 model, so the choice between two
  nearly equal tokens is not decided by the rounding of the logits to 8 bits of mantissa (what
  made bf16 GPU and fp32 CPU answers differ, issue 14). No effect on a float32 model.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from torch import nn

from reo_core.errors import check_choice

if TYPE_CHECKING:
    from transformers import Cache

DECODERS = ("lean", "hf")
# ``constraint(generated (B, n), scores (B, V)) -> scores``: the logits-processor signature of
# transformers, so one constraint serves both decoders (reo_core.model.constrained).
Constraint = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class DecodeOptions:
    """How ``ReoVLM.generate`` decodes; every option keeps greedy decoding's answers."""

    decoder: str = "lean"  # lean | hf (transformers' generate: the reference path)
    static_cache: bool = False  # pre-allocated KV cache (fixed shapes; CUDA graphs need it)
    compile: bool = False  # torch.compile the decode step (CUDA graphs on a GPU)
    float32_logits: bool = True  # the LM head in float32 on bf16/fp16 models (lean decoder)
    min_new_tokens: int = 0  # EOS is not allowed before this many tokens (equal work in benchmarks)

    def __post_init__(self) -> None:
        check_choice("decoder", self.decoder, DECODERS)
        if self.compile and not self.static_cache:
            raise ValueError("compile needs static_cache (CUDA graphs need fixed shapes)")
        if self.decoder == "hf" and (self.static_cache or self.compile):
            raise ValueError("static_cache and compile are options of the lean decoder")


@dataclass
class Decoded:
    """Greedy answers and the last-layer states the regression head reads."""

    tokens: torch.Tensor  # (B, n) generated ids, pad after EOS
    states: torch.Tensor  # (B, n, D): cue, then every generated token but the last, fed back


def prompt_positions(attention_mask: torch.Tensor) -> torch.Tensor:
    """Position ids of left-padded prompts: 0 at each row's first real token (pads get 0).

    Args:
        attention_mask: (B, L), 0 on padding.
    Returns:
        (B, L) long.
    """
    positions = attention_mask.long().cumsum(-1) - 1
    return positions.masked_fill(attention_mask == 0, 0)


class LeanDecoder:
    """Greedy decoding on a ``LlavaForConditionalGeneration`` from prompt embeddings.

    Args:
        llava: the LLaVA model (LoRA merged or not: its modules are called as they are).
        eos_token_id, pad_token_id: end of answer, and what follows it.
        options: cache and compilation choices.
    """

    def __init__(
        self, llava: nn.Module, eos_token_id: int, pad_token_id: int, options: DecodeOptions
    ) -> None:
        self.llava = llava
        self.eos, self.pad = eos_token_id, pad_token_id
        self.options = options
        self._head32: torch.Tensor | None = None  # float32 copy of the LM head, per decode call
        self._step = self._forward  # the decode step; the prefill (other shapes) is never compiled
        if options.compile:
            self._step = torch.compile(self._forward, mode="reduce-overhead", fullgraph=False)

    @property
    def language_model(self) -> nn.Module:
        return self.llava.model.language_model

    @torch.no_grad()
    def decode(
        self,
        embeds: torch.Tensor,
        attention_mask: torch.Tensor,
        max_new_tokens: int,
        constraint: Constraint | None = None,
    ) -> Decoded:
        """Greedy answers of left-padded prompts.

        Args:
            embeds: (B, L, D) prompt embeddings (image tokens already in place).
            attention_mask: (B, L), 0 on left padding.
        """
        batch, length = attention_mask.shape
        self._head32 = None
        padded = not bool(attention_mask.all())
        cache = self._cache(batch, length + max_new_tokens, embeds)
        positions = prompt_positions(attention_mask)
        mask = attention_mask if padded or self.options.static_cache else None
        state = self._forward(embeds, mask, positions, cache)  # (B, D): the cue
        if self.options.static_cache:
            # One mask as long as the cache for every decode step, so the step's shapes never
            # change (CUDA graphs); slots not yet written are past each query, hence masked anyway.
            mask = torch.cat([attention_mask, attention_mask.new_ones((batch, max_new_tokens))], 1)
        states, tokens = [state], []
        finished = torch.zeros(batch, dtype=torch.bool, device=embeds.device)
        embed_tokens = self.llava.get_input_embeddings()
        for step in range(max_new_tokens):
            scores = self._logits(state)  # (B, V) float32
            if constraint is not None:
                scores = constraint(_stacked(tokens, batch, scores.device), scores)
            if step < self.options.min_new_tokens:
                scores[:, self.eos] = float("-inf")
            chosen = scores.argmax(dim=-1).masked_fill(finished, self.pad)
            tokens.append(chosen)
            finished = finished | (chosen == self.eos)
            if step == max_new_tokens - 1 or bool(finished.all()):
                break
            positions = positions[:, -1:] + 1
            if mask is not None and not self.options.static_cache:
                mask = torch.cat([mask, mask.new_ones((batch, 1))], dim=1)
            state = self._step(embed_tokens(chosen[:, None]), mask, positions, cache)
            states.append(state)
        return Decoded(torch.stack(tokens, dim=1), torch.stack(states, dim=1))

    def _cache(self, batch: int, max_length: int, embeds: torch.Tensor) -> Cache:
        from transformers import DynamicCache, StaticCache

        config = self.language_model.config
        if not self.options.static_cache:
            return DynamicCache(config=config)
        return StaticCache(config=config, max_cache_len=max_length)

    def _forward(
        self, embeds: torch.Tensor, mask: torch.Tensor, positions: torch.Tensor, cache: Cache
    ) -> torch.Tensor:
        """One pass of the decoder stack over new positions; the newest position's state (B, D)."""
        out = self.language_model(
            inputs_embeds=embeds,
            attention_mask=mask,
            position_ids=positions,
            cache=cache,
            use_cache=True,
        )
        return out.last_hidden_state[:, -1]

    def _logits(self, state: torch.Tensor) -> torch.Tensor:
        """LM head over one position per row, as float32 (B, V)."""
        head = self.llava.get_output_embeddings()
        if not self.options.float32_logits or state.dtype == torch.float32:
            return head(state).float()
        if self._head32 is None:
            self._head32 = _active_linear(head).weight.float()  # (V, D)
        return state.float() @ self._head32.T


def _active_linear(head: nn.Module) -> nn.Module:
    """The LM head's linear layer, through peft's modules_to_save wrapper when there is one."""
    copies = getattr(head, "modules_to_save", None)
    if copies is None:
        return head
    active = head.active_adapter
    return copies[active if isinstance(active, str) else active[0]]


def _stacked(tokens: list[torch.Tensor], batch: int, device: torch.device) -> torch.Tensor:
    """The ids generated so far as (B, n); (B, 0) before the first step."""
    if not tokens:
        return torch.zeros((batch, 0), dtype=torch.long, device=device)
    return torch.stack(tokens, dim=1)


def answer_mask(tokens: torch.Tensor, count: int, eos_token_id: int) -> torch.Tensor:
    """Which of ``count`` answer states the head reads: the cue, and tokens before the first EOS.

    State 0 is the cue; state k >= 1 is that of generated token k - 1. Token k - 1 is read when no
    EOS came before it or at it.

    Args:
        tokens: (B, n) generated ids.
    Returns:
        (B, count) bool.
    """
    fed = tokens[:, : count - 1]  # (B, count - 1)
    before_eos = torch.cumsum((fed == eos_token_id).long(), dim=1) == 0
    cue = torch.ones((tokens.shape[0], 1), dtype=torch.bool, device=tokens.device)
    return torch.cat([cue, before_eos], dim=1)
