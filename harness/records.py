"""The run record: ``metrics.jsonl`` (one line per evaluation), ``summary.json`` (written atomically), env."""
from __future__ import annotations

import json
import math
import os
import platform
import subprocess
import tempfile
from pathlib import Path

import torch

from harness import faults
from harness.errors import ConfigError

SUMMARY, METRICS, CHECKPOINT = "summary.json", "metrics.jsonl", "checkpoint.pt"
TEMP_SUFFIX = ".tmp"  # atomic writes go through ".<name>.<random>.tmp" beside the file
STATUSES = ("completed", "diverged", "failed", "interrupted")


def umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the new one, never half of it. The file
    gets the mode an ordinary write would give it (0666 less the umask), not mkstemp's 0600."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=TEMP_SUFFIX)
    try:
        os.fchmod(fd, 0o666 & ~umask())
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        faults.point(f"write:{path.name}")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _clean(x):
    """JSON-safe: tensors to numbers, NaN/inf to strings the reports can read back."""
    if isinstance(x, dict):
        return {str(k): _clean(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_clean(v) for v in x]
    if torch.is_tensor(x):
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


def remove_temp_files(folder: Path) -> None:
    """Delete the temporary files of atomic writes that a crash cut short (the caller owns ``folder``)."""
    for tmp in [*Path(folder).glob(f".*{TEMP_SUFFIX}"), *Path(folder).glob(f".hydra/.*{TEMP_SUFFIX}")]:
        tmp.unlink(missing_ok=True)


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


def git_commit() -> str | None:
    try:
        root = Path(__file__).resolve().parent.parent
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True,
                             timeout=5)
        if out.returncode:
            return None
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True, timeout=5).stdout.strip()
        return out.stdout.strip() + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return None


def environment(device: torch.device) -> dict:
    env = {"torch": torch.__version__, "python": platform.python_version(), "platform": platform.platform(),
           "device": str(device), "threads": torch.get_num_threads(), "git_commit": git_commit(),
           "cpu_count": os.cpu_count()}
    if device.type == "cuda":
        env["device_name"] = torch.cuda.get_device_name(device)
    return env


# -- memory -------------------------------------------------------------------------------------------------
def _proc_status_kb(field: str) -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


class PeakMemory:
    """Peak memory of a run: CUDA allocator peak, or on CPU the resident-set high-water mark above the
    resident size at the start (Linux lets a process reset its high-water mark, so runs in a reused sweep
    worker do not inherit the previous run's peak)."""

    def __init__(self, device: torch.device):
        self.device = device
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
            self.kind = "cuda_max_allocated"
        else:
            try:
                Path("/proc/self/clear_refs").write_text("5")
            except OSError:
                pass
            self.base_kb = _proc_status_kb("VmRSS") or 0
            self.kind = "cpu_rss_above_start"

    def peak_mb(self) -> float | None:
        if self.device.type == "cuda":
            return torch.cuda.max_memory_allocated(self.device) / 2**20
        hwm = _proc_status_kb("VmHWM")
        return None if hwm is None else max(hwm - self.base_kb, 0) / 1024
