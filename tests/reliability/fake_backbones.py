"""Backbones that break the contract in one way each (for tests/reliability/test_backbones.py)."""

from __future__ import annotations

import torch
from torch import nn

from architectures.model import Backbone


class Plain(Backbone):
    """A per-position linear map: keeps the contract (causal whatever it declares)."""

    def __init__(self, max_len: int, d_model: int = 16, causal: bool = False, **_):
        super().__init__()
        self.width = self.out_width = d_model
        self.causal = causal
        self.proj = nn.Linear(d_model, d_model)
        self.layers, self.final = nn.ModuleList(), nn.Identity()

    def forward(self, x, pad=None):  # (B, L, d) -> (B, L, d)
        return self.proj(x)


class DataDependent(Plain):
    """Keeps the contract, but branches on a value of its input (which vmap cannot batch)."""

    def forward(self, x, pad=None):
        return self.proj(x) if x.sum() > 0 else -self.proj(x)


class WrongWidth(Plain):
    def forward(self, x, pad=None):  # (B, L, 2d): out_width says d
        return torch.cat([self.proj(x), x], -1)


class DropsPositions(Plain):
    def forward(self, x, pad=None):  # (B, L - 1, d)
        return self.proj(x)[:, 1:]


class NonFinite(Plain):
    def forward(self, x, pad=None):
        return self.proj(x) / 0.0 * 0.0  # NaN everywhere


class LooksAhead(Plain):
    """Declares causal=True but position i reads position i + 1 (a causal convolution padded on the wrong side)."""

    def forward(self, x, pad=None):
        ahead = torch.cat([x[:, 1:], torch.zeros_like(x[:, :1])], 1)
        return self.proj(x + ahead)


class Exits(Plain):
    def forward(self, x, pad=None):
        raise SystemExit(0)


class Raises(Plain):
    def forward(self, x, pad=None):
        return x @ torch.ones(3, 3)  # a shape bug in the user's forward
