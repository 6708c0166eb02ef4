"""Convolutional network as a backbone: residual dilated 1-D convolutions.

Blocks ``x + dropout(conv1x1(GELU(dilated_conv(LayerNorm(x)))))`` with dilations 1, 2, 4, … so that each output
position can see the whole sequence (the number of blocks is derived from the sequence length unless given),
optionally causal; padding is zeroed before every convolution. CNNs are local: the receptive field, recorded as
``receptive_field``, is what lets them reach far. Images go through the model's 2-D conv stem
(``image_as: conv`` in ``conf/arch/cnn.yaml``), whose feature map the blocks then read as a sequence.

For sequence outputs its own decoder is ConvS2S-style (Gehring et al. 2017): causal conv blocks, each followed by
attention over the encoder output (``architectures.seq2seq.ConvDecoder``); the YAML gives it learned positions.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from architectures.layers import Layer
from architectures.model import Backbone
from architectures.seq2seq import ConvDecoder
from core.errors import ConfigError
from tasks.base import TaskSpec


def blocks_to_cover(length: int, reach_per_dilation: int) -> int:
    """Smallest n such that dilations 1, 2, …, 2ⁿ⁻¹ reach back ``length − 1`` positions."""
    n = 1
    while reach_per_dilation * (2**n - 1) < length - 1:
        n += 1
    return n


class ConvBlock1d(Layer):
    """(B, L, C) → (B, L, C): pre-norm residual dilated convolution (causal: sees only the past)."""

    def __init__(self, channels: int, kernel_size: int, dilation: int, dropout: float, causal: bool):
        super().__init__()
        self.norm = nn.LayerNorm(channels)
        self.conv = nn.Conv1d(channels, channels, kernel_size, dilation=dilation)
        self.mix = nn.Conv1d(channels, channels, 1)
        self.span = dilation * (kernel_size - 1)
        self.pad = (self.span, 0) if causal else (self.span // 2, self.span - self.span // 2)
        self.drop = nn.Dropout(dropout)

    def forward(self, x, pad=None):
        """x (B, L, C); ``pad`` (B, L) positions are zeroed before the convolution."""
        h = self.norm(x)  # (B, L, C)
        if pad is not None:
            h = h.masked_fill(pad[..., None], 0.0)
        h = self.mix(F.gelu(self.conv(F.pad(h.transpose(1, 2), self.pad))))  # (B, C, L)
        return x + self.drop(h.transpose(1, 2))

    def step(self, x, state=None):
        """Causal only. A rolling buffer of the last span + 1 normalised inputs (B, span + 1, C)."""
        h = self.norm(x)  # (B, 1, C)
        buf = F.pad(h, (0, 0, self.span, 0)) if state is None else torch.cat([state[:, 1:], h], 1)
        y = self.mix(F.gelu(self.conv(buf.transpose(1, 2))))  # (B, C, 1)
        return x + self.drop(y.transpose(1, 2)), buf


class CNN(Backbone):
    """Residual dilated 1-D CNN.

    Args:
        max_len: longest sequence; with ``n_layers: null`` the receptive field covers it.
        channels: width of the blocks.
        kernel_size: kernel size (odd, ≥ 3 for non-causal convolutions).
        n_layers: blocks; null = as many as it takes for the receptive field to cover ``max_len``.
        causal: convolutions see only the past.
        dropout: on residual branches and after the final LayerNorm.
        n_heads: seq2seq only: heads of the decoder's attention over the encoder output (1 as in ConvS2S).
    """

    def __init__(
        self,
        max_len: int,
        *,
        channels: int,
        kernel_size: int,
        n_layers: int | None,
        causal: bool,
        dropout: float,
        n_heads: int,
    ):
        super().__init__()
        if channels < 1:
            raise ConfigError(f"arch.channels={channels} must be at least 1")
        if kernel_size < 2 or (not causal and kernel_size < 3):
            raise ConfigError(f"arch.kernel_size={kernel_size} is too small: use ≥ 3 (or ≥ 2 with causal=true)")
        if n_layers is None:
            n_layers = blocks_to_cover(max_len, (kernel_size - 1) if causal else (kernel_size - 1) // 2)
        if n_layers < 1:
            raise ConfigError(f"arch.n_layers={n_layers} must be at least 1 (or null to cover the sequence)")
        self.width = self.out_width = channels
        self.causal, self.kernel_size, self.dropout, self.n_heads = causal, kernel_size, dropout, n_heads
        self.layers = nn.ModuleList(ConvBlock1d(channels, kernel_size, 2**i, dropout, causal) for i in range(n_layers))
        self.final = nn.Sequential(nn.LayerNorm(channels), nn.Dropout(dropout))
        self.receptive_field = 1 + (kernel_size - 1) * (2**n_layers - 1)

    def describe(self) -> dict:
        return {"receptive_field": self.receptive_field, "n_layers": len(self.layers)}

    def own_decoder(self, spec: TaskSpec, *, n_layers, tie_embeddings, pos_encoding, scale_embedding):
        k, C = self.kernel_size, self.width
        return ConvDecoder(
            spec,
            channels=C,
            n_layers=n_layers or blocks_to_cover(spec.tgt_max_len, k - 1),
            n_heads=self.n_heads,
            dropout=self.dropout,
            tie_embeddings=tie_embeddings,
            conv_block=lambda i: ConvBlock1d(C, k, 2**i, self.dropout, causal=True),
        )
