"""Sweeps on a real one-node SLURM cluster (tools/slurm_local.sh): a 2-run sweep, a run cut by its time limit
that is requeued and loses no step, a run out of requeues, and an external ``scontrol requeue``. Marked ``slurm``;
skipped only where SLURM cannot be installed (not root, or no apt-get). A time-limited slot lasts up to a minute,
so the two time-limited sweeps start together with the first harness test and wait out their slots meanwhile.
The hand-over to submitit and ``trainer.resume=auto`` are also tested without a cluster."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from core.errors import ConfigError
from harness import slurm
from harness.train import train
from tests.conftest import DEVICE, ROOT, assert_same_metrics, make_cfg

SCRIPT = ROOT / "tools" / "slurm_local.sh"
RUN = [
    "task=copy_long",
    "task.delay=8",
    "task.n_memorize=3",
    "task.n_val=32",
    "task.n_test=32",
    "arch.d_model=16",
    "arch.n_heads=2",
    "arch.d_ff=32",
    "trainer.batch_size=8",
    "trainer.eval_batch_size=32",
    "trainer.warmup_steps=5",
    "trainer.stop_at=null",
    "trainer.probes=false",
    "trainer.progress=false",
]
CPU = ["hydra/launcher=slurm_cpu", "hydra.launcher.cpus_per_task=1", "hydra.launcher.mem_gb=1"]


def slurm_missing() -> str | None:
    if shutil.which("sbatch") and shutil.which("slurmctld") and shutil.which("munged"):
        return None if os.geteuid() == 0 else "the local SLURM cluster runs as root (tools/slurm_local.sh start)"
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        return "SLURM is not installed and cannot be here (needs root and apt-get to install slurm-wlm and munge)"
    return None


def sweep(sweep_dir: Path, *overrides: str, slow: float | None = None, launcher: list[str] = CPU) -> subprocess.Popen:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    if slow:
        env["ARCHBENCH_SLOW"] = f"step:{slow}"  # a known step time: the slots' lengths do not hang on load
    return subprocess.Popen(
        [sys.executable, "run.py", "-m", *launcher, f"hydra.sweep.dir={sweep_dir}", *RUN, *overrides],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # as from a terminal, where Ctrl-C reaches it (a shell's background job would inherit SIGINT ignored)
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


def evaluations(run: Path) -> list[tuple[int, str]]:
    return [(r["step"], r["split"]) for r in map(json.loads, (run / "metrics.jsonl").read_text().splitlines())]


def job_logs(sweep_dir: Path) -> str:
    return "".join(p.read_text() for p in sorted(sweep_dir.glob(".submitit/*/*.err")))


def jobs(sweep_dir: Path) -> list[str]:
    """The SLURM jobs a sweep submitted (submitit's folders ``.submitit/<job id>``)."""
    return sorted(p.name for p in (sweep_dir / ".submitit").glob("*") if p.name.isdigit())


def cancel(sweep_dir: Path, proc: subprocess.Popen) -> None:
    """Ends a sweep and its jobs whatever their state (a test that failed half-way leaves the node free)."""
    if proc.poll() is None:
        proc.kill()
        proc.communicate()
    if jobs(sweep_dir):
        subprocess.run(["scancel", *jobs(sweep_dir)], check=False)


def wait_for(path: Path, proc: subprocess.Popen, deadline: float) -> None:
    """Until a run of the sweep ``proc`` writes ``path`` (``<sweep>/<run>/<file>``), while the sweep waits on SLURM."""
    while not path.exists():
        ended = proc.poll() is not None
        assert not ended and time.time() < deadline, (proc.communicate() if ended else "", job_logs(path.parents[1]))
        time.sleep(0.5)


def uninterrupted(tmp_path: Path, steps: int, eval_every: int) -> dict:
    return train(
        make_cfg(
            tmp_path / "ref",
            *RUN,
            f"trainer.max_steps={steps}",
            f"trainer.eval_every={eval_every}",
            "trainer.threads=1",
            tiny=False,
        )
    )


# SLURM sends the --signal between 0 and 30 s early (it looks every 30 s): with signal_delay_s=1 a 1-minute slot
# is cut 29–59 s after it starts. The two sweeps cut by a time limit are started together (the node has a CPU for
# each, and their steps are mostly sleep) and wait out their slots side by side — from the first harness test on
# (the ``cluster`` and ``time_limited`` fixtures are in tests/harness/conftest.py), so that their minutes pass
# while the tests before this file run; the first test here reads the one out of requeues, the other cluster tests
# run beside the requeued one if it still runs (on the node's other CPU), the last test reads it.
TIME_LIMITED = ["hydra.launcher.timeout_min=1", "hydra.launcher.signal_delay_s=1"]
# 0.04 s a step: 1600 steps are at least 64 s of training, more than the longest first slot (59 s) can hold.
STEPS, EVERY = 1600, 200


@pytest.mark.slurm
def test_a_run_out_of_requeues_is_recorded_interrupted_and_named_in_one_line(time_limited):
    tmp, procs, _ = time_limited
    proc = procs["out_of_requeues"]
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 1, err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if "time limit was reached" in line]
    assert len(lines) == 1 and lines[0].startswith("#0 (")
    assert f"hydra.sweep.dir={tmp / 'out_of_requeues'}" in lines[0]
    s = json.loads((tmp / "out_of_requeues" / "0_transformer_copy_long" / "summary.json").read_text())
    assert s["status"] == "interrupted" and 0 < s["step"] < 100000


@pytest.mark.slurm
def test_scontrol_requeue_checkpoints_resumes_and_completes(cluster, tmp_path):
    steps, every = 600, 50
    proc = sweep(tmp_path / "sweep", f"trainer.max_steps={steps}", f"trainer.eval_every={every}", slow=0.03)
    run = tmp_path / "sweep" / "0_transformer_copy_long"
    end = time.time() + 120
    wait_for(run / "metrics.jsonl", proc, end)  # training has started
    job = jobs(tmp_path / "sweep")
    assert len(job) == 1, job
    subprocess.run(["scontrol", "requeue", job[0]], check=True)
    wait_for(run / "summary.json", proc, end)  # the interrupted record
    assert json.loads((run / "summary.json").read_text())["status"] == "interrupted"
    assert proc.poll() is None  # the sweep is not reported finished while SLURM reruns the job
    reference = uninterrupted(tmp_path, steps, every)  # trained here while the job waits to start again
    out, err = proc.communicate(timeout=300)
    logs = job_logs(tmp_path / "sweep")
    assert proc.returncode == 0, err + logs
    s = json.loads((run / "summary.json").read_text())
    assert s["status"] == "completed" and s["step"] == steps
    assert "stopped by SIGTERM" in logs and "resuming" in logs, logs
    val = [step for step, split in evaluations(run) if split == "val"]
    assert val == list(range(every, steps + 1, every))
    assert_same_metrics(s["metrics"], reference["metrics"], DEVICE)


@pytest.mark.slurm
def test_a_two_run_sweep_completes_both_records(cluster, tmp_path):
    proc = sweep(tmp_path / "sweep", "trainer.max_steps=20", "trainer.eval_every=10", "seed=1,2")
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    for num, seed in ((0, 1), (1, 2)):
        s = json.loads((tmp_path / "sweep" / f"{num}_transformer_copy_long" / "summary.json").read_text())
        assert s["status"] == "completed" and s["step"] == 20 and s["seed"] == seed
        assert s["env"]["threads"] == 1  # trainer.threads follows the CPUs granted (cpus_per_task=1)


@pytest.mark.slurm
def test_the_gpu_launcher_config_is_scheduled(cluster, tmp_path):
    gpu = ["hydra/launcher=slurm", "hydra.launcher.cpus_per_task=1", "hydra.launcher.mem_gb=1"]  # asks gpu:1
    proc = sweep(tmp_path / "sweep", "trainer.max_steps=10", "trainer.eval_every=10", launcher=gpu)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    s = json.loads((tmp_path / "sweep" / "0_transformer_copy_long" / "summary.json").read_text())
    assert s["status"] == "completed" and s["step"] == 10


@pytest.mark.slurm
def test_ctrl_c_on_the_sweep_lists_the_runs_still_on_slurm(cluster, tmp_path):
    proc = sweep(tmp_path / "sweep", "trainer.max_steps=100000", "trainer.eval_every=100", slow=0.04)
    try:
        wait_for(tmp_path / "sweep" / "0_transformer_copy_long" / "metrics.jsonl", proc, time.time() + 120)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
        ids = ",".join(jobs(tmp_path / "sweep"))
        states = subprocess.run(["squeue", "-h", "-o", "%T", "-j", ids], capture_output=True, text=True).stdout
    finally:
        cancel(tmp_path / "sweep", proc)  # whatever happened: this test leaves no job on the node
    assert proc.returncode == 130, err
    assert "still on SLURM" in err and "#0 (" in err and "RUNNING" in err
    assert states.split() == ["RUNNING"]  # the sweep said the truth: the job goes on


@pytest.mark.slurm
def test_a_time_limited_run_is_requeued_and_loses_no_step(time_limited):
    tmp, procs, reference = time_limited
    proc = procs["requeued"]
    out, err = proc.communicate(timeout=900)
    logs = job_logs(tmp / "requeued")
    assert proc.returncode == 0, err + logs
    run = tmp / "requeued" / "0_transformer_copy_long"
    s = json.loads((run / "summary.json").read_text())
    assert s["status"] == "completed" and s["step"] == STEPS
    assert logs.count("stopped by SIGUSR2") >= 1 and logs.count("resuming") >= 1, logs  # two slots at least
    assert "requeued" in err  # the sweep said so while it waited
    val = [step for step, split in evaluations(run) if split == "val"]
    assert val == list(range(EVERY, STEPS + 1, EVERY))  # every evaluation, once, in order
    assert_same_metrics(s["metrics"], reference["metrics"], DEVICE)


def test_hand_over_chains_to_the_jobs_sigusr2_handler_and_never_returns_as_finished(monkeypatch):
    calls = []
    monkeypatch.delenv("SLURM_JOB_ID", raising=False)
    slurm.hand_over("SIGUSR2")  # outside a job: nothing to hand over
    monkeypatch.setenv("SLURM_JOB_ID", "7")
    slurm.hand_over("SIGINT")  # Ctrl-C in a job: an ordinary interrupted run
    old = signal.signal(signal.SIGUSR2, lambda *a: calls.append(a[0]))  # stands for submitit's requeue handler
    try:
        with pytest.raises(SystemExit) as e:
            slurm.hand_over("SIGUSR2")
        assert calls == [signal.SIGUSR2] and e.value.code != 0
        with pytest.raises(SystemExit):  # preemption / scontrol requeue: SLURM requeues, no result is written
            slurm.hand_over("SIGTERM")
        assert calls == [signal.SIGUSR2]
    finally:
        signal.signal(signal.SIGUSR2, old)


def test_resume_auto_starts_resumes_and_still_refuses_other_settings(tmp_path):
    short = [*RUN, "trainer.max_steps=4", "trainer.eval_every=2", "trainer.threads=1"]
    first = train(make_cfg(tmp_path, *short, "trainer.resume=auto", tiny=False))  # nothing there: starts
    assert first["status"] == "completed" and first["step"] == 4
    again = train(make_cfg(tmp_path, *short, "trainer.resume=auto", tiny=False))  # completed: kept as it is
    assert again["metrics"] == first["metrics"] and again["wall_s"] == first["wall_s"]
    with pytest.raises(ConfigError, match="differ from the checkpoint"):
        train(make_cfg(tmp_path, *short, "trainer.resume=auto", "seed=3", tiny=False))


def test_a_sweep_job_gets_resume_auto_unless_it_set_resume():
    assert slurm.with_resume(["seed=1"]) == ["seed=1", "trainer.resume=auto"]
    assert slurm.with_resume(["trainer.resume=false"]) == ["trainer.resume=false"]


def test_trainer_threads_defaults_to_the_cpus_slurm_granted(monkeypatch):
    monkeypatch.delenv("SLURM_CPUS_PER_TASK", raising=False)
    assert slurm.cpus_granted() is None
    monkeypatch.setenv("SLURM_CPUS_PER_TASK", "3")
    assert slurm.cpus_granted() == 3
