"""One tested verdict rule per claim of the course text (C1–C10).

Each rule is a small function ``rule(runs) -> Verdict`` over run records (the ``summary.json`` dicts the
harness writes; only the keys a rule names are read, so tests build them by hand). A verdict is one of
``supported``, ``not supported``, ``mixed`` (with the condition) or ``inconclusive``; it carries the rule in
words and the numbers that decided it. Runs that failed, diverged (where divergence is not the measure) or are
too few (fewer than ``MIN_SEEDS`` completed seeds in a cell the rule needs) make a claim **inconclusive**,
never a guess.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np

from studies import facts, stats
from studies.protocol import ROLES, Control

SUPPORTED, NOT_SUPPORTED, MIXED, INCONCLUSIVE = "supported", "not supported", "mixed", "inconclusive"
VERDICTS = (SUPPORTED, NOT_SUPPORTED, MIXED, INCONCLUSIVE)
MIN_SEEDS = 3
SOLVED = 0.99  # C2: test accuracy that counts as solved
CHANCE_COPY = 0.125  # copy_long: guessing among 8 symbols


@dataclass
class Verdict:
    verdict: str
    rule: str
    evidence: dict = field(default_factory=dict)
    condition: str | None = None
    key: str = ""  # the number that decided it, in a few words (the README table's column)
    caveats: list[str] = field(default_factory=list)

    def __post_init__(self):
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict {self.verdict!r} is not one of {VERDICTS}")

    def to_dict(self) -> dict:
        return {
            "verdict": self.verdict,
            "condition": self.condition,
            "key": self.key or self.shortfall(),
            "rule": self.rule,
            "evidence": self.evidence,
            "caveats": self.caveats,
        }

    def shortfall(self) -> str:
        why = self.evidence.get("insufficient") or []
        return (why[0] + (f" (+{len(why) - 1} more)" if len(why) > 1 else "")) if why else ""


# -- reading records (studies.facts is the one reader; these names stay for the rules and their tests) --------
get, completed, task_class, seq_len = facts.get, facts.completed, facts.task_class, facts.seq_len
COPY_TASK = facts.COPY_TASK


def group(runs: Iterable[dict], key: Callable[[dict], object]) -> dict:
    out: dict = defaultdict(list)
    for r in runs:
        out[key(r)].append(r)
    return dict(out)


def shortfall(
    cells: dict, need: Iterable, what: str, min_seeds: int = MIN_SEEDS, allow_diverged: bool = False
) -> list[str]:
    """Why the evidence is insufficient: a needed cell with failed runs or fewer than ``min_seeds`` completed."""
    why = []
    for key in need:
        runs = cells.get(key, [])
        bad = [r for r in runs if r.get("status") not in ("completed",) + (("diverged",) if allow_diverged else ())]
        ok = [r for r in runs if r.get("status") == "completed" or (allow_diverged and r.get("status") == "diverged")]
        if bad:
            why.append(f"{what} {fmt(key)}: {len(bad)} run(s) {', '.join(sorted({r.get('status', '?') for r in bad}))}")
        if len(ok) < min_seeds:
            why.append(f"{what} {fmt(key)}: {len(ok)} usable seed(s), {min_seeds} needed")
    return why


def fmt(key) -> str:
    return "/".join(map(str, key)) if isinstance(key, tuple) else str(key)


def inconclusive(rule: str, why: list[str], evidence: dict | None = None) -> Verdict:
    return Verdict(INCONCLUSIVE, rule, {**(evidence or {}), "insufficient": why})


def both_parts(
    first: bool, second: bool, rule: str, evidence: dict, key: str, only_first: str, only_second: str
) -> Verdict:
    """A claim with two parts: supported if both hold, not supported if neither, mixed (saying which) otherwise."""
    if first and second:
        return Verdict(SUPPORTED, rule, evidence, key=key)
    if not first and not second:
        return Verdict(NOT_SUPPORTED, rule, evidence, key=key)
    return Verdict(MIXED, rule, evidence, key=key, condition=only_first if first else only_second)


def by_parts(
    dec: dict,
    rule: str,
    evidence: dict,
    key: str,
    mixed: Callable[[list], str],
    condition: str | None = None,
    note: str = "",
) -> Verdict:
    """One verdict from a claim's per-part decisions ({part: stats.Decision}): any part underpowered →
    inconclusive (its reason, plus ``note``); every part supported → supported; none → not supported; otherwise
    mixed, with ``mixed(supported parts)`` as the condition."""
    unsure = [k for k, d in dec.items() if d.outcome == stats.INCONCLUSIVE]
    if unsure:
        return Verdict(
            INCONCLUSIVE,
            rule,
            {**evidence, "insufficient": [dec[k].why for k in unsure]},
            key="; ".join(dec[k].why for k in unsure) + note,
        )
    yes = [k for k, d in dec.items() if d.outcome == stats.SUPPORTED]
    if len(yes) == len(dec):
        return Verdict(SUPPORTED, rule, evidence, key=key, condition=condition)
    if not yes:
        return Verdict(NOT_SUPPORTED, rule, evidence, key=key, condition=condition)
    return Verdict(MIXED, rule, evidence, key=key, condition=mixed(yes))


def acc_floor(runs: list[dict], vals) -> float:
    """The binomial floor (studies.stats.proportion_floor) of accuracies read on these runs' test items (the
    fewest any of them had); 0 when the records do not say how many."""
    items = [n for n in (facts.n_test(r) for r in runs) if n]
    return stats.proportion_floor(vals, min(items)) if items else 0.0


def values(runs: list[dict], path: str) -> list:
    return [get(r, path) for r in runs]


# -- C1: parallel training is faster ----------------------------------------------------------------------------
def speed_runs(runs: list[dict]) -> list[dict]:
    """The throughput runs (the seq_scaling sweep; hand-made records without a source count as such)."""
    return [r for r in runs if r.get("_source", "seq_scaling") == "seq_scaling"]


def timing_runs(runs: list[dict]) -> list[dict]:
    """The serial time-to-target runs (the timing sweep): records from it, or hand-made ones that carry
    ``long_range.time_to_target_s`` (null = never reached) without a source."""
    return [
        r
        for r in runs
        if r.get("_source") == "timing"
        or (r.get("_source") is None and "time_to_target_s" in (get(r, "long_range") or {}))
    ]


def device_names(runs: list[dict]) -> list[str]:
    return sorted({str(get(r, "env.device_name") or get(r, "env.device", "?")) for r in runs})


def throughput_by_length(runs: list[dict]) -> list[dict]:
    """Beside C1's verdict: per sequence length, transformer / other arch ratio of steady-state train tokens/s."""
    cells = group(completed(runs), lambda r: (r.get("arch"), seq_len(r)))
    archs = sorted({k[0] for k in cells if k[0] != "transformer"}, key=str)
    rows = []
    for L in sorted({k[1] for k in cells if k[1] is not None}):
        row = {"length": L}
        for a in archs:
            est = stats.ratio(
                values(cells.get(("transformer", L), []), "speed.train_tokens_per_s"),
                values(cells.get((a, L), []), "speed.train_tokens_per_s"),
            )
            row[f"transformer/{a}"] = est and est.to_dict()
        rows.append(row)
    return rows


def c1_speed(runs: list[dict], min_seeds: int = 2, delta: float = 0.10) -> Verdict:
    rule = (
        "primary: wall time to the target validation quality (the timing sweep: one run at a time, all the "
        "device's threads, equal parameters), per recurrent family (lstm, rnn): log(its time / the "
        f"transformer's) over distinct seeds (Welch 95% CI) against log(1 + δ), δ={delta:g}; supported against "
        "both → supported, excluded for both → not supported, one each → mixed, underpowered → inconclusive. A "
        "seed that never reached the target is censored at its wall time and counted: then a rank test (Gehan, "
        "exact permutation) decides the direction and bounds on the medians the size. Without time-to-target "
        "records, steady-state throughput at the longest length decides instead, and the verdict says so. "
        "Throughput by length is shown beside it; the verdict speaks for the device named, no other"
    )
    timed, fast = timing_runs(runs), speed_runs([r for r in runs if r.get("_source") != "timing"])
    dec = None  # the decisions per recurrent family: by the rank test when a seed is censored, else by Welch
    ev: dict = {"throughput_by_length": throughput_by_length(fast)}
    if timed:
        measure, devices = "wall time to target (s)", device_names(timed)
        cells = group(timed, lambda r: r.get("arch"))
        cells = {a: stats.distinct_seeds(rs)[0] for a, rs in cells.items()}
        why = shortfall(cells, ("transformer",) + RECURRENT, "arch", min_seeds)
        never = [
            f"{a}: {sum(get(r, 'long_range.time_to_target_s') is None for r in completed(cells[a]))} of "
            f"{len(completed(cells[a]))} seed(s) never reached the target (longest wall "
            f"{max(stats.finite(values(completed(cells[a]), 'wall_s')) or [0]):.0f} s: a lower bound)"
            for a in ("transformer",) + RECURRENT
            if a in cells and any(get(r, "long_range.time_to_target_s") is None for r in completed(cells[a]))
        ]
        ev["time_to_target_s"] = {
            a: (
                stats.mean(values(completed(rs), "long_range.time_to_target_s")).to_dict(2)
                if stats.mean(values(completed(rs), "long_range.time_to_target_s"))
                else None
            )
            for a, rs in sorted(cells.items(), key=lambda kv: str(kv[0]))
        }
        ev["device"] = devices
        if never:
            ev["censored"] = never
        if why:
            return inconclusive(rule, why, ev)

        def timed_out(a) -> list[tuple[float, bool]]:
            """log seconds to the target per seed; a seed that never reached it is censored at its wall time."""
            out = []
            for r in completed(cells[a]):
                t_s, wall = get(r, "long_range.time_to_target_s"), facts.number(r.get("wall_s"))
                if facts.number(t_s) is not None and t_s > 0:
                    out.append((float(np.log(t_s)), False))
                elif t_s is None:  # never reached: at least its wall time (no bound when the record has none)
                    out.append((float(np.log(wall)) if wall else -math.inf, True))
            return out

        if never:  # censored seeds: the rank test decides (the t-interval would drop them)
            dec = {
                a: stats.decide_censored(
                    timed_out(a),
                    timed_out("transformer"),
                    float(np.log1p(delta)),
                    f"log({a}'s time / the transformer's), censored seeds counted",
                )
                for a in RECURRENT
            }

        def t(a):
            return [v for v, c in timed_out(a) if not c]
    else:
        measure, devices = (
            "train tokens/s at the longest length (fallback: no time-to-target records)",
            device_names(fast),
        )
        lengths = sorted({seq_len(r) for r in fast if seq_len(r) is not None})
        ev["device"] = devices
        if not lengths:
            return inconclusive(rule, ["no timing runs (wall time to target) and no seq_scaling runs"], ev)
        cells = {
            a: stats.distinct_seeds(rs)[0]
            for a, rs in group([r for r in fast if seq_len(r) == lengths[-1]], lambda r: r.get("arch")).items()
        }
        why = shortfall(cells, ("transformer",) + RECURRENT, f"arch at length {lengths[-1]}", min_seeds)
        if why:
            return inconclusive(rule, why, ev)

        # time per token is 1 / throughput: log(other's time / transformer's) = log(transformer tps / other's)
        def t(a):
            return [-np.log(v) for v in stats.finite(values(completed(cells[a]), "speed.train_tokens_per_s")) if v > 0]

    ev["measure"] = measure
    on = f"on {', '.join(devices)}"
    if dec is None:
        dec = {
            a: stats.decide(
                stats.difference(t(a), t("transformer")), float(np.log1p(delta)), f"log({a}'s time / the transformer's)"
            )
            for a in RECURRENT
        }
        key = f"{measure}, {on}: " + ", ".join(
            f"{a}/transformer {np.exp(dec[a].estimate.value):.2f}×" for a in RECURRENT if dec[a].estimate
        )
    else:
        key = f"{measure}, {on}: " + "; ".join(f"{a}: {dec[a].why}" for a in RECURRENT)
    ev["decisions"] = {a: d.to_dict() for a, d in dec.items()}
    return by_parts(
        dec,
        rule,
        ev,
        key,
        lambda yes: f"faster than {yes[0]} only ({measure}, {on})",
        condition=f"{measure}, {on}",
        note=f" ({on})",
    )


# -- C2: long-range dependencies --------------------------------------------------------------------------------
RECURRENT = ROLES["recurrent"]  # the families the course text's claims compare the transformer with


def seed_values(runs: list[dict], path: str) -> dict:
    """{seed: value} over the completed runs with a finite value (distinct seeds: the first copy in folder order)."""
    kept, _ = stats.distinct_seeds(completed(runs))
    return {r.get("seed"): float(get(r, path)) for r in kept if stats.finite([get(r, path)])}


def contiguous_solved(acc_by_delay: dict) -> int | None:
    """The largest delay such that every seed reaches SOLVED at it and at every shorter delay (None if the shortest
    is not solved): a failed seed or an unsolved delay in between ends the run from the shortest."""
    best = None
    for d in sorted(acc_by_delay):
        per_seed = acc_by_delay[d]
        if not per_seed or min(per_seed.values()) < SOLVED:
            break
        best = d
    return best


def c2_long_range(runs: list[dict], min_seeds: int = 2, delta: float = 0.05) -> Verdict:
    rule = (
        f"copy task at equal parameters and steps, lr per arch and delay: per arch and delay, test acc per "
        f"distinct seed and its mean (95% CI) and steps to solve; 'largest delay solved' = every seed ≥ {SOLVED} "
        "at it and at every shorter delay. Positive control: every compared arch solves the shortest delay (else "
        "the gap is budget, not range → inconclusive). Contrast per recurrent family (lstm, rnn): its accuracy "
        "drop from the shortest to the longest delay minus the transformer's (paired by seed, Welch 95% CI) "
        f"against δ={delta:g}; supported against both → supported, excluded for both → not supported, one each "
        "→ mixed, either underpowered → inconclusive with the minimal detectable effect. Every other arch: "
        "its own row, outside the verdict"
    )
    runs = [r for r in runs if facts.delay(r) is not None]
    delays = sorted({facts.delay(r) for r in runs})
    cells = group(runs, lambda r: (r.get("arch"), facts.delay(r)))
    compared = ("transformer",) + RECURRENT
    if len(delays) < 2:
        return inconclusive(rule, [f"copy runs at {len(delays)} delay(s); the fall with delay needs ≥ 2"])
    why = shortfall(cells, [(a, d) for a in compared for d in (delays[0], delays[-1])], "arch/delay", min_seeds)
    if why:
        return inconclusive(rule, why)
    archs = sorted(
        {r.get("arch") for r in runs},
        key=lambda a: (a not in compared, compared.index(a) if a in compared else 0, str(a)),
    )
    per_seed = {a: {d: seed_values(cells.get((a, d), []), "metrics.test/acc") for d in delays} for a in archs}
    drops = {
        a: [
            per_seed[a][delays[0]][s] - per_seed[a][delays[-1]][s]
            for s in per_seed[a][delays[0]]
            if s in per_seed[a][delays[-1]]
        ]
        for a in archs
    }
    rows, dup = {}, []
    for a in archs:
        steps = {
            d: stats.mean(seed_values(cells.get((a, d), []), "long_range.steps_to_target").values()) for d in delays
        }
        rows[a] = {
            "largest_solved": contiguous_solved(per_seed[a]),
            "acc_by_delay": {d: (stats.mean(v.values()).to_dict() if v else None) for d, v in per_seed[a].items()},
            "acc_per_seed": per_seed[a],
            "steps_to_solve": {d: (m.to_dict(1) if m else None) for d, m in steps.items()},
            "drop": (stats.mean(drops[a]).to_dict() if drops[a] else None),
        }
        fb = {get(r, "config.arch.forget_bias", "absent") for r in cells.get((a, delays[0]), [])}
        if fb != {"absent"}:
            rows[a]["forget_bias"] = sorted(fb, key=str)
        dup += [
            f"{a} @ delay {d}: {t}"
            for d in delays
            for t in stats.duplicates_text(stats.distinct_seeds(cells.get((a, d), []))[1])
        ]
    solved = {a: rows[a]["largest_solved"] for a in archs}
    ev = {"delays": delays, "largest_solved": solved, "by_arch": rows, "duplicated_seeds": dup}
    key = "largest delay solved: " + ", ".join(f"{a} {solved[a] if solved[a] is not None else 'none'}" for a in archs)
    control = [a for a in compared if not per_seed[a][delays[0]] or min(per_seed[a][delays[0]].values()) < SOLVED]
    if control:
        why = [
            f"positive control failed: {a} does not solve the shortest delay {delays[0]} in every seed "
            f"(acc per seed {per_seed[a][delays[0]]}); a gap further on would be budget, not range"
            for a in control
        ]
        return Verdict(INCONCLUSIVE, rule, {**ev, "insufficient": why}, key=why[0])
    floor = lambda a: (
        acc_floor(cells.get((a, delays[0]), []), list(per_seed[a][delays[0]].values()))
        + acc_floor(cells.get((a, delays[-1]), []), list(per_seed[a][delays[-1]].values()))
    )
    contrast = lambda a: stats.difference(drops[a], drops["transformer"], floor(a), floor("transformer"))
    dec = {
        a: stats.decide(contrast(a), delta, f"{a}'s accuracy drop {delays[0]}→{delays[-1]} minus the transformer's")
        for a in RECURRENT
    }
    ev["decisions"] = {a: d.to_dict() for a, d in dec.items()}
    ev["others_vs_transformer"] = {
        a: (contrast(a).to_dict() if contrast(a) else None) for a in archs if a not in compared
    }
    key += f"; drop {delays[0]}→{delays[-1]}: " + ", ".join(
        f"{a} {stats.mean(drops[a]).value:.2f}" for a in archs if drops[a]
    )
    return by_parts(
        dec, rule, ev, key, lambda yes: f"the transformer's accuracy falls less with delay than {yes[0]}'s only"
    )


# -- C3: no vanishing gradient through time ---------------------------------------------------------------------
FLAT, VANISHING, EXPLODING, UNDECIDED = "flat", "vanishing", "exploding", "undecided"


source_distance = facts.distance  # the one definition (studies.facts)


def grad_at_source(run: dict, which: str, normalised: bool = True) -> float | None:
    """log10 ‖∂ℓ/∂x_t‖ at the source position, from the curve at ``which`` (init | early | end); ``normalised``:
    times the input's length L (log10 L added). Attention spread evenly over L positions (a transformer at
    initialisation) passes 1/L of the gradient to each: a dilution over positions that grows with the delay as
    1/L, not a decay with distance through time. The normalisation takes it out, for every arch alike, so that
    only decay with distance is left (an exponential decay through a recurrence stays exponential)."""
    v = norm_at_source(run, which)
    if v is None or not (stats.finite([v]) and v > 0):
        return None
    if not normalised:
        return float(np.log10(v))
    L = facts.length(run)
    return float(np.log10(v * L)) if L else None


def zero_at_source(run: dict, which: str) -> bool:
    """The curve at ``which`` reaches the source's distance and the gradient there is exactly 0: the source lies
    outside what the model sees at that delay (a receptive field that does not cover it) — no log, no slope."""
    return norm_at_source(run, which) == 0


def norm_at_source(run: dict, which: str):
    """‖∂ℓ/∂x_t‖ as recorded at the source's distance on the curve at ``which``; None where the curve does not
    reach it."""
    curve = get(run, "long_range.grad_norm_by_distance") or {}
    dist, norm, src = curve.get("distance") or [], curve.get(which) or [], source_distance(run)
    return norm[dist.index(src)] if src in dist and dist.index(src) < len(norm) else None


def seed_slopes(runs: list[dict], which: str, normalised: bool = True) -> dict:
    """{seed: slope of log10 gradient at the source against log10 delay} over that seed's delays (≥ 2): each seed
    is one replicate of the whole curve; delays are never pooled as seeds. ``normalised``: of L · gradient."""
    by_seed: dict = defaultdict(dict)
    for r in stats.distinct_seeds_by(completed(runs), lambda r: facts.delay(r)):
        g, d = grad_at_source(r, which, normalised), facts.delay(r)
        if g is not None and isinstance(d, (int, float)) and d > 0:
            by_seed[r.get("seed")][d] = g
    out = {}
    for seed, pts in by_seed.items():
        if len(pts) >= 2:
            x, y = np.log10(list(pts)), list(pts.values())
            out[seed] = float(np.polyfit(x, y, 1)[0])
    return out


def negated(est: stats.Estimate) -> stats.Estimate:
    return stats.Estimate(-est.value, -est.hi, -est.lo, est.n, est.se, est.dof)


def trend_decision(
    est: stats.Estimate | None, raw: stats.Estimate | None, delta: float, what: str
) -> tuple[str, stats.Decision]:
    """The trend (:func:`gradient_trend`) and the decision that makes it, with its p-value. ``est``: the slope of
    L · gradient (the 1/L dilution taken out); ``raw``: the slope of the gradient itself. Vanishing: ``est`` beyond
    −δ (a decay the dilution does not explain); exploding: ``raw`` beyond +δ (the gradient itself grows with the
    delay); flat: both one-sided tests pass (``est`` above −δ and ``raw`` below +δ, p the larger of the two); an
    undecided trend carries an inconclusive decision."""
    trend = gradient_trend(est, raw, delta)
    if trend == VANISHING:
        return trend, stats.decide(negated(est), delta, f"{what}: vanishing")
    if trend == EXPLODING:
        return trend, stats.decide(raw, delta, f"{what}: exploding")
    if est is None or est.lo is None or raw is None or raw.lo is None:
        return trend, stats.Decision(stats.INCONCLUSIVE, est, delta, f"underpowered: {what}: no interval")
    p_in = max(stats.p_above(est, -delta), stats.p_below(raw, delta))
    why = (
        f"{what}: slope of L·gradient 95% CI [{est.lo:.3g}, {est.hi:.3g}], of the gradient [{raw.lo:.3g}, {raw.hi:.3g}]"
    )
    if trend == FLAT:
        return trend, stats.Decision(
            stats.SUPPORTED, est, delta, f"{why}: above −δ and below +δ={delta:g} (flat)", stats.mde(est), p_in
        )
    p_out = min(stats.p_below(est, -delta), stats.p_above(raw, delta))
    return trend, stats.Decision(
        stats.INCONCLUSIVE, est, delta, f"{why}: straddle −δ / +δ={delta:g}", stats.mde(est), min(p_in, p_out)
    )


def gradient_trend(est: stats.Estimate | None, raw: stats.Estimate | None, delta: float) -> str:
    """vanishing: the slope of L · gradient is ≤ −δ with its CI below 0 (stats.decide on its negation: a decay
    beyond the 1/L dilution of even attention); exploding: the slope of the gradient itself is ≥ +δ with its CI
    above 0; flat: the first's CI
    lies above −δ and the second's below +δ — between "diluted as 1/L" and "constant" (an attention that has
    focused on the source keeps its raw gradient constant, so L · gradient grows ∝ L, which is not exploding);
    undecided otherwise (or without intervals)."""
    if est is None or est.lo is None or raw is None or raw.lo is None:
        return UNDECIDED
    if stats.decide(negated(est), delta).outcome == stats.SUPPORTED:
        return VANISHING
    if stats.decide(raw, delta).outcome == stats.SUPPORTED:
        return EXPLODING
    if -delta < est.lo and raw.hi < delta:
        return FLAT
    return UNDECIDED


def c3_gradients(runs: list[dict], min_seeds: int = 2, delta: float = 0.10) -> Verdict:
    rule = (
        "copy task, per arch, at initialisation and early in training (callbacks.early_gradient): two slopes "
        "against log10 delay, one per distinct seed over its delays, mean over seeds with 95% CI — of log10 "
        "(L·‖∂ℓ/∂x_t‖) at the source position (the gradient times the input's length L, which takes out the 1/L "
        "dilution of attention spread evenly over L positions: not a decay with distance through time) and of "
        "log10 ‖∂ℓ/∂x_t‖ itself. Vanishing = the first's CI below 0 with slope ≤ −δ (a decay the dilution does "
        "not explain); exploding = the second's CI above 0 with slope ≥ +δ (the gradient itself grows with the "
        f"delay); flat = the first's CI above −δ and the second's below +δ, δ={delta:g} decades per decade — "
        "between 'diluted as 1/L' and 'constant' (an attention focused on the source keeps its gradient constant, "
        "so L·gradient grows with L: not exploding). Supported if the transformer's is flat at every time "
        "measured while lstm's and rnn's vanish or explode; not supported if the transformer's vanishes or "
        "explodes; mixed if it is flat but only one recurrent family's (or neither's) is not; inconclusive when a "
        "needed slope is undecided. Every other arch: its own row, outside the verdict"
    )
    runs = [r for r in runs if facts.delay(r) is not None]
    compared = ("transformer",) + RECURRENT
    cells = group(runs, lambda r: r.get("arch"))
    why = shortfall(cells, compared, "arch", min_seeds)
    if why:
        return inconclusive(rule, why)
    times = [w for w in ("init", "early") if all(seed_slopes(cells[a], w) for a in compared)]
    if "init" not in times:
        return inconclusive(
            rule,
            [
                "no gradient at the source at initialisation in ≥ 2 delays per seed "
                "(long_range.grad_norm_by_distance.init)"
            ],
        )
    ev, trend = (
        {
            "times": times,
            "early_step": sorted({get(r, "long_range.grad_norm_by_distance.early_step") for r in runs} - {None}),
        },
        {},
    )
    decisions: dict = {}
    for a, rs in sorted(cells.items(), key=lambda kv: str(kv[0])):
        row = {}
        for w in times:
            slopes, raw = seed_slopes(rs, w), seed_slopes(rs, w, normalised=False)
            est, raw_est = stats.mean(slopes.values()), stats.mean(raw.values())
            trend[(a, w)], decided = trend_decision(est, raw_est, delta, f"{a} at {w}")
            if a in compared:
                decisions[f"{a} {w}"] = decided
            by_delay = group([r for r in completed(rs) if grad_at_source(r, w) is not None], lambda r: facts.delay(r))
            row[w] = {
                "slope": est and est.to_dict(),
                "trend": trend[(a, w)],
                "slope_per_seed": slopes,
                "raw_slope": raw_est and raw_est.to_dict(),
                "log10_grad_by_delay": {
                    d: stats.mean([grad_at_source(r, w) for r in stats.distinct_seeds(v)[0]]).to_dict()
                    for d, v in sorted(by_delay.items())
                },
            }
        clip = [g for g in values(completed(rs), "grad_norm") if isinstance(g, dict)]
        row["training"] = {
            "clipped_rate": round(float(np.mean([g["clipped_rate"] for g in clip])), 4) if clip else None,
            "grad_spikes": sum(g["spikes"] for g in clip) if clip else None,
            "grad_norm_max": max(g["max"] for g in clip) if clip else None,
        }
        ev[a] = row
    ev["decisions"] = {k: d.to_dict() for k, d in decisions.items()}
    slopes_of = lambda a, w: f"({ev[a][w]['slope']['value']:+.3f}, raw {ev[a][w]['raw_slope']['value']:+.3f})"
    key = "; ".join(f"{w}: " + ", ".join(f"{a} {trend[(a, w)]} {slopes_of(a, w)}" for a in compared) for w in times)
    t = [trend[("transformer", w)] for w in times]
    if VANISHING in t or EXPLODING in t:
        bad = sorted({x for x in t if x in (VANISHING, EXPLODING)})
        return Verdict(
            NOT_SUPPORTED,
            rule,
            ev,
            key=key,
            condition=f"the transformer's gradient at the source is {' and '.join(bad)} with delay",
        )
    if UNDECIDED in t:
        return Verdict(
            INCONCLUSIVE,
            rule,
            {**ev, "insufficient": ["the transformer's slopes are neither flat nor beyond ±δ: underpowered"]},
            key=key,
        )
    state = {}
    for a in RECURRENT:
        ts = [trend[(a, w)] for w in times]
        state[a] = (
            "deviates" if VANISHING in ts or EXPLODING in ts else "flat" if all(x == FLAT for x in ts) else UNDECIDED
        )
    unsure = [a for a in RECURRENT if state[a] == UNDECIDED]
    if unsure:
        return Verdict(
            INCONCLUSIVE,
            rule,
            {**ev, "insufficient": [f"{a}'s slopes are neither flat nor beyond ±δ: underpowered" for a in unsure]},
            key=key,
        )
    deviate = [a for a in RECURRENT if state[a] == "deviates"]
    if len(deviate) == len(RECURRENT):
        return Verdict(SUPPORTED, rule, ev, key=key)
    return Verdict(
        MIXED,
        rule,
        ev,
        key=key,
        condition=(
            f"the transformer's gradient is flat, but only {deviate[0]}'s vanishes or explodes"
            if deviate
            else "the transformer's gradient is flat, but so are lstm's and rnn's: nothing to avoid at these delays"
        ),
    )


# -- C4: positional encoding is needed for order ----------------------------------------------------------------
MARGIN = 0.10  # accuracy points that make a difference "much" (≪)


LM_TASK = "tasks.lm.CausalLM"
CONTEXT_MARGIN = (
    0.02  # C4: nats by which each transformer LM must beat the context-2 cnn LM (it uses order-free context)
)


def c4_positions(runs: list[dict], min_seeds: int = MIN_SEEDS, delta: float = 0.05) -> Verdict:
    rule = (
        "the transformer, causal attention, with sinusoidal positions against none, on two tasks (selected by task "
        "class): copy — test acc, sinusoidal − none; language modelling (Haviv et al.'s setting, scaled down) — "
        "test loss per token in nats, none − sinusoidal; each a Welch 95% CI over distinct seeds against "
        f"δ={delta:g} (accuracy points or nats): the positions help by ≥ δ (supported) or the CI excludes a help "
        "of δ (not supported: the causal model learns order without them). LM control: both transformer LMs beat "
        f"a context-2 causal cnn LM (kernel 2, one block) by ≥ {CONTEXT_MARGIN:g} nats — a 'close' between LMs "
        "that use no more than two tokens says nothing about order (failed → that half inconclusive). Supported "
        "if needed on both, not supported if on neither, mixed with the task where they are; without LM runs the "
        "copy half decides alone, with a caveat. Bidirectional without positions is permutation-equivariant, so "
        "positions are needed there by construction (tests/architectures/test_claims_structure.py): reported "
        "as structural, not tested"
    )
    copy = [r for r in runs if r.get("arch") == "transformer" and task_class(r) == COPY_TASK]
    lm = [r for r in runs if task_class(r) == LM_TASK]
    if not copy:
        return inconclusive(rule, ["no transformer copy runs"])
    cells = group(copy, lambda r: (bool(get(r, "config.arch.causal", False)), get(r, "config.arch.pos_encoding")))
    cells = {k: stats.distinct_seeds(v)[0] for k, v in cells.items()}
    need = [(True, "sinusoidal"), (True, "none")]
    why = shortfall(cells, need, "causal/pos_encoding", min_seeds)
    if why:
        return inconclusive(rule, why)
    acc = lambda k: values(completed(cells.get(k, [])), "metrics.test/acc")
    ev: dict = {}
    for causal in (True, False):
        word = "causal" if causal else "bidirectional"
        d = stats.difference(acc((causal, "sinusoidal")), acc((causal, "none")))
        if d is not None:
            ev[f"{word}: sinusoidal − none"] = d.to_dict()
        for pe in ("none", "sinusoidal", "learned"):
            m = stats.mean(acc((causal, pe)))
            if m is not None:
                ev[f"{word}, {pe}: test acc"] = m.to_dict()
    both = acc(need[0]) + acc(need[1])
    floor = acc_floor(completed(cells.get(need[0], []) + cells.get(need[1], [])), both)
    dec = {"copy": stats.decide(stats.difference(acc(need[0]), acc(need[1]), floor), delta, "causal sinusoidal − none")}
    none = stats.mean(acc((True, "none")))
    said = (
        f"needed for bidirectional encoders by construction; a causal model copies {none.value:.2f} without positions"
    )
    key = f"copy acc, sinusoidal − none: {dec['copy'].estimate.text() if dec['copy'].estimate else '?'}"
    caveats = []
    if lm:
        lm_dec, lm_ev, lm_key = lm_positions(lm, min_seeds, delta)
        ev["language_modelling"] = lm_ev
        dec["language modelling"] = lm_dec
        key += f"; {lm_key}"
    else:
        caveats.append("no language-modelling runs (the text folder was missing?): the copy half decided alone")
    ev["decisions"] = {k: d.to_dict() for k, d in dec.items()}
    v = by_parts(dec, rule, ev, f"{key}; {said}", lambda yes: f"needed on {yes[0]} only", note=f"; {said}")
    v.caveats += caveats
    return v


def lm_positions(lm: list[dict], min_seeds: int, delta: float) -> tuple[stats.Decision, dict, str]:
    """C4's language-modelling half: (decision, evidence, key). The context-2 cnn LM is its control level."""
    loss = lambda rs: values(completed(rs), "metrics.test/loss")
    arm = lambda pe: stats.distinct_seeds(
        [r for r in lm if r.get("arch") == "transformer" and get(r, "config.arch.pos_encoding") == pe]
    )[0]
    ctx = stats.distinct_seeds([r for r in lm if r.get("arch") == "cnn"])[0]
    cells = {"none": arm("none"), "sinusoidal": arm("sinusoidal"), "context-2 cnn": ctx}
    ev = {k: stats.mean(loss(v)).to_dict() for k, v in cells.items() if stats.mean(loss(v))}
    undecided = lambda why: stats.Decision(stats.INCONCLUSIVE, None, delta, why)
    why = shortfall(cells, list(cells), "LM arm", min_seeds)
    if why:
        return undecided("; ".join(why)), ev, "LM: " + "; ".join(why)
    level = stats.mean(loss(ctx)).value
    short = [k for k in ("none", "sinusoidal") if not stats.mean(loss(cells[k])).value < level - CONTEXT_MARGIN]
    if short:
        why = (
            f"LM control failed: the transformer LM ({', '.join(short)}) does not beat the context-2 cnn LM "
            f"({level:.3f} nats) by {CONTEXT_MARGIN:g} — too little context used for positions to matter"
        )
        return undecided(why), ev, why
    dec = stats.decide(
        stats.difference(loss(cells["none"]), loss(cells["sinusoidal"])), delta, "LM loss, none − sinusoidal (nats)"
    )
    return dec, {**ev, "decision": dec.to_dict()}, f"LM loss, none − sinusoidal: {dec.estimate.text()} nats"


# -- C5: multiple heads -----------------------------------------------------------------------------------------
RECALL_TASK = "tasks.assoc_recall.AssocRecall"  # several relations (key–value pairs, several queries), off the ceiling
DIVERSE_BY = 0.01  # C5: JS distance by which the heads must exceed the entropy-matched baseline (not a matching tie)


def c5_heads(
    runs: list[dict], min_seeds: int = MIN_SEEDS, metric: str = "metrics.test/acc", delta: float = 0.05
) -> Verdict:
    rule = (
        f"transformer on multi-query associative recall (selected by task class) at fixed d_model: the contrast "
        f"declared in advance, most heads − 1 head, on the test metric (Welch 95% CI, distinct seeds) against "
        f"δ={delta:g}; and head diversity (mean pairwise Jensen–Shannon distance of the heads' attention maps, "
        "averaged over layers) minus the entropy-matched baseline, its mean over seeds (95% CI) against "
        f"{DIVERSE_BY:g} — the baseline is the diversity of the maps at initialisation, each head "
        "sharpened or flattened (p^β, renormalised) to the trained head's mean row entropy, so that sharper "
        "attention alone does not count as heads attending to different places; supported if both hold, not "
        "supported if the gain is "
        "excluded and the heads do not differ, mixed if one part holds, inconclusive when the gain is "
        "underpowered (with the minimal detectable effect), and inconclusive when no head count learned the "
        "task (the better one's mean not above the task's recorded chance by δ: a contrast between two models at "
        "chance says nothing about heads)"
    )
    recall = [r for r in runs if r.get("arch") == "transformer" and task_class(r) == RECALL_TASK]
    cells = group(recall, lambda r: get(r, "config.arch.n_heads"))
    cells = {h: stats.distinct_seeds(v)[0] for h, v in cells.items()}
    heads = sorted(h for h in cells if h is not None)
    if 1 not in heads or len(heads) < 2:
        return inconclusive(rule, ["needs associative-recall runs with n_heads=1 and n_heads>1"])
    most = heads[-1]
    why = shortfall(cells, [1, most], "n_heads", min_seeds)
    if why:
        return inconclusive(rule, why)
    score = {h: stats.mean(values(completed(cells[h]), metric)) for h in heads}
    chance = stats.finite(get(r, "task_info.chance") for r in recall)
    best = max((score[h].value for h in (1, most) if score[h]), default=None)
    if chance and best is not None and best < max(chance) + delta:
        return inconclusive(
            rule,
            [
                f"positive control failed: neither 1 nor {most} heads learned the task (best mean {metric} "
                f"{best:.3f}, chance {max(chance):.3f}); a longer budget or an easier recall setting is needed"
            ],
            {"metric": metric, "by_heads": {h: score[h] and score[h].to_dict() for h in heads}, "chance": max(chance)},
        )
    a_vals, b_vals = values(completed(cells[most]), metric), values(completed(cells[1]), metric)
    floor = acc_floor(completed(cells[most] + cells[1]), stats.finite(a_vals + b_vals)) if "acc" in metric else 0.0
    dec = stats.decide(stats.difference(a_vals, b_vals, floor), delta, f"{most} heads − 1 head")
    div = [
        (get(r, "long_range.attention.head_diversity"), get(r, "long_range.attention.head_diversity_baseline"))
        for r in completed(cells[most])
    ]
    div = [(d, b) for d, b in div if stats.finite([d]) and stats.finite([b])]
    ev = {
        "metric": metric,
        "by_heads": {h: score[h] and score[h].to_dict() for h in heads},
        "contrast": [most, 1],
        "diversity_above_baseline": f"{sum(d > b + DIVERSE_BY for d, b in div)}/{len(div)}",
        "diversity_per_seed": [
            {
                "seed": r.get("seed"),
                **{
                    k: get(r, f"long_range.attention.{k}")
                    for k in ("head_diversity", "head_diversity_baseline", "head_diversity_init")
                },
            }
            for r in completed(cells[most])
        ],
    }
    if not div:
        ev["decisions"] = {"gain": dec.to_dict()}
        if dec.outcome == stats.INCONCLUSIVE:
            return Verdict(INCONCLUSIVE, rule, {**ev, "insufficient": [dec.why]}, key=dec.why)
        return inconclusive(rule, ["no head-diversity measurements"], ev)
    diverse = stats.decide(
        stats.mean([d - b for d, b in div]), DIVERSE_BY, "head diversity − the entropy-matched baseline"
    )
    parts = {"gain": dec, "diversity": diverse}
    ev["decisions"] = {k: d.to_dict() for k, d in parts.items()}
    key = (
        f"{most} heads − 1 head: {dec.estimate.text()} (δ={delta:g}); diversity − baseline: "
        f"{diverse.estimate.text() if diverse.estimate else '?'} (by {DIVERSE_BY:g}; above in "
        f"{ev['diversity_above_baseline']} seeds)"
    )
    words = {
        "gain": "more heads score better but do not differ beyond the entropy-matched baseline",
        "diversity": "heads differ, but more heads do not score better",
    }
    return by_parts(parts, rule, ev, key, lambda yes: words[yes[0]])


def js_distance(p: np.ndarray, q: np.ndarray) -> float:
    """Jensen–Shannon distance (base 2, in [0, 1]) between rows of two (…, S) distributions, averaged."""
    m = (p + q) / 2
    kl = lambda a, b: np.where(a > 0, a * np.log2(np.where(a > 0, a, 1) / np.where(b > 0, b, 1)), 0).sum(-1)
    return float(np.sqrt(np.clip((kl(p, m) + kl(q, m)) / 2, 0, 1)).mean())


def head_diversity(maps: np.ndarray) -> float | None:
    """Mean pairwise JS distance between the heads of one layer's maps (heads, L, S)."""
    h = maps.shape[0]
    if h < 2:
        return None
    return float(np.mean([js_distance(maps[i], maps[j]) for i in range(h) for j in range(i + 1, h)]))


def row_entropy(maps: np.ndarray) -> np.ndarray:
    """Entropy (nats) of each row of (…, S) attention maps (zeros contribute nothing)."""
    p = np.asarray(maps, dtype=np.float64)
    return -np.where(p > 0, p * np.log(np.where(p > 0, p, 1)), 0).sum(-1)


def sharpened(maps: np.ndarray, beta: float) -> np.ndarray:
    """Each row raised to the power ``beta`` and renormalised, p^β / Σ p^β (β > 1 sharpens, β < 1 flattens; zeros
    stay zero); computed on the log scale so that a large β does not underflow."""
    p = np.asarray(maps, dtype=np.float64)
    logp = np.where(p > 0, np.log(np.where(p > 0, p, 1)), -np.inf) * beta
    top = logp.max(-1, keepdims=True)
    w = np.exp(logp - np.where(np.isfinite(top), top, 0))
    return w / np.maximum(w.sum(-1, keepdims=True), np.finfo(float).tiny)


BETA_RANGE = (1e-3, 1e3)  # the powers entropy_matched searches (flatter … sharper than the init maps)


def matched_power(maps: np.ndarray, target: float, tol: float = 1e-6, iters: int = 100) -> float:
    """The power β (bisection on log β within ``BETA_RANGE``) at which ``sharpened(maps, β)`` has mean row entropy
    ``target``; the mean row entropy falls as β grows, so a target beyond what any β reaches gets the end of the
    range nearest to it (a uniform row stays uniform whatever β)."""
    h = lambda b: float(row_entropy(sharpened(maps, b)).mean())
    lo, hi = np.log(BETA_RANGE[0]), np.log(BETA_RANGE[1])
    if target >= h(np.exp(lo)):
        return float(np.exp(lo))
    if target <= h(np.exp(hi)):
        return float(np.exp(hi))
    for _ in range(iters):
        mid = (lo + hi) / 2
        e = h(np.exp(mid))
        if abs(e - target) < tol:
            return float(np.exp(mid))
        lo, hi = (mid, hi) if e > target else (lo, mid)
    return float(np.exp((lo + hi) / 2))


def entropy_matched(init: np.ndarray, trained: np.ndarray) -> np.ndarray:
    """C5's baseline maps: each head of ``init`` (heads, L, S), sharpened or flattened by the power β that gives it
    the mean row entropy of the same head in ``trained`` (heads, L', S'). Sharpening alone raises the heads'
    diversity (JS distances grow as maps concentrate) without changing where the heads attend, so trained heads
    are compared with init heads *as sharp as they are*: what remains is a change in where they attend."""
    if init.shape[0] != trained.shape[0]:
        raise ValueError(f"init has {init.shape[0]} heads, trained {trained.shape[0]}")
    target = row_entropy(trained).mean(-1)  # (heads,)
    return np.stack([sharpened(m, matched_power(m, float(t))) for m, t in zip(init, target)])


# -- C6: CNNs are local, attention is global --------------------------------------------------------------------
copy_distance = facts.distance


def c6_locality(runs: list[dict], min_seeds: int = 2, delta: float = 0.05) -> Verdict:
    rule = (
        "copy task (by task class), parameter-matched, at each delay d (distance beyond a blind cnn's receptive "
        "field): (a) a cnn whose receptive field covers the distance (its shallowest such depth) minus a cnn whose "
        "field stays below it, and (b) a one-layer transformer (its shallowest depth) minus the same blind cnn — "
        f"test acc per distinct seed, Welch 95% CI, against δ={delta:g}. Locality is (a): the cnn's reach is its "
        "receptive field; globality is (b): one attention layer reaches where that cnn cannot. Supported if both "
        "lead by ≥ δ at every delay (Bai et al.: a covering cnn solves copy, a shallow one cannot); not supported "
        "if every part's CI excludes a lead of δ; mixed if some of each; inconclusive if underpowered or an arm is "
        "missing. Positive control, at each delay: the covering cnn learns the copy (test acc ≥ chance + 0.25); "
        "at a delay where it did not, its part there is left out (its gap is budget, not reach) and said in a "
        "caveat — at no delay: inconclusive. Beside it: the "
        "layers each needs against log2 of the distance. Images (cnn vs vit at 10% and 100% of the labels) are "
        "reported as a finding, not a verdict"
    )
    copy = [r for r in runs if task_class(r) == COPY_TASK]
    # the depth-vs-distance sweeps where they ran (one budget), never merged with long_range's tuned models
    for arch, own in (("transformer", ("locality_attention",)), ("cnn", ("locality", "locality_sanity"))):
        if any(r.get("arch") == arch and r.get("_source") in own for r in copy):
            copy = [r for r in copy if r.get("arch") != arch or r.get("_source") in own]
    reach = lambda r: cnn_reach(r) or "-"
    depth = lambda r: get(r, "arch_info.n_layers", get(r, "config.arch.n_layers"))

    split = {
        k: stats.distinct_seeds(v)[0]
        for k, v in group(copy, lambda r: (r.get("arch"), reach(r), facts.delay(r), depth(r))).items()
    }
    # per delay, the covering cnn and the transformer at the shallowest depth they ran (the depth each needs; the
    # deeper ones are rows beside it, never pooled as duplicate seeds); the blind cnn's depths are pooled
    cells: dict = {}
    deeper: dict = {}  # {delay: {"<arch> <n> layers": mean}}: the depths beside the shallowest, reported
    for (a, rch, d, n), rs in sorted(split.items(), key=lambda kv: str(kv[0])):
        if a in ("cnn", "transformer") and rch != "blind":
            best = min((k[3] for k in split if k[:3] == (a, rch, d)), key=lambda x: (x is None, x or 0))
            if n != best:
                m = stats.mean(values(completed(rs), "metrics.test/acc"))
                if m:
                    deeper.setdefault(d, {})[f"{a} {n} layers"] = m.to_dict()
                continue
        cells.setdefault((a, rch, d), []).extend(rs)
    arms = lambda a, r: {k[2] for k in cells if k[:2] == (a, r) and k[2] is not None}
    delays = sorted(arms("transformer", "-") & arms("cnn", "covers") & arms("cnn", "blind"))
    acc = lambda k: values(completed(cells.get(k, [])), "metrics.test/acc")
    ev: dict = {"images": image_finding(runs)}
    if not delays:
        missing = [
            n
            for n, a, r in (
                ("transformer", "transformer", "-"),
                ("covering cnn", "cnn", "covers"),
                ("blind cnn", "cnn", "blind"),
            )
            if not arms(a, r)
        ]
        return inconclusive(
            rule,
            [
                "every arm is required at one delay: "
                + (f"no copy runs of the {', '.join(missing)}" if missing else "the arms ran at different delays")
                + f" (transformer delays {sorted(arms('transformer', '-'))}, covering cnn "
                f"{sorted(arms('cnn', 'covers'))}, blind cnn {sorted(arms('cnn', 'blind'))})"
            ],
            ev,
        )
    need = [k for d in delays for k in (("cnn", "covers", d), ("transformer", "-", d), ("cnn", "blind", d))]
    why = shortfall(cells, need, "arch/reach/delay", min_seeds)
    if why:
        return inconclusive(rule, why, ev)
    rows, dec, unlearned = [], {}, {}
    for d in delays:
        cov, tr, bl = (
            completed(cells[(a, r, d)]) for a, r in (("cnn", "covers"), ("transformer", "-"), ("cnn", "blind"))
        )
        dist = sorted({copy_distance(r) for r in cov + tr + bl})
        # the positive control at this delay: a covering cnn that did not learn the copy here says nothing about
        # its reach (its gap over the blind cnn is budget), so its part at this delay is left out of the verdict
        ctl = COVERING_CONTROL.check(cov)
        if ctl and not ctl["passed"]:
            unlearned[d] = ctl["why"].replace("positive control failed: ", f"delay {d}: ")
        for part, arm, rs in (
            ("covering cnn", ("cnn", "covers", d), cov),
            ("transformer", ("transformer", "-", d), tr),
        ):
            if part == "covering cnn" and d in unlearned:
                continue
            both = acc(arm) + acc(("cnn", "blind", d))
            dec[f"{part} @ {d}"] = stats.decide(
                stats.difference(acc(arm), acc(("cnn", "blind", d)), acc_floor(rs + bl, both)),
                delta,
                f"{part} − blind cnn at delay {d}",
            )
        rows.append(
            {
                "delay": d,
                "distance": dist,
                "log2_distance": [round(float(np.log2(x)), 2) for x in dist if x > 0],
                "cnn_covering": stats.mean(acc(("cnn", "covers", d))).to_dict(),
                "cnn_layers": sorted({depth(r) for r in cov}, key=str),
                "cnn_receptive_field": sorted({get(r, "arch_info.receptive_field") for r in cov}, key=str),
                "cnn_blind": stats.mean(acc(("cnn", "blind", d))).to_dict(),
                "cnn_blind_receptive_field": sorted({get(r, "arch_info.receptive_field") for r in bl}, key=str),
                "transformer": stats.mean(acc(("transformer", "-", d))).to_dict(),
                "transformer_layers": sorted({depth(r) for r in tr}, key=str),
                "deeper": deeper.get(d, {}),
                "decisions": {
                    p: dec[f"{p} @ {d}"].to_dict() for p in ("covering cnn", "transformer") if f"{p} @ {d}" in dec
                },
                "covering_control": unlearned.get(d, "passed"),
            }
        )
    ev["copy"] = rows
    ev["decisions"] = {k: v.to_dict() for k, v in dec.items()}
    if len(unlearned) == len(delays):
        return inconclusive(
            rule, ["the covering cnn learned the copy at no delay (its control): " + "; ".join(unlearned.values())], ev
        )
    layers = lambda r, k: ",".join(map(str, r[k]))
    key = "; ".join(
        f"delay {r['delay']}: transformer {r['transformer']['value']:.2f} ({layers(r, 'transformer_layers')} "
        f"layer), covering cnn {r['cnn_covering']['value']:.2f} ({layers(r, 'cnn_layers')} layers), blind cnn "
        f"{r['cnn_blind']['value']:.2f}"
        for r in rows
    )
    v = by_parts(dec, rule, ev, key, lambda yes: "only " + ", ".join(yes) + " lead the blind cnn by ≥ δ")
    v.caveats += [f"covering cnn left out at {why} (budget, not reach)" for why in unlearned.values()]
    return v


def cnn_reach(run: dict) -> str | None:
    """A cnn copy run's reach against its copy distance: "covers" (its receptive field reaches the source) or
    "blind" (it cannot see it); None for another arch or task, or an unknown distance."""
    dist = facts.distance(run)
    if run.get("arch") != "cnn" or task_class(run) != COPY_TASK or dist is None:
        return None
    return "covers" if conv_reach(run) >= dist else "blind"


def covering_cnn(run: dict) -> bool:
    """C6's positive control: a cnn on the copy task whose receptive field covers the distance."""
    return cnn_reach(run) == "covers"


# C6's positive control, checked by the rule at each delay (and by the claim over all of them): the covering cnn's
# test accuracy above the copy's chance by 0.25 — it learned the copy, not a few symbols of it
COVERING_CONTROL = Control("cnn whose receptive field covers the distance", covering_cnn, margin=0.25)


def conv_reach(run: dict) -> int:
    """How far back an output position sees: the whole receptive field when causal, half of it otherwise."""
    rf = get(run, "arch_info.receptive_field") or 0
    return rf - 1 if get(run, "config.arch.causal") else (rf - 1) // 2


def image_finding(runs: list[dict]) -> dict:
    img = [r for r in completed(runs) if "image" in str(r.get("task"))]
    cells = group(img, lambda r: (r.get("arch"), get(r, "config.task.train_fraction", 1.0)))
    out = {}
    for (arch, frac), rs in sorted(cells.items(), key=lambda kv: (str(kv[0][0]), kv[0][1] or 0)):
        m = stats.mean(values(rs, "metrics.test/acc"))
        if m is not None:
            out[f"{arch} @ {frac:g} of labels"] = m.to_dict()
    return out


# -- C7: hidden states grow more abstract -----------------------------------------------------------------------
def change_across_layers(values_by_layer) -> float | None:
    """The fitted change over layers 1..L (slope × (L − 1)); layer 0, the input itself, is left out of every
    trend. None with fewer than 2 backbone layers or a missing value."""
    ys = list(values_by_layer or [])[1:]
    if len(ys) < 2 or len(stats.finite(ys)) < len(ys):
        return None
    return float(np.polyfit(np.arange(len(ys)), ys, 1)[0] * (len(ys) - 1))


def selectivity(run: dict, suffix: str = "") -> list | None:
    """Probe accuracy minus the same probe on shuffled labels, per layer (Hewitt & Liang 2019); the plain accuracy
    where the record has no shuffled control."""
    acc, ctrl = (
        get(run, f"long_range.layer_probe_acc{suffix}"),
        get(run, f"long_range.layer_probe_acc_shuffled{suffix}"),
    )
    if not acc:
        return None
    if not ctrl or len(ctrl) != len(acc):
        return list(acc)
    return [None if a is None or c is None else a - c for a, c in zip(acc, ctrl)]


C7_PROPERTIES = {  # name → (per-layer values of a run at a suffix, sign the claim predicts for trained − init)
    "label readability (probe selectivity) rises": (selectivity, +1),
    "similarity to the input (CKA) falls": (lambda r, sfx="": get(r, f"long_range.cka_to_input{sfx}"), -1),
}


def c7_abstraction(runs: list[dict], min_seeds: int = 2, arch: str = "transformer", delta: float = 0.05) -> Verdict:
    rule = (
        "sentence labels (by task class), per distinct seed: each property's fitted change over layers 1..L "
        "(layer 0, the input, left out of every trend) in the trained model minus the same model at "
        "initialisation (hidden_init.npz); the properties: label readability (linear-probe accuracy minus the "
        "probe on shuffled labels, Hewitt & Liang 2019) rises, CKA to the input falls. Each property: mean over "
        f"seeds (95% CI) against δ={delta:g}, oriented so the claim predicts a positive value; both supported → "
        "supported, both excluded → not supported, one each → mixed; an underpowered property → inconclusive"
    )
    cells = group([r for r in runs if r.get("arch") == arch], lambda r: str(task_class(r)))
    if not cells:
        return inconclusive(rule, [f"no {arch} runs"])
    task = SENTIMENT_TASK if SENTIMENT_TASK in cells else sorted(cells)[0]
    cell, dup = stats.distinct_seeds(cells[task])
    why = shortfall({task: cell}, [task], "task", min_seeds)
    if why:
        return inconclusive(rule, why)
    done = completed(cell)
    ev: dict = {"arch": arch, "task": task, "duplicated_seeds": stats.duplicates_text(dup), "per_seed": []}
    contrast: dict = {name: [] for name in C7_PROPERTIES}
    missing_init = 0
    for r in done:
        row = {"seed": r.get("seed")}
        for name, (read, sign) in C7_PROPERTIES.items():
            trained, init = change_across_layers(read(r)), change_across_layers(read(r, "_init"))
            row[name] = {"trained": read(r), "init": read(r, "_init"), "change_trained": trained, "change_init": init}
            if trained is not None and init is not None:
                contrast[name].append(sign * (trained - init))
            elif trained is not None:
                missing_init += 1
        ev["per_seed"].append(row)
    recorded = [n for n, v in contrast.items() if v]
    if not recorded:
        return inconclusive(
            rule,
            [
                "per-layer measures of the trained model and of the model at initialisation "
                "missing (hidden.npz and hidden_init.npz with ≥ 2 backbone layers)"
                + (f"; {missing_init} seed(s) lack the model at initialisation" if missing_init else "")
            ],
            ev,
        )
    dec = {n: stats.decide(stats.mean(contrast[n]), delta, f"{n}, trained − init") for n in recorded}
    ev["decisions"] = {n: d.to_dict() for n, d in dec.items()}
    key = "; ".join(f"{n}: {d.estimate.text() if d.estimate else '?'}" for n, d in dec.items())
    unsure = [n for n in recorded if dec[n].outcome == stats.INCONCLUSIVE]
    if unsure:
        return Verdict(
            INCONCLUSIVE,
            rule,
            {**ev, "insufficient": [dec[n].why for n in unsure]},
            key="; ".join(dec[n].why for n in unsure),
        )
    yes = [n for n in recorded if dec[n].outcome == stats.SUPPORTED]
    v = (
        Verdict(SUPPORTED, rule, ev, key=key)
        if len(yes) == len(recorded)
        else Verdict(NOT_SUPPORTED, rule, ev, key=key)
        if not yes
        else Verdict(
            MIXED,
            rule,
            ev,
            key=key,
            condition=f"{yes[0]} beyond the model at initialisation; the other property does not",
        )
    )
    if len(recorded) < len(C7_PROPERTIES):
        v.caveats.append("one property only: " + ", ".join(recorded))
    return v


# -- C8: pre-training -------------------------------------------------------------------------------------------
def start(run: dict) -> str:
    """ "pre-trained" when the run loaded a source's weights; "scratch" otherwise — including the control of
    ``init_weights=false``, which records its source (tokenizer and settings) in ``init.from`` too."""
    return "pre-trained" if get(run, "init.from") and get(run, "config.init_weights", True) is not False else "scratch"


SENTIMENT_TASK = "tasks.sentiment.Sentiment"
MLM_TASK = "tasks.mlm.MaskedLM"  # C8's pre-training stage; its record's chance is the unigram rate
MATCHED = "compute-matched scratch"  # init_weights=false for as many steps as MLM + fine-tuning (the preset)


def c8_cells(runs: list[dict]) -> dict:
    """C8's cells: the sentiment runs (selected by task class) by (arch, label fraction, start), distinct seeds
    each; start is "pre-trained", "scratch", or the compute-matched scratch run (a scratch run longer than the
    arch's fine-tune: its own cell, never pooled with scratch)."""
    ft = [r for r in runs if task_class(r) == SENTIMENT_TASK]
    steps = lambda r: get(r, "config.trainer.max_steps") or 0
    tuned = {}  # per arch, the fine-tune's steps (pre-trained runs)
    for r in ft:
        if start(r) == "pre-trained":
            tuned[r.get("arch")] = max(tuned.get(r.get("arch"), 0), steps(r))

    def begin(r: dict) -> str:
        s = start(r)
        return MATCHED if s == "scratch" and steps(r) > tuned.get(r.get("arch"), float("inf")) else s

    cells = group(ft, lambda r: (r.get("arch"), get(r, "config.task.train_fraction", 1.0), begin(r)))
    return {k: stats.distinct_seeds(v)[0] for k, v in cells.items()}


def c8_arms(cells: dict, arch: str, fraction: float) -> tuple[list, list, float]:
    """One arch's gain at a label fraction as C8 decides it: (the pre-trained runs' test accuracies, the scratch
    runs' test accuracies, the binomial floor of the pre-trained runs' test set), completed runs only."""
    acc = lambda s: values(completed(cells.get((arch, fraction, s), [])), "metrics.test/acc")
    pre, scratch = acc("pre-trained"), acc("scratch")
    return (
        pre,
        scratch,
        acc_floor(completed(cells.get((arch, fraction, "pre-trained"), [])), stats.finite(pre + scratch)),
    )


def c8_pretraining(runs: list[dict], min_seeds: int = MIN_SEEDS, fraction: float = 0.1, delta: float = 0.02) -> Verdict:
    rule = (
        f"sentiment (selected by task class), the attention arch (the transformer): accuracy — test acc of "
        f"MLM-pre-trained minus from-scratch runs at {fraction:g} of the labels (Welch 95% CI, distinct seeds); "
        f"data efficiency — that gain minus the same gain at all the labels (the interaction, Welch–Satterthwaite), "
        f"each against δ={delta:g}: both supported → supported, both excluded → not supported, one each → mixed, "
        "either underpowered → inconclusive with its minimal detectable effect (without runs at all the labels, "
        "accuracy decides alone, with a caveat). Every other arch's gains are reported beside it, outside the "
        "verdict (an added arch never changes it)"
    )
    cells = c8_cells(runs)
    archs = sorted({k[0] for k in cells})
    need = [(a, fraction, s) for a in ("transformer",) for s in ("pre-trained", "scratch")]
    why = shortfall(cells, need, "arch/fraction/start", min_seeds) if archs else ["no fine-tuning runs"]
    if why:
        return inconclusive(rule, why)
    acc = lambda k: values(completed(cells.get(k, [])), "metrics.test/acc")
    ev, dec = {}, {}
    for a in archs:
        for f in sorted({k[1] for k in cells if k[0] == a}):
            d = stats.difference(acc((a, f, "pre-trained")), acc((a, f, "scratch")))
            if d is not None:
                ev[f"{a} @ {f:g}"] = d.to_dict()
        d = stats.difference(acc((a, fraction, "pre-trained")), acc((a, fraction, MATCHED)))
        if d is not None:  # beside the decided gain: pre-trained − scratch trained for MLM + fine-tune steps
            ev[f"{a} @ {fraction:g} vs {MATCHED}"] = d.to_dict()
        pre, scratch, floor = c8_arms(cells, a, fraction)
        dec[a] = stats.decide(stats.difference(pre, scratch, floor), delta, f"{a} gain at {fraction:g} of labels")
    full = max((k[1] for k in cells if k[0] == "transformer" and k[1] is not None), default=fraction)
    parts = {"accuracy": dec["transformer"]}
    caveats = []
    if full > fraction and all(len(acc(("transformer", full, s))) >= min_seeds for s in ("pre-trained", "scratch")):
        groups = [
            (
                acc(("transformer", f, s)),
                w,
                acc_floor(completed(cells[("transformer", f, s)]), acc(("transformer", f, s))),
            )
            for f, s, w in (
                (fraction, "pre-trained", 1),
                (fraction, "scratch", -1),
                (full, "pre-trained", -1),
                (full, "scratch", 1),
            )
        ]
        parts["data efficiency"] = stats.decide(
            stats.contrast(groups), delta, f"transformer gain at {fraction:g} of labels − gain at {full:g}"
        )
        ev["data_efficiency"] = parts["data efficiency"].to_dict()
    else:
        caveats.append(f"no runs at all the labels beside {fraction:g}: accuracy decided alone (no data efficiency)")
    ev["decisions"] = {k: d.to_dict() for k, d in parts.items()}
    ev["beside"] = {a: d.to_dict() for a, d in dec.items() if a != "transformer"}
    key = f"gain at {fraction:g} of labels (δ={delta:g}): " + ", ".join(
        f"{a} {dec[a].estimate.text()}" for a in archs if dec[a].estimate
    )
    if "data efficiency" in parts and parts["data efficiency"].estimate:
        key += f"; transformer gain at {fraction:g} − at {full:g}: {parts['data efficiency'].estimate.text()}"
    v = by_parts(parts, rule, ev, key, lambda yes: f"{yes[0]} only")
    v.caveats += caveats
    return v


# -- C9: attention weights are interpretable --------------------------------------------------------------------
ALIGNED = 0.9


def copy_alignment(maps: np.ndarray, delay: int, n: int, repeat: int = 1) -> float:
    """Share of answer positions (the last n) whose strongest attention falls on the symbol they copy (any of its
    ``repeat`` copies). maps (heads, L, L) of one copy example; the symbol for answer position j sits at
    j − (delay + n·k), k = 1..repeat."""
    L = maps.shape[-1]
    answers = np.arange(L - n, L)
    top = maps[:, answers].argmax(-1)  # (heads, n)
    on = np.zeros_like(top, dtype=bool)
    for k in range(1, repeat + 1):
        on |= top == (answers - (delay + n * k))[None]
    return float(on.mean(-1).max())


MIN_SEQUENCES = 512  # C9: test sequences the source masking (and the head ablation) is measured over
ABOVE_CHANCE = 5  # C9: an aligned seed's rate is also at least this many times its chance level 1/L


def alignment_chance(run: dict) -> float | None:
    """The alignment rate of a head attending at random: 1/L, L the length of the attended sequence (recorded by
    the report beside the rate, else the task's ``seq_len``); None when neither is known."""
    c = get(run, "long_range.attention.alignment_chance")
    if stats.finite([c]):
        return float(c)
    L = get(run, "task_info.seq_len")
    return copies(run) / L if stats.finite([L]) and L > 0 else None


def masking_effects(runs: list[dict]) -> tuple[list[dict], list]:
    """Per run with a ``long_range.source_masking`` record: seed, head, drop (attended source blanked), control
    drop (a random other position blanked), effect = drop − control drop, argmax on source, sequence count; and
    the sequence counts of every record (to refuse too few)."""
    rows, counts = [], []
    for r in runs:
        sm = get(r, "long_range.source_masking")
        if not isinstance(sm, dict):
            continue
        counts.append(sm.get("n_sequences"))
        d, c = sm.get("drop"), sm.get("control_drop")
        if stats.finite([d]) and stats.finite([c]):
            rows.append(
                {
                    "seed": r.get("seed"),
                    "head": sm.get("head"),
                    "drop": d,
                    "control_drop": c,
                    "effect": d - c,
                    "argmax_on_source": sm.get("argmax_on_source"),
                    "n_sequences": sm.get("n_sequences"),
                }
            )
    return rows, counts


def head_drops(runs: list[dict]) -> tuple[dict, list]:
    """{(module, head): [test-metric drop when that head alone is zeroed, one per seed]} from the records'
    ``long_range.head_ablation``, and the sequence counts it was measured on."""
    drops: dict = defaultdict(list)
    counts = []
    for r in runs:
        ab = get(r, "long_range.head_ablation") or {}
        counts.append(ab.get("n_sequences"))
        for _m, (name, row) in enumerate(zip(ab.get("names") or [], ab.get("drop") or [])):
            for h, d in enumerate(row):
                drops[(name, h)].append(d)
    return dict(drops), counts


def copies(run: dict) -> int:
    """How many times a copy run wrote each symbol before the delay (``task.repeat``; 1 = the classic task)."""
    return int(get(run, "task_info.repeat") or get(run, "config.task.repeat") or 1)


def c9_runs(runs: list[dict]) -> list[dict]:
    """C9's runs: the seed's transformer block (bidirectional, sinusoidal positions) on the copy task — where runs
    with repeated symbols exist, those with the most copies only (there an answer can come from another copy than
    the attended one, so faithfulness is not fixed by the task)."""
    cand = [
        r
        for r in runs
        if r.get("arch") == "transformer"
        and task_class(r) == COPY_TASK
        and get(r, "config.arch.pos_encoding") in (None, "sinusoidal")
        and not get(r, "config.arch.causal")
    ]
    most = max(map(copies, cand), default=1)
    return [r for r in cand if copies(r) == most]


def c9_interpretable(runs: list[dict], min_seeds: int = MIN_SEEDS, delta: float = 0.05) -> Verdict:
    rule = (
        "copy task (by task class) with each symbol written r times before the delay where such runs exist (the "
        "answer can then come from a copy the head does not attend to), the seed's transformer (bidirectional, "
        "sinusoidal positions). Plausibility: the best head's alignment rate (share of answer positions whose "
        f"strongest attention is on a copy of their symbol) beyond {ALIGNED} and {ABOVE_CHANCE}× its chance level r/L "
        "(L the sequence length): per seed the "
        "smaller margin, its mean's 95% interval above 0 (plausible) or below it (not). "
        "Faithfulness (source masking): the head whose attention from the answer positions is sharpest names, per "
        "sequence and answer, the position it attends to most; that position is blanked and the answers scored "
        f"again over ≥ {MIN_SEQUENCES} test sequences, and so is a random other position (the control); per "
        "distinct seed the effect is the drop with the source blanked minus the control's drop (masking anything "
        f"that hurts as much is not about the source), its mean (95% CI) against δ={delta:g}: faithful if "
        "supported, not faithful if excluded. Supported if aligned and faithful; mixed (aligned on copy, not "
        "faithful) or mixed (faithful, not aligned) if one holds; not supported if neither; inconclusive with "
        "too few seeds, no source-masking record, too few sequences or the effect underpowered (with the minimal "
        "detectable effect). Beside it, outside the decision: zeroing one head at a time (test-acc drop per head, "
        "Holm over the k heads)"
    )
    cell = c9_runs(runs)
    cell, dup = stats.distinct_seeds(cell)
    why = shortfall({"copy": cell}, ["copy"], "task", min_seeds)
    if why:
        return inconclusive(rule, why)
    done = completed(cell)
    measured = [r for r in done if stats.finite([get(r, "long_range.attention.alignment")])]
    rates = [float(get(r, "long_range.attention.alignment")) for r in measured]
    chance = [alignment_chance(r) for r in measured]
    ev: dict = {
        "alignment_per_seed": rates,
        "alignment_chance": chance,
        "duplicated_seeds": stats.duplicates_text(dup),
    }
    if len(rates) < min_seeds:
        return inconclusive(rule, ["alignment rates missing (needs attention.npz from the probes)"], ev)
    if any(c is None for c in chance):
        return inconclusive(rule, ["chance level of the alignment unknown (no sequence length recorded)"], ev)
    margins = [min(a - ALIGNED, a - ABOVE_CHANCE * c) for a, c in zip(rates, chance)]
    plausible = stats.decide_threshold(
        stats.mean(margins), 0.0, f"best head's alignment beyond {ALIGNED} and {ABOVE_CHANCE}× chance"
    )
    ev["head_ablation"] = head_ablation_evidence(done, delta)
    rows, counts = masking_effects(done)
    ev["source_masking_per_seed"] = rows
    if not counts:
        return inconclusive(
            rule, ["no source-masking record (long_range.source_masking: callbacks.source_masking)"], ev
        )
    few = [c for c in counts if not isinstance(c, int) or c < MIN_SEQUENCES]
    if few:
        return inconclusive(
            rule, [f"source masking on fewer than {MIN_SEQUENCES} test sequences (measured on {counts})"], ev
        )
    if len(rows) < min_seeds:
        return inconclusive(rule, [f"source masking measured in {len(rows)} seed(s), {min_seeds} needed"], ev)
    dec = stats.decide(
        stats.mean([x["effect"] for x in rows]), delta, "drop with the attended source blanked − control drop"
    )
    shown = ", ".join(f"{a:.2f}" for a in rates)
    key = (
        f"best head's alignment per seed: {shown} (chance {min(chance):.3g}–{max(chance):.3g}); source blanked − "
        f"control, drop: {dec.estimate.text() if dec.estimate else '?'} (δ={delta:g})"
    )
    parts = {"plausible": plausible, "faithful": dec}
    ev["decisions"] = {k: d.to_dict() for k, d in parts.items()}
    words = {
        "plausible": "aligned on copy, not faithful: blanking the attended source hurts no more than blanking "
        "another position",
        "faithful": "faithful, not aligned: blanking the attended source hurts beyond the control, but the best "
        "head is not aligned on the copied symbol",
    }
    return by_parts(parts, rule, ev, key, lambda yes: words[yes[0]])


def head_ablation_evidence(runs: list[dict], delta: float) -> dict:
    """C9's secondary evidence (outside the decision): per head, the mean test-metric drop when it alone is zeroed,
    against δ, Holm-corrected over the k heads (the best of k is a selection); or why it is not shown."""
    drops, counts = head_drops(runs)
    few = [c for c in counts if not isinstance(c, int) or c < MIN_SEQUENCES]
    if not drops or few:
        return {
            "note": f"head ablation missing or on fewer than {MIN_SEQUENCES} test sequences "
            f"(callbacks.head_ablation; measured on {counts})"
        }
    per_head = stats.holm_correct(
        {
            f"{n} head {h}": stats.decide(stats.mean(d), delta, f"drop without {n} head {h}")
            for (n, h), d in drops.items()
        },
        "heads (best of k)",
    )
    best = max(per_head, key=lambda k: per_head[k].estimate.value if per_head[k].estimate else float("-inf"))
    return {
        "largest_drop": best,
        "some_head_needed": any(d.outcome == stats.SUPPORTED for d in per_head.values()),
        "per_head": {k: d.to_dict() for k, d in per_head.items()},
    }


# -- C10: residual + LayerNorm make deep training stable --------------------------------------------------------
def block_kind(run: dict) -> str:
    if get(run, "config.arch.residual") is False:
        return "no residual"
    if get(run, "config.arch.layer_norm") is False:
        return "no layernorm"
    return "pre-norm" if get(run, "config.arch.norm_first") else "post-norm"


def failed_run(run: dict, target: float | None) -> bool:
    """Diverged, or (when a target is set) never reached it."""
    if run.get("status") == "diverged":
        return True
    return target is not None and get(run, "long_range.steps_to_target") is None


def regime(run: dict) -> tuple:
    """The optimisation setting a C10 run was given: (lr, warm-up steps, gradient clip or None = off)."""
    return (
        get(run, "config.optimizer.lr"),
        get(run, "config.trainer.warmup_steps"),
        get(run, "config.trainer.grad_clip"),
    )


def regime_text(reg: tuple) -> str:
    lr, warm, clip = reg
    return f"lr {lr}, warm-up {warm}, clip {'off' if clip is None else clip}"


def largest_stable_lr(cells: dict, depth, kind) -> dict:
    """Per (warm-up, clip): the largest lr such that no seed fails at it or at any smaller lr (None: fails at the
    smallest)."""
    out = {}
    regimes = sorted({k[2] for k in cells if k[:2] == (depth, kind)}, key=str)
    for warm, clip in sorted({(r[1], r[2]) for r in regimes}, key=str):
        best = None
        for lr in sorted((r[0] for r in regimes if r[1:] == (warm, clip)), key=lambda x: (x is None, x or 0)):
            if any(failed_run(r, get(r, "config.trainer.stop_at")) for r in cells[(depth, kind, (lr, warm, clip))]):
                break
            best = lr
        out[f"warm-up {warm}, clip {'off' if clip is None else clip}"] = best
    return out


ABLATED = ("no residual", "no layernorm")


def run_score(run: dict) -> float | None:
    """C10's per-run outcome: test accuracy; a diverged run scores the task's chance (it learned nothing — counted,
    not dropped)."""
    if run.get("status") == "diverged":
        return facts.chance(run) if facts.chance(run) is not None else 0.0
    v = get(run, "metrics.test/acc")
    return float(v) if stats.finite([v]) else None


def c10_residual_norm(runs: list[dict], min_seeds: int = 2, delta: float = 0.05) -> Verdict:
    rule = (
        "transformer at several depths with the seed's post-norm block, pre-norm, no residual and no LayerNorm, "
        "under every lr × warm-up × clipping the preset varies (quick: with warm-up 100 and clipping 1.0, and "
        "without either). Per run its test accuracy, a diverged run counted at chance. Per ablated block the depth "
        "× block interaction: (post-norm − ablated) at the deepest depth minus the same at the shallowest — the "
        "accuracy the ablation costs deep beyond what it costs shallow — averaged over the optimisation settings, "
        "a Welch–Satterthwaite contrast over distinct seeds with each accuracy's test-set floor, against "
        f"δ={delta:g}: both ablations supported → supported, both excluded → not supported, one each → mixed, "
        "underpowered → inconclusive. Beside it: failure rates (diverged or never at the stop target) per cell, the "
        "same interaction on them (Agresti–Caffo), and the largest stable lr per depth, block, warm-up and clipping"
    )
    tr = [r for r in runs if r.get("arch") == "transformer"]
    cells = {
        k: stats.distinct_seeds(v)[0]
        for k, v in group(tr, lambda r: (get(r, "config.arch.n_layers"), block_kind(r), regime(r))).items()
    }
    depths = sorted({k[0] for k in cells if k[0] is not None})
    if len(depths) < 2:
        return inconclusive(
            rule, [f"transformer runs at {len(depths)} depth(s); the depth × block interaction needs ≥ 2"]
        )
    lo_d, hi_d = depths[0], depths[-1]
    regimes = sorted({k[2] for k in cells}, key=str)
    need = [(d, k, g) for d in (lo_d, hi_d) for k in ("post-norm",) + ABLATED for g in regimes]
    why = shortfall(cells, need, "depth/block/setting", min_seeds, allow_diverged=True)
    if why:
        return inconclusive(rule, why)
    rate = {k: [float(failed_run(r, get(r, "config.trainer.stop_at"))) for r in rs] for k, rs in cells.items()}
    score = {
        k: [v for v in (run_score(r) for r in rs if r.get("status") in ("completed", "diverged")) if v is not None]
        for k, rs in cells.items()
    }
    ev: dict = {
        "depths": depths,
        "settings": [regime_text(g) for g in regimes],
        "fail_rate": {
            f"depth {d}, {k}, {regime_text(g)}": f"{int(sum(rate[(d, k, g)]))}/{len(rate[(d, k, g)])}"
            for (d, k, g) in sorted(cells, key=str)
        },
        "accuracy": {
            f"depth {d}, {k}, {regime_text(g)}": stats.mean(score[(d, k, g)]).to_dict()
            for (d, k, g) in sorted(cells, key=str)
            if stats.mean(score[(d, k, g)])
        },
    }
    ev["largest_stable_lr"] = {
        f"depth {d}, {k}": largest_stable_lr(cells, d, k) for d, k in sorted({k[:2] for k in cells}, key=str)
    }

    def count(d, k, g) -> tuple[int, int]:
        fails = [failed_run(r, get(r, "config.trainer.stop_at")) for r in cells[(d, k, g)]]
        return sum(fails), len(fails)

    dec, beside = {}, {}
    w = 1.0 / len(regimes)
    arms = lambda k: ((hi_d, "post-norm", 1), (hi_d, k, -1), (lo_d, "post-norm", -1), (lo_d, k, 1))
    for k in ABLATED:
        groups = [
            (score[(d, b, g)], sign * w, acc_floor(completed(cells[(d, b, g)]), score[(d, b, g)]))
            for g in regimes
            for d, b, sign in arms(k)
        ]
        dec[k] = stats.decide(
            stats.contrast(groups), delta, f"{k}: accuracy it costs at depth {hi_d} beyond depth {lo_d}"
        )
        terms = [(*count(d, b, g), -sign * w) for g in regimes for d, b, sign in arms(k)]
        est = stats.rate_contrast(terms)
        beside[k] = est.to_dict() if est else None
    ev["decisions"] = {k: d.to_dict() for k, d in dec.items()}
    ev["failure_interaction"] = beside
    key = f"depth {lo_d}→{hi_d}, accuracy the ablation costs deep beyond shallow: " + ", ".join(
        f"{k} {dec[k].estimate.value:+.2f}" for k in ABLATED if dec[k].estimate
    )
    return by_parts(dec, rule, ev, key, lambda yes: f"only {yes[0]} breaks deep training more than shallow")
