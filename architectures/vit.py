"""Vision Transformer (Dosovitskiy et al. 2021), on images and on token sequences.

Images: non-overlapping p×p patches → Linear. Sequences: token embeddings grouped into 1-D patches of p tokens
→ Linear. Then a CLS token, learned positions, pre-norm encoder blocks, and either the shared class head
(pooling the CLS token by default) or, for per-position outputs, an un-patching head that maps each patch
token back to p positions. For sequence outputs the encoder's tokens (CLS and 1-D patches) are the memory
of a Transformer decoder (``architectures.seq2seq.TransformerDecoder``: pre-norm, GELU, learned positions).
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from architectures.layers import Architecture, EncoderBlock, PositionalEncoding, Stack, output_head, padding_mask
from architectures.seq2seq import TransformerDecoder, wants_decoder
from harness.errors import ConfigError
from tasks.base import TaskSpec


class ViT(Architecture):
    """ViT encoder.

    Args:
        spec: the task's spec.
        d_model, n_heads, n_layers, d_ff, dropout: encoder sizes (as in the transformer).
        patch_size: p — side of the square image patches, or tokens per 1-D patch on sequences.
        norm_first: pre-norm blocks (ViT's choice; false gives the seed's post-norm).
        pool: class pooling (``cls`` by default; ``mean``, ``max`` also work).
        n_dec_layers: seq2seq only: decoder blocks (``None`` = ``n_layers``).
        tie_embeddings: seq2seq only: share the target embedding with the output projection.
    """

    def __init__(self, spec: TaskSpec, *, d_model: int = 64, n_heads: int = 4, n_layers: int = 2, d_ff: int = 128,
                 patch_size: int = 4, dropout: float = 0.1, norm_first: bool = True, pool: str = "cls",
                 n_dec_layers: int | None = None, tie_embeddings: bool = False):
        super().__init__()
        p = self.p = int(patch_size)
        self.spec = spec
        if p < 1:
            raise ConfigError(f"arch.patch_size={patch_size} must be at least 1")
        if spec.input_kind == "image":
            C, H, W = spec.image_shape
            if H % p or W % p:
                ok = [q for q in range(1, min(H, W) + 1) if H % q == 0 and W % q == 0]
                raise ConfigError(f"arch.patch_size={p} does not divide the {H}x{W} image; use one of {ok}")
            n_patches = (H // p) * (W // p)
            self.patch = nn.Conv2d(C, d_model, p, stride=p)
        else:
            if p > spec.max_len:
                raise ConfigError(f"arch.patch_size={p} is longer than the sequence (max_len={spec.max_len}); "
                                  f"use 1 ≤ patch_size ≤ {spec.max_len}")
            n_patches = -(-spec.max_len // p)
            self.tok = nn.Embedding(spec.vocab_size, d_model, padding_idx=spec.pad_id)
            self.patch = nn.Linear(p * d_model, d_model)
        self.cls = nn.Parameter(torch.zeros(1, 1, d_model))
        self.pos = PositionalEncoding("learned", n_patches + 1, d_model, dropout)
        self.encoder = Stack(lambda: EncoderBlock(d_model, n_heads, d_ff, dropout, norm_first, "gelu"),
                             n_layers, d_model, norm_first)
        if wants_decoder(spec, "vit"):
            self.decoder = TransformerDecoder(spec, d_model=d_model, n_heads=n_heads, n_layers=n_dec_layers or n_layers,
                                              d_ff=d_ff, dropout=dropout, norm_first=norm_first, activation="gelu",
                                              pos_encoding="learned", scale_embedding=False,
                                              tie_embeddings=tie_embeddings)
        elif spec.output_kind == "tokens" and spec.input_kind == "tokens":
            self.head = nn.Linear(d_model, p * spec.num_classes)  # un-patching: one patch token → p positions
        else:
            self.head = output_head(spec, d_model, pool, arch="vit", has_cls=True)

    def input_reading(self) -> str:
        p = self.p
        return f"image as {p}x{p} patches" if self.spec.input_kind == "image" else f"1-D patches of {p} tokens"

    def patchify(self, x):
        """Input → (B, N, d) patch tokens and (B, N) patch padding (True where a patch is all padding)."""
        if self.spec.input_kind == "image":
            return self.patch(x).flatten(2).transpose(1, 2), None  # (B, N, d)
        B, L = x.shape
        pad = padding_mask(self.spec, x)
        extra = -L % self.p
        e = F.pad(self.tok(x), (0, 0, 0, extra))  # (B, L + extra, d)
        tokens = self.patch(e.reshape(B, (L + extra) // self.p, -1))  # (B, N, d)
        if pad is not None:
            pad = F.pad(pad, (0, extra), value=True).reshape(B, -1, self.p).all(-1)  # (B, N)
        return tokens, pad

    def forward_features(self, x):
        tokens, pad = self.patchify(x)
        h = torch.cat([self.cls.expand(len(tokens), -1, -1), tokens], 1)  # (B, 1 + N, d)
        if pad is not None:
            pad = F.pad(pad, (1, 0), value=False)
        return self.encoder(self.pos(h), key_pad=pad), pad

    def forward_head(self, h, pad=None):
        if self.spec.output_kind == "tokens":  # un-patching: each patch token → p positions
            B, N1, _ = h.shape
            return self.head(h[:, 1:]).reshape(B, (N1 - 1) * self.p, -1)  # (B, N·p, classes)
        return self.head(h, pad)

    def forward(self, x, tgt_in=None):
        if self.spec.output_kind == "tokens":  # drop the positions added to fill the last patch
            return super().forward(x)[:, :x.shape[1]]  # (B, L, classes)
        return super().forward(x, tgt_in)
