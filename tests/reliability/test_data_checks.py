"""Cases 3, 8, 15, 16, 17: data that would train silently wrong is refused with one line naming what was found
and the fix (``task.label_map``, ``task.num_classes``, ``task.drop_empty=true``, re-saving as UTF-8), or
warned about (a rare very long text under ``max_len=null``)."""

from __future__ import annotations

import pandas as pd
import pytest

from core.errors import ConfigError
from harness.train import train
from tasks.sentiment import Sentiment
from tasks.translation import Translation
from tests.conftest import make_cfg
from tests.reliability.helpers import cli, one_line_error
from tests.tasks.text_fixtures import PAIRS, sentiment_frame, write_folder


def sentiment(folder, tmp_path, **kw):
    return Sentiment(data={"path": str(folder)}, cache_dir=str(tmp_path / "cache"), **kw)


def translation(folder, tmp_path, **kw):
    return Translation(
        data={"path": str(folder), "src": "en", "tgt": "es"}, cache_dir=str(tmp_path / "cache"), vocab_size=80, **kw
    )


def labelled(tmp_path, train, test=None, fmt="parquet"):
    """A sentiment folder whose labels are ``train`` (cycled over the 16 rows) and ``test`` for val/test."""

    def frame(labels):
        df = sentiment_frame()
        return df.assign(label=[labels[i % len(labels)] for i in range(len(df))])

    test = test if test is not None else train
    return write_folder(tmp_path / "d", {"train": frame(train), "validation": frame(train), "test": frame(test)}, fmt)


# -- case 3: labels ---------------------------------------------------------------------------------------
def test_labels_one_to_k_are_refused_with_the_labels_found_and_label_map(tmp_path):
    folder = labelled(tmp_path, [1, 2])
    with pytest.raises(ConfigError, match=r"are \{1, 2\}, not the class ids 0..1; remap them: task.label_map"):
        sentiment(folder, tmp_path)
    task = sentiment(folder, tmp_path, label_map={1: 0, 2: 1})
    assert task.num_classes == 2 and task.describe()["label_map"] == {1: 0, 2: 1}
    assert sorted(task.rows["train"][2].unique().tolist()) == [0, 1]  # no phantom class 0


def test_label_map_keys_may_be_text_as_yaml_gives_them(tmp_path):
    folder = labelled(tmp_path, ["neg", "pos"], fmt="csv")
    assert sentiment(folder, tmp_path, label_map={"neg": 0, "pos": 1}).num_classes == 2
    with pytest.raises(ConfigError, match=r"task.label_map does not map 1 value\(s\).*'pos' \(row 1\)"):
        sentiment(folder, tmp_path, label_map={"neg": 0})


def test_labels_with_a_gap_are_refused(tmp_path):
    with pytest.raises(ConfigError, match=r"are \{0, 2\}, not the class ids 0..1"):
        sentiment(labelled(tmp_path, [0, 2]), tmp_path)


def test_a_class_only_in_test_is_refused_unless_num_classes_says_so(tmp_path):
    folder = labelled(tmp_path, [0, 1], test=[0, 1, 2])
    with pytest.raises(ConfigError, match=r"test split .* label\(s\) \{2\} .* never shows"):
        sentiment(folder, tmp_path)
    assert sentiment(folder, tmp_path, num_classes=3).spec.num_classes == 3
    with pytest.raises(ConfigError, match=r"labels \{0, 1, 2\} .* task.num_classes=2 allows 0..1"):
        sentiment(folder, tmp_path, num_classes=2)


def test_a_one_class_train_split_is_refused(tmp_path):
    with pytest.raises(ConfigError, match=r"train split .* holds only class \[1\]"):
        sentiment(labelled(tmp_path, [1], test=[0, 1]), tmp_path, num_classes=2)


def test_bad_labels_from_the_command_line_are_one_line(tmp_path):
    folder = labelled(tmp_path, [1, 2])
    proc = cli(
        tmp_path / "run",
        "task=sentiment",
        f"task.data.path={folder}",
        "arch=cnn",
        "trainer.max_steps=2",
        f"task.cache_dir={tmp_path / 'cache'}",
    )
    one_line_error(proc, "{1, 2}", "task.label_map")
    cfg = make_cfg(
        tmp_path,
        "task=sentiment",
        f"task.data.path={folder}",
        "arch=cnn",
        "trainer.max_steps=2",
        f"task.cache_dir={tmp_path / 'cache'}",
        "task.label_map={1:0,2:1}",
    )  # the override as typed
    assert train(cfg)["task_info"]["num_classes"] == 2


# -- case 16: float and NaN labels -------------------------------------------------------------------------
def test_float_labels_name_the_cast_and_the_rows(tmp_path):
    with pytest.raises(ConfigError, match=r"holds \['float'\] values.*rows 0, 1, 2, 3, 4, ….*astype\(int\)"):
        sentiment(labelled(tmp_path, [0.0, 1.0]), tmp_path)


def test_nan_labels_name_the_rows_and_drop_empty(tmp_path):
    df = sentiment_frame()
    df["label"] = df["label"].astype(float)
    df.loc[[3, 7], "label"] = float("nan")
    folder = write_folder(tmp_path / "d", {"train": df, "validation": sentiment_frame(), "test": sentiment_frame()})
    with pytest.raises(
        ConfigError,
        match=r"2 of 16 rows of the train split .* missing 'label' \(rows 3, 7\).*"
        r"task.drop_empty=true",
    ):
        sentiment(folder, tmp_path)
    with pytest.raises(ConfigError, match="float"):  # dropping the NaN rows leaves 0.0/1.0: cast them
        sentiment(folder, tmp_path, drop_empty=True)


# -- case 8: empty or missing texts and targets ---------------------------------------------------------------
def test_empty_and_missing_texts_are_refused_or_dropped(tmp_path):
    df = sentiment_frame()
    df.loc[2, "text"], df.loc[5, "text"] = "", None
    folder = write_folder(tmp_path / "d", {"train": df, "validation": sentiment_frame(), "test": sentiment_frame()})
    with pytest.raises(
        ConfigError,
        match=r"2 of 16 rows .* empty or missing 'text' \(rows 2, 5\).*"
        r"task.drop_empty=true",
    ):
        sentiment(folder, tmp_path)
    task = sentiment(folder, tmp_path, drop_empty=True)
    assert task.describe()["rows_dropped_empty"] == {"train": 2, "val": 0, "test": 0}
    assert len(task.rows["train"][0]) == 14


def test_empty_translation_targets_are_refused_or_dropped(tmp_path):
    df = pd.DataFrame([{"en": a, "es": b} for a, b in PAIRS])
    bad = df.copy()
    bad.loc[1, "es"] = "  "
    folder = write_folder(tmp_path / "mt", {"train": pd.concat([df] * 3), "validation": df, "test": bad})
    with pytest.raises(ConfigError, match=r"1 of 8 rows of the test split .* 'es' \(row 1\)"):
        translation(folder, tmp_path)
    task = translation(folder, tmp_path, drop_empty=True)
    assert len(task.text["test"]["tgt"]) == 7 and all(t.strip() for t in task.text["test"]["tgt"])


# -- case 15: unreadable files ---------------------------------------------------------------------------------
def test_a_non_utf8_csv_names_the_line_and_the_fix(tmp_path):
    folder = write_folder(
        tmp_path / "d", {"train": sentiment_frame(), "validation": sentiment_frame(), "test": sentiment_frame()}, "csv"
    )
    (folder / "train.csv").write_bytes((folder / "train.csv").read_bytes() + "très bon,1\n".encode("latin-1"))
    with pytest.raises(ConfigError, match=r"train.csv line 18 is not UTF-8 text \(byte 0xe8\); re-save .* iconv"):
        sentiment(folder, tmp_path)


def test_a_broken_jsonl_line_is_named(tmp_path):
    folder = write_folder(
        tmp_path / "d",
        {"train": sentiment_frame(), "validation": sentiment_frame(), "test": sentiment_frame()},
        "jsonl",
    )
    lines = (folder / "test.jsonl").read_text().splitlines()
    lines[4] = lines[4][:-5]
    (folder / "test.jsonl").write_text("\n".join(lines) + "\n")
    with pytest.raises(ConfigError, match=r"test.jsonl line 5 is not valid JSON .*; fix or remove that line"):
        sentiment(folder, tmp_path)


# -- case 17: one very long text under max_len=null ---------------------------------------------------------------
def test_max_len_null_warns_when_one_rare_text_sets_it(tmp_path, capsys):
    df = sentiment_frame(4)
    df.loc[0, "text"] = " ".join(["good"] * 3000)
    folder = write_folder(tmp_path / "d", {"train": df, "validation": sentiment_frame(), "test": sentiment_frame()})
    task = sentiment(folder, tmp_path, max_len=None)
    assert task.max_len == 3000
    err = capsys.readouterr().err
    assert "warning: task.max_len=null takes the longest training text, 3000 tokens, while 99% are ≤" in err
    sentiment(
        write_folder(
            tmp_path / "ok", {"train": sentiment_frame(4), "validation": sentiment_frame(), "test": sentiment_frame()}
        ),
        tmp_path,
        max_len=None,
    )
    assert "warning" not in capsys.readouterr().err  # ordinary data: no warning


def test_a_resume_on_changed_training_data_is_refused(tmp_path):
    """The same path and row count, other texts: the fingerprint of the tokenized rows (recorded in the summary
    and the checkpoint) differs, so the resume is refused instead of continuing on other data."""
    frame = sentiment_frame()
    folder = write_folder(tmp_path / "data", {"train": sentiment_frame(2), "validation": frame, "test": frame})
    args = [
        "arch=lstm",
        "task=sentiment",
        f"task.data.path={folder}",
        f"task.cache_dir={tmp_path / 'cache'}",
        "task.max_len=8",
        "trainer.stop_at=null",
        "trainer.ckpt_every=2",
        "trainer.max_steps=4",
    ]
    first = train(make_cfg(tmp_path, *args))
    fingerprint = first["task_info"]["data_fingerprint"]
    assert isinstance(fingerprint, str) and len(fingerprint) == 16
    run = tmp_path / "run"
    (run / "summary.json").unlink()  # cut at its end: the same data resumes
    again = train(make_cfg(tmp_path, *args, "trainer.resume=true"))
    assert again["task_info"]["data_fingerprint"] == fingerprint
    (run / "summary.json").unlink()
    changed = sentiment_frame(2)
    changed["text"] = [" ".join(reversed(t.split())) for t in changed["text"]]  # same rows, other texts
    write_folder(folder, {"train": changed})
    with pytest.raises(
        ConfigError,
        match=f"training data differ from the checkpoint's \\(data fingerprint {fingerprint}, now [0-9a-f]{{16}}\\)",
    ):
        train(make_cfg(tmp_path, *args, "trainer.resume=true"))
    assert not (run / "summary.json").exists()
