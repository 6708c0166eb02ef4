"""The rule of a replication: one or more comparisons between two groups of runs, each with an expected outcome
and a minimal effect δ declared before running; the outcome of every comparison, then of the replication.

A comparison ``{a: SIDE, b: SIDE, metric: "test/acc", expect: better|close, delta: δ}`` reads one value per seed
from each side (seeds are the replicates; runs of one seed are averaged), and the difference ``a − b`` oriented so
that positive means *a is better* (the metric's declared direction; for ``close`` the sign does not matter):

- ``better`` (the paper found a better than b): *reproduced in direction* when the 95% CI of the difference lies
  above 0 and its mean reaches δ; *not reproduced* when the CI lies below δ (an advantage that matters is
  excluded); *inconclusive* otherwise.
- ``close`` (the paper found no difference that matters): *reproduced in direction* when the CI lies within
  ±δ; *not reproduced* when it lies wholly outside ±δ; *inconclusive* otherwise.

Fewer than ``MIN_SEEDS`` seeds on a side makes a comparison inconclusive, and says so. A replication is
*reproduced in direction* when every comparison is, *not reproduced* when any is, *inconclusive* otherwise.

A SIDE is ``{where: {key: value}, metric: name (optional, else the comparison's), at_most: {metric: value}}``:
``where`` keys are ``arch``, ``task`` or a dotted config path (``arch.n_heads``, ``task.n_pairs``); ``at_most``
keeps the runs whose metric does not exceed a bound (the runs that have not learned, say).
"""

from __future__ import annotations

from collections import defaultdict

from studies import stats
from studies.claims.rules import completed, get

REPRODUCED, NOT_REPRODUCED, INCONCLUSIVE = "reproduced in direction", "not reproduced", "inconclusive"
OUTCOMES = (REPRODUCED, NOT_REPRODUCED, INCONCLUSIVE)
EXPECTS = ("better", "close")
MIN_SEEDS = 3


def setting(run: dict, key: str):
    """``arch`` and ``task`` are the record's names; any other key is a dotted path of the resolved config."""
    return run.get(key) if key in ("arch", "task") else get(run, f"config.{key}")


def same(a, b) -> bool:
    return a == b or str(a).lower() == str(b).lower()


def select(runs: list[dict], side: dict) -> list[dict]:
    """The completed runs that match ``side['where']`` and stay within ``side['at_most']``."""
    where, bound = side.get("where") or {}, side.get("at_most") or {}
    keep = []
    for r in completed(runs):
        if not all(same(setting(r, k), v) for k, v in where.items()):
            continue
        if all(
            isinstance(get(r, f"metrics.{m}"), (int, float)) and get(r, f"metrics.{m}") <= v for m, v in bound.items()
        ):
            keep.append(r)
    return keep


def per_seed(runs: list[dict], metric: str) -> dict[int, float]:
    """One value per seed (the mean of that seed's runs; a duplicate run is not a second replicate)."""
    by = defaultdict(list)
    for r in runs:
        v = stats.finite([get(r, f"metrics.{metric}")])
        if v:
            by[r.get("seed")].append(v[0])
    return {s: sum(v) / len(v) for s, v in by.items()}


def direction(runs: list[dict], metric: str, declared: str | None) -> str:
    """``max`` or ``min``: the comparison's own, else the task's declared direction in the records, else max
    (a name that ends with ``loss`` or ``perplexity`` is min)."""
    if declared:
        return declared
    for r in runs:
        d = (r.get("task_info") or {}).get("directions", {}).get(metric.split("/", 1)[-1])
        if d in ("max", "min"):
            return d
    return "min" if metric.endswith(("loss", "perplexity")) else "max"


def compare(runs: list[dict], c: dict) -> dict:
    """The outcome of one comparison, with its evidence and, when it is inconclusive or not reproduced, why."""
    metric, expect, delta = c["metric"], c.get("expect", "better"), float(c["delta"])
    if expect not in EXPECTS:
        raise ValueError(f"comparison expect={expect!r} is not one of {EXPECTS}")
    sides = {k: select(runs, c[k]) for k in ("a", "b")}
    vals = {k: per_seed(sides[k], c[k].get("metric", metric)) for k in ("a", "b")}
    sign = -1.0 if direction(sides["a"] + sides["b"], metric, c.get("direction")) == "min" else 1.0
    out = {
        "label": c.get("label", ""),
        "metric": metric,
        "expect": expect,
        "delta": delta,
        "a": {"n": len(vals["a"]), "mean": _mean(vals["a"])},
        "b": {"n": len(vals["b"]), "mean": _mean(vals["b"])},
    }
    short = [f"{k}: {len(vals[k])} seed(s)" for k in ("a", "b") if len(vals[k]) < MIN_SEEDS]
    if short:
        return {**out, "outcome": INCONCLUSIVE, "why": f"fewer than {MIN_SEEDS} seeds ({', '.join(short)})"}
    d = stats.difference(list(vals["a"].values()), list(vals["b"].values()))
    value, lo, hi = (
        (sign * d.value, sign * d.lo, sign * d.hi) if sign > 0 else (sign * d.value, sign * d.hi, sign * d.lo)
    )
    out["difference"] = {
        "value": round(value, 4),
        "ci95": [round(lo, 4), round(hi, 4)],
        "n": d.n,
        "sense": "a better than b (positive)",
    }
    ci = f"[{lo:.3g}, {hi:.3g}]"
    if expect == "better":
        if lo > 0 and value >= delta:
            return {
                **out,
                "outcome": REPRODUCED,
                "why": f"a better by {value:.3g}, 95% CI {ci} above 0, mean ≥ δ={delta:g}",
            }
        if hi < delta:
            return {**out, "outcome": NOT_REPRODUCED, "why": f"95% CI {ci} excludes an advantage of δ={delta:g}"}
        return {
            **out,
            "outcome": INCONCLUSIVE,
            "why": f"95% CI {ci} neither clears 0 with a mean ≥ δ={delta:g} "
            f"nor excludes δ (underpowered: half-width {(hi - lo) / 2:.3g})",
        }
    if -delta <= lo and hi <= delta:
        return {**out, "outcome": REPRODUCED, "why": f"95% CI {ci} within ±δ={delta:g}"}
    if lo > delta or hi < -delta:
        return {**out, "outcome": NOT_REPRODUCED, "why": f"95% CI {ci} lies outside ±δ={delta:g}"}
    return {
        **out,
        "outcome": INCONCLUSIVE,
        "why": f"95% CI {ci} straddles ±δ={delta:g} (half-width {(hi - lo) / 2:.3g})",
    }


def _mean(v: dict) -> float | None:
    return round(sum(v.values()) / len(v), 4) if v else None


def judge(runs: list[dict], rule: dict) -> dict:
    """``{outcome, why, comparisons}`` of a replication's rule (``rule['comparisons']``: a list)."""
    parts = [compare(runs, c) for c in rule["comparisons"]]
    outcomes = [p["outcome"] for p in parts]
    if NOT_REPRODUCED in outcomes:
        outcome = NOT_REPRODUCED
    elif all(o == REPRODUCED for o in outcomes):
        outcome = REPRODUCED
    else:
        outcome = INCONCLUSIVE
    why = "; ".join(f"{p['label'] or p['metric']}: {p['outcome']} ({p['why']})" for p in parts)
    return {"outcome": outcome, "why": why, "comparisons": parts}
