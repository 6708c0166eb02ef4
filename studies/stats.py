"""Small statistics for verdicts: means with 95% t-intervals, Welch differences, ratios on the log scale,
least-squares slopes, a rank test for censored outcomes, three-outcome decisions by δ and Holm. Plain numbers in,
plain numbers out (NaN/inf/None are dropped and counted by the callers, never averaged).

Variance: a side's variance is its seeds' sample variance raised to a floor *in the units of the value* — the
binomial variance of an accuracy read on the test set's items (:func:`proportion_floor`) where the caller knows
them, 0 for values measured exactly (log times, failure indicators, slopes). No floor meant for proportions touches
other units, and ``max(s², floor)`` keeps every decision continuous in the data."""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np
from scipy import stats as st

LEVEL = 0.95


def finite(values) -> list[float]:
    """The finite numbers among ``values`` (None, NaN, inf, strings left out)."""
    out = []
    for v in values:
        if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v):
            out.append(float(v))
    return out


@dataclass(frozen=True)
class Estimate:
    """A mean (or difference, ratio, slope) with its 95% interval; ``lo``/``hi`` are None when n is too small or
    the seeds did not vary (``note`` says which floor or why)."""

    value: float
    lo: float | None
    hi: float | None
    n: int
    se: float | None = None  # standard error (None when n is too small)
    dof: float | None = None  # degrees of freedom of the t-interval
    note: str | None = None  # e.g. that a side's variance was floored, or why there is no interval

    def above(self, x: float) -> bool:
        return self.lo is not None and self.lo > x

    def below(self, x: float) -> bool:
        return self.hi is not None and self.hi < x

    def to_dict(self, digits: int = 4) -> dict:
        r = lambda v: None if v is None else round(v, digits)
        out = {"value": r(self.value), "ci95": [r(self.lo), r(self.hi)], "n": self.n}
        if self.note:
            out["note"] = self.note
        return out

    def text(self, digits: int = 3) -> str:
        if self.lo is None:
            return f"{self.value:.{digits}f} (n={self.n})"
        return f"{self.value:.{digits}f} [{self.lo:.{digits}f}, {self.hi:.{digits}f}] (n={self.n})"


CONSTANT = "the seeds did not vary: the interval is the measurement floor's alone (zero width without one)"


def sample_var(x: list[float], floor: float = 0.0) -> tuple[float, bool]:
    """Sample variance of ``x`` (n ≥ 2), raised to ``floor`` (a variance in the units of the values: the smallest
    spread a measurement of this kind can have, e.g. :func:`proportion_floor` for an accuracy read on a finite test
    set; 0 for values measured exactly) and whether the floor was the larger. ``max`` keeps the decision continuous
    in the data: moving one seed by 0.001 moves the variance by as little, and a side whose seeds all agree is
    treated like one whose seeds nearly agree."""
    v = float(np.var(x, ddof=1))
    return (v, False) if v >= floor else (float(floor), True)


def proportion_floor(values, items: float | None) -> float:
    """The binomial variance of a proportion read on ``items`` independent items (a test-set accuracy), at the
    Agresti–Coull estimate p̃ = (items·mean + 2)/(items + 4): the least variance a seed's accuracy can have around
    its expectation, in accuracy units. 0 when ``items`` is unknown or the values are not proportions."""
    x = finite(values)
    if not x or not items or items <= 0 or not all(0.0 <= t <= 1.0 for t in x):
        return 0.0
    p = (items * float(np.mean(x)) + 2) / (items + 4)
    return p * (1 - p) / items


def mean(values, floor: float = 0.0) -> Estimate | None:
    """Mean and t-interval of the finite values; None when there are none; no interval from one value. The
    variance is the sample variance raised to ``floor`` (:func:`sample_var`); seeds that all agree with no floor
    give a zero-width interval (``note`` says so)."""
    x = finite(values)
    if not x:
        return None
    m = float(np.mean(x))
    if len(x) < 2:
        return Estimate(m, None, None, len(x))
    v, floored = sample_var(x, floor)
    se = math.sqrt(v / len(x))
    half = st.t.ppf(0.5 + LEVEL / 2, len(x) - 1) * se
    return Estimate(m, m - half, m + half, len(x), se, len(x) - 1, CONSTANT if floored or v == 0 else None)


def difference(a, b, floor: float = 0.0, floor_b: float | None = None) -> Estimate | None:
    """mean(a) − mean(b) with Welch's interval (n = the smaller sample); each side's variance raised to its floor
    (``floor`` for a, ``floor_b`` for b, default the same; in the values' units, see :func:`sample_var`). A side
    whose seeds did not vary enters Welch with its floor (0 without one); both sides exact give a zero-width
    interval."""
    x, y = finite(a), finite(b)
    if not x or not y:
        return None
    d = float(np.mean(x) - np.mean(y))
    n = min(len(x), len(y))
    if len(x) < 2 or len(y) < 2:
        return Estimate(d, None, None, n)
    (sx, fx), (sy, fy) = sample_var(x, floor), sample_var(y, floor if floor_b is None else floor_b)
    vx, vy = sx / len(x), sy / len(y)
    se = math.sqrt(vx + vy)
    if vx + vy == 0:
        dof = float(len(x) + len(y) - 2)
    else:
        dof = (vx + vy) ** 2 / (vx**2 / (len(x) - 1) + vy**2 / (len(y) - 1))
    half = st.t.ppf(0.5 + LEVEL / 2, dof) * se
    constant = (fx or sx == 0) and (fy or sy == 0)
    return Estimate(d, d - half, d + half, n, se, dof, CONSTANT if constant else None)


def contrast(groups: list[tuple[list, float, float]]) -> Estimate | None:
    """A linear contrast Σ wᵢ·mean(groupᵢ) of independent groups ``(values, weight, floor)`` (e.g. an interaction:
    (a₁ − b₁) − (a₂ − b₂)) with a Welch–Satterthwaite interval, each group's variance raised to its floor as in
    :func:`difference`; n = the smallest group. None when a group has no finite value; no interval when one has a
    single value."""
    xs = [(finite(v), w, f) for v, w, f in groups]
    if not xs or any(not x for x, _, _ in xs):
        return None
    d = float(sum(w * np.mean(x) for x, w, _ in xs))
    n = min(len(x) for x, _, _ in xs)
    if n < 2:
        return Estimate(d, None, None, n)
    parts = [(sample_var(x, f), w, len(x)) for x, w, f in xs]
    var = [w * w * sv / k for (sv, _), w, k in parts]
    se = math.sqrt(sum(var))
    if se == 0:
        dof = float(sum(k - 1 for _, _, k in parts))
    else:
        dof = sum(var) ** 2 / sum(v * v / (k - 1) for v, (_, _, k) in zip(var, parts))
    half = st.t.ppf(0.5 + LEVEL / 2, dof) * se
    constant = all(fl or sv == 0 for (sv, fl), _, _ in parts)
    return Estimate(d, d - half, d + half, n, se, dof, CONSTANT if constant else None)


def ratio(a, b) -> Estimate | None:
    """Geometric-mean ratio a/b with the interval of the log difference (positive values only; no floor: log
    times are measured, not counted)."""
    la = [math.log(v) for v in finite(a) if v > 0]
    lb = [math.log(v) for v in finite(b) if v > 0]
    d = difference(la, lb)
    if d is None:
        return None
    ex = lambda v: None if v is None else math.exp(v)
    return Estimate(math.exp(d.value), ex(d.lo), ex(d.hi), d.n, d.se, d.dof, note=d.note)


def slope(x, y) -> Estimate | None:
    """Least-squares slope of y on x (pairs with a non-finite member dropped) with its t-interval."""
    pairs = [(float(a), float(b)) for a, b in zip(x, y) if finite([a]) and finite([b])]
    if len(pairs) < 3:
        return None
    xs, ys = np.array(pairs).T
    if np.ptp(xs) == 0:
        return None
    res = st.linregress(xs, ys)
    half = st.t.ppf(0.5 + LEVEL / 2, len(xs) - 2) * res.stderr
    lo, hi = float(res.slope - half), float(res.slope + half)
    return Estimate(float(res.slope), lo, hi, len(xs), float(res.stderr), len(xs) - 2)


def rate_contrast(cells: list[tuple[int, int, float]]) -> Estimate | None:
    """A weighted sum Σ w·(k/n) of event rates (failures k of n seeds per cell, e.g. C10's depth × block
    interaction) with the Agresti–Caffo interval: each rate's variance p̃(1−p̃)/(n+2) at p̃ = (k+1)/(n+2), summed
    with weights w², normal quantiles. A failure is counted, not measured, so the floor is the binomial one of the
    rate itself, in rate units: 0 failures of 3 cannot exclude a 5% rate, 3 of 3 against 0 of 3 can show one.
    None without cells or with an empty one."""
    if not cells or any(n <= 0 for _, n, _ in cells):
        return None
    value = sum(w * k / n for k, n, w in cells)
    var = sum(w * w * ((k + 1) / (n + 2)) * (1 - (k + 1) / (n + 2)) / (n + 2) for k, n, w in cells)
    se = math.sqrt(var)
    half = st.norm.ppf(0.5 + LEVEL / 2) * se
    return Estimate(float(value), float(value - half), float(value + half), min(n for _, n, _ in cells), se, math.inf)


# -- three outcomes decided by a minimal effect δ ---------------------------------------------------------------
SUPPORTED, NOT_SUPPORTED, INCONCLUSIVE = "supported", "not supported", "inconclusive"
ALPHA = 1 - LEVEL
POWER = 0.80


def _below(est: Estimate, x: float) -> float:
    """The probability, under the estimate's t-distribution, that the true value lies below ``x`` (a point mass at
    the value when se is 0)."""
    if est.se == 0:
        return 1.0 if x > est.value else 0.0 if x < est.value else 0.5
    return float(st.t.cdf((x - est.value) / est.se, est.dof))


def p_value(est: Estimate) -> float | None:
    """Two-sided p-value of "no effect" (value 0) from the estimate's t statistic; None without an interval."""
    if est.se is None or est.dof is None:
        return None
    if est.se == 0:
        return 0.0 if est.value != 0 else 1.0
    return float(2 * st.t.sf(abs(est.value) / est.se, est.dof))


def p_below(est: Estimate, bound: float) -> float | None:
    """p-value of "the effect is ≥ ``bound``" (2 × the one-sided p, capped at 1), so that p < α exactly when the
    95% interval's upper end lies below ``bound``; None without an interval."""
    if est.se is None or est.dof is None:
        return None
    return min(1.0, 2 * (1.0 - _below(est, bound)))


def p_above(est: Estimate, bound: float) -> float | None:
    """As :func:`p_below`, for "the effect is ≤ ``bound``": p < α exactly when the interval's lower end is above."""
    if est.se is None or est.dof is None:
        return None
    return min(1.0, 2 * _below(est, bound))


def mde(est: Estimate, alpha: float = ALPHA, power: float = POWER) -> float | None:
    """Minimal detectable effect at this n: (t_{1-α/2} + t_{power}) · se, the smallest true effect the test finds
    with probability ``power``; None without an interval (fewer than 2 seeds on a side)."""
    if est.se is None or est.dof is None:
        return None
    return float((st.t.ppf(1 - alpha / 2, est.dof) + st.t.ppf(power, est.dof)) * est.se)


@dataclass(frozen=True)
class Decision:
    """The outcome of one primary test against its minimal effect ``delta``: the estimate, the outcome, why, the
    minimal detectable effect at this n and ``p``, the p-value of the test that decides it — of "no effect" for
    *supported*, of "an effect ≥ δ" for *not supported*, for *inconclusive* that of the test that came nearer —
    possibly Holm-adjusted: a decided outcome stands only while its adjusted p stays below α."""

    outcome: str
    estimate: Estimate | None
    delta: float
    why: str
    mde: float | None = None
    p: float | None = None
    corrected: str | None = None  # e.g. "Holm over 10 primary tests"

    def to_dict(self) -> dict:
        r = lambda v: None if v is None else round(v, 4)
        return {
            "outcome": self.outcome,
            "estimate": self.estimate.to_dict() if self.estimate else None,
            "delta": self.delta,
            "why": self.why,
            "mde": r(self.mde),
            "p": None if self.p is None else float(f"{self.p:.4g}"),
            "corrected": self.corrected,
        }


def decide(est: Estimate | None, delta: float, what: str = "effect") -> Decision:
    """Three outcomes by the minimal effect ``delta`` (> 0, in the estimate's units; orient the estimate so the
    claim predicts a positive value):

    - supported: the interval lies above 0 and the estimate is ≥ δ (p: of "no effect");
    - not supported: the interval excludes effects ≥ δ, its upper end < δ (p: of "an effect ≥ δ");
    - otherwise inconclusive — underpowered, with the minimal detectable effect at this n."""
    if delta <= 0:
        raise ValueError(f"minimal effect δ must be > 0, got {delta}")
    if est is None:
        return Decision(INCONCLUSIVE, None, delta, f"no {what} measured")
    md = mde(est)
    if est.lo is None:
        need = est.note or "an interval needs at least 2 distinct seeds per side"
        return Decision(INCONCLUSIVE, est, delta, f"underpowered: {what} {est.value:.3g} from n={est.n}, {need}", md)
    p_sup, p_not = p_value(est), p_below(est, delta)
    note = f" ({est.note})" if est.note else ""
    if est.lo > 0 and est.value >= delta:
        why = f"{what} {est.text()} lies above 0 and reaches δ={delta:g}{note}"
        return Decision(SUPPORTED, est, delta, why, md, p_sup)
    if est.hi < delta:
        why = f"{what} {est.text()} excludes effects ≥ δ={delta:g}{note}"
        return Decision(NOT_SUPPORTED, est, delta, why, md, p_not)
    why = (
        f"underpowered: {what} {est.text()} neither above 0 with ≥ δ={delta:g} nor excluding δ; minimal "
        f"detectable effect at n={est.n}: " + (f"{md:.3g}" if md is not None else "?") + note
    )
    return Decision(INCONCLUSIVE, est, delta, why, md, p_sup if est.value >= delta else p_not)


def decide_close(est: Estimate | None, delta: float, what: str = "difference") -> Decision:
    """Equivalence by the margin ``delta``: *supported* (close) when the 95% interval lies within ±δ (p: the larger
    of the two one-sided tests, doubled), *not supported* when it lies wholly outside ±δ (p: of "within δ" on that
    side), inconclusive otherwise."""
    if delta <= 0:
        raise ValueError(f"margin δ must be > 0, got {delta}")
    if est is None:
        return Decision(INCONCLUSIVE, None, delta, f"no {what} measured")
    if est.lo is None:
        return Decision(INCONCLUSIVE, est, delta, f"underpowered: {what} {est.value:.3g} from n={est.n}, no interval")
    ci = f"95% CI [{est.lo:.3g}, {est.hi:.3g}]"
    p_in = max(p_above(est, -delta), p_below(est, delta))
    p_out = min(p_above(est, delta), p_below(est, -delta))
    if -delta <= est.lo and est.hi <= delta:
        return Decision(SUPPORTED, est, delta, f"{what} {ci} within ±δ={delta:g}", mde(est), p_in)
    if est.lo > delta or est.hi < -delta:
        return Decision(NOT_SUPPORTED, est, delta, f"{what} {ci} lies outside ±δ={delta:g}", mde(est), p_out)
    why = f"{what} {ci} straddles ±δ={delta:g} (half-width {(est.hi - est.lo) / 2:.3g})"
    return Decision(INCONCLUSIVE, est, delta, why, mde(est), min(p_in, p_out))


def decide_threshold(est: Estimate | None, threshold: float, what: str = "value") -> Decision:
    """Above or below a fixed threshold (e.g. an alignment rate of 0.9): *supported* when the 95% interval lies
    above it, *not supported* when below, inconclusive when it straddles; ``delta`` records the threshold."""
    if est is None:
        return Decision(INCONCLUSIVE, None, threshold, f"no {what} measured")
    if est.lo is None:
        return Decision(INCONCLUSIVE, est, threshold, f"underpowered: {what} {est.value:.3g} from n={est.n}")
    p_up, p_down = p_above(est, threshold), p_below(est, threshold)
    if est.lo > threshold:
        return Decision(SUPPORTED, est, threshold, f"{what} {est.text()} above {threshold:g}", mde(est), p_up)
    if est.hi < threshold:
        return Decision(NOT_SUPPORTED, est, threshold, f"{what} {est.text()} below {threshold:g}", mde(est), p_down)
    why = f"underpowered: {what} {est.text()} straddles {threshold:g}"
    return Decision(INCONCLUSIVE, est, threshold, why, mde(est), min(p_up, p_down))


# -- censored outcomes: a time never reached is a lower bound, not a missing value -------------------------------
def gehan_score(x: tuple[float, bool], y: tuple[float, bool]) -> int:
    """+1 when x is surely larger than y, −1 when surely smaller, 0 when censoring leaves it open. Each is
    (value, censored), censored meaning the true value is at least ``value`` (never reached within it)."""
    (a, ca), (b, cb) = x, y
    if not ca and not cb:
        return int(a > b) - int(a < b)
    if ca and not cb:
        return 1 if a >= b else 0
    if cb and not ca:
        return -1 if a <= b else 0
    return 0


def gehan(x: list[tuple[float, bool]], y: list[tuple[float, bool]]) -> int:
    """Gehan's generalised Wilcoxon statistic: the sum of :func:`gehan_score` over every pair (x, y)."""
    return sum(gehan_score(a, b) for a in x for b in y)


EXACT_UP_TO = 20000  # relabellings enumerated exactly (C(16, 8) = 12 870); more are drawn at random


def gehan_p(x: list[tuple[float, bool]], y: list[tuple[float, bool]]) -> tuple[float, float]:
    """One-sided permutation p-values (x larger, x smaller) of Gehan's statistic: exact over every relabelling of
    the pooled seeds up to ``EXACT_UP_TO`` of them, else that many random ones (seeded, so repeatable)."""
    pooled, n = list(x) + list(y), len(x)
    u = gehan(x, y)
    if math.comb(len(pooled), n) <= EXACT_UP_TO:
        labels = itertools.combinations(range(len(pooled)), n)
    else:
        rng = np.random.default_rng(0)
        labels = (tuple(rng.choice(len(pooled), n, replace=False)) for _ in range(EXACT_UP_TO))
    ge = le = total = 0
    for idx in labels:
        chosen = set(idx)
        v = gehan([pooled[i] for i in idx], [pooled[i] for i in range(len(pooled)) if i not in chosen])
        ge += v >= u
        le += v <= u
        total += 1
    return ge / total, le / total


def _median(values: list[float]) -> float:
    return float(np.median(values)) if values else math.nan


def decide_censored(
    x: list[tuple[float, bool]], y: list[tuple[float, bool]], delta: float, what: str = "x − y"
) -> Decision:
    """x − y > 0 by at least δ, where a seed's value may be censored (never reached: a lower bound). A rank test
    that counts censored seeds (Gehan's, exact permutation) decides the direction; the size is judged on bounds
    that censoring cannot make too favourable:

    - supported: x larger (two-sided p < α) and median(x, censored at their bound) − median(y, censored as +∞)
      ≥ δ (a lower bound of the difference of medians);
    - not supported: x below y + δ (the same test with y shifted by δ, p < α) and the upper bound
      median(x, censored as +∞) − median(y, censored at their bound) < δ;
    - otherwise inconclusive, saying how many seeds were censored."""
    if not x or not y:
        return Decision(INCONCLUSIVE, None, delta, f"no {what} measured")
    p_sup = min(1.0, 2 * gehan_p(x, y)[0])
    p_not = min(1.0, 2 * gehan_p(x, [(v + delta, c) for v, c in y])[1])
    low = _median([v for v, _ in x]) - _median([math.inf if c else v for v, c in y])
    high = _median([math.inf if c else v for v, c in x]) - _median([v for v, _ in y])
    cx, cy = sum(c for _, c in x), sum(c for _, c in y)
    note = f"censored seeds: {cx} of {len(x)} and {cy} of {len(y)}"
    plain = _median([v for v, _ in x]) - _median([v for v, _ in y])
    est = Estimate(plain, None, None, min(len(x), len(y)), note=note)
    bounds = f"difference of medians in [{low:.3g}, {high:.3g}] ({note})"
    if p_sup < ALPHA and low >= delta:
        return Decision(SUPPORTED, est, delta, f"{what}: rank test p={p_sup:.3g}, {bounds} ≥ δ={delta:g}", None, p_sup)
    if p_not < ALPHA and high < delta:
        why = f"{what}: below δ={delta:g} by the rank test (p={p_not:.3g}), {bounds}"
        return Decision(NOT_SUPPORTED, est, delta, why, None, p_not)
    why = (
        f"underpowered: {what}: rank test p={p_sup:.3g} for a difference, {p_not:.3g} for one below "
        f"δ={delta:g}; {bounds}"
    )
    return Decision(INCONCLUSIVE, est, delta, why, None, min(p_sup, p_not))


def holm(pvalues: dict, alpha: float = ALPHA, family: int | None = None) -> dict:
    """Holm's step-down adjustment: {name: p} → {name: adjusted p} (monotone, capped at 1; None stays None).
    ``family``: the family's declared size (fixed by the preset); tests declared but not measured count as p = 1,
    so the correction does not shrink when evidence is missing."""
    known = sorted(((p, k) for k, p in pvalues.items() if p is not None), key=lambda t: t[0])
    m = max(len(known), family or 0)
    out, running = {k: None for k, p in pvalues.items() if p is None}, 0.0
    for i, (p, k) in enumerate(known):
        running = max(running, min(1.0, (m - i) * p))
        out[k] = running
    return out


def holm_correct(decisions: dict, label: str, alpha: float = ALPHA, family: int | None = None) -> dict:
    """Holm across a family of decisions ({name: Decision}), both decided outcomes alike: a *supported* or a *not
    supported* whose adjusted p is ≥ α becomes inconclusive ("after correction"); every decision with a p-value
    records the correction (``label``)."""
    adjusted = holm({k: d.p for k, d in decisions.items()}, alpha, family)
    size = max(len([q for q in adjusted.values() if q is not None]), family or 0)
    out = {}
    for k, d in decisions.items():
        q = adjusted.get(k)
        if q is None:
            out[k] = d
            continue
        outcome, why = d.outcome, d.why
        if outcome in (SUPPORTED, NOT_SUPPORTED) and q >= alpha:
            outcome, why = (
                INCONCLUSIVE,
                f"underpowered after correction: {why}, but Holm-adjusted p={q:.3g} ≥ {alpha:g}",
            )
        out[k] = Decision(outcome, d.estimate, d.delta, why, d.mde, q, f"Holm over {size} {label}")
    return out


# -- replicates: distinct seeds, settings never merged ----------------------------------------------------------
def distinct_seeds(runs: list[dict]) -> tuple[list[dict], dict]:
    """One run per seed (the first in folder order) and the duplicates: {seed: [folders of every copy]}.
    A duplicated seed is one replicate; runs without a seed are kept as they are."""
    by_seed: dict = {}
    kept = []
    for r in sorted(runs, key=lambda r: str(r.get("_dir", ""))):
        s = r.get("seed")
        if s is None:
            kept.append(r)
            continue
        if s in by_seed:
            by_seed[s].append(r)
        else:
            by_seed[s] = [r]
            kept.append(r)
    dup = {s: [str(x.get("_dir", "?")) for x in rs] for s, rs in by_seed.items() if len(rs) > 1}
    return kept, dup


def distinct_seeds_by(runs: list[dict], cell) -> list[dict]:
    """:func:`distinct_seeds` within each cell (``cell(run)``, e.g. the delay): one run per seed per cell."""
    out, cells = [], {}
    for r in runs:
        cells.setdefault(cell(r), []).append(r)
    for rs in cells.values():
        out += distinct_seeds(rs)[0]
    return out


def duplicates_text(dup: dict) -> list[str]:
    return [f"seed {s} appears {len(f)} times, counted once ({', '.join(f)})" for s, f in sorted(dup.items(), key=str)]
