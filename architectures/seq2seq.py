"""Decoders for ``output_kind == "sequence"`` tasks: the generic one (any causal backbone + cross-attention) and
the specific ones: the Transformer's (Vaswani et al.), the recurrent one with Luong attention, ConvS2S's.

The interface of the model (:class:`architectures.model.Model`) that teacher forcing, greedy and beam search use:

- ``model.encode(src (B, S))`` → ``memory = (states (B, S', d), padding (B, S') or None)``, batch first, so that
  beam search can reorder it with ``t.index_select(0, idx)``;
- ``model.decode(memory, tgt_in (B, T))`` → logits (B, T, tgt_vocab_size) over the whole prefix; the logits
  at position t never depend on ``tgt_in[:, t+1:]``;
- ``model.decode_step(memory, tokens (B, 1), state)`` → (logits (B, 1, V), state): one more position from a
  per-step state (KV caches, recurrent states, rolling buffers; None at the start), equal to the last position
  of ``decode`` on the prefix so far;
- ``model(src, tgt_in)`` == ``model.decode(model.encode(src), tgt_in)``.

Every decoder here is ``decoder(memory, memory_pad, tgt_in)`` and ``decoder.step(memory, memory_pad, tokens,
state)``. Shapes: B batch, S source length, T target prefix length, d width, V target vocabulary.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn as nn

from architectures.layers import DecoderBlock, MultiHeadAttention, PositionalEncoding, Residual, Stack, TokenEmbedding
from core.errors import ConfigError
from tasks.base import TaskSpec


# --------------------------------------------------------------------------------------------- helpers
def wants_decoder(spec: TaskSpec, arch: str) -> bool:
    """True when ``spec`` asks for a decoder (``output_kind == "sequence"``), after checking it can have one."""
    if spec.output_kind != "sequence":
        return False
    if spec.input_kind != "tokens":
        raise ConfigError(
            f"{arch}: sequence (seq2seq) outputs need token inputs, not {spec.input_kind!r}; "
            "use a translation-style task with tokens in and tokens out"
        )
    if spec.vocab_size < 1 or spec.max_len < 1 or spec.tgt_vocab_size < 1 or spec.tgt_max_len < 1:
        raise ConfigError(
            f"{arch}: a sequence task must set vocab_size, max_len, tgt_vocab_size and tgt_max_len "
            f"(got {spec.vocab_size}, {spec.max_len}, {spec.tgt_vocab_size}, {spec.tgt_max_len})"
        )
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
    """Vaswani et al.'s decoder: target embedding (×√d) + positions → N × (masked self-attention, attention over
    the memory, FFN, each in Add & Norm) → Linear to the target vocabulary.

    Args:
        spec: the task's spec (target vocabulary, length and pad id).
        d_model, n_heads, n_layers, d_ff, dropout, norm_first, activation: block sizes, as in the encoder.
        residual, layer_norm: the blocks' skip connections and LayerNorms, as in the encoder.
        pos_encoding: ``sinusoidal``, ``learned`` or ``none``.
        scale_embedding: multiply target embeddings by √d (Vaswani et al.).
        tie_embeddings: share the target embedding matrix with the output projection.
    """

    def __init__(
        self,
        spec: TaskSpec,
        *,
        d_model: int,
        n_heads: int,
        n_layers: int,
        d_ff: int,
        dropout: float = 0.1,
        norm_first: bool = False,
        activation: str = "relu",
        pos_encoding: str = "sinusoidal",
        scale_embedding: bool = True,
        tie_embeddings: bool = False,
        residual: bool = True,
        layer_norm: bool = True,
    ):
        super().__init__()
        if n_layers < 1:
            raise ConfigError(f"arch.n_dec_layers={n_layers} must be at least 1")
        self.pad_id = spec.tgt_pad_id
        self.embed = target_embedding(spec, d_model, scale_embedding)
        self.pos = PositionalEncoding(pos_encoding, spec.tgt_max_len, d_model, dropout)
        self.blocks = Stack(
            lambda: DecoderBlock(
                d_model, n_heads, d_ff, dropout, norm_first, activation, residual=residual, layer_norm=layer_norm
            ),
            n_layers,
            d_model,
            norm_first,
            layer_norm=layer_norm,
        )
        self.out = output_projection(spec, d_model, self.embed, tie_embeddings)

    def forward(self, memory, memory_pad, tgt_in):
        """memory (B, S, d), memory_pad (B, S) or None, tgt_in (B, T) → logits (B, T, V)."""
        y = self.pos(self.embed(tgt_in))  # (B, T, d)
        y = self.blocks(
            y, memory, memory_pad=memory_mask(memory_pad), tgt_pad=target_mask(tgt_in, self.pad_id)
        )  # (B, T, d)
        return self.out(y)  # (B, T, V)

    def step(self, memory, memory_pad, tokens, state=None):
        """tokens (B, 1) → (logits (B, 1, V), state): KV caches of every block's self- and cross-attention."""
        t, caches = state or (0, [None] * len(self.blocks.blocks))
        y = self.pos(self.embed(tokens), offset=t)  # (B, 1, d)
        pad = memory_mask(memory_pad)
        new = []
        for block, cache in zip(self.blocks.blocks, caches):
            y, cache = block.step(y, cache, memory, pad)
            new.append(cache)
        return self.out(self.blocks.norm(y)), (t + 1, new)

    def attentions(self) -> dict[str, MultiHeadAttention]:
        return {
            name: m
            for i, b in enumerate(self.blocks.blocks)
            for name, m in ((f"{i}.self", b.self_attn.fn), (f"{i}.cross", b.cross_attn.fn))
        }


RECURRENT_CELLS = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}


class RecurrentDecoder(nn.Module):
    """Recurrent decoder with Luong-style global attention (Luong, Pham & Manning 2015).

    h_t = RNN(embed(y_t) [; h̃_{t-1}], h_{t-1});  c_t = attention(h_t, memory);  h̃_t = tanh(W_c [c_t; h_t]);
    logits_t = W_s h̃_t. The score is a one-head scaled dot product after linear projections (Luong's
    "general" score) through :class:`MultiHeadAttention`. The initial state of every layer is
    ``tanh(W_init · final)``, where ``final`` is the encoder's last state (B, memory_dim) read from the memory
    (:meth:`final_state`); LSTM cells start at 0. Incremental decoding steps the recurrence one token at a time.

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
        bidirectional: the encoder's states hold a forward then a backward half.
    """

    def __init__(
        self,
        spec: TaskSpec,
        *,
        hidden: int,
        memory_dim: int,
        n_layers: int,
        cell: str,
        dropout: float,
        input_feeding: bool,
        tie_embeddings: bool,
        bidirectional: bool,
    ):
        super().__init__()
        if n_layers < 1:
            raise ConfigError(f"arch.n_dec_layers={n_layers} must be at least 1")
        if cell not in RECURRENT_CELLS:
            raise ConfigError(f"arch.cell={cell!r} is not known; use one of {', '.join(RECURRENT_CELLS)}")
        self.n_layers, self.is_lstm, self.input_feeding = n_layers, cell == "lstm", input_feeding
        self.bidirectional = bidirectional
        self.embed = target_embedding(spec, hidden)
        self.mem_proj = nn.Linear(memory_dim, hidden) if memory_dim != hidden else nn.Identity()
        self.init = nn.Linear(memory_dim, hidden)
        self.rnn = RECURRENT_CELLS[cell](
            hidden * (2 if input_feeding else 1),
            hidden,
            num_layers=n_layers,
            batch_first=True,
            dropout=dropout if n_layers > 1 else 0.0,
        )
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

    def final_state(self, memory, memory_pad):
        """The encoder's last state (B, memory_dim): forward direction at the last real position, backward
        direction (second half, when ``bidirectional``) at position 0."""
        B, S, _ = memory.shape
        last = (
            torch.full((B,), S - 1, device=memory.device)
            if memory_pad is None
            else (~memory_pad).sum(1).clamp(min=1) - 1
        )  # (B,)
        fwd = memory[torch.arange(B, device=memory.device), last]  # (B, memory_dim)
        if not self.bidirectional:
            return fwd
        half = memory.shape[2] // 2
        return torch.cat([fwd[:, :half], memory[:, 0, half:]], -1)

    def forward(self, memory, memory_pad, tgt_in):
        """memory (B, S, memory_dim), memory_pad (B, S) or None, tgt_in (B, T) → logits (B, T, V)."""
        state = self.initial_state(self.final_state(memory, memory_pad))
        memory, pad = self.mem_proj(memory), memory_mask(memory_pad)  # (B, S, H)
        y = self.drop(self.embed(tgt_in))  # (B, T, H)
        if not self.input_feeding:
            h, _ = self.rnn(y, state)  # (B, T, H)
            att = self.attend(h, memory, pad)  # (B, T, H)
        else:
            feed, steps = y.new_zeros(y.shape[0], 1, y.shape[2]), []  # (B, 1, H)
            for t in range(y.shape[1]):
                h, state = self.rnn(torch.cat([y[:, t : t + 1], feed], -1), state)  # (B, 1, H)
                feed = self.attend(h, memory, pad)  # (B, 1, H)
                steps.append(feed)
            att = torch.cat(steps, 1)  # (B, T, H)
        return self.out(self.drop(att))  # (B, T, V)

    def step(self, memory, memory_pad, tokens, state=None):
        """tokens (B, 1) → (logits (B, 1, V), state): the recurrent state (batch first) and the last
        attentional state (fed back with input feeding)."""
        if state is None:
            rnn_state = self.initial_state(self.final_state(memory, memory_pad))
            feed = memory.new_zeros(memory.shape[0], 1, self.combine.out_features)
        else:
            rnn_state, feed = state
            rnn_state = (
                tuple(s.transpose(0, 1).contiguous() for s in rnn_state)
                if self.is_lstm
                else rnn_state.transpose(0, 1).contiguous()
            )  # (layers, B, H)
        y = self.drop(self.embed(tokens))  # (B, 1, H)
        if self.input_feeding:
            y = torch.cat([y, feed], -1)
        h, rnn_state = self.rnn(y, rnn_state)  # (B, 1, H)
        feed = self.attend(h, self.mem_proj(memory), memory_mask(memory_pad))  # (B, 1, H)
        batch_first = tuple(s.transpose(0, 1) for s in rnn_state) if self.is_lstm else rnn_state.transpose(0, 1)
        return self.out(self.drop(feed)), (batch_first, feed)

    def attentions(self) -> dict[str, MultiHeadAttention]:
        return {"cross": self.attn}


class ConvDecoder(nn.Module):
    """ConvS2S-style decoder (Gehring et al. 2017): target embedding + learned positions → N × (causal conv
    block, then attention over the encoder output in a pre-norm residual) → LayerNorm → Linear.

    Args:
        spec: the task's spec (target side).
        channels: width.
        n_layers: conv blocks (each followed by an attention step).
        conv_block: ``conv_block(i)`` builds the i-th **causal** block, (B, T, C) → (B, T, C), with ``step``.
        n_heads: heads of each attention step (1 as in ConvS2S).
        dropout: on embeddings and residual branches.
        tie_embeddings: share the target embedding matrix with the output projection.
    """

    def __init__(
        self,
        spec: TaskSpec,
        *,
        channels: int,
        n_layers: int,
        conv_block: Callable[[int], nn.Module],
        n_heads: int = 1,
        dropout: float = 0.0,
        tie_embeddings: bool = False,
    ):
        super().__init__()
        if n_layers < 1:
            raise ConfigError(f"arch.n_dec_layers={n_layers} must be at least 1 (or null to cover the target)")
        self.embed = target_embedding(spec, channels)
        self.pos = PositionalEncoding("learned", spec.tgt_max_len, channels, dropout)
        self.convs = nn.ModuleList(conv_block(i) for i in range(n_layers))
        self.attns = nn.ModuleList(
            Residual(channels, MultiHeadAttention(channels, n_heads, dropout, cross=True), dropout, norm_first=True)
            for _ in range(n_layers)
        )
        self.norm = nn.LayerNorm(channels)
        self.out = output_projection(spec, channels, self.embed, tie_embeddings)

    def forward(self, memory, memory_pad, tgt_in):
        """memory (B, S, C), memory_pad (B, S) or None, tgt_in (B, T) → logits (B, T, V)."""
        pad = memory_mask(memory_pad)
        y = self.pos(self.embed(tgt_in))  # (B, T, C)
        for conv, attn in zip(self.convs, self.attns):
            y = conv(y)  # (B, T, C), causal
            y = attn(y, context=memory, key_pad=pad)  # (B, T, C)
        return self.out(self.norm(y))  # (B, T, V)

    def step(self, memory, memory_pad, tokens, state=None):
        """tokens (B, 1) → (logits (B, 1, V), state): each conv block's rolling buffer and each attention
        step's projected memory."""
        t, states = state or (0, [(None, None)] * len(self.convs))
        pad = memory_mask(memory_pad)
        y = self.pos(self.embed(tokens), offset=t)  # (B, 1, C)
        new = []
        for conv, attn, (buf, kv) in zip(self.convs, self.attns, states):
            y, buf = conv.step(y, buf)
            y, kv = attn.step(y, kv, context=memory, key_pad=pad)
            new.append((buf, kv))
        return self.out(self.norm(y)), (t + 1, new)

    def attentions(self) -> dict[str, MultiHeadAttention]:
        return {f"{i}.cross": a.fn for i, a in enumerate(self.attns)}


class GenericDecoder(nn.Module):
    """Any backbone as a decoder: target embedding + positions → each layer of a **causal** copy of the backbone,
    followed by one-head attention over the encoder states (pre-norm residual) → LayerNorm → Linear.

    Incremental decoding runs each layer's ``step`` (a KV cache, a recurrent state, a buffer, or by default
    the recomputed prefix of that layer) and keeps each attention's projected memory.

    Args:
        spec: the task's spec (target side).
        backbone: the causal backbone (built by the model with the architecture's ``causal_settings``).
        memory_dim: width of the encoder's states (projected to the backbone's width when different).
        pos_encoding, scale_embedding: as the input adapter's.
        tie_embeddings: share the target embedding matrix with the output projection.
        dropout: on embeddings and attention residuals.
    """

    def __init__(
        self,
        spec: TaskSpec,
        backbone: nn.Module,
        memory_dim: int,
        *,
        pos_encoding: str,
        scale_embedding: bool,
        tie_embeddings: bool,
        dropout: float,
    ):
        super().__init__()
        if not backbone.causal or backbone.out_width != backbone.width:
            raise ConfigError(f"{type(backbone).__name__}: its causal_settings do not make it causal")
        d = backbone.width
        self.pad_id, self.backbone = spec.tgt_pad_id, backbone
        self.embed = target_embedding(spec, d, scale_embedding)
        self.pos = PositionalEncoding(pos_encoding, spec.tgt_max_len, d, dropout)
        self.mem_proj = nn.Linear(memory_dim, d) if memory_dim != d else nn.Identity()
        self.cross = nn.ModuleList(
            Residual(d, MultiHeadAttention(d, 1, dropout, cross=True), dropout, norm_first=True)
            for _ in backbone.layers
        )
        self.norm = nn.LayerNorm(d)
        self.out = output_projection(spec, d, self.embed, tie_embeddings)

    def forward(self, memory, memory_pad, tgt_in):
        """memory (B, S, memory_dim), memory_pad (B, S) or None, tgt_in (B, T) → logits (B, T, V)."""
        memory, pad, tgt_pad = self.mem_proj(memory), memory_mask(memory_pad), target_mask(tgt_in, self.pad_id)
        y = self.pos(self.embed(tgt_in))  # (B, T, d)
        for layer, cross in zip(self.backbone.layers, self.cross):
            y = layer(y, tgt_pad)  # (B, T, d), causal
            y = cross(y, context=memory, key_pad=pad)  # (B, T, d)
        return self.out(self.norm(self.backbone.final(y)))  # (B, T, V)

    def step(self, memory, memory_pad, tokens, state=None):
        """tokens (B, 1) → (logits (B, 1, V), state)."""
        t, states = state or (0, [(None, None)] * len(self.cross))
        memory, pad = (self.mem_proj(memory) if state is None else None), memory_mask(memory_pad)
        y = self.pos(self.embed(tokens), offset=t)  # (B, 1, d)
        new = []
        for layer, cross, (ls, kv) in zip(self.backbone.layers, self.cross, states):
            y, ls = layer.step(y, ls)
            y, kv = cross.step(y, kv, context=memory, key_pad=pad)
            new.append((ls, kv))
        return self.out(self.norm(self.backbone.final(y))), (t + 1, new)

    def attentions(self) -> dict[str, MultiHeadAttention]:
        inner = {f"{k}": m for k, m in self.backbone.attentions().items()}
        return inner | {f"{i}.cross": c.fn for i, c in enumerate(self.cross)}
