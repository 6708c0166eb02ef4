"""Decoders that turn any architecture into an encoder–decoder for ``output_kind == "sequence"`` tasks.

The interface every architecture exposes for sequence outputs (teacher forcing, greedy and beam search):

- ``model.encode(src (B, S))`` → ``memory``: a tuple of tensors (or None), each with batch as dim 0, so that
  beam search can reorder it with ``t.index_select(0, idx)``;
- ``model.decode(memory, tgt_in (B, T))`` → logits (B, T, tgt_vocab_size) over the whole prefix; the logits
  at position t never depend on ``tgt_in[:, t+1:]``;
- ``model(src, tgt_in)`` == ``model.decode(model.encode(src), tgt_in)``.

Decoders here take ``(memory, memory_pad, ..., tgt_in)``; the architecture decides what its memory is.
Shapes: B batch, S source length, T target prefix length, d width, V target vocabulary.
"""
from __future__ import annotations

from typing import Callable

import torch
import torch.nn as nn

from architectures.layers import (DecoderBlock, MultiHeadAttention, PositionalEncoding, Residual, Stack,
                                  TokenEmbedding)
from harness.errors import ConfigError
from tasks.base import TaskSpec


# --------------------------------------------------------------------------------------------- helpers
def wants_decoder(spec: TaskSpec, arch: str) -> bool:
    """True when ``spec`` asks for a decoder (``output_kind == "sequence"``), after checking it can have one."""
    if spec.output_kind != "sequence":
        return False
    if spec.input_kind != "tokens":
        raise ConfigError(f"{arch}: sequence (seq2seq) outputs need token inputs, not {spec.input_kind!r}; "
                          "use a translation-style task with tokens in and tokens out")
    if spec.vocab_size < 1 or spec.max_len < 1 or spec.tgt_vocab_size < 1 or spec.tgt_max_len < 1:
        raise ConfigError(f"{arch}: a sequence task must set vocab_size, max_len, tgt_vocab_size and tgt_max_len "
                          f"(got {spec.vocab_size}, {spec.max_len}, {spec.tgt_vocab_size}, {spec.tgt_max_len})")
    return True


def memory_mask(pad: torch.Tensor | None) -> torch.Tensor | None:
    """Source padding (B, S) as attention keys, with rows that are all padding left unmasked (no NaN)."""
    if pad is None:
        return None
    return pad & ~pad.all(1, keepdim=True)  # (B, S)


def target_mask(tgt_in: torch.Tensor, pad_id: int) -> torch.Tensor:
    """Target padding (B, T) as self-attention keys; position 0 (BOS) is never masked so no row is empty."""
    pad = tgt_in == pad_id  # (B, T)
    pad[:, 0] = False
    return pad


class OutputProjection(nn.Module):
    """(B, T, d) → (B, T, V), optionally sharing its weight with the target embedding (Press & Wolf 2017)."""

    def __init__(self, d_model: int, vocab_size: int, tie_to: nn.Embedding | None = None):
        super().__init__()
        self.fc = nn.Linear(d_model, vocab_size)
        if tie_to is not None:
            self.fc.weight = tie_to.weight

    def forward(self, y):
        return self.fc(y)


def target_embedding(spec: TaskSpec, d_model: int, scale: bool = False) -> TokenEmbedding:
    return TokenEmbedding(spec.tgt_vocab_size, d_model, spec.tgt_pad_id, scale)


def output_projection(spec: TaskSpec, d_model: int, embed: TokenEmbedding, tie: bool) -> OutputProjection:
    return OutputProjection(d_model, spec.tgt_vocab_size, embed.emb if tie else None)


# --------------------------------------------------------------------------------------------- decoders
class TransformerDecoder(nn.Module):
    """The seed's decoder: target embedding (×√d) + positions → N × (masked self-attention, attention over
    the memory, FFN, each in Add & Norm) → Linear to the target vocabulary.

    Args:
        spec: the task's spec (target vocabulary, length and pad id).
        d_model, n_heads, n_layers, d_ff, dropout, norm_first, activation: block sizes, as in the encoder.
        pos_encoding: ``sinusoidal``, ``learned`` or ``none``.
        scale_embedding: multiply target embeddings by √d (the seed).
        tie_embeddings: share the target embedding matrix with the output projection.
    """

    def __init__(self, spec: TaskSpec, *, d_model: int, n_heads: int, n_layers: int, d_ff: int,
                 dropout: float = 0.1, norm_first: bool = False, activation: str = "relu",
                 pos_encoding: str = "sinusoidal", scale_embedding: bool = True, tie_embeddings: bool = False):
        super().__init__()
        if n_layers < 1:
            raise ConfigError(f"arch.n_dec_layers={n_layers} must be at least 1")
        self.pad_id = spec.tgt_pad_id
        self.embed = target_embedding(spec, d_model, scale_embedding)
        self.pos = PositionalEncoding(pos_encoding, spec.tgt_max_len, d_model, dropout)
        self.blocks = Stack(lambda: DecoderBlock(d_model, n_heads, d_ff, dropout, norm_first, activation),
                            n_layers, d_model, norm_first)
        self.out = output_projection(spec, d_model, self.embed, tie_embeddings)

    def forward(self, memory, memory_pad, tgt_in):
        """memory (B, S, d), memory_pad (B, S) or None, tgt_in (B, T) → logits (B, T, V)."""
        y = self.pos(self.embed(tgt_in))  # (B, T, d)
        y = self.blocks(y, memory, memory_pad=memory_mask(memory_pad),
                        tgt_pad=target_mask(tgt_in, self.pad_id))  # (B, T, d)
        return self.out(y)  # (B, T, V)


RECURRENT_CELLS = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}


class RecurrentDecoder(nn.Module):
    """Recurrent decoder with Luong-style global attention (Luong, Pham & Manning 2015).

    h_t = RNN(embed(y_t) [; h̃_{t-1}], h_{t-1});  c_t = attention(h_t, memory);  h̃_t = tanh(W_c [c_t; h_t]);
    logits_t = W_s h̃_t. The score is a one-head scaled dot product after linear projections (Luong's
    "general" score) through :class:`MultiHeadAttention`. The initial state of every layer is
    ``tanh(W_init · final)``, where ``final`` is the encoder's last state (B, memory_dim); LSTM cells start at 0.

    Without input feeding the RNN runs over the whole prefix at once (cuDNN) and attention is applied to all
    positions in parallel; with it (``h̃_{t-1}`` fed back as input) the decoder steps one position at a time.

    Args:
        spec: the task's spec (target side).
        hidden: state size, also the target embedding width.
        memory_dim: width of the encoder's outputs (projected to ``hidden`` when different).
        n_layers: stacked recurrent layers.
        cell: ``rnn``, ``lstm`` or ``gru``.
        dropout: on target embeddings, between layers, and before the output projection.
        input_feeding: feed the previous attentional state back as input.
        tie_embeddings: share the target embedding matrix with the output projection.
    """

    def __init__(self, spec: TaskSpec, *, hidden: int, memory_dim: int, n_layers: int = 1, cell: str = "lstm",
                 dropout: float = 0.0, input_feeding: bool = False, tie_embeddings: bool = False):
        super().__init__()
        if n_layers < 1:
            raise ConfigError(f"arch.n_dec_layers={n_layers} must be at least 1")
        if cell not in RECURRENT_CELLS:
            raise ConfigError(f"arch.cell={cell!r} is not known; use one of {', '.join(RECURRENT_CELLS)}")
        self.n_layers, self.is_lstm, self.input_feeding = n_layers, cell == "lstm", input_feeding
        self.embed = target_embedding(spec, hidden)
        self.mem_proj = nn.Linear(memory_dim, hidden) if memory_dim != hidden else nn.Identity()
        self.init = nn.Linear(memory_dim, hidden)
        self.rnn = RECURRENT_CELLS[cell](hidden * (2 if input_feeding else 1), hidden, num_layers=n_layers,
                                         batch_first=True, dropout=dropout if n_layers > 1 else 0.0)
        self.attn = MultiHeadAttention(hidden, 1, cross=True)
        self.combine = nn.Linear(2 * hidden, hidden)
        self.drop = nn.Dropout(dropout)
        self.out = output_projection(spec, hidden, self.embed, tie_embeddings)

    def initial_state(self, final):
        h0 = torch.tanh(self.init(final))  # (B, H)
        h0 = h0.expand(self.n_layers, -1, -1).contiguous()  # (layers, B, H)
        return (h0, torch.zeros_like(h0)) if self.is_lstm else h0

    def attend(self, h, memory, pad):
        """h (B, T, H) → attentional states h̃ (B, T, H)."""
        c = self.attn(h, context=memory, key_pad=pad)  # (B, T, H)
        return torch.tanh(self.combine(torch.cat([c, h], -1)))  # (B, T, H)

    def forward(self, memory, memory_pad, final, tgt_in):
        """memory (B, S, memory_dim), memory_pad (B, S) or None, final (B, memory_dim), tgt_in (B, T)."""
        memory, pad = self.mem_proj(memory), memory_mask(memory_pad)  # (B, S, H)
        state = self.initial_state(final)
        y = self.drop(self.embed(tgt_in))  # (B, T, H)
        if not self.input_feeding:
            h, _ = self.rnn(y, state)  # (B, T, H)
            att = self.attend(h, memory, pad)  # (B, T, H)
        else:
            feed, steps = y.new_zeros(y.shape[0], 1, y.shape[2]), []  # (B, 1, H)
            for t in range(y.shape[1]):
                h, state = self.rnn(torch.cat([y[:, t:t + 1], feed], -1), state)  # (B, 1, H)
                feed = self.attend(h, memory, pad)  # (B, 1, H)
                steps.append(feed)
            att = torch.cat(steps, 1)  # (B, T, H)
        return self.out(self.drop(att))  # (B, T, V)


class ConvDecoder(nn.Module):
    """ConvS2S-style decoder (Gehring et al. 2017): target embedding + learned positions → N × (causal conv
    block, then attention over the encoder output in a pre-norm residual) → LayerNorm → Linear.

    Args:
        spec: the task's spec (target side).
        channels: width.
        n_layers: conv blocks (each followed by an attention step).
        conv_block: ``conv_block(i)`` builds the i-th **causal** block, (B, C, T) → (B, C, T).
        n_heads: heads of each attention step (1 as in ConvS2S).
        dropout: on embeddings and residual branches.
        tie_embeddings: share the target embedding matrix with the output projection.
    """

    def __init__(self, spec: TaskSpec, *, channels: int, n_layers: int, conv_block: Callable[[int], nn.Module],
                 n_heads: int = 1, dropout: float = 0.0, tie_embeddings: bool = False):
        super().__init__()
        if n_layers < 1:
            raise ConfigError(f"arch.n_dec_layers={n_layers} must be at least 1 (or null to cover the target)")
        self.embed = target_embedding(spec, channels)
        self.pos = PositionalEncoding("learned", spec.tgt_max_len, channels, dropout)
        self.convs = nn.ModuleList(conv_block(i) for i in range(n_layers))
        self.attns = nn.ModuleList(
            Residual(channels, MultiHeadAttention(channels, n_heads, dropout, cross=True), dropout, norm_first=True)
            for _ in range(n_layers))
        self.norm = nn.LayerNorm(channels)
        self.out = output_projection(spec, channels, self.embed, tie_embeddings)

    def forward(self, memory, memory_pad, tgt_in):
        """memory (B, S, C), memory_pad (B, S) or None, tgt_in (B, T) → logits (B, T, V)."""
        pad = memory_mask(memory_pad)
        y = self.pos(self.embed(tgt_in))  # (B, T, C)
        for conv, attn in zip(self.convs, self.attns):
            y = conv(y.transpose(1, 2)).transpose(1, 2)  # (B, T, C), causal
            y = attn(y, context=memory, key_pad=pad)  # (B, T, C)
        return self.out(self.norm(y))  # (B, T, V)
