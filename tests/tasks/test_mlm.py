"""Masked language modelling: BERT's masking statistics, a loss that reads only the selected positions, fixed
evaluation masks, and the spec that asks for both sides of each position."""

from __future__ import annotations

import math

import pytest
import torch

from core.errors import ConfigError
from tasks.mlm import MaskedLM, mask_tokens
from tasks.text_data import PAD


def make(folder, tmp_path, **kw):
    return MaskedLM(data={"path": str(folder)}, cache_dir=str(tmp_path / "cache"), **kw)


def test_masking_statistics_on_a_large_sample():
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(4, 5004, (2000, 100), generator=g)  # 200k positions
    real = torch.ones_like(ids, dtype=torch.bool)
    real[:, 80:] = False  # padding is never selected
    ids[~real] = PAD
    mask_id = 5004
    inputs, targets = mask_tokens(ids, real, 0.15, mask_id, (4, 5004), torch.Generator().manual_seed(1))
    selected = targets != -100
    assert not selected[~real].any() and (inputs[~real] == PAD).all()
    assert abs(selected[real].float().mean().item() - 0.15) < 0.01
    assert (targets[selected] == ids[selected]).all()  # the target is the original token
    assert (inputs[~selected] == ids[~selected]).all()  # unselected positions are untouched
    n = selected.sum().item()
    masked = (inputs[selected] == mask_id).sum().item() / n
    randomized = ((inputs[selected] != mask_id) & (inputs[selected] != ids[selected])).sum().item() / n
    unchanged = (inputs[selected] == ids[selected]).sum().item() / n
    assert abs(masked - 0.8) < 0.02 and abs(randomized - 0.1) < 0.02 and abs(unchanged - 0.1) < 0.02
    random_tokens = inputs[selected & (inputs != mask_id) & (inputs != ids)]
    assert random_tokens.min() >= 4 and random_tokens.max() < 5004  # ordinary tokens only, never specials


def test_the_loss_ignores_unselected_positions(sentiment_folder, tmp_path):
    task = make(sentiment_folder, tmp_path)
    task.setup(torch.device("cpu"), seed=0)
    batch = task.train_batch(16)
    selected = batch.targets != -100
    assert selected.any() and (~selected & (batch.inputs[0] != PAD)).any()
    logits = torch.randn(*batch.targets.shape, task.spec.num_classes, generator=torch.Generator().manual_seed(0))
    base = task.loss(logits, batch)
    perturbed = logits.clone()
    perturbed[~selected] += 10 * torch.randn_like(perturbed[~selected])
    assert torch.allclose(task.loss(perturbed, batch), base)
    assert task.eval_stats(perturbed, batch)["loss_sum"].item() == pytest.approx(
        task.eval_stats(logits, batch)["loss_sum"].item()
    )
    moved = logits.clone()
    moved[selected] += 10 * torch.randn_like(moved[selected])
    assert not torch.allclose(task.loss(moved, batch), base)  # the selected positions do count


def test_evaluation_masks_are_fixed_and_training_masks_are_drawn_per_batch(sentiment_folder, tmp_path):
    a, b = make(sentiment_folder, tmp_path), make(sentiment_folder, tmp_path)
    a.setup(torch.device("cpu"), seed=0)
    b.setup(torch.device("cpu"), seed=5)
    va, vb = next(iter(a.eval_batches("val", 64))), next(iter(b.eval_batches("val", 64)))
    assert torch.equal(va.inputs[0], vb.inputs[0]) and torch.equal(va.targets, vb.targets)  # any run, same masks
    first, second = a.train_batch(32), a.train_batch(32)
    assert not torch.equal(first.targets, second.targets)


def test_spec_metrics_and_record(sentiment_folder, tmp_path):
    task = make(sentiment_folder, tmp_path, max_len=8)
    s = task.spec
    assert s.output_kind == "tokens" and s.num_classes == s.vocab_size and s.prefers_bidirectional
    assert task.directions["perplexity"] == "min" and task.directions["acc"] == "max"
    task.setup(torch.device("cpu"), seed=0)
    metrics = task.finalize({"loss_sum": torch.tensor(6.0), "right": torch.tensor(1.0), "tokens": torch.tensor(3.0)})
    assert metrics["acc"] == pytest.approx(1 / 3) and metrics["perplexity"] == pytest.approx(torch.e**2)
    info = task.describe()
    assert info["masking"]["mask_prob"] == 0.15 and info["tokenizer"] == "word" and info["train_fraction"] == 1.0
    assert task.mask_id == task.tokenizer.reserved[0] == task.tokenizer.tok.token_to_id("<mask>")


@pytest.mark.parametrize("prob", [0, 1, -0.1])
def test_bad_mask_prob_is_refused(sentiment_folder, tmp_path, prob):
    with pytest.raises(ConfigError, match="mask_prob"):
        make(sentiment_folder, tmp_path, mask_prob=prob)


def test_the_masking_stream_resumes_where_it_stood(sentiment_folder, tmp_path):
    task = make(sentiment_folder, tmp_path)
    task.setup(torch.device("cpu"), seed=0)
    task.train_batch(8)
    state = task.state_dict()
    after = task.train_batch(8)
    again = make(sentiment_folder, tmp_path)
    again.setup(torch.device("cpu"), seed=0)
    again.load_state_dict(state)
    resumed = again.train_batch(8)
    assert torch.equal(resumed.inputs[0], after.inputs[0]) and torch.equal(resumed.targets, after.targets)


def test_the_unigram_rate_is_the_most_frequent_training_token_on_the_test_masks(sentiment_folder, tmp_path):
    task = make(sentiment_folder, tmp_path, mask_prob=0.9)  # the fixture's test split is small: mask most of it
    task.setup(torch.device("cpu"), seed=0)
    x = task.data["train"][0]
    counts = torch.bincount(x[x != PAD].flatten())
    targets = task.fixed["test"][1]
    picked = targets[targets != task.spec.ignore_index]
    # recomputed here by hand: the share of masked test targets that are the training text's commonest token
    expected = (picked == counts.argmax()).float().mean().item()
    assert 0 < expected < 1 and task.unigram == pytest.approx(expected)
    assert task.describe()["chance"] == pytest.approx(expected, abs=1e-4)


def test_the_unigram_loss_is_the_word_frequencies_cross_entropy_on_the_same_masks(sentiment_folder, tmp_path):
    task = make(sentiment_folder, tmp_path, mask_prob=0.5)
    task.setup(torch.device("cpu"), seed=0)
    batch = next(iter(task.eval_batches("test", 1000)))
    V = task.spec.num_classes
    # a model whose logits are the unigram log-probabilities everywhere scores exactly the unigram loss
    logits = task.log_unigram.expand(*batch.targets.shape, V)
    m = task.finalize(task.eval_stats(logits, batch))
    assert m["loss"] == pytest.approx(m["unigram_loss"], rel=1e-5) and m["unigram_loss"] > 0
    # a uniform model is worse than the word frequencies
    u = task.finalize(task.eval_stats(torch.zeros(*batch.targets.shape, V), batch))
    assert u["loss"] == pytest.approx(math.log(V), rel=1e-5) and u["loss"] > u["unigram_loss"]
    assert task.directions["unigram_loss"] == "min"
