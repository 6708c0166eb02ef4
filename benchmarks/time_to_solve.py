"""Time to solve: archbench's default job against a plain single-file PyTorch script of the same model, data and
stop rule (``benchmarks/reference_copy.py``), alternating sides, one run of each per seed; then a 1-step job's time
from command to record. Both sides run as fresh processes, so start-up counts on both.

Run: ``python benchmarks/time_to_solve.py [--seeds 1 2 3] [--threads 1] [--eval-every 20] [--stop-at 0.99]
[--n-val 256]``.
Prints per seed each side's wall time (command to exit) and steps to the target, the per-seed ratio
archbench / reference (< 1: archbench faster) and the median ratio. ``--max-steps`` caps both sides (a smoke
check); ``--n-val`` sets both sides' validation set (archbench's ``task.n_val``).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def timed(cmd: list[str]) -> tuple[float, str]:
    start = time.perf_counter()
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if out.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{out.stderr[-2000:]}")
    return wall, out.stdout


def archbench(seed: int, a, max_steps: int | None = None) -> tuple[float, int]:
    with tempfile.TemporaryDirectory() as tmp:
        wall, _ = timed(
            [
                sys.executable,
                "run.py",
                f"seed={seed}",
                f"trainer.threads={a.threads}",
                f"trainer.eval_every={a.eval_every}",
                f"trainer.stop_at={a.stop_at}",
                f"trainer.max_steps={max_steps or a.max_steps}",
                f"task.n_val={a.n_val}",
                f"run_dir={tmp}/run",
            ]
        )
        summary = json.loads((Path(tmp) / "run" / "summary.json").read_text())
    return wall, int(summary["step"])


def reference(seed: int, a) -> tuple[float, int]:
    wall, out = timed(
        [
            sys.executable,
            "benchmarks/reference_copy.py",
            f"--seed={seed}",
            f"--threads={a.threads}",
            f"--eval-every={a.eval_every}",
            f"--stop-at={a.stop_at}",
            f"--max-steps={a.max_steps}",
            f"--n-val={a.n_val}",
        ]
    )
    return wall, int(json.loads(out.strip().splitlines()[-1])["steps"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--eval-every", type=int, default=20)
    ap.add_argument("--stop-at", type=float, default=0.99)
    ap.add_argument("--max-steps", type=int, default=3000)
    ap.add_argument("--n-val", type=int, default=256, help="validation sequences on both sides (task.n_val)")
    a = ap.parse_args()
    ratios = []
    print("seed  archbench_s  steps  reference_s  steps  ratio")
    for i, seed in enumerate(a.seeds):
        sides = [("archbench", archbench), ("reference", reference)]
        got = dict((name, fn(seed, a)) for name, fn in (sides if i % 2 == 0 else sides[::-1]))
        (wa, sa), (wr, sr) = got["archbench"], got["reference"]
        ratios.append(wa / wr)
        print(f"{seed:4d}  {wa:11.1f}  {sa:5d}  {wr:11.1f}  {sr:5d}  {wa / wr:5.2f}", flush=True)
    print(f"median ratio archbench / reference: {statistics.median(ratios):.2f} over {len(ratios)} seeds")
    one = [archbench(0, a, max_steps=1)[0] for _ in range(3)]
    print(
        f"1-step job, command to record: {', '.join(f'{w:.1f}' for w in one)} s (median {statistics.median(one):.1f})"
    )


if __name__ == "__main__":
    main()
