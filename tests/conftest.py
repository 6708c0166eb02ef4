"""Shared fixtures: compose the real Hydra config and shrink it (as lightning-hydra-template does)."""

from __future__ import annotations

import functools
import json
import os
from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig, open_dict

from core import registry

ROOT = Path(__file__).resolve().parent.parent
CONF = str(ROOT / "conf")

os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("WANDB_SILENT", "true")
torch.set_num_threads(1)

ARCHS = registry.names("arch")  # every conf/arch/*.yaml
# One per task kind (imdb, sst2: sentiment), and every synthetic task
TASKS = ["copy_long", "assoc_recall", "selective_copy", "sentiment", "lm", "translation", "image_classification"]

# Small enough that a few steps take well under a second on a laptop CPU: by the settings an arch YAML has, so
# that an architecture added later shrinks too.
TINY_SETTINGS = {
    "hidden": 16,
    "channels": 16,
    "d_model": 16,
    "n_heads": 2,
    "d_ff": 32,
    "patch_size": 2,
    "stem_stages": 2,
}


def tiny_arch(arch: str) -> list[str]:
    node = arch_config(arch)
    return [f"arch.{k}={v}" for k, v in TINY_SETTINGS.items() if k in node]


# Where trainer.device=auto trains in these tests: expectations that depend on it are parametrised by it.
DEVICE = torch.device("cuda" if torch.cuda.is_available() else "cpu")
PEAK_MEM_KIND = {"cpu": "cpu_rss_above_start", "cuda": "cuda_max_allocated"}
# A resumed run ends bitwise equal to an uninterrupted one on the CPU; CUDA kernels are not all bitwise
# repeatable, so there losses may differ by this relative amount and accuracies by this absolute one.
CUDA_RESUME_REL, CUDA_RESUME_ABS = 1e-3, 0.02

TINY_TRAINER = [
    "trainer.max_steps=4",
    "trainer.eval_every=2",
    "trainer.ckpt_every=2",
    "trainer.batch_size=8",
    "trainer.eval_batch_size=16",
    "trainer.warmup_steps=1",
    "trainer.progress=false",
    "trainer.threads=1",
]


def schema_errors(summary: dict) -> list[str]:
    """Where ``summary`` breaks the run record's schema (``core/summary.schema.json``); [] when it validates."""
    import jsonschema

    from core.record import SCHEMA

    validator = jsonschema.Draft202012Validator(json.loads(SCHEMA.read_text()))
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(summary)]


def make_cfg(tmp_path: Path, *overrides: str, tiny: bool = True) -> DictConfig:
    """The real config composed with ``overrides``; run_dir inside ``tmp_path``."""
    ov = list(overrides)
    arch = next((o.split("=", 1)[1] for o in ov if o.startswith("arch=")), "transformer")
    if tiny:
        ov = (
            TINY_TRAINER
            + ["task.n_val=16", "task.n_test=16"] * any(o == "task=copy_long" for o in ov)
            + tiny_arch(arch)
            + ov
        )
    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        cfg = compose(config_name="config", overrides=ov)
    with open_dict(cfg):
        cfg.run_dir = str(tmp_path / "run")
    return cfg


@pytest.fixture
def cfg_factory(tmp_path):
    return lambda *ov, **kw: make_cfg(tmp_path, *ov, **kw)


@pytest.fixture
def device() -> torch.device:
    """The device the harness trains on with trainer.device=auto."""
    return DEVICE


def assert_same_metrics(a: dict, b: dict, device: torch.device) -> None:
    """Bitwise on the CPU; on CUDA within CUDA_RESUME_REL (losses) / CUDA_RESUME_ABS (accuracies)."""
    if device.type != "cuda":
        assert a == b
        return
    assert set(a) == set(b)
    for key in a:
        x, y = (a[key], b[key]) if isinstance(a[key], list) else ([a[key]], [b[key]])
        tol = {"rel": CUDA_RESUME_REL} if "loss" in key else {"abs": CUDA_RESUME_ABS}
        assert x == pytest.approx(y, **tol), key


def pytest_collection_modifyitems(config, items):
    """Tests marked ``cuda`` check GPU-only behaviour: they run where a CUDA device is, and are skipped elsewhere."""
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA device (tests GPU-only behaviour)")
    for item in items:
        if item.get_closest_marker("cuda"):
            item.add_marker(skip)


@functools.cache
def arch_config(arch: str) -> DictConfig:
    """The composed ``conf/arch/<arch>.yaml`` (with the shared model settings it starts from)."""
    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        return compose(config_name="config", overrides=[f"arch={arch}"]).arch


def build_arch(arch: str, spec, **overrides) -> torch.nn.Module:
    """The model of ``arch`` for ``spec`` from its YAML (the one source of defaults), with ``overrides``."""
    from harness.train import build

    node = arch_config(arch).copy()
    with open_dict(node):
        node.update(overrides)
    return build(node, "arch", spec=spec)
