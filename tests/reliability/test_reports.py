"""Cases 4 and 14: report statistics say what they average, and every folder left out says why.

n counts the values averaged; NaN, inf and missing test values are counted apart (never averaged); linked
folders are read (once), unreadable ones are warned about; a file or a missing folder as RUN_DIR is one line
and exit 2, with nothing created."""

from __future__ import annotations

import errno
import json
import logging
import os

import pytest

from reports import tables
from reports.__main__ import main as reports_main
from reports.build import build_report


def record(folder, seed, acc, delay=10):
    folder.mkdir(parents=True)
    metrics = {} if acc == "absent" else {"test/acc": acc}
    (folder / "summary.json").write_text(
        json.dumps(
            {
                "status": "completed",
                "arch": "lstm",
                "task": "copy_long",
                "seed": seed,
                "params": 1000,
                "metrics": metrics,
                "speed": {"step_ms": 10.0, "train_samples_per_s": 100.0},
                "long_range": {"steps_to_target": None},
                "task_info": {"main_metric": "acc", "delay": delay},
                "config": {"seed": seed, "task": {"delay": delay}},
            }
        )
    )


def test_n_counts_the_values_averaged_and_the_others_are_shown_apart(tmp_path, capsys):
    for seed, acc in enumerate([0.5, 0.7, "nan", None, "absent", "inf"]):
        record(tmp_path / "runs" / f"s{seed}", seed, acc)
    assert reports_main([str(tmp_path / "runs"), "--out", str(tmp_path / "report")]) == 0
    assert "| lstm | 2 | 1 NaN, 1 inf, 2 missing | 0.600 ± 0.141 |" in capsys.readouterr().out  # the terminal
    rep = build_report([tmp_path / "runs"], tmp_path / "report")
    row = tables.summarize(rep.frame).iloc[0]
    assert (row["n"], row["runs"]) == (2, 6)
    assert row["main_value_mean"] == pytest.approx(0.6)  # of 0.5 and 0.7 only: inf and NaN never averaged
    assert row["not_averaged"] == "1 NaN, 1 inf, 2 missing"
    md = (tmp_path / "report" / "tables.md").read_text()
    assert "| lstm | 2 | 1 NaN, 1 inf, 2 missing | 0.600 ± 0.141 |" in md
    assert "0.600 ± 0.141 (n=2; 1 NaN, 1 inf, 2 missing)" in md  # the long-range table too


def test_linked_folders_are_read_once_and_unreadable_ones_are_warned(tmp_path, caplog, monkeypatch):
    runs = tmp_path / "runs"
    record(runs / "a", 0, 0.5)
    record(tmp_path / "elsewhere" / "b", 1, 0.7)
    (runs / "b").symlink_to(tmp_path / "elsewhere" / "b")  # a linked run folder: read
    (runs / "again").symlink_to(runs / "a")  # a second way to the same folder: read once, said so
    (runs / "locked").mkdir()
    real_scandir = os.scandir

    def scandir(path="."):  # root reads every folder: make this one unreadable as for any other user
        if str(path).endswith("locked"):
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    with caplog.at_level(logging.WARNING, logger="reports"):
        rep = build_report([runs], tmp_path / "report")
    assert sorted(rep.frame["seed"]) == [0, 1]
    warnings = [r.getMessage() for r in caplog.records]
    assert any("locked: unreadable folder (Permission denied)" in w for w in warnings), warnings
    assert any("again: the same folder as" in w for w in warnings), warnings
    assert len(warnings) == 2


@pytest.mark.parametrize("kind", ["file", "missing"])
def test_a_file_or_a_missing_folder_is_one_line_and_creates_nothing(tmp_path, capsys, kind):
    target = tmp_path / "results.csv" if kind == "file" else tmp_path / "nonexistent"
    if kind == "file":
        target.write_text("a,b\n")
    assert reports_main([str(target)]) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(err) == 1 and err[0].startswith(f"error: {target} is ")
    assert sorted(p.name for p in tmp_path.iterdir()) == (["results.csv"] if kind == "file" else [])


def test_a_truncated_npz_of_a_completed_run_is_skipped_with_a_warning(tmp_path, caplog):
    """A completed run whose attention.npz / hidden.npz was cut short: the report is written, the file is named
    in a warning, and the explorer says the maps are unreadable (it used to crash with BadZipFile)."""
    run = tmp_path / "runs" / "a"
    record(run, 0, 0.5)
    for name in ("attention.npz", "hidden.npz"):
        (run / name).write_bytes(b"PK\x03\x04cut short")
    with caplog.at_level(logging.WARNING, logger="reports"):
        rep = build_report([tmp_path / "runs"], tmp_path / "report")
    assert rep.counts["runs"] == 1 and (tmp_path / "report" / "index.html").exists()
    warned = [r.getMessage() for r in caplog.records if "not a readable .npz" in r.getMessage()]
    assert any(str(run / "attention.npz") in w for w in warned) and any(str(run / "hidden.npz") in w for w in warned)
    page = (tmp_path / "report" / "explore.html").read_text()
    assert "attention.npz unreadable: damaged" in page


def test_copies_of_a_seed_count_once_and_are_named(tmp_path, caplog):
    """Two copies of one seed-0 run are one seed (not n=2, 0.000 ± 0.000); the table and a warning name both
    folders. A distinct seed still counts."""
    runs = tmp_path / "runs"
    record(runs / "a", 0, 0.5)
    record(runs / "copy", 0, 0.5)
    with caplog.at_level(logging.WARNING, logger="reports"):
        rep = build_report([runs], tmp_path / "report")
    row = tables.summarize(rep.frame).iloc[0]
    assert (row["n"], row["runs"]) == (1, 1)
    assert str(runs / "a") in row["duplicated"] and str(runs / "copy") in row["duplicated"]
    assert any("seed 0" in r.message and "found 2 times" in r.message for r in caplog.records)
    md = (tmp_path / "report" / "tables.md").read_text()
    assert "Duplicated seeds (counted once)" in md and "| lstm | 1 |" in md and "0.500 ±" not in md
    assert "(n=1; duplicated: seed 0 ×2" in md  # the long-range table too
    record(runs / "b", 1, 0.7)
    row = tables.summarize(build_report([runs], tmp_path / "report2").frame).iloc[0]
    assert (row["n"], row["runs"]) == (2, 2) and row["main_value_mean"] == pytest.approx(0.6)
