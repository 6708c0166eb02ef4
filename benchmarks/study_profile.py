"""Where a study's wall time goes: a sample of each sweep's runs, timed by phase, scaled to the whole preset.

For each sweep of a claims preset (``conf/claims/<preset>.yaml``; sweeps with ``stages`` are left out and named),
``--archs`` of its architectures are trained in this process for ``--steps`` steps at the sweep's settings (its
first condition, its first seed, ``trainer.threads=1``), with timers around the phases: composition (Hydra),
build (task, data, model, optimizer: ``Trainer.__init__``), training steps, validation passes, the test, the
probes, the record. Each phase is then scaled to the sweep: training by ``max_steps`` / ``--steps``, validation by
the number of evaluations, the rest per run, times the sweep's number of runs (its axes' values multiplied, seeds
included), and the lr pre-sweep's runs (``lr_steps`` steps each) likewise. Process start (``run.py`` and the
imports of a launcher's worker) is charged per launch (one per pre-sweep, one per arch of a tuned sweep, one
otherwise, each with ``n_jobs`` = 2 workers). Runs that stop early at the target take less: the figures are an
upper bound for them. Printed as a table (seconds of the whole preset per phase, run one after another on one
core; the local launcher runs 2 at a time). ``--replications``: every replication's preset instead
(``conf/replications/*.yaml``; their sweeps named ``<replication>/<sweep>``). Run:
``python benchmarks/study_profile.py [--preset quick] [--steps 20] [--archs 2] [--replications]``.
"""

from __future__ import annotations

import argparse
import math
import os
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.chdir(ROOT)  # the presets' data paths are relative to the checkout

PHASES = ("process start", "composition", "build", "training steps", "validation", "test", "probes", "record")
TIMES: dict[str, float] = defaultdict(float)


def timed(phase: str, fn):
    def wrapper(*args, **kwargs):
        t0 = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            TIMES[phase] += time.perf_counter() - t0

    return wrapper


def instrument() -> None:
    """Timers around the phases (this process only)."""
    import importlib

    from harness import evaluation, probes

    train = importlib.import_module("harness.train")  # the module (the package exports its function train)

    train.Trainer.__init__ = timed("build", train.Trainer.__init__)
    loop = train.Trainer.loop

    def timed_loop(self, *args):  # the loop less the validations and probes inside it: steps and their batches
        t0, inside = time.perf_counter(), TIMES["validation"] + TIMES["probes"]
        try:
            return loop(self, *args)
        finally:
            TIMES["training steps"] += time.perf_counter() - t0 - (TIMES["validation"] + TIMES["probes"] - inside)

    train.Trainer.loop = timed_loop
    train.Trainer.eval_val = timed("validation", train.Trainer.eval_val)
    evaluation.test = timed("test", evaluation.test)
    train.write_record = timed("record", train.write_record)
    for name in ("at_start", "early", "at_end", "head_ablation", "source_masking"):
        setattr(probes, name, timed("probes", getattr(probes, name)))


def values(v) -> list[str]:
    """The values of one sweep axis (``a,b,c``; ``glob(*)`` of arch: every registered arch)."""
    from studies.sweeps import registered_archs, text

    s = text(v)
    return registered_archs() if s.startswith("glob(") else [x for x in s.split(",") if x]


def sample(preset: dict, name: str, sweep: dict, steps: int, n_archs: int, out: Path) -> tuple[dict, int, int, int]:
    """Per-run seconds of each phase (mean over the sampled archs, scaled to the sweep's steps and evaluations),
    the sweep's number of runs, its pre-sweep's number of runs, and its number of launches."""
    from hydra import compose, initialize_config_dir

    from harness.train import train
    from studies.sweeps import sweep_axes, text, tuned

    axes = {**sweep_axes(preset, sweep)}
    axes.setdefault("seed", preset.get("seeds", "0"))
    axes = {k: values(v) for k, v in axes.items()}
    runs = math.prod(len(v) for v in axes.values())
    archs = axes.get("arch") or ["transformer"]
    conditions = math.prod(len(v) for k, v in axes.items() if k not in ("arch", "seed", "optimizer.lr"))
    own_lr = tuned(preset, sweep) and not sweep.get("lr_from")  # lr_from: the lr of another sweep's pre-sweep
    pre = len(archs) * conditions * len(preset.get("lr_grid") or []) if own_lr else 0
    launches = (bool(pre) + len(archs)) if (pre or sweep.get("lr_from")) else 1
    max_steps = int(axes.get("trainer.max_steps", ["3000"])[0])
    eval_every = int(axes.get("trainer.eval_every", ["100"])[0])
    per_run: dict[str, float] = defaultdict(float)
    picked = archs[:: max(1, len(archs) // n_archs)][:n_archs]
    for arch in picked:
        over = {k: v[0] for k, v in axes.items()} | {"arch": arch}
        over |= {"trainer.max_steps": steps, "trainer.eval_every": steps, "trainer.threads": 1}
        over |= {"trainer.progress": False, "trainer.resume": False, "run_dir": str(out / name / arch)}
        TIMES.clear()
        t0 = time.perf_counter()
        with initialize_config_dir(str(ROOT / "conf"), version_base="1.3"):
            cfg = compose("config", [f"experiment={sweep['experiment']}", *(f"{k}={text(v)}" for k, v in over.items())])
        TIMES["composition"] += time.perf_counter() - t0
        train(cfg)
        for phase, s in TIMES.items():
            scale = (
                max_steps / steps
                if phase == "training steps"
                else max_steps / eval_every
                if phase == "validation"
                else 1
            )
            per_run[phase] += s * scale / len(picked)
    pre_run = dict(per_run)  # a pre-sweep run: lr_steps steps, evaluated at its end
    lr_steps = int(preset.get("lr_steps") or 100)
    pre_run["training steps"] = per_run.get("training steps", 0) * lr_steps / max_steps
    pre_run["validation"] = per_run.get("validation", 0) * eval_every / max_steps
    return per_run, pre_run, runs, pre, launches


def process_start() -> float:
    """Seconds a launch's processes take to start: ``run.py --cfg job`` (interpreter, Hydra, composition) plus
    two launcher workers importing the harness (torch included)."""

    def wall(cmd: list[str]) -> float:
        t0 = time.perf_counter()
        subprocess.run(cmd, cwd=ROOT, capture_output=True, check=True)
        return time.perf_counter() - t0

    return wall([sys.executable, "run.py", "--cfg", "job"]) + 2 * wall([sys.executable, "-c", "import harness.train"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--preset", default="quick")
    ap.add_argument("--steps", type=int, default=20, help="training steps of each sampled run")
    ap.add_argument("--archs", type=int, default=2, help="architectures sampled per sweep")
    ap.add_argument("--replications", action="store_true", help="the replications' preset instead of the claims'")
    args = ap.parse_args()
    from studies.sweeps import load_preset, missing_data

    if args.replications:  # one preset per replication: their sweeps, named <replication>/<sweep>
        from studies import replicate

        presets = {name: replicate.sweeps_preset(spec, args.preset) for name, spec in replicate.load().items()}
    else:
        presets = {"": load_preset(args.preset)}
    instrument()
    start = process_start()
    from hydra import compose, initialize_config_dir

    with initialize_config_dir(str(ROOT / "conf"), version_base="1.3"):
        compose("config")  # Hydra's first composition in a process imports and indexes: a worker pays it once
    rows, left_out = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for prefix, preset in presets.items():
            for sweep_name, sweep in (preset.get("sweeps") or {}).items():
                name = f"{prefix}/{sweep_name}" if prefix else sweep_name
                if sweep.get("stages") or missing_data(preset, sweep):
                    left_out.append(name)
                    continue
                per_run, pre_run, runs, pre, launches = sample(preset, name, sweep, args.steps, args.archs, Path(tmp))
                row = {p: per_run.get(p, 0.0) * runs + pre_run.get(p, 0.0) * pre for p in PHASES}
                row["process start"] = start * launches
                row["of it: lr pre-sweep"] = sum(pre_run.get(p, 0.0) for p in PHASES) * pre
                rows.append((name, runs, pre, row))
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "reports", tmp], cwd=ROOT, capture_output=True)
        report = time.perf_counter() - t0
    cols = [*PHASES, "of it: lr pre-sweep"]
    what = "replications" if args.replications else "claims"
    print(
        f"{what} preset {args.preset}: seconds on one core (sampled {args.archs} archs × {args.steps} steps per sweep)"
    )
    print(f"| sweep | runs | pre-sweep runs | {' | '.join(cols)} | total |")
    print("|" + "---|" * (len(cols) + 4))
    total = defaultdict(float)
    for name, runs, pre, row in rows:
        s = sum(row[p] for p in PHASES)
        for p in cols:
            total[p] += row[p]
        total["runs"] += runs
        total["pre"] += pre
        print(f"| {name} | {runs} | {pre} | {' | '.join(f'{row[p]:.0f}' for p in cols)} | {s:.0f} |")
    s = sum(total[p] for p in PHASES)
    print(
        f"| all | {total['runs']:.0f} | {total['pre']:.0f} | {' | '.join(f'{total[p]:.0f}' for p in cols)} | {s:.0f} |"
    )
    print("shares: " + ", ".join(f"{p} {100 * total[p] / s:.0f}%" for p in PHASES))
    print(f"report (python -m reports on the sampled runs): {report:.1f} s once per study")
    if left_out:
        print(f"not sampled (staged sweeps, or their data missing): {', '.join(left_out)}")


if __name__ == "__main__":
    main()
