"""What a run shows while it trains: a tqdm bar on a terminal (loss, samples/s, the watched validation metrics),
and one line per evaluation on stderr where the bar does not show (a file, nohup, a SLURM log)."""

from __future__ import annotations

import sys
import time

from tqdm.auto import tqdm

from harness.callbacks import Callback


class Progress(Callback):
    def __init__(self, setting, title: str, max_steps: int, stop_metric: str, direction: str, directions: dict):
        self.setting, self.title, self.max_steps = setting, title, max_steps  # setting: trainer.progress
        self.metric, self.direction, self.directions = stop_metric.removeprefix("val/"), direction, directions
        self.bar = None
        self.postfix: dict[str, str] = {}
        self.last_val: dict = {}
        self.line_start: tuple[int, float] = (0, 0.0)  # step and time of the last progress line

    def open(self, step: int) -> None:
        self.bar = tqdm(
            total=self.max_steps,
            initial=step,
            desc=self.title,
            disable=None if self.setting == "auto" else not self.setting,
            dynamic_ncols=True,
            leave=False,
        )
        self.postfix, self.last_val, self.line_start = {}, {}, (step, time.perf_counter())

    def close(self) -> None:
        self.bar.close()

    def on_step(self, trainer) -> None:
        self.bar.update(trainer.step - self.bar.n)

    def losses(self, last: float, samples_per_s: float | None) -> None:
        """After a check: the last step's loss and the training rate."""
        self.postfix.update(loss=f"{last:.3f}", sps=f"{samples_per_s:.0f}" if samples_per_s else "-")
        self.bar.set_postfix(self.postfix, refresh=False)

    def on_validation(self, trainer, metrics: dict) -> None:
        self.last_val = metrics
        shown = {"acc", trainer.task.main_metric, self.metric}  # ↑/↓: its direction
        self.postfix.update(
            {
                f"val_{k}" + ("↓" if self.directions.get(k) == "min" else "↑"): f"{v:.3f}"
                for k, v in metrics.items()
                if k in shown
            }
        )
        self.line(trainer.step, trainer.last_train_loss)

    def line(self, step: int, train_loss: float | None) -> None:
        """One line per evaluation on stderr when it is not a terminal, where the progress bar does not show."""
        if self.setting is False or (self.setting == "auto" and sys.stderr.isatty()):
            return
        steps, seconds = step - self.line_start[0], time.perf_counter() - self.line_start[1]
        rate = steps / seconds if seconds > 0 and steps > 0 else None
        arrow = "↓" if self.direction == "min" else "↑"
        parts = [
            f"{self.title} step {step}/{self.max_steps}",
            f"loss {train_loss:.4f}" if train_loss is not None else "loss -",
        ]
        if self.metric in self.last_val:
            parts.append(f"val/{self.metric}{arrow} {self.last_val[self.metric]:.4f}")
        parts.append(f"{rate:.2f} steps/s" if rate else "- steps/s")
        if rate:
            left = int((self.max_steps - step) / rate)
            parts.append(
                f"ETA {left // 3600}h{left % 3600 // 60:02d}m{left % 60:02d}s"
                if left >= 3600
                else f"ETA {left // 60}m{left % 60:02d}s"
            )
        print("  ".join(parts), file=sys.stderr, flush=True)
