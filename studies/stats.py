"""Small statistics for verdicts: means with 95% t-intervals, Welch differences, ratios on the log scale,
least-squares slopes and Spearman's ρ. Plain numbers in, plain numbers out (NaN/inf/None are dropped and counted
by the callers, never averaged)."""

from __future__ import annotations

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


FLOORED = "no variation between seeds on a side: its variance floored at the Agresti–Coull p̃(1−p̃)"
CONSTANT = "the seeds did not vary (no variation between seeds): an interval needs variation between seeds"


def sample_var(x: list[float], floor: bool = True) -> tuple[float, bool]:
    """Sample variance of ``x`` (n ≥ 2) and whether it was floored. A constant sample of values in [0, 1]
    (accuracies, rates) gets the Agresti–Coull floor p̃(1−p̃), p̃ = (n·mean + 2)/(n + 4): each seed counted as a
    success/failure trial, the conservative case. Without the floor, 3 seeds of 1.0 against 3 of 0.0 would give a
    zero-width interval, though no exact test rejects at α = 0.05 with 3 vs 3 (minimum two-sided p = 0.1)."""
    v = float(np.var(x, ddof=1))
    if v > 0 or not floor or not all(0.0 <= t <= 1.0 for t in x):
        return v, False
    p = (len(x) * float(np.mean(x)) + 2) / (len(x) + 4)
    return p * (1 - p), True


def mean(values, floor: bool = True) -> Estimate | None:
    """Mean and t-interval of the finite values; None when there are none. A constant sample in [0, 1] gets the
    floored variance (:func:`sample_var`); a constant sample outside it gets no interval (see ``note``)."""
    x = finite(values)
    if not x:
        return None
    m = float(np.mean(x))
    if len(x) < 2:
        return Estimate(m, None, None, len(x))
    v, floored = sample_var(x, floor)
    if v == 0:
        return Estimate(m, None, None, len(x), note=CONSTANT)
    se = math.sqrt(v / len(x))
    half = st.t.ppf(0.5 + LEVEL / 2, len(x) - 1) * se
    return Estimate(m, m - half, m + half, len(x), se, len(x) - 1, FLOORED if floored else None)


def difference(a, b, floor: bool = True) -> Estimate | None:
    """mean(a) − mean(b) with Welch's interval (n = the smaller sample). A side whose seeds did not vary and whose
    values lie in [0, 1] gets the floored variance (:func:`sample_var`), which then enters Welch's se and dof as
    usual; with both sides constant otherwise there is no interval (see ``note``)."""
    x, y = finite(a), finite(b)
    if not x or not y:
        return None
    d = float(np.mean(x) - np.mean(y))
    n = min(len(x), len(y))
    if len(x) < 2 or len(y) < 2:
        return Estimate(d, None, None, n)
    (sx, fx), (sy, fy) = sample_var(x, floor), sample_var(y, floor)
    vx, vy = sx / len(x), sy / len(y)
    if vx + vy == 0:
        return Estimate(d, None, None, n, note=CONSTANT)
    se = math.sqrt(vx + vy)
    dof = (vx + vy) ** 2 / (vx**2 / (len(x) - 1) + vy**2 / (len(y) - 1))
    half = st.t.ppf(0.5 + LEVEL / 2, dof) * se
    return Estimate(d, d - half, d + half, n, se, dof, FLOORED if fx or fy else None)


def ratio(a, b) -> Estimate | None:
    """Geometric-mean ratio a/b with the interval of the log difference (positive values only). Logs are not
    bounded rates: no variance floor, so identical values on both sides give no interval."""
    la = [math.log(v) for v in finite(a) if v > 0]
    lb = [math.log(v) for v in finite(b) if v > 0]
    d = difference(la, lb, floor=False)
    if d is None:
        return None
    ex = lambda v: None if v is None else math.exp(v)
    return Estimate(math.exp(d.value), ex(d.lo), ex(d.hi), d.n, note=d.note)


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
    return Estimate(float(res.slope), float(res.slope - half), float(res.slope + half), len(xs))


def spearman(x, y) -> float | None:
    """Spearman's ρ of the finite pairs; None with fewer than 3 pairs or a constant side."""
    pairs = [(float(a), float(b)) for a, b in zip(x, y) if finite([a]) and finite([b])]
    if len(pairs) < 3:
        return None
    xs, ys = np.array(pairs).T
    if np.ptp(xs) == 0 or np.ptp(ys) == 0:
        return None
    return float(st.spearmanr(xs, ys).statistic)


# -- three outcomes decided by a minimal effect δ ---------------------------------------------------------------
SUPPORTED, NOT_SUPPORTED, INCONCLUSIVE = "supported", "not supported", "inconclusive"
ALPHA = 1 - LEVEL
POWER = 0.80


def p_value(est: Estimate) -> float | None:
    """Two-sided p-value of "no effect" (value 0) from the estimate's t statistic; None without an interval."""
    if est.se is None or est.dof is None:
        return None
    if est.se == 0:
        return 0.0 if est.value != 0 else 1.0
    return float(2 * st.t.sf(abs(est.value) / est.se, est.dof))


def mde(est: Estimate, alpha: float = ALPHA, power: float = POWER) -> float | None:
    """Minimal detectable effect at this n: (t_{1-α/2} + t_{power}) · se, the smallest true effect the test finds
    with probability ``power``; None without an interval (fewer than 2 seeds on a side)."""
    if est.se is None or est.dof is None:
        return None
    return float((st.t.ppf(1 - alpha / 2, est.dof) + st.t.ppf(power, est.dof)) * est.se)


@dataclass(frozen=True)
class Decision:
    """The outcome of one primary test against its minimal effect ``delta``: the estimate, the outcome, why, the
    minimal detectable effect at this n and the (possibly Holm-adjusted) p-value."""

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
            "p": r(self.p),
            "corrected": self.corrected,
        }


def decide(est: Estimate | None, delta: float, what: str = "effect") -> Decision:
    """Three outcomes by the minimal effect ``delta`` (> 0, in the estimate's units; orient the estimate so the
    claim predicts a positive value):

    - supported: the interval lies above 0 and the estimate is ≥ δ;
    - not supported: the interval excludes effects ≥ δ (its upper end < δ);
    - otherwise inconclusive — underpowered, with the minimal detectable effect at this n."""
    if delta <= 0:
        raise ValueError(f"minimal effect δ must be > 0, got {delta}")
    if est is None:
        return Decision(INCONCLUSIVE, None, delta, f"no {what} measured")
    lo, hi = est.lo, est.hi
    md, p = mde(est), p_value(est)
    if lo is None:
        need = est.note or "an interval needs at least 2 distinct seeds per side"
        return Decision(INCONCLUSIVE, est, delta, f"underpowered: {what} {est.value:.3g} from n={est.n}, {need}", md, p)
    note = f" ({est.note})" if est.note else ""
    if lo > 0 and est.value >= delta:
        why = f"{what} {est.text()} lies above 0 and reaches δ={delta:g}{note}"
        return Decision(SUPPORTED, est, delta, why, md, p)
    if hi < delta:
        return Decision(NOT_SUPPORTED, est, delta, f"{what} {est.text()} excludes effects ≥ δ={delta:g}{note}", md, p)
    return Decision(
        INCONCLUSIVE,
        est,
        delta,
        f"underpowered: {what} {est.text()} neither above 0 with ≥ δ={delta:g} "
        f"nor excluding δ; minimal detectable effect at n={est.n}: " + (f"{md:.3g}" if md is not None else "?") + note,
        md,
        p,
    )


def holm(pvalues: dict, alpha: float = ALPHA) -> dict:
    """Holm's step-down adjustment: {name: p} → {name: adjusted p} (monotone, capped at 1; None stays None)."""
    known = sorted(((p, k) for k, p in pvalues.items() if p is not None), key=lambda t: t[0])
    m, out, running = len(known), {k: None for k, p in pvalues.items() if p is None}, 0.0
    for i, (p, k) in enumerate(known):
        running = max(running, min(1.0, (m - i) * p))
        out[k] = running
    return out


def holm_correct(decisions: dict, label: str, alpha: float = ALPHA) -> dict:
    """Holm across a family of decisions ({name: Decision}): a *supported* whose adjusted p is ≥ α becomes
    inconclusive; every decision with a p-value records which correction it went through (``label``)."""
    adjusted = holm({k: d.p for k, d in decisions.items()}, alpha)
    out = {}
    for k, d in decisions.items():
        q = adjusted.get(k)
        if q is None:
            out[k] = d
            continue
        outcome, why = d.outcome, d.why
        if outcome == SUPPORTED and q >= alpha:
            outcome, why = (
                INCONCLUSIVE,
                f"underpowered after correction: {why}, but Holm-adjusted p={q:.3g} ≥ {alpha:g}",
            )
        out[k] = Decision(outcome, d.estimate, d.delta, why, d.mde, q, f"Holm over {len(adjusted)} {label}")
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


def split_settings(runs: list[dict], keys=("_preset", "_source")) -> dict:
    """Runs grouped by what they were given (preset, source sweep, …): groups are never merged into one cell."""
    out: dict = {}
    for r in runs:
        out.setdefault(tuple(r.get(k) for k in keys), []).append(r)
    return out
