"""The run record's format: file names, statuses, and how ``summary.json`` and ``metrics.jsonl`` are written and read.

Torch-free, so the reports read records without loading the training stack.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

from core.errors import ConfigError
from core.files import atomic_write_bytes

SUMMARY, METRICS, CHECKPOINT = "summary.json", "metrics.jsonl", "checkpoint.pt"
RUN_MARKERS = (METRICS, CHECKPOINT)  # a folder with one of these but no summary is a partial run
STATUSES = ("completed", "diverged", "failed", "interrupted")
#: the probes' arrays beside the summary (``long_range`` names them)
ATTENTION_FILE, ATTENTION_INIT_FILE = "attention.npz", "attention_init.npz"
HIDDEN_FILE, HIDDEN_INIT_FILE = "hidden.npz", "hidden_init.npz"  # hidden_init: pooled states at initialisation
#: an ``experiment=tune`` study folder: the overrides it was started with, its trials, the best trial's overrides
SETTING, TRIALS, BEST = "setting.txt", "trials.csv", "best_overrides.txt"
LR_PRESWEEP = "lr"  # <sweep>/lr/: a preset sweep's learning-rate pre-sweep; reports leave its runs out of the evidence


#: the version of ``summary.json`` this code writes (``record_version``); a summary without one is version 1.
#: The keys of the current version: ``core/summary.schema.json``; older versions are read through :func:`upgrade`.
RECORD_VERSION = 2
SCHEMA = Path(__file__).with_name("summary.schema.json")


def metric_direction(directions: dict, metric: str) -> str | None:
    """``max`` (higher is better) or ``min``: the direction ``directions`` (a task's ``directions``, or a record's
    ``task_info.directions``) declares for ``metric`` (``val/<name>``, ``test/<name>`` or ``<name>``); None when
    it declares none."""
    declared = (directions or {}).get(metric.split("/", 1)[-1])
    return declared if declared in ("max", "min") else None


def name_direction(metric: str) -> str:
    """The direction a metric's name suggests (losses and perplexities are lower-is-better): what version-1
    records, written before tasks declared directions, are read with."""
    key = metric.split("/", 1)[-1]
    return "min" if "loss" in key or "perplexity" in key else "max"


def record_direction(summary: dict, metric: str) -> str:
    """The direction of ``metric`` in a run record: as its task declared it, else as the name suggests."""
    return metric_direction((summary.get("task_info") or {}).get("directions"), metric) or name_direction(metric)


def upgrade(summary: dict) -> dict:
    """A summary of any version read as the current one (a copy; ``summary`` is left as it is). Version 1 (no
    ``record_version``) is where the readers' guesses about older records live, and only here:

    * ``task_info`` missing or null → ``{}``;
    * no ``task_info.main_metric`` (written before tasks named one) → ``acc``;
    * metrics without a declared direction (written before tasks declared them) → by name
      (:func:`name_direction`);
    * no ``task_info.delay`` but a ``config.task.delay`` (copy_long before the task described itself) → that;
    * no ``long_range`` → ``{}``.

    A summary of a newer version than this code knows is returned unchanged (the readers check what they need).
    """
    version = summary.get("record_version", 1)
    if not isinstance(version, int) or isinstance(version, bool) or version >= RECORD_VERSION:
        return summary
    out = copy.deepcopy(summary)
    info = out["task_info"] = dict(out.get("task_info") or {})
    info.setdefault("main_metric", "acc")
    directions = info["directions"] = dict(info.get("directions") or {})
    for metric in out.get("metrics") or {}:
        key = metric.split("/", 1)[-1]
        if key not in directions:
            directions[key] = name_direction(key)
    delay = ((out.get("config") or {}).get("task") or {}).get("delay")
    if "delay" not in info and isinstance(delay, int) and not isinstance(delay, bool):
        info["delay"] = delay
    if not isinstance(out.get("long_range"), dict):
        out["long_range"] = {}
    out["record_version"] = RECORD_VERSION
    return out


@dataclass(kw_only=True)
class RunRecord:
    """``summary.json`` as a type: the trainer fills one and writes it (:meth:`write`); readers get one from
    :meth:`read` or :meth:`from_dict` (any version, upgraded). Its fields are the record's keys in the order they are
    written; ``core/summary.schema.json`` states the same keys and types (``tests/test_record.py`` checks them equal).
    The open sections (``speed``, ``long_range``, ``task_info``, ...) are dicts: tasks, architectures and probes
    add their own keys there. Keys of a newer or extended record are kept in ``extra`` and written after the rest."""

    record_version: int = RECORD_VERSION
    status: str  # completed | diverged | failed | interrupted
    error: str | None
    arch: str
    task: str
    seed: int
    params: int
    run_dir: str
    step: int
    stop_reason: str | None  # max_steps | target | time for a completed run, else its status
    selection: dict  # weights (last | best), metric, step: which weights the test scored
    metrics: dict  # val/<name>, test/<name>
    grad_norm: dict | None  # with trainer.grad_clip: what clipping did
    speed: dict
    long_range: dict  # the task's long-range figures (e.g. distance, acc_by_position) and the probes'
    task_info: dict  # the task's description (e.g. delay), main_metric, data_fingerprint, directions, spec
    optimizer: dict | None  # the weight-decay groups
    arch_info: dict
    init: dict | None  # what init_from loaded
    notes: list[str]
    budget: dict | None  # with budget.params / budget.width: the width the model was built with
    env: dict  # torch, python, platform, device, threads, git_commit, cpu_count, device_name, malloc
    wall_s: float
    config: dict  # the config as launched (resolved)
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "extra"}
        return {**out, **self.extra}

    @classmethod
    def from_dict(cls, summary: dict) -> RunRecord:
        """A summary of any version (upgraded, :func:`upgrade`); ValueError naming the keys it lacks."""
        d = upgrade(summary)
        names = [f.name for f in dataclasses.fields(cls) if f.name != "extra"]
        missing = [k for k in names if k not in d]
        if missing:
            raise ValueError(f"the record lacks {', '.join(missing)}")
        return cls(**{k: d[k] for k in names}, extra={k: v for k, v in d.items() if k not in names})

    def write(self, path: Path) -> None:
        write_json(path, self.to_dict())

    @classmethod
    def read(cls, path: Path) -> RunRecord | None:
        """``summary.json`` at ``path`` (None when there is none; ConfigError when it is not a record)."""
        summary = read_record(path)
        if summary is None:
            return None
        try:
            return cls.from_dict(summary)
        except ValueError as e:
            raise ConfigError(f"{path} is not a complete run record: {e}") from None


def _clean(x):
    """JSON-safe: tensors to numbers, NaN/inf to strings the reports can read back."""
    if isinstance(x, dict):
        return {str(k): _clean(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_clean(v) for v in x]
    if hasattr(x, "tolist") and not isinstance(x, (str, bytes)):  # a tensor or numpy value
        return _clean(x.tolist())
    if isinstance(x, float) and not math.isfinite(x):
        return str(x)
    return x


def flatten(d: dict, sep: str = ".", prefix: str = "") -> dict:
    """Nested dicts → one level, keys joined by ``sep``; lists are left out (they stay in the records)."""
    out = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(flatten(v, sep, key + sep))
        elif not isinstance(v, (list, tuple)):
            out[key] = v
    return out


# config keys in which the replicates of one setting differ (each seed's run folder, its own init_from source run)
# or that change nothing computed; every other key is part of the setting
REPLICATE_KEYS = ("seed", "run_dir", "trainer.resume", "trainer.progress", "trainer.threads", "init_from")
REPLICATE_PREFIXES = ("logger.",)


def setting_id(config: dict) -> str:
    """A short hash of a run's setting: its config without the keys its replicates differ in. Runs of one
    setting (any seed) share it, so fine-tunes of different pre-training runs (or budgets) are told apart. Under
    ``budget.params`` the architecture's width key is an outcome, not a setting (older records hold the width chosen
    there, newer ones the width launched): it is left out."""
    budget = config.get("budget") or {}
    outcome = f"arch.{budget.get('width_key')}" if budget.get("params") is not None else None
    flat = {
        k: v
        for k, v in flatten(config).items()
        if k not in REPLICATE_KEYS and not k.startswith(REPLICATE_PREFIXES) and k != outcome
    }
    return hashlib.sha1(json.dumps(flat, sort_keys=True, default=str).encode()).hexdigest()[:8]


def write_jsonl(path: Path, rows: list[dict]) -> None:
    """One JSON object per line, written atomically."""
    atomic_write_bytes(path, "".join(json.dumps(_clean(r), ensure_ascii=False) + "\n" for r in rows).encode())


def write_json(path: Path, obj: dict) -> None:
    atomic_write_bytes(path, (json.dumps(_clean(obj), indent=2) + "\n").encode())


def read_json(path: Path) -> dict | None:
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None


def read_record(path: Path) -> dict | None:
    """``summary.json`` as a dict; None when there is none; one ConfigError line when it exists but cannot be
    read (a damaged record is never taken for an empty folder, which a new run would overwrite)."""
    path = Path(path)
    if not path.exists():
        return None
    summary = read_json(path)
    if not isinstance(summary, dict):
        raise ConfigError(
            f"{path} exists but is not a readable run record; move it (or the folder) away, or "
            "choose another hydra.run.dir"
        )
    return summary


class MetricsLog:
    """Append-only ``metrics.jsonl``; on resume, lines written after the checkpoint are dropped."""

    def __init__(self, run_dir: Path):
        self.path = Path(run_dir) / METRICS

    def append(self, line: dict) -> None:
        with open(self.path, "a") as f:
            f.write(json.dumps(_clean(line)) + "\n")
            f.flush()

    def lines(self) -> list[dict]:
        """The lines written so far; a line cut by a crash (or anything not a JSON object) is skipped."""
        out = []
        if self.path.exists():
            for raw in self.path.read_text().splitlines():
                try:
                    line = json.loads(raw)
                except ValueError:  # a line cut by a crash
                    continue
                if isinstance(line, dict):
                    out.append(line)
        return out

    def truncate_after(self, step: int) -> None:
        """Keep the lines up to ``step`` except test lines (a resumed run writes its test line again)."""
        write_jsonl(
            self.path, [line for line in self.lines() if line.get("step", 0) <= step and line.get("split") != "test"]
        )
