"""Find run records (``summary.json``) under folders and load them into one pandas table, one row per run.

Only the run folders are read. A folder that is not a usable archbench record — bad JSON, a foreign JSON file,
missing keys, or a run folder without a summary (still running, or killed hard) — is skipped with one
warning line and counted; so is a folder that cannot be read, and a second link to a folder already read.
Symbolic links to folders are followed (once: loops are cut).
"""

from __future__ import annotations

import functools
import json
import logging
import math
import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from core import record as records
from core.errors import cut
from core.record import (
    RECORD_VERSION,
    RUN_MARKERS,
    SCHEMA,
    STATUSES,
    SUMMARY,
    MetricsLog,
    record_direction,
    upgrade,
)

log = logging.getLogger("reports")

#: what reading a damaged ``.npz`` (truncated, not a zip, a missing member) raises
NPZ_ERRORS = (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile)


def read_npz(path: Path) -> dict | None:
    """The arrays of ``path`` (read with ``allow_pickle=False``); None, with one warning naming the file, when it
    is damaged (a truncated ``attention.npz`` of a completed run is skipped, as a corrupt summary is)."""
    import numpy as np

    try:
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except NPZ_ERRORS as e:
        log.warning("skipped %s: not a readable .npz (%s: %s)", path, type(e).__name__, e)
        return None


REQUIRED = {"status": str, "arch": str, "task": str, "seed": int, "metrics": dict, "speed": dict}


@dataclass
class Records:
    """The loaded runs (summary dicts, each with ``_dir``: its folder) and the folders skipped, with why."""

    runs: list[dict] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)

    def skip(self, path: Path, why: str) -> None:
        self.skipped.append((str(path), why))
        log.warning("skipped %s: %s", path, why)


@functools.cache
def validators() -> tuple:
    """JSON-schema validators of a record: the current version's (``core/summary.schema.json``), and for older
    records (read through :func:`core.record.upgrade`) the same types without the keys they may lack."""
    import jsonschema

    schema = json.loads(SCHEMA.read_text())

    def lenient(node):
        if isinstance(node, dict):
            return {k: lenient(v) for k, v in node.items() if k != "required"}
        return [lenient(v) for v in node] if isinstance(node, list) else node

    old = {**lenient(schema), "properties": {**lenient(schema)["properties"], "record_version": {"const": 1}}}
    return jsonschema.Draft202012Validator(schema), jsonschema.Draft202012Validator(old)


def schema_problem(summary: dict, version: int) -> str | None:
    """The first place where ``summary`` breaks the record's schema, named by its field: ``metrics.test/acc: 'x'
    is not valid …``; None when it holds."""
    current, old = validators()
    error = next(iter(sorted((current if version == RECORD_VERSION else old).iter_errors(summary), key=str)), None)
    if error is None:
        return None
    where = ".".join(map(str, error.absolute_path)) or "the record"
    return f"malformed record ({where}: {cut(error.message, 120)})"


def check(summary) -> str | None:
    """Why ``summary`` is not a usable archbench record, or None: the keys every version has, with their types,
    then the whole record against the schema (the version's keys and every value's type), then its seed against
    its config's seed (a relabelled copy of another seed's run is not a replicate)."""
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
    version = summary.get("record_version", 1)
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        return f"malformed record (record_version {version!r})"
    if version > RECORD_VERSION:
        return f"record_version {version} is newer than this archbench reads ({RECORD_VERSION}); update archbench"
    problem = schema_problem(summary, version)
    if problem:
        return problem
    config_seed = summary["config"].get("seed") if isinstance(summary.get("config"), dict) else None
    if config_seed is not None and config_seed != summary["seed"]:
        return (
            f"malformed record (seed: {summary['seed']!r} but the run's config.seed is {config_seed!r}; "
            "a record relabelled with another seed is not a replicate)"
        )
    return None


def copy_key(summary: dict) -> tuple | None:
    """What a copy of a run under another seed shares with it: task, arch, setting, the metrics bit for bit (among
    them at least one value a second seed would not reproduce: not 0 or 1) and the wall-clock time to the last
    digit (no two runs take the same time). None when the record cannot tell (no metrics, no wall time)."""
    metrics, wall = summary["metrics"], summary.get("wall_s")
    if not metrics or wall is None or not any(isinstance(v, float) and v not in (0.0, 1.0) for v in metrics.values()):
        return None
    setting = records.setting_id(summary.get("config") or {})
    return summary["task"], summary["arch"], setting, wall, json.dumps(metrics, sort_keys=True, default=str)


def drop_copies(rec: Records) -> None:
    """Runs whose metrics are bit-identical to an earlier run's of the same setting (a copied folder relabelled
    with another seed) are skipped with one warning naming the earlier run: counted once, as the same seed is."""
    kept: list[dict] = []
    first: dict[tuple, dict] = {}
    for run in rec.runs:
        key = copy_key(run)
        twin = first.get(key) if key is not None else None
        if twin is None or twin["seed"] == run["seed"]:  # a copy under its own seed: the tables count it once
            kept.append(run)
            if key is not None:
                first.setdefault(key, run)
            continue
        rec.skip(
            Path(run["_dir"]) / SUMMARY,
            f"metrics bit-identical to {twin['_dir']} (seed {twin['seed']}): a copy of one run, counted once",
        )
    rec.runs[:] = kept


def folders(root: Path, rec: Records, seen: dict[str, Path]):
    """(folder, file names) for every folder below ``root``, in sorted order, following symbolic links once;
    unreadable folders and second links to a folder already seen are skipped with a warning."""

    def unreadable(e: OSError):
        rec.skip(Path(e.filename), f"unreadable folder ({e.strerror})")

    for folder, dirs, files in os.walk(root, onerror=unreadable, followlinks=True):
        real = os.path.realpath(folder)
        if real in seen:
            rec.skip(Path(folder), f"the same folder as {seen[real]} (a symbolic link), read once")
            dirs[:] = []
            continue
        seen[real] = Path(folder)
        dirs.sort()
        yield Path(folder), set(files)


def find_records(dirs: list[str | Path]) -> Records:
    """Every ``summary.json`` below ``dirs`` (recursively), checked; partial run folders are reported."""
    rec = Records()
    seen: dict[str, Path] = {}
    for root in map(Path, dirs):
        if not root.is_dir():
            rec.skip(root, "no such folder" if not root.exists() else "not a folder")
            continue
        for folder, files in folders(root, rec, seen):
            if SUMMARY not in files:
                marker = next((m for m in RUN_MARKERS if m in files), None)
                if marker:
                    rec.skip(folder, f"partial run: {marker} but no {SUMMARY} (still running, or killed)")
                continue
            path = folder / SUMMARY
            try:
                summary = json.loads(path.read_text())
            except OSError as e:
                rec.skip(path, f"unreadable ({type(e).__name__}: {e.strerror})")
                continue
            except (UnicodeDecodeError, ValueError) as e:
                rec.skip(path, f"bad JSON ({type(e).__name__}: {str(e)[:80]})")
                continue
            why = check(summary)
            if why:
                rec.skip(path, why)
                continue
            summary = upgrade(summary)  # an older record read as the current version
            summary["_dir"], summary["_source"] = str(folder), str(root)
            rec.runs.append(summary)
    drop_copies(rec)
    return rec


#: statuses of runs that never finished: a report or study names them apart and never counts them among its runs
UNFINISHED = ("failed", "interrupted")


def split_unfinished(runs: list[dict]) -> tuple[list[dict], list[dict]]:
    """(runs that finished — completed or diverged —, runs that failed or were interrupted). For the study pages:
    count the first, name the second (``_dir``, ``status``, ``error``)."""
    done = [r for r in runs if r.get("status") not in UNFINISHED]
    return done, [r for r in runs if r.get("status") in UNFINISHED]


def number(v):
    """Numbers as they are; the strings ``nan``/``inf`` the run record writes for non-finite floats → floats."""
    if isinstance(v, str) and v.lower() in ("nan", "inf", "-inf", "infinity", "-infinity"):
        return float(v)
    return v


def flatten(d: dict) -> dict:
    """Nested dict → ``a.b.c`` keys, scalars only (lists stay in the records, not in the table)."""
    return {k: number(v) for k, v in records.flatten(d).items() if v is None or isinstance(v, (str, int, float, bool))}


def main_metric(summary: dict) -> tuple[str, float | None]:
    """The task's main metric name and its test value (``metrics["test/<main>"]``; NaN/inf kept as floats)."""
    name = (summary.get("task_info") or {}).get("main_metric") or "acc"
    value = number(summary["metrics"].get(f"test/{name}"))
    return name, value if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def value_kind(value) -> str:
    """'' for a finite number, else why it cannot be averaged: ``missing``, ``NaN`` or ``inf``."""
    if value is None:
        return "missing"
    if math.isnan(value):
        return "NaN"
    return "" if math.isfinite(value) else "inf"


def to_frame(runs: list[dict]) -> pd.DataFrame:
    """One row per run: a few named columns first, then every scalar of the record, flattened."""
    rows = []
    for s in runs:
        name, value = main_metric(s)
        row = {
            "path": s["_dir"],
            "source": s.get("_source", ""),
            "status": s["status"],
            "task": s["task"],
            "arch": s["arch"],
            "seed": s["seed"],
            "main_metric": name,
            "main_value": value,
            "main_kind": value_kind(value),
            "main_direction": record_direction(s, name),
        }
        row.update(flatten({k: v for k, v in s.items() if k not in row and not k.startswith("_")}))
        rows.append(row)
    return pd.DataFrame(rows)


def is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def metrics_lines(run_dir: str | Path) -> list[dict]:
    """The run's ``metrics.jsonl`` lines (a line cut by a crash is skipped)."""
    return MetricsLog(run_dir).lines()
