"""Settings (issue 33, case 6): every number setting is checked finite in one place (``harness.config_types``,
which judges the trainer's, the optimizer's, the task's and every architecture's settings against their types):
``trainer.stop_at=nan`` — a run that could never stop on target — is one line, as ``max_time_s=inf`` or
``optimizer.lr=nan`` are. Generated over every setting of those classes that takes a number."""

from __future__ import annotations

import dataclasses
import importlib
import math
from pathlib import Path

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from omegaconf import OmegaConf

from core.errors import ConfigError
from harness import config_types
from harness.trainer_settings import TrainerSettings
from harness.trainer_settings import check as check_trainer
from tests.conftest import ROOT
from tests.reliability.helpers import TINY, cli, one_line_error

NON_FINITE = st.sampled_from([math.nan, math.inf, -math.inf])
DEFAULTS = {f.name: f.default for f in dataclasses.fields(TrainerSettings)}


def takes_number(hint) -> bool:
    return config_types.fits(1.5, hint) is True or config_types.fits(2, hint) is True


def classes() -> list[tuple[str, type]]:
    """The classes whose settings a run checks: the trainer's, the optimizers', every task's and architecture's."""
    found = [("trainer", TrainerSettings), ("optimizer", torch.optim.AdamW), ("optimizer", torch.optim.SGD)]
    for group in ("arch", "task"):
        for path in sorted((ROOT / "conf" / group).glob("*.yaml")):
            node = OmegaConf.load(path)
            for target in (node.get("_target_"), node.get("backbone")):
                if isinstance(target, str):
                    module, name = target.rsplit(".", 1)
                    try:
                        found.append((group, getattr(importlib.import_module(module), name)))
                    except (ImportError, AttributeError):
                        pass
    return found


NUMBER_SETTINGS = sorted(
    {
        (prefix, cls, key)
        for prefix, cls in classes()
        for key, hint in config_types.hints_of(cls).items()
        if takes_number(hint)
    },
    key=lambda t: (t[0], t[1].__name__, t[2]),
)


def test_the_generated_settings_cover_the_trainer_the_optimizer_and_the_architectures():
    keys = {(prefix, key) for prefix, _, key in NUMBER_SETTINGS}
    assert {("trainer", "stop_at"), ("trainer", "max_time_s"), ("optimizer", "lr"), ("arch", "dropout")} <= keys


@settings(derandomize=True, max_examples=200, deadline=None)
@given(setting=st.sampled_from(NUMBER_SETTINGS), value=NON_FINITE)
def test_no_number_setting_takes_nan_or_inf(setting, value):
    """Generated: any number setting of any of these classes given nan, inf or -inf is one ConfigError line
    naming it (never accepted, never a traceback)."""
    prefix, cls, key = setting
    with pytest.raises(ConfigError, match=rf"^{prefix}\.{key}=(nan|inf|-inf) is not finite; it must be "):
        config_types.check({key: value}, cls, prefix)


@pytest.mark.parametrize("key", sorted(DEFAULTS))
@pytest.mark.parametrize("value", [math.nan, math.inf])
def test_every_trainer_setting_refuses_nan_and_inf(key, value):
    with pytest.raises(ConfigError, match=rf"trainer\.{key}="):
        check_trainer({**DEFAULTS, key: value})


def test_finite_values_still_pass():
    check_trainer({**DEFAULTS, "stop_at": 0.9, "max_time_s": 1e9, "grad_clip": 1e-9})
    check_trainer({**DEFAULTS, "stop_at": 10**400})  # a whole number too large for a float is finite: no OverflowError


def test_run_py_refuses_stop_at_nan_in_one_line(tmp_path: Path):
    """Case 6, as a user types it."""
    one_line_error(cli(tmp_path / "r", *TINY, "trainer.stop_at=nan"), "trainer.stop_at=nan is not finite")
    assert not (tmp_path / "r" / "summary.json").exists()
