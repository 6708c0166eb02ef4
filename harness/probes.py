"""Long-range probes, run once before training and once after it (``trainer.probes``, on by default).

They use only the Task/Batch interface and the model's probe API (:class:`architectures.model.Model`:
``input_embedding``, ``forward(..., embedded=)``, ``forward_intermediates``, ``attention_maps``,
``positional_table``), so they work alike for every architecture:

* gradient norm by distance — ‖∂ℓ_j/∂e_t‖, the gradient of the loss at output position j with respect to the
  token embedding at position t, averaged per distance j − t (the vanishing-gradient curve). Output positions
  are the task's ``answer_positions`` (copy_long: the last n); a class output counts as sitting on the last
  real token.
* hidden states layer by layer (the input adapter's output, then each backbone layer) of the probe batch →
  ``hidden.npz``, and linear CKA between consecutive layers in the record. For ``class`` outputs, also each
  layer's states mean-pooled over the non-padding positions of up to ``POOLED_EXAMPLES`` validation sequences
  (``pooled<i>``, ``pooled_labels``): enough examples for a cross-validated linear probe of the label by layer.
* attention maps of one fixed example from every attention module the model names → ``attention.npz``, with
  the mean attended distance per layer and head in the record; a backbone without attention says so. The same
  maps of the model at initialisation → ``attention_init.npz`` (``long_range.attention_init``): the untrained
  heads, the baseline that trained heads' diversity is compared with.

The record lists the probes that ran (``long_range.probes``). Only token-input tasks with ``class`` or
``tokens`` outputs are probed; seq2seq (``sequence``) gets the attention maps only; others get a ``probe_note``.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn

from core.files import atomic_savez
from core.record import ATTENTION_FILE, ATTENTION_INIT_FILE, HIDDEN_FILE, HIDDEN_INIT_FILE
from core.similarity import linear_cka
from tasks.base import Batch

PROBE_BATCH = 32  # sequences in the fixed probe batch (the first of the validation split)
MAX_ANSWERS = 16  # output positions differentiated one by one (evenly spaced when there are more)
POOLED_EXAMPLES = 512  # validation sequences whose pooled states per layer are kept (class outputs)
POOLED_BATCH = 64  # sequences per forward pass of that pooled pass


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


def maps_apply(task) -> bool:
    """Whether the attention maps are read: every probed task, and seq2seq (its maps only)."""
    return task.spec.input_kind == "tokens" and (applicable(task) is None or task.spec.output_kind == "sequence")


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
    real = torch.ones_like(x, dtype=torch.bool) if spec.pad_id is None else x != spec.pad_id  # (B, L)
    pos = torch.arange(L, device=x.device)
    norms, dists = [], []
    with probing(model):
        e = model.input_embedding(x).detach().requires_grad_(True)  # (B, L, d)
        logits = model(*batch.inputs, embedded=e)
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
                loss = task.loss(logits, Batch(batch.inputs, targets, batch.n_tokens))
                (g,) = torch.autograd.grad(loss * valid.sum(), e, retain_graph=True)
                norms.append(g.norm(dim=-1))
                dists.append(torch.where(real & valid[:, None], j - pos, -1).expand(B, L))
    if not norms:
        return {"note": "no output position with a target in the probe batch"}
    norm, dist = torch.stack(norms).detach().cpu(), torch.stack(dists).cpu()
    return {"distance": list(range(L)), "values": mean_by_distance(norm, dist, L)}


def padded(rows: list[list[str]]) -> np.ndarray:
    return np.array(rows, dtype=str)


@torch.no_grad()
def pooled_states(
    model: nn.Module, task, limit: int = POOLED_EXAMPLES, batch_size: int = POOLED_BATCH
) -> dict[str, np.ndarray]:
    """Each layer's states mean-pooled over the non-padding positions of the first ``limit`` validation
    sequences (forward only, one ``forward_intermediates`` per batch): ``pooled<i>`` float32 (N, d_i) and
    ``pooled_labels`` (N,)."""
    layers, labels, n = [], [], 0
    with probing(model), torch.no_grad():
        for batch in task.eval_batches("val", batch_size):
            x, y = batch.inputs[0][: limit - n], batch.targets[: limit - n]
            _, states = model.forward_intermediates(x, pooled=True)  # (B, d_i) each
            layers.append([s.float().cpu() for s in states])
            labels.append(y.cpu())
            n += len(x)
            if n >= limit:
                break
    if not layers:
        return {}
    pooled = {f"pooled{i}": torch.cat(col).numpy() for i, col in enumerate(zip(*layers))}
    return {**pooled, "pooled_labels": torch.cat(labels).numpy()}


@torch.no_grad()
def hidden_states(model: nn.Module, task, batch: Batch, run_dir: Path) -> dict:
    """States layer by layer → ``hidden.npz``; linear CKA between consecutive layers (one sequence = one example).
    Class outputs add the pooled states of more validation sequences (:func:`pooled_states`)."""
    x = batch.inputs[0]
    with probing(model), torch.no_grad():
        names, states = model.forward_intermediates(x)
    spec = task.spec
    pad = torch.zeros_like(x, dtype=torch.bool) if spec.pad_id is None else x == spec.pad_id
    ids = x.cpu().tolist()
    arrays = {f"layer{i}": s.float().cpu().numpy().astype(np.float16) for i, s in enumerate(states)}
    pe = model.positional_table()
    extra = {} if pe is None else {"pe": pe.float().cpu().numpy()}
    if spec.output_kind == "class":
        extra.update(pooled_states(model, task))
    atomic_savez(
        Path(run_dir) / HIDDEN_FILE,
        tokens=x.cpu().numpy(),
        pad=pad.cpu().numpy(),
        token_text=padded(
            [
                [t if not p else "" for t, p in zip(task.token_strings(row), prow)]
                for row, prow in zip(ids, pad.cpu().tolist())
            ]
        ),
        labels=batch.targets.cpu().numpy(),
        names=np.array(names, dtype=str),
        **arrays,
        **extra,
    )
    flat = [s.double().cpu().numpy().reshape(s.shape[0], -1) for s in states]
    hidden = {"file": HIDDEN_FILE, "layers": names}
    if "pooled_labels" in extra:
        hidden["pooled_examples"] = len(extra["pooled_labels"])
    return {
        "hidden": hidden,
        "cka": [linear_cka(a, b) for a, b in zip(flat, flat[1:])],
        "cka_pairs": [f"{a}→{b}" for a, b in zip(names, names[1:])],
    }


@torch.no_grad()
def attention_maps(model: nn.Module, task, batch: Batch, run_dir: Path, file: str = ATTENTION_FILE) -> dict:
    """Every attention map of the model on the first probe sequence → ``file`` (``layer<i>``: (heads, L, S)
    float16, ``names``, ``tokens``, ``token_text``) and the mean attended distance per layer/head."""
    one = tuple(t[:1] if torch.is_tensor(t) else t for t in batch.inputs)
    with probing(model), torch.no_grad():
        found = model.attention_maps(*one)
    if not found:
        return {"attention_note": "the model has no attention modules"}
    names, maps = list(found), [w[0].float().cpu() for w in found.values()]  # (h, L, S) each
    ids = one[0][0].cpu().tolist()
    text = [t if i != task.spec.pad_id else "" for t, i in zip(task.token_strings(ids), ids)]
    arrays = {f"layer{i}": w.numpy().astype(np.float16) for i, w in enumerate(maps)}
    if task.spec.output_kind == "sequence":  # queries of the decoder's maps are target positions
        tgt = one[1][0].cpu().tolist()
        arrays["src_text"] = np.array(text, dtype=str)
        arrays["tgt_text"] = np.array(
            [t if i != task.spec.tgt_pad_id else "" for t, i in zip(task.target_token_strings(tgt), tgt)], dtype=str
        )
    atomic_savez(
        Path(run_dir) / file,
        tokens=one[0][0].cpu().numpy(),
        names=np.array(names, dtype=str),
        token_text=np.array(text, dtype=str),
        **arrays,
    )
    mean_distance = []
    for w in maps:
        h, L, S = w.shape
        gap = (torch.arange(L)[:, None] - torch.arange(S)[None, :]).abs().float()  # (L, S)
        mean_distance.append((w * gap).sum((-1, -2)).div(L).tolist())  # per head
    return {
        "attention": {
            "file": file,
            "layers": len(maps),
            "names": names,
            "heads": maps[0].shape[0],
            "mean_distance": mean_distance,
        }
    }


@torch.no_grad()
def head_ablation(model: nn.Module, task, batch_size: int, split: str = "test") -> dict:
    """Zero one attention head at a time (every attention module the model names) and evaluate ``split`` again:
    per layer and head, the main metric's drop from the intact model and the accuracy per answer position (which
    queries break). The faithfulness half of C5 and C9 (Michel et al. 2019)."""
    mods = model.attention_modules() if hasattr(model, "attention_modules") else {}
    if not mods:
        return {"head_ablation_note": "the model has no attention modules"}
    key = task.main_metric
    with probing(model), torch.no_grad():
        full = task.evaluate(model, split, batch_size)
        drop, by_position = [], []
        for mod in mods.values():
            drop.append([]), by_position.append([])
            for h in range(mod.h):
                mod.head_gate = torch.ones(mod.h)
                mod.head_gate[h] = 0.0
                try:
                    cut = task.evaluate(model, split, batch_size)
                finally:
                    mod.head_gate = None
                drop[-1].append(float(full[key]) - float(cut[key]))
                by_position[-1].append(cut.get("acc_by_position"))
    return {
        "head_ablation": {
            "metric": f"{split}/{key}",
            "full": float(full[key]),
            "names": list(mods),
            "drop": drop,
            "acc_by_position": by_position,
            "n_sequences": getattr(task, f"n_{split}", None),
        }
    }


@torch.no_grad()
def source_masking(model: nn.Module, task, batch_size: int, split: str = "test", seed: int = 0) -> dict:
    """Faithfulness of C9: the best head (the one whose attention from the answer positions is sharpest, mean max
    weight over ``split``) names, per sequence and answer position, the source it attends to most (argmax); that
    input position is blanked (token 0) and the answer scored again. The control blanks one other position drawn
    at random instead. Records the answer accuracy intact, with the attended source masked, with the control
    masked, and how often the argmax is the true source (copy: the answer's symbol)."""
    mods = model.attention_modules() if hasattr(model, "attention_modules") else {}
    if not mods or task.spec.input_kind != "tokens" or not hasattr(task, "answer_positions"):
        return {"source_masking_note": "needs attention modules and a token task with answer positions"}
    g = torch.Generator().manual_seed(seed)
    with probing(model):
        batches = list(task.eval_batches(split, batch_size))
        sharp: dict[tuple, float] = {}
        for b in batches:
            length = b.inputs[0].shape[1]
            pos = task.answer_positions(length)
            for name, w in model.attention_maps(*b.inputs).items():  # (B, h, L, S)
                for h, v in enumerate(w[:, :, pos].amax(-1).mean((0, 2)).tolist()):
                    sharp[(name, h)] = sharp.get((name, h), 0.0) + v * len(b.inputs[0])
        name, head = max(sharp, key=sharp.get)
        right = {"intact": 0.0, "masked": 0.0, "control": 0.0, "on_source": 0.0}
        count = 0
        for b in batches:
            x, rest, y = b.inputs[0], b.inputs[1:], b.targets
            B, length = x.shape
            pos = task.answer_positions(length)
            w = model.attention_maps(*b.inputs)[name][:, head]  # (B, L, S)
            logits = model(*b.inputs)
            for p in pos:
                src = w[:, p].argmax(-1)  # (B,)
                other = (src + torch.randint(1, w.shape[-1], (B,), generator=g).to(src.device)) % w.shape[-1]
                right["intact"] += float((logits[:, p].argmax(-1) == y[:, p]).sum())
                if task.source_distance is not None:  # a copy: answer p reads position p − distance (any copy)
                    hits = [src == p - d for d in getattr(task, "source_distances", [task.source_distance])]
                    right["on_source"] += float(torch.stack(hits).any(0).sum())
                for key, where in (("masked", src), ("control", other)):
                    xm = x.clone()
                    xm[torch.arange(B, device=x.device), where] = 0
                    right[key] += float((model(xm, *rest)[:, p].argmax(-1) == y[:, p]).sum())
            count += B * len(pos)
    acc = {k: v / count for k, v in right.items()}
    return {
        "source_masking": {
            "metric": f"{split}/answer_acc",
            "head": [name, head],
            "intact": acc["intact"],
            "masked": acc["masked"],
            "control": acc["control"],
            "drop": acc["intact"] - acc["masked"],
            "control_drop": acc["intact"] - acc["control"],
            "argmax_on_source": acc["on_source"] if task.source_distance is not None else None,
            "n_sequences": sum(len(b.inputs[0]) for b in batches),
        }
    }


# -- what the harness calls -------------------------------------------------------------------------------
def at_start(model: nn.Module, task, run_dir: Path | None = None) -> dict | None:
    """At initialisation: the gradient curve and, given ``run_dir`` and a model with attention, its maps →
    ``attention_init.npz``. The harness keeps the result in the checkpoint state and calls this on a fresh run
    only, so that a resumed run keeps both."""
    out: dict = {}
    if applicable(task) is None:
        out.update(grad_norm_by_distance(model, task, probe_batch(task)))
    if run_dir is not None and maps_apply(task):
        try:
            Path(run_dir).mkdir(parents=True, exist_ok=True)
            maps = attention_maps(model, task, probe_batch(task), run_dir, ATTENTION_INIT_FILE)
            if "attention" in maps:
                out["attention_init"] = maps["attention"]
        except Exception as e:  # noqa: BLE001 - the run matters more than one probe
            out["attention_init_error"] = f"{type(e).__name__}: {e}"
    if run_dir is not None and applicable(task) is None and task.spec.output_kind == "class":
        pooled = pooled_states(model, task)  # the same validation sequences hidden.npz pools after training
        if pooled:
            Path(run_dir).mkdir(parents=True, exist_ok=True)
            np.savez_compressed(Path(run_dir) / HIDDEN_INIT_FILE, **pooled)
            out["hidden_init"] = {"file": HIDDEN_INIT_FILE, "pooled_examples": len(pooled["pooled_labels"])}
    return out or None


def early(model: nn.Module, task, step: int) -> dict | None:
    """The gradient curve at ``trainer.probe_early_step`` (e.g. step 50): gradient flow early in training, before
    the trained model's reading pattern shapes the curve (C3 reads it beside the one at initialisation)."""
    if applicable(task) is not None:
        return None
    curve = grad_norm_by_distance(model, task, probe_batch(task))
    return {"step": int(step), "values": curve["values"]} if "values" in curve else None


def at_end(model: nn.Module, task, run_dir: Path, init: dict | None, early_curve: dict | None = None) -> dict:
    """Everything for ``summary["long_range"]``; a probe that fails is reported there, never fatal. ``init``:
    what :func:`at_start` returned; ``early_curve``: what :func:`early` returned (then ``grad_norm_by_distance``
    has ``early`` and ``early_step`` beside ``init`` and ``end``)."""
    init, why_not = init or {}, applicable(task)
    if why_not and not maps_apply(task):
        return {"probe_note": why_not}
    try:
        batch = probe_batch(task)
        out: dict = {"probes": []}
        if why_not:  # seq2seq: the maps only
            out["probe_note"] = why_not + " (attention maps only)"
        else:
            end = grad_norm_by_distance(model, task, batch)
            if "values" in end:
                out["grad_norm_by_distance"] = {
                    "distance": end["distance"],
                    "end": end["values"],
                    "init": init.get("values"),
                }
                if early_curve:
                    out["grad_norm_by_distance"].update(early=early_curve["values"], early_step=early_curve["step"])
                out["probes"].append("grad_norm_by_distance")
            else:
                out["probe_note"] = end.get("note")
            out.update(hidden_states(model, task, batch, run_dir))
            out["probes"] += ["hidden_states", "cka"]
        out.update(attention_maps(model, task, batch, run_dir))
        if "attention" in out:
            out["probes"].append("attention_maps")
        if "hidden_init" in init:
            out["hidden_init"] = init["hidden_init"]
            out["probes"].append("hidden_init")
        if "attention_init" in init:
            out["attention_init"] = init["attention_init"]
            out["probes"].append("attention_maps_init")
        elif "attention_init_error" in init:
            out["attention_init_error"] = init["attention_init_error"]
        return out
    except Exception as e:  # noqa: BLE001 - the run record matters more than one probe
        return {"probe_error": f"{type(e).__name__}: {e}"}
