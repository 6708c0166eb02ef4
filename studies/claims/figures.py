"""One figure per claim, drawn from the runs the rule read (``None`` when there is nothing to draw)."""

from __future__ import annotations

from collections import defaultdict

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from studies import facts, stats
from studies.claims import rules
from studies.claims.rules import completed, get

UNIT = (0.0, 1.0)  # every bar chart here shows an accuracy or a share


def interval(e, bounds=None) -> tuple[float, float]:
    """An estimate's 95% CI (its value where there is none), cut to ``bounds`` (a share or accuracy lies in [0, 1];
    the t-interval of 3 seeds can reach past them)."""
    lo, hi = (e.lo if e.lo is not None else e.value), (e.hi if e.hi is not None else e.value)
    return (max(lo, bounds[0]), min(hi, bounds[1])) if bounds else (lo, hi)


def lines_by_arch(runs, x_path, y_path, xlabel, ylabel, title, logx=False, logy=False, bounds=None):
    """Mean ± 95% CI of ``y`` against ``x`` per arch."""
    data = defaultdict(lambda: defaultdict(list))
    for r in completed(runs):
        x, y = x_path(r) if callable(x_path) else get(r, x_path), get(r, y_path)
        if x is not None and stats.finite([y]):
            data[r["arch"]][x].append(y)
    if not data:
        return None
    fig, ax = plt.subplots(figsize=(6.4, 3.8))
    for arch, by in sorted(data.items()):
        xs = sorted(by)
        est = [stats.mean(by[x]) for x in xs]
        ax.plot(xs, [e.value for e in est], marker="o", label=arch)
        lo, hi = zip(*(interval(e, bounds) for e in est))
        ax.fill_between(xs, lo, hi, alpha=0.15)
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title)
    if logx:
        ax.set_xscale("log")
    if logy:
        ax.set_yscale("log")
    ax.legend(fontsize=8)
    return fig


def bars(labels, estimates, ylabel, title, ref=None, bounds=UNIT):
    if not labels:
        return None
    fig, ax = plt.subplots(figsize=(max(4.0, 0.9 * len(labels) + 2), 3.8))
    vals = [e.value for e in estimates]
    cis = [interval(e, bounds) for e in estimates]
    err = [
        [max(e.value - lo, 0) for e, (lo, _) in zip(estimates, cis)],
        [max(hi - e.value, 0) for e, (_, hi) in zip(estimates, cis)],
    ]
    ax.bar(range(len(labels)), vals, yerr=err, capsize=3, color="#4c72b0")
    ax.set_xticks(range(len(labels)), labels, rotation=30, ha="right", fontsize=8)
    if ref is not None:
        ax.axhline(ref, color="#999", lw=1, ls="--")
    ax.set(ylabel=ylabel, title=title)
    return fig


def grouped(runs, key, path):
    cells = rules.group(completed(runs), key)
    items = [(k, stats.mean(rules.values(rs, path))) for k, rs in sorted(cells.items(), key=lambda kv: str(kv[0]))]
    items = [(k, e) for k, e in items if e is not None]
    return [rules.fmt(k) for k, _ in items], [e for _, e in items]


def c1(runs, v):
    return lines_by_arch(
        rules.speed_runs(runs),
        rules.seq_len,
        "speed.train_tokens_per_s",
        "sequence length",
        "train tokens/s",
        "C1: steady-state training throughput",
        logx=True,
        logy=True,
    )


def c2(runs, v):
    return lines_by_arch(
        runs,
        "config.task.delay",
        "metrics.test/acc",
        "delay",
        "test accuracy",
        "C2: copy accuracy vs delay",
        logx=True,
        bounds=UNIT,
    )


def c3(runs, v):
    """log10 gradient at the source against delay, per arch, at init (solid) and early in training (dashed)."""
    fig, ax = plt.subplots(figsize=(6.4, 3.8))
    drawn = False
    for i, (arch, rs) in enumerate(sorted(rules.group(completed(runs), lambda r: r["arch"]).items())):
        for which, style in (("init", "-"), ("early", "--")):
            by_delay = rules.group(
                [r for r in rs if rules.grad_at_source(r, which) is not None], lambda r: facts.delay(r)
            )
            pts = sorted(
                (d, np.mean([rules.grad_at_source(r, which) for r in g]))
                for d, g in by_delay.items()
                if isinstance(d, (int, float))
            )
            if len(pts) < 2:
                continue
            ax.plot(*zip(*pts), style, color=f"C{i}", marker="o", label=f"{arch} ({which})")
            drawn = True
    if not drawn:
        plt.close(fig)
        return None
    ax.set(
        xscale="log",
        xlabel="delay",
        ylabel="log10 L·‖∂ℓ/∂x_t‖ at the source",
        title="C3: gradient at the source vs delay (init, early)",
    )
    ax.legend(fontsize=7)
    return fig


def c4(runs, v):
    def key(r):
        return (
            r.get("task"),
            "causal" if get(r, "config.arch.causal") else "bidir",
            get(r, "config.arch.pos_encoding"),
        )

    labels, est = grouped([r for r in runs if r.get("arch") == "transformer"], key, "metrics.test/acc")
    return bars(labels, est, "test accuracy", "C4: positional encoding", ref=rules.CHANCE_COPY)


def c5(runs, v):
    labels, est = grouped(
        [r for r in runs if r.get("arch") == "transformer"],
        lambda r: f"{get(r, 'config.arch.n_heads')} heads",
        "metrics.test/acc",
    )
    return bars(labels, est, "test metric", "C5: number of heads", bounds=None)  # the metric may be BLEU


def c6(runs, v):
    """Copy accuracy against delay: the transformer, the covering cnn and the blind cnn (both contrasts'
    reference); images are a finding in the evidence, not on this axis."""

    def label(r):
        if r["arch"] != "cnn":
            return r["arch"]
        return "cnn (covering)" if rules.cnn_reach(r) == "covers" else "cnn (blind)"

    copy = [
        {**r, "arch": label(r)}
        for r in runs
        if rules.task_class(r) == rules.COPY_TASK and r.get("arch") in ("cnn", "transformer")
    ]
    return lines_by_arch(
        copy,
        "config.task.delay",
        "metrics.test/acc",
        "delay",
        "test accuracy",
        "C6: copy accuracy vs delay (transformer, cnn by reach)",
        bounds=UNIT,
    )


def c7(runs, v):
    fig, ax = plt.subplots(figsize=(6.4, 3.8))
    drawn = False
    for r in completed(runs):
        probe = get(r, "long_range.layer_probe_acc")
        if probe:
            ax.plot(range(len(probe)), probe, marker="o", alpha=0.7, label=f"{r['arch']} seed {r.get('seed')}")
            drawn = True
    if not drawn:
        plt.close(fig)
        return None
    ax.set(xlabel="layer (0 = input)", ylabel="linear-probe accuracy", title="C7: label readability by depth")
    ax.legend(fontsize=7)
    return fig


def c8(runs, v):
    key = lambda r: (r["arch"], f"{get(r, 'config.task.train_fraction', 1.0):g}", rules.start(r))
    labels, est = grouped([r for r in runs if rules.task_class(r) == rules.SENTIMENT_TASK], key, "metrics.test/acc")
    return bars(labels, est, "test accuracy", "C8: pre-trained vs scratch")


def c9(runs, v):
    rates = [(r.get("seed"), get(r, "long_range.attention.alignment")) for r in completed(rules.c9_runs(runs))]
    rates = [(s, a) for s, a in rates if stats.finite([a])]
    if not rates:
        return None
    return bars(
        [f"seed {s}" for s, _ in rates],
        [stats.Estimate(a, None, None, 1) for _, a in rates],
        "best head's alignment rate",
        "C9: attention aligned to the copied symbol",
        ref=rules.ALIGNED,
    )


def c10(runs, v):
    cells = rules.group(
        [r for r in runs if r.get("arch") == "transformer"],
        lambda r: (get(r, "config.arch.n_layers"), rules.block_kind(r)),
    )
    labels, est = [], []
    for (d, k), rs in sorted(cells.items(), key=lambda kv: (kv[0][0] or 0, kv[0][1])):
        fails = [float(rules.failed_run(r, get(r, "config.trainer.stop_at"))) for r in rs]
        labels.append(f"{d} layers, {k}")
        est.append(stats.Estimate(float(np.mean(fails)), None, None, len(fails)))
    return bars(labels, est, "share of runs that failed", "C10: depth and block kind")
