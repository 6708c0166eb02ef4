"""Case 1: one process per run folder. A second launch — fresh or with trainer.resume=true — is refused with
one line naming the holder's pid, and the holder's record is untouched; a lock left by a dead process is
taken over."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from harness import lock
from tests.reliability.helpers import TINY, cli, launch, metric_lines, one_line_error, snapshot


def stopped(pid: int) -> bool:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "T"


def test_a_second_launch_into_a_live_run_folder_is_refused(tmp_path):
    """The first launch pauses itself (SIGSTOP) inside its first step, before any checkpoint: the moment at
    which a second launch used to delete its metrics lines."""
    run = tmp_path / "run"
    first = launch(run, *TINY, env={"ARCHBENCH_FAULT": "step:1:SIGSTOP"})
    end = time.time() + 60
    while not stopped(first.pid):
        assert first.poll() is None and time.time() < end, first.communicate()
        time.sleep(0.02)
    assert not (run / "checkpoint.pt").exists()
    second = cli(run, *TINY, "seed=1")
    resumed = cli(run, *TINY, "trainer.resume=true")
    os.kill(first.pid, signal.SIGCONT)
    out, err = first.communicate(timeout=120)
    assert first.returncode == 0, err
    for proc in (second, resumed):
        one_line_error(proc, f"in use by another archbench process (pid {first.pid})")
    lines = metric_lines(run)
    assert len(lines) == len({(step, split) for step, split, _ in lines})  # one run's lines, none deleted
    evals = [line for line in lines if line[1] != "train_step"]  # (the step losses of trainer.log_every aside)
    assert evals[0][:2] == (10, "train") and evals[-1][:2] == (40, "test")
    assert json.loads((run / "summary.json").read_text())["seed"] == 0


def test_the_lock_is_held_for_the_whole_run_and_names_its_holder(tmp_path):
    run = tmp_path / "held"
    with lock.hold(run):
        (run / "metrics.jsonl").write_text('{"step": 5, "split": "val", "metrics": {}}\n')
        before = snapshot(run)
        for extra in ([], ["trainer.resume=true"]):
            one_line_error(cli(run, *TINY, *extra), f"(pid {os.getpid()})")
        assert snapshot(run) == before


def test_a_stale_lock_of_a_dead_process_is_taken_over(tmp_path):
    run = tmp_path / "stale"
    run.mkdir()
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    (run / lock.LOCK).write_text(dead.stdout.strip())  # what a kill -9'ed holder leaves behind
    proc = cli(run, *TINY, "trainer.max_steps=2")
    assert proc.returncode == 0, proc.stderr
    assert (run / "summary.json").exists()


def test_a_lock_path_that_is_a_folder_is_one_line(tmp_path):
    run = tmp_path / "dirlock"
    (run / lock.LOCK).mkdir(parents=True)
    one_line_error(cli(run, *TINY), f"the lock file {run / lock.LOCK} is a folder")
    assert sorted(p.name for p in run.iterdir()) == [lock.LOCK]  # nothing written
