"""Convolutional networks: residual dilated 1-D convolutions for sequences, a small residual 2-D net for images.

Sequences: embedding → blocks ``x + dropout(conv1x1(GELU(dilated_conv(LayerNorm(x)))))`` with dilations
1, 2, 4, … so that each output position can see the whole sequence (the number of blocks is derived from
the sequence length unless given), optionally causal. Images: a conv stem, residual stages that halve the
resolution, and the shared head over the final feature map. CNNs are local: the receptive field, recorded
as ``receptive_field``, is what lets them reach far.

Sequence outputs (seq2seq) are ConvS2S-style: the 1-D stack, with learned source positions and padding zeroed
before every convolution, is the encoder; a causal conv decoder attends over its output after every block
(``architectures.seq2seq.ConvDecoder``).
"""
from __future__ import annotations

import torch.nn as nn
import torch.nn.functional as F

from architectures.layers import Architecture, PositionalEncoding, output_head, padding_mask, sequence_input
from architectures.seq2seq import ConvDecoder, wants_decoder
from harness.errors import ConfigError
from tasks.base import TaskSpec


def blocks_to_cover(length: int, reach_per_dilation: int) -> int:
    """Smallest n such that dilations 1, 2, …, 2ⁿ⁻¹ reach back ``length − 1`` positions."""
    n = 1
    while reach_per_dilation * (2 ** n - 1) < length - 1:
        n += 1
    return n


class ConvBlock1d(nn.Module):
    def __init__(self, channels: int, kernel_size: int, dilation: int, dropout: float, causal: bool):
        super().__init__()
        self.norm = nn.LayerNorm(channels)
        self.conv = nn.Conv1d(channels, channels, kernel_size, dilation=dilation)
        self.mix = nn.Conv1d(channels, channels, 1)
        span = dilation * (kernel_size - 1)
        self.pad = (span, 0) if causal else (span // 2, span - span // 2)
        self.drop = nn.Dropout(dropout)

    def forward(self, x, keep=None):
        """x (B, C, L); ``keep`` (B, 1, L) zeroes padded positions before the convolution (None: no padding)."""
        h = self.norm(x.transpose(1, 2)).transpose(1, 2)  # (B, C, L)
        if keep is not None:
            h = h * keep
        h = self.mix(F.gelu(self.conv(F.pad(h, self.pad))))
        return x + self.drop(h)


class BasicBlock2d(nn.Module):
    def __init__(self, c_in: int, c_out: int, stride: int):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(),
                                  nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False), nn.BatchNorm2d(c_out))
        self.skip = (nn.Identity() if stride == 1 and c_in == c_out else
                     nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out)))

    def forward(self, x):
        return F.relu(self.body(x) + self.skip(x))


class CNN(Architecture):
    """Residual CNN.

    Args:
        spec: the task's spec.
        channels: width of the 1-D blocks (sequences) and of the first 2-D stage (images).
        kernel_size: 1-D kernel size (odd, ≥ 3 for non-causal convolutions).
        n_layers: 1-D blocks; ``None`` = as many as it takes for the receptive field to cover ``max_len``.
        causal: 1-D convolutions see only the past.
        dropout: on residual branches and before the head.
        stages: 2-D stages (each doubles the channels and halves the resolution after the first).
        pool: how class outputs pool positions (``mean``, ``max``, ``last``).
        n_dec_layers: seq2seq only: causal decoder blocks; ``None`` = enough to cover ``tgt_max_len``.
        n_heads: seq2seq only: heads of the decoder's attention over the encoder output (1 as in ConvS2S).
        tie_embeddings: seq2seq only: share the target embedding with the output projection.
    """

    def __init__(self, spec: TaskSpec, *, channels: int = 64, kernel_size: int = 3, n_layers: int | None = None,
                 causal: bool = False, dropout: float = 0.1, stages: int = 3, pool: str = "mean",
                 n_dec_layers: int | None = None, n_heads: int = 1, tie_embeddings: bool = False):
        super().__init__()
        self.spec, self.causal = spec, bool(causal) and spec.input_kind == "tokens"
        if channels < 1:
            raise ConfigError(f"arch.channels={channels} must be at least 1")
        head_width = channels
        if spec.input_kind == "image":
            if stages < 1:
                raise ConfigError(f"arch.stages={stages} must be at least 1")
            C = spec.image_shape[0]
            widths = [channels * 2 ** i for i in range(stages)]
            layers = [nn.Conv2d(C, widths[0], 3, 1, 1, bias=False), nn.BatchNorm2d(widths[0]), nn.ReLU()]
            for i, w in enumerate(widths):
                layers.append(BasicBlock2d(widths[max(i - 1, 0)], w, 1 if i == 0 else 2))
            self.body = nn.Sequential(*layers)
            self.receptive_field = None
            head_width = widths[-1]
        else:
            if kernel_size < 2 or (not causal and kernel_size < 3):
                raise ConfigError(f"arch.kernel_size={kernel_size} is too small: use ≥ 3 (or ≥ 2 with causal=true)")
            self.embed, max_len = sequence_input(spec, channels)
            if n_layers is None:
                n_layers = blocks_to_cover(max_len, (kernel_size - 1) if causal else (kernel_size - 1) // 2)
            if n_layers < 1:
                raise ConfigError(f"arch.n_layers={n_layers} must be at least 1 (or null to cover the sequence)")
            self.blocks = nn.Sequential(*(ConvBlock1d(channels, kernel_size, 2 ** i, dropout, causal)
                                          for i in range(n_layers)))
            self.norm = nn.LayerNorm(channels)
            self.receptive_field = 1 + (kernel_size - 1) * (2 ** n_layers - 1)
        self.n_layers = n_layers
        self.drop = nn.Dropout(dropout)
        self.pos = nn.Identity()  # convolutions need no positions, but ConvS2S gives its encoder some
        if wants_decoder(spec, "cnn"):
            self.pos = PositionalEncoding("learned", max_len, channels)
            if n_dec_layers is None:
                n_dec_layers = blocks_to_cover(spec.tgt_max_len, kernel_size - 1)  # causal reach
            self.decoder = ConvDecoder(
                spec, channels=channels, n_layers=n_dec_layers, n_heads=n_heads, dropout=dropout,
                conv_block=lambda i: ConvBlock1d(channels, kernel_size, 2 ** i, dropout, causal=True),
                tie_embeddings=tie_embeddings)
        else:
            self.head = output_head(spec, head_width, pool, arch="cnn")

    def describe(self) -> dict:
        info = {**super().describe(), "receptive_field": self.receptive_field, "n_layers": self.n_layers}
        return {k: v for k, v in info.items() if v is not None}

    def input_reading(self) -> str:
        return "image as 2-D convolutions" if self.spec.input_kind == "image" else "tokens"

    def forward_features(self, x):
        if self.spec.input_kind == "image":
            h = self.body(x)  # (B, C', H', W')
            return h.flatten(2).transpose(1, 2), None  # (B, H'·W', C')
        pad = padding_mask(self.spec, x)  # (B, L) or None
        keep = None if pad is None else (~pad)[:, None].float()  # (B, 1, L): padding never reaches a valid position
        h = self.pos(self.embed(x)).transpose(1, 2)  # (B, C, L)
        for block in self.blocks:
            h = block(h, keep)  # (B, C, L)
        return self.drop(self.norm(h.transpose(1, 2))), pad  # (B, L, C)
