"""The translation task: spec, teacher-forcing batches, resume, sacrebleu metrics, decoding, samples."""

from __future__ import annotations

import pandas as pd
import pytest
import sacrebleu
import torch

from core.errors import ConfigError
from tasks.text_data import BOS, EOS, PAD, RESERVED
from tasks.translation import Translation
from tests.tasks.text_fixtures import PAIRS, CopyOracle, TinySeq2Seq, write_folder


def make(folder, tmp_path, data=None, **kw):
    data = {"path": str(folder), "src": "en", "tgt": "es", **(data or {})}
    return Translation(data=data, cache_dir=str(tmp_path / "cache"), vocab_size=kw.pop("vocab_size", 80), **kw)


def test_spec(translation_folder, tmp_path):
    task = make(translation_folder, tmp_path, max_len=10, tgt_max_len=12)
    s = task.spec
    assert (s.input_kind, s.output_kind, s.pad_id, s.bos_id, s.eos_id, s.tgt_pad_id, s.ignore_index) == (
        "tokens",
        "sequence",
        0,
        1,
        2,
        0,
        -100,
    )
    assert s.max_len == 10 and s.tgt_max_len == 12 and s.vocab_size == s.tgt_vocab_size <= 80 + len(RESERVED)
    separate = make(translation_folder, tmp_path, joint_vocab=False, vocab_size=60)
    assert separate.src_tok is not separate.tgt_tok
    assert "▁casa" in separate.tgt_tok.tok.get_vocab() and "▁casa" not in separate.src_tok.tok.get_vocab()
    assert "▁casa" in task.src_tok.tok.get_vocab()  # the joint vocabulary holds both languages
    assert separate.tgt_tok.decode(separate.tgt_tok.encode_batch(["la casa"])[0]) == "la casa"


def test_batches_shift_targets_and_ignore_padding(translation_folder, tmp_path):
    task = make(translation_folder, tmp_path, tgt_max_len=5)
    task.setup(torch.device("cpu"), seed=0)
    batch = task.train_batch(6)
    src, tgt_in = batch.inputs
    y = batch.targets
    assert tgt_in.shape == y.shape and tgt_in.shape[1] <= 5
    assert (tgt_in[:, 0] == BOS).all()
    keep = y != -100
    lengths = keep.sum(1)
    for i in range(6):
        n = int(lengths[i])
        assert y[i, n - 1] == EOS and (tgt_in[i, 1:n] == y[i, : n - 1]).all()  # tgt_in = BOS + y, targets = y + EOS
        assert (tgt_in[i, n:] == PAD).all() and not keep[i, n:].any()
    assert batch.n_tokens == int((src != PAD).sum()) + int(lengths.sum())
    assert int(lengths.max()) == tgt_in.shape[1]  # padded to the batch's longest target


def test_resume_gives_identical_next_batches(translation_folder, tmp_path):
    a = make(translation_folder, tmp_path)
    a.setup(torch.device("cpu"), seed=1)
    for _ in range(5):
        a.train_batch(7)
    b = make(translation_folder, tmp_path)
    b.setup(torch.device("cpu"), seed=99)
    b.load_state_dict(a.state_dict())
    for _ in range(6):
        ba, bb = a.train_batch(7), b.train_batch(7)
        assert all(torch.equal(x, z) for x, z in zip(ba.inputs + (ba.targets,), bb.inputs + (bb.targets,)))


def test_sacrebleu_of_identical_text_is_100():
    refs = [b for _, b in PAIRS]
    assert sacrebleu.corpus_bleu(refs, [refs]).score == pytest.approx(100.0)
    assert sacrebleu.corpus_chrf(refs, [refs]).score == pytest.approx(100.0)


def test_a_perfect_translator_scores_100_on_detokenized_text(tmp_path):
    """Source = target text: the copy oracle's decoded ids, detokenized, must equal the raw references."""
    df = pd.DataFrame([{"en": b, "es": b} for _, b in PAIRS])
    folder = write_folder(tmp_path / "same", {"train": df, "validation": df, "test": df}, "jsonl")
    task = make(folder, tmp_path, max_len=40, tgt_max_len=41, eval_decode_max=3)
    task.setup(torch.device("cpu"), seed=0)
    oracle = CopyOracle(task.spec.tgt_vocab_size)
    val = task.evaluate(oracle, "val", batch_size=3)
    assert val["decoded"] == 3 and task.artifacts() == {}
    test = task.evaluate(oracle, "test", batch_size=3)
    assert test["bleu"] == pytest.approx(100.0) and test["chrf"] == pytest.approx(100.0)
    assert test["acc"] == 1.0 and test["loss"] < 1e-3 and test["decoded"] == len(PAIRS)
    samples = task.artifacts()["samples"]
    assert len(samples) == len(PAIRS) and samples[6] == {
        "source": PAIRS[6][1],
        "reference": PAIRS[6][1],
        "hypothesis": PAIRS[6][1],
    }


def test_evaluation_with_a_small_seq2seq_model_and_beam(translation_folder, tmp_path):
    task = make(translation_folder, tmp_path, beam=3, max_decode_len=6)
    task.setup(torch.device("cpu"), seed=0)
    torch.manual_seed(0)
    model = TinySeq2Seq(task.spec.vocab_size, task.spec.tgt_vocab_size).eval()
    m = task.evaluate(model, "test", batch_size=4)
    assert set(m) >= {"bleu", "chrf", "acc", "loss", "decoded"}
    assert 0 <= m["bleu"] < 100 and 0 <= m["acc"] < 1
    hyps = [s["hypothesis"] for s in task.artifacts()["samples"]]
    assert len(hyps) == len(PAIRS) and all(isinstance(h, str) for h in hyps)


def test_bad_settings(translation_folder, tmp_path):
    with pytest.raises(ConfigError, match=r"no column \['fr'\]; its columns are \['en', 'es'\]"):
        make(translation_folder, tmp_path, data={"tgt": "fr"})
    with pytest.raises(ConfigError, match="max_decode_len=20 is longer than task.tgt_max_len=8"):
        make(translation_folder, tmp_path, tgt_max_len=8, max_decode_len=20)
    with pytest.raises(ConfigError, match="task.beam=0"):
        make(translation_folder, tmp_path, beam=0)
    with pytest.raises(ConfigError, match="both 'en'"):
        make(translation_folder, tmp_path, data={"tgt": "en"})


def test_hydra_config_composes(cfg_factory, translation_folder, tmp_path):
    from hydra.utils import instantiate

    cfg = cfg_factory(
        "task=translation",
        f"task.data.path={translation_folder}",
        "task.data.src=en",
        "task.data.tgt=es",
        f"task.cache_dir={tmp_path / 'cache'}",
        "task.vocab_size=80",
        "task.beam=2",
    )
    task = instantiate(cfg.task, _convert_="all")
    assert isinstance(task, Translation) and task.beam == 2 and task.main_metric == "bleu"
