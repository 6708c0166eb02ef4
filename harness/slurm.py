"""SLURM through submitit: requeue without losing steps, resume on requeue, a sweep that tells the truth.

- In a job, :func:`hand_over` runs after the run checkpointed at a step boundary and wrote its ``interrupted``
  record: on SIGUSR2 (time limit near, sent by submitit's ``--signal``) it chains to submitit's handler, which
  requeues the job and exits; on SIGTERM (preemption, ``scontrol requeue``, ``scancel``) it exits non-zero, so
  no result says the run finished while SLURM reruns or ends the job.
- :class:`SlurmLauncher` (``hydra/launcher=slurm`` / ``slurm_cpu``, registered as a Hydra plugin in
  ``hydra_plugins/archbench_slurm.py``) adds ``trainer.resume=auto`` to every job (a requeued job continues from
  its checkpoint), waits through requeues, and ends with one line per run that did not complete (timeouts
  exhausted, cancelled) and exit status 1.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from typing import Any

from hydra_plugins.hydra_submitit_launcher.submitit_launcher import SlurmLauncher as _SubmititSlurmLauncher

from harness.quarantine import jobs_not_results

log = logging.getLogger(__name__)

REQUEUE_SIGNALS = ("SIGUSR2", "SIGTERM")
HANDED_OVER = "checkpoint and record written"  # in a job's stderr: it stopped at a step boundary for SLURM


def in_job() -> bool:
    return "SLURM_JOB_ID" in os.environ


def cpus_granted() -> int | None:
    """The CPUs SLURM granted each task (``SLURM_CPUS_PER_TASK``), or None outside a job."""
    value = os.environ.get("SLURM_CPUS_PER_TASK")
    return int(value) if value and value.isdigit() else None


def hand_over(reason: str | None) -> None:
    """After an interrupted run wrote its checkpoint and record: let SLURM/submitit take over (see module doc).
    Outside a SLURM job, or for a stop not asked by SLURM (Ctrl-C), it returns."""
    if not in_job() or reason not in REQUEUE_SIGNALS:
        return
    print(
        f"SLURM job {os.environ['SLURM_JOB_ID']} stopped by {reason}: {HANDED_OVER}; the run continues from there "
        "when the job is requeued",
        file=sys.stderr,
        flush=True,
    )
    if reason == "SIGUSR2":
        handler = signal.getsignal(signal.SIGUSR2)
        if callable(handler):  # submitit's: requeues and exits, or raises UncompletedJobError when out of timeouts
            handler(signal.SIGUSR2, None)
    raise SystemExit(143)  # no result: submitit keeps waiting for a requeued job, or reports it uncompleted


def new_lines(path, start: int) -> tuple[int, list[str]]:
    """The whole lines of ``path`` after byte ``start``, and where they end."""
    try:
        with open(path, "rb") as f:
            f.seek(start)
            data = f.read()
    except OSError:  # not written yet
        return start, []
    data = data[: data.rfind(b"\n") + 1]
    return start + len(data), data.decode(errors="replace").splitlines()


def job_states(ids: Sequence[str]) -> str:
    """``sacct``-shaped text (JobID|State|NodeList) from ``squeue``, for clusters without accounting."""
    out = subprocess.run(
        ["squeue", "-h", "--states=all", "-o", "%i|%T|%N", "-j", ",".join(ids)],
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    return "JobID|State|NodeList\n" + out


def make_watcher():
    """submitit's watcher asks ``sacct``; where accounting is off (a small or local cluster) it asks squeue."""
    from harness.quarantine import slurm_watcher

    return slurm_watcher(job_states)


def with_resume(overrides: Sequence[str]) -> list[str]:
    """A job resumes from its folder's checkpoint when requeued, unless the sweep set trainer.resume itself."""
    overrides = list(overrides)
    if not any(o.lstrip("+~").startswith("trainer.resume=") for o in overrides):
        overrides.append("trainer.resume=auto")
    return overrides


class SlurmLauncher(_SubmititSlurmLauncher):
    """hydra-submitit-launcher's SLURM launcher, with resume on requeue and a truthful end (module doc)."""

    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Sequence[Any]:
        from hydra.core.utils import filter_overrides
        from submitit.slurm.slurm import SlurmJob

        SlurmJob.watcher = make_watcher()
        job_overrides = [with_resume(o) for o in job_overrides]
        with jobs_not_results(_Pending):  # the base launcher then returns the jobs; their results come below
            jobs = super().launch(job_overrides, initial_job_idx)
        names = [f"#{initial_job_idx + i} ({' '.join(filter_overrides(o))})" for i, o in enumerate(job_overrides)]
        sweep_dir = str(self.config.hydra.sweep.dir)
        return collect(jobs, names, sweep_dir, self.params.get("max_num_timeout"))


class _Pending:
    """A submitted job whose ``results()`` is the job itself: the base launcher's last line hands it back."""

    def __init__(self, job):
        self.job = job

    def results(self) -> list:
        return [self.job]


def collect(jobs: list, names: list[str], sweep_dir: str, max_timeouts: int | None) -> list:
    """Wait for every job through its requeues, saying when one is requeued; exit 1 naming the runs that did
    not complete, 130 on Ctrl-C naming those still pending on SLURM."""
    from submitit.core.utils import UncompletedJobError

    again = f"rerun the same command with hydra.sweep.dir={sweep_dir} to continue from the checkpoints"
    read = [0] * len(jobs)  # how far each job's stderr was read: hand_over's lines say when a job stopped
    try:
        while not all(j.done() for j in jobs):
            for i, (job, name) in enumerate(zip(jobs, names)):
                read[i], lines = new_lines(job.paths.stderr, read[i])
                for line in lines:
                    if HANDED_OVER in line:
                        print(f"{name}: {line.strip()}", file=sys.stderr, flush=True)
            time.sleep(2)
    except KeyboardInterrupt:
        left = [f"{name}: job {job.job_id} {job.state}" for job, name in zip(jobs, names) if not job.done()]
        print(
            "sweep not finished; still on SLURM (they go on; scancel to stop them):\n  " + "\n  ".join(left),
            file=sys.stderr,
        )
        raise SystemExit(130) from None
    results, unfinished = [], []
    for job, name in zip(jobs, names):
        try:
            ret = job.results()[0]
        except UncompletedJobError:  # the job ended without a result: cancelled, killed, out of time
            unfinished.append(f"{name}: job {job.job_id} ended {job.state} before the run completed; {again}")
            continue
        if isinstance(getattr(ret, "_return_value", None), UncompletedJobError):
            unfinished.append(
                f"{name}: interrupted, its time limit was reached {max_timeouts} times "
                f"(hydra.launcher.max_num_timeout); {again}, or raise hydra.launcher.timeout_min"
            )
            continue
        results.append(ret)
    if unfinished:
        print("\n".join(unfinished), file=sys.stderr)
        raise SystemExit(1)
    return results
