"""Where metrics go besides ``metrics.jsonl``: a CSV file (default) or Weights & Biases."""
from __future__ import annotations

import csv
from pathlib import Path

from core.record import MetricsLog, flatten


def scalars(d: dict) -> dict:
    """Nested metrics → ``a/b`` keys, numbers only."""
    return {k: v for k, v in flatten(d, "/").items() if isinstance(v, (int, float)) and not isinstance(v, bool)}


class CSVLogger:
    """Writes ``metrics.csv`` (step, split, metric, value) from ``metrics.jsonl`` when the run ends."""

    def __init__(self, run_dir: str | Path, config: dict | None = None):
        self.run_dir = Path(run_dir)

    def log(self, step: int, metrics: dict) -> None:
        pass  # metrics.jsonl already holds every line; the CSV is derived from it at the end

    def finish(self, summary: dict) -> None:
        with open(self.run_dir / "metrics.csv", "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["step", "split", "metric", "value"])
            for line in MetricsLog(self.run_dir).lines():
                for k, v in scalars({"metrics": line.get("metrics", {}), "lr": line.get("lr")}).items():
                    w.writerow([line.get("step"), line.get("split"), k.removeprefix("metrics/"), v])


class WandbLogger:
    """Logs the same lines to Weights & Biases, in the run folder; offline unless ``mode=online``."""

    def __init__(self, run_dir: str | Path, config: dict | None = None, *, project: str = "archbench",
                 entity: str | None = None, mode: str = "offline", group: str | None = None,
                 tags: list | None = None):
        import wandb

        self.wandb = wandb
        self.run = wandb.init(project=project, entity=entity, mode=mode, group=group, tags=list(tags or []),
                              dir=str(run_dir), name=Path(run_dir).name, config=config, reinit="finish_previous")

    def log(self, step: int, metrics: dict) -> None:
        self.run.log(scalars(metrics), step=step)

    def finish(self, summary: dict) -> None:
        for k, v in scalars({k: summary.get(k) for k in ("metrics", "speed", "wall_s", "params")}).items():
            self.run.summary[k] = v
        self.run.summary["status"] = summary.get("status")
        self.run.finish(exit_code=0 if summary.get("status") == "completed" else 1)
