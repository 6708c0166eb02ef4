"""The Transformer of Vaswani et al. 2017 ("Attention Is All You Need") as a backbone: N encoder blocks.

Each block is multi-head self-attention and a position-wise FFN, each in residual + LayerNorm (post-norm
"Add & Norm" as in Vaswani et al., or pre-norm; the skip connections or the LayerNorms can be left out to measure what
they do, claim C10); attention may be causal. The model around it (``architectures.model``) adds the token
embedding ×√d_model and the positional encoding. For sequence outputs its own decoder is Vaswani et al.'s: masked
self-attention, attention over the encoder output, FFN (``architectures.seq2seq.TransformerDecoder``), with the
same block options.
"""

from __future__ import annotations

import torch.nn as nn

from architectures.layers import EncoderBlock, MultiHeadAttention, final_norm
from architectures.model import Backbone
from architectures.seq2seq import TransformerDecoder
from core.errors import ConfigError
from tasks.base import TaskSpec


class Transformer(Backbone):
    """Transformer encoder stack.

    Args:
        max_len: longest sequence (unused: attention has no length limit).
        d_model: width of every layer.
        n_heads: attention heads (must divide d_model).
        n_layers: encoder blocks.
        d_ff: hidden width of the position-wise FFN.
        dropout: dropout on attention weights and residual branches.
        norm_first: pre-norm blocks instead of Vaswani et al.'s post-norm "Add & Norm".
        residual: keep the skip connections; false = each sub-layer's output replaces its input
            (post-norm ``norm(f(x))``, pre-norm ``f(norm(x))``).
        layer_norm: keep the LayerNorms; false = none in the blocks and no final norm after pre-norm blocks.
        causal: mask attention to the future (position i sees j ≤ i).
        activation: FFN activation, ``relu`` (Vaswani et al.) or ``gelu``.
    """

    def __init__(
        self,
        max_len: int,
        *,
        d_model: int,
        n_heads: int,
        n_layers: int,
        d_ff: int,
        dropout: float,
        norm_first: bool,
        residual: bool,
        layer_norm: bool,
        causal: bool,
        activation: str,
    ):
        super().__init__()
        if n_layers < 1 or d_model < 1:
            raise ConfigError(f"arch.n_layers={n_layers} and arch.d_model={d_model} must be at least 1")
        self.width = self.out_width = d_model
        self.causal, self.n_heads, self.d_ff, self.dropout = causal, n_heads, d_ff, dropout
        self.norm_first, self.activation = norm_first, activation
        self.block_options = dict(residual=residual, layer_norm=layer_norm)  # the ablations, shared with the decoder
        self.layers = nn.ModuleList(
            EncoderBlock(d_model, n_heads, d_ff, dropout, norm_first, activation, causal=causal, **self.block_options)
            for _ in range(n_layers)
        )
        self.final = final_norm(d_model, norm_first, layer_norm)  # post-norm blocks end normalised

    def attentions(self) -> dict[str, MultiHeadAttention]:
        return {f"{i}.self": block.attn.fn for i, block in enumerate(self.layers)}

    def own_decoder(self, spec: TaskSpec, *, n_layers, tie_embeddings, pos_encoding, scale_embedding):
        return TransformerDecoder(
            spec,
            d_model=self.width,
            n_heads=self.n_heads,
            n_layers=n_layers or len(self.layers),
            d_ff=self.d_ff,
            dropout=self.dropout,
            norm_first=self.norm_first,
            activation=self.activation,
            pos_encoding=pos_encoding,
            scale_embedding=scale_embedding,
            tie_embeddings=tie_embeddings,
            **self.block_options,
        )
