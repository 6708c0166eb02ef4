"""Recurrent networks: an Elman RNN (this file) and, through the same class, the LSTM (``lstm.py``).

Input end from the shared pieces (token embedding, or an image read as rows / pixels / patches) → a fused
``nn.RNN`` / ``nn.LSTM`` stack (optionally bidirectional) → the shared class or per-position head.
For sequence outputs the stack is the encoder (run packed, so padding never reaches it) and a recurrent
decoder with attention over its outputs (``architectures.seq2seq.RecurrentDecoder``) replaces the head.
"""
from __future__ import annotations

import torch
import torch.nn as nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from architectures.layers import Architecture, output_head, padding_mask, sequence_input
from architectures.seq2seq import RecurrentDecoder, wants_decoder
from harness.errors import ConfigError
from tasks.base import TaskSpec

CELLS = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}


class RNN(Architecture):
    """Recurrent stack.

    Args:
        spec: the task's spec.
        hidden: hidden state size (per direction); also the embedding width.
        n_layers: stacked recurrent layers.
        bidirectional: read the sequence both ways (per-position outputs then see the future); ``None`` = as the
            task prefers (``spec.prefers_bidirectional``: both ways for masked language modelling).
        dropout: between stacked layers and before the head.
        cell: ``rnn`` (tanh Elman), ``lstm`` or ``gru``.
        pool: how class outputs pool positions (``mean``, ``max``, ``last``).
        n_dec_layers: seq2seq only: decoder layers (``None`` = ``n_layers``).
        input_feeding: seq2seq only: feed the previous attentional state to the decoder (Luong et al. 2015);
            slower, as the decoder then steps one position at a time.
        tie_embeddings: seq2seq only: share the target embedding with the output projection.
    """

    cell_default = "rnn"

    def __init__(self, spec: TaskSpec, *, hidden: int = 128, n_layers: int = 1, bidirectional: bool | None = None,
                 dropout: float = 0.0, cell: str | None = None, pool: str = "mean", n_dec_layers: int | None = None,
                 input_feeding: bool = False, tie_embeddings: bool = False):
        super().__init__()
        cell = cell or self.cell_default
        if cell not in CELLS:
            raise ConfigError(f"arch.cell={cell!r} is not known; use one of {', '.join(CELLS)}")
        if n_layers < 1 or hidden < 1:
            raise ConfigError(f"arch.n_layers={n_layers} and arch.hidden={hidden} must be at least 1")
        self.spec = spec
        if bidirectional is None:
            bidirectional = spec.prefers_bidirectional
        self.embed, _ = sequence_input(spec, hidden)
        self.rnn = CELLS[cell](hidden, hidden, num_layers=n_layers, batch_first=True, bidirectional=bidirectional,
                               dropout=dropout if n_layers > 1 else 0.0)
        self.drop = nn.Dropout(dropout)
        out_width = hidden * (2 if bidirectional else 1)
        if wants_decoder(spec, cell):
            self.decoder = RecurrentDecoder(spec, hidden=hidden, memory_dim=out_width,
                                            n_layers=n_dec_layers or n_layers, cell=cell, dropout=dropout,
                                            input_feeding=input_feeding, tie_embeddings=tie_embeddings)
        else:
            self.head = output_head(spec, out_width, pool, arch=cell)

    def context(self) -> str:
        return "bidirectional" if self.rnn.bidirectional else "causal"

    def forward_features(self, x):
        h, pad, _ = self.encode(x)
        return h, pad

    def encode(self, src):
        """src (B, S) → (states (B, S, hidden·dirs), src_pad (B, S) or None, final state (B, hidden·dirs)).

        Padded batches run packed, so padding reaches no state (in either direction)."""
        B, S = src.shape[:2]
        pad = padding_mask(self.spec, src)  # (B, S) or None
        e = self.embed(src)  # (B, S, hidden)
        if pad is None:
            h, state = self.rnn(e)  # (B, S, hidden·dirs)
        else:
            lengths = (~pad).sum(1).clamp(min=1).cpu()  # (B,)
            out, state = self.rnn(pack_padded_sequence(e, lengths, batch_first=True, enforce_sorted=False))
            h, _ = pad_packed_sequence(out, batch_first=True, total_length=S)  # (B, S, hidden·dirs)
        h_n = state[0] if isinstance(state, tuple) else state  # (layers·dirs, B, hidden)
        final = h_n[-(2 if self.rnn.bidirectional else 1):].transpose(0, 1).reshape(B, -1)  # (B, hidden·dirs)
        return self.drop(h), pad, final
