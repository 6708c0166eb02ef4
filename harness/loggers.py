"""Where metrics go besides ``metrics.jsonl``: a CSV file (default), TensorBoard or Weights & Biases, or several
(``logger=[csv,tensorboard]``: each logger config sits under ``logger.<name>``)."""

from __future__ import annotations

import csv
from pathlib import Path

from core.record import MetricsLog, flatten


def scalars(d: dict) -> dict:
    """Nested metrics → ``a/b`` keys, numbers only."""
    return {k: v for k, v in flatten(d, "/").items() if isinstance(v, (int, float)) and not isinstance(v, bool)}


def logger_nodes(node) -> list:
    """The logger configs under ``logger``: one per chosen name (``logger.csv``, ``logger.tensorboard``, …), or the
    node itself when it names a ``_target_`` directly (a config written by hand)."""
    if node is None:
        return []
    if "_target_" in node:
        return [node]
    return [v for v in node.values() if v is not None and "_target_" in v]


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


class TensorBoardLogger:
    """Writes TensorBoard event files into ``<run folder>/tensorboard`` (``tensorboard --logdir runs``)."""

    def __init__(self, run_dir: str | Path, config: dict | None = None, *, subdir: str = "tensorboard"):
        from torch.utils.tensorboard import SummaryWriter

        self.writer = SummaryWriter(log_dir=str(Path(run_dir) / subdir))

    def log(self, step: int, metrics: dict) -> None:
        for k, v in scalars(metrics).items():
            self.writer.add_scalar(k, v, global_step=step)

    def finish(self, summary: dict) -> None:
        for k, v in scalars({"metrics": summary.get("metrics")}).items():
            self.writer.add_scalar("final/" + k.removeprefix("metrics/"), v, global_step=summary.get("step") or 0)
        self.writer.close()


class Loggers:
    """Several loggers as one."""

    def __init__(self, loggers: list):
        self.loggers = loggers

    def log(self, step: int, metrics: dict) -> None:
        for lg in self.loggers:
            lg.log(step, metrics)

    def finish(self, summary: dict) -> None:
        for lg in self.loggers:
            lg.finish(summary)


class WandbLogger:
    """Logs the same lines to Weights & Biases, in the run folder; offline unless ``mode=online``."""

    def __init__(
        self,
        run_dir: str | Path,
        config: dict | None = None,
        *,
        project: str = "archbench",
        entity: str | None = None,
        mode: str = "offline",
        group: str | None = None,
        tags: list | None = None,
    ):
        import wandb

        if group is None:
            group = sweep_name()  # the runs of one sweep together
        self.wandb = wandb
        self.run = wandb.init(
            project=project,
            entity=entity,
            mode=mode,
            group=group,
            tags=list(tags or []),
            dir=str(run_dir),
            name=Path(run_dir).name,
            config=config,
            reinit="finish_previous",
        )

    def log(self, step: int, metrics: dict) -> None:
        self.run.log(scalars(metrics), step=step)

    def finish(self, summary: dict) -> None:
        for k, v in scalars({k: summary.get(k) for k in ("metrics", "speed", "wall_s", "params")}).items():
            self.run.summary[k] = v
        self.run.summary["status"] = summary.get("status")
        self.run.finish(exit_code=0 if summary.get("status") == "completed" else 1)


def sweep_name() -> str | None:
    """The name of the sweep folder (``hydra.sweep.dir``) when this process runs a job of a multirun, else None."""
    try:
        from hydra.core.hydra_config import HydraConfig
        from hydra.types import RunMode

        hc = HydraConfig.get()
        return Path(hc.sweep.dir).name if hc.mode == RunMode.MULTIRUN else None
    except (ImportError, ValueError):  # not under @hydra.main (tests, notebooks)
        return None


class Logbook:
    """The run's lines: each goes to ``metrics.jsonl`` (``log``) and to the chosen loggers (``loggers``, set when
    the run starts), in the one format both read."""

    def __init__(self, log: MetricsLog):
        self.log, self.loggers = log, Loggers([])

    def step_loss(self, step: int, loss: float, lr: float) -> None:
        self.log.append({"step": step, "split": "train_step", "metrics": {"loss": loss}, "lr": lr})
        self.loggers.log(step, {"train": {"step_loss": loss}, "lr": lr})

    def train(self, step: int, loss: float, lr: float, rates: dict, time_s: float) -> None:
        self.log.append(
            {"step": step, "split": "train", "metrics": {"loss": loss}, "lr": lr, "throughput": rates, "time_s": time_s}
        )
        self.loggers.log(step, {"train": {"loss": loss}, "lr": lr, "speed": rates})

    def val(self, step: int, metrics: dict, lr: float, seconds: float, samples: int, time_s: float) -> None:
        self.log.append(
            {
                "step": step,
                "split": "val",
                "metrics": metrics,
                "lr": lr,
                "throughput": {"eval_samples_per_s": samples / seconds if seconds else None},
                "time_s": time_s,
            }
        )
        self.loggers.log(step, {"val": metrics})

    def test(self, step: int, metrics: dict, seconds: float, samples: int) -> None:
        throughput = {"eval_samples_per_s": samples / seconds if seconds else None}
        self.log.append({"step": step, "split": "test", "metrics": metrics, "throughput": throughput})

    def val_at(self, step: int) -> dict:
        """The metrics of the last validation line at or before ``step``."""
        lines = reversed(self.log.lines())
        return next((line["metrics"] for line in lines if line["split"] == "val" and line["step"] <= step), {})
