"""Find run records (``summary.json``) under folders and load them into one pandas table, one row per run.

Only the run folders are read. A folder that is not a usable archbench record — bad JSON, a foreign JSON file,
missing keys, or a run folder without a summary (still running, or killed hard) — is skipped with one
warning line and counted.
"""
from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from harness import records

log = logging.getLogger("reports")

SUMMARY, METRICS = "summary.json", "metrics.jsonl"
REQUIRED = {"status": str, "arch": str, "task": str, "seed": int, "metrics": dict, "speed": dict}
STATUSES = ("completed", "diverged", "failed", "interrupted")
RUN_MARKERS = ("metrics.jsonl", "checkpoint.pt")  # a folder with one of these but no summary is a partial run


@dataclass
class Records:
    """The loaded runs (summary dicts, each with ``_dir``: its folder) and the folders skipped, with why."""

    runs: list[dict] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)

    def skip(self, path: Path, why: str) -> None:
        self.skipped.append((str(path), why))
        log.warning("skipped %s: %s", path, why)


def check(summary) -> str | None:
    """Why ``summary`` is not a usable archbench record, or None."""
    if not isinstance(summary, dict):
        return f"not an archbench record (a JSON {type(summary).__name__}, not an object)"
    missing = [k for k in REQUIRED if k not in summary]
    if missing:
        return f"not an archbench record (missing keys: {', '.join(missing)})"
    wrong = [k for k, t in REQUIRED.items() if not isinstance(summary[k], t) or isinstance(summary[k], bool)]
    if wrong:
        return f"malformed record (wrong type for: {', '.join(wrong)})"
    if summary["status"] not in STATUSES:
        return f"unknown status {summary['status']!r}"
    return None


def find_records(dirs: list[str | Path]) -> Records:
    """Every ``summary.json`` below ``dirs`` (recursively), checked; partial run folders are reported."""
    rec = Records()
    seen: set[Path] = set()
    for root in map(Path, dirs):
        if not root.exists():
            rec.skip(root, "no such folder")
            continue
        for path in sorted(root.rglob(SUMMARY)):
            if path.resolve() in seen:
                continue
            seen.add(path.resolve())
            try:
                summary = json.loads(path.read_text())
            except (OSError, UnicodeDecodeError, ValueError) as e:
                rec.skip(path, f"bad JSON ({type(e).__name__}: {str(e)[:80]})")
                continue
            why = check(summary)
            if why:
                rec.skip(path, why)
                continue
            summary["_dir"], summary["_source"] = str(path.parent), str(root)
            rec.runs.append(summary)
        for marker in RUN_MARKERS:
            for path in sorted(root.rglob(marker)):
                folder = path.parent
                if not (folder / SUMMARY).exists() and folder.resolve() not in seen:
                    seen.add(folder.resolve())
                    rec.skip(folder, f"partial run: {marker} but no {SUMMARY} (still running, or killed)")
    return rec


def number(v):
    """Numbers as they are; the strings ``nan``/``inf`` the run record writes for non-finite floats → floats."""
    if isinstance(v, str) and v.lower() in ("nan", "inf", "-inf", "infinity", "-infinity"):
        return float(v)
    return v


def flatten(d: dict) -> dict:
    """Nested dict → ``a.b.c`` keys, scalars only (lists stay in the records, not in the table)."""
    return {k: number(v) for k, v in records.flatten(d).items() if v is None or isinstance(v, (str, int, float, bool))}


def main_metric(summary: dict) -> tuple[str, float | None]:
    """The task's main metric name and its test value (``metrics["test/<main>"]``)."""
    name = (summary.get("task_info") or {}).get("main_metric") or "acc"
    value = number(summary["metrics"].get(f"test/{name}"))
    return name, value if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def to_frame(runs: list[dict]) -> pd.DataFrame:
    """One row per run: a few named columns first, then every scalar of the record, flattened."""
    rows = []
    for s in runs:
        name, value = main_metric(s)
        row = {"path": s["_dir"], "source": s.get("_source", ""), "status": s["status"], "task": s["task"], "arch": s["arch"], "seed": s["seed"],
               "main_metric": name, "main_value": value, "main_direction": metric_direction(s, name)}
        row.update(flatten({k: v for k, v in s.items() if k not in row and not k.startswith("_")}))
        rows.append(row)
    return pd.DataFrame(rows)


def metric_direction(summary: dict, metric: str) -> str:
    """``max`` (higher is better) or ``min``: as the task declared it (``task_info.directions``); records written
    before tasks declared directions fall back to the name (losses and perplexities are lower-is-better)."""
    key = metric.split("/", 1)[-1]
    declared = ((summary.get("task_info") or {}).get("directions") or {}).get(key)
    if declared in ("max", "min"):
        return declared
    return "min" if "loss" in key or "perplexity" in key else "max"


def is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def metrics_lines(run_dir: str | Path) -> list[dict]:
    """The run's ``metrics.jsonl`` lines (a line cut by a crash is skipped)."""
    path = Path(run_dir) / METRICS
    out = []
    if path.exists():
        for raw in path.read_text().splitlines():
            try:
                line = json.loads(raw)
            except ValueError:
                continue
            if isinstance(line, dict):
                out.append(line)
    return out
