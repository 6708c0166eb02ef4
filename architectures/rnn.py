"""Recurrent networks: an Elman RNN (this file) and, through the same class, the LSTM (``lstm.py``).

Input end from the shared pieces (token embedding, or an image read as rows / pixels / patches) → a fused
``nn.RNN`` / ``nn.LSTM`` stack (optionally bidirectional) → the shared class or per-position head.
"""
from __future__ import annotations

import torch.nn as nn

from architectures.layers import output_head, padding_mask, sequence_input
from harness.errors import ConfigError
from tasks.base import TaskSpec

CELLS = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}


class RNN(nn.Module):
    """Recurrent stack.

    Args:
        spec: the task's spec.
        hidden: hidden state size (per direction); also the embedding width.
        n_layers: stacked recurrent layers.
        bidirectional: read the sequence both ways (per-position outputs then see the future).
        dropout: between stacked layers and before the head.
        cell: ``rnn`` (tanh Elman), ``lstm`` or ``gru``.
        pool: how class outputs pool positions (``mean``, ``max``, ``last``).
    """

    cell_default = "rnn"

    def __init__(self, spec: TaskSpec, *, hidden: int = 128, n_layers: int = 1, bidirectional: bool = False,
                 dropout: float = 0.0, cell: str | None = None, pool: str = "mean"):
        super().__init__()
        cell = cell or self.cell_default
        if cell not in CELLS:
            raise ConfigError(f"arch.cell={cell!r} is not known; use one of {', '.join(CELLS)}")
        if n_layers < 1 or hidden < 1:
            raise ConfigError(f"arch.n_layers={n_layers} and arch.hidden={hidden} must be at least 1")
        self.spec = spec
        self.embed, _ = sequence_input(spec, hidden)
        self.rnn = CELLS[cell](hidden, hidden, num_layers=n_layers, batch_first=True, bidirectional=bidirectional,
                               dropout=dropout if n_layers > 1 else 0.0)
        self.drop = nn.Dropout(dropout)
        self.head = output_head(spec, hidden * (2 if bidirectional else 1), pool, arch=cell)

    def forward_features(self, x):
        pad = padding_mask(self.spec, x)
        h, _ = self.rnn(self.embed(x))  # (B, L, hidden·directions)
        return self.drop(h), pad

    def forward_head(self, h, pad=None):
        return self.head(h, pad)

    def forward(self, x):
        return self.forward_head(*self.forward_features(x))
