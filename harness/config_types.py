"""Settings checked against the annotations of the class they configure, before it is built.

``task.delay=2.5`` for ``delay: int`` or ``optimizer.lr=abc`` for ``lr: float`` would otherwise be truncated
silently or fail deep inside with a TypeError. Only plain types are judged (int, float, bool, str, None, and
unions of them; a tensor-or-float parameter takes a number), ``Literal[...]`` choices and
``Annotated[int | float, Range(...)]`` bounds; anything else is left to the class itself.
"""

from __future__ import annotations

import inspect
import math
import types
import typing
from dataclasses import dataclass

import torch

from core.errors import ConfigError

WORDS = {
    int: "a whole number",
    float: "a number",
    bool: "true or false",
    str: "a string",
    type(None): "null",
    torch.Tensor: "a number",
}


@dataclass(frozen=True)
class Range:
    """Bounds of a number setting: ``Annotated[int, Range(low=1)]``; ``open`` = the low bound itself is refused."""

    low: float | None = None
    high: float | None = None
    open: bool = False

    def holds(self, value) -> bool:
        if self.low is not None and (value <= self.low if self.open else value < self.low):
            return False
        return self.high is None or value <= self.high

    def words(self) -> str:
        if self.low is not None and self.high is not None:
            return f"in ({self.low:g}, {self.high:g}]" if self.open else f"between {self.low:g} and {self.high:g}"
        if self.low is not None:
            return f"> {self.low:g}" if self.open else f"≥ {self.low:g}"
        return f"≤ {self.high:g}"


def fits(value, hint) -> bool | None:
    """Whether ``value`` suits the annotation ``hint``; None when the hint is not one this module judges."""
    origin = typing.get_origin(hint)
    if origin is typing.Annotated:
        base, *extras = typing.get_args(hint)
        verdict = fits(value, base)
        return verdict and all(r.holds(value) for r in extras if isinstance(r, Range)) if verdict else verdict
    if origin is typing.Literal:  # True is not 1: the choice's type must match too
        return any(value == choice and type(value) is type(choice) for choice in typing.get_args(hint))
    if origin in (typing.Union, types.UnionType):
        verdicts = [fits(value, h) for h in typing.get_args(hint)]
        return True if any(verdicts) else (None if None in verdicts else False)
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint in (float, torch.Tensor):  # a number setting is finite: nan or inf is never a setting (stop_at=nan)
        number = isinstance(value, (int, float)) and not isinstance(value, bool)
        return number and (isinstance(value, int) or math.isfinite(value))  # an int is finite, however large
    if hint is str:
        return isinstance(value, str)
    if hint is type(None):
        return value is None
    return None


def show(choice) -> str:
    """A choice as it is typed on the command line (true, not True)."""
    return str(choice).lower() if isinstance(choice, bool) else str(choice)


def choices(hint) -> tuple | None:
    """The choices of a ``Literal`` hint (also inside ``Optional``); None for other hints."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        found = [choices(h) for h in typing.get_args(hint)]
        return next((c for c in found if c), None)
    return typing.get_args(hint) if typing.get_origin(hint) is typing.Literal else None


def one_of(options) -> str:
    """``a, b or c``."""
    shown = [show(o) for o in options]
    return shown[0] if len(shown) == 1 else f"{', '.join(shown[:-1])} or {shown[-1]}"


def words(hint) -> str:
    if typing.get_origin(hint) is typing.Annotated:
        base, *extras = typing.get_args(hint)
        return " ".join([words(base), *(r.words() for r in extras if isinstance(r, Range))])
    parts = typing.get_args(hint) if typing.get_origin(hint) in (typing.Union, types.UnionType) else (hint,)
    names = list(
        dict.fromkeys(
            words(p) if typing.get_origin(p) is typing.Annotated else WORDS.get(p, getattr(p, "__name__", str(p)))
            for p in parts
        )
    )
    nullable = "null" in names and len(names) > 1
    names = [n for n in names if not (nullable and n == "null")]
    return " or ".join(names) + (", or null" if nullable else "")


def hints_of(cls) -> dict:
    try:
        return typing.get_type_hints(cls.__init__, include_extras=True)
    except Exception:  # noqa: BLE001 - unresolvable annotations: nothing to judge
        try:
            return {
                name: p.annotation
                for name, p in inspect.signature(cls).parameters.items()
                if not isinstance(p.annotation, str) and p.annotation is not inspect.Parameter.empty
            }
        except (TypeError, ValueError):
            return {}


def check(settings: dict, cls, prefix: str) -> None:
    """Raise one ConfigError line for the first setting of ``settings`` that its annotation in ``cls`` refuses."""
    hints = hints_of(cls)
    for key, value in settings.items():
        if key.startswith("_") or key not in hints:
            continue
        if fits(value, hints[key]) is False:
            if isinstance(value, float) and not math.isfinite(value):
                raise ConfigError(f"{prefix}.{key}={value} is not finite; it must be {words(hints[key])}")
            options = choices(hints[key])
            if options is not None and value is not None:
                raise ConfigError(f"{prefix}.{key}={value!r} is not known; use {one_of(options)}")
            raise ConfigError(f"{prefix}.{key}={value!r} must be {words(hints[key])}")
        if prefix == "arch":
            arch_range(key, value, hints[key])


#: every whole-number setting of an architecture is a size or a count (widths, layers, heads, kernel, patch,
#: length): at least 1. A dropout is a probability below 1.
ARCH_SIZE, ARCH_DROPOUT = Range(low=1), Range(low=0, high=1)


def arch_range(key: str, value, hint) -> None:
    if typing.get_origin(hint) is typing.Annotated:
        return  # the class states its own bounds
    whole = isinstance(value, int) and not isinstance(value, bool)
    if whole and fits(value, hint) and not ARCH_SIZE.holds(value):
        raise ConfigError(f"arch.{key}={value!r} must be a whole number {ARCH_SIZE.words()} (a size or a count)")
    if (
        "dropout" in key
        and isinstance(value, (int, float))
        and not isinstance(value, bool)
        and not (ARCH_DROPOUT.holds(value) and value < 1)
    ):
        raise ConfigError(f"arch.{key}={value!r} must be a probability, ≥ 0 and below 1")
