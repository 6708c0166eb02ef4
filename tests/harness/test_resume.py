"""Checkpoints: a run killed (SIGKILL) or stopped (SIGTERM) after a checkpoint resumes to the same result,
bitwise on the CPU (on CUDA within the tolerance stated in tests/conftest.py), as an uninterrupted run with the same
seed."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.train import train
from tests.conftest import DEVICE, ROOT, assert_same_metrics

RUN = [
    "task=copy_long",
    "task.delay=8",
    "task.n_memorize=3",
    "task.n_val=32",
    "task.n_test=32",
    "arch.d_model=16",
    "arch.n_heads=2",
    "arch.d_ff=32",
    "arch.dropout=0.1",
    "trainer.max_steps=300",
    "trainer.eval_every=50",
    "trainer.ckpt_every=10",
    "trainer.batch_size=8",
    "trainer.eval_batch_size=32",
    "trainer.warmup_steps=5",
    "trainer.stop_at=null",
    "trainer.threads=1",
    "trainer.progress=false",
]


def launch(run_dir: Path, *extra: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [sys.executable, "run.py", *RUN, f"hydra.run.dir={run_dir}", *extra],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for_checkpoint(proc: subprocess.Popen, path: Path, timeout: float = 60.0) -> None:
    end = time.time() + timeout
    while not path.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.time() < end, "no checkpoint appeared"
        time.sleep(0.02)


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    from tests.conftest import make_cfg

    tmp = tmp_path_factory.mktemp("ref")
    return train(make_cfg(tmp, *RUN, tiny=False))


def test_resume_after_kill_9_matches_an_uninterrupted_run(tmp_path, uninterrupted):
    run = tmp_path / "cut"
    proc = launch(run)
    wait_for_checkpoint(proc, run / "checkpoint.pt")
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (run / "summary.json").exists()  # it really died mid-run
    resumed = launch(run, "trainer.resume=true")
    out, err = resumed.communicate(timeout=120)
    assert resumed.returncode == 0, err
    assert "resuming" in err and "from step" in err
    s = json.loads((run / "summary.json").read_text())
    assert s["status"] == "completed" and s["step"] == 300
    assert_same_metrics(s["metrics"], uninterrupted["metrics"], DEVICE)  # bitwise on the CPU: same floats
    steps = [(l["step"], l["split"]) for l in map(json.loads, (run / "metrics.jsonl").read_text().splitlines())]
    assert len(steps) == len(set(steps)), "metrics.jsonl repeats lines after the resume"


def test_sigterm_checkpoints_marks_interrupted_and_resumes(tmp_path, uninterrupted):
    run = tmp_path / "term"
    proc = launch(run)
    wait_for_checkpoint(proc, run / "checkpoint.pt")
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    s = json.loads((run / "summary.json").read_text())
    assert s["status"] == "interrupted" and "SIGTERM" in s["error"] and 0 < s["step"] < 300
    resumed = launch(run, "trainer.resume=true")
    resumed.communicate(timeout=120)
    assert resumed.returncode == 0
    s = json.loads((run / "summary.json").read_text())
    assert s["status"] == "completed"
    assert_same_metrics(s["metrics"], uninterrupted["metrics"], DEVICE)


def test_bad_config_from_the_command_line_is_one_line_and_exit_2(tmp_path):
    proc = subprocess.run(
        [sys.executable, "run.py", "arch.n_heads=5", f"hydra.run.dir={tmp_path / 'bad'}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    lines = [l for l in proc.stderr.splitlines() if l.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: d_model=64 is not divisible by n_heads=5"), lines
    assert not (tmp_path / "bad" / "summary.json").exists()


def test_a_refused_launch_leaves_the_existing_record_untouched(tmp_path):
    run = tmp_path / "taken"
    first = subprocess.run(
        [sys.executable, "run.py", *RUN, "trainer.max_steps=4", f"hydra.run.dir={run}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert first.returncode == 0, first.stderr
    before = {
        p.name: p.read_bytes()
        for p in [run / ".hydra" / "config.yaml", run / ".hydra" / "overrides.yaml", run / "summary.json"]
    }
    assert b"trainer.max_steps=4" in before["overrides.yaml"]
    again = subprocess.run(
        [sys.executable, "run.py", *RUN, "seed=5", f"hydra.run.dir={run}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert again.returncode == 2 and "already holds a run" in again.stderr
    assert {p: (run / ".hydra" / p if p != "summary.json" else run / p).read_bytes() for p in before} == before


def test_divergence_from_the_command_line_exits_1_with_a_reason(tmp_path):
    proc = subprocess.run(
        [
            sys.executable,
            "run.py",
            *RUN,
            "optimizer=sgd",
            "optimizer.lr=1e30",
            "trainer.grad_clip=null",
            "trainer.warmup_steps=0",
            f"hydra.run.dir={tmp_path / 'nan'}",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines()[-1].startswith("diverged: loss is")
    assert json.loads((tmp_path / "nan" / "summary.json").read_text())["status"] == "diverged"


@pytest.mark.parametrize("device", ["cpu", pytest.param("cuda", marks=pytest.mark.cuda)])
def test_a_run_stopped_in_process_resumes_to_the_uninterrupted_result(cfg_factory, monkeypatch, tmp_path, device):
    import torch

    from harness.train import Trainer

    run = [
        "task=copy_long",
        "task.delay=6",
        "task.n_memorize=3",
        "arch.dropout=0.1",
        "trainer.stop_at=null",
        "trainer.max_steps=30",
        "trainer.eval_every=10",
        "trainer.ckpt_every=10",
        f"trainer.device={device}",
    ]
    straight = train(cfg_factory(*run))
    real_step = Trainer.train_step

    def train_step(self, batch):  # SIGTERM arrives during step 13: the run stops after it
        if self.step + 1 == 13:
            os.kill(os.getpid(), signal.SIGTERM)
        return real_step(self, batch)

    monkeypatch.setattr(Trainer, "train_step", train_step)
    cfg = cfg_factory(*run)
    cfg.run_dir = str(tmp_path / "cut")
    cut = train(cfg)
    assert cut["status"] == "interrupted" and cut["step"] == 13
    monkeypatch.setattr(Trainer, "train_step", real_step)
    cfg.trainer.resume = True
    resumed = train(cfg)
    assert resumed["status"] == "completed" and resumed["step"] == 30
    assert_same_metrics(resumed["metrics"], straight["metrics"], torch.device(device))
