"""The regression head (paper, supplementary 4): MLP-Mixer-like layers over visual and text tokens.

Each layer has two stages, both residual:
  token aggregation     x = x + W2 act(W1 LN(x))            (per token, mixes channels)
  knowledge integration x = x + (U2 act(U1 LN(x)^T))^T      (per channel, mixes tokens)
The tokens are then averaged and read out. No dropout: it shifts the variance of hidden units
between training and test, which biases a regression output (the paper's reasoning).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


@dataclass
class HeadOutput:
    """The head's prediction in normalised target units: mean, and log-variance when it has one."""

    mean: torch.Tensor  # (B,)
    log_variance: torch.Tensor | None = None  # (B,)


class TokenMixingBlock(nn.Module):
    """One MLP-Mixer-like layer over ``num_tokens`` tokens of width ``width``."""

    def __init__(self, num_tokens: int, width: int, channel_hidden: int, token_hidden: int) -> None:
        super().__init__()
        self.aggregation_norm = nn.LayerNorm(width)
        self.aggregation = nn.Sequential(
            nn.Linear(width, channel_hidden), nn.GELU(), nn.Linear(channel_hidden, width)
        )
        self.integration_norm = nn.LayerNorm(width)
        # No output bias: it would add one constant to all channels of a token, which the next
        # LayerNorm removes. Such a parameter gets only rounding noise as gradient, and Adam turns
        # that noise into real steps (runs stop being reproducible across process counts).
        self.integration = nn.Sequential(
            nn.Linear(num_tokens, token_hidden),
            nn.GELU(),
            nn.Linear(token_hidden, num_tokens, bias=False),
        )

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """(B, T, C) -> (B, T, C)."""
        tokens = tokens + self.aggregation(self.aggregation_norm(tokens))
        mixed = self.integration(self.integration_norm(tokens).transpose(1, 2))  # (B, C, T)
        return tokens + mixed.transpose(1, 2)


class RegressionHead(nn.Module):
    """Tokens (B, T, in_width) -> AGB in normalised units (and a log-variance with
    ``uncertainty``)."""

    def __init__(
        self,
        num_tokens: int,
        in_width: int,
        width: int,
        depth: int,
        channel_hidden: int,
        token_hidden: int,
        uncertainty: bool = False,
    ) -> None:
        super().__init__()
        self.num_tokens = num_tokens
        self.input = nn.Linear(in_width, width) if in_width != width else nn.Identity()
        self.blocks = nn.ModuleList(
            TokenMixingBlock(num_tokens, width, channel_hidden, token_hidden) for _ in range(depth)
        )
        self.norm = nn.LayerNorm(width)
        self.readout = nn.Linear(width, 2 if uncertainty else 1)
        self.uncertainty = uncertainty

    def forward(self, tokens: torch.Tensor) -> HeadOutput:
        if tokens.shape[1] != self.num_tokens:
            raise ValueError(
                f"the regression head was built for {self.num_tokens} tokens, got {tokens.shape[1]}"
            )
        hidden = self.input(tokens)  # (B, T, W)
        for block in self.blocks:
            hidden = block(hidden)
        out = self.readout(self.norm(hidden).mean(dim=1))  # (B, 1 or 2)
        if self.uncertainty:
            return HeadOutput(mean=out[:, 0], log_variance=out[:, 1].clamp(-10.0, 10.0))
        return HeadOutput(mean=out[:, 0])
