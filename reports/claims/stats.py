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
    """A mean (or difference, ratio, slope) with its 95% interval; ``lo``/``hi`` are None when n is too small."""

    value: float
    lo: float | None
    hi: float | None
    n: int

    def above(self, x: float) -> bool:
        return self.lo is not None and self.lo > x

    def below(self, x: float) -> bool:
        return self.hi is not None and self.hi < x

    def to_dict(self, digits: int = 4) -> dict:
        r = lambda v: None if v is None else round(v, digits)  # noqa: E731
        return {"value": r(self.value), "ci95": [r(self.lo), r(self.hi)], "n": self.n}

    def text(self, digits: int = 3) -> str:
        if self.lo is None:
            return f"{self.value:.{digits}f} (n={self.n})"
        return f"{self.value:.{digits}f} [{self.lo:.{digits}f}, {self.hi:.{digits}f}] (n={self.n})"


def mean(values) -> Estimate | None:
    """Mean and t-interval of the finite values; None when there are none."""
    x = finite(values)
    if not x:
        return None
    m = float(np.mean(x))
    if len(x) < 2:
        return Estimate(m, None, None, len(x))
    half = st.t.ppf(0.5 + LEVEL / 2, len(x) - 1) * float(np.std(x, ddof=1)) / math.sqrt(len(x))
    return Estimate(m, m - half, m + half, len(x))


def difference(a, b) -> Estimate | None:
    """mean(a) − mean(b) with Welch's interval (n = the smaller sample)."""
    x, y = finite(a), finite(b)
    if not x or not y:
        return None
    d = float(np.mean(x) - np.mean(y))
    if len(x) < 2 or len(y) < 2:
        return Estimate(d, None, None, min(len(x), len(y)))
    vx, vy = np.var(x, ddof=1) / len(x), np.var(y, ddof=1) / len(y)
    se = math.sqrt(vx + vy)
    if se == 0:
        return Estimate(d, d, d, min(len(x), len(y)))
    dof = (vx + vy) ** 2 / (vx ** 2 / (len(x) - 1) + vy ** 2 / (len(y) - 1))
    half = st.t.ppf(0.5 + LEVEL / 2, dof) * se
    return Estimate(d, d - half, d + half, min(len(x), len(y)))


def ratio(a, b) -> Estimate | None:
    """Geometric-mean ratio a/b with the interval of the log difference (positive values only)."""
    la = [math.log(v) for v in finite(a) if v > 0]
    lb = [math.log(v) for v in finite(b) if v > 0]
    d = difference(la, lb)
    if d is None:
        return None
    ex = lambda v: None if v is None else math.exp(v)  # noqa: E731
    return Estimate(math.exp(d.value), ex(d.lo), ex(d.hi), d.n)


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
