"""The drivers' children (``run.py -m`` launched by ``make claims`` / ``make replicate``): a SIGINT or SIGTERM to
the driver is passed on to the running child and its workers, and the child is given the time SLURM gives a job
between SIGTERM and SIGKILL to record where it is (an ``interrupted`` record, a checkpoint) before it is killed.

``subprocess.call`` gives a child 0.25 s after Ctrl-C and then SIGKILLs it: a step, an evaluation or a checkpoint
write longer than that lost the ``interrupted`` record and the steps since the last checkpoint. Here the child runs
in its own process group, so a Ctrl-C at the terminal reaches it once (through the driver), as a signal sent to
the driver alone (``kill``, a scheduler) does.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time

#: seconds between the forwarded signal and SIGKILL: SLURM's default KillWait (``scontrol show config``)
GRACE_S = float(os.environ.get("ARCHBENCH_STOP_GRACE_S", 30))
SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interrupted(Exception):
    """The driver was asked to stop; the child was stopped (``code``: its exit status, or -9 when it was killed
    after the grace period)."""

    def __init__(self, signame: str, code: int):
        super().__init__(signame)
        self.signame, self.code = signame, code

    def line(self) -> str:
        how = "killed after the grace period" if self.code == -signal.SIGKILL else f"exit {self.code}"
        return (
            f"interrupted ({self.signame}): the running sweep was stopped ({how}) and nothing after it was started; "
            "run the same command again to continue (completed runs are kept, cut ones resume)"
        )


def _send(proc: subprocess.Popen, signum: int) -> None:
    try:
        os.killpg(proc.pid, signum)  # the child and its launcher's workers, as a terminal's Ctrl-C reaches them
    except (ProcessLookupError, PermissionError):
        pass


def run(cmd: list[str], cwd=None, grace_s: float | None = None) -> int:
    """Run ``cmd`` to its end and return its exit status; a SIGINT/SIGTERM received meanwhile is forwarded to it
    (each one: a second Ctrl-C stops a run at once, as it would at the terminal), the child is waited for up to
    ``grace_s`` seconds after the first, then killed, and :class:`Interrupted` is raised."""
    grace = GRACE_S if grace_s is None else grace_s
    received: list[int] = []
    procs: list[subprocess.Popen] = []

    def forward(signum, frame):
        received.append(signum)
        for proc in procs:
            _send(proc, signum)

    old = {}
    try:
        for sig in SIGNALS:
            old[sig] = signal.signal(sig, forward)
    except ValueError:  # not the main thread: signals stay where they are
        pass
    started = None
    try:
        proc = subprocess.Popen(cmd, cwd=cwd, process_group=0)
        procs.append(proc)
        for signum in received:  # a signal that came while the child was being started
            _send(proc, signum)
        while True:
            try:
                code = proc.wait(timeout=0.5)
                break
            except subprocess.TimeoutExpired:
                pass
            if received and started is None:
                started = time.monotonic()
            if started is not None and time.monotonic() - started > grace:
                _send(proc, signal.SIGKILL)
                code = proc.wait()
                break
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)
    if received:
        raise Interrupted(signal.Signals(received[0]).name, code)
    return code
