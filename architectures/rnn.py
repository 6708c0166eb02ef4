"""Recurrent networks as a backbone: an Elman RNN (this file) and, through the same class, the LSTM (``lstm.py``).

A stack of ``nn.RNN`` / ``nn.LSTM`` layers (optionally bidirectional; padded batches then run packed, so padding
reaches no state in either direction), dropout between layers and after the last. For sequence outputs its
own decoder is recurrent with Luong attention over the states (``architectures.seq2seq.RecurrentDecoder``).
"""

from __future__ import annotations

import torch
import torch.nn as nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from architectures.layers import Layer
from architectures.model import Backbone
from architectures.seq2seq import RECURRENT_CELLS, RecurrentDecoder
from core.errors import ConfigError
from tasks.base import TaskSpec


class RecurrentLayer(Layer):
    """One recurrent layer, (B, L, d_in) → (B, L, hidden·dirs), then dropout."""

    def __init__(
        self, cell: str, d_in: int, hidden: int, bidirectional: bool, dropout: float, forget_bias: float | None = None
    ):
        super().__init__()
        self.rnn = RECURRENT_CELLS[cell](d_in, hidden, batch_first=True, bidirectional=bidirectional)
        self.drop, self.is_lstm = nn.Dropout(dropout), cell == "lstm"
        if forget_bias is not None:  # LSTM gates are ordered i, f, g, o; b_ih + b_hh is the gate's bias
            with torch.no_grad():
                for name, bias in self.rnn.named_parameters():
                    if name.startswith("bias_"):
                        bias[hidden : 2 * hidden] = forget_bias / 2

    def forward(self, x, pad=None):
        if pad is None or not self.rnn.bidirectional:  # trailing padding reaches no real state going forward
            return self.drop(self.rnn(x)[0])
        lengths = (~pad).sum(1).clamp(min=1).cpu()  # (B,)
        out, _ = self.rnn(pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False))
        return self.drop(pad_packed_sequence(out, batch_first=True, total_length=x.shape[1])[0])  # (B, L, H·dirs)

    def step(self, x, state=None):
        """The recurrent state, batch first: (B, 1, H) (a pair of them for the LSTM)."""
        if state is not None:
            state = (
                tuple(s.transpose(0, 1).contiguous() for s in state)
                if self.is_lstm
                else state.transpose(0, 1).contiguous()
            )  # (1, B, H)
        y, state = self.rnn(x, state)  # (B, 1, H)
        return self.drop(y), (tuple(s.transpose(0, 1) for s in state) if self.is_lstm else state.transpose(0, 1))


class RNN(Backbone):
    """Recurrent stack of ``cell`` layers: the class decides the cell (``RNN``: tanh Elman; ``LSTM(RNN)`` in
    ``lstm.py``), so a record's arch name always says what was built.

    Args:
        max_len: longest sequence (unused).
        hidden: hidden state size (per direction); also the input width.
        n_layers: stacked recurrent layers.
        bidirectional: read the sequence both ways (outputs then see the future); null in the YAML follows the
            task (``spec.prefers_bidirectional``).
        dropout: after every layer.
        input_feeding: seq2seq only: feed the previous attentional state to the decoder (Luong et al. 2015).
        forget_bias: LSTM only: the forget gate's initial bias (b_ih + b_hh; 1.0 in lstm.yaml, as in Jozefowicz et
            al. 2015); null keeps PyTorch's uniform init.
    """

    causal_settings = {"bidirectional": False}
    cell = "rnn"  # a key of architectures.seq2seq.RECURRENT_CELLS

    def __init__(
        self,
        max_len: int,
        *,
        hidden: int,
        n_layers: int,
        bidirectional: bool | None,
        dropout: float,
        input_feeding: bool,
        forget_bias: float | None,
    ):
        super().__init__()
        cell = self.cell
        if forget_bias is not None and cell != "lstm":
            raise ConfigError(
                f"arch.forget_bias={forget_bias} needs an LSTM (arch=lstm), not {cell}; set arch.forget_bias=null"
            )
        if n_layers < 1 or hidden < 1:
            raise ConfigError(f"arch.n_layers={n_layers} and arch.hidden={hidden} must be at least 1")
        dirs = 2 if bidirectional else 1
        self.width, self.out_width, self.causal = hidden, hidden * dirs, not bidirectional
        self.dropout, self.input_feeding = dropout, input_feeding
        self.layers = nn.ModuleList(
            RecurrentLayer(cell, hidden if i == 0 else hidden * dirs, hidden, bidirectional, dropout, forget_bias)
            for i in range(n_layers)
        )
        self.final = nn.Identity()

    def own_decoder(self, spec: TaskSpec, *, n_layers, tie_embeddings, pos_encoding, scale_embedding):
        """The recurrent decoder with Luong attention (positions come from the recurrence: ``pos_encoding`` and
        ``scale_embedding`` do not apply)."""
        return RecurrentDecoder(
            spec,
            hidden=self.width,
            memory_dim=self.out_width,
            n_layers=n_layers or len(self.layers),
            cell=self.cell,
            dropout=self.dropout,
            input_feeding=self.input_feeding,
            tie_embeddings=tie_embeddings,
            bidirectional=not self.causal,
        )
