"""ConvMixer-1D: token mixing by a depthwise convolution, channel mixing by an MLP, each pre-norm and residual.

A backbone maps states (B, L, d) and padding (B, L) (True = padding) to states (B, L, d); archbench's shared
model adds the embeddings, positional encodings, heads and the seq2seq decoder around it.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import nn

from architectures.layers import Layer
from architectures.model import Backbone
from core.errors import ConfigError


class MixerLayer(Layer):
    def __init__(self, dim: int, kernel_size: int, expansion: int, causal: bool, dropout: float):
        super().__init__()
        self.causal, self.k = causal, kernel_size
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.mix = nn.Conv1d(dim, dim, kernel_size, groups=dim)  # depthwise: each channel mixes along L
        self.mlp = nn.Sequential(nn.Linear(dim, expansion * dim), nn.GELU(), nn.Linear(expansion * dim, dim))
        self.drop = nn.Dropout(dropout)

    def forward(self, x, pad=None):  # (B, L, d), (B, L) -> (B, L, d)
        h = self.norm1(x)
        if pad is not None:
            h = h.masked_fill(pad[..., None], 0.0)  # padding carries nothing into its neighbours
        h = h.transpose(1, 2)  # (B, d, L)
        left = self.k - 1 if self.causal else (self.k - 1) // 2
        h = F.pad(h, (left, self.k - 1 - left))  # causal: position i sees i-k+1 .. i only
        x = x + self.drop(self.mix(h).transpose(1, 2))
        return x + self.drop(self.mlp(self.norm2(x)))


class ConvMixer1D(Backbone):
    """Args:
    max_len: the longest sequence it will see (unused: a convolution has no length-sized weights).
    dim: the width d (what budget.params sizes: this architecture names its own width key, see myconf/).
    n_layers: mixer layers.
    kernel_size: the token-mixing window.
    expansion: the channel MLP's hidden size, as a multiple of dim.
    causal: position i sees only positions ≤ i (the generic decoder builds a causal copy).
    dropout: after each mixing.
    """

    causal_settings = {"causal": True}  # how the generic decoder (translation) makes a causal copy

    def __init__(
        self, max_len: int, *, dim: int, n_layers: int, kernel_size: int, expansion: int, causal: bool, dropout: float
    ):
        super().__init__()
        if kernel_size < 1:
            raise ConfigError(f"kernel_size={kernel_size} must be ≥ 1")
        self.width = self.out_width = dim
        self.causal = causal
        self.layers = nn.ModuleList(MixerLayer(dim, kernel_size, expansion, causal, dropout) for _ in range(n_layers))
        self.final = nn.LayerNorm(dim)
