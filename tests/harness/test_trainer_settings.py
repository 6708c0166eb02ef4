"""Typed trainer settings, the one source: conf/trainer/default.yaml, the table in docs/settings.md and the trainer
part of ``--help`` are generated from the type and up to date; choices and bounds are judged by config_types
(Literal, Range), and the messages say what would be valid."""

import subprocess
import sys
from typing import Annotated, Literal

import pytest
from omegaconf import OmegaConf

from core.errors import ConfigError
from harness import trainer_settings
from harness.config_types import Range, fits, words
from harness.trainer_settings import TrainerSettings, check
from tests.conftest import ROOT

DEFAULTS = OmegaConf.to_container(OmegaConf.load(ROOT / "conf" / "trainer" / "default.yaml"))


def test_the_type_names_every_setting_of_the_yaml_with_its_default():
    assert DEFAULTS == TrainerSettings().__dict__
    check(DEFAULTS)


@pytest.mark.parametrize("path", [trainer_settings.YAML, trainer_settings.DOCS, trainer_settings.HELP])
def test_what_is_generated_from_the_type_is_up_to_date(path):
    """Run ``python -m harness.trainer_settings`` after changing a setting."""
    assert path.read_text() == trainer_settings.generated(path), f"{path} is out of date"


def test_every_setting_has_a_meaning_and_the_help_names_each():
    out = subprocess.run([sys.executable, "run.py", "--help"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    for key, default, meaning in trainer_settings.settings():
        assert meaning and f"\n  {key}={default}  " in out.stdout, key
    with pytest.raises(ValueError, match="no generated part"):
        trainer_settings.generated(trainer_settings.DOCS, "no markers here")


@pytest.mark.parametrize(
    "value,hint,verdict",
    [
        ("auto", Literal["auto", True, False], True),
        (True, Literal["auto", True, False], True),
        (1, Literal["auto", True, False], False),
        ("yes", Literal["auto", True, False], False),
        (1, Annotated[int, Range(low=1)], True),
        (0, Annotated[int, Range(low=1)], False),
        (1.5, Annotated[int, Range(low=1)], False),
        (0.0, Annotated[float, Range(low=0, open=True)], False),
        (1.0, Annotated[float, Range(low=0, high=1, open=True)], True),
        (None, Annotated[int, Range(low=1)] | None, True),
        (0, Annotated[int, Range(low=1)] | None, False),
    ],
)
def test_literal_and_range(value, hint, verdict):
    assert fits(value, hint) is verdict


def test_words_of_a_bounded_optional_number():
    assert words(Annotated[float, Range(low=0, high=1, open=True)] | None) == "a number in (0, 1], or null"


@pytest.mark.parametrize(
    "key,value,message",
    [
        ("progress", "sometimes", "trainer.progress='sometimes' is not known; use auto, true or false"),
        ("threads", 0, "trainer.threads=0 must be a whole number between 1 and 4096, or null"),
        ("grad_clip", -1.0, "trainer.grad_clip=-1.0 must be a number > 0, or null"),
        ("schedule", "linear", "trainer.schedule='linear' is not known; use cosine or constant"),
        ("probes", "yes", "trainer.probes='yes' must be true or false"),
    ],
)
def test_a_wrong_setting_is_one_line_naming_what_is_valid(key, value, message):
    with pytest.raises(ConfigError) as e:
        check({**DEFAULTS, key: value})
    assert str(e.value) == message
