"""Loading and tokenizing text data: file formats, carved validation, tokenizer cache, every bad-data message."""

from __future__ import annotations

import pandas as pd
import pytest
import torch

import tasks.text_data as td
from core.errors import ConfigError
from tasks.sentiment import Sentiment
from tests.tasks.text_fixtures import sentiment_frame, write_folder


def make(folder, tmp_path, **kw):
    return Sentiment(data={"path": str(folder), **kw.pop("data", {})}, cache_dir=str(tmp_path / "cache"), **kw)


@pytest.mark.parametrize("fmt", ["parquet", "csv", "json", "jsonl"])
def test_every_file_format_loads_the_same_rows(tmp_path, fmt):
    df = sentiment_frame()
    folder = write_folder(tmp_path / fmt, {"train": df, "validation": df.iloc[:5], "test": df.iloc[:7]}, fmt)
    data = td.load_text_data(str(folder), ["text", "label"], cache_dir=str(tmp_path / "cache"))
    assert data.sizes() == {"train": 16, "val": 5, "test": 7}
    assert data.splits["train"]["text"] == df["text"].tolist()
    assert data.splits["test"]["label"] == df["label"].tolist()[:7]
    assert not data.carved_validation


def test_missing_validation_is_carved_from_train_deterministically(tmp_path):
    df = sentiment_frame(5)  # 80 rows
    folder = write_folder(tmp_path / "d", {"train": df, "test": df.iloc[:4]})
    a = td.load_text_data(str(folder), ["text", "label"], cache_dir=str(tmp_path / "c"), val_fraction=0.1)
    b = td.load_text_data(str(folder), ["text", "label"], cache_dir=str(tmp_path / "c"), val_fraction=0.1)
    assert a.carved_validation and a.sizes() == {"train": 72, "val": 8, "test": 4}
    assert a.splits == b.splits
    other = td.load_text_data(str(folder), ["text", "label"], cache_dir=str(tmp_path / "c"), split_seed=1)
    assert other.splits["val"] != a.splits["val"]


def test_tokenizer_is_trained_on_train_only_and_cached(sentiment_folder, tmp_path, monkeypatch):
    first = make(sentiment_folder, tmp_path)
    assert first.tokenizer_file.exists() and first.tokenizer_file.parent == tmp_path / "cache" / "tokenizers"
    vocab = first.tokenizer.tok.get_vocab()
    assert [vocab[s] for s in td.SPECIALS] == [0, 1, 2, 3]
    V = first.spec.vocab_size  # the pre-training ids (<mask>, sentinels) close every vocabulary
    assert [vocab[s] for s in td.RESERVED] == list(range(V - len(td.RESERVED), V)) == first.tokenizer.reserved
    assert "good" in vocab and "filmx" not in vocab
    mtime = first.tokenizer_file.stat().st_mtime_ns

    def no_training(*a, **k):
        raise AssertionError("the tokenizer was retrained although it is cached")

    monkeypatch.setattr(td, "train_tokenizer", no_training)
    second = make(sentiment_folder, tmp_path)
    assert second.tokenizer_file == first.tokenizer_file
    assert second.tokenizer_file.stat().st_mtime_ns == mtime
    assert second.spec == first.spec
    with pytest.raises(AssertionError, match="retrained"):  # other settings → another cache key → training
        make(sentiment_folder, tmp_path, vocab_size=30)


def test_cache_key_follows_the_data_files(sentiment_folder, tmp_path):
    first = make(sentiment_folder, tmp_path)
    write_folder(sentiment_folder, {"train": pd.DataFrame({"text": ["new words only"] * 3, "label": [0, 1, 0]})})
    second = make(sentiment_folder, tmp_path)
    assert second.tokenizer_file != first.tokenizer_file
    assert "new" in second.tokenizer.tok.get_vocab()


def test_cache_dir_from_environment(sentiment_folder, tmp_path, monkeypatch):
    monkeypatch.setenv("ARCHBENCH_CACHE", str(tmp_path / "envcache"))
    task = Sentiment(data={"path": str(sentiment_folder)})
    assert task.tokenizer_file.parent == tmp_path / "envcache" / "tokenizers"


def test_byte_and_bpe_tokenizers(sentiment_folder, tmp_path):
    byte = make(sentiment_folder, tmp_path, tokenizer="byte")
    assert byte.spec.vocab_size == 260 + len(td.RESERVED) and byte.tokenizer_file is None
    assert byte.tokenizer.reserved == list(range(260, 260 + len(td.RESERVED)))
    assert byte.tokenizer.encode_batch(["añ"]) == [[ord("a") + 4, 0xC3 + 4, 0xB1 + 4]]
    assert byte.tokenizer.decode([1] + byte.tokenizer.encode_batch(["añ"])[0] + [2]) == "añ"
    bpe = make(sentiment_folder, tmp_path, tokenizer="bpe", vocab_size=60, lowercase=False)
    ids = bpe.tokenizer.encode_batch(["great fun and good acting"])[0]
    assert bpe.tokenizer.decode(ids) == "great fun and good acting"
    assert bpe.spec.vocab_size <= 60 + len(td.RESERVED) and bpe.tokenizer.kind == "bpe"


def test_a_saved_tokenizer_file_is_loaded_as_it_is(sentiment_folder, tmp_path):
    first = make(sentiment_folder, tmp_path, tokenizer="bpe", vocab_size=60)
    saved = tmp_path / "tokenizer.json"
    saved.write_text(first.run_files()["tokenizer.json"])
    again = make(sentiment_folder, tmp_path, tokenizer=str(saved))
    assert again.tokenizer.kind == "bpe" and again.tokenizer_file == saved and again.spec == first.spec
    assert torch.equal(again.rows["train"][0], first.rows["train"][0])
    with pytest.raises(ConfigError, match="is not a file"):
        make(sentiment_folder, tmp_path, tokenizer=str(tmp_path / "missing.json"))
    assert make(sentiment_folder, tmp_path, tokenizer="byte").run_files() == {}  # nothing to save


def test_max_len_truncates_and_null_uses_the_longest_text(sentiment_folder, tmp_path):
    short = make(sentiment_folder, tmp_path, max_len=2)
    assert short.spec.max_len == 2 and short.rows["train"][0].shape[1] == 2
    auto = make(sentiment_folder, tmp_path, max_len=None)
    assert auto.spec.max_len == 5  # "great fun and good acting"


# ---------------------------------------------------------------------------------------------- bad data
def test_missing_column_lists_the_columns(sentiment_folder, tmp_path):
    with pytest.raises(ConfigError, match=r"no column \['review'\].*columns are \['text', 'label'\]"):
        make(sentiment_folder, tmp_path, data={"text_column": "review"})


@pytest.mark.parametrize("fmt", ["parquet", "csv", "json", "jsonl"])
def test_empty_split(tmp_path, fmt):
    df = sentiment_frame()
    folder = write_folder(tmp_path / "d", {"train": df, "validation": df.iloc[:0], "test": df}, fmt)
    with pytest.raises(ConfigError, match=r"the val split of .* is empty .*; every split needs at least one row"):
        make(folder, tmp_path)


def test_string_labels_say_how_to_map_them(tmp_path):
    df = sentiment_frame()
    df["label"] = df["label"].map({0: "neg", 1: "pos"})
    folder = write_folder(tmp_path / "d", {"train": df, "validation": df, "test": df}, "csv")
    with pytest.raises(ConfigError, match=r"not integer class ids.*'task.label_map=\{neg:0,pos:1\}'"):
        make(folder, tmp_path)


def test_negative_labels_point_at_test_split(tmp_path):
    df = sentiment_frame()
    folder = write_folder(tmp_path / "d", {"train": df, "validation": df, "test": df.assign(label=-1)})
    with pytest.raises(ConfigError, match="unlabelled test split.*task.data.test_split=validation"):
        make(folder, tmp_path)


def test_folder_without_split_files_lists_what_it_found(tmp_path):
    folder = tmp_path / "d"
    folder.mkdir()
    (folder / "notes.txt").write_text("hi")
    sentiment_frame().to_parquet(folder / "everything.parquet")
    with pytest.raises(
        ConfigError,
        match=r"no train and no test split file. Found: \['everything.parquet', "
        r"'notes.txt'\]. Expected files named train.<ext>",
    ):
        make(folder, tmp_path)


def test_unknown_data_key_lists_the_valid_ones(sentiment_folder, tmp_path):
    with pytest.raises(ConfigError, match=r"unknown key\(s\) \['text_col'\]; valid keys: path, name, text_column"):
        make(sentiment_folder, tmp_path, data={"text_col": "text"})


def test_path_that_is_not_a_folder(tmp_path):
    with pytest.raises(ConfigError, match="is not a folder"):
        make(tmp_path / "missing", tmp_path)


def test_unknown_hub_id_offline_fails_with_the_fix(tmp_path):
    with pytest.raises(ConfigError, match="download it once while online.*task.data.path"):
        Sentiment(data={"path": "no_such_user/no_such_dataset_xyz"}, cache_dir=str(tmp_path))


def test_unreachable_hub_without_offline_flag_is_one_line_with_the_fix(tmp_path, monkeypatch):
    """Without HF_HUB_OFFLINE, datasets would retry for ~24 s; the reachability probe answers first (how fast is
    not asserted here: timing belongs in benchmarks/)."""
    import datasets
    from huggingface_hub import constants

    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "ENDPOINT", "https://hub.invalid")
    with pytest.raises(ConfigError, match="cannot be reached.*HF_HUB_OFFLINE=1"):
        Sentiment(data={"path": "rotten_tomatoes"}, cache_dir=str(tmp_path))
