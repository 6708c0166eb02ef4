"""Checks of a config group's node before it is built (``harness.train.build``): it names a class (a YAML without
``_target_`` — an architecture YAML that left out the shared model's defaults — is one line saying what to add),
and the classes it names can be imported (one line naming the module, with the PYTHONPATH hint)."""

from __future__ import annotations

from omegaconf import DictConfig

from core.errors import ConfigError
from core.imports import import_class

#: what a non-finite loss at step 1 (before any update) says instead of "lower optimizer.lr"
NOT_LR = "no learning rate can cause it: check the architecture's forward (and the task's loss)"
MODEL_DEFAULTS = "defaults: [/model@_here_: default, _self_]"


def component_classes(node, what: str) -> list[type]:
    """The classes ``node`` (``cfg.arch``, ``cfg.task``, ``cfg.optimizer``, a logger) builds: its ``_target_`` and,
    for an architecture, its ``backbone``; one ConfigError line when there is none or one cannot be imported."""
    if not isinstance(node, DictConfig) or "_target_" not in node:
        hint = (
            f"; an architecture's YAML starts from the shared model: {MODEL_DEFAULTS} (see conf/arch/lstm.yaml)"
            if what == "arch"
            else f"; a {what} YAML names the class it builds with _target_ (see conf/{what}/)"
        )
        raise ConfigError(f"{what}: its config names no class (no _target_){hint}")
    classes = [import_class(node._target_, f"{what}._target_")]
    if "backbone" in node:
        classes.append(import_class(node.backbone, f"{what}.backbone"))
    return classes
