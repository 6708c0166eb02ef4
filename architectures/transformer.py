"""The Transformer of the seed ("Attention Is All You Need"), as an encoder over tokens or image sequences.

Embedding ×√d_model + positional encoding (sinusoidal, learned or none) → N encoder blocks (multi-head
self-attention and a ReLU FFN, each in residual + LayerNorm, post-norm as in the seed or pre-norm) → the
shared class or per-position head. Causal masking is an option. For sequence outputs this is the seed's
encoder–decoder: the encoder's output is the memory of a decoder (masked self-attention, attention over the
memory, FFN; ``architectures.seq2seq.TransformerDecoder``) that replaces the head.
"""
from __future__ import annotations

import torch.nn as nn

from architectures.layers import (Architecture, EncoderBlock, PositionalEncoding, Stack, output_head, padding_mask,
                                  sequence_input)
from architectures.seq2seq import TransformerDecoder, wants_decoder
from harness.errors import ConfigError
from tasks.base import TaskSpec


class Transformer(Architecture):
    """Transformer encoder.

    Args:
        spec: the task's spec (sizes, input and output kinds).
        d_model: width of every layer.
        n_heads: attention heads (must divide d_model).
        n_layers: encoder blocks.
        d_ff: hidden width of the position-wise FFN.
        dropout: dropout on embeddings, attention weights and residual branches.
        pos_encoding: ``sinusoidal`` (the seed), ``learned`` or ``none``.
        norm_first: pre-norm blocks instead of the seed's post-norm "Add & Norm".
        causal: mask attention to the future (position i sees j ≤ i).
        pool: how class outputs pool positions (``mean``, ``max``, ``last``).
        activation: FFN activation, ``relu`` (the seed) or ``gelu``.
        n_dec_layers: seq2seq only: decoder blocks (``None`` = ``n_layers``).
        tie_embeddings: seq2seq only: share the target embedding with the output projection (as the seed).
    """

    def __init__(self, spec: TaskSpec, *, d_model: int = 64, n_heads: int = 4, n_layers: int = 2, d_ff: int = 128,
                 dropout: float = 0.1, pos_encoding: str = "sinusoidal", norm_first: bool = False,
                 causal: bool = False, pool: str = "mean", activation: str = "relu", n_dec_layers: int | None = None,
                 tie_embeddings: bool = False):
        super().__init__()
        if n_layers < 1:
            raise ConfigError(f"arch.n_layers={n_layers} must be at least 1")
        self.spec, self.causal = spec, causal
        self.embed, max_len = sequence_input(spec, d_model, scale_embedding=True)
        self.pos = PositionalEncoding(pos_encoding, max_len, d_model, dropout)
        self.encoder = Stack(lambda: EncoderBlock(d_model, n_heads, d_ff, dropout, norm_first, activation),
                             n_layers, d_model, norm_first)
        if wants_decoder(spec, "transformer"):
            self.decoder = TransformerDecoder(spec, d_model=d_model, n_heads=n_heads, n_layers=n_dec_layers or n_layers,
                                              d_ff=d_ff, dropout=dropout, norm_first=norm_first, activation=activation,
                                              pos_encoding=pos_encoding, tie_embeddings=tie_embeddings)
        else:
            self.head = output_head(spec, d_model, pool, arch="transformer")

    def forward_features(self, x):
        pad = padding_mask(self.spec, x)  # (B, L) or None
        h = self.pos(self.embed(x))  # (B, L, d)
        return self.encoder(h, key_pad=pad, causal=self.causal), pad
