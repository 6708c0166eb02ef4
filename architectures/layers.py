"""Shared pieces every architecture builds from: input ends, positional encodings, attention, blocks, heads.

Shapes: B batch, L sequence length, S key length, d model width, h heads, dh = d / h.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from core.errors import ConfigError


# --------------------------------------------------------------------------------------------- attention
def attention(q, k, v, mask=None, dropout: nn.Module | None = None):
    """Plain softmax(QKᵀ/√d_k)·V, the test oracle and the source of attention maps.

    q (..., L, dk), k (..., S, dk), v (..., S, dv); ``mask`` broadcastable to (..., L, S), True = may attend.
    Returns (output (..., L, dv), weights (..., L, S)).
    """
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])  # (..., L, S)
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = scores.softmax(-1)
    if dropout is not None:
        weights = dropout(weights)
    return weights @ v, weights


def causal_mask(L: int, S: int | None = None, device=None) -> torch.Tensor:
    """(L, S) bool, True where query i may attend key j ≤ i."""
    return torch.ones(L, S or L, dtype=torch.bool, device=device).tril()


class MultiHeadAttention(nn.Module):
    """Multi-head attention through ``F.scaled_dot_product_attention``.

    Self-attention uses one fused QKV projection; cross-attention (``cross=True``) projects queries from
    ``x`` and keys/values from ``context``. With ``keep_weights=True`` the plain :func:`attention` runs
    instead and the maps are kept in ``self.weights`` (B, h, L, S) for inspection. ``head_gate`` (None, or a
    (h,) tensor) scales each head's output before the output projection: the head-ablation probe zeroes one head
    at a time (Michel et al. 2019); it is no parameter and never saved.
    """

    def __init__(self, d_model: int, n_heads: int, dropout: float = 0.0, cross: bool = False):
        super().__init__()
        if d_model < 1 or n_heads < 1:
            raise ConfigError(f"d_model={d_model} and n_heads={n_heads} must be at least 1")
        if d_model % n_heads:
            raise ConfigError(
                f"d_model={d_model} is not divisible by n_heads={n_heads}; pick n_heads among "
                f"{[h for h in range(1, d_model + 1) if d_model % h == 0 and h <= 16]}"
            )
        self.h, self.dh, self.cross, self.p = n_heads, d_model // n_heads, cross, dropout
        if cross:
            self.q, self.kv = nn.Linear(d_model, d_model), nn.Linear(d_model, 2 * d_model)
        else:
            self.qkv = nn.Linear(d_model, 3 * d_model)
        self.proj = nn.Linear(d_model, d_model)
        self.keep_weights, self.weights, self.head_gate = False, None, None

    def _heads(self, t):  # (B, L, d) -> (B, h, L, dh)
        return t.unflatten(-1, (self.h, self.dh)).transpose(1, 2)

    def forward(self, x, context=None, key_pad=None, causal: bool = False):
        """x (B, L, d); context (B, S, d) for cross-attention; key_pad (B, S) True = padding."""
        B, L, d = x.shape
        if self.cross:
            q, (k, v) = self.q(x), self.kv(context).chunk(2, -1)
        else:
            q, k, v = self.qkv(x).chunk(3, -1)
        q, k, v = self._heads(q), self._heads(k), self._heads(v)  # (B, h, L|S, dh)
        S = k.shape[2]
        mask = None
        if key_pad is not None:
            mask = ~key_pad[:, None, None, :]  # (B, 1, 1, S)
        if causal and (mask is not None or self.keep_weights):
            cm = causal_mask(L, S, x.device)
            mask = cm if mask is None else mask & cm
            causal = False
        if self.keep_weights:
            out, w = attention(q, k, v, mask)
            self.weights = w.detach()
        else:
            out = F.scaled_dot_product_attention(
                q, k, v, attn_mask=mask, is_causal=causal, dropout_p=self.p if self.training else 0.0
            )
        if self.head_gate is not None:
            out = out * self.head_gate.to(out)[None, :, None, None]  # (B, h, L, dh), one head zeroed
        return self.proj(out.transpose(1, 2).reshape(B, L, d))  # (B, L, d)

    def step(self, x, cache=None, context=None, key_pad=None):
        """One new query position x (B, 1, d) → (output (B, 1, d), cache) for incremental decoding.

        Self-attention appends the new key/value to ``cache`` (the keys so far: causal by construction);
        cross-attention projects ``context`` (B, S, d) into keys/values once and keeps them in ``cache``."""
        B = x.shape[0]
        mask = None
        if self.cross:
            q = self._heads(self.q(x))  # (B, h, 1, dh)
            if cache is None:
                k, v = self.kv(context).chunk(2, -1)
                cache = (self._heads(k), self._heads(v))  # (B, h, S, dh) each
            k, v = cache
            if key_pad is not None:
                mask = ~key_pad[:, None, None, :]  # (B, 1, 1, S)
        else:
            q, k, v = (self._heads(t) for t in self.qkv(x).chunk(3, -1))  # (B, h, 1, dh)
            if cache is not None:
                k, v = torch.cat([cache[0], k], 2), torch.cat([cache[1], v], 2)  # (B, h, t, dh)
            cache = (k, v)
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)  # (B, h, 1, dh)
        return self.proj(out.transpose(1, 2).reshape(B, 1, -1)), cache


# --------------------------------------------------------------------------------------------- blocks
class Layer(nn.Module):
    """One layer of a backbone: ``forward(x (B, L, d), pad (B, L) or None) → (B, L, d)``.

    ``step(x (B, 1, d), state) → (y (B, 1, d), state)`` runs one more position of a causal layer (incremental
    decoding; ``state`` is None at the start and holds batch-first tensors, so beam search can reorder it).
    This default keeps the inputs so far and recomputes them, which is right for any causal layer; layers
    with a cheaper per-step state (a KV cache, a recurrent state, a rolling buffer) override it."""

    def step(self, x, state=None):
        seen = x if state is None else torch.cat([state, x], 1)  # (B, t, d)
        return self(seen)[:, -1:], seen


class FeedForward(nn.Module):
    """Position-wise FFN: Linear → activation → dropout → Linear."""

    def __init__(self, d_model: int, d_ff: int, dropout: float = 0.0, activation: str = "relu"):
        super().__init__()
        acts = {"relu": nn.ReLU, "gelu": nn.GELU}
        if activation not in acts:
            raise ConfigError(f"activation={activation!r} is not known; use one of {sorted(acts)}")
        self.net = nn.Sequential(
            nn.Linear(d_model, d_ff), acts[activation](), nn.Dropout(dropout), nn.Linear(d_ff, d_model)
        )

    def forward(self, x):
        return self.net(x)


class Residual(nn.Module):
    """Add & Norm around a sub-layer: post-norm ``norm(x + f(x))`` (Vaswani et al.) or pre-norm ``x + f(norm(x))``.

    Ablations: without ``residual`` the sub-layer's output replaces x (post-norm ``norm(f(x))``, pre-norm
    ``f(norm(x))``); without ``layer_norm`` the norm is ``nn.Identity()`` (no LayerNorm parameters)."""

    def __init__(
        self,
        d_model: int,
        fn: nn.Module,
        dropout: float = 0.0,
        norm_first: bool = False,
        *,
        residual: bool = True,
        layer_norm: bool = True,
    ):
        super().__init__()
        self.fn, self.drop, self.norm_first, self.residual = fn, nn.Dropout(dropout), norm_first, residual
        self.norm = nn.LayerNorm(d_model) if layer_norm else nn.Identity()

    def forward(self, x, *args, **kwargs):
        return self.wrap(x, lambda h: self.fn(h, *args, **kwargs))

    def step(self, x, state=None, **kwargs):
        """The sub-layer's ``step`` inside the same residual: (B, 1, d) → ((B, 1, d), its state)."""
        out = {}

        def fn(h):
            y, out["state"] = self.fn.step(h, state, **kwargs)
            return y

        return self.wrap(x, fn), out["state"]

    def wrap(self, x, fn):
        skip = x if self.residual else 0.0
        if self.norm_first:
            return skip + self.drop(fn(self.norm(x)))
        return self.norm(skip + self.drop(fn(x)))


class AttentionBlock(nn.Module):
    """What the encoder and decoder blocks share: their sizes, and every sub-layer inside :class:`Residual` with the
    same dropout, norm placement (``norm_first``) and ablations (``residual``, ``layer_norm``). A block adds its
    attention sub-layers with :meth:`attention`, then its FFN with :meth:`feed_forward`, in that order."""

    def __init__(
        self,
        d_model,
        n_heads,
        d_ff,
        dropout=0.0,
        norm_first=False,
        activation="relu",
        *,
        residual=True,
        layer_norm=True,
    ):
        super().__init__()
        self.d_model, self.n_heads, self.d_ff, self.activation = d_model, n_heads, d_ff, activation
        self.wrap = dict(dropout=dropout, norm_first=norm_first, residual=residual, layer_norm=layer_norm)

    def attention(self, cross: bool = False) -> Residual:
        d, dropout = self.d_model, self.wrap["dropout"]
        return Residual(d, MultiHeadAttention(d, self.n_heads, dropout, cross=cross), **self.wrap)

    def feed_forward(self) -> Residual:
        d, dropout = self.d_model, self.wrap["dropout"]
        return Residual(d, FeedForward(d, self.d_ff, dropout, self.activation), **self.wrap)


class EncoderBlock(AttentionBlock, Layer):
    """Self-attention then FFN, each inside :class:`Residual`; the sizes and options are :class:`AttentionBlock`'s
    (``causal``: masked self-attention)."""

    def __init__(self, *sizes, causal=False, **options):
        super().__init__(*sizes, **options)
        self.attn = self.attention()
        self.ffn = self.feed_forward()
        self.causal = causal

    def forward(self, x, key_pad=None, causal=None):
        x = self.attn(x, key_pad=key_pad, causal=self.causal if causal is None else causal)
        return self.ffn(x)

    def step(self, x, state=None):
        """KV cache: the keys and values of the positions so far."""
        x, state = self.attn.step(x, state)
        return self.ffn(x), state


class DecoderBlock(AttentionBlock):
    """Masked self-attention, attention over the encoder output, FFN; each inside :class:`Residual`; the sizes and
    options are :class:`AttentionBlock`'s."""

    def __init__(self, *sizes, **options):
        super().__init__(*sizes, **options)
        self.self_attn = self.attention()
        self.cross_attn = self.attention(cross=True)
        self.ffn = self.feed_forward()

    def forward(self, y, memory, memory_pad=None, tgt_pad=None):
        y = self.self_attn(y, key_pad=tgt_pad, causal=True)
        y = self.cross_attn(y, context=memory, key_pad=memory_pad)
        return self.ffn(y)

    def step(self, y, state, memory, memory_pad=None):
        """y (B, 1, d); state = (self-attention KV cache, cross-attention keys/values) or None."""
        self_cache, cross_cache = state or (None, None)
        y, self_cache = self.self_attn.step(y, self_cache)
        y, cross_cache = self.cross_attn.step(y, cross_cache, context=memory, key_pad=memory_pad)
        return self.ffn(y), (self_cache, cross_cache)


def final_norm(d_model: int, norm_first: bool, layer_norm: bool) -> nn.Module:
    """The LayerNorm after a stack of pre-norm blocks (whose residual stream is not normalised), else Identity."""
    return nn.LayerNorm(d_model) if norm_first and layer_norm else nn.Identity()


class Stack(nn.Module):
    """``n`` blocks then a final LayerNorm when pre-norm (post-norm blocks end normalised already; none at all
    without ``layer_norm``)."""

    def __init__(self, make_block, n: int, d_model: int, norm_first: bool, *, layer_norm: bool = True):
        super().__init__()
        self.blocks = nn.ModuleList(make_block() for _ in range(n))
        self.norm = final_norm(d_model, norm_first, layer_norm)

    def forward(self, x, *args, **kwargs):
        for block in self.blocks:
            x = block(x, *args, **kwargs)
        return self.norm(x)


# --------------------------------------------------------------------------------------------- positions
def sinusoidal_table(length: int, d_model: int) -> torch.Tensor:
    """PE(pos, 2i) = sin(pos / 10000^(2i/d)), PE(pos, 2i+1) = cos(pos / 10000^(2i/d)); (length, d)."""
    pos = torch.arange(length, dtype=torch.float64)[:, None]
    div = torch.pow(10000.0, torch.arange(0, d_model, 2, dtype=torch.float64) / d_model)
    pe = torch.zeros(length, d_model, dtype=torch.float64)
    pe[:, 0::2] = torch.sin(pos / div)
    pe[:, 1::2] = torch.cos(pos / div[: d_model // 2])
    return pe.float()


POS_ENCODINGS = ("sinusoidal", "learned", "none")


class PositionalEncoding(nn.Module):
    """Adds sinusoidal, learned or no position information to (B, L, d), then dropout."""

    def __init__(self, kind: str, max_len: int, d_model: int, dropout: float = 0.0):
        super().__init__()
        if kind not in POS_ENCODINGS:
            raise ConfigError(f"pos_encoding={kind!r} is not known; use one of {', '.join(POS_ENCODINGS)}")
        self.kind, self.max_len = kind, max_len
        if kind == "sinusoidal":
            self.register_buffer("pe", sinusoidal_table(max_len, d_model), persistent=False)
        elif kind == "learned":
            self.pe = nn.Parameter(torch.randn(max_len, d_model) * 0.02)
        self.drop = nn.Dropout(dropout)

    def forward(self, x, offset: int = 0):
        if self.kind != "none":
            L = x.shape[1]
            if offset + L > self.max_len:
                raise ValueError(f"sequence of length {offset + L} is longer than max_len={self.max_len}")
            x = x + self.pe[offset : offset + L].to(x.dtype)
        return self.drop(x)


# --------------------------------------------------------------------------------------------- input ends
class TokenEmbedding(nn.Module):
    """Token ids (B, L) → (B, L, d), optionally scaled by √d as in Vaswani et al.

    With ``scale`` the table starts at N(0, 1/d), so that scaled embeddings have unit variance like the
    positional encoding they are added to (as in fairseq/tensor2tensor); otherwise N(0, 1) as nn.Embedding.
    """

    def __init__(self, vocab_size: int, d_model: int, pad_id: int | None = None, scale: bool = False):
        super().__init__()
        self.emb = nn.Embedding(vocab_size, d_model, padding_idx=pad_id)
        self.scale = math.sqrt(d_model) if scale else 1.0
        if scale:
            nn.init.normal_(self.emb.weight, std=d_model**-0.5)
            if pad_id is not None:
                nn.init.zeros_(self.emb.weight[pad_id])

    def forward(self, x):
        return self.emb(x) * self.scale


IMAGE_AS = ("rows", "pixels", "patches", "conv")


def image_sequence_shape(shape: tuple[int, int, int], image_as: str, patch: int) -> tuple[int, int]:
    """(length, features per step) of a (C, H, W) image read as rows, pixels or ``patch``×``patch`` patches."""
    C, H, W = shape
    if image_as == "rows":
        return H, C * W
    if image_as == "pixels":
        return H * W, C
    if patch < 1 or H % patch or W % patch:
        raise ConfigError(
            f"arch.patch_size={patch} does not divide the {H}x{W} image; use one of "
            f"{[q for q in range(1, min(H, W) + 1) if H % q == 0 and W % q == 0]}"
        )
    return (H // patch) * (W // patch), C * patch * patch


def image_to_sequence(img: torch.Tensor, image_as: str, patch: int) -> torch.Tensor:
    """(B, C, H, W) → (B, L, F): rows, pixels or non-overlapping patches, in reading order."""
    B, C, H, W = img.shape
    if image_as == "rows":
        return img.permute(0, 2, 1, 3).reshape(B, H, C * W)
    if image_as == "pixels":
        return img.flatten(2).transpose(1, 2)  # (B, H*W, C)
    x = img.unfold(2, patch, patch).unfold(3, patch, patch)  # (B, C, H/p, W/p, p, p)
    return x.permute(0, 2, 3, 1, 4, 5).reshape(B, (H // patch) * (W // patch), C * patch * patch)


# --------------------------------------------------------------------------------------------- heads
POOLS = ("mean", "max", "last", "cls")


def masked_mean(h, pad=None):
    """(B, L, d) → (B, d): the mean over the positions that are not padding (``pad`` (B, L), True = padding)."""
    if pad is None:
        return h.mean(1)
    keep = (~pad)[..., None].to(h.dtype)  # (B, L, 1)
    return (h * keep).sum(1) / keep.sum(1).clamp(min=1)


class ClassHead(nn.Module):
    """Pools (B, L, d) over valid positions, then Linear → (B, num_classes). Every architecture uses it."""

    def __init__(self, d_model: int, num_classes: int, pool: str = "mean", dropout: float = 0.0, has_cls: bool = False):
        super().__init__()
        if pool not in POOLS:
            raise ConfigError(f"pool={pool!r} is not known; use one of {', '.join(POOLS)}")
        if pool == "cls" and not has_cls:
            raise ConfigError("arch.pool=cls needs a CLS token (arch.cls_token=true); use mean, max or last")
        self.pool, self.drop, self.fc = pool, nn.Dropout(dropout), nn.Linear(d_model, num_classes)

    def forward(self, h, pad=None):
        if self.pool == "cls":
            z = h[:, 0]
        elif self.pool == "last":
            last = h.shape[1] - 1 if pad is None else (~pad).sum(1).clamp(min=1) - 1  # (B,)
            z = h[torch.arange(h.shape[0], device=h.device), last] if pad is not None else h[:, last]
        elif self.pool == "max":
            z = (h if pad is None else h.masked_fill(pad[..., None], float("-inf"))).amax(1)
        else:
            z = masked_mean(h, pad)
        return self.fc(self.drop(z))


class TokenHead(nn.Module):
    """Per-position logits: (B, L, d) → (B, L·per, num_classes); ``per`` > 1 un-patches each position (a
    patch of ``per`` tokens) back into ``per`` outputs."""

    def __init__(self, d_model: int, num_classes: int, per: int = 1):
        super().__init__()
        self.fc, self.per = nn.Linear(d_model, per * num_classes), per

    def forward(self, h, pad=None):
        B, N, _ = h.shape
        return self.fc(h).reshape(B, N * self.per, -1)  # (B, N·per, classes)
