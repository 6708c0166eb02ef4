"""Classes named by dotted paths in configs (``_target_``, ``arch.backbone``), imported with one clear line when
they cannot be: the commonest slip with an architecture of one's own is running without ``PYTHONPATH=.``, and a
module that fails to import must be named, not shown as a chain of Hydra's and importlib's tracebacks."""

from __future__ import annotations

import importlib

from core.errors import ConfigError, first_line


def import_class(path: str, key: str):
    """The class a dotted ``path`` names (``mypkg.mixer.ConvMixer1D``). One ConfigError line, naming the module,
    when its module cannot be found (with the PYTHONPATH hint: the commonest slip with an architecture of one's
    own), when importing it fails (any error raised by the module's own code), or when it has no such class."""
    module, _, name = str(path).rpartition(".")
    if not module or not name:
        raise ConfigError(f"{key}={path!r} is not a dotted class path (e.g. architectures.gru.GRU)")
    try:
        found = importlib.import_module(module)
    except ModuleNotFoundError as e:
        missing = e.name or module
        where = "" if missing == module else f" (it imports {missing}, which is not installed or not found)"
        raise ConfigError(
            f"{key}={path}: no module {module}{where}; a module of your own must be importable from where you run: "
            f"PYTHONPATH=. python run.py … (or pip install -e . in its project)"
        ) from None
    except Exception as e:  # noqa: BLE001 - the module's own code failed while importing: say which, in one line
        raise ConfigError(f"{key}={path}: importing module {module} failed: {first_line(e)}") from None
    cls = getattr(found, name, None)
    if not isinstance(cls, type):
        raise ConfigError(f"{key}={path}: module {module} has no class {name}")
    return cls
