"""The text settings the one-column text tasks share: one TextSource, set flat, read by the settings' checks as
if each task wrote them out."""

from __future__ import annotations

import dataclasses
import inspect

import pytest

from core.errors import ConfigError
from harness import config_types
from tasks.denoise import Denoise
from tasks.lm import CausalLM
from tasks.mlm import MaskedLM
from tasks.sentiment import Sentiment
from tasks.text_source import TextSource

TASKS = [Sentiment, MaskedLM, CausalLM, Denoise]
SOURCE = [f.name for f in dataclasses.fields(TextSource)]


@pytest.mark.parametrize("cls", TASKS)
def test_the_signature_lists_the_source_settings_then_the_tasks_own(cls):
    params = inspect.signature(cls).parameters
    assert list(params)[: len(SOURCE)] == SOURCE
    assert all(p.kind is p.KEYWORD_ONLY for p in params.values())
    assert "source" not in params
    for f in dataclasses.fields(TextSource):
        default = params[f.name].default
        assert default is (inspect.Parameter.empty if f.default is dataclasses.MISSING else f.default), f.name


def test_the_own_settings_keep_their_defaults_and_types():
    params = inspect.signature(MaskedLM).parameters
    assert params["mask_prob"].default == 0.15 and params["mask_seed"].default == 1234
    hints = config_types.hints_of(Denoise)
    assert hints["noise_seed"] is int and hints["vocab_size"] is int and hints["max_len"] == int | None


@pytest.mark.parametrize(
    ("cls", "key", "value", "message"),
    [
        (Sentiment, "vocab_size", "big", r"task.vocab_size='big' must be a whole number"),
        (MaskedLM, "lowercase", 1, r"task.lowercase=1 must be true or false"),
        (MaskedLM, "mask_prob", "x", r"task.mask_prob='x' must be a number"),
        (CausalLM, "cache_dir", 3, r"task.cache_dir=3 must be a string, or null"),
    ],
)
def test_the_type_checks_read_source_and_own_settings(cls, key, value, message):
    with pytest.raises(ConfigError, match=message):
        config_types.check({key: value}, cls, "task")


def test_the_source_refuses_an_unknown_data_key_and_a_bad_fraction():
    with pytest.raises(ConfigError, match=r"unknown key\(s\) \['colour'\]"):
        TextSource(data={"path": "x", "colour": "red"})
    with pytest.raises(ConfigError, match="train_fraction"):
        TextSource(data={"path": "x"}, train_fraction=0)
    s = TextSource(data={"path": "x", "text_column": "review"})
    assert (s.path, s.text_column, s.label_column) == ("x", "review", "label")


def test_the_task_gets_the_source_and_refuses_an_unknown_setting(sentiment_folder, tmp_path):
    cache = str(tmp_path / "cache")
    task = CausalLM(data={"path": str(sentiment_folder)}, cache_dir=cache, max_len=5, tokenizer="byte")
    assert task.max_len == 5 and task.tokenizer.kind == "byte" and task.path == str(sentiment_folder)
    with pytest.raises(TypeError, match="colour"):
        CausalLM(data={"path": str(sentiment_folder)}, cache_dir=cache, colour="red")
    with pytest.raises(TypeError, match="data"):
        MaskedLM(mask_prob=0.2)


def test_the_older_load_corpus_form_still_works_with_a_warning(sentiment_folder, tmp_path, capsys):
    from tasks.corpus import CorpusTask

    task = CorpusTask()
    tt = task.load_corpus({"path": str(sentiment_folder)}, tokenizer="byte", max_len=4, cache_dir=str(tmp_path))
    assert "load_corpus(data, tokenizer=..., ...) is deprecated" in capsys.readouterr().err
    assert task.max_len == tt.max_len == 4 and task.tokenizer.kind == "byte"
