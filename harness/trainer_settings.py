"""The trainer's settings (``conf/trainer/default.yaml``) as a type: each key's kind, choices and bounds, checked by
:mod:`harness.config_types` before anything is built; :func:`check` adds the rules that tie two keys together."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from core.errors import ConfigError
from harness.config_types import Range
from harness.config_types import check as check_types

Positive = Annotated[int, Range(low=1)]
Count = Annotated[int, Range(low=0)]
Above0 = Annotated[float, Range(low=0, open=True)]


@dataclass
class TrainerSettings:
    max_steps: Positive = 3000
    batch_size: Positive = 64
    eval_every: Positive = 100
    eval_batch_size: Positive = 500
    ckpt_every: Positive = 500
    resume: Literal[True, False, "auto"] = False
    stop_at: float | None = 0.999
    stop_metric: str = "val/acc"
    select: Literal["last", "best"] = "last"
    max_time_s: Above0 | None = None
    grad_clip: Above0 | None = 1.0
    warmup_steps: Count = 100
    schedule: Literal["cosine", "constant"] = "cosine"
    min_lr_ratio: Annotated[float, Range(low=0, high=1)] = 0.1
    device: str = "auto"
    precision: Literal["auto", "fp32", "bf16"] = "auto"
    compile: bool = False
    compile_mode: Literal["default", "reduce-overhead", "max-autotune"] = "default"
    warmup_measure: Count = 10
    sync_every: Positive = 10
    peak_tflops: Above0 | None = None
    cuda_memory_fraction: Annotated[float, Range(low=0, high=1, open=True)] | None = None
    threads: Annotated[int, Range(low=1, high=4096)] | None = None  # torch.set_num_threads overflows far above
    deterministic: bool = True
    probes: bool = True
    probe_head_ablation: bool = False
    probe_source_masking: bool = False
    probe_early_step: Positive | None = None
    progress: Literal["auto", True, False] = "auto"
    log_every: Positive | None = 10


def check(settings: dict) -> None:
    """One ConfigError line for the first trainer setting that is wrong."""
    check_types(settings, TrainerSettings, "trainer")
    if not str(settings["stop_metric"]).startswith("val/"):
        raise ConfigError(
            f"trainer.stop_metric={settings['stop_metric']!r} must name a validation metric, e.g. val/acc"
        )
    if settings["compile_mode"] != "default" and not settings["compile"]:
        raise ConfigError(f"trainer.compile_mode={settings['compile_mode']} needs trainer.compile=true")
