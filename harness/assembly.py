"""Building a run's parts from its config: components by ``_target_`` (one clear ConfigError for a bad setting),
the names the user chose, the learning-rate schedule, the run folder and its ``.hydra`` files."""

from __future__ import annotations

import inspect
import math
from pathlib import Path

from hydra.errors import InstantiationException
from hydra.utils import get_class, instantiate
from omegaconf import DictConfig, OmegaConf

from core.errors import ConfigError
from core.files import atomic_write_bytes
from harness import checks, config_types


def component_name(node: DictConfig) -> str:
    """``architectures.lstm.LSTM`` → ``lstm``: the module name is the registry name (one file each); for an
    architecture, the module of its ``backbone``."""
    return str(node.get("backbone") or node._target_).rsplit(".", 2)[-2]


def choice_name(cfg: DictConfig, group: str) -> str:
    """The name the user chose (``task=imdb`` → ``imdb``); without Hydra, the module name."""
    from hydra.core.hydra_config import HydraConfig

    if HydraConfig.initialized():
        chosen = HydraConfig.get().runtime.choices.get(group)
        if chosen:
            return str(chosen)
    return component_name(cfg[group])


def build(node: DictConfig, what: str, **runtime):
    """Instantiate ``node`` with runtime objects (spec, params, run_dir), turning bad settings into one
    clear ConfigError that names the valid ones. Runtime objects are passed as they are (Hydra would turn a
    dataclass such as the TaskSpec into a config)."""
    classes = checks.component_classes(node, what)  # one line for no _target_ or a class that cannot be imported
    try:
        factory = instantiate(node, _partial_=True, _convert_="all")
    except InstantiationException as e:
        raise ConfigError(f"{what}: {e}") from None
    settings = OmegaConf.to_container(node, resolve=True)
    for cls in classes:
        config_types.check(settings, cls, what)  # an architecture's settings: the model's and its backbone's
    try:
        return factory(**runtime)
    except ConfigError:
        raise
    except TypeError as e:
        if "argument" not in str(e):
            raise
        try:
            params = [
                p
                for p in inspect.signature(get_class(node._target_)).parameters
                if p not in ("self", "spec", "params", "run_dir", "config", "args", "kwargs")
            ]
        except Exception:  # noqa: BLE001 - best effort only
            params = []
        raise ConfigError(f"{what} {component_name(node)}: {e}; valid settings: {', '.join(params)}") from None
    except ValueError as e:
        raise ConfigError(f"{what} {component_name(node)}: {e}") from None


def lr_lambda(t: DictConfig):
    warmup, total, floor = t.warmup_steps, t.max_steps, t.min_lr_ratio

    def f(step: int) -> float:  # step = optimizer steps taken so far
        if warmup and step < warmup:
            return (step + 1) / warmup
        if t.schedule == "constant":
            return 1.0
        progress = min(1.0, (step - warmup) / max(1, total - warmup))
        return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress))

    return f


def resolve_run_dir(cfg: DictConfig) -> Path:
    if cfg.get("run_dir"):
        return Path(cfg.run_dir)
    from hydra.core.hydra_config import HydraConfig

    if HydraConfig.initialized():
        return Path(HydraConfig.get().runtime.output_dir)
    raise ConfigError("no run folder: set run_dir=... (or run through run.py, which lets Hydra choose one)")


def save_config(cfg: DictConfig, run_dir: Path, fresh: bool) -> None:
    """``.hydra/config.yaml`` (resolved) and, under Hydra, ``.hydra/overrides.yaml``. The harness writes them
    (``hydra.output_subdir`` is null) so that a refused launch never touches the folder's existing record; a
    resumed run keeps the files of its first launch, a fresh start (no checkpoint) writes its own."""
    folder = run_dir / ".hydra"
    if not fresh and (folder / "config.yaml").exists():
        return
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(folder / "config.yaml", OmegaConf.to_yaml(cfg, resolve=True).encode())
    from hydra.core.hydra_config import HydraConfig

    overrides = folder / "overrides.yaml"
    if HydraConfig.initialized():
        atomic_write_bytes(
            overrides, OmegaConf.to_yaml(OmegaConf.create(list(HydraConfig.get().overrides.task))).encode()
        )
    else:
        overrides.unlink(missing_ok=True)  # an earlier launch's overrides would misstate this one's
