"""The trainer's settings as a type, the one place they are written down: each key's kind, choices, bounds, default
and meaning. ``conf/trainer/default.yaml``, the trainer rows of ``docs/settings.md`` and the trainer part of
``python run.py --help`` are generated from it (``python -m harness.trainer_settings`` rewrites them;
``tests/harness/test_trainer_settings.py`` fails when one is out of date). :mod:`harness.config_types` checks a
launch's settings against the annotations before anything is built; :func:`check` adds the rules that tie two keys
together."""

from __future__ import annotations

import dataclasses
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Literal

from core.errors import ConfigError
from harness.config_types import Range
from harness.config_types import check as check_types

Positive = Annotated[int, Range(low=1)]
Count = Annotated[int, Range(low=0)]
Above0 = Annotated[float, Range(low=0, open=True)]


def setting(default, help: str):
    return field(default=default, metadata={"help": help})


@dataclass
class TrainerSettings:
    max_steps: Positive = setting(3000, "optimizer steps")
    batch_size: Positive = setting(64, "training sequences (or images) per step")
    eval_every: Positive = setting(100, "steps between validation passes (a line in metrics.jsonl each)")
    eval_batch_size: Positive = setting(500, "sequences per evaluation batch")
    ckpt_every: Positive = setting(500, "steps between checkpoints (one is also written at the end)")
    resume: Literal[True, False, "auto"] = setting(
        False,
        "true or auto: continue the run in hydra.run.dir from its checkpoint (with the same settings; a completed "
        "run is kept as it is), or start it when there is none; the SLURM launchers set auto (docs/slurm.md)",
    )
    stop_at: float | None = setting(
        0.999,
        "stop once stop_metric reaches this, in the direction the task declares for it (≥ for max metrics such as "
        "acc or bleu, ≤ for min ones such as loss); recorded as long_range.steps_to_target; null = run every step",
    )
    stop_metric: str = setting("val/acc", "the validation metric stop_at and select=best watch")
    select: Literal["last", "best"] = setting(
        "last", "weights the test scores: last, or best (the best stop_metric seen at an evaluation; recorded)"
    )
    max_time_s: Above0 | None = setting(None, "wall-time budget in seconds: evaluate, then stop; null = none")
    grad_clip: Above0 | None = setting(1.0, "global gradient-norm clipping (norms recorded in grad_norm); null = off")
    warmup_steps: Count = setting(100, "linear warm-up of the learning rate over this many steps")
    schedule: Literal["cosine", "constant"] = setting(
        "cosine", "after warm-up: cosine (to min_lr_ratio·lr at max_steps) or constant"
    )
    min_lr_ratio: Annotated[float, Range(low=0, high=1)] = setting(
        0.1, "the cosine schedule's final share of the learning rate"
    )
    device: str = setting("auto", "auto (cuda when present) | cpu | cuda | cuda:N")
    precision: Literal["auto", "fp32", "bf16"] = setting(
        "auto",
        "fp32, bf16 (autocast), or auto: fp32 on the CPU; on CUDA bf16 from 1,000,000 parameters, fp32 below (small "
        "models are launch-bound); the choice and its reason are recorded (speed.precision, speed.precision_rule)",
    )
    compile: bool = setting(False, "torch.compile the model")
    compile_mode: Literal["default", "reduce-overhead", "max-autotune"] = setting(
        "default",
        "default | reduce-overhead (CUDA graphs: static shapes, i.e. copy_long and images) | max-autotune "
        "(autotuned kernels, also CUDA graphs); needs compile=true",
    )
    warmup_measure: Count = setting(
        10, "first steps of each process (and the compiling step) left out of the speed figures (speed.warmup_s)"
    )
    sync_every: Positive = setting(
        10,
        "steps between host syncs: the losses stay on the device and are checked for NaN/inf then (the first bad "
        "step is still named)",
    )
    peak_tflops: Above0 | None = setting(
        None, "the device's peak TFLOP/s for MFU; null = look the GPU up by name (harness/speed.py)"
    )
    cuda_memory_fraction: Annotated[float, Range(low=0, high=1, open=True)] | None = setting(
        None, "cap this process's share of GPU memory (several runs on one GPU); null = no cap"
    )
    threads: Annotated[int, Range(low=1, high=4096)] | None = setting(  # torch.set_num_threads overflows far above
        None,
        "torch.set_num_threads (1 to 4096); null = SLURM_CPUS_PER_TASK in a SLURM job, else PyTorch's default (and "
        "when the load average is above the core count at the start, the run suggests threads=1)",
    )
    deterministic: bool = setting(
        True, "deterministic algorithms (bitwise repeatable on the CPU; on CUDA sets CUBLAS_WORKSPACE_CONFIG)"
    )
    probes: bool = setting(True, "long-range probes (gradient by distance, attention maps, CKA) on token tasks")
    probe_head_ablation: bool = setting(
        False, "deprecated (goes in 0.3): +callbacks.head_ablation._target_=harness.probe_callbacks.HeadAblation"
    )
    probe_source_masking: bool = setting(
        False, "deprecated (goes in 0.3): +callbacks.source_masking._target_=harness.probe_callbacks.SourceMasking"
    )
    probe_early_step: Positive | None = setting(
        None,
        "deprecated (goes in 0.3): +callbacks.early_gradient._target_=harness.probe_callbacks.EarlyGradient "
        "+callbacks.early_gradient.step=N",
    )
    progress: Literal["auto", True, False] = setting(
        "auto",
        "a progress bar on a terminal; elsewhere (a file, nohup, a SLURM log) one line per evaluation: step/total, "
        "train loss, stop_metric with its direction, steps/s, ETA; false = neither",
    )
    log_every: Positive | None = setting(
        10,
        "steps between train/step_loss and lr values to the loggers (from the losses already synced every "
        "sync_every steps: no extra wait); null = off",
    )
    seeds_batched: bool = setting(
        False,
        "with seed=[1,2,3] (a list): the seeds train side by side as one stacked model (torch.func.vmap), each "
        "with its own initialisation, data, optimizer, early stop and run folder (docs/performance.md: where it "
        "pays); an arch that cannot be stacked steps its seeds one after another, with one line saying why",
    )


def check(settings: dict) -> None:
    """One ConfigError line for the first trainer setting that is wrong."""
    check_types(settings, TrainerSettings, "trainer")
    if not str(settings["stop_metric"]).startswith("val/"):
        raise ConfigError(
            f"trainer.stop_metric={settings['stop_metric']!r} must name a validation metric, e.g. val/acc"
        )
    if settings["compile_mode"] != "default" and not settings["compile"]:
        raise ConfigError(f"trainer.compile_mode={settings['compile_mode']} needs trainer.compile=true")


# -- what is generated from the type ------------------------------------------------------------------------------
ROOT = Path(__file__).resolve().parent.parent
YAML, DOCS, HELP = ROOT / "conf/trainer/default.yaml", ROOT / "docs/settings.md", ROOT / "conf/hydra/default.yaml"
DOCS_BEGIN, DOCS_END = "<!-- trainer settings: generated by python -m harness.trainer_settings -->", "<!-- end -->"
HELP_BEGIN, HELP_END = "    Trainer settings (trainer.KEY=VALUE; generated):", "    (end of the trainer settings)"


def yaml_value(value) -> str:
    return "null" if value is None else str(value).lower() if isinstance(value, bool) else str(value)


def settings() -> list[tuple[str, str, str]]:
    """(key, default as YAML writes it, meaning) of every setting, in order."""
    return [(f.name, yaml_value(f.default), f.metadata["help"]) for f in dataclasses.fields(TrainerSettings)]


def yaml_text() -> str:
    head = "# Generated from harness/trainer_settings.py (python -m harness.trainer_settings): edit it there.\n"
    return head + "".join(f"{k}: {v}  # {h}\n" for k, v, h in settings())


def docs_table() -> str:
    rows = "".join(f"| `trainer.{k}` | {v} | {h} |\n" for k, v, h in settings())
    return f"{DOCS_BEGIN}\n| key | default | meaning |\n|---|---|---|\n{rows}{DOCS_END}"


def help_lines() -> str:
    import textwrap

    lines = [HELP_BEGIN]
    for key, value, meaning in settings():
        lines += textwrap.wrap(
            meaning, 116, initial_indent=f"      {key}={value}  ", subsequent_indent=" " * 8, break_on_hyphens=False
        )
    return "\n".join([*lines, HELP_END])


def generated(path: Path, text: str | None = None) -> str:
    """What ``path`` should hold (its current ``text`` with the generated part replaced)."""
    text = path.read_text() if text is None else text
    if path == YAML:
        return yaml_text()
    begin, end, new = (DOCS_BEGIN, DOCS_END, docs_table()) if path == DOCS else (HELP_BEGIN, HELP_END, help_lines())
    pattern = re.compile(re.escape(begin) + ".*?" + re.escape(end), re.S)
    if not pattern.search(text):
        raise ValueError(f"{path} has no generated part ({begin!r} … {end!r})")
    return pattern.sub(lambda _: new, text, count=1)


if __name__ == "__main__":
    for path in (YAML, DOCS, HELP):
        text = generated(path)
        if path.read_text() != text:
            path.write_text(text)
            print(f"wrote {path.relative_to(ROOT)}", file=sys.stderr)
