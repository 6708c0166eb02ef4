"""Long-range probes, run once before training and once after it (``trainer.probes``, on by default).

They use only the Task/Batch interface and generic module discovery, so they work for any architecture:

* gradient norm by distance — ‖∂ℓ_j/∂e_t‖, the gradient of the loss at output position j with respect to the
  input embedding at position t, averaged per distance j − t (the vanishing-gradient curve). The embedding is
  the output of the model's first ``nn.Embedding`` over the task's vocabulary. Output positions are the task's
  ``answer_positions`` (copy_long: the last n); a class output counts as sitting on the last real token.
* attention maps of one fixed example, from every module with ``keep_weights`` (MultiHeadAttention), saved as
  ``attention.npz`` in the run folder, with the mean attended distance per layer and head in the record.
* linear CKA between consecutive layers: the input embedding and the outputs of the longest list of repeated
  blocks (transformer/vit encoder blocks, CNN conv blocks); fused recurrent stacks have none and get a note.

Only token-input tasks with ``class`` or ``tokens`` outputs are probed; others get a ``probe_note``.
"""
from __future__ import annotations

import contextlib
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn

from tasks.base import Batch

PROBE_BATCH = 32      # sequences in the fixed probe batch (the first of the validation split)
MAX_ANSWERS = 16      # output positions differentiated one by one (evenly spaced when there are more)
ATTENTION_FILE = "attention.npz"


# -- discovery --------------------------------------------------------------------------------------------
def input_embedding(model: nn.Module, vocab_size: int) -> nn.Module | None:
    """The module whose output is the input embedding (B, L, d): the first ``nn.Embedding`` over the input
    vocabulary (``embed.emb`` of rnn/lstm/cnn/transformer, ``tok`` of vit), else the first embedding."""
    embeddings = [m for m in model.modules() if isinstance(m, nn.Embedding)]
    return next((m for m in embeddings if m.num_embeddings == vocab_size), embeddings[0] if embeddings else None)


def repeated_blocks(model: nn.Module) -> tuple[str, list[nn.Module]]:
    """The longest ``ModuleList``/``Sequential`` of ≥ 2 children of one class: the model's layers."""
    best: tuple[str, list[nn.Module]] = ("", [])
    for name, m in model.named_modules():
        if isinstance(m, (nn.ModuleList, nn.Sequential)):
            kids = list(m.children())
            if len(kids) >= 2 and len({type(k) for k in kids}) == 1 and len(kids) > len(best[1]):
                best = (name, kids)
    return best


@contextlib.contextmanager
def leaf_output(module: nn.Module):
    """Replace ``module``'s output by a leaf tensor that requires grad; yields the list that receives it."""
    seen: list[torch.Tensor] = []

    def hook(_mod, _inp, out):
        seen.append(out.detach().requires_grad_(True))
        return seen[-1]

    handle = module.register_forward_hook(hook)
    try:
        yield seen
    finally:
        handle.remove()


@contextlib.contextmanager
def outputs_of(modules: list[nn.Module]):
    """Collect the tensor output of each module (in call order) while the context is open."""
    seen: list[torch.Tensor] = []
    hooks = [m.register_forward_hook(lambda _m, _i, out: seen.append(out[0] if isinstance(out, tuple) else out))
             for m in modules]
    try:
        yield seen
    finally:
        for h in hooks:
            h.remove()


@contextlib.contextmanager
def probing(model: nn.Module):
    """Eval mode (no dropout), gradients on, cuDNN off (its RNN backward refuses eval mode); restored after."""
    was_training = model.training
    model.eval()
    try:
        with torch.enable_grad(), torch.backends.cudnn.flags(enabled=False):
            yield
    finally:
        model.train(was_training)


# -- the probes -------------------------------------------------------------------------------------------
def applicable(task) -> str | None:
    """None when the task can be probed, else why not."""
    spec = task.spec
    if spec.input_kind != "tokens":
        return f"input_kind={spec.input_kind}: the probes read token sequences only"
    if spec.output_kind not in ("class", "tokens"):
        return f"output_kind={spec.output_kind}: no single output position to measure distances from"
    return None


def probe_batch(task) -> Batch:
    """The fixed batch the probes read: the first ``PROBE_BATCH`` sequences of the validation split."""
    return next(iter(task.eval_batches("val", PROBE_BATCH)))


def mean_by_distance(norms: torch.Tensor, distance: torch.Tensor, length: int) -> list[float | None]:
    """Average ``norms`` per distance 0..length-1 (entries with a negative distance are left out)."""
    keep = distance >= 0
    d, v = distance[keep].long(), norms[keep].double()
    total = torch.zeros(length, dtype=torch.float64).index_add_(0, d, v)
    count = torch.zeros(length, dtype=torch.float64).index_add_(0, d, torch.ones_like(v))
    return [float(s / c) if c else None for s, c in zip(total.tolist(), count.tolist())]


def grad_norm_by_distance(model: nn.Module, task, batch: Batch) -> dict:
    """‖∂ℓ_j/∂e_t‖ averaged over the batch and over output positions j, per distance j − t (≥ 0)."""
    spec, x = task.spec, batch.inputs[0]
    B, L = x.shape
    embedding = input_embedding(model, spec.vocab_size)
    if embedding is None:
        return {"note": "no nn.Embedding found: cannot measure gradients at the input"}
    real = torch.ones_like(x, dtype=torch.bool) if spec.pad_id is None else x != spec.pad_id  # (B, L)
    pos = torch.arange(L, device=x.device)
    norms, dists = [], []
    with probing(model), leaf_output(embedding) as seen:
        logits = model(*batch.inputs)
        e = seen[0]  # (B, L, d)
        if spec.output_kind == "class":
            last = real.sum(1, keepdim=True) - 1  # (B, 1) the last real token
            (g,) = torch.autograd.grad(task.loss(logits, batch) * B, e)
            norms.append(g.norm(dim=-1))  # (B, L)
            dists.append(torch.where(real, last - pos, -1))
        else:
            answers = task.answer_positions(L)
            if len(answers) > MAX_ANSWERS:
                answers = [answers[i] for i in np.linspace(0, len(answers) - 1, MAX_ANSWERS).round().astype(int)]
            for j in answers:
                targets = torch.full_like(batch.targets, spec.ignore_index)
                targets[:, j] = batch.targets[:, j]
                valid = batch.targets[:, j] != spec.ignore_index  # (B,)
                if not valid.any():
                    continue
                loss = task.loss(logits, Batch(batch.inputs, targets, batch.n_tokens, batch.extra))
                (g,) = torch.autograd.grad(loss * valid.sum(), e, retain_graph=True)
                norms.append(g.norm(dim=-1))
                dists.append(torch.where(real & valid[:, None], j - pos, -1).expand(B, L))
    if not norms:
        return {"note": "no output position with a target in the probe batch"}
    norm, dist = torch.stack(norms).detach().cpu(), torch.stack(dists).cpu()
    return {"distance": list(range(L)), "values": mean_by_distance(norm, dist, L)}


def linear_cka(x: torch.Tensor, y: torch.Tensor) -> float:
    """Linear CKA (Kornblith et al. 2019) of two (n, ·) representations of the same n examples, via Gram
    matrices so the widths may differ: ⟨K, L⟩ / (‖K‖‖L‖) with K = XXᵀ, L = YYᵀ of centred X, Y."""
    x, y = x.double() - x.double().mean(0), y.double() - y.double().mean(0)
    k, m = x @ x.T, y @ y.T
    denom = k.norm() * m.norm()
    return float((k * m).sum() / denom) if denom > 0 else float("nan")


@torch.no_grad()
def layer_similarity(model: nn.Module, task, batch: Batch) -> dict:
    """CKA between consecutive states: input embedding → block 1 → block 2 …; one sequence = one example."""
    name, blocks = repeated_blocks(model)
    embedding = input_embedding(model, task.spec.vocab_size)
    if not blocks or embedding is None:
        return {"cka_note": "no list of repeated blocks (e.g. a fused nn.RNN/nn.LSTM stack): CKA skipped"}
    with probing(model), outputs_of([embedding]) as emb, outputs_of(blocks) as states, torch.no_grad():
        model(*batch.inputs)
    flat = [s.reshape(s.shape[0], -1) for s in emb[:1] + states[:len(blocks)]]
    labels = ["embedding"] + [f"{name}.{i}" for i in range(len(blocks))]
    return {"cka": [linear_cka(a, b) for a, b in zip(flat, flat[1:])],
            "cka_pairs": [f"{a}→{b}" for a, b in zip(labels, labels[1:])]}


@torch.no_grad()
def attention_maps(model: nn.Module, batch: Batch, run_dir: Path) -> dict:
    """Attention of every ``keep_weights`` module on the first probe sequence → ``attention.npz``
    (``layer<i>``: (heads, L, S) float16, ``tokens``: the input) and mean attended distance per layer/head."""
    modules = [m for m in model.modules() if hasattr(m, "keep_weights")]
    if not modules:
        return {}
    one = tuple(t[:1] if torch.is_tensor(t) else t for t in batch.inputs)
    try:
        for m in modules:
            m.keep_weights = True
        with probing(model), torch.no_grad():
            model(*one)
        maps = [m.weights[0].float().cpu() for m in modules if m.weights is not None]  # (h, L, S) each
    finally:
        for m in modules:
            m.keep_weights, m.weights = False, None
    if not maps:
        return {}
    arrays = {f"layer{i}": w.numpy().astype(np.float16) for i, w in enumerate(maps)}
    np.savez_compressed(Path(run_dir) / ATTENTION_FILE, tokens=one[0][0].cpu().numpy(), **arrays)
    mean_distance = []
    for w in maps:
        h, L, S = w.shape
        gap = (torch.arange(L)[:, None] - torch.arange(S)[None, :]).abs().float()  # (L, S)
        mean_distance.append((w * gap).sum((-1, -2)).div(L).tolist())  # per head
    return {"attention": {"file": ATTENTION_FILE, "layers": len(maps), "heads": maps[0].shape[0],
                          "mean_distance": mean_distance}}


# -- what the harness calls -------------------------------------------------------------------------------
def at_start(model: nn.Module, task) -> dict | None:
    """The gradient curve at initialisation (kept in the checkpoint state so that a resumed run keeps it)."""
    if applicable(task):
        return None
    return grad_norm_by_distance(model, task, probe_batch(task))


def at_end(model: nn.Module, task, run_dir: Path, init: dict | None) -> dict:
    """Everything for ``summary["long_range"]``; a probe that fails is reported there, never fatal."""
    why_not = applicable(task)
    if why_not:
        return {"probe_note": why_not}
    try:
        batch = probe_batch(task)
        end = grad_norm_by_distance(model, task, batch)
        out: dict = {}
        if "values" in end:
            out["grad_norm_by_distance"] = {"distance": end["distance"], "end": end["values"],
                                            "init": (init or {}).get("values")}
        else:
            out["probe_note"] = end.get("note")
        out.update(layer_similarity(model, task, batch))
        out.update(attention_maps(model, batch, run_dir))
        return out
    except Exception as e:  # noqa: BLE001 - the run record matters more than one probe
        return {"probe_error": f"{type(e).__name__}: {e}"}
