"""The probes as run components (:class:`harness.callbacks.Callback`), and how a config names them.

:mod:`harness.probes` measures (gradient by distance, hidden states, attention maps, head ablation, source
masking); the components here say *when*: at initialisation, at a step, at the end of a completed run (the
selected weights, after the test). What one keeps across a resume (the curve at initialisation, the early one)
lives in the run state's ``components`` under its name, so it goes into every checkpoint.

The engine switches one on by itself: ``trainer.probes`` (:data:`PROBES`), the long-range measurements of every
token task. The others serve particular studies, and the studies' presets name them in the config's
``callbacks`` node, one entry each, as any other component of a study or a user
(``+callbacks.head_ablation._target_=harness.probe_callbacks.HeadAblation``, with its settings beside
``_target_``): the engine has no switch for them. The trainer settings that switched them before
(:data:`DEPRECATED`) still work, with one warning line, until 0.3."""

from __future__ import annotations

import sys
from typing import Annotated

from omegaconf import DictConfig

from harness import probes
from harness.callbacks import Callback
from harness.config_types import Range


class LongRangeProbes(Callback):
    """``trainer.probes``: gradient by distance, hidden states and CKA, attention maps (at initialisation and at
    the end)."""

    name = "long_range"

    def on_start(self, trainer) -> None:
        if trainer.step == 0:  # a resumed run keeps its own
            with trainer.stop.watching("probes_start"):
                trainer.state.components[self.name] = probes.at_start(trainer.model, trainer.task, trainer.run_dir)

    def on_end(self, trainer, long_range: dict) -> None:
        long_range.update(
            probes.at_end(trainer.model, trainer.task, trainer.run_dir, trainer.state.components.get(self.name))
        )


class EarlyGradient(Callback):
    """``callbacks.early_gradient``: the gradient-by-distance curve after ``step`` steps too (C3), once a run;
    ``step=null`` switches it off (a preset's override)."""

    name = "early_gradient"

    def __init__(self, step: Annotated[int, Range(low=1)] | None = None):
        self.step = None if step is None else int(step)

    def on_step(self, trainer) -> None:
        saved = trainer.state.components
        if self.step is not None and trainer.step == self.step and self.name not in saved:
            with trainer.stop.watching("probes_early"):
                saved[self.name] = probes.early(trainer.model, trainer.task, trainer.step) or {}  # {}: taken, none

    def on_end(self, trainer, long_range: dict) -> None:
        curve, by_distance = trainer.state.components.get(self.name), long_range.get("grad_norm_by_distance")
        if curve and by_distance is not None:
            by_distance.update(early=curve["values"], early_step=curve["step"])


class HeadAblation(Callback):
    """``callbacks.head_ablation``: zero each attention head in turn and test again (C5, C9)."""

    def on_end(self, trainer, long_range: dict) -> None:
        long_range.update(probes.head_ablation(trainer.model, trainer.task, trainer.cfg.trainer.eval_batch_size))


class SourceMasking(Callback):
    """``callbacks.source_masking``: blank the source the best head attends to most, score again (C9)."""

    def on_end(self, trainer, long_range: dict) -> None:
        long_range.update(probes.source_masking(trainer.model, trainer.task, trainer.cfg.trainer.eval_batch_size))


#: trainer setting → the component it turns on; the engine's own
PROBES: dict[str, type[Callback]] = {"probes": LongRangeProbes}

#: deprecated trainer setting → (the ``callbacks`` entry that replaces it, its component); with ``trainer.probes``
#: a set one turns its component on (its value, when not a bool, is the component's argument), after one warning
DEPRECATED: dict[str, tuple[str, type[Callback]]] = {
    "probe_early_step": ("early_gradient", EarlyGradient),
    "probe_head_ablation": ("head_ablation", HeadAblation),
    "probe_source_masking": ("source_masking", SourceMasking),
}


def configured(cfg: DictConfig) -> list[Callback]:
    """The probe components of a run: those its trainer settings turn on, then those its ``callbacks`` node names."""
    from harness.assembly import build

    named = cfg.get("callbacks") or {}
    return [
        *probe_callbacks(cfg.trainer),
        *deprecated(cfg.trainer, named),
        *(build(named[k], f"callbacks.{k}") for k in named),
    ]


def probe_callbacks(t: DictConfig) -> list[Callback]:
    """The probe components the trainer settings turn on, in :data:`PROBES`' order."""
    return [component() for key, component in PROBES.items() if t.get(key)]


def deprecated(t: DictConfig, named) -> list[Callback]:
    """The components the :data:`DEPRECATED` trainer settings turn on (only with ``trainer.probes``, as before;
    none where the ``callbacks`` node names the same entry), each with one warning line saying what replaces it."""
    out = []
    for key, (name, component) in DEPRECATED.items():
        value = t.get(key)
        if value in (None, False) or not t.get("probes"):
            continue
        argument = "" if value is True else f" +callbacks.{name}.step={value}"
        print(
            f"warning: trainer.{key} is deprecated and goes in 0.3; name the component instead: "
            f"+callbacks.{name}._target_=harness.probe_callbacks.{component.__name__}{argument}",
            file=sys.stderr,
        )
        if name not in named:
            out.append(component() if value is True else component(value))
    return out


def at_end(tr, components) -> dict:
    """What the probe ``components`` (:class:`harness.callbacks.Callbacks`) measure on trainer ``tr``'s selected
    weights once it completed: ``long_range`` entries. A signal marks the run interrupted and keeps none."""
    if not (components.items and tr.status == "completed"):
        return {}
    out: dict = {}
    try:
        with tr.stop.watching("probes"):
            components.on_end(tr, out)
    except KeyboardInterrupt as e:
        tr.interrupted(e, "the probes")
        return {}
    return out
