"""Every cell of the architecture × task matrix runs a few steps through the real loading code and write a
complete record (tiny fixture data built here: never the shared data, never a download)."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from harness.train import train
from tests.conftest import ARCHS, TASKS, arch_config, schema_errors
from tests.tasks.text_fixtures import PAIRS, sentiment_frame, write_folder


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("matrix_data")
    pairs = pd.DataFrame([{"en": a, "es": b} for a, b in PAIRS])
    frame = sentiment_frame()
    return {
        "sentiment": write_folder(
            root / "sent", {"train": sentiment_frame(2), "validation": frame, "test": frame}, fmt="csv"
        ),
        "translation": write_folder(
            root / "mt", {"train": pd.concat([pairs] * 3), "validation": pairs, "test": pairs}, fmt="json"
        ),
        "cache": root / "cache",
    }


def task_overrides(task: str, data: dict) -> list[str]:
    if task == "copy_long":
        return ["task=copy_long", "task.delay=6", "task.n_memorize=3", "task.n_val=16", "task.n_test=16"]
    if task == "assoc_recall":
        return [
            "task=assoc_recall",
            "task.n_pairs=3",
            "task.n_queries=2",
            "task.vocab=16",
            "task.seq_len=10",
            "task.n_val=16",
            "task.n_test=16",
        ]
    if task == "selective_copy":
        return [
            "task=selective_copy",
            "task.seq_len=8",
            "task.n_memorize=3",
            "task.vocab=6",
            "task.n_val=16",
            "task.n_test=16",
        ]
    if task == "sentiment":
        return [
            "task=sentiment",
            f"task.data.path={data['sentiment']}",
            f"task.cache_dir={data['cache']}",
            "task.max_len=8",
        ]
    if task == "lm":
        return ["task=lm", f"task.data.path={data['sentiment']}", f"task.cache_dir={data['cache']}", "task.max_len=8"]
    if task == "translation":
        return [
            "task=translation",
            f"task.data.path={data['translation']}",
            "task.data.src=en",
            "task.data.tgt=es",
            f"task.cache_dir={data['cache']}",
            "task.vocab_size=60",
            "task.max_len=12",
            "task.tgt_max_len=12",
            "task.beam=2",
        ]
    return ["task=image_classification"]


@pytest.mark.parametrize("task", TASKS)
@pytest.mark.parametrize("arch", ARCHS)
def test_cell_runs_and_writes_a_complete_record(cfg_factory, data, arch, task):
    cfg = cfg_factory(f"arch={arch}", *task_overrides(task, data), "trainer.stop_at=null")
    train(cfg)
    run = Path(cfg.run_dir)
    s = json.loads((run / "summary.json").read_text())
    main = s["task_info"]["main_metric"]
    assert s["status"] == "completed" and s["arch"] == arch and s["task"] == task and s["step"] == 4
    assert isinstance(s["metrics"][f"test/{main}"], float) and isinstance(s["metrics"]["test/loss"], float)
    assert s["speed"]["train_samples_per_s"] > 0 and s["params"] > 0
    assert schema_errors(s) == []  # every cell's record is a valid summary of the current record_version
    if task == "translation":
        samples = [json.loads(line) for line in (run / "samples.jsonl").read_text().splitlines()]
        assert len(samples) == len(PAIRS) and set(samples[0]) == {"source", "reference", "hypothesis"}
        assert 0 <= s["metrics"]["test/bleu"] <= 100 and 0 <= s["metrics"]["test/chrf"] <= 100
        assert s["task_info"]["decoding"]["incremental"] is True
        assert s["arch_info"]["decoder"] in ("own", "generic")  # which one: tests/architectures/test_seq2seq.py
        with np.load(run / "attention.npz") as z:  # every decoder attends to the source: its maps are saved
            names = list(z["names"])
            cross = next(i for i, n in enumerate(names) if n.startswith("decoder.") and n.endswith("cross"))
            assert z[f"layer{cross}"].shape[1] == len(z["tgt_text"]) and len(z["src_text"]) == len(z["tokens"])
        with np.load(run / "attention_init.npz") as z0, np.load(run / "attention.npz") as z:  # and at step 0
            assert list(z0["names"]) == names and all(
                z0[f"layer{i}"].shape == z[f"layer{i}"].shape for i in range(len(names))
            )
        assert s["long_range"]["probes"] == ["attention_maps", "attention_maps_init"]
    if task == "image_classification":
        reading = arch_config(arch).image_as
        assert s["arch_info"]["input"] == {"conv": "image as 2-D convolutions", "patches": "image as 2x2 patches"}.get(
            reading, f"image as {reading}"
        )
    if task == "lm":  # every architecture is built causal for next-token prediction
        assert s["arch_info"]["context"] == "causal" and s["metrics"]["test/perplexity"] > 1
    if task == "assoc_recall":  # the chance levels travel with the record
        assert s["metrics"]["test/chance"] == pytest.approx(1 / 3) and s["metrics"]["test/uniform_chance"] == 1 / 7
    if task in ("copy_long", "sentiment"):  # the probes ran through the model's API, and the record says which
        assert {"grad_norm_by_distance", "hidden_states", "cka"} <= set(s["long_range"]["probes"])
