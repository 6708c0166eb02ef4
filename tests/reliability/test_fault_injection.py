"""A run killed with SIGKILL at ten moments — inside training steps, validation passes, checkpoint writes, the
first and last probes, the test evaluation and the summary write — and resumed after each, ends with the same
record as an uninterrupted run: metrics bitwise equal on the CPU, every metrics line once.

The kills come from :mod:`core.faults` (the process kills itself at the n-th pass of a named point, n drawn
at random), so that moments a timer would rarely hit, such as the middle of a checkpoint write, are hit every
time. Each launch is a fresh process forked from a server that has already imported torch (a few seconds
saved per launch); it dies by SIGKILL exactly as a ``kill -9``ed run.py would.
"""

from __future__ import annotations

import json
import multiprocessing
import random
import signal
from pathlib import Path

from core import faults
from harness.train import train
from tests.conftest import make_cfg
from tests.reliability.helpers import TINY, metric_lines

SEED = 20261126  # the moments are random but the test is repeatable; change it to try others


RUN = [*TINY, "trainer.max_steps=60"]


def launch(run_dir: str, fault: str | None) -> None:
    """In a child process: arm the fault, then train (resuming) into ``run_dir``."""
    faults.arm(fault)
    cfg = make_cfg(Path(run_dir).parent, *RUN, "trainer.resume=true", tiny=False)
    train(cfg)


def moments(rng: random.Random) -> list[str]:
    """Ten kill points in an order a run passes them: the first probes; five during training (inside a step,
    a validation pass or a checkpoint write, counts drawn at random; each launch gets at most 10 steps further,
    so training never ends before the fifth); then the end of the run: the test evaluation, the final
    checkpoint write, the last probes and the summary write."""
    training = [
        f"{p}:{rng.randint(1, hi)}"
        for p, hi in rng.choices([("step", 9), ("eval", 40), ("write:checkpoint.pt", 2)], k=5)
    ]
    end = [f"test:{rng.randint(1, 4)}", "write:checkpoint.pt:1", f"probes:{rng.randint(1, 30)}", "write:summary.json:1"]
    return [f"probes_start:{rng.randint(1, 20)}", *training, *end]


def test_ten_sigkills_then_resume_give_the_uninterrupted_record(tmp_path):
    reference = train(make_cfg(tmp_path / "ref", *RUN, tiny=False))
    ref_lines = metric_lines(tmp_path / "ref" / "run")

    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["torch", "torch._inductor", "harness.train", "tests.reliability.test_fault_injection"])
    run_dir = tmp_path / "cut" / "run"
    plan = moments(random.Random(SEED))
    assert len(plan) == 10
    for fault in plan:
        child = ctx.Process(target=launch, args=(str(run_dir), fault))
        child.start()
        child.join(120)
        assert child.exitcode == -signal.SIGKILL, f"{fault}: the run was not killed there (exit {child.exitcode})"
        assert not (run_dir / "summary.json").exists() or fault == "write:summary.json:1"
    child = ctx.Process(target=launch, args=(str(run_dir), None))
    child.start()
    child.join(120)
    assert child.exitcode == 0

    s = json.loads((run_dir / "summary.json").read_text())
    assert s["status"] == "completed" and s["step"] == 60
    assert s["metrics"] == reference["metrics"]  # bitwise: the same floats
    assert s["long_range"]["grad_norm_by_distance"] == reference["long_range"]["grad_norm_by_distance"]
    assert metric_lines(run_dir) == ref_lines  # every line once, in order, with the same values
    assert s["speed"]["step_ms"] is not None
    assert not [p.name for p in run_dir.iterdir() if p.name.endswith(".tmp")]  # no half-written files left
