"""The report on real tiny runs, on hand-made records, and on corrupt or foreign folders."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import pandas as pd
import pytest

from harness.train import train
from reports import build_report, tables
from reports.__main__ import main as reports_main
from tests.conftest import make_cfg

RUNS = [
    ("transformer", 4, 0),
    ("transformer", 4, 1),
    ("transformer", 8, 0),
    ("transformer", 8, 1),
    ("rnn", 4, 0),
    ("rnn", 8, 0),
    ("lstm", 4, 0),
    ("cnn", 4, 0),
    ("vit", 4, 0),
]


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory) -> Path:
    """Real runs (2 steps each) over several archs, seeds and delays, plus one failed, one corrupt and one
    foreign record."""
    root = tmp_path_factory.mktemp("runs")
    for arch, delay, seed in RUNS:
        cfg = make_cfg(
            root / f"{arch}_d{delay}_s{seed}",
            f"arch={arch}",
            "task=copy_long",
            f"task.delay={delay}",
            "task.n_memorize=2",
            f"seed={seed}",
            "trainer.max_steps=2",
            "trainer.eval_every=1",
        )
        train(cfg)
    failed = root / "failed" / "run"
    shutil.copytree(root / "rnn_d4_s0" / "run", failed)
    record = json.loads((failed / "summary.json").read_text())
    record.update(status="failed", error="RuntimeError: out of memory", metrics={"test/acc": 0.0})
    (failed / "summary.json").write_text(json.dumps(record))
    (root / "corrupt").mkdir()
    (root / "corrupt" / "summary.json").write_text('{"status": "completed", "arch": ')
    (root / "foreign").mkdir()
    (root / "foreign" / "summary.json").write_text(json.dumps({"tool": "something else", "score": 3}))
    return root


def test_report_writes_every_file(run_folder, tmp_path):
    rep = build_report([run_folder], tmp_path / "report")
    out = tmp_path / "report"
    for name in ("results.csv", "tables.md", "tables.html", "index.html"):
        assert (out / name).stat().st_size > 0, name
    assert rep.counts == {"runs": len(RUNS) + 1, "completed": len(RUNS), "not_completed": 1, "skipped": 2}
    results = pd.read_csv(out / "results.csv")
    assert len(results) == len(RUNS) + 1 and {"metrics.test/acc", "speed.step_ms", "task_info.delay"} <= set(results)
    expected = {
        "accuracy_vs_delay_copy_long",
        "speed_vs_length",
        "training_curves_copy_long",
        "grad_norm_vs_distance_copy_long",
        "layer_similarity",
        "attention_copy_long_transformer",
        "attention_copy_long_vit",
    }
    assert expected <= set(rep.figures)
    for name in rep.figures:
        assert (out / "figures" / f"{name}.png").read_bytes()[:4] == b"\x89PNG"
    index = (out / "index.html").read_text()
    assert index.count("data:image/png;base64,") == len(rep.figures)
    md = (out / "tables.md").read_text()
    assert "| transformer | task.delay=8 | 2 |" in md and "delay 4" in md and "Runs not completed" in md
    assert "out of memory" in md  # the failed run is listed separately ...
    summary = tables.summarize(rep.frame)
    rnn = summary[(summary.arch == "rnn")]
    assert rnn["n"].tolist() == [1, 1]  # ... and not averaged in (rnn delay 4 has one completed seed)


def test_mean_std_over_seeds_on_hand_made_records(tmp_path):
    def record(arch, seed, acc, status="completed", steps=None):
        folder = tmp_path / f"{arch}_{seed}_{status}"
        folder.mkdir()
        (folder / "summary.json").write_text(
            json.dumps(
                {
                    "status": status,
                    "arch": arch,
                    "task": "copy_long",
                    "seed": seed,
                    "params": 1000,
                    "metrics": {"test/acc": acc},
                    "speed": {"step_ms": 10.0 + seed, "train_samples_per_s": 100.0},
                    "long_range": {"steps_to_target": steps},
                    "task_info": {"main_metric": "acc", "delay": 10},
                }
            )
        )

    for seed, acc, steps in [(0, 0.5, 100), (1, 0.6, 300), (2, 0.7, None)]:
        record("lstm", seed, acc, steps=steps)
    record("lstm", 3, 0.0, status="diverged")
    record("rnn", 0, 0.25)
    rep = build_report([tmp_path], tmp_path / "report")
    s = tables.summarize(rep.frame).set_index("arch")
    assert s.loc["lstm", "n"] == 3
    assert s.loc["lstm", "main_value_mean"] == pytest.approx(0.6)
    assert s.loc["lstm", "main_value_std"] == pytest.approx(0.1)  # sample std over seeds
    assert s.loc["lstm", "speed.step_ms_mean"] == pytest.approx(11.0)
    assert s.loc["lstm", "steps_to_target_mean"] == pytest.approx(200) and s.loc["lstm", "reached"] == 2
    md = (tmp_path / "report" / "tables.md").read_text()
    assert "| lstm | 3 | 0.600 ± 0.100 |" in md and "| rnn | 1 | 0.250 |" in md
    assert "200 ± 141 (2/3)" in md and "diverged" in md


def test_mfu_is_shown_where_records_have_it_and_older_records_still_read(tmp_path):
    def record(folder, arch, seed, speed):
        (tmp_path / folder / f"{arch}_{seed}").mkdir(parents=True)
        (tmp_path / folder / f"{arch}_{seed}" / "summary.json").write_text(
            json.dumps(
                {
                    "status": "completed",
                    "arch": arch,
                    "task": "copy_long",
                    "seed": seed,
                    "params": 1000,
                    "metrics": {"test/acc": 0.5},
                    "speed": {"step_ms": 10.0, "train_samples_per_s": 100.0, **speed},
                    "long_range": {},
                    "task_info": {"main_metric": "acc"},
                }
            )
        )

    record("gpu", "transformer", 0, {"mfu": 0.30, "flops_per_step": 1e9})
    record("gpu", "transformer", 1, {"mfu": 0.40, "flops_per_step": 1e9})
    record("gpu", "lstm", 0, {})  # no MFU for this one: an empty cell
    record("old", "transformer", 0, {})  # a record from before MFU existed
    build_report([tmp_path / "gpu"], tmp_path / "gpu_report")
    md = (tmp_path / "gpu_report" / "tables.md").read_text()
    assert "| MFU |" in md and "0.350 ± 0.071" in md
    build_report([tmp_path / "old"], tmp_path / "old_report")
    assert "MFU" not in (tmp_path / "old_report" / "tables.md").read_text()


def test_corrupt_partial_and_foreign_folders_are_skipped_with_one_warning_each(tmp_path, caplog, capsys):
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "summary.json").write_text("{not json")
    (tmp_path / "foreign").mkdir()
    (tmp_path / "foreign" / "summary.json").write_text('["a", "list"]')
    (tmp_path / "partial").mkdir()
    (tmp_path / "partial" / "metrics.jsonl").write_text('{"step": 1}\n')
    (tmp_path / "missing").mkdir()
    (tmp_path / "missing" / "summary.json").write_text(json.dumps({"status": "completed", "arch": "rnn"}))
    with caplog.at_level(logging.WARNING, logger="reports"):
        code = reports_main([str(tmp_path), "--out", str(tmp_path / "report")])
    assert code == 1  # no usable run, but no crash
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 4
    assert any("bad JSON" in w for w in warnings) and any("partial run" in w for w in warnings)
    assert sum("not an archbench record" in w for w in warnings) == 2
    out = capsys.readouterr().out
    assert "0 runs" in out and "4 folders skipped" in out
    assert (tmp_path / "report" / "index.html").exists()


def test_metric_directions_come_from_the_record_and_older_records_still_read(tmp_path):
    from core.record import record_direction as metric_direction

    new = {"task_info": {"main_metric": "perplexity_gap", "directions": {"perplexity_gap": "max", "acc": "max"}}}
    assert metric_direction(new, "test/perplexity_gap") == "max"  # declared beats the name rule
    old = {"task_info": {"main_metric": "acc"}}  # written before tasks declared directions: the name rule
    assert metric_direction(old, "test/acc") == "max" and metric_direction(old, "val/loss") == "min"
    assert metric_direction(old, "test/perplexity") == "min"
    for arch, value, directions in (("lstm", 3.0, {"loss": "min"}), ("rnn", 0.5, None)):
        folder = tmp_path / arch
        folder.mkdir()
        info = {"main_metric": "loss" if directions else "acc", **({"directions": directions} if directions else {})}
        (folder / "summary.json").write_text(
            json.dumps(
                {
                    "status": "completed",
                    "arch": arch,
                    "task": f"t_{arch}",
                    "seed": 0,
                    "params": 10,
                    "metrics": {f"test/{info['main_metric']}": value},
                    "speed": {},
                    "long_range": {},
                    "task_info": info,
                }
            )
        )
    build_report([tmp_path], tmp_path / "report")
    md = (tmp_path / "report" / "tables.md").read_text()
    assert "test/loss ↓" in md and "test/acc ↑" in md
