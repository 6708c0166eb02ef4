"""Vision Transformer (Dosovitskiy et al. 2021): the Transformer backbone with ViT's choices.

Pre-norm blocks with GELU; the model around it reads images as p×p patches and token sequences as 1-D
patches of p tokens (``patch_tokens``), puts a CLS token in front, adds learned positions, pools the CLS
token for class outputs and un-patches each patch token into p positions for per-position outputs (all
settings of ``conf/arch/vit.yaml``). For sequence outputs the encoder's tokens are the memory of a
Transformer decoder (pre-norm, GELU, learned positions).
"""

from __future__ import annotations

from architectures.transformer import Transformer


class ViT(Transformer):
    """ViT encoder: a :class:`architectures.transformer.Transformer` (same arguments) whose defaults in
    ``conf/arch/vit.yaml`` are pre-norm, GELU and bidirectional."""
