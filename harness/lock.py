"""One process per run folder: an OS-level lock (``filelock``, i.e. ``flock`` on Linux/macOS) on
``<run>/.archbench.lock``, held from the first look at the folder until the record is written.

The kernel drops the lock when its holder dies, however it dies (``kill -9`` included), so a stale lock file
left by a dead process is simply taken over. The holder writes its pid into the file, so that a second launch
can say who holds the folder.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from filelock import FileLock, Timeout

from core.errors import ConfigError

LOCK = ".archbench.lock"


def writable_folder(run_dir: Path) -> Path:
    """``run_dir``, created if missing; ConfigError when it cannot be created or written."""
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        probe = run_dir / f".archbench-probe-{os.getpid()}"
        probe.touch()
        probe.unlink()
    except OSError as e:
        raise ConfigError(
            f"the run folder {run_dir} is not writable ({type(e).__name__}: {e.strerror or e}); "
            "choose another hydra.run.dir (or run_dir), or make it writable"
        ) from None
    return run_dir


@contextlib.contextmanager
def hold(run_dir: Path):
    """Own ``run_dir`` while the context is open; a second owner gets one ConfigError line naming the pid."""
    run_dir = writable_folder(Path(run_dir))
    path = run_dir / LOCK
    lock = FileLock(str(path), timeout=0)
    try:
        lock.acquire()
    except Timeout:
        try:
            holder = path.read_text().strip() or "unknown"
        except OSError:
            holder = "unknown"
        raise ConfigError(
            f"{run_dir} is in use by another archbench process (pid {holder}); wait for it to end, "
            "or choose another hydra.run.dir"
        ) from None
    except OSError as e:  # the lock path is a folder, or cannot be opened
        kind = "a folder" if path.is_dir() else f"not usable ({e.strerror or e})"
        raise ConfigError(
            f"the lock file {path} is {kind}; remove it (archbench creates it), or choose another hydra.run.dir"
        ) from None
    try:
        path.write_text(str(os.getpid()))  # opened without O_CREAT races: the file exists, the lock is ours
        yield run_dir
    finally:
        try:
            path.write_text("")  # a free folder names no holder
        finally:
            lock.release()
