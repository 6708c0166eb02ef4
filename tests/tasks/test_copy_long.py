"""The copy memory problem: layout, baseline loss, fixed evaluation sets, resumable stream."""

import math

import pytest
import torch
import torch.nn.functional as F

from core.errors import ConfigError
from tasks.copy_long import BLANK, DELIM, CopyLong


def test_layout_of_inputs_and_targets():
    task = CopyLong(delay=7, n_memorize=3)
    x, y = task.generate(5, torch.Generator().manual_seed(0))
    assert x.shape == y.shape == (5, 7 + 2 * 3) and task.spec.max_len == 13
    symbols = x[:, :3]
    assert ((symbols >= 1) & (symbols <= 8)).all()
    assert (x[:, 3:9] == BLANK).all()  # T - 1 = 6 blanks
    assert (x[:, 9] == DELIM).all()  # the delimiter ends the delay
    assert (x[:, 10:] == BLANK).all()
    assert (y[:, :10] == BLANK).all() and torch.equal(y[:, 10:], symbols)


def test_baseline_loss_is_the_memoryless_strategy():
    """Blanks with certainty, then uniform over the 8 symbols: n·ln 8 / (T + 2n) per position."""
    task = CopyLong(delay=20, n_memorize=4)
    assert task.baseline_loss == pytest.approx(4 * math.log(8) / 28)
    x, y = task.generate(64, torch.Generator().manual_seed(1))
    logits = torch.full((64, 28, 10), -1e9)
    logits[:, :24, BLANK] = 0.0
    logits[:, 24:, 1:9] = 0.0
    loss = F.cross_entropy(logits.reshape(-1, 10), y.reshape(-1))
    assert loss.item() == pytest.approx(task.baseline_loss, rel=1e-5)


def test_metrics_of_a_perfect_and_a_memoryless_model():
    task = CopyLong(delay=5, n_memorize=4, n_val=50, n_test=50)
    task.setup("cpu", 0)
    oracle = lambda x: F.one_hot(task.fixed_target(x), 10).float() * 50
    perfect = task.evaluate(oracle, "val", 16)
    assert perfect["acc"] == perfect["seq_acc"] == 1.0 and perfect["acc_by_position"] == [1.0] * 4
    assert perfect["loss"] < 1e-6
    blank = task.evaluate(lambda x: F.one_hot(torch.zeros_like(x), 10).float(), "val", 16)
    assert blank["acc"] == 0.0 and blank["seq_acc"] == 0.0


def test_fixed_sets_do_not_depend_on_the_training_seed():
    a, b = CopyLong(delay=5, n_val=20, n_test=20), CopyLong(delay=5, n_val=20, n_test=20)
    a.setup("cpu", 0)
    b.setup("cpu", 99)
    assert torch.equal(a.fixed["val"][0], b.fixed["val"][0])
    assert not torch.equal(a.fixed["val"][0], a.fixed["test"][0])
    assert not torch.equal(a.train_batch(8).inputs[0], b.train_batch(8).inputs[0])


def test_training_stream_resumes_exactly():
    task = CopyLong(delay=5)
    task.setup("cpu", 3)
    task.train_batch(4)
    state = task.state_dict()
    nxt = task.train_batch(4).inputs[0]
    again = CopyLong(delay=5)
    again.setup("cpu", 3)
    again.load_state_dict(state)
    assert torch.equal(again.train_batch(4).inputs[0], nxt)


@pytest.mark.parametrize(
    "kw,msg",
    [
        ({"delay": 0}, "task.delay=0 must be at least 1"),
        ({"n_memorize": 0}, "task.n_memorize=0"),
        ({"repeat": 0}, "task.repeat=0 must be at least 1"),
    ],
)
def test_bad_settings(kw, msg):
    with pytest.raises(ConfigError, match=msg):
        CopyLong(**kw)


def test_repeated_symbols_are_written_r_times_and_every_copy_is_a_source():
    """C9's faithfulness test: each answer can be read from any of the r copies, the nearest at T + n."""
    task = CopyLong(delay=7, n_memorize=3, repeat=2)
    x, y = task.generate(5, torch.Generator().manual_seed(0))
    assert x.shape == (5, 7 + 3 * 3) and task.spec.max_len == 16 and task.length == 16
    assert torch.equal(x[:, :3], x[:, 3:6]) and (x[:, 6:12] == BLANK).all() and (x[:, 12] == DELIM).all()
    assert torch.equal(y[:, -3:], x[:, :3]) and (y[:, :-3] == BLANK).all()
    assert task.source_distance == 10 and task.source_distances == [10, 13]
    for d in task.source_distances:  # answer p reads p − d: the symbol it writes
        assert all(torch.equal(x[:, p - d], y[:, p]) for p in task.answer_positions(16))
    assert task.describe()["repeat"] == 2 and "repeat" not in CopyLong(delay=7).describe()
    assert task.baseline_loss == pytest.approx(3 * math.log(8) / 16)
