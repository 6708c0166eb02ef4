"""Fault injection for the reliability tests: crash or signal the run at a named moment.

``ARCHBENCH_FAULT=<point>:<n>[:<SIGNAL>]`` (or :func:`arm`) makes the process send itself ``SIGNAL`` (default
SIGKILL) the n-th time it passes ``point`` in this process. Points: ``setup`` (before the task builds its data
and tokenizer), ``step`` (inside a training step, after
the optimizer step), ``eval``, ``test``, ``probes_start``, ``probes`` (each module call of a validation pass,
the test pass, the first and the last probes) and ``write:<file>`` (an atomic write whose data is written but
not yet in place, e.g. ``write:checkpoint.pt``). An errno name instead of a signal
(``write:hidden.npz:1:ENOSPC``) raises that OSError there, naming the file: a full disk, a lost permission.
Unarmed — always, outside the tests — a point is one comparison.
``ARCHBENCH_SLOW=<point>:<seconds>`` sleeps that long at each pass instead: a run of known length for the
SLURM time-limit tests, whatever the machine's speed.
"""

from __future__ import annotations

import errno
import os
import signal
import time

_armed: tuple[str, int, int] | None = None
_seen = 0
_slow: tuple[str, float] | None = None


def arm(spec: str | None) -> None:
    """``<point>:<n>[:<SIGNAL>]``, or None to disarm."""
    global _armed, _seen
    _armed, _seen = None, 0
    if spec:
        parts = spec.split(":")
        action = parts.pop() if parts[-1].startswith(("SIG", "E")) else "SIGKILL"
        n = int(parts.pop())
        _armed = (":".join(parts), n, action)


def slow(spec: str | None) -> None:
    """``<point>:<seconds>``, or None for no delay."""
    global _slow
    _slow = None
    if spec:
        name, seconds = spec.rsplit(":", 1)
        _slow = (name, float(seconds))


def point(name: str, path=None) -> None:
    global _seen
    if _slow is not None and _slow[0] == name:
        time.sleep(_slow[1])
    if _armed is None or _armed[0] != name:
        return
    _seen += 1
    if _seen == _armed[1]:
        action = _armed[2]
        if action.startswith("SIG"):
            os.kill(os.getpid(), int(getattr(signal, action)))
        else:
            code = int(getattr(errno, action))
            raise OSError(code, os.strerror(code), None if path is None else str(path))


arm(os.environ.get("ARCHBENCH_FAULT"))
slow(os.environ.get("ARCHBENCH_SLOW"))
