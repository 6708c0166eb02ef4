"""archbench entry point: ``python run.py arch=transformer task=copy_long`` (``-m`` for sweeps)."""

from __future__ import annotations

import os
import sys

os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

import hydra
from omegaconf import DictConfig

from core.errors import ConfigError, DivergedError, memory_error_line, os_error_line

# Where a setting could set hydra.mode other than in conf/ (whose files set none: tests/test_entry.py checks)
OTHER_CONFIGS = ("--config-dir", "-cd", "--config-path", "-cp", "--config-name", "-cn")


def compose_once(argv: list[str]) -> bool:
    """Hydra composes the whole configuration twice a launch: once only to read ``hydra.mode``, then for the run
    (~0.1 s each). Where nothing can set ``hydra.mode`` (conf/ sets none; no other config folder, no ``hydra.mode``
    or ``hydra.searchpath`` on the command line) that first composition is skipped (:mod:`harness.quarantine`), so
    that ``--multirun``/``-m`` alone chooses, as Hydra then does. Returns whether it is skipped."""
    for arg in argv[1:]:
        key = arg.lstrip("+~").split("=", 1)[0]
        if key in OTHER_CONFIGS or key.startswith(("hydra.mode", "hydra.searchpath")) or key == "hydra":
            return False
    from harness.quarantine import skip_mode_composition

    return skip_mode_composition()


def exit_now(code: int = 0):
    """End the process as Python's own shutdown would — wait for the threads that are not daemons, run the atexit
    handlers (logging, loggers, temporary folders, multiprocessing), flush stdout and stderr — but without tearing
    the interpreter's modules down one by one: with torch loaded that teardown alone takes ~0.5 s, a sixth of a
    short run (docs/performance.md; :mod:`harness.quarantine`). Every file a run writes is closed before
    :func:`main` returns."""
    from harness.quarantine import exit_without_teardown

    exit_without_teardown(code)


def is_multirun() -> bool:
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN


SINGLE_RUN: list[bool] = []  # set by main() when it ran one job in this process, outside a sweep


@hydra.main(config_path="conf", config_name="config", version_base="1.3")
def main(cfg: DictConfig) -> float | None:
    SINGLE_RUN[:] = [not is_multirun()]
    from harness.report_line import describe
    from harness.signals import StopRequested
    from harness.train import train

    try:
        if cfg.trainer.get("seeds_batched") and not isinstance(cfg.seed, int):
            from harness.batched import train_seeds

            *others, summary = train_seeds(cfg)  # each seed's record in its own folder; the last one answers
            for one in others:
                print(describe(one), flush=True)
        else:
            summary = train(cfg)
    except (ConfigError, DivergedError) as e:  # one line; in a sweep the other jobs go on
        bad_config = isinstance(e, ConfigError)
        print(f"{'error' if bad_config else 'diverged'}: {e}", file=sys.stderr)
        if is_multirun():
            return None
        sys.exit(2 if bad_config else 1)
    except SystemExit as e:  # sys.exit(0) in a forward or a task: the run failed (recorded so), not a success
        if e.code not in (0, None):  # the harness's own exits (SLURM's hand-over: 143) keep their status
            raise
        print(
            f"error: the run's code called sys.exit({e.code}) while training; the run is recorded as failed",
            file=sys.stderr,
        )
        if is_multirun():
            return None
        sys.exit(1)
    except StopRequested:  # a signal during set-up: nothing trained, nothing recorded (one line said so)
        sys.exit(130)  # in a sweep too: the jobs after this one are not started
    except (OSError, MemoryError, RuntimeError) as e:
        # disk full, no permission, a file where a folder belongs (naming the path), or a size that cannot fit in
        # memory: one line, not a traceback; any other error is a bug and keeps its traceback
        line = os_error_line(e) if isinstance(e, OSError) else memory_error_line(e)
        if line is None:
            raise
        print(f"error: {line}", file=sys.stderr)
        if is_multirun():
            return None
        sys.exit(2)
    print(describe(summary), flush=True)
    if summary["status"] == "interrupted":  # a signal stops a sweep too: the jobs after this one are not started
        if is_multirun():
            print(
                "interrupted: the sweep stops here, its remaining jobs are not started; relaunch it with "
                "trainer.resume=true to continue",
                file=sys.stderr,
                flush=True,
            )
        sys.exit(130)
    value = summary["metrics"].get(str(cfg.trainer.stop_metric))
    return value if isinstance(value, (int, float)) else None


if __name__ == "__main__":
    from harness.command_line import refuse_bad_command_line

    refuse_bad_command_line(sys.argv)  # non-ASCII outside quotes, a name too long, a user's config a built-in hides
    compose_once(sys.argv)
    main()  # an error or a signal leaves through sys.exit: Python's whole shutdown
    # A sweep (its launcher's workers and their trackers) ends the usual way, and so does a run under a profiler or
    # a tracer (python -m cProfile run.py ..., a debugger, coverage): they write their results after the script.
    if SINGLE_RUN == [True] and sys.getprofile() is None and sys.gettrace() is None:
        exit_now(0)
