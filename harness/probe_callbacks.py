"""The probes as run components (:class:`harness.callbacks.Callback`), and the registry a config names them by.

:mod:`harness.probes` measures (gradient by distance, hidden states, attention maps, head ablation, source
masking); the components here say *when*: at initialisation, at a step, at the end of a completed run (the
selected weights, after the test). What one keeps across a resume (the curve at initialisation, the early one)
lives in the run state's ``components`` under its name, so it goes into every checkpoint.

:data:`PROBES` maps each trainer setting that turns a probe on to its component; the studies' presets name the
settings (``trainer.probe_head_ablation: true``), the engine knows none of them (:func:`probe_callbacks`). Any
other component, a study's or a user's, is named by its class in the config's ``callbacks`` node, one entry each
(``+callbacks.mine._target_=my_package.MyProbe``, with its settings beside ``_target_``)."""

from __future__ import annotations

from omegaconf import DictConfig

from harness import probes
from harness.callbacks import Callback


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
    """``trainer.probe_early_step=N``: the gradient-by-distance curve after N steps too (C3), once a run."""

    name = "early_gradient"

    def __init__(self, step: int):
        self.step = int(step)

    def on_step(self, trainer) -> None:
        saved = trainer.state.components
        if trainer.step == self.step and self.name not in saved:
            with trainer.stop.watching("probes_early"):
                saved[self.name] = probes.early(trainer.model, trainer.task, trainer.step) or {}  # {}: taken, none

    def on_end(self, trainer, long_range: dict) -> None:
        curve, by_distance = trainer.state.components.get(self.name), long_range.get("grad_norm_by_distance")
        if curve and by_distance is not None:
            by_distance.update(early=curve["values"], early_step=curve["step"])


class HeadAblation(Callback):
    """``trainer.probe_head_ablation``: zero each attention head in turn and test again (C5, C9)."""

    def on_end(self, trainer, long_range: dict) -> None:
        long_range.update(probes.head_ablation(trainer.model, trainer.task, trainer.cfg.trainer.eval_batch_size))


class SourceMasking(Callback):
    """``trainer.probe_source_masking``: blank the source the best head attends to most, score again (C9)."""

    def on_end(self, trainer, long_range: dict) -> None:
        long_range.update(probes.source_masking(trainer.model, trainer.task, trainer.cfg.trainer.eval_batch_size))


#: trainer setting → the component it turns on (its value, when not a bool, is the component's argument)
PROBES: dict[str, type[Callback]] = {
    "probes": LongRangeProbes,
    "probe_early_step": EarlyGradient,
    "probe_head_ablation": HeadAblation,
    "probe_source_masking": SourceMasking,
}


def configured(cfg: DictConfig) -> list[Callback]:
    """The probe components of a run: those its trainer settings turn on, then those its ``callbacks`` node names."""
    from harness.assembly import build

    named = cfg.get("callbacks") or {}
    return [*probe_callbacks(cfg.trainer), *(build(named[k], f"callbacks.{k}") for k in named)]


def probe_callbacks(t: DictConfig) -> list[Callback]:
    """The probe components the trainer settings turn on, in :data:`PROBES`' order; none without
    ``trainer.probes`` (the others add to its measurements)."""
    if not t.get("probes"):
        return []
    out = []
    for key, component in PROBES.items():
        value = t.get(key)
        if value is True:
            out.append(component())
        elif value not in (None, False):
            out.append(component(value))
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
