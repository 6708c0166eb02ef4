"""A full disk, a lost permission, a file where a folder belongs: one line naming the path, exit 2, never a
traceback, and no partial file or half report folder left behind. The faults are injected (core/faults.py:
an errno name instead of a signal) at the atomic write of the named file."""

from __future__ import annotations

import errno

import reports.build as build
from core.errors import cut, first_line
from reports.__main__ import main as reports_main
from tests.reliability.helpers import TINY, cli, one_line_error
from tests.reliability.test_reports import record


def test_disk_full_while_writing_a_checkpoint_is_one_line_and_leaves_no_partial_file(tmp_path):
    run = tmp_path / "run"
    proc = cli(run, *TINY, "trainer.max_steps=10", env={"ARCHBENCH_FAULT": "write:checkpoint.pt:1:ENOSPC"})
    one_line_error(proc, f"cannot write {run / 'checkpoint.pt'}", "No space left on device", "free some space")
    assert "Traceback" not in proc.stderr
    assert not (run / "checkpoint.pt").exists()
    assert not [p.name for p in run.iterdir() if p.name.endswith(".tmp")]  # no partial temporary file either


def test_report_out_that_is_a_file_is_one_line(tmp_path, capsys):
    record(tmp_path / "runs" / "a", 0, 0.5)
    out = tmp_path / "report.txt"
    out.write_text("mine\n")
    assert reports_main([str(tmp_path / "runs"), "--out", str(out)]) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(err) == 1 and err[0].startswith(f"error: --out {out} is a file"), err
    assert out.read_text() == "mine\n"


def test_disk_full_while_writing_a_report_leaves_no_half_report_folder(tmp_path, capsys, monkeypatch):
    record(tmp_path / "runs" / "a", 0, 0.5)
    out = tmp_path / "report"

    def full(*a, **k):  # the disk fills up after the tables and figures, at index.html
        raise OSError(errno.ENOSPC, "No space left on device", str(out / "index.html"))

    monkeypatch.setattr(build, "write_index", full)
    assert reports_main([str(tmp_path / "runs"), "--out", str(out)]) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip() and "warning" not in line]
    assert len(err) == 1 and err[0].startswith(f"error: cannot write {out / 'index.html'} (No space left"), err
    assert not out.exists()


def test_long_messages_are_cut_at_a_word_boundary():
    text = "the checkpoint " + "damaged " * 40
    line = cut(text, 60)
    assert len(line) <= 60 and line.endswith("…") and line[:-1].split(" ")[-1] in ("the", "checkpoint", "damaged")
    assert cut("short", 60) == "short"
    assert first_line(ValueError("x" * 60 + " " + "y" * 300), 100) == f"ValueError: {'x' * 60}…"
    assert len(cut("y" * 300, 100)) == 100  # no space to cut at: cut at the limit
