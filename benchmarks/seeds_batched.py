"""Seeds of one setting as one batched job (``trainer.seeds_batched=true``) against the same seeds run separately.

Per job, two single processes, alternated ``--repeats`` times: the batched one
(``run.py 'seed=[1,…,S]' trainer.seeds_batched=true …``) and the separate one (``run.py -m seed=1,…,S …`` through
Hydra's basic launcher: one process, the runs one after another, as a sweep's worker runs them). Both with
``trainer.threads=1``; the wall time of each process is taken, and the median of the per-pair ratios
(batched / separate; < 1: batching saves) printed with the load average before and after. Jobs:

- ``lstm``: the claims quick preset's long_range sweep at delay 20 (``experiment=long_range arch=lstm``,
  60,000 parameters, probes), ``--steps`` steps (the preset trains 400; evaluations every ``--steps``/4);
- ``transformer``: the default job (``python run.py``: delay 100), ``--steps``/4 steps (it is ~8× slower a step);
- ``tiny``: a 16-wide transformer on delay 5 at batch 8, where a step is mostly per-op overhead.

First, per job, the training step alone (in this process, ``--steps``/10 steps on pre-drawn batches, stacked against
one seed after another); ``--step-only`` stops there. Run: ``python benchmarks/seeds_batched.py [--repeats 3]
[--seeds 5] [--steps 100] [--jobs lstm,transformer,tiny] [--step-only]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def jobs(steps: int) -> dict[str, list[str]]:
    quick = ["task.n_val=256", "task.n_test=512", f"trainer.eval_every={max(1, steps // 4)}"]
    t_steps = max(4, steps // 4)
    return {
        "lstm": ["experiment=long_range", "arch=lstm", "task.delay=20", f"trainer.max_steps={steps}", *quick],
        "transformer": [f"trainer.max_steps={t_steps}", f"trainer.eval_every={t_steps}"],
        "tiny": ["arch=transformer", "arch.d_model=16", "arch.n_heads=2", "arch.d_ff=32", "task.delay=5"]
        + ["trainer.batch_size=8", f"trainer.max_steps={2 * steps}", f"trainer.eval_every={steps}"]
        + ["task.n_val=64", "task.n_test=64"],
    }


def wall(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"failed: {' '.join(cmd)}\n{done.stderr[-2000:]}")
    return time.perf_counter() - t0


def pair(settings: list[str], seeds: list[int], tmp: Path, i: int) -> tuple[float, float]:
    common = [
        *settings,
        "trainer.threads=1",
        "trainer.progress=false",
        "hydra/launcher=basic",
    ]
    batched = [sys.executable, "run.py", *common, f"seed=[{','.join(map(str, seeds))}]", "trainer.seeds_batched=true"]
    separate = [
        sys.executable,
        "run.py",
        "-m",
        *common,
        f"seed={','.join(map(str, seeds))}",
        f"hydra.sweep.dir={tmp}/s{i}",
    ]
    b = wall([*batched, f"hydra.run.dir={tmp}/b{i}"])
    s = wall(separate)
    return b, s


def step_ratio(settings: list[str], seeds: list[int], steps: int, tmp: Path) -> tuple[float, float, bool]:
    """The training step alone, in this process: seconds of ``steps`` stacked steps of all seeds, and of the same
    steps one seed after another (the same pre-drawn batches), and whether the arch stacks."""
    from hydra import compose, initialize_config_dir

    from harness import checkpoint
    from harness.batched import Group, seed_configs
    from harness.train import Trainer

    over = [*settings, f"seed=[{','.join(map(str, seeds))}]", "trainer.seeds_batched=true", "trainer.threads=1"]
    with initialize_config_dir(str(ROOT / "conf"), version_base="1.3"):
        cfg = compose("config", [*over, f"run_dir={tmp}"])
    trainers = []
    for c in seed_configs(cfg):
        trainers.append(Trainer(c))
        trainers[-1].task.setup(trainers[-1].device, int(c.seed))
        trainers[-1].rng = checkpoint.rng_state(trainers[-1].device)
    group = Group(trainers, seeds)
    group.stack()
    batch = int(cfg.trainer.batch_size)
    draws = [[tr.task.train_batch(batch) for tr in trainers] for _ in range(steps + 2)]
    group.step(draws[0])  # the first step of each kind: allocations, kernels chosen
    for tr, one in zip(trainers, draws[1]):
        tr.train_step(one)
    stacked = separate = 0.0
    for b in draws[2:]:  # alternated step by step (the load moves)
        t0 = time.perf_counter()
        group.step(b)
        t1 = time.perf_counter()
        for tr, one in zip(trainers, b):
            tr.train_step(one)
        stacked, separate = stacked + t1 - t0, separate + time.perf_counter() - t1
    return stacked, separate, group.why is None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--jobs", default="lstm,transformer,tiny")
    ap.add_argument("--step-only", action="store_true", help="only the training step, in this process")
    args = ap.parse_args()
    seeds = list(range(1, args.seeds + 1))
    print(f"load before: {os.getloadavg()[0]:.2f}; {args.seeds} seeds, {args.repeats} alternated pairs", flush=True)
    for name in args.jobs.split(","):
        settings = jobs(args.steps)[name]
        with tempfile.TemporaryDirectory() as tmp:
            n = max(4, args.steps // 10)
            ratios = [step_ratio(settings, seeds, n, Path(tmp) / str(i)) for i in range(args.repeats)]
        ratio = statistics.median(b / s for b, s, _ in ratios)
        how = "stacked" if ratios[0][2] else "not stacked: one seed after another"
        print(f"{name}: the training step alone ({n} steps, {how}): ratio {ratio:.2f} (median of {args.repeats})")
        if args.step_only:
            continue
        rows = []
        with tempfile.TemporaryDirectory() as tmp:
            for i in range(args.repeats):
                b, s = pair(settings, seeds, Path(tmp), i)
                rows.append((b, s))
                print(f"  {name} pair {i + 1}: batched {b:.1f} s, separate {s:.1f} s, ratio {b / s:.2f}", flush=True)
        ratio = statistics.median(b / s for b, s in rows)
        b_med, s_med = statistics.median(r[0] for r in rows), statistics.median(r[1] for r in rows)
        print(f"{name}: batched {b_med:.1f} s, separate {s_med:.1f} s (medians); ratio {ratio:.2f} (median of pairs)")
    print(f"load after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
