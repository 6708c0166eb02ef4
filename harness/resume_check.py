"""Resuming safely: the checkpoint must be readable, written with the same settings, and fit the model.

Only the keys in :data:`MAY_CHANGE` (and the logger) may differ between the launch that wrote a checkpoint and
the one that resumes from it; they change how long the run goes on and how it reports, never what it computes
up to the checkpoint. Any other difference is refused with one line listing the differing keys, since the
record would otherwise state settings that were not the ones trained.
"""

from __future__ import annotations

import pickle
import sys
from pathlib import Path

from core.errors import ConfigError, first_line
from harness import checkpoint

MAY_CHANGE = (
    "trainer.max_steps",
    "trainer.max_time_s",
    "trainer.eval_every",
    "trainer.ckpt_every",
    "trainer.resume",
    "trainer.progress",
    "trainer.log_every",
    "trainer.device",
    "trainer.warmup_measure",
    "trainer.sync_every",
    "trainer.peak_tflops",
    "trainer.cuda_memory_fraction",
    "trainer.seeds_batched",  # the same seed's training, beside its other seeds or alone (harness/batched.py)
    "run_dir",
)
MAY_CHANGE_PREFIXES = ("logger.",)
REQUIRED = ("step", "model", "optimizer", "scheduler", "task", "rng", "state")


def differences(old, new, prefix: str = "") -> list[str]:
    """Dotted keys whose values differ between two config trees (dicts compared key by key)."""
    if isinstance(old, dict) and isinstance(new, dict):
        out = []
        for key in sorted(set(old) | set(new), key=str):
            out += differences(old.get(key, "<absent>"), new.get(key, "<absent>"), f"{prefix}{key}.")
        return out
    return [] if old == new else [prefix.rstrip(".")]


def refused(keys: list[str]) -> list[str]:
    return [k for k in keys if k not in MAY_CHANGE and not k.startswith(MAY_CHANGE_PREFIXES)]


def load(
    path: Path,
    required: tuple[str, ...] = REQUIRED,
    use: str = "resumed from",
    advice: str = "move it away to start the run over, or restore it",
) -> dict:
    """The checkpoint at ``path``, or one ConfigError line when it is damaged, not a checkpoint, or holds objects
    other than tensors and plain values (read with ``weights_only=True``: nothing in it runs). ``use`` and
    ``advice`` word the line for the caller (a resume, ``init_from``)."""
    try:
        ck = checkpoint.load(path)
    except Exception as e:  # noqa: BLE001 - truncated, empty, foreign or pickled-object files fail in many ways
        if isinstance(e, pickle.UnpicklingError) and "weights only" in str(e).lower():
            # torch's own text goes on to suggest weights_only=False, i.e. running the file's code: not repeated
            raise ConfigError(
                f"{path} holds objects other than tensors and plain values and cannot be {use} "
                f"(nothing in it was run); {advice}"
            ) from None
        raise ConfigError(f"{path} is damaged and cannot be {use} ({first_line(e)}); {advice}") from None
    missing = [k for k in required if not isinstance(ck, dict) or k not in ck]
    if missing:
        raise ConfigError(f"{path} is not an archbench checkpoint (missing {', '.join(missing)}); {advice}") from None
    return ck


def check_settings(ck: dict, given: dict, path: Path, what: str = "checkpoint") -> None:
    """Refuse a resume whose settings differ from the checkpoint's (or, with no checkpoint, the record's:
    ``what="record"``) in keys that may not change."""
    old = ck.get("config")
    if old is None:  # written before checkpoints carried their settings
        print(
            f"warning: {path} does not record its settings; they cannot be checked against this launch's",
            file=sys.stderr,
        )
        return
    bad = refused(differences(old, given))
    if bad:
        shown = ", ".join(f"{k} ({fmt(old, k)} → {fmt(given, k)})" for k in bad[:8])
        more = f" and {len(bad) - 8} more" if len(bad) > 8 else ""
        raise ConfigError(
            f"trainer.resume=true but these settings differ from the {what}'s ({path}): {shown}{more}; "
            f"only {', '.join(MAY_CHANGE[:-1])} and logger.* may change on resume. Resume with the "
            "original settings (see .hydra/overrides.yaml), or choose another hydra.run.dir"
        )


def fmt(tree: dict, key: str) -> str:
    node = tree
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return "absent"
        node = node[part]
    return repr(node)


def restore(what: str, load_fn, state, path: Path) -> None:
    """``load_fn(state)``, turning a mismatch (other architecture, width or optimizer) into one line."""
    try:
        load_fn(state)
    except (RuntimeError, KeyError, ValueError, TypeError, IndexError) as e:
        raise ConfigError(
            f"{path} does not fit this run's {what} ({first_line(e)}); resume with the settings "
            "it was written with (.hydra/config.yaml), or move it away to start over"
        ) from None


def load_optimizer(optimizer, state: dict) -> None:
    """``optimizer.load_state_dict(state)``, refusing the state of another kind of optimizer (torch would load
    it and fail at the next step, e.g. ``KeyError: 'momentum'``)."""
    have = set(optimizer.state_dict()["param_groups"][0]) - {"params"}
    got = set(state["param_groups"][0]) - {"params"} if state.get("param_groups") else set()
    if have != got:
        raise ValueError(f"it holds the state of an optimizer with settings {sorted(got)}, this one has {sorted(have)}")
    optimizer.load_state_dict(state)


def restore_run(tr, ck: dict) -> None:
    """Trainer ``tr`` continues from checkpoint ``ck`` (its settings already checked against this launch's): each
    part restored with one line if it does not fit; metrics.jsonl cut back to the checkpoint's step."""
    path = tr.ckpt_path
    restore("model", tr.model.load_state_dict, ck["model"], path)
    restore("optimizer", lambda s: load_optimizer(tr.optimizer, s), ck["optimizer"], path)
    restore("schedule", tr.scheduler.load_state_dict, ck["scheduler"], path)
    restore("task's data stream", tr.task.load_state_dict, ck["task"], path)
    checkpoint.set_rng_state(ck["rng"], tr.device)
    restore("run state", tr.set_state, ck["state"], path)
    tr.step = int(ck["step"])
    tr.selection.best_weights = ck.get("best_model") or None
    st, budget_s = tr.state, tr.cfg.trainer.max_time_s
    if st.stop_reason == "time" and (budget_s is None or st.elapsed_s < budget_s):
        st.stop_reason = "max_steps"  # a larger time budget lets the run go on
    tr.logbook.log.truncate_after(tr.step)
    print(f"resuming {tr.run_dir} from step {tr.step}", file=sys.stderr)
