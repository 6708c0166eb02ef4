"""Seaborn figures of the runs; each function returns {name: Figure} (nothing when the data is not there)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import matplotlib.ticker
import numpy as np
import pandas as pd
import seaborn as sns

from core.names import label
from core.record import ATTENTION_FILE
from reports.load import is_number, metrics_lines, read_npz
from reports.tables import ARCH_ORDER, natural, with_settings

MAX_PANELS = 6  # settings (e.g. delays) shown side by side; more are left out with a note in the title


#: the columns whose user-given values figures show (legend entries, panel and figure titles)
SHOWN = ("arch", "task", "setting")


def labelled(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` with every user-given name a figure shows passed through :func:`core.names.label` (bounded, ``$``
    escaped, no leading ``_``): a 300-character or ``$``-holding architecture name must not break a figure."""
    return df.assign(**{c: df[c].map(lambda v: v if pd.isna(v) else label(v)) for c in SHOWN if c in df})


def archs(df: pd.DataFrame) -> list[str]:
    present = list(dict.fromkeys(df["arch"]))
    return [a for a in ARCH_ORDER if a in present] + sorted(a for a in present if a not in ARCH_ORDER)


def by_arch(plot, data: pd.DataFrame, x: str, y: str, **kwargs):
    """``plot`` (a seaborn function) of ``y`` against ``x`` with one colour per architecture, in the report's order
    (:func:`archs`), and mean ± sd over seeds unless ``errorbar`` says otherwise."""
    return plot(data, x=x, y=y, hue="arch", hue_order=archs(data), **{"errorbar": "sd", **kwargs})


def seed_lines(data: pd.DataFrame, x: str, y: str, ax, **kwargs) -> None:
    """Lines by arch on ``ax``, a marker at each measured ``x``, the line style by source folder when several."""
    by_arch(sns.lineplot, data, x, y, marker="o", ax=ax, style=sources(data), **kwargs)


def facets(plot, data: pd.DataFrame, x: str, y: str, *, height: float, **kwargs):
    """A figure-level seaborn plot (``relplot``, ``catplot``) by arch, its panels 1.3 times as wide as high."""
    return by_arch(plot, data, x, y, height=height, aspect=1.3, **kwargs)


def sources(df: pd.DataFrame) -> str | None:
    """Line style by source folder when runs come from several (e.g. two sweeps)."""
    return "source" if df["source"].nunique() > 1 else None


def log_x(ax, values) -> None:
    """Log x axis labelled at the values themselves (delays, lengths), without minor labels."""
    ticks = sorted({int(v) for v in values})
    ax.set_xscale("log")
    ax.set_xticks(ticks, labels=[str(t) for t in ticks])
    ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())


def completed(df: pd.DataFrame) -> pd.DataFrame:
    return df[df["status"] == "completed"]


def accuracy_vs_delay(df: pd.DataFrame) -> dict:
    """Test main metric vs copy delay, per arch (mean and sd over seeds)."""
    out = {}
    if "task_info.delay" not in df:
        return out
    runs = completed(df).dropna(subset=["task_info.delay", "main_value"])
    runs = runs[np.isfinite(pd.to_numeric(runs["main_value"], errors="coerce").astype(float))]  # as the tables
    for task, g in runs.groupby("task"):
        if g["task_info.delay"].nunique() < 2:
            continue
        fig, ax = plt.subplots(figsize=(7, 4.2))
        seed_lines(g, "task_info.delay", "main_value", ax)
        ax.set(
            xlabel="delay (steps between a symbol and its copy)",
            ylabel=f"test {g['main_metric'].iloc[0]}",
            title=f"{task}: long-range accuracy vs delay (mean ± sd over seeds)",
        )
        log_x(ax, g["task_info.delay"])
        sns.move_legend(ax, "upper left", bbox_to_anchor=(1.01, 1))
        out[f"accuracy_vs_delay_{task}"] = fig
    return out


def speed_vs_length(df: pd.DataFrame) -> dict:
    """Train tokens/s and peak memory vs sequence length, per arch (log–log)."""
    if "task_info.seq_len" not in df:
        return {}
    runs = completed(df).dropna(subset=["task_info.seq_len"])
    if runs["task_info.seq_len"].nunique() < 2:
        return {}
    panels = [
        (c, label)
        for c, label in (
            ("speed.train_tokens_per_s", "train tokens/s"),
            ("speed.step_ms", "ms per step"),
            ("speed.peak_mem_mb", "peak memory (MB)"),
        )
        if c in runs
    ]
    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 4.2), squeeze=False)
    kind = (
        runs["speed.peak_mem_kind"].dropna().iloc[0]
        if "speed.peak_mem_kind" in runs and runs["speed.peak_mem_kind"].notna().any()
        else ""
    )
    for ax, (col, what) in zip(axes[0], panels):
        seed_lines(runs, "task_info.seq_len", col, ax, legend=ax is axes[0][-1])
        ax.set(yscale="log", xlabel="sequence length", ylabel=what)
        log_x(ax, runs["task_info.seq_len"])
    sns.move_legend(axes[0][-1], "upper left", bbox_to_anchor=(1.02, 1))
    fig.suptitle(f"Throughput and memory vs sequence length ({kind or 'memory kind unknown'})")
    fig.tight_layout()
    return {"speed_vs_length": fig}


FEW_POINTS = 20  # evaluations per curve up to which each is drawn as a marker


def settings_panels(g: pd.DataFrame) -> tuple[list[str], str]:
    settings = sorted(g["setting"].unique(), key=natural)
    note = f" (first {MAX_PANELS} of {len(settings)} settings)" if len(settings) > MAX_PANELS else ""
    return settings[:MAX_PANELS], note


def curve_group(r, several_sources: bool) -> str:
    """The panel a run's curve goes to: its full setting, and its source folder when the report has several, so
    that different runs (another sweep, another step budget) are never averaged into one line."""
    setting = r["setting"] or ""
    if several_sources:
        name = Path(str(r["source"])).name or str(r["source"])
        return f"{name}: {setting}" if setting else name
    return setting or "all"


def training_curves(df: pd.DataFrame) -> dict:
    """Train loss and validation main metric vs step (from metrics.jsonl), per arch, per setting and source;
    seeds of the same arch, setting and source are averaged (mean ± sd)."""
    out = {}
    runs = labelled(with_settings(completed(df)))
    for task, g in runs.groupby("task"):
        metric = g["main_metric"].iloc[0]
        several = g["source"].nunique() > 1
        rows = []
        for _, r in g.iterrows():
            lines = metrics_lines(r["path"])
            # the train loss every trainer.log_every steps where the record has it, else the one of each evaluation
            train_split = "train_step" if any(ln.get("split") == "train_step" for ln in lines) else "train"
            for line in lines:
                value = None
                if line.get("split") == train_split:
                    panel, value = "train loss", (line.get("metrics") or {}).get("loss")
                elif line.get("split") == "val":
                    panel, value = f"val {metric}", (line.get("metrics") or {}).get(metric)
                if is_number(value) and is_number(line.get("step")):
                    rows.append(
                        {
                            "arch": r["arch"],
                            "setting": curve_group(r, several),
                            "run": r["path"],
                            "step": line["step"],
                            "panel": panel,
                            "value": value,
                        }
                    )
        data = pd.DataFrame(rows)
        if data.empty:
            continue
        data["setting"] = data["setting"].astype(str)
        settings, note = settings_panels(data)
        data = data[data["setting"].isin(settings)]
        few = data.groupby(["run", "panel"]).size().max() <= FEW_POINTS  # markers when a curve has few points
        grid = facets(
            sns.relplot,
            data,
            "step",
            "value",
            height=2.8,
            kind="line",
            row="panel",
            col="setting",
            col_order=settings,
            marker="o" if few else None,
            facet_kws={"sharey": "row", "margin_titles": True},
        )
        grid.set_titles(row_template="{row_name}", col_template="{col_name}")
        grid.figure.suptitle(f"{task}: training curves (mean ± sd over seeds){note}", y=1.02)
        out[f"training_curves_{task}"] = grid.figure
    return out


def grad_norm_vs_distance(df: pd.DataFrame, runs_by_path: dict[str, dict]) -> dict:
    """‖∂L_out/∂e_t‖ vs distance, at initialisation and at the end, per arch (log y)."""
    out = {}
    runs = labelled(with_settings(completed(df)))
    for task, g in runs.groupby("task"):
        rows = []
        for _, r in g.iterrows():
            curve = (runs_by_path[r["path"]].get("long_range") or {}).get("grad_norm_by_distance") or {}
            for when in ("init", "end"):
                for d, v in zip(curve.get("distance") or [], curve.get(when) or []):
                    if is_number(v) and v > 0:
                        rows.append(
                            {
                                "arch": r["arch"],
                                "setting": r["setting"] or "all",
                                "when": when,
                                "distance": d,
                                "grad norm": v,
                            }
                        )
        data = pd.DataFrame(rows)
        if data.empty:
            continue
        settings, note = settings_panels(data)
        data = data[data["setting"].isin(settings)]
        grid = facets(
            sns.relplot,
            data,
            "distance",
            "grad norm",
            height=3.2,
            kind="line",
            style="when",
            style_order=["init", "end"],
            col="setting",
            col_order=settings,
            col_wrap=min(3, len(settings)),
            errorbar=None,
            facet_kws={"sharex": False},
        )
        grid.set(yscale="log")
        grid.set_titles(col_template="{col_name}")
        grid.figure.suptitle(f"{task}: gradient norm at the input vs distance to the output{note}", y=1.03)
        out[f"grad_norm_vs_distance_{task}"] = grid.figure
    return out


def layer_similarity(df: pd.DataFrame, runs_by_path: dict[str, dict]) -> dict:
    """Linear CKA between consecutive layers, per arch (mean over runs)."""
    rows = []
    for _, r in completed(df).iterrows():
        lr = runs_by_path[r["path"]].get("long_range") or {}
        for i, (_pair, v) in enumerate(zip(lr.get("cka_pairs") or [], lr.get("cka") or [])):
            if is_number(v):
                rows.append({"task": r["task"], "arch": r["arch"], "layer step": i + 1, "CKA": v})
    data = pd.DataFrame(rows)
    if data.empty:
        return {}
    grid = facets(sns.catplot, data, "layer step", "CKA", height=3.2, kind="bar", col="task")
    grid.figure.suptitle("Similarity of consecutive layers (linear CKA; step 1 = embedding → first block)", y=1.04)
    return {"layer_similarity": grid.figure}


def attention_heatmaps(df: pd.DataFrame) -> dict:
    """Attention maps of one fixed example (``attention.npz``) per task and arch, from its run with the
    longest sequence (then the lowest seed); layers × heads, colours scaled per panel."""
    out = {}
    runs = labelled(with_settings(completed(df)))
    runs = runs[[(Path(p) / ATTENTION_FILE).exists() for p in runs["path"]]]
    if "task_info.seq_len" not in runs:
        runs = runs.assign(**{"task_info.seq_len": 0})
    for (task, arch), g in runs.groupby(["task", "arch"]):
        r = g.sort_values(["task_info.seq_len", "seed"], ascending=[False, True]).iloc[0]
        z = read_npz(Path(r["path"]) / ATTENTION_FILE)
        if z is None:  # damaged: warned about, no figure
            continue
        layers = [
            z[k].astype(np.float32)
            for k in sorted((k for k in z if k.startswith("layer") and k[5:].isdigit()), key=lambda k: int(k[5:]))
        ]
        if not layers:
            continue
        layers = layers[:4]
        heads = min(4, layers[0].shape[0])
        fig, axes = plt.subplots(len(layers), heads, figsize=(2.6 * heads + 0.6, 2.5 * len(layers)), squeeze=False)
        for i, w in enumerate(layers):
            for h in range(heads):
                ax = axes[i][h]
                ax.imshow(w[h], cmap="viridis", aspect="auto", interpolation="nearest")
                ax.set_title(f"layer {i} head {h}", fontsize=9)
                ax.set_xticks([]), ax.set_yticks([])
            axes[i][0].set_ylabel("query position")
        for h in range(heads):
            axes[-1][h].set_xlabel("key position")
        fig.suptitle(
            f"{task} / {arch}: attention of one example ({r['setting'] or 'default'}, seed {r['seed']}); "
            "colours per panel",
            fontsize=10,
        )
        fig.tight_layout()
        out[f"attention_{task}_{arch}"] = fig
    return out


def all_figures(df: pd.DataFrame, runs: list[dict]) -> dict:
    sns.set_theme(style="whitegrid", context="notebook")
    by_path = {r["_dir"]: r for r in runs}
    figs = {}
    for make in (accuracy_vs_delay, speed_vs_length, training_curves):
        figs.update(make(df))
    figs.update(grad_norm_vs_distance(df, by_path))
    figs.update(layer_similarity(df, by_path))
    figs.update(attention_heatmaps(df))
    return figs
