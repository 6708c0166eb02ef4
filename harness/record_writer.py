"""The run record's writer: ``summary.json`` from what the trainer and its components measured (written at the end
of every run, also a failed or cut one), then handed to the loggers. The format is :mod:`core.record`'s."""

from __future__ import annotations

import time

import torch
from omegaconf import OmegaConf

from core.record import RunRecord
from harness import speed
from harness.environment import environment


def write_record(tr, t_start: float, selected: int, metrics: dict, long_range: dict, peak_mb) -> dict:
    """``summary.json`` of trainer ``tr``: its status, the metrics of the weights selected at step ``selected``,
    ``long_range`` (the task's figures and the probes'), speed, the task's and model's descriptions, the config."""
    st, t = tr.state, tr.cfg.trainer
    long_range["steps_to_target"] = st.steps_to_target
    long_range["time_to_target_s"] = st.time_to_target_s
    long_range["target"] = {"metric": t.stop_metric, "value": t.stop_at}
    device_name = torch.cuda.get_device_name(tr.device) if tr.device.type == "cuda" else None
    record = RunRecord(
        status=tr.status,
        error=tr.error,
        arch=tr.arch_name,
        task=tr.task_name,
        seed=int(tr.cfg.seed),
        params=tr.params,
        run_dir=str(tr.run_dir),
        step=tr.step,
        stop_reason=st.stop_reason if tr.status == "completed" else tr.status,
        selection={"weights": t.select, "metric": t.stop_metric, "step": selected},
        metrics=metrics,
        grad_norm=st.grad_norm.summary(t.grad_clip),
        speed={
            **tr.meter.summary(tr.flops, speed.peak_tflops(device_name, tr.precision, t.peak_tflops)),
            "eval_samples_per_s": st.eval_samples / st.eval_time_s if st.eval_time_s else None,
            "peak_mem_mb": peak_mb,
            "peak_mem_kind": tr.peak.kind,
            "precision": tr.precision,
            "precision_rule": tr.precision_rule,
            "compiled": bool(t.compile),
            "compile_mode": t.compile_mode if t.compile else None,
        },
        long_range=long_range,
        task_info={
            **tr.task.describe(),
            "main_metric": tr.task.main_metric,
            "data_fingerprint": tr.task.data_fingerprint(),
            "directions": dict(tr.task.directions),
            "spec": tr.task.spec.to_dict(),
        },
        optimizer=tr.decay_record,
        arch_info=tr.model.describe() if hasattr(tr.model, "describe") else {},
        init=tr.init,
        notes=tr.notes,
        budget=tr.budget,
        env={**environment(tr.device), "malloc": tr.machine.malloc},
        wall_s=time.perf_counter() - t_start,
        config=OmegaConf.to_container(tr.cfg, resolve=True),
        # trainer.seeds_batched: the seeds this one trained beside, and whether their step was stacked
        extra={"batched": tr.batched} if getattr(tr, "batched", None) else {},
    )
    record.write(tr.summary_path)
    summary = record.to_dict()
    tr.logbook.loggers.finish(summary)
    return summary
