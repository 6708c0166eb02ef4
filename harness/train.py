"""``train(cfg)``: build the task and the architecture from the config, train, evaluate, write the run record.

The harness knows nothing task- or architecture-specific: it calls ``task.train_batch``, ``model(*inputs)``,
``task.loss``, ``task.evaluate`` and ``task.long_range``, and writes what they return.
"""

from __future__ import annotations

import contextlib
import inspect
import math
import os
import sys
import time
from pathlib import Path

import torch
from hydra.errors import InstantiationException
from hydra.utils import get_class, instantiate
from omegaconf import DictConfig, OmegaConf
from tqdm.auto import tqdm

from core import faults
from core.errors import ConfigError, DivergedError
from core.files import atomic_write_bytes, remove_temp_files
from core.record import (
    CHECKPOINT,
    METRICS,
    RECORD_VERSION,
    SUMMARY,
    MetricsLog,
    metric_direction,
    read_record,
    write_json,
    write_jsonl,
)
from harness import (
    allocator,
    budget,
    checkpoint,
    checks,
    config_types,
    eager,
    lock,
    optim,
    precision,
    pretrain,
    probes,
    resume_check,
    slurm,
    speed,
    trainer_settings,
)
from harness.loggers import Loggers, logger_nodes
from harness.records import PeakMemory, environment
from harness.run_state import RunState
from harness.signals import StopFlag, StopRequested


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
    classes = checks.component_classes(node, what)  # one line for no _target_ or a class that cannot be imported
    try:
        factory = instantiate(node, _partial_=True, _convert_="all")
    except InstantiationException as e:
        raise ConfigError(f"{what}: {e}") from None
    settings = OmegaConf.to_container(node, resolve=True)
    for cls in classes:
        config_types.check(settings, cls, what)  # an architecture's settings: the model's and its backbone's
    try:
        return factory(**runtime)
    except ConfigError:
        raise
    except TypeError as e:
        if "argument" not in str(e):
            raise
        try:
            params = [
                p
                for p in inspect.signature(get_class(node._target_)).parameters
                if p not in ("self", "spec", "params", "run_dir", "config", "args", "kwargs")
            ]
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
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise ConfigError(
            f"trainer.device={name} does not exist; this machine has {torch.cuda.device_count()} "
            f"CUDA device(s): use cuda:0 … cuda:{torch.cuda.device_count() - 1}"
        )
    return device


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
        self.given = OmegaConf.to_container(cfg, resolve=True)  # as launched (budget.fit sets the width below)
        self.run_dir = resolve_run_dir(cfg)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.ckpt_path, self.summary_path = self.run_dir / CHECKPOINT, self.run_dir / SUMMARY
        self.log = MetricsLog(self.run_dir)
        trainer_settings.check(OmegaConf.to_container(t, resolve=True))
        if not isinstance(cfg.seed, int):
            raise ConfigError(f"seed={cfg.seed!r} must be a whole number")
        threads = t.threads or slurm.cpus_granted()  # in a SLURM job: the CPUs it was granted
        if threads:
            torch.set_num_threads(int(threads))
        self.check_busy = not threads  # said once the settings are known to be good, before training
        self.malloc = allocator.keep_freed_memory()  # big CPU tensors reuse freed heap blocks (no page faults)
        self.device = pick_device(str(t.device))
        if t.cuda_memory_fraction is not None and self.device.type == "cuda":  # runs sharing one GPU
            torch.cuda.set_per_process_memory_fraction(float(t.cuda_memory_fraction), self.device)
        torch.manual_seed(int(cfg.seed))
        if t.deterministic:
            if (
                self.device.type == "cuda"
            ):  # cuBLAS is repeatable only with a fixed workspace (else: a warning a matmul)
                os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
            if t.compile:
                torch.use_deterministic_algorithms(True, warn_only=True)
            else:  # the public wrapper imports torch._inductor (~3 s a start) only to set a flag for compiled code
                torch._C._set_deterministic_algorithms(True, warn_only=True)
            torch.utils.deterministic.fill_uninitialized_memory = False  # NaN-filling new tensors costs ~20%/step
        source = pretrain.Source(cfg.init_from) if cfg.get("init_from") else None
        if source:
            source.adapt(cfg)  # the source's architecture and tokenizer
        faults.point("setup")  # before the task's data and tokenizer are built
        self.task = build(cfg.task, "task")
        if source:
            source.check_task(self.task)
        self.direction = stop_direction(self.task, str(t.stop_metric))
        self.budget = budget.fit(cfg, self.task.spec, lambda node, spec: build(node, "arch", spec=spec))
        self.model = build(cfg.arch, "arch", spec=self.task.spec).to(self.device)
        self.params = budget.count_params(self.model)  # all of them, also those init_freeze holds fixed
        self.precision, self.precision_rule = precision.choose(str(t.precision), self.device, self.params)
        self.bf16 = self.precision == "bf16"
        self.init = source.load(self.model, cfg.get("init_freeze"), cfg.get("init_weights", True)) if source else None
        # matrices decay, the rest not; what init_freeze holds fixed (requires_grad off) is left out
        eager.keep_dynamo_out_of_training()  # the optimizer would import torch._dynamo (~1 s) to do nothing
        groups, self.decay_record = optim.param_groups(self.model, float(cfg.optimizer.get("weight_decay") or 0.0))
        self.optimizer = build(cfg.optimizer, "optimizer", params=groups)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, lr_lambda(t))
        self.forward_model = self.model
        if t.compile:
            self.forward_model = torch.compile(self.model, mode=None if t.compile_mode == "default" else t.compile_mode)
        # CUDA graphs (compile_mode reduce-overhead and max-autotune) reuse their output buffers: each step is
        # marked as new
        self.cuda_graphs = t.compile and t.compile_mode != "default" and self.device.type == "cuda"
        self.arch_name, self.task_name = choice_name(cfg, "arch"), choice_name(cfg, "task")
        note = pretrain.context_note(self.task.spec, getattr(self.model, "describe", dict)(), self.arch_name)
        self.notes = [note] if note else []
        for line in self.notes:
            print(line, file=sys.stderr)
        for name, text in self.task.run_files().items():  # e.g. the tokenizer, which init_from reuses
            atomic_write_bytes(self.run_dir / name, text.encode())
        # what run() and loop() fill in
        self.step, self.state = 0, RunState()  # progress (kept in the checkpoint with the step)
        self.best_weights: dict | None = None  # the weights at the best validation result, with trainer.select=best
        self.stop: StopFlag | None = None  # the signal flag of the run
        self.logger = None
        self.flops: int | None = None  # of one training step
        self.peak = PeakMemory(self.device)
        self.clock = speed.StepClock(self.device)
        self.meter = speed.SpeedMeter(self.state.speed, t.warmup_measure, compiled=bool(t.compile))
        self.status, self.error = "failed", None
        self.bar = None  # the progress bar of the loop
        self.losses: list[torch.Tensor] = []  # losses of the steps since the last check, on the device
        self.grad_norms: list[torch.Tensor] = []  # their gradient norms before clipping (with trainer.grad_clip)
        self.postfix: dict[str, str] = {}  # what the progress bar shows
        self.last_val: dict = {}  # the latest validation metrics
        self.line_start: tuple[int, float] = (0, 0.0)  # step and time of the last progress line
        self.last_train_loss: float | None = None

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
        checkpoint.save(
            self.ckpt_path,
            step=self.step,
            model=self.model.state_dict(),
            optimizer=self.optimizer.state_dict(),
            scheduler=self.scheduler.state_dict(),
            task=self.task.state_dict(),
            rng=checkpoint.rng_state(self.device),
            state=self.state.to_dict(),
            best_model=self.best_weights or {},
            config=self.given,
        )

    def restore(self, ck: dict) -> None:
        """Continue from checkpoint ``ck`` (settings already checked against this launch's)."""
        t, path = self.cfg.trainer, self.ckpt_path
        resume_check.restore("model", self.model.load_state_dict, ck["model"], path)
        resume_check.restore(
            "optimizer", lambda s: resume_check.load_optimizer(self.optimizer, s), ck["optimizer"], path
        )
        resume_check.restore("schedule", self.scheduler.load_state_dict, ck["scheduler"], path)
        resume_check.restore("task's data stream", self.task.load_state_dict, ck["task"], path)
        checkpoint.set_rng_state(ck["rng"], self.device)
        resume_check.restore("run state", self.set_state, ck["state"], path)
        self.step = int(ck["step"])
        self.best_weights = ck.get("best_model") or None
        st = self.state
        if st.stop_reason == "time" and (t.max_time_s is None or st.elapsed_s < t.max_time_s):
            st.stop_reason = "max_steps"  # a larger time budget lets the run go on
        self.log.truncate_after(self.step)
        print(f"resuming {self.run_dir} from step {self.step}", file=sys.stderr)

    def set_state(self, saved: dict) -> None:
        """The run state of a checkpoint (also an older checkpoint's flat layout); the speed meter counts on."""
        self.state = RunState.from_dict(saved)
        self.meter.state = self.state.speed

    def run(self, ck: dict | None = None, stop: StopFlag | None = None) -> dict:
        """Train (from checkpoint ``ck`` when given), evaluate, write the record. ``stop``: the signal flag
        (train() installs it before building anything); one is installed here when none is given."""
        if stop is None:
            with StopFlag() as stop:
                return self.run(ck, stop)
        cfg, t = self.cfg, self.cfg.trainer
        self.task.setup(self.device, int(cfg.seed))
        self.stop = stop
        if ck is not None:
            self.restore(ck)
        elif self.log.path.exists():
            self.log.path.unlink()
        logger_cfg = OmegaConf.to_container(cfg, resolve=True)
        self.logger = Loggers(
            [build(node, "logger", run_dir=str(self.run_dir), config=logger_cfg) for node in logger_nodes(cfg.logger)]
        )
        t_start = time.perf_counter() - self.state.elapsed_s
        try:
            self.flops = self.count_flops()
            self.peak = PeakMemory(self.device)  # from here: the count's activations are not the run's
            if self.step == 0 and t.probes:  # long-range probes at initialisation (a resumed run keeps its own)
                with stop.watching("probes_start"):
                    self.state.probes_init = probes.at_start(self.model, self.task, self.run_dir)
            if self.check_busy:
                warn_if_busy()
            self.loop(stop, t_start)
            if stop.reason:
                self.interrupted(stop.reason)
            else:
                self.status = "completed"
        except DivergedError as e:
            self.status, self.error = "diverged", str(e)
        except KeyboardInterrupt as e:  # a second Ctrl-C, or a signal during the first probes / an evaluation
            self.interrupted(e)
        except BaseException as e:
            self.status, self.error = "failed", f"{type(e).__name__}: {e}"
            self.finish(t_start)
            raise
        return self.finish(t_start)

    def count_flops(self) -> int:
        """FLOPs of one training step (forward + backward) on a batch like the run's, counted once; the model,
        the data stream and the random state are left as they were."""
        with torch.random.fork_rng(devices=[self.device] if self.device.type == "cuda" else []):
            stream = self.task.state_dict()
            batch = self.task.train_batch(self.cfg.trainer.batch_size)
            self.task.load_state_dict(stream)

        def step_loss(model):
            with self.autocast():
                logits = model(*batch.inputs)
            return self.task.loss(logits, batch)

        return speed.count_flops(self.model, step_loss, self.device)

    def train_step(self, batch) -> torch.Tensor:
        """One optimizer step on ``batch``; returns its loss, detached and on the device (no host sync)."""
        t = self.cfg.trainer
        if self.cuda_graphs:
            torch.compiler.cudagraph_mark_step_begin()
        loss = self.task.loss(self.forward(batch), batch)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if t.grad_clip:  # the norm before clipping, kept on the device until the next check
            self.grad_norms.append(torch.nn.utils.clip_grad_norm_(self.model.parameters(), t.grad_clip).detach())
        self.optimizer.step()
        faults.point("step")
        self.scheduler.step()
        return loss.detach()

    def check(self) -> None:
        """Wait for the device once for the steps since the last check: their losses must be finite (else the
        first step that was not is named), their times go to the speed meter."""
        if not self.losses:
            return
        st, t = self.state, self.cfg.trainer
        k = len(self.losses)
        both = torch.stack(self.losses + self.grad_norms).float().cpu()
        values, norms = both[:k], both[k:]  # (k,) losses and their gradient norms: the one host sync of k steps
        first, self.losses, self.grad_norms = self.step - k + 1, [], []
        if len(norms):
            st.grad_norm.add(norms, t.grad_clip)
        for seconds, samples, tokens in self.clock.read():
            self.meter.add(seconds, samples, tokens)
        bad = (~torch.isfinite(values)).nonzero().flatten().tolist()
        if bad:
            at = first + bad[0]
            lr = self.scheduler.base_lrs[0] * self.scheduler.lr_lambdas[0](at - 1)
            raise DivergedError(divergence_message(values[bad[0]].item(), at, lr, t.grad_clip))
        st.run_loss, st.run_n = st.run_loss + values.sum().item(), st.run_n + len(values)
        if t.log_every:  # the losses just synced: no extra wait for the device
            for i, v in enumerate(values.tolist()):
                if (first + i) % t.log_every == 0:
                    lr = self.lr_at(first + i)
                    self.log.append({"step": first + i, "split": "train_step", "metrics": {"loss": v}, "lr": lr})
                    self.logger.log(first + i, {"train": {"step_loss": v}, "lr": lr})
        rate = self.meter.rates()["train_samples_per_s"]
        self.postfix.update(loss=f"{values[-1].item():.3f}", sps=f"{rate:.0f}" if rate else "-")
        self.bar.set_postfix(self.postfix, refresh=False)

    def lr_at(self, step: int) -> float:
        """The learning rate that step ``step`` (1-based) trained with."""
        return self.scheduler.base_lrs[0] * self.scheduler.lr_lambdas[0](step - 1)

    def progress_line(self) -> None:
        """One line per evaluation on stderr when it is not a terminal (a file, nohup, a SLURM log), where the
        progress bar does not show."""
        t = self.cfg.trainer
        if t.progress is False or (t.progress == "auto" and sys.stderr.isatty()):
            return
        steps, seconds = self.step - self.line_start[0], time.perf_counter() - self.line_start[1]
        rate = steps / seconds if seconds > 0 and steps > 0 else None
        metric = str(t.stop_metric).removeprefix("val/")
        arrow = "↓" if self.direction == "min" else "↑"
        parts = [
            f"{self.arch_name}/{self.task_name} step {self.step}/{t.max_steps}",
            f"loss {self.last_train_loss:.4f}" if self.last_train_loss is not None else "loss -",
        ]
        if metric in self.last_val:
            parts.append(f"val/{metric}{arrow} {self.last_val[metric]:.4f}")
        parts.append(f"{rate:.2f} steps/s" if rate else "- steps/s")
        if rate:
            left = int((t.max_steps - self.step) / rate)
            parts.append(
                f"ETA {left // 3600}h{left % 3600 // 60:02d}m{left % 60:02d}s"
                if left >= 3600
                else f"ETA {left // 60}m{left % 60:02d}s"
            )
        print("  ".join(parts), file=sys.stderr, flush=True)

    def loop(self, stop: StopFlag, t_start: float):
        t, task, st = self.cfg.trainer, self.task, self.state
        self.model.train()
        self.bar = tqdm(
            total=t.max_steps,
            initial=self.step,
            desc=f"{self.arch_name}/{self.task_name}",
            disable=None if t.progress == "auto" else not t.progress,
            dynamic_ncols=True,
            leave=False,
        )
        self.losses, self.grad_norms, self.postfix, self.last_val = [], [], {}, {}
        self.line_start, self.last_train_loss = (self.step, time.perf_counter()), None  # for the progress lines
        try:
            if st.eval_due and self.after_step(stop):  # resumed where a signal cut an evaluation
                return
            while self.step < t.max_steps and not stop.reason and st.stop_reason == "max_steps":
                self.clock.start()
                batch = task.train_batch(t.batch_size)
                self.losses.append(self.train_step(batch))
                self.clock.stop(batch.n_samples, batch.n_tokens)
                self.step += 1
                st.elapsed_s = time.perf_counter() - t_start
                out_of_time = t.max_time_s is not None and st.elapsed_s >= t.max_time_s
                st.eval_due = self.step % t.eval_every == 0 or self.step == t.max_steps or out_of_time
                save = self.step % t.ckpt_every == 0
                if stop.reason or st.eval_due or save or len(self.losses) >= t.sync_every:
                    self.check()
                if stop.reason:  # checkpoint now; the evaluation due (if any) runs on resume, not in a grace period
                    break
                if st.eval_due or out_of_time:
                    self.clock.pause()  # what follows is not a training step
                if self.after_step(stop):
                    break
                if save:
                    self.clock.pause()
                    self.save_checkpoint()
                self.bar.update(self.step - self.bar.n)
        except KeyboardInterrupt:
            self.check()
            self.save_checkpoint()  # an evaluation cut by a signal: the steps are kept, it reruns on resume
            raise
        finally:
            self.bar.close()
        self.check()
        self.save_checkpoint()

    def after_step(self, stop: StopFlag) -> bool:
        """The evaluation due at this step (also one a signal cut short, after a resume), then the target and
        the time budget; True = stop training."""
        st, t = self.state, self.cfg.trainer
        if t.probes and self.step == t.get("probe_early_step") and st.probes_early is None:
            with stop.watching("probes_early"):  # the gradient curve early in training (C3), once per run
                st.probes_early = probes.early(self.model, self.task, self.step) or {}  # {}: taken, none
        if st.eval_due:
            with stop.watching("eval"):
                self.last_val = self.eval_val()
            st.eval_due = False
            shown = {"acc", self.task.main_metric, str(t.stop_metric).removeprefix("val/")}  # ↑/↓: its direction
            self.postfix.update(
                {
                    f"val_{k}" + ("↓" if self.task.directions.get(k) == "min" else "↑"): f"{v:.3f}"
                    for k, v in self.last_val.items()
                    if k in shown
                }
            )
            self.progress_line()
            if self.reached(self.last_val):
                st.stop_reason = "target"
                return True
        if t.max_time_s is not None and st.elapsed_s >= t.max_time_s:
            st.stop_reason = "time"
            return True
        return False

    def monitored(self, val: dict) -> float:
        """The value of ``trainer.stop_metric`` (watched by stop_at and select=best) in a validation result."""
        metric = str(self.cfg.trainer.stop_metric)
        key = metric.removeprefix("val/")
        if key not in val:
            raise ConfigError(
                f"trainer.stop_metric={metric} is not a metric of this task; validation "
                f"reports {', '.join('val/' + k for k, v in val.items() if isinstance(v, float))}"
            )
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
        if hit and st.steps_to_target is None:
            st.steps_to_target, st.time_to_target_s = self.step, st.elapsed_s
        return hit

    def eval_val(self) -> dict:
        """A validation pass; then the running training loss and the validation line (both or neither)."""
        st, lr = self.state, self.scheduler.get_last_lr()[0]
        metrics, dt, n = self.evaluate("val")
        rates = self.meter.rates()
        train_loss = st.run_loss / max(1, st.run_n)
        self.last_train_loss = train_loss
        self.log.append(
            {
                "step": self.step,
                "split": "train",
                "metrics": {"loss": train_loss},
                "lr": lr,
                "throughput": rates,
                "time_s": st.elapsed_s,
            }
        )
        self.logger.log(self.step, {"train": {"loss": train_loss}, "lr": lr, "speed": rates})
        st.run_loss, st.run_n = 0.0, 0
        st.eval_time_s += dt
        st.eval_samples += n
        self.log.append(
            {
                "step": self.step,
                "split": "val",
                "metrics": metrics,
                "lr": lr,
                "throughput": {"eval_samples_per_s": n / dt if dt else None},
                "time_s": st.elapsed_s,
            }
        )
        self.logger.log(self.step, {"val": metrics})
        if self.cfg.trainer.select == "best":
            value, best = self.monitored(metrics), st.best
            if best is None or self.better(value, best["value"], strict=True):
                st.best = {"step": self.step, "value": value}
                self.best_weights = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
        return metrics

    def interrupted(self, cause: str | KeyboardInterrupt, where: str | None = None) -> None:
        """Mark the run interrupted by ``cause`` (the signal's name, or the KeyboardInterrupt it raised)."""
        reason = cause if isinstance(cause, str) else str(cause) if isinstance(cause, StopRequested) else "SIGINT"
        during = f" during {where}" if where else ""
        self.status, self.error = "interrupted", f"stopped by {reason}{during} at step {self.step}"

    def finish(self, t_start: float) -> dict:
        """Test the selected weights, run the probes, write the record (also for a failed or cut run)."""
        selected = self.select()
        val = next(
            (
                line["metrics"]
                for line in reversed(self.log.lines())
                if line["split"] == "val" and line["step"] <= selected
            ),
            {},
        )
        metrics = {f"val/{k}": v for k, v in val.items()}
        test, long_range, failure = self.test()
        metrics.update({f"test/{k}": v for k, v in test.items()})
        peak_mb = self.peak.peak_mb()  # before the probes
        long_range.update(self.probes_at_end())
        if self.status == "interrupted":  # an interrupted run keeps its last validation metrics only: resuming
            metrics, long_range = {k: v for k, v in metrics.items() if k.startswith("val/")}, {}  # redoes the rest
        summary = self.record(t_start, selected, metrics, long_range, peak_mb)
        if failure is not None:
            raise failure
        return summary

    def select(self) -> int:
        """Load the weights the record reports (the best validated ones with trainer.select=best); their step."""
        if self.status == "completed" and self.cfg.trainer.select == "best" and self.best_weights:
            self.model.load_state_dict(self.best_weights)  # test (and probe) the best validated weights
            return self.state.best["step"]
        return self.step

    def test(self) -> tuple[dict, dict, Exception | None]:
        """The test evaluation of a completed run: (test metrics, long-range figures, the failure to raise after
        the record is written). A signal marks the run interrupted; an error, failed."""
        if self.status != "completed":
            return {}, {}, None
        try:
            with self.stop.watching("test"):
                test, dt, n = self.evaluate("test")
            self.state.eval_time_s += dt
            self.state.eval_samples += n
            self.log.append(
                {
                    "step": self.step,
                    "split": "test",
                    "metrics": test,
                    "throughput": {"eval_samples_per_s": n / dt if dt else None},
                }
            )
            long_range = self.task.long_range(test)
            for name, rows in self.task.artifacts().items():
                write_jsonl(self.run_dir / f"{name}.jsonl", rows)
            return test, long_range, None
        except KeyboardInterrupt as e:
            self.interrupted(e, "the test evaluation")
        except Exception as e:  # noqa: BLE001 - recorded, then raised after the summary is written
            self.status, self.error = "failed", f"test evaluation: {type(e).__name__}: {e}"
            return {}, {}, e
        return {}, {}, None

    def probes_at_end(self) -> dict:
        """The long-range probes of a completed run (trainer.probes), compared with those at initialisation."""
        if not (self.cfg.trainer.probes and self.status == "completed"):
            return {}
        try:
            with self.stop.watching("probes"):
                out = probes.at_end(
                    self.model, self.task, self.run_dir, self.state.probes_init, self.state.probes_early
                )
                if self.cfg.trainer.get("probe_head_ablation"):
                    out.update(probes.head_ablation(self.model, self.task, self.cfg.trainer.eval_batch_size))
                if self.cfg.trainer.get("probe_source_masking"):
                    out.update(probes.source_masking(self.model, self.task, self.cfg.trainer.eval_batch_size))
                return out
        except KeyboardInterrupt as e:
            self.interrupted(e, "the probes")
            return {}

    def record(self, t_start: float, selected: int, metrics: dict, long_range: dict, peak_mb) -> dict:
        """Write ``summary.json`` (and hand it to the logger)."""
        st, t = self.state, self.cfg.trainer
        long_range["steps_to_target"] = st.steps_to_target
        long_range["time_to_target_s"] = st.time_to_target_s
        long_range["target"] = {"metric": t.stop_metric, "value": t.stop_at}
        peak = speed.peak_tflops(
            torch.cuda.get_device_name(self.device) if self.device.type == "cuda" else None,
            self.precision,
            t.peak_tflops,
        )
        summary = {
            "record_version": RECORD_VERSION,
            "status": self.status,
            "error": self.error,
            "arch": self.arch_name,
            "task": self.task_name,
            "seed": int(self.cfg.seed),
            "params": self.params,
            "run_dir": str(self.run_dir),
            "step": self.step,
            "stop_reason": st.stop_reason if self.status == "completed" else self.status,
            "selection": {"weights": t.select, "metric": t.stop_metric, "step": selected},
            "metrics": metrics,
            "grad_norm": st.grad_norm.summary(t.grad_clip),
            "speed": {
                **self.meter.summary(self.flops, peak),
                "eval_samples_per_s": st.eval_samples / st.eval_time_s if st.eval_time_s else None,
                "peak_mem_mb": peak_mb,
                "peak_mem_kind": self.peak.kind,
                "precision": self.precision,
                "precision_rule": self.precision_rule,
                "compiled": bool(t.compile),
                "compile_mode": t.compile_mode if t.compile else None,
            },
            "long_range": long_range,
            "task_info": {
                **self.task.describe(),
                "main_metric": self.task.main_metric,
                "data_fingerprint": self.task.data_fingerprint(),
                "directions": dict(self.task.directions),
                "spec": self.task.spec.to_dict(),
            },
            "optimizer": self.decay_record,
            "arch_info": self.model.describe() if hasattr(self.model, "describe") else {},
            "init": self.init,
            "notes": self.notes,
            "budget": self.budget,
            "env": {**environment(self.device), "malloc": self.malloc},
            "wall_s": time.perf_counter() - t_start,
            "config": OmegaConf.to_container(self.cfg, resolve=True),
        }
        write_json(self.summary_path, summary)
        self.logger.finish(summary)
        return summary


def warn_if_busy() -> None:
    """With trainer.threads unset: one line when the machine is busier than its cores. PyTorch's OpenMP threads
    then wait on each other (a 2-thread run on a busy 2-core machine was measured ~100x slower per step than
    quiet, a 1-thread run ~3x)."""
    try:
        load, cores = os.getloadavg()[0], os.cpu_count() or 1
    except OSError:  # no load average on this platform
        return
    if load > cores:
        print(
            f"warning: this machine is busy (load average {load:.1f} on {cores} cores); "
            f"add trainer.threads=1 for a faster run",
            file=sys.stderr,
            flush=True,
        )


def divergence_message(loss: float, step: int, lr: float, grad_clip: float | None) -> str:
    if step == 1:  # the first batch's loss comes before any update: no learning rate can have caused it
        return f"loss is {loss} at step 1, before any update: the forward produced non-finite values; {checks.NOT_LR}"
    fix = (
        f"lower optimizer.lr (gradient clipping is on at trainer.grad_clip={grad_clip}; a smaller value clips harder)"
        if grad_clip
        else "lower optimizer.lr, or turn gradient clipping on (trainer.grad_clip=1.0)"
    )
    return f"loss is {loss} at step {step} (lr {lr:.3g}); {fix}"


def save_config(cfg: DictConfig, run_dir: Path, fresh: bool) -> None:
    """``.hydra/config.yaml`` (resolved) and, under Hydra, ``.hydra/overrides.yaml``. The harness writes them
    (``hydra.output_subdir`` is null) so that a refused launch never touches the folder's existing record; a
    resumed run keeps the files of its first launch, a fresh start (no checkpoint) writes its own."""
    folder = run_dir / ".hydra"
    if not fresh and (folder / "config.yaml").exists():
        return
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(folder / "config.yaml", OmegaConf.to_yaml(cfg, resolve=True).encode())
    from hydra.core.hydra_config import HydraConfig

    overrides = folder / "overrides.yaml"
    if HydraConfig.initialized():
        atomic_write_bytes(
            overrides, OmegaConf.to_yaml(OmegaConf.create(list(HydraConfig.get().overrides.task))).encode()
        )
    else:
        overrides.unlink(missing_ok=True)  # an earlier launch's overrides would misstate this one's


def train(cfg: DictConfig) -> dict:
    """Train one run described by ``cfg`` and return its summary (also written to ``summary.json``).

    Raises ConfigError (bad settings, before any training) and DivergedError (after writing the record).
    With ``trainer.resume=true`` (or ``auto``, what SLURM jobs get) a completed run is returned as recorded, a
    cut one continues from its checkpoint (whose settings must match), and a missing one starts fresh. The run
    folder is locked for the whole call, and SIGINT/SIGTERM/SIGUSR2 are honoured from the start; in a SLURM job
    an interrupted run then hands over to SLURM (:func:`harness.slurm.hand_over`).
    """
    run_dir = resolve_run_dir(cfg)
    with lock.hold(run_dir), StopFlag() as stop:
        remove_temp_files(run_dir)  # left by a write that a crash cut short
        ckpt, resume = run_dir / CHECKPOINT, cfg.trainer.resume in (True, "auto")
        ck = None
        if resume and ckpt.exists():
            ck = resume_check.load(ckpt)
            resume_check.check_settings(ck, OmegaConf.to_container(cfg, resolve=True), ckpt)
        old = read_record(run_dir / SUMMARY)
        if resume and ck is None and old and isinstance(old.get("config"), dict):  # no checkpoint: the record's
            resume_check.check_settings(old, OmegaConf.to_container(cfg, resolve=True), run_dir / SUMMARY, "record")
        if resume and old and old.get("status") == "completed":
            print(f"already completed: {run_dir / SUMMARY}", file=sys.stderr)
            return {**old, "run_dir": str(run_dir)}  # the folder it is in now (it may have been moved)
        if not resume and (ckpt.exists() or old is not None or (run_dir / METRICS).exists()):
            raise ConfigError(
                f"{run_dir} already holds a run; pass trainer.resume=true to continue it, or choose "
                "another hydra.run.dir"
            )
        try:  # a signal during set-up (data, tokenizer, model) stops it at once: nothing is trained or recorded yet
            with stop.stopping_at_once():
                trainer = Trainer(cfg)
        except StopRequested:
            trainer = None
        if trainer is None:
            pass
        elif resume and ck is None and old:  # a diverged or failed run that left no checkpoint: start over, keep it
            status = old.get("status") if old.get("status") in ("diverged", "failed", "interrupted") else "old"
            kept = run_dir / f"summary.{status}.json"
            os.replace(run_dir / SUMMARY, kept)
            print(
                f"note: {run_dir} holds a {status} run with no checkpoint to resume from; starting "
                f"over, its record kept as {kept.name}",
                file=sys.stderr,
            )
        if trainer is not None:
            save_config(cfg, run_dir, fresh=ck is None)
            summary = trainer.run(ck, stop)
    if trainer is None:
        print(f"interrupted ({stop.reason}) during set-up, before training; nothing was recorded", file=sys.stderr)
        slurm.hand_over(stop.reason)  # in a SLURM job: requeued, and the run starts again
        raise StopRequested(stop.reason)
    if summary["status"] == "interrupted":
        slurm.hand_over(stop.reason)  # in a SLURM job: requeue (no step lost), never reported finished
    if summary["status"] == "diverged":
        raise DivergedError(summary["error"])
    return summary
