"""``train(cfg)``: build the task and the architecture from the config, train, evaluate, write the run record.

The harness knows nothing task- or architecture-specific: it calls ``task.train_batch``, ``model(*inputs)``,
``task.loss``, ``task.evaluate`` and ``task.long_range``, and writes what they return. The :class:`Trainer` keeps
the loop; set-up (:mod:`harness.machine`), evaluation and selection (:mod:`harness.evaluation`), the speed meter
(:mod:`harness.speed`), progress (:mod:`harness.progress`), the loggers (:mod:`harness.loggers`), the probes
(:mod:`harness.probe_callbacks`) and the record (:mod:`harness.record_writer`) are its components, called at fixed
points of the loop (:mod:`harness.callbacks`).
"""

from __future__ import annotations

import contextlib
import os
import sys
import time

import torch
from omegaconf import DictConfig, OmegaConf

from core import faults
from core.errors import ConfigError, DivergedError
from core.files import atomic_write_bytes, remove_temp_files
from core.record import CHECKPOINT, METRICS, SUMMARY, MetricsLog, read_record
from harness import (
    budget,
    checkpoint,
    checks,
    evaluation,
    lock,
    machine,
    optim,
    precision,
    pretrain,
    probe_callbacks,
    quarantine,
    resume_check,
    slurm,
    speed,
    trainer_settings,
)
from harness.assembly import build, choice_name, component_name, lr_lambda, resolve_run_dir, save_config
from harness.callbacks import Callbacks
from harness.evaluation import Evaluator, Selection, stop_direction
from harness.loggers import Logbook, Loggers, logger_nodes
from harness.machine import pick_device, warn_if_busy
from harness.progress import Progress
from harness.record_writer import write_record
from harness.run_state import RunState
from harness.signals import StopFlag, StopRequested

# the helpers that lived here before the components: still importable from here
__all__ = ["Trainer", "build", "component_name", "pick_device", "stop_direction", "train", "warn_if_busy"]


class Trainer:
    """One run: :meth:`run` trains (from a checkpoint when given), evaluates and writes the record."""

    def __init__(self, cfg: DictConfig):
        self.cfg, t = cfg, cfg.trainer
        self.given = OmegaConf.to_container(cfg, resolve=True)  # as launched
        self.run_dir = resolve_run_dir(cfg)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.ckpt_path, self.summary_path = self.run_dir / CHECKPOINT, self.run_dir / SUMMARY
        self.logbook = Logbook(MetricsLog(self.run_dir))
        trainer_settings.check(OmegaConf.to_container(t, resolve=True))
        if not isinstance(cfg.seed, int):
            hint = " (a list of seeds needs trainer.seeds_batched=true)" if OmegaConf.is_list(cfg.seed) else ""
            raise ConfigError(f"seed={cfg.seed!r} must be a whole number{hint}")
        self.machine = machine.prepare(t, int(cfg.seed))
        self.device = self.machine.device
        build_parts(self, cfg, t)
        self.step, self.state = 0, RunState()  # progress (kept in the checkpoint with the step)
        self.stop: StopFlag | None = None  # the signal flag of the run
        self.flops: int | None = None  # of one training step
        self.peak = speed.PeakMemory(self.device)
        self.clock = speed.StepClock(self.device)
        self.meter = speed.SpeedMeter(self.state.speed, t.warmup_measure, compiled=bool(t.compile))
        self.status, self.error = "failed", None
        # the losses of the steps since the last check and their gradient norms before clipping, on the device
        self.losses, self.grad_norms = [], []
        self.last_train_loss: float | None = None
        batch = t.eval_batch_size
        self.evaluator = Evaluator(self.task, self.model, self.forward_model, self.autocast, self.device, batch)
        self.selection = Selection(t, self.direction)
        title, directions = f"{self.arch_name}/{self.task_name}", self.task.directions
        self.progress = Progress(t.progress, title, t.max_steps, str(t.stop_metric), self.direction, directions)
        self.probes = Callbacks(probe_callbacks.configured(cfg))
        self.callbacks = Callbacks([*self.probes.items, self.machine, self.progress])

    def autocast(self):
        if self.precision == "bf16":
            return torch.autocast(self.device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def forward(self, batch):
        with self.autocast():
            return self.forward_model(*batch.inputs)

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
        t_start = begin(self, ck, stop)
        return self.guarded(t_start, lambda: self.loop(stop, t_start))

    def start(self) -> None:
        """Before the first step: the step's FLOPs, the memory meter, the components' start (e.g. the probes)."""
        self.flops = speed.step_flops(self)
        self.peak = speed.PeakMemory(self.device)  # from here: the count's activations are not the run's
        self.callbacks.on_start(self)  # e.g. the probes at initialisation (a resumed run keeps its own)

    def guarded(self, t_start: float, body) -> dict:
        """Start, ``body()`` (the training), then the status it ended with; finish (the record) in every case."""
        try:
            self.start()
            body()
            if self.stop.reason:
                self.interrupted(self.stop.reason)
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

    def train_step(self, batch) -> torch.Tensor:
        """One optimizer step on ``batch``; returns its loss, detached and on the device (no host sync)."""
        if self.cuda_graphs:
            torch.compiler.cudagraph_mark_step_begin()
        loss = self.task.loss(self.forward(batch), batch)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.update()
        return loss.detach()

    def update(self) -> None:
        """Clip the gradients (their norm before clipping kept on the device until the next check), step, schedule."""
        if self.cfg.trainer.grad_clip:
            norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.cfg.trainer.grad_clip)
            self.grad_norms.append(norm.detach())
        self.optimizer.step()
        faults.point("step")
        self.scheduler.step()

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
            raise DivergedError(divergence_message(values[bad[0]].item(), at, self.lr_at(at), t.grad_clip))
        st.run_loss, st.run_n = st.run_loss + values.sum().item(), st.run_n + len(values)
        if t.log_every:  # the losses just synced: no extra wait for the device
            for i, v in enumerate(values.tolist()):
                if (first + i) % t.log_every == 0:
                    self.logbook.step_loss(first + i, v, self.lr_at(first + i))
        self.progress.losses(values[-1].item(), self.meter.rates()["train_samples_per_s"])

    def lr_at(self, step: int) -> float:
        """The learning rate that step ``step`` (1-based) trained with."""
        return self.scheduler.base_lrs[0] * self.scheduler.lr_lambdas[0](step - 1)

    def loop(self, stop: StopFlag, t_start: float):
        t = self.cfg.trainer
        try:
            if self.open_loop(stop):  # resumed where a signal cut an evaluation, and it stopped the run
                return
            while self.training(stop):
                self.clock.start()
                batch = self.task.train_batch(t.batch_size)
                self.losses.append(self.train_step(batch))
                self.clock.stop(batch.n_samples, batch.n_tokens)
                if self.stepped(stop, t_start):
                    break
        except KeyboardInterrupt:
            self.check()
            checkpoint.save_run(self)  # an evaluation cut by a signal: the steps are kept, it reruns on resume
            raise
        finally:
            self.progress.close()
        self.check()
        checkpoint.save_run(self)

    def open_loop(self, stop: StopFlag) -> bool:
        """Training mode, the progress line; True when an evaluation a signal cut (rerun now) stops the run."""
        self.model.train()
        self.progress.open(self.step)
        self.losses, self.grad_norms, self.last_train_loss = [], [], None
        return bool(self.state.eval_due and self.after_step(stop))

    def training(self, stop: StopFlag) -> bool:
        """Whether another step is due."""
        return self.step < self.cfg.trainer.max_steps and not stop.reason and self.state.stop_reason == "max_steps"

    def stepped(self, stop: StopFlag, t_start: float) -> bool:
        """After a step (its loss appended, its clock stopped): count, sync, evaluate, checkpoint; True = stop."""
        t, st = self.cfg.trainer, self.state
        self.step += 1
        st.elapsed_s = time.perf_counter() - t_start
        out_of_time = t.max_time_s is not None and st.elapsed_s >= t.max_time_s
        st.eval_due = self.step % t.eval_every == 0 or self.step == t.max_steps or out_of_time
        save = self.step % t.ckpt_every == 0
        if stop.reason or st.eval_due or save or len(self.losses) >= t.sync_every:
            self.check()
        if stop.reason:  # checkpoint now; the evaluation due (if any) runs on resume, not in a grace period
            return True
        if st.eval_due or out_of_time:
            self.clock.pause()  # what follows is not a training step
        if self.after_step(stop):
            return True
        if save:
            self.clock.pause()
            checkpoint.save_run(self)
        return False

    def close_loop(self) -> None:
        """The last steps' sync and the checkpoint at the end of training."""
        self.progress.close()
        self.check()
        checkpoint.save_run(self)

    def after_step(self, stop: StopFlag) -> bool:
        """The components' step hooks, the evaluation due at this step (also one a signal cut short, after a
        resume), then the target and the time budget; True = stop training."""
        st, t = self.state, self.cfg.trainer
        self.callbacks.on_step(self)
        if st.eval_due:
            with stop.watching("eval"):
                val = self.eval_val()
            st.eval_due = False
            self.callbacks.on_validation(self, val)
            if self.selection.reached(val, st, self.step):
                st.stop_reason = "target"
                return True
        if t.max_time_s is not None and st.elapsed_s >= t.max_time_s:
            st.stop_reason = "time"
            return True
        return False

    def eval_val(self) -> dict:
        """A validation pass; then the running training loss and the validation line (both or neither)."""
        st, lr = self.state, self.scheduler.get_last_lr()[0]
        metrics, dt, n = self.evaluator.evaluate("val")
        rates = self.meter.rates()
        self.last_train_loss = st.run_loss / max(1, st.run_n)
        self.logbook.train(self.step, self.last_train_loss, lr, rates, st.elapsed_s)
        st.run_loss, st.run_n = 0.0, 0
        st.eval_time_s += dt
        st.eval_samples += n
        self.logbook.val(self.step, metrics, lr, dt, n, st.elapsed_s)
        self.selection.consider(metrics, st, self.step, self.model)
        return metrics

    def interrupted(self, cause: str | KeyboardInterrupt, where: str | None = None) -> None:
        """Mark the run interrupted by ``cause`` (the signal's name, or the KeyboardInterrupt it raised)."""
        reason = cause if isinstance(cause, str) else str(cause) if isinstance(cause, StopRequested) else "SIGINT"
        during = f" during {where}" if where else ""
        self.status, self.error = "interrupted", f"stopped by {reason}{during} at step {self.step}"

    def finish(self, t_start: float) -> dict:
        """Test the selected weights, run the probes, write the record (also for a failed or cut run)."""
        selected = self.selection.load(self.status == "completed", self.state, self.step, self.model)
        metrics = {f"val/{k}": v for k, v in self.logbook.val_at(selected).items()}
        test, long_range, failure = evaluation.test(self)
        metrics.update({f"test/{k}": v for k, v in test.items()})
        peak_mb = self.peak.peak_mb()  # before the probes
        long_range.update(probe_callbacks.at_end(self, self.probes))
        if self.status == "interrupted":  # an interrupted run keeps its last validation metrics only: resuming
            metrics, long_range = {k: v for k, v in metrics.items() if k.startswith("val/")}, {}  # redoes the rest
        summary = write_record(self, t_start, selected, metrics, long_range, peak_mb)
        if failure is not None:
            raise failure
        return summary


def begin(tr: Trainer, ck: dict | None, stop: StopFlag) -> float:
    """Trainer ``tr``'s data stream, the checkpoint's state (when given), the loggers; returns the start time."""
    tr.task.setup(tr.device, int(tr.cfg.seed))
    tr.stop = stop
    if ck is not None:
        resume_check.restore_run(tr, ck)
    elif tr.logbook.log.path.exists():
        tr.logbook.log.path.unlink()
    config, nodes = OmegaConf.to_container(tr.cfg, resolve=True), logger_nodes(tr.cfg.logger)
    tr.logbook.loggers = Loggers([build(n, "logger", run_dir=str(tr.run_dir), config=config) for n in nodes])
    return time.perf_counter() - tr.state.elapsed_s


def build_parts(tr: Trainer, cfg: DictConfig, t: DictConfig) -> None:
    """Trainer ``tr``'s task, the model (sized by the budget, loaded from init_from), the optimizer and its schedule."""
    source = pretrain.Source(cfg.init_from) if cfg.get("init_from") else None
    if source:
        source.adapt(cfg)  # the source's architecture and tokenizer
    faults.point("setup")  # before the task's data and tokenizer are built
    tr.task = build(cfg.task, "task")
    if source:
        source.check_task(tr.task)
    tr.direction = stop_direction(tr.task, str(t.stop_metric))
    tr.budget = budget.fit(cfg, tr.task.spec, lambda node, spec: build(node, "arch", spec=spec))
    tr.model = build(budget.sized(cfg.arch, tr.budget), "arch", spec=tr.task.spec).to(tr.device)
    tr.params = budget.count_params(tr.model)  # all of them, also those init_freeze holds fixed
    tr.precision, tr.precision_rule = precision.choose(str(t.precision), tr.device, tr.params)
    tr.init = source.load(tr.model, cfg.get("init_freeze"), cfg.get("init_weights", True)) if source else None
    quarantine.keep_dynamo_out_of_training()  # the optimizer would import torch._dynamo (~1 s) to do nothing
    # matrices decay, the rest not; what init_freeze holds fixed (requires_grad off) is left out
    groups, tr.decay_record = optim.param_groups(tr.model, float(cfg.optimizer.get("weight_decay") or 0.0))
    tr.optimizer = build(cfg.optimizer, "optimizer", params=groups)
    tr.scheduler = torch.optim.lr_scheduler.LambdaLR(tr.optimizer, lr_lambda(t))
    tr.forward_model = tr.model
    if t.compile:
        tr.forward_model = torch.compile(tr.model, mode=None if t.compile_mode == "default" else t.compile_mode)
    # CUDA graphs (compile_mode reduce-overhead and max-autotune) reuse their output buffers: each step is new
    tr.cuda_graphs = t.compile and t.compile_mode != "default" and tr.device.type == "cuda"
    tr.arch_name, tr.task_name = choice_name(cfg, "arch"), choice_name(cfg, "task")
    note = pretrain.context_note(tr.task.spec, getattr(tr.model, "describe", dict)(), tr.arch_name)
    tr.notes = [note] if note else []
    for line in tr.notes:
        print(line, file=sys.stderr)
    for name, text in tr.task.run_files().items():  # e.g. the tokenizer, which init_from reuses
        atomic_write_bytes(tr.run_dir / name, text.encode())


def divergence_message(loss: float, step: int, lr: float, grad_clip: float | None) -> str:
    if step == 1:  # the first batch's loss comes before any update: no learning rate can have caused it
        return f"loss is {loss} at step 1, before any update: the forward produced non-finite values; {checks.NOT_LR}"
    fix = (
        f"lower optimizer.lr (gradient clipping is on at trainer.grad_clip={grad_clip}; a smaller value clips harder)"
        if grad_clip
        else "lower optimizer.lr, or turn gradient clipping on (trainer.grad_clip=1.0)"
    )
    return f"loss is {loss} at step {step} (lr {lr:.3g}); {fix}"


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
        trainer, ck, done = open_run(cfg, run_dir, stop)
        if done is not None:
            return done
        if trainer is not None:
            summary = trainer.run(ck, stop)
    return ended(trainer, summary if trainer is not None else None, stop)


def open_run(cfg: DictConfig, run_dir, stop: StopFlag) -> tuple[Trainer | None, dict | None, dict | None]:
    """The run in ``run_dir`` (locked by the caller) made ready: (its trainer, the checkpoint to resume from, None),
    or (None, None, its record) when it completed before, or (None, None, None) when a signal came during set-up."""
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
        return None, None, {**old, "run_dir": str(run_dir)}  # the folder it is in now (it may have been moved)
    if not resume and (ckpt.exists() or old is not None or (run_dir / METRICS).exists()):
        raise ConfigError(
            f"{run_dir} already holds a run; pass trainer.resume=true to continue it, or choose another hydra.run.dir"
        )
    try:  # a signal during set-up (data, tokenizer, model) stops it at once: nothing is trained or recorded yet
        with stop.stopping_at_once():
            trainer = Trainer(cfg)
    except StopRequested:
        return None, None, None
    if resume and ck is None and old:  # a diverged or failed run that left no checkpoint: start over, keep it
        status = old.get("status") if old.get("status") in ("diverged", "failed", "interrupted") else "old"
        kept = run_dir / f"summary.{status}.json"
        os.replace(run_dir / SUMMARY, kept)
        print(
            f"note: {run_dir} holds a {status} run with no checkpoint to resume from; starting "
            f"over, its record kept as {kept.name}",
            file=sys.stderr,
        )
    save_config(cfg, run_dir, fresh=ck is None)
    return trainer, ck, None


def ended(trainer: Trainer | None, summary: dict | None, stop: StopFlag) -> dict:
    """After the run (outside its lock): a signal during set-up, an interruption (SLURM's hand-over) or a
    divergence leave as :func:`train` says; otherwise the summary."""
    if trainer is None:
        print(f"interrupted ({stop.reason}) during set-up, before training; nothing was recorded", file=sys.stderr)
        slurm.hand_over(stop.reason)  # in a SLURM job: requeued, and the run starts again
        raise StopRequested(stop.reason)
    if summary["status"] == "interrupted":
        slurm.hand_over(stop.reason)  # in a SLURM job: requeue (no step lost), never reported finished
    if summary["status"] == "diverged":
        raise DivergedError(summary["error"])
    return summary
