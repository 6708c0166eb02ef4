"""T5 span corruption: source + target rebuild the text, the noise share and span count follow the settings,
and the batches are teacher-forced seq2seq batches."""

from __future__ import annotations

import pytest
import torch

from core.errors import ConfigError
from tasks.denoise import Denoise, rebuild, span_corrupt, span_counts
from tasks.text_data import BOS, EOS, N_SENTINELS

SENTINELS = list(range(1000, 1000 + N_SENTINELS))


def test_span_corruption_round_trips():
    g = torch.Generator().manual_seed(0)
    noise_total = tokens_total = 0
    for length in list(range(1, 40)) * 20:
        ids = torch.randint(4, 900, (length,), generator=g).tolist()
        src, tgt = span_corrupt(ids, 0.15, 3, SENTINELS, g)
        assert rebuild(src, tgt, SENTINELS) == ids
        used = [t for t in src if t in SENTINELS]
        assert used == SENTINELS[: len(used)] and [t for t in tgt if t in SENTINELS] == used  # in order, each once
        noise, spans = span_counts(length, 0.15, 3)
        if length > 1:
            assert len(used) == spans and len(tgt) - len(used) == noise and len(src) == length - noise + spans
        noise_total += len(tgt) - len(used)
        tokens_total += length
    assert abs(noise_total / tokens_total - 0.15) < 0.03


def test_span_counts_follow_t5():
    assert span_counts(20, 0.15, 3) == (3, 1)
    assert span_counts(100, 0.15, 3) == (15, 5)
    assert span_counts(2, 0.5, 3) == (1, 1)


def test_denoise_batches_are_teacher_forced(sentiment_folder, tmp_path):
    task = Denoise(
        data={"path": str(sentiment_folder)}, cache_dir=str(tmp_path / "cache"), noise_density=0.3, mean_span=1
    )
    s = task.spec
    assert s.output_kind == "sequence" and s.vocab_size == s.tgt_vocab_size == task.tokenizer.vocab_size
    task.setup(torch.device("cpu"), seed=0)
    b = task.train_batch(8)
    src, tgt_in = b.inputs
    assert (tgt_in[:, 0] == BOS).all() and tgt_in.shape == b.targets.shape and tgt_in.shape[1] <= s.tgt_max_len
    keep = b.targets != -100
    assert torch.equal(tgt_in[:, 1:][keep[:, 1:]], b.targets[:, :-1][keep[:, 1:]])  # shifted by one
    last = keep.sum(1) - 1
    assert (b.targets[torch.arange(8), last] == EOS).all()
    assert (b.targets[:, 0] == task.sentinels[0]).all()
    v1, v2 = (next(iter(task.eval_batches("val", 4))) for _ in range(2))
    assert torch.equal(v1.inputs[0], v2.inputs[0])  # evaluation corruptions are fixed
    assert task.directions["perplexity"] == "min"


def test_more_spans_than_sentinels_is_refused(sentiment_folder, tmp_path):
    with pytest.raises(ConfigError, match="sentinels"):
        Denoise(
            data={"path": str(sentiment_folder)},
            cache_dir=str(tmp_path / "cache"),
            max_len=400,
            noise_density=0.5,
            mean_span=1,
        )


@pytest.mark.parametrize("density", [0, 1, -0.1])
def test_a_noise_density_outside_0_1_is_one_line_before_any_data(tmp_path, density):
    with pytest.raises(ConfigError) as e:  # the folder does not exist: the setting is checked first
        Denoise(data={"path": str(tmp_path / "none")}, noise_density=density)
    assert str(e.value) == f"task.noise_density={density} must lie strictly between 0 and 1 (T5: 0.15)"
