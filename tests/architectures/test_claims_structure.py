"""Structural facts the claims' verdicts state in words rather than test by training."""

from __future__ import annotations

import torch

from tasks.copy_long import CopyLong
from tests.conftest import build_arch


def answers(pos_encoding: str, causal: bool) -> torch.Tensor:
    """Logits (B, n, V) of a fresh transformer at copy_long's answer positions."""
    torch.manual_seed(0)
    task = CopyLong(delay=10, n_memorize=4, n_val=1, n_test=1)
    model = build_arch(
        "transformer", task.spec, pos_encoding=pos_encoding, causal=causal, d_model=32, n_heads=2, n_layers=2, d_ff=64
    ).eval()
    x, _ = task.generate(8, torch.Generator().manual_seed(1))
    with torch.no_grad():
        logits = model(x)
    return logits[:, task.answer_positions(x.shape[1])]


def test_c4_a_bidirectional_encoder_without_positions_gives_every_answer_position_the_same_logits():
    """Without positions self-attention is permutation-equivariant: the answer positions hold the same (blank)
    input, so their logits are identical whatever the weights; copying is impossible by construction (C4)."""
    none = answers("none", causal=False)
    assert (none - none[:, :1]).abs().max().item() < 1e-5
    # the contrasts that can go either way: positions, or a causal mask (which leaks order), break the symmetry
    assert (answers("sinusoidal", causal=False) - answers("sinusoidal", causal=False)[:, :1]).abs().max() > 1e-3
    causal = answers("none", causal=True)
    assert (causal - causal[:, :1]).abs().max().item() > 1e-3
