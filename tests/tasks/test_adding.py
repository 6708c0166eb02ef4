"""The adding problem: two marked positions anywhere, the target their values' sum, the memoryless baseline."""

import re

import pytest
import torch

from core.errors import ConfigError
from tasks.adding import IGNORE, TOLERANCE, Adding


def sample(task, n, seed=0):
    return task.generate(n, torch.Generator().manual_seed(seed))


def test_two_marks_and_the_target_is_their_values_sum():
    task = Adding(seq_len=30, bins=10)
    x, y = sample(task, 500)
    assert (
        x.shape == y.shape == (500, 30)
        and (y[:, :-1] == IGNORE).all()
        and task.spec.vocab_size == 20
        and task.spec.num_classes == 1
    )
    mark, level = x // 10, x % 10
    assert ((mark == 0) | (mark == 1)).all() and (mark.sum(1) == 2).all()
    want = (((level.float() + 0.5) / 10) * mark).sum(1)
    assert torch.allclose(y[:, -1], want)
    first = mark.float().argmax(1)
    assert first.min() == 0 and (mark[:, -1] == 1).any()  # marks anywhere, the first and the last position too


def oracle(task, x):
    """Per-position outputs (B, L, 1) holding the right sum at the last position."""
    mark, level = x // task.bins, x % task.bins
    out = torch.zeros(*x.shape, 1)
    out[:, -1, 0] = (((level.float() + 0.5) / task.bins) * mark).sum(1)
    return out


def test_perfect_and_memoryless_metrics():
    task = Adding(seq_len=20, bins=50, n_val=4000, n_test=8)
    task.setup("cpu", 0)
    p = task.evaluate(lambda x: oracle(task, x), "val", 1000)
    assert p["mse"] == pytest.approx(0.0, abs=1e-10) and p["acc"] == 1.0
    assert p["baseline_mse"] == pytest.approx(2 / 12, abs=0.01)  # the variance of a sum of two U(0, 1)
    mean = task.evaluate(lambda x: torch.ones(*x.shape, 1), "val", 1000)  # always 1: the baseline itself
    assert mean["mse"] == pytest.approx(mean["baseline_mse"]) and mean["acc"] < 0.1
    off = task.evaluate(lambda x: oracle(task, x) + 2 * TOLERANCE, "val", 1000)
    assert off["acc"] == 0.0 and off["mse"] == pytest.approx((2 * TOLERANCE) ** 2)
    batch = next(iter(task.eval_batches("val", 8)))
    assert task.loss(oracle(task, batch.inputs[0]), batch).item() == pytest.approx(0.0, abs=1e-10)


def test_fixed_sets_do_not_depend_on_the_training_seed():
    a, b = Adding(seq_len=12, n_val=16, n_test=16), Adding(seq_len=12, n_val=16, n_test=16)
    a.setup("cpu", 0)
    b.setup("cpu", 1)
    assert torch.equal(a.fixed["test"][0], b.fixed["test"][0])
    assert not torch.equal(a.train_batch(8).inputs[0], b.train_batch(8).inputs[0])


@pytest.mark.parametrize("bad, words", [({"seq_len": 1}, "task.seq_len=1"), ({"bins": 1}, "task.bins=1")])
def test_bad_settings_fail_in_one_line(bad, words):
    with pytest.raises(ConfigError, match=re.escape(words)):
        Adding(**bad)
