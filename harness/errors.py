"""Deprecated alias (archbench 0.2 moved the errors to :mod:`core.errors`; this alias goes in 0.3).

``from harness.errors import ConfigError`` (the round-2 README's spelling) still works, with one warning line."""

import warnings

from core.errors import *  # noqa: F403 - the whole public surface, as it was
from core.errors import ConfigError, DivergedError, UserError

__all__ = ["ConfigError", "DivergedError", "UserError"]

warnings.warn(
    "harness.errors moved to core.errors (from core.errors import ConfigError); the alias goes in 0.3",
    FutureWarning,
    stacklevel=2,
)
