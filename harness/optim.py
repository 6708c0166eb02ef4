"""Weight decay on matrices only (nanoGPT's ``configure_optimizers``): parameters of ≥ 2 dims decay, except
embedding and positional tables and what the model names in ``no_weight_decay()`` (timm's hook); biases and
norm weights (1-D) never do. The optimizer YAML's ``weight_decay`` is the rate of the decayed group."""

from __future__ import annotations

import torch.nn as nn


def param_groups(model: nn.Module, weight_decay: float) -> tuple[list[dict], dict]:
    """(groups for the optimizer, what the run record says about them)."""
    skip = model.no_weight_decay() if hasattr(model, "no_weight_decay") else set()
    decay, rest, seen = [], [], set()
    for name, p in model.named_parameters():
        if not p.requires_grad or id(p) in seen:  # a tied weight counts once, under its first name
            continue
        seen.add(id(p))
        (decay if p.dim() >= 2 and name not in skip else rest).append(p)
    groups = [{"params": decay, "weight_decay": weight_decay}, {"params": rest, "weight_decay": 0.0}]
    record = {
        "weight_decay": weight_decay,
        "decayed_params": sum(p.numel() for p in decay),
        "not_decayed_params": sum(p.numel() for p in rest),
        "rule": "dim >= 2, no embeddings/positions/norms",
    }
    return groups, record
