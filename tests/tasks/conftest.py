"""Fixtures for the text-task tests: tiny data folders written in tmp_path (never the shared data)."""

from __future__ import annotations

import pandas as pd
import pytest

from tests.tasks.text_fixtures import PAIRS, sentiment_frame, write_folder


@pytest.fixture
def sentiment_folder(tmp_path):
    """train (32 rows), validation and test (16 rows) parquet files with text,label columns, two classes."""
    df = sentiment_frame()
    return write_folder(tmp_path / "sent", {"train": sentiment_frame(2), "validation": df, "test": df})


@pytest.fixture
def translation_folder(tmp_path):
    df = pd.DataFrame([{"en": a, "es": b} for a, b in PAIRS])
    return write_folder(tmp_path / "mt", {"train": pd.concat([df] * 3), "validation": df, "test": df})
