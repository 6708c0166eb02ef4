"""Gated recurrent unit (Cho et al. 2014) as a backbone — the worked example of "Adding an architecture".

A backbone maps states (B, L, d) and padding (B, L) to states (B, L, d): it knows no task. The shared model
(``architectures.model.Model``) adds the token embedding or image reading in front and the class head,
per-position head or decoder behind, so this file runs every task. For translation the model builds the
generic decoder from a causal copy of this backbone (``causal_settings``) with attention over the encoder.
"""

from __future__ import annotations

import torch.nn as nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from architectures.layers import Layer
from architectures.model import Backbone
from core.errors import ConfigError


class GRULayer(Layer):
    """One GRU layer with a residual connection and LayerNorm: (B, L, d) → (B, L, d)."""

    def __init__(self, d: int, bidirectional: bool, dropout: float):
        super().__init__()
        self.gru = nn.GRU(d, d // 2 if bidirectional else d, batch_first=True, bidirectional=bidirectional)
        self.norm, self.drop = nn.LayerNorm(d), nn.Dropout(dropout)

    def forward(self, x, pad=None):
        if pad is None or not self.gru.bidirectional:  # trailing padding never reaches a real state going forward
            h = self.gru(x)[0]  # (B, L, d)
        else:  # packed, so that the backward direction starts at the last real token
            lengths = (~pad).sum(1).clamp(min=1).cpu()  # (B,)
            h = self.gru(pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False))[0]
            h = pad_packed_sequence(h, batch_first=True, total_length=x.shape[1])[0]  # (B, L, d)
        return self.norm(x + self.drop(h))

    def step(self, x, state=None):
        """Incremental decoding (causal only): one position x (B, 1, d); the state is the hidden state (B, 1, d)."""
        h, state = self.gru(x, None if state is None else state.transpose(0, 1).contiguous())  # (B, 1, d)
        return self.norm(x + self.drop(h)), state.transpose(0, 1)


class GRU(Backbone):
    """Stacked residual GRU layers.

    Args:
        max_len: longest sequence (unused: a recurrence has no length limit).
        hidden: width d of the states (each direction has d/2 when bidirectional).
        n_layers: GRU layers.
        bidirectional: read both ways (outputs then see the future); null in the YAML follows the task.
        dropout: on each layer's output before the residual sum.
    """

    causal_settings = {"bidirectional": False}  # what makes it causal (the generic decoder uses it)

    def __init__(self, max_len: int, *, hidden: int, n_layers: int, bidirectional: bool | None, dropout: float):
        super().__init__()
        if hidden < 2 or n_layers < 1 or (bidirectional and hidden % 2):
            raise ConfigError(
                f"arch.hidden={hidden} must be ≥ 2 (even when bidirectional) and arch.n_layers={n_layers} ≥ 1"
            )
        self.width = self.out_width = hidden
        self.causal = not bidirectional
        self.layers = nn.ModuleList(GRULayer(hidden, bidirectional, dropout) for _ in range(n_layers))
        self.final = nn.Identity()
