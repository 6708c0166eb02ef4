"""Selective copying: layout, positions that vary per sequence, no leakage from the position alone, chance."""

import re

import pytest
import torch
import torch.nn.functional as F

from core.errors import ConfigError
from tasks.selective_copy import IGNORE, NOISE, SelectiveCopy


def sample(task, n, seed=0):
    return task.generate(n, torch.Generator().manual_seed(seed))


def test_layout_symbols_in_order_after_the_markers():
    task = SelectiveCopy(seq_len=12, n_memorize=4, vocab=8)
    x, y = sample(task, 300)
    assert x.shape == y.shape == (300, 16) and task.spec.max_len == 16 and task.spec.num_classes == 8
    region = x[:, :12]
    data = region != NOISE
    assert (data.sum(1) == 4).all() and ((region[data] >= 1) & (region[data] <= 6)).all()
    assert (x[:, 12:] == 7).all() and (y[:, :12] == IGNORE).all()
    for b in range(300):
        assert y[b, 12:].tolist() == region[b][data[b]].tolist()  # in order of appearance


def test_positions_vary_so_position_alone_does_not_tell_the_answer():
    """A lookup from (answer position, region position) — what a fixed convolution reads — fitted on many
    sequences scores the chance on fresh ones; the fixed layout of copy_long would score 1."""
    task = SelectiveCopy(seq_len=10, n_memorize=3, vocab=6)
    x, y = sample(task, 20000, seed=1)
    assert len({tuple((r != NOISE).nonzero().flatten().tolist()) for r in x[:2000, :10]}) == 120  # all C(10,3)
    counts = torch.zeros(3, 10, task.vocab, task.vocab)  # answer i, region position p, token there → answer
    for i in range(3):
        for p in range(10):
            counts[i, p].index_put_((x[:, p], y[:, 10 + i]), torch.ones(len(x)), accumulate=True)
    x2, y2 = sample(task, 4000, seed=2)
    for i in range(3):
        best = max((counts[i, p].argmax(1)[x2[:, p]] == y2[:, 10 + i]).float().mean().item() for p in range(10))
        assert best < 0.6  # far from the 1 of a fixed layout (p = 0 holds the first symbol 3 times in 10: 0.475)
    for i in range(3):  # the answer position alone (its input is always the marker): every answer is uniform
        guess = torch.bincount(y[:, 10 + i], minlength=task.vocab).argmax()
        assert (y2[:, 10 + i] == guess).float().mean().item() == pytest.approx(task.chance, abs=0.03)


def test_chance_and_perfect_metrics():
    task = SelectiveCopy(seq_len=20, n_memorize=5, vocab=10, n_val=4000, n_test=16)
    task.setup("cpu", 0)
    assert task.chance == 1 / 8
    gen = torch.Generator().manual_seed(3)
    guess = lambda x: F.one_hot(torch.randint(1, 9, x.shape, generator=gen), 10).float()
    m = task.evaluate(guess, "val", 1000)
    assert m["acc"] == pytest.approx(1 / 8, abs=0.01) and m["chance"] == 1 / 8
    oracle = lambda x: F.one_hot(task.fixed["val"][1].clamp(min=0), 10).float() * 50
    p = task.evaluate(oracle, "val", 4000)
    assert p["acc"] == p["seq_acc"] == 1.0 and p["loss"] < 1e-6 and p["acc_by_position"] == [1.0] * 5
    batch = next(iter(task.eval_batches("val", 8)))
    assert task.loss(oracle(None)[:8], batch).item() < 1e-6  # only the marker positions count


@pytest.mark.parametrize(
    "bad, words",
    [
        ({"n_memorize": 9, "seq_len": 8}, "at most task.seq_len=8"),
        ({"vocab": 3}, "task.vocab=3"),
        ({"n_memorize": 0}, "task.n_memorize=0"),
    ],
)
def test_bad_settings_fail_in_one_line(bad, words):
    with pytest.raises(ConfigError, match=re.escape(words)):
        SelectiveCopy(**bad)
