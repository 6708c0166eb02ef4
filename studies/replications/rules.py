"""The rule of a replication: one or more comparisons between two groups of runs, each with an expected outcome
and a minimal effect δ declared before running, positive controls on the arms that must have learned; the
outcome of every comparison, then of the replication.

A comparison ``{a: SIDE, b: SIDE, metric: "test/acc", expect: better|close, delta: δ}`` reads one value per seed
from each side (seeds are the replicates; runs of one seed are averaged), and the difference ``a − b`` oriented so
that positive means *a is better* (the metric's declared direction; for ``close`` the sign does not matter). The
statistics are the claims' (studies.stats): Welch's interval with each side's variance raised to its floor in the
metric's units — the test set's binomial variance for an accuracy (``…/acc``), none for losses and other
measured values, so a baseline that is the same float in every seed is compared against the other side's spread:

- ``better`` (the paper found a better than b): *reproduced in direction* when the 95% CI of the difference lies
  above 0 and its mean reaches δ; *not reproduced* when the CI lies below δ (an advantage that matters is
  excluded); *inconclusive* otherwise.
- ``close`` (the paper found no difference that matters): *reproduced in direction* when the CI lies within
  ±δ; *not reproduced* when it lies wholly outside ±δ; *inconclusive* otherwise.

Every decision carries its p-value, and the report corrects them (Holm) within each replication — its declared
comparisons are the family, whatever ran: a replication's outcome is a statement about one paper, the way each
study of a reproducibility project is tested on its own; the count of replications reproduced is a tally, not a
joint test. Fewer than ``MIN_SEEDS`` seeds on a side makes a
comparison inconclusive. A replication's ``controls`` (a list of ``{label, where, metric, margin, level,
direction}``: :class:`studies.protocol.Control`) are checked first: an arm that did not learn makes it
inconclusive, naming the arm — "not reproduced" never comes from two arms at chance. A replication is *reproduced
in direction* when every comparison is, *not reproduced* when any is, *inconclusive* otherwise.

A SIDE is ``{where: {key: value}, metric: name (optional, else the comparison's), at_most: {metric: value}}``:
``where`` keys are ``arch``, ``task`` or a dotted config path (``arch.n_heads``, ``task.n_pairs``); ``at_most``
keeps the runs whose metric does not exceed a bound (the runs that have not learned, say); ``diverged_as: LEVEL``
counts a run that diverged (status ``diverged``: a NaN/inf loss, the phenomenon itself in a warm-up study) as
reaching LEVEL — a number, or ``uniform loss`` (ln vocab: a model that learned nothing) — instead of leaving it
out, so that a setting never looks better because its failures dropped out. A SIDE may instead be ``{value: x}``:
a published number, the same for every seed of the other side (no variance), to compare a measured side against
the number itself when the scaled setting allows it.
"""

from __future__ import annotations

from studies import facts, stats
from studies.protocol import Control, Study, check_controls
from studies.protocol import per_seed as seed_means

completed, get, setting, same = facts.completed, facts.get, facts.setting, facts.same

REPRODUCED, NOT_REPRODUCED, INCONCLUSIVE = "reproduced in direction", "not reproduced", "inconclusive"
OUTCOMES = (REPRODUCED, NOT_REPRODUCED, INCONCLUSIVE)
EXPECTS = ("better", "close")
MIN_SEEDS = 3


def select(runs: list[dict], side: dict, metric: str | None = None) -> list[dict]:
    """The completed runs that match ``side['where']`` and stay within ``side['at_most']``; with
    ``side['diverged_as']`` (and the ``metric`` read), also the diverged runs that match, each standing at that
    level (marked ``counted_diverged``)."""
    where, bound = side.get("where") or {}, side.get("at_most") or {}
    matching = [r for r in runs if all(same(setting(r, k), v) for k, v in where.items())]
    keep = []
    for r in completed(matching):
        if all(
            isinstance(get(r, f"metrics.{m}"), (int, float)) and get(r, f"metrics.{m}") <= v for m, v in bound.items()
        ):
            keep.append(r)
    level = side.get("diverged_as")
    if level is not None and metric:
        for r in matching:
            stand = diverged_level(r, level) if r.get("status") == "diverged" else None
            if stand is not None:
                keep.append({**r, "status": "completed", "counted_diverged": True, "metrics": {metric: stand}})
    return keep


def diverged_level(run: dict, level) -> float | None:
    """Where a diverged run is counted: a number as it is, ``uniform loss`` as ln(vocab) of the run's task."""
    if isinstance(level, (int, float)) and not isinstance(level, bool):
        return float(level)
    if level == "uniform loss":
        return facts.uniform_loss(run)
    raise ValueError(f"diverged_as={level!r}: use a number or 'uniform loss'")


def per_seed(runs: list[dict], metric: str) -> dict:
    """One value per seed (the mean of that seed's runs; a duplicate run is not a second replicate)."""
    return seed_means(runs, metric)


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
    sides = {k: select(runs, c[k], c[k].get("metric", metric)) for k in ("a", "b") if "value" not in c[k]}
    vals = {k: per_seed(sides[k], c[k].get("metric", metric)) for k in sides}
    for k in ("a", "b"):  # a published number: the same value for every seed of the measured side
        if "value" in c[k]:
            other = vals["b" if k == "a" else "a"]
            sides[k], vals[k] = [], {s: float(c[k]["value"]) for s in other}
    sign = -1.0 if direction(sides["a"] + sides["b"], metric, c.get("direction")) == "min" else 1.0
    out = {
        "label": c.get("label", ""),
        "metric": metric,
        "expect": expect,
        "delta": delta,
        **{k: {"n": len(vals[k]), "mean": _mean(vals[k]), **diverged_count(sides[k])} for k in ("a", "b")},
    }
    short = [f"{k}: {len(vals[k])} seed(s)" for k in ("a", "b") if len(vals[k]) < MIN_SEEDS]
    if short:
        return {**out, "outcome": INCONCLUSIVE, "why": f"fewer than {MIN_SEEDS} seeds ({', '.join(short)})"}
    xa, xb = list(vals["a"].values()), list(vals["b"].values())
    fa, fb = (floor(sides[k], c[k].get("metric", metric), list(vals[k].values())) for k in ("a", "b"))
    d = stats.difference(xa, xb, fa, fb) if sign > 0 else stats.difference(xb, xa, fb, fa)
    out["difference"] = {
        "value": round(d.value, 4),
        "ci95": [round(d.lo, 4), round(d.hi, 4)],
        "n": d.n,
        "sense": "a better than b (positive)",
    }
    dec = (stats.decide if expect == "better" else stats.decide_close)(d, delta, "a − b")
    out["p"] = None if dec.p is None else float(f"{dec.p:.4g}")
    out["stability"] = leave_one_seed_out(vals, sign, expect, delta)
    return {**out, "outcome": OUTCOME[dec.outcome], "why": dec.why}


def diverged_count(runs: list[dict]) -> dict:
    """``{diverged: n}`` when a side counts diverged runs at its level; nothing otherwise."""
    n = sum(1 for r in runs if r.get("counted_diverged"))
    return {"diverged": n} if n else {}


def side_of(value: float, expect: str, delta: float) -> str:
    """Where a point estimate falls for the comparison: ``better``: at least δ / between 0 and δ / below 0;
    ``close``: within ±δ / outside."""
    if expect == "close":
        return "within δ" if abs(value) <= delta else "outside δ"
    return "≥ δ" if value >= delta else "below 0" if value < 0 else "in [0, δ)"


def leave_one_seed_out(vals: dict, sign: float, expect: str, delta: float) -> dict:
    """The outcome's stability across the seeds drawn: the difference a − b (oriented) with each seed left out of
    both sides in turn, and whether every such estimate falls on the same side of δ (or of ±δ) as the whole."""
    seeds = sorted(set(vals["a"]) | set(vals["b"]), key=str)
    mean = lambda v: sum(v) / len(v)
    whole = sign * (mean(list(vals["a"].values())) - mean(list(vals["b"].values())))
    left = {}
    for s in seeds:
        a = [v for k, v in vals["a"].items() if k != s]
        b = [v for k, v in vals["b"].items() if k != s]
        if a and b:
            left[str(s)] = round(sign * (mean(a) - mean(b)), 4)
    sides = {side_of(v, expect, delta) for v in left.values()}
    return {
        "whole": side_of(whole, expect, delta),
        "left_out": left,
        "stable": sides <= {side_of(whole, expect, delta)},
    }


OUTCOME = {stats.SUPPORTED: REPRODUCED, stats.NOT_SUPPORTED: NOT_REPRODUCED, stats.INCONCLUSIVE: INCONCLUSIVE}


def floor(runs: list[dict], metric: str, vals: list[float]) -> float:
    """The variance floor of a side, in the metric's units: an accuracy's binomial variance on the test items
    (the fewest any run had), 0 for any other metric (losses, BLEU, baselines: measured, not counted)."""
    if not metric.endswith("acc"):
        return 0.0
    items = [n for n in (facts.n_test(r) for r in runs) if n]
    return stats.proportion_floor(vals, min(items)) if items else 0.0


def _mean(v: dict) -> float | None:
    return round(sum(v.values()) / len(v), 4) if v else None


def controls_of(rule: dict, runs: list[dict] | None = None) -> tuple[Control, ...]:
    r"""The rule's declared positive (and negative) controls as :class:`Control`\ s. A ``level`` may be another
    arm, ``{where: {...}, metric: name}`` (a baseline model trained alongside, e.g. a language model that sees only
    the last two tokens): with ``runs`` it becomes that arm's mean over distinct seeds, and a control whose arm has
    no runs is left out (the comparisons then lack evidence too); without ``runs`` (the declaration) it is named."""
    out = []
    for c in rule.get("controls") or []:
        level = c.get("level", "chance")
        if isinstance(level, dict):
            arm = per_seed(select(runs or [], level), level.get("metric", c.get("metric", "test/acc")))
            if runs is None:
                level = f"the arm {level.get('where')}"
            elif not arm:
                continue
            else:
                level = sum(arm.values()) / len(arm)
        out.append(
            Control(
                label=c["label"],
                where=c.get("where") or {},
                metric=c.get("metric", "test/acc"),
                margin=float(c.get("margin", 0.05)),
                level=level,
                direction=c.get("direction", "max"),
                negative=bool(c.get("negative", False)),
            )
        )
    return tuple(out)


def judge(runs: list[dict], rule: dict) -> dict:
    """``{outcome, why, comparisons, controls}`` of a replication's rule (``rule['comparisons']``: a list; the
    controls, when declared, first)."""
    checked, failed = check_controls(controls_of(rule, runs), runs)
    parts = [compare(runs, c) for c in rule["comparisons"]]
    if failed:
        return {"outcome": INCONCLUSIVE, "why": "; ".join(failed), "comparisons": parts, "controls": checked}
    return combine(parts, checked)


def combine(parts: list[dict], checked: list | None = None) -> dict:
    outcomes = [p["outcome"] for p in parts]
    if NOT_REPRODUCED in outcomes:
        outcome = NOT_REPRODUCED
    elif all(o == REPRODUCED for o in outcomes):
        outcome = REPRODUCED
    else:
        outcome = INCONCLUSIVE
    why = "; ".join(f"{p['label'] or p['metric']}: {p['outcome']} ({p['why']})" for p in parts)
    return {"outcome": outcome, "why": why, "comparisons": parts, "controls": checked or []}


def correct(results: dict, family: int | dict = 0) -> None:
    """Holm over the comparisons of ``results`` ({name: judge(...) result}, changed in place): ``family`` a dict
    {name: size} makes each replication its own family of ``size`` tests (its declared comparisons: what the report
    does, since a replication's outcome is a statement about one paper); an int makes every comparison of every
    replication one family of that size. A decided comparison whose adjusted p is ≥ 0.05 turns inconclusive, and its
    replication's outcome is combined again."""
    groups = {n: [n] for n in results} if isinstance(family, dict) else {"": list(results)}
    for key, names in groups.items():
        ps = {(n, i): c.get("p") for n in names for i, c in enumerate(results[n]["comparisons"])}
        size_declared = family.get(key, 0) if isinstance(family, dict) else family
        adjusted = stats.holm(ps, family=size_declared)
        size = max(len([p for p in ps.values() if p is not None]), size_declared)
        where = "in this replication" if isinstance(family, dict) else "across the replications"
        for (n, i), q in adjusted.items():
            if q is None:
                continue
            c = results[n]["comparisons"][i]
            c["p_holm"], c["corrected"] = float(f"{q:.4g}"), f"Holm over {size} comparison{'s' * (size != 1)} {where}"
            if c["outcome"] in (REPRODUCED, NOT_REPRODUCED) and q >= stats.ALPHA:
                c["outcome"], c["why"] = INCONCLUSIVE, f"underpowered after correction: {c['why']}, but Holm p={q:.3g}"
    for n, r in results.items():
        if r.get("controls") and any(not x["passed"] for x in r["controls"]):
            continue
        results[n] = {**r, **combine(r["comparisons"], r.get("controls"))}


def declaration(name: str, spec: dict) -> Study:
    """A replication as the shared protocol's declaration: the published result is its question, the paper its
    anchor, *reproduced in direction* its expected outcome, its controls, and one primary test per comparison
    (each comparison keeps its own δ, declared in the file; the declaration's δ is the smallest)."""
    rule = spec["rule"]
    return Study(
        id=name,
        question=str((spec.get("published") or {}).get("result", "")),
        delta=min(float(c["delta"]) for c in rule["comparisons"]),
        anchor=str(spec.get("paper", "")),
        expects=REPRODUCED,
        controls=controls_of(rule),
        tests=len(rule["comparisons"]),
    )
