"""``train(cfg)``: build the task and the architecture from the config, train, evaluate, write the run record.

The harness knows nothing task- or architecture-specific: it calls ``task.train_batch``, ``model(*inputs)``,
``task.loss``, ``task.evaluate`` and ``task.long_range``, and writes what they return.
"""
from __future__ import annotations

import contextlib
import inspect
import math
import signal
import statistics
import sys
import time
from pathlib import Path

import torch
from hydra.errors import InstantiationException
from hydra.utils import get_class, instantiate
from omegaconf import DictConfig, OmegaConf
from tqdm.auto import tqdm

from harness import budget, checkpoint, optim, probes
from harness.errors import ConfigError, DivergedError
from harness.records import (CHECKPOINT, SUMMARY, MetricsLog, PeakMemory, environment, read_json, write_json,
                             write_jsonl)

OPTIMIZERS = ("adamw", "adam", "sgd", "rmsprop")


# -- building -------------------------------------------------------------------------------------------
def component_name(node: DictConfig) -> str:
    """``architectures.lstm.LSTM`` → ``lstm``: the module name is the registry name (one file each); for an
    architecture, the module of its ``backbone``."""
    return str(node.get("backbone") or node._target_).rsplit(".", 2)[-2]


def choice_name(cfg: DictConfig, group: str) -> str:
    """The name the user chose (``task=imdb`` → ``imdb``); without Hydra, the module name."""
    from hydra.core.hydra_config import HydraConfig

    if HydraConfig.initialized():
        chosen = HydraConfig.get().runtime.choices.get(group)
        if chosen:
            return str(chosen)
    return component_name(cfg[group])


def build(node: DictConfig, what: str, **runtime):
    """Instantiate ``node`` with runtime objects (spec, params, run_dir), turning bad settings into one
    clear ConfigError that names the valid ones. Runtime objects are passed as they are (Hydra would turn a
    dataclass such as the TaskSpec into a config)."""
    try:
        factory = instantiate(node, _partial_=True, _convert_="all")
    except InstantiationException as e:
        raise ConfigError(f"{what}: {e}") from None
    try:
        return factory(**runtime)
    except ConfigError:
        raise
    except TypeError as e:
        if "argument" not in str(e):
            raise
        try:
            params = [p for p in inspect.signature(get_class(node._target_)).parameters
                      if p not in ("self", "spec", "params", "run_dir", "config", "args", "kwargs")]
        except Exception:  # noqa: BLE001 - best effort only
            params = []
        raise ConfigError(f"{what} {component_name(node)}: {e}; valid settings: {', '.join(params)}") from None
    except ValueError as e:
        raise ConfigError(f"{what} {component_name(node)}: {e}") from None


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ConfigError(f"trainer.device={name!r} is not a device; use auto, cpu or cuda") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError("trainer.device=cuda but no CUDA device is available; use trainer.device=auto or cpu")
    return device


def check_trainer(t: DictConfig) -> None:
    positive = ("max_steps", "batch_size", "eval_every", "eval_batch_size", "ckpt_every")
    for key in positive:
        if not isinstance(t[key], int) or t[key] < 1:
            raise ConfigError(f"trainer.{key}={t[key]} must be a whole number ≥ 1")
    if t.warmup_steps < 0:
        raise ConfigError(f"trainer.warmup_steps={t.warmup_steps} must be ≥ 0")
    if not 0 <= t.min_lr_ratio <= 1:
        raise ConfigError(f"trainer.min_lr_ratio={t.min_lr_ratio} must be between 0 and 1 (the cosine's floor)")
    if not str(t.stop_metric).startswith("val/"):
        raise ConfigError(f"trainer.stop_metric={t.stop_metric!r} must name a validation metric, e.g. val/acc")
    if t.select not in ("last", "best"):
        raise ConfigError(f"trainer.select={t.select!r} is not known; use last or best")
    if t.schedule not in ("cosine", "constant"):
        raise ConfigError(f"trainer.schedule={t.schedule!r} is not known; use cosine or constant")
    if t.precision not in ("auto", "fp32", "bf16"):
        raise ConfigError(f"trainer.precision={t.precision!r} is not known; use auto, fp32 or bf16")
    if t.grad_clip is not None and t.grad_clip <= 0:
        raise ConfigError(f"trainer.grad_clip={t.grad_clip} must be > 0, or null to turn clipping off")
    if t.max_time_s is not None and t.max_time_s <= 0:
        raise ConfigError(f"trainer.max_time_s={t.max_time_s} must be > 0, or null for no time budget")
    if t.threads is not None and t.threads < 1:
        raise ConfigError(f"trainer.threads={t.threads} must be ≥ 1, or null for PyTorch's default")


def metric_direction(task, metric: str) -> str:
    """``max`` or ``min``: the task's declared direction of ``metric`` (``val/<name>``)."""
    key = metric.removeprefix("val/")
    if key not in task.directions:
        raise ConfigError(f"trainer.stop_metric={metric} has no declared direction in this task; use one of "
                          f"{', '.join('val/' + k for k in task.directions)}")
    return task.directions[key]


def lr_lambda(t: DictConfig):
    warmup, total, floor = t.warmup_steps, t.max_steps, t.min_lr_ratio

    def f(step: int) -> float:  # step = optimizer steps taken so far
        if warmup and step < warmup:
            return (step + 1) / warmup
        if t.schedule == "constant":
            return 1.0
        progress = min(1.0, (step - warmup) / max(1, total - warmup))
        return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress))

    return f


class StopFlag:
    """SIGINT/SIGTERM ask the loop to stop after the current step (a second Ctrl-C stops at once)."""

    def __init__(self):
        self.reason, self.old = None, {}

    def __enter__(self):
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                self.old[sig] = signal.signal(sig, self.handle)
            except ValueError:  # not the main thread (some launchers): keep the default behaviour
                pass
        return self

    def handle(self, signum, frame):
        if self.reason is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.reason = signal.Signals(signum).name

    def __exit__(self, *exc):
        for sig, old in self.old.items():
            signal.signal(sig, old)


def resolve_run_dir(cfg: DictConfig) -> Path:
    if cfg.get("run_dir"):
        return Path(cfg.run_dir)
    from hydra.core.hydra_config import HydraConfig

    if HydraConfig.initialized():
        return Path(HydraConfig.get().runtime.output_dir)
    raise ConfigError("no run folder: set run_dir=... (or run through run.py, which lets Hydra choose one)")


# -- the loop -------------------------------------------------------------------------------------------
class Trainer:
    def __init__(self, cfg: DictConfig):
        self.cfg, t = cfg, cfg.trainer
        self.run_dir = resolve_run_dir(cfg)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.ckpt_path, self.summary_path = self.run_dir / CHECKPOINT, self.run_dir / SUMMARY
        self.log = MetricsLog(self.run_dir)
        check_trainer(t)
        if not isinstance(cfg.seed, int):
            raise ConfigError(f"seed={cfg.seed!r} must be a whole number")
        if t.threads:
            torch.set_num_threads(int(t.threads))
        self.device = pick_device(str(t.device))
        self.bf16 = t.precision == "bf16" or (t.precision == "auto" and self.device.type == "cuda")
        torch.manual_seed(int(cfg.seed))
        if t.deterministic:
            torch.use_deterministic_algorithms(True, warn_only=True)
            torch.utils.deterministic.fill_uninitialized_memory = False  # NaN-filling new tensors costs ~20%/step
        self.task = build(cfg.task, "task")
        self.direction = metric_direction(self.task, str(t.stop_metric))
        self.budget = budget.fit(cfg, self.task.spec, lambda node, spec: build(node, "arch", spec=spec))
        self.model = build(cfg.arch, "arch", spec=self.task.spec).to(self.device)
        self.params = budget.count_params(self.model)
        groups, self.decay_record = optim.param_groups(self.model, float(cfg.optimizer.get("weight_decay") or 0.0))
        self.optimizer = build(cfg.optimizer, "optimizer", params=groups)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, lr_lambda(t))
        self.forward_model = torch.compile(self.model) if t.compile else self.model
        self.arch_name, self.task_name = choice_name(cfg, "arch"), choice_name(cfg, "task")

    def autocast(self):
        if self.bf16:
            return torch.autocast(self.device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def forward(self, batch):
        with self.autocast():
            return self.forward_model(*batch.inputs)

    def evaluate(self, split: str) -> tuple[dict, float, int]:
        """Metrics on ``split``, seconds taken, samples run through the (possibly compiled) model."""
        self.model.eval()
        t0, counted = time.perf_counter(), []

        def forward(_model, batch):
            counted.append(batch.n_samples)
            return self.forward_model(*batch.inputs)

        with self.autocast():  # also covers what tasks run themselves (e.g. decoding)
            metrics = self.task.evaluate(self.model, split, self.cfg.trainer.eval_batch_size, forward=forward)
        self.sync()
        self.model.train()
        return metrics, time.perf_counter() - t0, sum(counted)

    def sync(self):
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    def save_checkpoint(self):
        checkpoint.save(self.ckpt_path, step=self.step, model=self.model.state_dict(),
                        optimizer=self.optimizer.state_dict(), scheduler=self.scheduler.state_dict(),
                        task=self.task.state_dict(), rng=checkpoint.rng_state(self.device), state=self.state,
                        best_model=self.best_weights or {})

    def run(self) -> dict:
        cfg, t = self.cfg, self.cfg.trainer
        self.task.setup(self.device, int(cfg.seed))
        self.step = 0
        self.state = {"steps_to_target": None, "time_to_target_s": None, "train_time_s": 0.0, "samples": 0,
                      "tokens": 0, "eval_time_s": 0.0, "eval_samples": 0, "stop_reason": "max_steps",
                      "elapsed_s": 0.0, "best": None}
        self.best_weights = None  # the weights at the best validation result, with trainer.select=best
        if t.resume and self.ckpt_path.exists():
            ck = checkpoint.load(self.ckpt_path)
            self.model.load_state_dict(ck["model"])
            self.optimizer.load_state_dict(ck["optimizer"])
            self.scheduler.load_state_dict(ck["scheduler"])
            self.task.load_state_dict(ck["task"])
            checkpoint.set_rng_state(ck["rng"], self.device)
            self.step, self.state = int(ck["step"]), dict(ck["state"])
            self.best_weights = ck.get("best_model") or None
            st = self.state
            if st["stop_reason"] == "time" and (t.max_time_s is None or st["elapsed_s"] < t.max_time_s):
                st["stop_reason"] = "max_steps"  # a larger time budget lets the run go on
            self.log.truncate_after(self.step)
            print(f"resuming {self.run_dir} from step {self.step}", file=sys.stderr)
        elif self.log.path.exists():
            self.log.path.unlink()
        if self.step == 0 and t.probes:  # long-range probes at initialisation (a resumed run keeps its own)
            self.state["probes_init"] = probes.at_start(self.model, self.task)
        logger_cfg = OmegaConf.to_container(cfg, resolve=True)
        self.logger = build(cfg.logger, "logger", run_dir=str(self.run_dir), config=logger_cfg)
        self.peak = PeakMemory(self.device)
        self.step_times: list[float] = []
        self.status, self.error = "failed", None
        t_start = time.perf_counter() - self.state["elapsed_s"]
        try:
            with StopFlag() as stop:
                self.loop(stop, t_start)
                if stop.reason:
                    self.status, self.error = "interrupted", f"stopped by {stop.reason} at step {self.step}"
                else:
                    self.status = "completed"
        except DivergedError as e:
            self.status, self.error = "diverged", str(e)
        except KeyboardInterrupt:
            self.status, self.error = "interrupted", f"stopped by SIGINT at step {self.step}"
        except BaseException as e:
            self.status, self.error = "failed", f"{type(e).__name__}: {e}"
            self.finish(t_start)
            raise
        return self.finish(t_start)

    def loop(self, stop: StopFlag, t_start: float):
        t, task, model = self.cfg.trainer, self.task, self.model
        model.train()
        bar = tqdm(total=t.max_steps, initial=self.step, desc=f"{self.arch_name}/{self.task_name}",
                   disable=None if t.progress == "auto" else not t.progress, dynamic_ncols=True, leave=False)
        run_loss, run_n, last_val = 0.0, 0, {}
        last_eval = self.step
        try:
            while self.step < t.max_steps and not stop.reason and self.state["stop_reason"] == "max_steps":
                t0 = time.perf_counter()
                batch = task.train_batch(t.batch_size)
                logits = self.forward(batch)
                loss = task.loss(logits, batch)
                loss_value = loss.item()
                if not math.isfinite(loss_value):
                    raise DivergedError(f"loss is {loss_value} at step {self.step + 1} "
                                        f"(lr {self.scheduler.get_last_lr()[0]:.3g}); lower optimizer.lr or "
                                        "keep trainer.grad_clip on")
                self.optimizer.zero_grad(set_to_none=True)
                loss.backward()
                if t.grad_clip:
                    torch.nn.utils.clip_grad_norm_(model.parameters(), t.grad_clip)
                self.optimizer.step()
                self.scheduler.step()
                self.sync()
                dt = time.perf_counter() - t0
                self.step += 1
                self.step_times.append(dt)
                st = self.state
                st["train_time_s"] += dt
                st["samples"] += batch.n_samples
                st["tokens"] += batch.n_tokens
                run_loss, run_n = run_loss + loss_value, run_n + 1
                st["elapsed_s"] = time.perf_counter() - t_start
                out_of_time = t.max_time_s is not None and st["elapsed_s"] >= t.max_time_s
                if self.step % t.eval_every == 0 or self.step == t.max_steps or out_of_time or stop.reason:
                    lr = self.scheduler.get_last_lr()[0]
                    speed = {"train_samples_per_s": st["samples"] / st["train_time_s"],
                             "train_tokens_per_s": st["tokens"] / st["train_time_s"]}
                    self.log.append({"step": self.step, "split": "train", "metrics": {"loss": run_loss / run_n},
                                     "lr": lr, "throughput": speed, "time_s": st["elapsed_s"]})
                    self.logger.log(self.step, {"train": {"loss": run_loss / run_n}, "lr": lr, "speed": speed})
                    run_loss, run_n = 0.0, 0
                    last_val = self.eval_val(lr)
                    last_eval = self.step
                    if self.reached(last_val):
                        st["stop_reason"] = "target"
                        break
                if out_of_time:
                    st["stop_reason"] = "time"
                    break
                if self.step % t.ckpt_every == 0:
                    self.save_checkpoint()
                if self.step % 10 == 0 or self.step == 1:
                    shown = {"acc", task.main_metric, str(t.stop_metric).removeprefix("val/")}  # ↑/↓: its direction
                    val = {f"val_{k}" + ("↓" if task.directions.get(k) == "min" else "↑"): f"{v:.3f}"
                           for k, v in last_val.items() if k in shown}
                    bar.set_postfix(loss=f"{loss_value:.3f}", **val, sps=f"{st['samples'] / st['train_time_s']:.0f}",
                                    refresh=False)
                bar.update(self.step - bar.n)
        finally:
            bar.close()
        if last_eval != self.step:  # e.g. stopped by a signal between evaluations
            self.eval_val(self.scheduler.get_last_lr()[0])
        self.save_checkpoint()

    def monitored(self, val: dict) -> float:
        """The value of ``trainer.stop_metric`` (watched by stop_at and select=best) in a validation result."""
        metric = str(self.cfg.trainer.stop_metric)
        key = metric.removeprefix("val/")
        if key not in val:
            raise ConfigError(f"trainer.stop_metric={metric} is not a metric of this task; validation "
                              f"reports {', '.join('val/' + k for k, v in val.items() if isinstance(v, float))}")
        return val[key]

    def better(self, value: float, than: float, strict: bool = False) -> bool:
        """By the task's direction of ``stop_metric``; ``strict`` = ties do not count."""
        if self.direction == "min":
            return value < than if strict else value <= than
        return value > than if strict else value >= than

    def reached(self, val: dict) -> bool:
        t, st = self.cfg.trainer, self.state
        if t.stop_at is None:
            return False
        hit = self.better(self.monitored(val), t.stop_at)
        if hit and st["steps_to_target"] is None:
            st["steps_to_target"], st["time_to_target_s"] = self.step, st["elapsed_s"]
        return hit

    def eval_val(self, lr: float) -> dict:
        metrics, dt, n = self.evaluate("val")
        self.state["eval_time_s"] += dt
        self.state["eval_samples"] += n
        self.log.append({"step": self.step, "split": "val", "metrics": metrics, "lr": lr,
                         "throughput": {"eval_samples_per_s": n / dt if dt else None},
                         "time_s": self.state["elapsed_s"]})
        self.logger.log(self.step, {"val": metrics})
        if self.cfg.trainer.select == "best":
            value, best = self.monitored(metrics), self.state["best"]
            if best is None or self.better(value, best["value"], strict=True):
                self.state["best"] = {"step": self.step, "value": value}
                self.best_weights = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
        return metrics

    def finish(self, t_start: float) -> dict:
        st, t = self.state, self.cfg.trainer
        selected = self.step
        if self.status == "completed" and t.select == "best" and self.best_weights:
            self.model.load_state_dict(self.best_weights)  # test (and probe) the best validated weights
            selected = st["best"]["step"]
        val = next((line["metrics"] for line in reversed(self.log.lines())
                    if line["split"] == "val" and line["step"] <= selected), {})
        metrics, long_range, failure = {f"val/{k}": v for k, v in val.items()}, {}, None
        if self.status == "completed":  # an interrupted run keeps its last validation metrics only
            try:
                test, dt, n = self.evaluate("test")
                st["eval_time_s"] += dt
                st["eval_samples"] += n
                self.log.append({"step": self.step, "split": "test", "metrics": test,
                                 "throughput": {"eval_samples_per_s": n / dt if dt else None}})
                metrics.update({f"test/{k}": v for k, v in test.items()})
                long_range = self.task.long_range(test)
                for name, rows in self.task.artifacts().items():
                    write_jsonl(self.run_dir / f"{name}.jsonl", rows)
            except Exception as e:  # noqa: BLE001 - recorded, then raised after the summary is written
                self.status, self.error, failure = "failed", f"test evaluation: {type(e).__name__}: {e}", e
        long_range["steps_to_target"] = st["steps_to_target"]
        long_range["time_to_target_s"] = st["time_to_target_s"]
        long_range["target"] = {"metric": t.stop_metric, "value": t.stop_at}
        train_s = st["train_time_s"] or float("nan")
        times = self.step_times[5:] or self.step_times
        summary = {
            "status": self.status, "error": self.error, "arch": self.arch_name, "task": self.task_name,
            "seed": int(self.cfg.seed), "params": self.params, "run_dir": str(self.run_dir), "step": self.step,
            "stop_reason": st["stop_reason"] if self.status == "completed" else self.status,
            "selection": {"weights": t.select, "metric": t.stop_metric, "step": selected},
            "metrics": metrics,
            "speed": {"train_samples_per_s": st["samples"] / train_s, "train_tokens_per_s": st["tokens"] / train_s,
                      "step_ms": 1000 * statistics.median(times) if times else None,
                      "eval_samples_per_s": st["eval_samples"] / st["eval_time_s"] if st["eval_time_s"] else None,
                      "peak_mem_mb": self.peak.peak_mb(), "peak_mem_kind": self.peak.kind,
                      "precision": "bf16" if self.bf16 else "fp32", "compiled": bool(t.compile)},
            "long_range": long_range,
            "task_info": {**self.task.describe(), "main_metric": self.task.main_metric,
                          "directions": dict(self.task.directions), "spec": self.task.spec.to_dict()},
            "optimizer": self.decay_record,
            "arch_info": self.model.describe() if hasattr(self.model, "describe") else {},
            "budget": self.budget,
            "env": environment(self.device),
            "wall_s": time.perf_counter() - t_start,
            "config": OmegaConf.to_container(self.cfg, resolve=True),
        }
        if t.probes and self.status in ("completed", "interrupted"):  # after the speed/memory numbers
            long_range.update(probes.at_end(self.model, self.task, self.run_dir, st.get("probes_init")))
        write_json(self.summary_path, summary)
        self.logger.finish(summary)
        if failure is not None:
            raise failure
        return summary


def save_config(cfg: DictConfig, run_dir: Path) -> None:
    """``.hydra/config.yaml`` (resolved) and, under Hydra, ``.hydra/overrides.yaml``. The harness writes them
    (``hydra.output_subdir`` is null) so that a refused launch never touches the folder's existing record; a
    resumed run keeps the files of its first launch."""
    folder = run_dir / ".hydra"
    if (folder / "config.yaml").exists():
        return
    folder.mkdir(parents=True, exist_ok=True)
    OmegaConf.save(cfg, folder / "config.yaml", resolve=True)
    from hydra.core.hydra_config import HydraConfig

    if HydraConfig.initialized():
        OmegaConf.save(OmegaConf.create(list(HydraConfig.get().overrides.task)), folder / "overrides.yaml")


def train(cfg: DictConfig) -> dict:
    """Train one run described by ``cfg`` and return its summary (also written to ``summary.json``).

    Raises ConfigError (bad settings, before any training) and DivergedError (after writing the record).
    With ``trainer.resume=true`` a completed run is returned as recorded, a cut one continues from its
    checkpoint, and a missing one starts fresh.
    """
    run_dir = resolve_run_dir(cfg)
    old = read_json(run_dir / SUMMARY)
    if cfg.trainer.resume and old and old.get("status") == "completed":
        print(f"already completed: {run_dir / SUMMARY}", file=sys.stderr)
        return old
    if not cfg.trainer.resume and ((run_dir / CHECKPOINT).exists() or old is not None):
        raise ConfigError(f"{run_dir} already holds a run; pass trainer.resume=true to continue it, or choose "
                          "another hydra.run.dir")
    trainer = Trainer(cfg)
    save_config(cfg, run_dir)
    summary = trainer.run()
    if summary["status"] == "diverged":
        raise DivergedError(summary["error"])
    return summary
