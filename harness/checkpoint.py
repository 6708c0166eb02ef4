"""Atomic checkpoints holding everything a bitwise resume needs (model, optimizer, schedule, data stream, RNG)."""

from __future__ import annotations

import io
from pathlib import Path

import torch

from core.files import atomic_write_bytes


def rng_state(device: torch.device) -> dict:
    state = {"torch": torch.get_rng_state()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def set_rng_state(state: dict, device: torch.device) -> None:
    torch.set_rng_state(state["torch"])
    if device.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"], device)


def save(path: Path, **state) -> None:
    buf = io.BytesIO()
    torch.save(state, buf)
    atomic_write_bytes(path, buf.getvalue())


def load(path: Path) -> dict:
    """Load on the CPU (RNG states must stay there); model and optimizer copy tensors to their device."""
    return torch.load(path, map_location="cpu", weights_only=True)


def own_storage(state: dict) -> dict:
    """``state`` with each tensor that views a larger storage (a seed's slice of a stacked model,
    :mod:`harness.batched`) copied out: torch.save writes a tensor's whole storage."""
    return {
        k: v.clone()
        if isinstance(v, torch.Tensor) and v.untyped_storage().nbytes() > v.numel() * v.element_size()
        else v
        for k, v in state.items()
    }


def save_run(tr) -> None:
    """The checkpoint of trainer ``tr`` at its step: weights, optimizer, schedule, data stream, RNG, run state, the
    best validated weights (select=best) and the config as launched."""
    save(
        tr.ckpt_path,
        step=tr.step,
        model=own_storage(tr.model.state_dict()),
        optimizer=tr.optimizer.state_dict(),
        scheduler=tr.scheduler.state_dict(),
        task=tr.task.state_dict(),
        rng=rng_state(tr.device),
        state=tr.state.to_dict(),
        best_model=tr.selection.best_weights or {},
        config=tr.given,
    )
