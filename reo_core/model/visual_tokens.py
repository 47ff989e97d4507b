"""Visual tokens: which vision layers feed the regression head, and how tokens are pooled.

Token budget for the LLM: each image's grid of patch tokens (24 x 24 = 576 for CLIP ViT-L/14 at
336 px) is average-pooled ``pool`` x ``pool`` after the projector, so the LLM reads (24/pool)^2
tokens per image; speed at map scale depends on it (docs/benchmarks.md).

Token selection for the regression head (paper, section 5.5 and table 5): hidden states of several
encoder layers, from the same vision forward pass that feeds the LLM.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from reo_core.model.config import TOKEN_STRATEGIES


def select_layers(strategy: str, num_layers: int) -> list[int]:
    """Encoder layers (1 = first, ``num_layers`` = last) whose outputs feed the regression head.

    The paper's four strategies (its section 5.5 and table 5, named as the table names them):

    - ``last_layer``: the last layer only ("Last layer").
    - ``half_layers``: every second layer counted from the top, L, L-2, ..., L/2 layers in all
      ("extract features from every two layers"; table 5's "Half layers", the paper's best).
    - ``half_layers_deep``: L/2 layers, sparse in the shallow half and dense in the deep half: a
      third of them spread over layers 1..L/2, two thirds over L/2+1..L ("Half layers (deep)").
    - ``all_layers``: every layer ("All layer").

    And one that is not the paper's, kept so that models trained with it read what their head
    learned:

    - ``even_spread``: L/2 layers spread evenly from the first to the last (REO's first reading of
      "half layers", saved as ``half`` by REO 1.0).
    """
    if num_layers < 1:
        raise ValueError(f"the vision encoder needs at least 1 layer, got {num_layers}")
    half = max(1, num_layers // 2)
    if strategy == "last_layer":
        layers = [num_layers]
    elif strategy == "half_layers":
        layers = list(range(num_layers, 0, -2))[:half]
    elif strategy == "half_layers_deep":
        shallow_end = num_layers // 2
        n_shallow = half // 3
        shallow = _spread(1, max(shallow_end, 1), n_shallow)
        layers = shallow + _spread(shallow_end + 1, num_layers, half - n_shallow)
    elif strategy == "all_layers":
        layers = list(range(1, num_layers + 1))
    elif strategy == "even_spread":
        layers = _spread(1, num_layers, half)
    else:
        raise ValueError(
            f"unknown token strategy '{strategy}'; choose one of {', '.join(TOKEN_STRATEGIES)}"
        )
    return sorted(set(layers))


def _spread(first: int, last: int, count: int) -> list[int]:
    """``count`` layers spread evenly over ``first..last`` (rounded to the nearest layer)."""
    if count < 1:
        return []
    return np.round(np.linspace(first, last, count)).astype(int).tolist()


def grid_side(num_tokens: int) -> int:
    """Side of the square token grid of ``num_tokens`` patch tokens."""
    side = math.isqrt(num_tokens)
    if side * side != num_tokens:
        raise ValueError(f"{num_tokens} patch tokens do not form a square grid")
    return side


def pool_patch_tokens(tokens: torch.Tensor, pool: int) -> torch.Tensor:
    """Average-pool a square grid of tokens ``pool`` x ``pool``.

    Args:
        tokens: (N, G*G, D)
    Returns:
        (N, (G/pool)^2, D)
    """
    if pool == 1:
        return tokens
    n, count, dim = tokens.shape
    side = grid_side(count)
    if side % pool:
        raise ValueError(f"visual_token_pool {pool} does not divide the {side} x {side} token grid")
    grid = tokens.transpose(1, 2).reshape(n, dim, side, side)  # (N, D, G, G)
    pooled = F.avg_pool2d(grid, pool)  # (N, D, G/pool, G/pool)
    return pooled.flatten(2).transpose(1, 2)


def head_tokens(hidden: torch.Tensor, grid: int) -> torch.Tensor:
    """The regression head's tokens of one layer: the CLS token (if any) and a pooled grid.

    Args:
        hidden: (N, [1 +] G*G, D) one layer's hidden states.
    Returns:
        (N, [1 +] grid*grid, D)
    """
    has_cls = math.isqrt(hidden.shape[1]) ** 2 != hidden.shape[1]
    patches = hidden[:, 1:] if has_cls else hidden
    n, count, dim = patches.shape
    side = grid_side(count)
    pooled = F.adaptive_avg_pool2d(patches.transpose(1, 2).reshape(n, dim, side, side), grid)
    pooled = pooled.flatten(2).transpose(1, 2)  # (N, grid*grid, D)
    return torch.cat([hidden[:, :1], pooled], dim=1) if has_cls else pooled


def pool_sequence(states: torch.Tensor, mask: torch.Tensor, count: int) -> torch.Tensor:
    """Average the masked positions of each sequence into ``count`` contiguous chunks.

    Domain-text answers vary in length; the head needs a fixed number of text tokens.

    Args:
        states: (B, L, D); mask: (B, L) bool, True where a position belongs to the text.
    Returns:
        (B, count, D). A sequence with fewer than ``count`` positions repeats them.
    """
    lengths = mask.sum(dim=1)  # (B,)
    if bool((lengths == 0).any()):
        raise ValueError(
            "every sample needs at least one domain-text token for the regression head"
        )
    rank = (
        mask.long().cumsum(dim=1) - 1
    )  # (B, L): index of each masked position among its sequence's
    chunk = torch.arange(count, device=states.device)[None, :, None]  # (1, K, 1)
    start = (chunk * lengths[:, None, None]) // count  # (B, K, 1)
    stop = torch.maximum(((chunk + 1) * lengths[:, None, None] + count - 1) // count, start + 1)
    inside = (rank[:, None, :] >= start) & (rank[:, None, :] < stop) & mask[:, None, :]  # (B, K, L)
    weights = inside.to(states.dtype)
    weights = weights / weights.sum(dim=-1, keepdim=True)
    return weights @ states  # (B, K, D)
