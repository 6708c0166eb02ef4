"""Sweeps on a real one-node SLURM cluster (tools/slurm_local.sh): a 2-run sweep, a run cut by its time limit
twice that loses no step, and an external ``scontrol requeue``. Marked ``slurm``; skipped only where SLURM
cannot be installed (not root, or no apt-get). A few minutes: each time-limited slot lasts about a minute.
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


@pytest.fixture(scope="module")
def cluster():
    reason = slurm_missing()
    if reason:
        pytest.skip(reason)
    running = "slurmctld: running" in subprocess.run([SCRIPT, "status"], capture_output=True, text=True).stdout
    subprocess.run([SCRIPT, "start"], check=True, timeout=600)
    yield
    if not running:  # leave a cluster someone else started (.ci/run) as it was
        subprocess.run([SCRIPT, "stop"], check=True, timeout=120)


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
    )


def evaluations(run: Path) -> list[tuple[int, str]]:
    return [(r["step"], r["split"]) for r in map(json.loads, (run / "metrics.jsonl").read_text().splitlines())]


def job_logs(sweep_dir: Path) -> str:
    return "".join(p.read_text() for p in sorted(sweep_dir.glob(".submitit/*/*.err")))


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
    run = tmp_path / "sweep" / "0_transformer_copy_long"
    end = time.time() + 120
    while not (run / "metrics.jsonl").exists():
        assert proc.poll() is None and time.time() < end, proc.communicate()
        time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    jobs = subprocess.run(["squeue", "-h", "-o", "%i %T"], capture_output=True, text=True).stdout.split()
    subprocess.run(["scancel", *jobs[::2]], check=False)
    assert proc.returncode == 130, err
    assert "still on SLURM" in err and "#0 (" in err and "RUNNING" in err
    assert jobs[1::2] == ["RUNNING"]  # the sweep said the truth: the job goes on


@pytest.mark.slurm
def test_a_time_limited_run_is_requeued_and_loses_no_step(cluster, tmp_path):
    # SLURM sends the --signal between 0 and 30 s early (it looks every 30 s): with signal_delay_s=1 a 1-minute
    # slot is cut 29–59 s after it starts. 0.04 s a step: about 105 s of training, more than two slots can hold.
    steps, every = 2600, 200
    proc = sweep(
        tmp_path / "sweep",
        f"trainer.max_steps={steps}",
        f"trainer.eval_every={every}",
        "hydra.launcher.timeout_min=1",
        "hydra.launcher.signal_delay_s=1",
        "hydra.launcher.max_num_timeout=8",
        slow=0.04,
    )
    out, err = proc.communicate(timeout=900)
    logs = job_logs(tmp_path / "sweep")
    assert proc.returncode == 0, err + logs
    run = tmp_path / "sweep" / "0_transformer_copy_long"
    s = json.loads((run / "summary.json").read_text())
    assert s["status"] == "completed" and s["step"] == steps
    assert logs.count("stopped by SIGUSR2") >= 2 and logs.count("resuming") >= 2, logs  # three slots at least
    assert "requeued" in err  # the sweep said so while it waited
    val = [step for step, split in evaluations(run) if split == "val"]
    assert val == list(range(every, steps + 1, every))  # every evaluation, once, in order
    assert_same_metrics(s["metrics"], uninterrupted(tmp_path, steps, every)["metrics"], DEVICE)


@pytest.mark.slurm
def test_a_run_out_of_requeues_is_recorded_interrupted_and_named_in_one_line(cluster, tmp_path):
    proc = sweep(
        tmp_path / "sweep",
        "trainer.max_steps=100000",
        "trainer.eval_every=100",
        "hydra.launcher.timeout_min=1",
        "hydra.launcher.signal_delay_s=1",
        "hydra.launcher.max_num_timeout=0",
        slow=0.04,
    )
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 1, err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if "time limit was reached" in line]
    assert len(lines) == 1 and lines[0].startswith("#0 (") and f"hydra.sweep.dir={tmp_path / 'sweep'}" in lines[0]
    s = json.loads((tmp_path / "sweep" / "0_transformer_copy_long" / "summary.json").read_text())
    assert s["status"] == "interrupted" and 0 < s["step"] < 100000


@pytest.mark.slurm
def test_scontrol_requeue_checkpoints_resumes_and_completes(cluster, tmp_path):
    steps, every = 600, 50
    proc = sweep(tmp_path / "sweep", f"trainer.max_steps={steps}", f"trainer.eval_every={every}", slow=0.03)
    run = tmp_path / "sweep" / "0_transformer_copy_long"
    end = time.time() + 120
    while not (run / "metrics.jsonl").exists():  # training has started
        assert proc.poll() is None and time.time() < end, proc.communicate()
        time.sleep(0.5)
    job = subprocess.run(["squeue", "-h", "-o", "%i"], capture_output=True, text=True).stdout.split()
    assert len(job) == 1, job
    subprocess.run(["scontrol", "requeue", job[0]], check=True)
    while not (run / "summary.json").exists():  # the interrupted record
        assert time.time() < end, job_logs(tmp_path / "sweep")
        time.sleep(0.5)
    assert json.loads((run / "summary.json").read_text())["status"] == "interrupted"
    assert proc.poll() is None  # the sweep is not reported finished while SLURM reruns the job
    out, err = proc.communicate(timeout=300)
    logs = job_logs(tmp_path / "sweep")
    assert proc.returncode == 0, err + logs
    s = json.loads((run / "summary.json").read_text())
    assert s["status"] == "completed" and s["step"] == steps
    assert "stopped by SIGTERM" in logs and "resuming" in logs, logs
    val = [step for step, split in evaluations(run) if split == "val"]
    assert val == list(range(every, steps + 1, every))
    assert_same_metrics(s["metrics"], uninterrupted(tmp_path, steps, every)["metrics"], DEVICE)


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
