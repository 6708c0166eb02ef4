"""The one interface of a run's components: callbacks at fixed points of the training loop.

The :class:`harness.train.Trainer` keeps the loop (steps, checks, evaluations, checkpoints); everything else that
happens at those points — progress, probes, the busy-machine warning — is a :class:`Callback`. Each hook receives
the trainer (read its ``step``, ``model``, ``task``, ``state``, ``cfg``); every hook is optional.

Points, in the order a run meets them:

- ``on_start(trainer)``: before the first step of this process (also a resumed run's), after set-up and restore.
- ``on_step(trainer)``: after a step (``trainer.step`` steps done) and before the evaluation due at it.
- ``on_validation(trainer, metrics)``: after a validation pass, with its metrics.
- ``on_end(trainer, long_range)``: a completed run, its selected weights loaded and tested: add entries to
  ``long_range`` (the record's ``long_range`` section).
- ``state_dict()`` / ``load_state_dict(d)``: what the component keeps across a resume (in the checkpoint's run
  state, under the component's ``name``).
"""

from __future__ import annotations


class Callback:
    name = ""  # the key of its state in the checkpoint (components that keep none leave it empty)

    def on_start(self, trainer) -> None:
        pass

    def on_step(self, trainer) -> None:
        pass

    def on_validation(self, trainer, metrics: dict) -> None:
        pass

    def on_end(self, trainer, long_range: dict) -> None:
        pass

    def state_dict(self):
        return None

    def load_state_dict(self, state) -> None:
        pass


class Callbacks:
    """Calls each component's hook in order."""

    def __init__(self, items: list[Callback]):
        self.items = list(items)

    def on_start(self, trainer) -> None:
        for c in self.items:
            c.on_start(trainer)

    def on_step(self, trainer) -> None:
        for c in self.items:
            c.on_step(trainer)

    def on_validation(self, trainer, metrics: dict) -> None:
        for c in self.items:
            c.on_validation(trainer, metrics)

    def on_end(self, trainer, long_range: dict) -> None:
        for c in self.items:
            c.on_end(trainer, long_range)
