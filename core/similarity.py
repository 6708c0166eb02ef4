"""Similarity of representations, numpy only (the probes hand it their states as arrays; the reports read them
back from ``hidden.npz``)."""

from __future__ import annotations

import numpy as np


def linear_cka(x, y) -> float:
    """Linear CKA (Kornblith et al. 2019) of two (n, ·) representations of the same n examples, via Gram
    matrices so the widths may differ: ⟨K, L⟩ / (‖K‖‖L‖) with K = XXᵀ, L = YYᵀ of centred X, Y (float64).
    Arrays, or anything ``numpy.asarray`` takes (a CPU tensor); NaN when either has no variance."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    x, y = x.reshape(len(x), -1), y.reshape(len(y), -1)
    x, y = x - x.mean(0), y - y.mean(0)
    k, m = x @ x.T, y @ y.T
    denom = np.linalg.norm(k) * np.linalg.norm(m)
    return float((k * m).sum() / denom) if denom > 0 else float("nan")
