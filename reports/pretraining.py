"""Pre-training gain: fine-tuned runs (``summary["init"]`` with weights loaded) against their from-scratch controls.

A run is *pre-trained* when its record's ``init.loaded`` is non-empty; every other completed run of the same task
is *scratch* (no ``init_from``, or ``init_from`` with ``init_weights=false``, the control that shares the source's
tokenizer and model settings). Runs are compared within (source folder, task, architecture, train fraction); the
gain is pre-trained − scratch of the test main metric, paired by seed where both exist (else the difference of
the means), reported as mean ± std over seeds.
"""

from __future__ import annotations

import math

import pandas as pd

from reports.tables import ARCH_ORDER, arch_rank, pm, row_heads

KEYS = ["source", "task", "arch", "fraction"]


def runs(df: pd.DataFrame, records: list[dict]) -> pd.DataFrame:
    """Completed runs of the tasks that hold at least one pre-trained run: ``pretrained`` (bool), ``fraction``,
    ``source_task`` (the pre-training task) and the test main metric ``value``."""
    by_path = {r["_dir"]: r for r in records}
    rows = []
    for _, r in df[df["status"] == "completed"].iterrows():
        init = by_path.get(r["path"], {}).get("init") or {}
        info = by_path.get(r["path"], {}).get("task_info") or {}
        rows.append(
            {
                "source": r["source"],
                "task": r["task"],
                "arch": r["arch"],
                "seed": r["seed"],
                "metric": r["main_metric"],
                "value": r["main_value"],
                "pretrained": bool(init.get("loaded")),
                "source_task": init.get("source_task"),
                "fraction": float(info.get("train_fraction", 1.0)),
            }
        )
    out = pd.DataFrame(rows)
    if out.empty:
        return out
    tasks = out.loc[out["pretrained"], "task"].unique()
    return out[out["task"].isin(tasks)].reset_index(drop=True)


def gains(pairs: pd.DataFrame) -> pd.DataFrame:
    """One row per (source, task, arch, fraction): scratch and pre-trained mean/std/n, gain mean/std, pairs."""
    rows = []
    for key, g in pairs.groupby(KEYS):
        pre, scratch = g[g["pretrained"]], g[~g["pretrained"]]
        if pre.empty or scratch.empty:
            continue
        paired = pd.merge(pre, scratch, on="seed", suffixes=("_pre", "_scratch"))
        diff = paired["value_pre"] - paired["value_scratch"]
        gain_mean = diff.mean() if len(diff) else pre["value"].mean() - scratch["value"].mean()
        rows.append(
            {
                **dict(zip(KEYS, key)),
                "metric": g["metric"].iloc[0],
                "pretrain": ", ".join(sorted(set(pre["source_task"].dropna()))),
                "scratch_mean": scratch["value"].mean(),
                "scratch_std": scratch["value"].std(),
                "n_scratch": len(scratch),
                "pre_mean": pre["value"].mean(),
                "pre_std": pre["value"].std(),
                "n_pre": len(pre),
                "gain_mean": gain_mean,
                "gain_std": diff.std() if len(diff) > 1 else math.nan,
                "n_pairs": len(diff),
            }
        )
    out = pd.DataFrame(rows)
    if out.empty:
        return out
    rank = out.apply(lambda r: (r["task"], r["source"], arch_rank(r["arch"]), r["fraction"]), axis=1)
    return out.iloc[sorted(range(len(out)), key=lambda i: rank.iloc[i])].reset_index(drop=True)


def table(g: pd.DataFrame, task: str) -> pd.DataFrame:
    part = g[g["task"] == task]
    metric = part["metric"].iloc[0]
    out = row_heads(part)
    out["Setting"] = [f"train_fraction={f:g}" for f in part["fraction"]]
    out["Pre-trained on"] = part["pretrain"]
    out["n"] = [f"{a}/{b}" for a, b in zip(part["n_scratch"], part["n_pre"])]
    out[f"test/{metric} scratch"] = [pm(m, s) for m, s in zip(part["scratch_mean"], part["scratch_std"])]
    out[f"test/{metric} pre-trained"] = [pm(m, s) for m, s in zip(part["pre_mean"], part["pre_std"])]
    out[f"test/{metric} gain"] = [
        ("+" if m >= 0 else "") + pm(m, s) for m, s in zip(part["gain_mean"], part["gain_std"])
    ]
    return out.reset_index(drop=True)


def sections(df: pd.DataFrame, records: list[dict]) -> list[tuple[str, str, pd.DataFrame]]:
    """(heading, note, table) per task with pre-trained runs."""
    g = gains(runs(df, records))
    if g.empty:
        return []
    note = (
        "pre-trained (init_from, weights loaded) vs scratch (same task, arch and train fraction); gain = "
        "pre-trained − scratch, paired by seed, mean ± std over seeds; n = scratch/pre-trained runs"
    )
    return [(f"{task}: gain from pre-training", note, table(g, task)) for task in sorted(g["task"].unique())]


def figures(df: pd.DataFrame, records: list[dict]) -> dict:
    """Bar chart per task: the gain per architecture (error bar: std over seeds), one bar per train fraction."""
    import matplotlib.pyplot as plt

    g = gains(runs(df, records))
    out = {}
    for task, part in g.groupby("task") if not g.empty else []:
        archs = [a for a in ARCH_ORDER if a in set(part["arch"])] + sorted(set(part["arch"]) - set(ARCH_ORDER))
        fractions = sorted(part["fraction"].unique())
        fig, ax = plt.subplots(figsize=(1.3 * len(archs) + 2.5, 3.6))
        width = 0.8 / len(fractions)
        for i, f in enumerate(fractions):
            sel = part[part["fraction"] == f].groupby("arch")[["gain_mean", "gain_std"]].mean()
            x = [j + (i - (len(fractions) - 1) / 2) * width for j in range(len(archs))]
            ax.bar(
                x,
                [sel["gain_mean"].get(a, math.nan) for a in archs],
                width,
                yerr=[sel["gain_std"].get(a, math.nan) for a in archs],
                capsize=3,
                label=f"train_fraction={f:g}",
            )
        ax.axhline(0, color="#444", lw=0.8)
        ax.set_xticks(range(len(archs)), archs)
        ax.set_ylabel(f"test {part['metric'].iloc[0]}: pre-trained − scratch")
        ax.set_title(f"{task}: gain from pre-training (mean ± std over seeds)")
        ax.legend(fontsize=8)
        out[f"pretraining_gain_{task}"] = fig
    return out
