"""Fair comparisons at equal size: ``budget.params=N`` sizes the architecture's width so that its parameter
count is within ±10% of N (the rule of the Long Range Arena), and the run records what was chosen.
``budget.width=W`` sets that width directly, whatever the architecture calls it (what tuning searches over).
The config is left as launched: the width chosen is the record's own field (``budget.width``), and the model is
built from :func:`sized` (a copy of the arch config with that width).

Each arch YAML names its width key (``defaults: [/budget/width@_global_.budget: d_model]`` sets
``budget.width_key``). The search builds the model at candidate widths (construction is cheap), skipping
widths the architecture refuses (e.g. d_model not divisible by n_heads), and keeps the one closest to N.
"""

from __future__ import annotations

import sys

import torch
from omegaconf import DictConfig, open_dict

from core.errors import ConfigError

TOLERANCE = 0.10
MAX_WIDTH = 1 << 16


def count_params(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


MIN_WIDTH = 16  # a width below this (or below the number of heads) is warned about


def sized(arch: DictConfig, record: dict | None) -> DictConfig:
    """The arch config a run builds: ``arch`` itself without a budget, else a copy with the width :func:`fit`
    chose (``arch`` is left as launched)."""
    if not record:
        return arch
    node = arch.copy()
    with open_dict(node):
        node[record["width_key"]] = record["width"]
    return node


def fit(cfg: DictConfig, spec, build) -> dict | None:
    """The width (``cfg.arch[width_key]``) at which the model has about ``cfg.budget.params`` parameters, or the
    one ``budget.width`` sets; the config is not changed (build from :func:`sized`).

    ``build(arch_node, spec)`` builds a model. Returns the record for ``summary["budget"]`` (None when neither
    ``budget.params`` nor ``budget.width`` is set). Raises ConfigError when no width lands within ±10%.
    """
    budget = cfg.get("budget") or {}
    target, width = budget.get("params"), budget.get("width")
    if target is None and width is None:
        return None
    key = budget.get("width_key")
    if not key or key not in cfg.arch:
        raise ConfigError(
            f"budget.{'params' if target is not None else 'width'} is set but budget.width_key={key!r} "
            f"is not a key of the arch config (keys: {', '.join(k for k in cfg.arch if not k.startswith('_'))}); "
            "name it in the arch YAML or pass budget.width_key=..."
        )
    if width is not None:
        if target is not None:
            raise ConfigError(f"budget.width={width} and budget.params={target} both size {key}; set one of them")
        if not isinstance(width, int) or isinstance(width, bool) or width < 1:
            raise ConfigError(f"budget.width={width} must be a whole number ≥ 1 (it sets arch.{key}), or null")
        return {"width_key": key, "width": width}
    if not isinstance(target, int) or target < 1:
        raise ConfigError(f"budget.params={target} must be a whole number ≥ 1, or null for no budget")
    node = cfg.arch.copy()
    cache: dict[int, int | None] = {}

    def params_at(width: int) -> int | None:  # None = the architecture refuses this width
        if width not in cache:
            with open_dict(node):
                node[key] = width
            try:
                with torch.random.fork_rng(devices=[]):  # sizing must not move the run's RNG
                    cache[width] = count_params(build(node, spec))
            except ConfigError:
                cache[width] = None
        return cache[width]

    def valid_at_least(width: int) -> int | None:  # the smallest accepted width ≥ width
        for w in range(width, min(width + 64, MAX_WIDTH)):
            if params_at(w) is not None:
                return w
        return None

    lo = valid_at_least(1)
    if lo is None:
        raise ConfigError(f"budget: arch accepts no {key} between 1 and 64")
    hi = lo
    while params_at(hi) < target and hi < MAX_WIDTH:  # grow until the count passes the target
        nxt = valid_at_least(hi * 2)
        if nxt is None:
            break
        lo, hi = hi, nxt
    while True:  # bisection over accepted widths: params_at(lo) < target ≤ params_at(hi) (or hi = lo)
        mid = valid_at_least((lo + hi) // 2)
        if mid is None or mid in (lo, hi) or mid >= hi:
            break
        if params_at(mid) < target:
            lo = mid
        else:
            hi = mid
    width = min((lo, hi), key=lambda w: abs(params_at(w) - target))
    got = params_at(width)
    if abs(got - target) > TOLERANCE * target:
        raise ConfigError(
            f"budget.params={target}: no {key} gives a count within ±10% (closest: {key}={width} "
            f"with {got:,} parameters; tried {lo}..{hi}); change budget.params or the other sizes"
        )
    heads = cfg.arch.get("n_heads")
    warning = None
    if width < MIN_WIDTH or (isinstance(heads, int) and width < heads):
        warning = (
            f"budget.params={target} leaves {key}={width} (below {MIN_WIDTH} or the {heads} heads): a degenerate "
            f"model, most parameters sit elsewhere (e.g. in length-dependent or embedding weights); "
            f"raise budget.params or shrink the other sizes"
        )
        print(f"warning: {warning}", file=sys.stderr, flush=True)
    return {
        "params": target,
        "width_key": key,
        "width": width,
        "actual": got,
        "rel_error": (got - target) / target,
        "warning": warning,
    }
