"""The environment a run's record states (``env``): torch and Python versions, platform, device and its name,
threads, the git commit of the code. The record's format itself is :mod:`core.record`."""

from __future__ import annotations

import os
import platform
import subprocess
from pathlib import Path

import torch


def git_commit() -> str | None:
    try:
        root = Path(__file__).resolve().parent.parent
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True, timeout=5
        )
        if out.returncode:
            return None
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=5,
        ).stdout.strip()
        return out.stdout.strip() + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return None


def environment(device: torch.device) -> dict:
    env = {
        "torch": torch.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "device": str(device),
        "threads": torch.get_num_threads(),
        "git_commit": git_commit(),
        "cpu_count": os.cpu_count(),
    }
    if device.type == "cuda":
        env["device_name"] = torch.cuda.get_device_name(device)
    else:  # the CPU's model, so that a timing (C1) names the device it speaks for
        env["device_name"] = cpu_name()
    return env


def cpu_name() -> str:
    """The CPU model (``/proc/cpuinfo``'s model name, else ``platform.processor()``), or ``cpu``."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name") and ":" in line:
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "cpu"
