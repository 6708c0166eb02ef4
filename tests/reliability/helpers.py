"""What the reliability tests share: launching run.py as a user would, and the one-line-error check."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT

# A run of a few seconds: copy_long with a tiny Transformer (dropout on, so the RNG stream matters on resume),
# on the CPU also where a GPU is present: resumed runs are promised to be bitwise equal there.
TINY = [
    "trainer.device=cpu",
    "task=copy_long",
    "task.delay=8",
    "task.n_memorize=3",
    "task.n_val=32",
    "task.n_test=32",
    "arch.d_model=16",
    "arch.n_heads=2",
    "arch.d_ff=32",
    "arch.dropout=0.1",
    "trainer.max_steps=40",
    "trainer.eval_every=10",
    "trainer.ckpt_every=5",
    "trainer.batch_size=8",
    "trainer.eval_batch_size=32",
    "trainer.warmup_steps=5",
    "trainer.stop_at=null",
    "trainer.threads=1",
    "trainer.progress=false",
]


def cli(run_dir: Path | None, *overrides: str, env: dict | None = None, timeout: float = 120, **kw):
    """``python run.py <overrides> hydra.run.dir=<run_dir>``, finished; stdout/stderr as text."""
    args = [sys.executable, "run.py", *overrides] + ([f"hydra.run.dir={run_dir}"] if run_dir else [])
    return subprocess.run(
        args,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
        **kw,
    )


def launch(run_dir: Path, *overrides: str, env: dict | None = None) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "run.py", *overrides, f"hydra.run.dir={run_dir}"],
        cwd=ROOT,
        env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def one_line_error(proc, *fragments: str) -> str:
    """Exit 2 and exactly one non-empty stderr line, ``error: …``, holding every fragment."""
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode == 2, (proc.returncode, proc.stderr[-3000:])
    assert len(lines) == 1 and lines[0].startswith("error: "), lines
    for f in fragments:
        assert f in lines[0], (f, lines[0])
    return lines[0]


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (relative path → bytes), to prove that nothing was touched."""
    return {
        str(p.relative_to(folder)): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != ".archbench.lock"
    }  # the lock is not part of the record


def metric_lines(run_dir: Path) -> list[tuple]:
    """(step, split, metrics) of every metrics.jsonl line."""
    return [
        (d["step"], d["split"], d["metrics"])
        for d in map(json.loads, (Path(run_dir) / "metrics.jsonl").read_text().splitlines())
    ]
