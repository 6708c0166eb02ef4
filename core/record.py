"""The run record's format: file names, statuses, and how ``summary.json`` and ``metrics.jsonl`` are written and read.

Torch-free, so the reports read records without loading the training stack.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

from core.errors import ConfigError
from core.files import atomic_write_bytes

SUMMARY, METRICS, CHECKPOINT = "summary.json", "metrics.jsonl", "checkpoint.pt"
STATUSES = ("completed", "diverged", "failed", "interrupted")
LR_PRESWEEP = "lr"  # <sweep>/lr/: a preset sweep's learning-rate pre-sweep; reports leave its runs out of the evidence


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
        raise ConfigError(f"{path} exists but is not a readable run record; move it (or the folder) away, or "
                          "choose another hydra.run.dir")
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
        out = []
        if self.path.exists():
            for raw in self.path.read_text().splitlines():
                try:
                    out.append(json.loads(raw))
                except ValueError:  # a line cut by a crash
                    pass
        return out

    def truncate_after(self, step: int) -> None:
        """Keep the lines up to ``step`` except test lines (a resumed run writes its test line again)."""
        write_jsonl(self.path, [line for line in self.lines()
                                if line.get("step", 0) <= step and line.get("split") != "test"])
