"""Every size setting of every architecture has a range: a negative or zero width, depth, head count, kernel
or patch is one ConfigError line naming the setting (``arch.d_ff=-1`` used to fail inside torch), and a
dropout of 1 or more is refused; the shipped defaults all pass."""

from __future__ import annotations

from pathlib import Path

import pytest
from hydra.utils import get_class
from omegaconf import OmegaConf

from core.errors import ConfigError
from harness import config_types
from tests.conftest import make_cfg

ARCHS = sorted(p.stem for p in (Path(__file__).parents[2] / "conf" / "arch").glob("*.yaml"))


def check(settings: dict) -> None:
    for cls in (
        get_class(settings["_target_"]),
        *([get_class(settings["backbone"])] if "backbone" in settings else []),
    ):
        config_types.check(settings, cls, "arch")


@pytest.mark.parametrize("arch", ARCHS)
def test_every_size_setting_refuses_zero_and_negatives(tmp_path, arch):
    settings = OmegaConf.to_container(make_cfg(tmp_path, f"arch={arch}", tiny=False).arch, resolve=True)
    check(settings)  # the defaults pass
    sizes = [k for k, v in settings.items() if isinstance(v, int) and not isinstance(v, bool) and not k.startswith("_")]
    assert sizes, settings
    for key in sizes:
        for bad in (-1, 0):
            with pytest.raises(ConfigError, match=rf"^arch\.{key}={bad} must be a whole number ≥ 1"):
                check({**settings, key: bad})
    if "dropout" in settings:
        for bad in (1.0, 1.5, -0.1):
            with pytest.raises(ConfigError, match=r"arch\.dropout=.* must be a probability"):
                check({**settings, "dropout": bad})
