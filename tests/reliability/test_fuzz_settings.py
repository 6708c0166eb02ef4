"""Property-based test over the documented settings (``conf/trainer/default.yaml``, an architecture's sizes, the
task's sizes, the seed, the learning rate): wrong types, negatives, zero, huge values, strings holding HTML.
Whatever a setting holds, a run either trains or stops before training with one line (a ``UserError``: exit 2 from
``run.py``), never a traceback.

Most examples go in-process through :class:`harness.train.Trainer`'s constructor, the code ``run.py`` runs
before the first step (settings checks, task, model, optimizer); a few go through ``run.py`` itself, to show
that the command line ends the same way. Hypothesis is derandomized with a fixed number of examples, so every
run of the suite tries the same values."""

from __future__ import annotations

import copy
import dataclasses
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from omegaconf import open_dict

from core.errors import UserError
from harness.train import Trainer
from harness.trainer_settings import TrainerSettings
from tests.conftest import make_cfg
from tests.reliability.helpers import TINY, cli, one_line_error

HTML = ["<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "<!--<script>", "a</b>"]
# what any setting may be given by a user who got it wrong
WRONG = st.one_of(
    st.integers(-3, 3),
    st.booleans(),
    st.none(),
    st.sampled_from(["", "abc", "1e3", "-1", *HTML]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.lists(st.integers(0, 3), max_size=2),
)
HUGE_VALUES = [10**12, -(10**12), 2**63, 1e308]
HUGE = st.sampled_from(HUGE_VALUES)

# Settings whose huge values cost nothing before the first step. The sizes of the model and of the generated
# data are fuzzed with small, zero, negative and wrong values only: a huge width or data set is memory the
# machine does not have, which this test does not measure.
TRAINER = sorted(f.name for f in dataclasses.fields(TrainerSettings))
CHEAP = [f"trainer.{k}" for k in TRAINER] + ["seed", "optimizer.lr", "task.data_seed"]
SIZES = [
    "arch.d_model",
    "arch.n_heads",
    "arch.n_layers",
    "arch.d_ff",
    "arch.dropout",
    "arch.activation",
    "arch.pos_encoding",
    "arch.norm_first",
    "task.delay",
    "task.n_memorize",
    "task.n_val",
    "task.n_test",
]
# run in-process: a tiny copy_long run on the CPU, one thread
BASE = [o for o in TINY if not o.startswith("trainer.max_steps")] + ["trainer.max_steps=1"]

EXAMPLE = st.one_of(st.tuples(st.sampled_from(CHEAP), st.one_of(WRONG, HUGE)), st.tuples(st.sampled_from(SIZES), WRONG))


@pytest.fixture(scope="module")
def base_cfg(tmp_path_factory):
    return make_cfg(tmp_path_factory.mktemp("fuzz"), *BASE, tiny=False)


def set_key(cfg, dotted: str, value) -> None:
    node, key = cfg, dotted
    if "." in dotted:
        parent, key = dotted.rsplit(".", 1)
        node = cfg
        for part in parent.split("."):
            node = node[part]
    with open_dict(node):
        node[key] = value


@settings(
    max_examples=150,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(examples=st.lists(EXAMPLE, min_size=1, max_size=2))
def test_any_setting_builds_the_run_or_is_one_user_error_line(base_cfg, examples):
    builds_or_one_line(base_cfg, examples)


def builds_or_one_line(base_cfg, examples) -> None:
    cfg = copy.deepcopy(base_cfg)
    for key, value in examples:
        set_key(cfg, key, value)
    with tempfile.TemporaryDirectory() as d, open_dict(cfg):
        cfg.run_dir = str(Path(d) / "run")
        try:
            Trainer(cfg)
        except UserError as e:  # run.py prints ``error: <message>`` and exits 2
            text = str(e)
            assert text.strip() and "\n" not in text, (examples, text)


@pytest.mark.parametrize("key", CHEAP)
def test_a_huge_value_of_any_cheap_setting_builds_the_run_or_is_one_line(base_cfg, key):
    """Every (setting, huge value) pair, not a sample: ``trainer.threads=10**12`` overflowed inside torch."""
    for value in HUGE_VALUES:
        builds_or_one_line(base_cfg, [(key, value)])


@pytest.mark.parametrize(
    "override, says",
    [
        ("trainer.device='<img src=x onerror=alert(1)>'", "trainer.device="),
        ("trainer.threads=-1", "trainer.threads=-1"),
        ("arch.n_heads='<script>'", "arch.n_heads="),
    ],
)
def test_run_py_ends_a_wrong_setting_with_one_line(tmp_path, override, says):
    one_line_error(cli(tmp_path / "run", *BASE, override), says)
    assert not (tmp_path / "run" / "summary.json").exists()


def test_run_py_trains_the_fuzz_base_run(tmp_path):
    """The control: the settings every example starts from train (one step) and exit 0."""
    proc = cli(tmp_path / "run", *BASE)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (tmp_path / "run" / "summary.json").exists()
