"""Multi-query associative recall: layout, unique keys, no leakage from the query alone, chance levels."""

import re

import pytest
import torch
import torch.nn.functional as F

from core.errors import ConfigError
from tasks.assoc_recall import FILLER, IGNORE, AssocRecall


def sample(task, n=4000, seed=0):
    return task.generate(n, torch.Generator().manual_seed(seed))


def test_layout_keys_values_and_answers():
    task = AssocRecall(n_pairs=5, vocab=31, seq_len=20, n_queries=4)
    x, y = sample(task, 200)
    assert x.shape == y.shape == (200, 20) and task.spec.num_classes == 31 and task.spec.max_len == 20
    keys, values = x[:, 0:10:2], x[:, 1:10:2]
    assert ((keys >= 1) & (keys <= 15)).all() and ((values >= 16) & (values <= 30)).all()  # disjoint halves
    asked = y != IGNORE
    assert (asked.sum(1) == 4).all() and not asked[:, :10].any()  # queries only after the pairs
    assert ((x[:, 10:] != FILLER) == asked[:, 10:]).all()  # the rest is filler
    for b in range(200):  # every answer is the value that followed the queried key, each pair asked at most once
        binding = dict(zip(keys[b].tolist(), values[b].tolist()))
        queried = x[b][asked[b]].tolist()
        assert len(set(queried)) == 4 and y[b][asked[b]].tolist() == [binding[k] for k in queried]


def test_keys_and_values_are_unique_within_a_sequence():
    task = AssocRecall(n_pairs=15, vocab=31, seq_len=45, n_queries=15)  # every key and every value used
    x, _ = sample(task, 500)
    for part in (x[:, 0:30:2], x[:, 1:30:2]):
        assert (part.sort(1).values.diff(dim=1) > 0).all()


def test_query_order_and_positions_vary():
    task = AssocRecall(n_pairs=6, vocab=64, seq_len=40, n_queries=6)
    x, y = sample(task, 300)
    asked = y != IGNORE
    assert len({tuple(r.nonzero().flatten().tolist()) for r in asked}) > 100  # positions drawn per sequence
    rank = [(x[b, 0:12:2] == x[b][asked[b]][0]).nonzero().item() for b in range(300)]
    assert set(rank) == set(range(6))  # the first query asks any pair


def test_the_query_alone_does_not_tell_the_answer():
    """The best lookup from (query token, query position) to an answer, fitted on many sequences, scores the
    uniform chance on fresh ones: a model must read the pairs."""
    task = AssocRecall(n_pairs=4, vocab=21, seq_len=12, n_queries=4)
    for feature in ("token", "position"):
        counts = torch.zeros(task.vocab if feature == "token" else task.seq_len, task.vocab)
        x, y = sample(task, 20000, seed=1)
        asked = y != IGNORE
        pos = torch.arange(task.seq_len).expand_as(x)
        key = (x if feature == "token" else pos)[asked]
        counts.index_put_((key, y[asked]), torch.ones(len(key)), accumulate=True)
        guess = counts.argmax(1)
        x2, y2 = sample(task, 5000, seed=2)
        asked2 = y2 != IGNORE
        key2 = (x2 if feature == "token" else pos[:5000])[asked2]
        acc = (guess[key2] == y2[asked2]).float().mean().item()
        assert acc == pytest.approx(task.uniform_chance, abs=0.02), feature


def test_chance_levels_are_what_guessers_score():
    """Guessing uniformly among the sequence's values scores 1/n_pairs; among all value tokens, 1/n_values."""
    task = AssocRecall(n_pairs=4, vocab=41, seq_len=16, n_queries=4, n_val=4000, n_test=16)
    task.setup("cpu", 0)
    assert task.chance == 0.25 and task.uniform_chance == 1 / 20
    gen = torch.Generator().manual_seed(5)

    def among_own_values(x):  # (B, L, V): a random one of the sequence's values at every position
        vals = x[:, 1:8:2]
        pick = vals.gather(1, torch.randint(0, 4, x.shape, generator=gen))
        return F.one_hot(pick, task.vocab).float()

    def among_all_values(x):
        return F.one_hot(torch.randint(21, 41, x.shape, generator=gen), task.vocab).float()

    own, every = task.evaluate(among_own_values, "val", 500), task.evaluate(among_all_values, "val", 500)
    assert own["acc"] == pytest.approx(task.chance, abs=0.015) and own["chance"] == task.chance
    assert every["acc"] == pytest.approx(task.uniform_chance, abs=0.01)
    assert every["uniform_chance"] == task.uniform_chance


def test_metrics_of_a_perfect_model_and_loss_only_on_queries():
    task = AssocRecall(n_pairs=3, vocab=15, seq_len=10, n_queries=2, n_val=40, n_test=40)
    task.setup("cpu", 0)
    oracle = lambda x: F.one_hot(task.fixed["val"][1].clamp(min=0), 15).float() * 50
    m = task.evaluate(oracle, "val", 64)
    assert m["acc"] == m["seq_acc"] == 1.0 and m["loss"] < 1e-6
    x, y = task.fixed["val"]
    wrong_elsewhere = F.one_hot(y.clamp(min=0), 15).float() * 50
    wrong_elsewhere[y == IGNORE] = F.one_hot(torch.tensor(3), 15).float() * 50  # confidently wrong off the queries
    batch = next(iter(task.eval_batches("val", 64)))
    assert task.loss(wrong_elsewhere, batch).item() < 1e-6  # the loss reads the query positions only
    m = task.evaluate(lambda _: wrong_elsewhere, "val", 64)
    assert m["acc"] == m["seq_acc"] == 1.0 and m["loss"] < 1e-6


@pytest.mark.parametrize(
    "bad, words",
    [
        ({"vocab": 10, "n_pairs": 5}, "2·n_pairs + 1 = 11"),
        ({"n_queries": 9, "n_pairs": 8}, "at most task.n_pairs=8"),
        ({"seq_len": 20, "n_pairs": 8}, "at least 2·n_pairs + n_queries = 24"),
        ({"n_pairs": 0}, "task.n_pairs=0"),
    ],
)
def test_bad_settings_fail_in_one_line(bad, words):
    with pytest.raises(ConfigError, match=re.escape(words)):
        AssocRecall(**bad)
