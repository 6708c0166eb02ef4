"""What a run has done so far, as a type: :class:`RunState` with its speed (:class:`SpeedState`) and gradient-norm
(:class:`GradNormState`) parts. It goes into every checkpoint as plain containers (:meth:`RunState.to_dict`), so
``torch.load(..., weights_only=True)`` reads it, and :meth:`RunState.from_dict` reads it back: also the flat
layout of checkpoints written before the state had parts (speed sums and ``grad_norm`` beside the other keys), and
the probes' ``probes_init``/``probes_early`` of checkpoints written before the probes were components.
A state with keys this code does not know is refused with one line.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field


@dataclass
class SpeedState:
    """Running sums of the training steps (see :class:`harness.speed.SpeedMeter`): every step's time, samples and
    tokens; the excluded warm-up and compilation seconds; the steady steps' sums and each one's seconds."""

    train_time_s: float = 0.0
    samples: int = 0
    tokens: int = 0
    warmup_s: float = 0.0
    compile_s: float = 0.0
    steady: dict = field(default_factory=lambda: {"steps": 0, "time_s": 0.0, "samples": 0, "tokens": 0})
    step_s: list[float] = field(default_factory=list)


SPIKE = 10.0  # a gradient norm this many times the median of its check window is a spike


@dataclass
class GradNormState:
    """Gradient norms of training steps (before clipping): steps, clipped (norm > trainer.grad_clip), spikes
    (> SPIKE × the check window's median), max, sum and non-finite ones."""

    steps: int = 0
    clipped: int = 0
    spikes: int = 0
    max: float = 0.0
    sum: float = 0.0
    nonfinite: int = 0

    def add(self, norms, clip: float) -> None:
        """Count the norms (a 1-D tensor, on the host) of one check window's steps."""
        finite = norms[norms.isfinite()]
        self.steps += len(norms)
        self.nonfinite += len(norms) - len(finite)
        if len(finite):
            self.clipped += int((finite > clip).sum())
            self.max = max(self.max, float(finite.max()))
            self.sum += float(finite.sum())
            if len(finite) >= 5:
                self.spikes += int((finite > SPIKE * finite.median()).sum())

    def summary(self, clip: float | None) -> dict | None:
        """The record's ``grad_norm``: what clipping did during training (None without clipping: no norm taken)."""
        if not clip or not self.steps:
            return None
        finite = self.steps - self.nonfinite
        return {
            "clip": clip,
            "steps": self.steps,
            "clipped_rate": self.clipped / self.steps,
            "spikes": self.spikes,
            "spike_rule": f"norm > {SPIKE:g}× the median of its window of steps",
            "max": self.max,
            "mean": self.sum / finite if finite else None,
            "nonfinite": self.nonfinite,
        }


@dataclass
class RunState:
    """Everything of a run's progress besides the step, weights, optimizer, schedule, data stream and RNG."""

    stop_reason: str = "max_steps"  # max_steps | target | time
    elapsed_s: float = 0.0  # wall time of training so far (also across resumes)
    steps_to_target: int | None = None
    time_to_target_s: float | None = None
    eval_time_s: float = 0.0
    eval_samples: int = 0
    best: dict | None = None  # {"step", "value"} of the best validation result (trainer.select=best)
    run_loss: float = 0.0  # training loss summed since the last validation line
    run_n: int = 0
    eval_due: bool = False  # an evaluation due at this step that a signal cut (it runs on resume)
    components: dict = field(default_factory=dict)  # what each run component keeps, by its name (the probes')
    speed: SpeedState = field(default_factory=SpeedState)
    grad_norm: GradNormState = field(default_factory=GradNormState)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> RunState:
        """The state saved by :meth:`to_dict`, or by the flat layout of older checkpoints; ValueError (one line)
        for keys this code does not know."""
        d = dict(d)
        old = {"probes_init": "long_range", "probes_early": "early_gradient"}  # before the probes were components
        if set(old) & set(d):
            taken = {name: d.pop(key) for key, name in old.items() if key in d}
            d["components"] = {k: v for k, v in taken.items() if v is not None}
        speed_keys = {f.name for f in dataclasses.fields(SpeedState)}
        speed = d.pop("speed", None)
        if speed is None:  # the flat layout: the speed sums beside the other keys
            speed = {k: d.pop(k) for k in list(d) if k in speed_keys}
        grad_norm = d.pop("grad_norm", None) or {}  # absent in the flat layout until a norm was taken
        unknown = sorted(set(d) - {f.name for f in dataclasses.fields(cls)} - {"speed", "grad_norm"})
        unknown += sorted(f"speed.{k}" for k in set(speed) - speed_keys)
        grad_keys = {f.name for f in dataclasses.fields(GradNormState)}
        unknown += sorted(f"grad_norm.{k}" for k in set(grad_norm) - grad_keys)
        if unknown:
            raise ValueError(f"its run state holds keys this version does not know: {', '.join(unknown)}")
        return cls(**d, speed=SpeedState(**speed), grad_norm=GradNormState(**grad_norm))
