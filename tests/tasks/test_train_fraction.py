"""task.train_fraction: a seeded subset of the labelled training rows (same seed, same rows), recorded; the
evaluation splits stay whole."""

from __future__ import annotations

import pytest
import torch

from core.errors import ConfigError
from harness.train import train
from tasks.image_classification import ImageClassification
from tasks.sentiment import Sentiment
from tasks.translation import Translation


def sentiment(folder, tmp_path, **kw):
    return Sentiment(data={"path": str(folder)}, cache_dir=str(tmp_path / "cache"), **kw)


def kept(task, seed: int) -> torch.Tensor:
    task.setup(torch.device("cpu"), seed)
    return task.train_rows


def test_sentiment_subset_is_seeded_and_recorded(sentiment_folder, tmp_path):
    a, b, c = (sentiment(sentiment_folder, tmp_path, train_fraction=0.25) for _ in range(3))
    assert torch.equal(kept(a, 3), kept(b, 3)) and not torch.equal(kept(a, 3), kept(c, 4))
    assert len(a.train_rows) == 8 and len(a.data["train"][0]) == 8  # round(32 · 0.25)
    assert torch.equal(a.data["train"][2], a.rows["train"][2][a.train_rows])  # rows and labels stay together
    assert len(a.data["val"][0]) == len(a.rows["val"][0]) and len(a.data["test"][0]) == len(a.rows["test"][0])
    info = a.describe()
    assert info["train_fraction"] == 0.25 and info["train_rows_used"] == 8 and info["subset_seed"] == 3
    full = sentiment(sentiment_folder, tmp_path)
    assert len(kept(full, 0)) == 32 and full.describe()["train_fraction"] == 1.0


def test_translation_and_image_subsets(translation_folder, tmp_path):
    mt = Translation(
        data={"path": str(translation_folder), "src": "en", "tgt": "es"},
        vocab_size=80,
        cache_dir=str(tmp_path / "cache"),
        train_fraction=0.5,
    )
    assert len(kept(mt, 0)) == 12 and mt.describe()["train_rows_used"] == 12
    img, img2 = (ImageClassification(train_fraction=0.1) for _ in range(2))
    rows = kept(img, 1)
    assert torch.equal(rows, kept(img2, 1)) and img.n_train == len(rows) == round(0.1 * len(img._cpu["train"][1]))
    assert img.describe()["train_fraction"] == 0.1 and img.describe()["train_rows_used"] == len(rows)


@pytest.mark.parametrize("bad", [0, 1.5, -0.2, "half"])
def test_bad_fractions_are_refused(sentiment_folder, tmp_path, bad):
    with pytest.raises(ConfigError, match="train_fraction"):
        sentiment(sentiment_folder, tmp_path, train_fraction=bad)
    with pytest.raises(ConfigError, match="train_fraction"):
        ImageClassification(train_fraction=bad)


def test_the_run_record_holds_the_subset(cfg_factory, sentiment_folder, tmp_path):
    s = train(
        cfg_factory(
            "task=sentiment",
            f"task.data.path={sentiment_folder}",
            f"task.cache_dir={tmp_path / 'c'}",
            "task.train_fraction=0.5",
            "seed=7",
            "trainer.stop_at=null",
        )
    )
    assert s["task_info"]["train_fraction"] == 0.5 and s["task_info"]["train_rows_used"] == 16
    assert s["task_info"]["subset_seed"] == 7 and s["config"]["task"]["train_fraction"] == 0.5
