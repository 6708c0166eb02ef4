"""The GPU benchmark of issue 12: one script, one GPU, about 5 minutes; prints one Markdown table.

Rows (every figure from the run's own record: steady-state step time after ``trainer.warmup_measure`` steps,
compilation apart):
1. the default job, ``python run.py`` as a user types it: ms/step and wall time from the command to the record;
2. each architecture on copy_long at delay 100 (default sizes, batch 64);
3. lstm, cnn and transformer at T = 1K, 4K and 16K (``experiment=seq_scaling_gpu``: 65,536 tokens a batch, bf16);
4. a 19M-parameter transformer (d_model 512, 8 heads, 6 layers, d_ff 2048, T = 1024, batch 64, bf16), eager and
   with ``trainer.compile=true``: ms/step, tokens/s, MFU (against the GPU's peak from harness/speed.py), peak MB.

``--sweep`` adds runs per minute of a shrunk long_range sweep run one job at a time vs four at once
(``hydra/launcher=gpu_shared``). ``--cpu-smoke`` runs every row at toy sizes on the CPU, to check the script
(its numbers mean nothing). Run: ``python benchmarks/gpu.py [--sweep] [--cpu-smoke] [--only default,archs,...]``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

ARCHS = ["rnn", "lstm", "cnn", "transformer", "vit"]
SECTIONS = ["default", "archs", "lengths", "big"]
BIG = [
    "arch=transformer",
    "arch.d_model=512",
    "arch.n_heads=8",
    "arch.n_layers=6",
    "arch.d_ff=2048",
    "task.delay=1004",
    "trainer.batch_size=64",
    "trainer.precision=bf16",
]  # 19M parameters, T = 1024


def settings(smoke: bool) -> dict:
    """Sizes of each section: the real ones, or toy ones for --cpu-smoke."""
    if smoke:
        return {
            "device": "cpu",
            "steps": 8,
            "warmup": 3,
            "default": ["trainer.max_steps=12", "task.delay=10"],
            "delay": 10,
            "lengths": {
                "1k": ["task.delay=44", "trainer.batch_size=4"],
                "4k": ["task.delay=108", "trainer.batch_size=2"],
                "16k": ["task.delay=236", "trainer.batch_size=1"],
            },
            "big": [
                "arch=transformer",
                "arch.d_model=32",
                "arch.n_heads=2",
                "arch.n_layers=2",
                "arch.d_ff=64",
                "task.delay=44",
                "trainer.batch_size=4",
                "trainer.precision=fp32",
            ],
            "compile": False,
            "precision": "fp32",
            "sweep": ["arch=rnn,cnn", "task.delay=10", "seed=0,1", "trainer.max_steps=5", "budget.params=null"],
        }
    return {
        "device": "cuda",
        "steps": 40,
        "warmup": 10,
        "default": [],
        "delay": 100,
        "lengths": {name: [f"seq_len={name}"] for name in ("1k", "4k", "16k")},
        "big": BIG,
        "compile": True,
        "precision": "bf16",
        "sweep": ["task.delay=10,20", "seed=0,1", "trainer.max_steps=200"],
    }


def run(overrides: list[str], s: dict) -> dict:
    """One harness run in this process (no target, no probes): its summary."""
    from hydra import compose, initialize_config_dir
    from omegaconf import open_dict

    from harness.train import train

    steps = s["steps"]
    base = [
        f"trainer.max_steps={steps}",
        f"trainer.eval_every={steps}",
        f"trainer.ckpt_every={steps}",
        f"trainer.warmup_measure={s['warmup']}",
        "trainer.stop_at=null",
        "trainer.probes=false",
        "trainer.progress=false",
        "task.n_val=64",
        "task.n_test=64",
        "trainer.eval_batch_size=16",
        f"trainer.device={s['device']}",
    ]
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        cfg = compose("config", overrides=base + overrides)
    with tempfile.TemporaryDirectory() as tmp, open_dict(cfg):
        cfg.run_dir = tmp
        summary = train(cfg)
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    return summary


def row(name: str, summary: dict, wall_s: float | None = None) -> dict:
    sp = summary["speed"]
    return {
        "run": name,
        "params": summary["params"],
        "precision": sp.get("precision"),
        "ms/step": sp.get("step_ms"),
        "p90": sp.get("step_ms_p90"),
        "tokens/s": sp.get("train_tokens_per_s"),
        "MFU": sp.get("mfu"),
        "peak MB": sp.get("peak_mem_mb"),
        "compile s": sp.get("compile_s"),
        "wall s": wall_s if wall_s is not None else summary.get("wall_s"),
    }


def default_job(s: dict) -> dict:
    """``python run.py`` as a user types it (to its target), timed from the command to the record."""
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [
            sys.executable,
            "run.py",
            f"hydra.run.dir={tmp}/run",
            "trainer.progress=false",
            f"trainer.device={s['device']}",
            *s["default"],
        ]
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env={**os.environ})
        wall = time.perf_counter() - t0
        if proc.returncode:
            raise SystemExit(f"the default job failed: {proc.stderr[-2000:]}")
        summary = json.loads((Path(tmp) / "run" / "summary.json").read_text())
    return row(
        f"default job ({summary['step']} steps, test acc {summary['metrics'].get('test/acc', 0):.4f})", summary, wall
    )


def sweep(s: dict) -> list[str]:
    """Runs per minute of a shrunk long_range sweep (5 archs × 2 delays × 2 seeds, 200 steps at most), one job at a
    time vs four sharing the GPU."""
    lines = []
    for launcher in (
        ["hydra/launcher=basic"],
        ["hydra/launcher=gpu_shared", "hydra.launcher.n_jobs=4", "trainer.cuda_memory_fraction=0.24"],
    ):
        with tempfile.TemporaryDirectory() as tmp:
            cmd = [
                sys.executable,
                "run.py",
                "-m",
                "experiment=long_range",
                f"hydra.sweep.dir={tmp}",
                *s["sweep"],
                "trainer.progress=false",
                f"trainer.device={s['device']}",
                *launcher,
            ]
            t0 = time.perf_counter()
            proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
            wall = time.perf_counter() - t0
            runs = len(list(Path(tmp).rglob("summary.json")))
        status = "" if proc.returncode == 0 else f" (exit {proc.returncode}: {proc.stderr.strip()[-300:]})"
        lines.append(f"{launcher[0]}: {runs} runs in {wall:.1f} s = {60 * runs / wall:.1f} runs/min{status}")
    return lines


def fmt(v) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:.3f}" if v < 1 else f"{v:,.1f}" if v < 1000 else f"{v:,.0f}"
    return f"{v:,}" if isinstance(v, int) else str(v)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cpu-smoke", action="store_true", help="toy sizes on the CPU: checks the script only")
    ap.add_argument("--only", default=",".join(SECTIONS), help=f"comma-separated sections of {SECTIONS}")
    ap.add_argument("--sweep", action="store_true", help="also: runs per minute, one job at a time vs four")
    args = ap.parse_args()
    s = settings(args.cpu_smoke)
    if s["device"] == "cuda" and not torch.cuda.is_available():
        raise SystemExit("no CUDA device: run with --cpu-smoke to check the script on the CPU")
    only = set(args.only.split(","))
    name = torch.cuda.get_device_name() if s["device"] == "cuda" else "CPU (smoke run: sizes are toys)"
    print(
        f"# {name}, torch {torch.__version__}; {s['steps']} steps a run, the first {s['warmup']} left out", flush=True
    )
    t0, rows = time.perf_counter(), []
    if "default" in only:
        rows.append(default_job(s))
    if "archs" in only:
        for arch in ARCHS:
            rows.append(row(f"{arch}, delay {s['delay']}", run([f"arch={arch}", f"task.delay={s['delay']}"], s)))
    if "lengths" in only:
        for arch in ("lstm", "cnn", "transformer"):
            for _length, overrides in s["lengths"].items():
                over = ["experiment=seq_scaling_gpu", f"arch={arch}", *overrides, f"trainer.precision={s['precision']}"]
                summary = run(over, s)
                rows.append(row(f"{arch}, T={summary['task_info']['seq_len']}", summary))
    if "big" in only:
        for extra in ([], ["trainer.compile=true"]) if s["compile"] else ([],):
            summary = run(s["big"] + extra, s)
            label = f"{summary['params'] / 1e6:.1f}M transformer, T={summary['task_info']['seq_len']}"
            rows.append(row(label + (", compiled" if extra else ""), summary))
    heads = list(rows[0]) if rows else []
    print("| " + " | ".join(heads) + " |\n|" + "---|" * len(heads))
    for r in rows:
        print("| " + " | ".join(fmt(r[h]) for h in heads) + " |")
    if args.sweep:
        print("\nsweep, runs per minute:\n" + "\n".join(sweep(s)))
    print(f"\ntotal {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
