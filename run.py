"""archbench entry point: ``python run.py arch=transformer task=copy_long`` (``-m`` for sweeps)."""

from __future__ import annotations

import os
import sys

os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

import hydra
from omegaconf import DictConfig

from core.errors import ConfigError, DivergedError, memory_error_line, os_error_line


def is_multirun() -> bool:
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN


@hydra.main(config_path="conf", config_name="config", version_base="1.3")
def main(cfg: DictConfig) -> float | None:
    from harness.signals import StopRequested
    from harness.train import train

    try:
        summary = train(cfg)
    except (ConfigError, DivergedError) as e:  # one line; in a sweep the other jobs go on
        bad_config = isinstance(e, ConfigError)
        print(f"{'error' if bad_config else 'diverged'}: {e}", file=sys.stderr)
        if is_multirun():
            return None
        sys.exit(2 if bad_config else 1)
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
    from harness.report_line import describe

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
    main()
