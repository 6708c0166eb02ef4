"""The studies' one reader of run records: where a run's settings, metrics and task facts live, each fact read in
one place. Rules and replications ask ``facts.delay(run)``, ``facts.distance(run)``, ``facts.chance(run)``, never
a dotted path of their own; a record that lacks a fact gives None, never a default that another reader would
choose differently.

The task publishes its facts in the record's ``task_info`` (``Task.describe()``: the copy task's delay,
n_memorize and seq_len, a recall task's chance, the spec); the resolved config is ``config``; measurements are
``metrics``, ``long_range`` and ``speed``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

from core.record import LR_PRESWEEP

COPY_TASK = "tasks.copy_long.CopyLong"  # the copy task's class, as the record's config names it
COPY_SYMBOLS = 8  # copy_long's data symbols: guessing among them is its chance on the answer positions


def get(run: dict, path: str, default=None):
    """``get(run, "config.task.delay")``: walk nested dicts by dots (metric names such as ``test/acc`` keep
    their slash)."""
    node = run
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return default
        node = node[part]
    return node


def number(v) -> float | None:
    """``v`` as a finite float, else None (bools, strings, NaN and inf are not numbers here)."""
    if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v):
        return float(v)
    return None


def completed(runs: Iterable[dict]) -> list[dict]:
    return [r for r in runs if r.get("status") == "completed"]


def setting(run: dict, key: str):
    """A setting the run was given: ``arch`` and ``task`` are the record's names; any other key is a dotted path
    of the resolved config (``arch.n_heads``, ``task.n_pairs``, ``optimizer.lr``)."""
    return run.get(key) if key in ("arch", "task") else get(run, f"config.{key}")


def metric(run: dict, name: str) -> float | None:
    """A measured metric (``test/acc``, ``val/loss``) as a finite number, else None."""
    return number(get(run, f"metrics.{name}"))


def task_class(run: dict):
    """The task's class as the record says it (``config.task._target_``); hand-made records without a config
    fall back to their task name, so tests need not spell the config out."""
    return get(run, "config.task._target_") or {"copy_long": COPY_TASK}.get(run.get("task"), run.get("task"))


def delay(run: dict):
    """The copy task's delay: the task's published fact, else the config's."""
    return get(run, "task_info.delay", get(run, "config.task.delay"))


def n_memorize(run: dict):
    return get(run, "task_info.n_memorize", get(run, "config.task.n_memorize"))


def distance(run: dict):
    """How far the copied symbol sits from its answer: the record's ``long_range.distance`` (the probe's), else
    delay + n_memorize as the task published them (``task_info``), else None."""
    d = get(run, "long_range.distance")
    if number(d) is not None:
        return d
    dl, n = delay(run), n_memorize(run)
    return None if dl is None or n is None else dl + n


def seq_len(run: dict):
    return get(run, "task_info.seq_len") or get(run, "config.task.delay")


def length(run: dict):
    """The input's length as the task published it (``task_info.seq_len``), else the copy task's delay + 2 ×
    n_memorize; None when neither is known."""
    L = number(get(run, "task_info.seq_len"))
    if L is not None:
        return L
    dl, n = number(delay(run)), number(n_memorize(run))
    return None if dl is None or n is None else dl + 2 * n


def n_layers(run: dict):
    """The backbone's depth as built (``arch_info``), else as configured."""
    return get(run, "arch_info.n_layers", get(run, "config.arch.n_layers"))


def n_test(run: dict) -> float | None:
    """Test items a test accuracy was read on: the copy task scores n_memorize answers per test sequence; other
    tasks one label (or sequence) per test item. None when the record does not say."""
    n = number(get(run, "config.task.n_test"))
    if n is None:
        return None
    per = number(n_memorize(run)) if task_class(run) == COPY_TASK else None
    return n * (per or 1)


def chance(run: dict) -> float | None:
    """The accuracy of guessing: the task's published ``chance``, else 1/number of classes of a class output,
    else 1/8 on the copy task; None when the record does not say."""
    c = number(get(run, "task_info.chance"))
    if c is not None:
        return c
    if task_class(run) == COPY_TASK:
        return 1.0 / COPY_SYMBOLS
    spec = get(run, "task_info.spec") or {}
    k = number(spec.get("num_classes")) if spec.get("output_kind") == "class" else None
    return 1.0 / k if k else None


def same(a, b) -> bool:
    return a == b or str(a).lower() == str(b).lower()


def matches(run: dict, where: Mapping | Callable[[dict], bool], roles: Mapping | None = None) -> bool:
    """Whether ``run`` is in a selection: a callable, or {key: value} over :func:`setting` keys plus ``role``
    (the arch plays that role in ``roles``, e.g. ``{"role": "recurrent"}``) and ``task_class``."""
    if callable(where):
        return bool(where(run))
    for k, v in where.items():
        if k == "role":
            if run.get("arch") not in (roles or {}).get(v, ()):
                return False
        elif k == "task_class":
            if task_class(run) != v:
                return False
        elif not same(setting(run, k), v):
            return False
    return True


def uniform_loss(run: dict) -> float | None:
    """The cross-entropy (nats) of guessing uniformly over the output vocabulary: ln(vocab); a language model that
    learned anything is below it. None when the record does not give the vocabulary's size."""
    spec = get(run, "task_info.spec") or {}
    v = number(spec.get("vocab_size")) or number(get(run, "config.task.vocab_size"))
    return math.log(v) if v and v > 1 else None


def in_presweep(run: dict, folder) -> bool:
    """Whether the run lies in a learning-rate pre-sweep below ``folder`` (a ``lr/`` folder at any depth: a sweep's
    ``<sweep>/lr/``, a replication's ``<replication>/<sweep>/lr/``): tuning runs on the tuning seed, never evidence.
    Run folders are named ``key=value``, so a bare ``lr`` part is only ever the pre-sweep's."""
    try:
        rel = Path(run["_dir"]).resolve().relative_to(Path(folder).resolve())
    except (KeyError, ValueError):
        return False
    return LR_PRESWEEP in rel.parts[:-1] or rel.parts[:1] == (LR_PRESWEEP,)
