"""Causal language modelling: targets are the inputs shifted by one (<bos> in, <eos> out), padding is never
scored, perplexity is exp(loss), and the spec asks for a causal model."""

from __future__ import annotations

import math

import pytest
import torch

from tasks.lm import CausalLM
from tasks.text_data import BOS, EOS, PAD


def make(folder, tmp_path, **kw):
    return CausalLM(data={"path": str(folder)}, cache_dir=str(tmp_path / "cache"), **kw)


def test_targets_are_the_next_tokens(sentiment_folder, tmp_path):
    task = make(sentiment_folder, tmp_path, max_len=6)
    assert task.spec.causal and task.spec.max_len == 7 and task.main_metric == "perplexity"
    assert task.directions["perplexity"] == task.directions["loss"] == "min"
    task.setup(torch.device("cpu"), seed=0)
    batch = next(iter(task.eval_batches("val", 16)))
    x, y = batch.inputs[0], batch.targets
    lengths = task.data["val"][1][:16]
    assert x.shape == y.shape and (x[:, 0] == BOS).all() and lengths.min() < lengths.max()  # some padding
    for b in range(len(x)):
        n = int(lengths[b])
        text = task.data["val"][0][b, :n]
        assert torch.equal(x[b, 1 : n + 1], text) and (x[b, n + 1 :] == PAD).all()
        assert torch.equal(y[b, :n], text) and y[b, n] == EOS and (y[b, n + 1 :] == -100).all()
    assert batch.n_tokens == int((lengths + 1).sum())


def test_perplexity_is_exp_of_the_loss_over_predicted_tokens(sentiment_folder, tmp_path):
    task = make(sentiment_folder, tmp_path)
    task.setup(torch.device("cpu"), seed=0)
    V = task.spec.num_classes
    uniform = task.evaluate(lambda x: torch.zeros(*x.shape, V), "test", 8)
    assert uniform["loss"] == pytest.approx(math.log(V)) and uniform["perplexity"] == pytest.approx(V)
    batch = task.train_batch(8)
    logits = torch.randn(*batch.targets.shape, V, generator=torch.Generator().manual_seed(0))
    moved = logits.clone()
    moved[batch.targets == -100] += 10  # outputs at padding do not count
    assert torch.allclose(task.loss(moved, batch), task.loss(logits, batch))


def test_evaluation_batches_keep_their_logits_bounded(sentiment_folder, tmp_path, monkeypatch):
    """mlm and lm score every position over the whole vocabulary: their eval batches shrink to stay under the
    bound, and the metrics do not depend on the batch size."""
    import tasks.corpus
    from tasks.mlm import MaskedLM

    for task in (
        make(sentiment_folder, tmp_path),
        MaskedLM(data={"path": str(sentiment_folder)}, cache_dir=str(tmp_path / "cache")),
    ):
        task.setup(torch.device("cpu"), seed=0)
        model = lambda x, task=task: torch.zeros(*x.shape, task.spec.num_classes)
        whole = task.evaluate(model, "val", 64)
        per_row = task.spec.max_len * task.spec.num_classes
        monkeypatch.setattr(tasks.corpus, "EVAL_LOGITS", 3 * per_row)
        assert {len(b.targets) for b in task.eval_batches("val", 64)} == {3, 1}  # 16 rows: 5 × 3 + 1
        assert task.evaluate(model, "val", 64) == pytest.approx(whole)
        monkeypatch.undo()
