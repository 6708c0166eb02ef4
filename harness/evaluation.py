"""Evaluation and the choice of weights: a pass over a split (:class:`Evaluator`) and what the run watches in
its validation results (:class:`Selection`: the direction of ``trainer.stop_metric``, the target ``stop_at``, and
with ``trainer.select=best`` the best validated weights, which the test then evaluates)."""

from __future__ import annotations

import time

import torch
from omegaconf import DictConfig

from core.errors import ConfigError
from core.record import metric_direction, write_jsonl


def stop_direction(task, metric: str) -> str:
    """``max`` or ``min``: the task's declared direction of ``metric`` (``val/<name>``)."""
    key = metric.removeprefix("val/")
    direction = None if "/" in key else metric_direction(task.directions, key)
    if direction is None:
        raise ConfigError(
            f"trainer.stop_metric={metric} has no declared direction in this task; use one of "
            f"{', '.join('val/' + k for k in task.directions)}"
        )
    return direction


class Evaluator:
    """``evaluate(split)``: the task's metrics on ``split`` through the (possibly compiled) model, under the run's
    autocast; with the seconds taken and the samples run."""

    def __init__(self, task, model, forward_model, autocast, device: torch.device, batch_size: int):
        self.task, self.model, self.forward_model, self.autocast = task, model, forward_model, autocast
        self.device, self.batch_size = device, batch_size

    def evaluate(self, split: str) -> tuple[dict, float, int]:
        self.model.eval()
        t0, counted = time.perf_counter(), []

        def forward(_model, batch):
            counted.append(batch.n_samples)
            return self.forward_model(*batch.inputs)

        with self.autocast():  # also covers what tasks run themselves (e.g. decoding)
            metrics = self.task.evaluate(self.model, split, self.batch_size, forward=forward)
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        self.model.train()
        return metrics, time.perf_counter() - t0, sum(counted)


class Selection:
    """``trainer.stop_metric`` in the validation results: whether ``stop_at`` is reached (the step and time it
    first was go to the run state), and with ``select=best`` the weights of the best result so far."""

    def __init__(self, t: DictConfig, direction: str):
        self.metric, self.stop_at, self.mode, self.direction = str(t.stop_metric), t.stop_at, t.select, direction
        self.best_weights: dict | None = None  # the weights at the best validation result (select=best)

    def monitored(self, val: dict) -> float:
        """The value of ``trainer.stop_metric`` (watched by stop_at and select=best) in a validation result."""
        key = self.metric.removeprefix("val/")
        if key not in val:
            raise ConfigError(
                f"trainer.stop_metric={self.metric} is not a metric of this task; validation "
                f"reports {', '.join('val/' + k for k, v in val.items() if isinstance(v, float))}"
            )
        return val[key]

    def better(self, value: float, than: float, strict: bool = False) -> bool:
        """By the task's direction of ``stop_metric``; ``strict`` = ties do not count."""
        if self.direction == "min":
            return value < than if strict else value <= than
        return value > than if strict else value >= than

    def reached(self, val: dict, state, step: int) -> bool:
        if self.stop_at is None:
            return False
        hit = self.better(self.monitored(val), self.stop_at)
        if hit and state.steps_to_target is None:
            state.steps_to_target, state.time_to_target_s = step, state.elapsed_s
        return hit

    def consider(self, val: dict, state, step: int, model: torch.nn.Module) -> None:
        """With select=best: keep the weights when ``val`` is better than the best so far (ties do not count)."""
        if self.mode != "best":
            return
        value, best = self.monitored(val), state.best
        if best is None or self.better(value, best["value"], strict=True):
            state.best = {"step": step, "value": value}
            self.best_weights = {k: v.detach().clone() for k, v in model.state_dict().items()}

    def load(self, completed: bool, state, step: int, model: torch.nn.Module) -> int:
        """Load the weights the record reports (the best validated ones with select=best); their step."""
        if completed and self.mode == "best" and self.best_weights:
            model.load_state_dict(self.best_weights)  # test (and probe) the best validated weights
            return state.best["step"]
        return step


def test(tr) -> tuple[dict, dict, Exception | None]:
    """The test evaluation of trainer ``tr`` once it completed: (test metrics, long-range figures, the failure to
    raise after the record is written). A signal marks the run interrupted; an error, failed."""
    if tr.status != "completed":
        return {}, {}, None
    try:
        with tr.stop.watching("test"):
            metrics, dt, n = tr.evaluator.evaluate("test")
        tr.state.eval_time_s += dt
        tr.state.eval_samples += n
        tr.logbook.test(tr.step, metrics, dt, n)
        long_range = tr.task.long_range(metrics)
        for name, rows in tr.task.artifacts().items():
            write_jsonl(tr.run_dir / f"{name}.jsonl", rows)
        return metrics, long_range, None
    except KeyboardInterrupt as e:
        tr.interrupted(e, "the test evaluation")
    except Exception as e:  # noqa: BLE001 - recorded, then raised after the summary is written
        tr.status, tr.error = "failed", f"test evaluation: {type(e).__name__}: {e}"
        return {}, {}, e
    return {}, {}, None
