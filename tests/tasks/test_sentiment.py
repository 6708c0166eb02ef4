"""The sentiment task: spec, batches, resume, metrics, and one run through Hydra + the harness."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from sklearn.metrics import f1_score

from harness.train import train
from tasks.sentiment import Sentiment, macro_f1
from tasks.text_data import PAD


def make(folder, tmp_path, **kw):
    return Sentiment(data={"path": str(folder)}, cache_dir=str(tmp_path / "cache"), **kw)


def test_spec_and_batches(sentiment_folder, tmp_path):
    task = make(sentiment_folder, tmp_path, max_len=4)
    spec = task.spec
    assert (spec.input_kind, spec.output_kind, spec.num_classes, spec.pad_id, spec.max_len) == (
        "tokens",
        "class",
        2,
        PAD,
        4,
    )
    task.setup(torch.device("cpu"), seed=0)
    batch = task.train_batch(5)
    (x,) = batch.inputs
    assert x.shape[0] == 5 and x.shape[1] <= 4 and batch.targets.shape == (5,)
    assert batch.n_tokens == int((x != PAD).sum())
    assert (x != PAD).any(1).all()  # no row is all padding
    n = sum(b.n_samples for b in task.eval_batches("val", 7))
    assert n == 16
    with pytest.raises(Exception, match="unknown split"):
        next(task.eval_batches("validation", 7))


def test_epochs_cover_every_row_once(sentiment_folder, tmp_path):
    task = make(sentiment_folder, tmp_path)
    task.setup(torch.device("cpu"), seed=3)
    seen = torch.cat([task.sampler.next(5) for _ in range(6)])  # 30 of the 32 rows
    across = task.sampler.next(5)  # the last 2 rows of epoch 0, then 3 of epoch 1: batches stay full
    assert len(across) == 5 and task.sampler.epoch == 1 and task.sampler.pos == 3
    assert sorted(seen.tolist() + across[:2].tolist()) == list(range(32))


def test_resume_gives_identical_next_batches(sentiment_folder, tmp_path):
    a = make(sentiment_folder, tmp_path)
    a.setup(torch.device("cpu"), seed=7)
    for _ in range(9):  # into the second epoch
        a.train_batch(5)
    state = a.state_dict()
    b = make(sentiment_folder, tmp_path)
    b.setup(torch.device("cpu"), seed=123)  # another seed: only the loaded state may matter
    b.load_state_dict(state)
    for _ in range(10):  # across the next epoch boundary too
        ba, bb = a.train_batch(5), b.train_batch(5)
        assert torch.equal(ba.inputs[0], bb.inputs[0]) and torch.equal(ba.targets, bb.targets)


def test_macro_f1_on_a_known_confusion():
    c = torch.tensor([[5, 1, 0], [2, 3, 1], [0, 0, 4]])  # rows true, columns predicted
    # F1 per class: 2·5/(10+1+2)=10/13, 2·3/(6+1+3)=0.6, 2·4/(8+1+0)=8/9
    f1, per_class = macro_f1(c)
    assert per_class == pytest.approx([10 / 13, 0.6, 8 / 9])
    assert f1 == pytest.approx((10 / 13 + 0.6 + 8 / 9) / 3)


def test_macro_f1_matches_sklearn_including_absent_classes():
    g = torch.Generator().manual_seed(0)
    y, p = torch.randint(0, 4, (200,), generator=g), torch.randint(0, 3, (200,), generator=g)  # class 3 never predicted
    y[y == 2] = 1  # class 2 never true (but predicted)
    c = torch.bincount(y * 5 + p, minlength=25).reshape(5, 5)  # class 4 in neither
    assert macro_f1(c)[0] == pytest.approx(f1_score(y.numpy(), p.numpy(), average="macro"))


def test_eval_metrics_from_logits(sentiment_folder, tmp_path):
    task = make(sentiment_folder, tmp_path)
    task.setup(torch.device("cpu"), seed=0)

    class Oracle(torch.nn.Module):  # right on the first 12 test rows (file order), wrong on the last 4
        def __init__(self):
            super().__init__()
            self.seen = 0

        def forward(self, x):
            y = task.data["test"][2][self.seen : self.seen + len(x)]
            wrong = torch.arange(self.seen, self.seen + len(x)) >= 12
            self.seen += len(x)
            return torch.nn.functional.one_hot(torch.where(wrong, 1 - y, y), 2).float() * 5

    m = task.evaluate(Oracle(), "test", batch_size=5)
    assert m["acc"] == pytest.approx(12 / 16)
    assert m["macro_f1"] < 1 and 0 < m["loss"]


def test_end_to_end_through_hydra_and_the_harness(cfg_factory, sentiment_folder, tmp_path):
    cfg = cfg_factory(
        "arch=transformer",
        "task=sentiment",
        f"task.data.path={sentiment_folder}",
        f"task.cache_dir={tmp_path / 'cache'}",
        "task.max_len=8",
        "trainer.stop_at=null",
    )
    summary = train(cfg)
    on_disk = json.loads((Path(cfg.run_dir) / "summary.json").read_text())
    assert summary["status"] == on_disk["status"] == "completed"
    assert 0 <= on_disk["metrics"]["test/acc"] <= 1 and 0 <= on_disk["metrics"]["test/macro_f1"] <= 1
    assert on_disk["task_info"]["num_classes"] == 2 and on_disk["task_info"]["main_metric"] == "acc"


@pytest.mark.parametrize(
    "name, path, column, val_split, test_split",
    [
        ("sentiment", "rotten_tomatoes", "text", "validation", "test"),
        ("imdb", "imdb", "text", None, "test"),
        ("sst2", "stanfordnlp/sst2", "sentence", None, "validation"),
    ],
)
def test_task_configs_compose(cfg_factory, name, path, column, val_split, test_split):
    t = cfg_factory(f"task={name}").task
    assert t._target_ == "tasks.sentiment.Sentiment" and t.data.path == path and t.data.text_column == column
    assert t.data.val_split == val_split and t.data.test_split == test_split
