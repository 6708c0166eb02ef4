"""Errors told to the user as one clear line (exit 2) before, or instead of, training."""


class UserError(Exception):
    """Something the user can put right: a setting, a path, a folder in use, a damaged checkpoint. ``run.py`` and
    the report entry points print its message as one line and exit 2."""


class ConfigError(UserError, ValueError):
    """A setting is invalid. The message says what was wrong and what would be valid."""


class DivergedError(RuntimeError):
    """The training loss became NaN or infinite."""


def first_line(e: BaseException, limit: int = 160) -> str:
    """``Type: first line of the message`` of an exception (for one-line reports of a library's error)."""
    text = str(e).strip().splitlines()
    return f"{type(e).__name__}: {text[0][:limit]}" if text else type(e).__name__


def whole(name: str, value, low: int | None = None, allow_none: bool = False) -> int | None:
    """``value`` when it is a whole number (≥ ``low``); one ConfigError line otherwise (2.5 is never truncated)."""
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or (low is not None and value < low):
        bound = f" ≥ {low}" if low is not None else ""
        raise ConfigError(f"{name}={value!r} must be a whole number{bound}{', or null' if allow_none else ''}")
    return value


def number(name: str, value, allow_none: bool = False) -> float | None:
    """``value`` when it is a number (int or float); one ConfigError line otherwise."""
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{name}={value!r} must be a number{', or null' if allow_none else ''}")
    return value
