"""Settings checked against the annotations of the class they configure, before it is built.

``task.delay=2.5`` for ``delay: int`` or ``optimizer.lr=abc`` for ``lr: float`` would otherwise be truncated
silently or fail deep inside with a TypeError. Only plain types are judged (int, float, bool, str, None, and
unions of them; a tensor-or-float parameter takes a number); anything else is left to the class itself.
"""
from __future__ import annotations

import inspect
import types
import typing

import torch

from core.errors import ConfigError

WORDS = {int: "a whole number", float: "a number", bool: "true or false", str: "a string",
         type(None): "null", torch.Tensor: "a number"}


def fits(value, hint) -> bool | None:
    """Whether ``value`` suits the annotation ``hint``; None when the hint is not one this module judges."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        verdicts = [fits(value, h) for h in typing.get_args(hint)]
        return True if any(verdicts) else (None if None in verdicts else False)
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint in (float, torch.Tensor):
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is str:
        return isinstance(value, str)
    if hint is type(None):
        return value is None
    return None


def words(hint) -> str:
    parts = typing.get_args(hint) if typing.get_origin(hint) in (typing.Union, types.UnionType) else (hint,)
    names = list(dict.fromkeys(WORDS.get(p, getattr(p, "__name__", str(p))) for p in parts))
    return " or ".join(names)


def hints_of(cls) -> dict:
    try:
        return typing.get_type_hints(cls.__init__)
    except Exception:  # noqa: BLE001 - unresolvable annotations: nothing to judge
        try:
            return {name: p.annotation for name, p in inspect.signature(cls).parameters.items()
                    if not isinstance(p.annotation, str) and p.annotation is not inspect.Parameter.empty}
        except (TypeError, ValueError):
            return {}


def check(settings: dict, cls, prefix: str) -> None:
    """Raise one ConfigError line for the first setting of ``settings`` that its annotation in ``cls`` refuses."""
    hints = hints_of(cls)
    for key, value in settings.items():
        if key.startswith("_") or key not in hints:
            continue
        if fits(value, hints[key]) is False:
            raise ConfigError(f"{prefix}.{key}={value!r} must be {words(hints[key])}")
