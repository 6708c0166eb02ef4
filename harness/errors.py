"""Errors the harness turns into one clear line before (or instead of) training."""


class ConfigError(ValueError):
    """A setting is invalid. The message says what was wrong and what would be valid."""


class DivergedError(RuntimeError):
    """The training loss became NaN or infinite."""
