"""Aggregate completed runs over seeds (mean ± std, n) and render the tables as Markdown and HTML.

Runs are grouped by source folder (a RUN_DIR argument), task, architecture and *setting*: the config keys that
differ between those runs (e.g. ``task.delay=50``), so that only seeds are ever averaged together. Tables show
at most ``SHOWN_KEYS`` keys of a setting (the most varied first) and a short hash when there are more.
"""

from __future__ import annotations

import hashlib
import html
import logging
import math
import re
from collections import Counter

import numpy as np
import pandas as pd

from core import registry
from core.record import REPLICATE_KEYS, REPLICATE_PREFIXES

log = logging.getLogger("reports")

# init_from names each seed's own source run (as run_dir names the run); init_weights and the record's init tell
# pre-trained runs apart: the source's task and setting (a hash of its config, budget included, less its seed
# and folder; not the steps it ran, which differ by seed when a run stops at its target)
IGNORED_KEYS, IGNORED_PREFIXES = REPLICATE_KEYS, REPLICATE_PREFIXES
SOURCE_COLUMNS = ("init.source_task", "init.source_setting")
SHOWN_KEYS = 4  # the four keys experiment=tune searches fit

# (column in the runs table, heading, digits)
NUMBERS = [
    ("params", "Params", 0),
    ("speed.train_samples_per_s", "Train samples/s", 0),
    ("speed.train_tokens_per_s", "Train tokens/s", 0),
    ("speed.step_ms", "ms/step", 1),
    ("speed.eval_samples_per_s", "Eval samples/s", 0),
    ("speed.peak_mem_mb", "Peak MB", 1),
    ("speed.mfu", "MFU", 3),  # model FLOPs utilisation: CUDA runs (or a given trainer.peak_tflops) only
]
OPTIONAL = {"speed.mfu"}  # a column shown only when some run of the table has it (older records lack it)


# -- grouping ---------------------------------------------------------------------------------------------
def setting_keys(runs: pd.DataFrame) -> list[str]:
    """Config columns (without the ``config.`` prefix) whose value differs between ``runs``."""
    keys = []
    budget_width = None
    if "config.budget.width_key" in runs and any(
        c in runs and runs[c].notna().any() for c in ("config.budget.params", "config.budget.width")
    ):
        budget_width = f"arch.{runs['config.budget.width_key'].dropna().iloc[0]}"  # an outcome of the budget
    for col in runs.columns:
        if not col.startswith("config.") and col not in SOURCE_COLUMNS:
            continue
        key = col.removeprefix("config.")
        if key in IGNORED_KEYS or key.startswith(IGNORED_PREFIXES) or key == budget_width:
            continue
        shown = runs[col].map(show).nunique(dropna=False)
        if shown > 1:
            keys.append((-shown, key))
    return [k for _, k in sorted(keys)]


def with_settings(df: pd.DataFrame) -> pd.DataFrame:
    """Add ``setting`` (e.g. ``task.delay=50``; empty when the runs of a source/task/arch share one setting)."""
    df = df.copy()
    df["setting"] = ""
    for _, idx in df.groupby(["source", "task", "arch"]).groups.items():
        part = df.loc[idx]
        keys = setting_keys(part)
        if keys:
            df.loc[idx, "setting"] = part.apply(lambda r, keys=keys: label([(k, r[column(k)]) for k in keys]), axis=1)
    return df


def column(key: str) -> str:
    """The runs table's column of a setting key (``task.delay`` → ``config.task.delay``)."""
    return key if key in SOURCE_COLUMNS else f"config.{key}"


def label(items: list[tuple[str, object]]) -> str:
    """``k=v, …`` of the first SHOWN_KEYS items, floats to 4 significant digits, then ``+n`` and a ``#hash`` of
    the exact values whenever something is left out or rounded, so that different settings stay apart."""
    text = [f"{k}={show(v)}" for k, v in items]
    short = [f"{k}={v:.4g}" if isinstance(v, float) and not v.is_integer() else t for (k, v), t in zip(items, text)]
    if len(text) <= SHOWN_KEYS and short == text:
        return ", ".join(text)
    digest = hashlib.sha1("|".join(text).encode()).hexdigest()[:4]
    more = f", +{len(text) - SHOWN_KEYS}" if len(text) > SHOWN_KEYS else ""
    return ", ".join(short[:SHOWN_KEYS]) + f"{more} #{digest}"


ARCH_ORDER = registry.names("arch")  # the registry (conf/arch/*.yaml); unknown archs of older runs go last


def natural(text: str) -> tuple:
    """Sort key that puts ``task.delay=5`` before ``task.delay=20``."""
    return tuple(int(t) if t.isdigit() else t for t in re.split(r"(\d+)", str(text)))


def arch_rank(arch: str) -> tuple:
    return (ARCH_ORDER.index(arch), "") if arch in ARCH_ORDER else (len(ARCH_ORDER), arch)


def show(v) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "null"
    if isinstance(v, str) and v.endswith("/tokenizer.json"):  # each seed's own source run (init_from)
        return "saved tokenizer.json"
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def finite(values) -> pd.Series:
    """The finite numbers of a column (NaN, inf and missing values are never averaged)."""
    v = pd.to_numeric(pd.Series(values), errors="coerce").astype(float)
    return v[np.isfinite(v)]


def not_averaged(g: pd.DataFrame) -> str:
    """How many runs of ``g`` have a main value that could not be averaged, by kind: ``1 NaN, 2 missing``."""
    counts = Counter(k for k in g.get("main_kind", pd.Series(dtype=str)).fillna("missing") if k)
    return ", ".join(f"{c} {k}" for k, c in sorted(counts.items()))


def distinct_seeds(g: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """One run per seed (the first folder in sorted order: seeds are the replicates, a copy of a run is not
    another one), and which seeds were found more than once, naming their folders (one warning each)."""
    g = g.sort_values("path", kind="stable") if "path" in g else g
    dup = g[g["seed"].duplicated(keep=False)]
    said = []
    for seed, d in dup.groupby("seed", sort=True):
        where = ", ".join(map(str, d["path"])) if "path" in d else f"{len(d)} runs"
        said.append(f"seed {seed} ×{len(d)} ({where})")
        log.warning(
            "seed %s of %s on %s found %d times, counted once: %s",
            seed,
            d["arch"].iloc[0],
            d["task"].iloc[0],
            len(d),
            where,
        )
    return g.drop_duplicates("seed"), "; ".join(said)


def summarize(df: pd.DataFrame) -> pd.DataFrame:
    """Completed runs → one row per (task, arch, setting): n (main values averaged, one per distinct seed), runs
    (distinct seeds), the seeds found more than once and where, the values left out
    (NaN/inf/missing), mean and std of the main metric and of the speed numbers (finite values only), and steps
    to target (mean over the runs that reached it, and how many did)."""
    done = with_settings(df[df["status"] == "completed"])
    rows = []
    for (source, task, arch, setting), g in done.groupby(["source", "task", "arch", "setting"], sort=True):
        g, duplicated = distinct_seeds(g)
        row = {
            "source": source,
            "task": task,
            "arch": arch,
            "setting": setting,
            "n": len(finite(g["main_value"])),
            "runs": len(g),
            "not_averaged": not_averaged(g),
            "duplicated": duplicated,
            "main_metric": g["main_metric"].iloc[0],
            "main_direction": g["main_direction"].iloc[0],
        }
        for col, *_ in [("main_value",)] + NUMBERS:
            values = finite(g[col]) if col in g else pd.Series(dtype=float)
            row[f"{col}_mean"], row[f"{col}_std"] = values.mean(), values.std()
        steps = pd.to_numeric(g.get("long_range.steps_to_target", pd.Series(dtype=float)), errors="coerce").dropna()
        row["steps_to_target_mean"], row["steps_to_target_std"] = steps.mean(), steps.std()
        row["reached"] = len(steps)
        rows.append(row)
    return order(pd.DataFrame(rows))


def order(table: pd.DataFrame) -> pd.DataFrame:
    """Rows by task, then arch in registry order (archs no longer in conf/arch after), then setting."""
    if table.empty:
        return table
    key = table.apply(lambda r: (r["task"], r["source"], arch_rank(r["arch"]), natural(r["setting"])), axis=1)
    return table.iloc[sorted(range(len(table)), key=lambda i: key.iloc[i])].reset_index(drop=True)


def long_range(df: pd.DataFrame) -> pd.DataFrame:
    """Completed runs of tasks that record a delay (copy_long) → one row per (task, arch, other setting,
    delay): test main metric and steps to solve, mean ± std and n."""
    if "task_info.delay" not in df:
        return pd.DataFrame()
    runs = with_settings(df[(df["status"] == "completed") & df["task_info.delay"].notna()])
    runs["setting"] = runs["setting"].map(
        lambda s: ", ".join(p for p in s.split(", ") if p and not p.startswith("task.delay="))
    )
    rows = []
    for (source, task, arch, setting, delay), g in runs.groupby(
        ["source", "task", "arch", "setting", "task_info.delay"]
    ):
        g, duplicated = distinct_seeds(g)
        steps = pd.to_numeric(g.get("long_range.steps_to_target", pd.Series(dtype=float)), errors="coerce").dropna()
        value = finite(g["main_value"])
        rows.append(
            {
                "source": source,
                "task": task,
                "arch": arch,
                "setting": setting,
                "delay": int(delay),
                "n": len(value),
                "runs": len(g),
                "not_averaged": not_averaged(g),
                "duplicated": duplicated,
                "main_metric": g["main_metric"].iloc[0],
                "main_direction": g["main_direction"].iloc[0],
                "main_value_mean": value.mean(),
                "main_value_std": value.std(),
                "steps_to_target_mean": steps.mean(),
                "steps_to_target_std": steps.std(),
                "reached": len(steps),
            }
        )
    return pd.DataFrame(rows)


# -- formatting -------------------------------------------------------------------------------------------
def fmt(v, digits: int = 3) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    return f"{v:,.{digits}f}"


def pm(mean, std, digits: int = 3) -> str:
    """``mean ± std`` (just the mean when there is one run)."""
    if mean is None or (isinstance(mean, float) and math.isnan(mean)):
        return "–"
    return fmt(mean, digits) if std is None or math.isnan(std) else f"{fmt(mean, digits)} ± {fmt(std, digits)}"


def steps_cell(row) -> str:
    reached = f"({row['reached']}/{row['runs']})"
    return (
        f"{pm(row['steps_to_target_mean'], row['steps_to_target_std'], 0)} {reached}"
        if row["reached"]
        else f"– {reached}"
    )


def row_heads(part: pd.DataFrame) -> pd.DataFrame:
    """The first columns of a display table: Arch, with Source before it when the rows come from several."""
    out = pd.DataFrame({"Arch": part["arch"]})
    if part["source"].nunique() > 1:
        out.insert(0, "Source", part["source"])
    return out


def arrow(part: pd.DataFrame) -> str:
    """↑ when higher is better for the main metric of these rows, ↓ when lower is."""
    return "↓" if part["main_direction"].iloc[0] == "min" else "↑"


def main_table(summary: pd.DataFrame, task: str) -> pd.DataFrame:
    """The display table of one task: one row per arch (and setting)."""
    part = summary[summary["task"] == task]
    metric = part["main_metric"].iloc[0]
    out = row_heads(part)
    if part["setting"].astype(bool).any():
        out["Setting"] = part["setting"]
    out["n"] = part["n"]
    if part["not_averaged"].astype(bool).any():
        out["Not averaged"] = part["not_averaged"]
    if part["duplicated"].astype(bool).any():
        out["Duplicated seeds (counted once)"] = part["duplicated"]
    out[f"test/{metric} {arrow(part)}"] = [pm(m, s) for m, s in zip(part["main_value_mean"], part["main_value_std"])]
    for col, head, digits in NUMBERS:
        if col in OPTIONAL and part[f"{col}_mean"].isna().all():
            continue
        out[head] = [pm(m, s, digits) for m, s in zip(part[f"{col}_mean"], part[f"{col}_std"])]
    out["Params"] = [fmt(m, 0) for m in part["params_mean"]]  # the same for every seed
    out["Steps to target (reached)"] = [steps_cell(r) for _, r in part.iterrows()]
    return out.reset_index(drop=True)


def long_range_tables(lr: pd.DataFrame, task: str) -> dict[str, pd.DataFrame]:
    """Two arch × delay tables for ``task``: test main metric, and steps to solve."""
    part = lr[lr["task"] == task].copy()
    metric = part["main_metric"].iloc[0]
    several = part["source"].nunique() > 1
    part["row"] = part.apply(
        lambda r: r["arch"] + "".join(f" ({x})" for x in (r["source"] if several else "", r["setting"]) if x), axis=1
    )
    cells = {
        f"test/{metric} {arrow(part)} by delay": part.apply(
            lambda r: (
                f"{pm(r['main_value_mean'], r['main_value_std'])} (n={r['n']}"
                + "".join(
                    f"; {x}" for x in (r["not_averaged"], r["duplicated"] and "duplicated: " + r["duplicated"]) if x
                )
                + ")"
            ),
            axis=1,
        ),
        "steps to solve by delay": part.apply(steps_cell, axis=1),
    }
    out = {}
    for title, values in cells.items():
        table = part.assign(cell=values).pivot(index="row", columns="delay", values="cell").fillna("")
        table = table.loc[
            sorted(table.index, key=lambda r: (natural(r.split(" ", 1)[1:]), arch_rank(r.split(" ")[0]), natural(r)))
        ]
        table.columns = [f"delay {c}" for c in table.columns]
        out[title] = table.rename_axis("Arch").reset_index()
    return out


def not_completed(df: pd.DataFrame) -> pd.DataFrame:
    cols = [c for c in ("status", "task", "arch", "seed", "step", "error", "path") if c in df]
    return df.loc[df["status"] != "completed", cols].reset_index(drop=True)


def to_markdown(table: pd.DataFrame) -> str:
    def cell(v) -> str:
        return str(v).replace("|", "\\|").replace("\n", " ")

    head = "| " + " | ".join(map(cell, table.columns)) + " |"
    rule = "|" + "|".join("---" for _ in table.columns) + "|"
    body = ["| " + " | ".join(cell(v) for v in row) + " |" for row in table.itertuples(index=False)]
    return "\n".join([head, rule, *body])


def to_html(table: pd.DataFrame) -> str:
    return table.to_html(index=False, escape=True, border=0, classes="t", na_rep="")


def heading_html(text: str, level: int = 2) -> str:
    return f"<h{level}>{html.escape(text)}</h{level}>"
