"""Cases 2, 5, 6, 10: what a relaunch into an existing folder may do.

2: a resume whose settings differ from the checkpoint's (other than the ones that may change) is refused with
   one line listing them. 10: damaged, empty, foreign or mismatched checkpoints are one line, and the record is
   not rewritten. 5: a launch that failed in data setup leaves no settings behind for the next one. 6: a folder
   whose summary cannot be read is never taken for an empty one.
"""

from __future__ import annotations

import gzip
import json

import pytest
import torch

from core.errors import ConfigError
from harness import resume_check
from harness.train import train
from tests.conftest import make_cfg
from tests.reliability.helpers import TINY, cli, one_line_error, snapshot

SHORT = [*TINY, "trainer.max_steps=10"]


@pytest.fixture
def finished(tmp_path):
    """A completed 10-step run (checkpoint at step 10) in tmp_path/run."""
    train(make_cfg(tmp_path, *SHORT, tiny=False))
    return tmp_path / "run"


def test_resume_with_other_settings_is_refused_listing_the_keys(finished):
    before = snapshot(finished)
    proc = cli(finished, *SHORT, "trainer.resume=true", "task.delay=50", "optimizer.lr=0.05")
    line = one_line_error(proc, "task.delay (8 → 50)", "optimizer.lr (0.003 → 0.05)")
    assert "differ from the checkpoint" in line
    assert snapshot(finished) == before


def test_resume_may_change_the_budget_eval_checkpoint_and_reporting_keys(finished, tmp_path):
    (finished / "summary.json").unlink()  # cut at its end (a completed run is returned as it is)
    s = train(
        make_cfg(
            tmp_path,
            *SHORT,
            "trainer.resume=true",
            "trainer.max_steps=20",
            "trainer.eval_every=5",
            "trainer.ckpt_every=4",
            "trainer.progress=true",
            tiny=False,
        )
    )
    assert s["status"] == "completed" and s["step"] == 20
    keys = [
        "trainer.device",
        "trainer.max_time_s",
        "trainer.resume",
        "logger._target_",
        "logger.mode",
        "run_dir",
        "task.delay",
        "trainer.batch_size",
        "seed",
    ]
    assert resume_check.refused(keys) == ["task.delay", "trainer.batch_size", "seed"]


def test_resume_of_a_completed_run_with_other_settings_is_refused_too(finished, tmp_path):
    with pytest.raises(ConfigError, match=r"seed \(0 → 3\)"):
        train(make_cfg(tmp_path, *SHORT, "trainer.resume=true", "seed=3", tiny=False))


@pytest.mark.parametrize("damage", ["truncated", "empty", "foreign"])
def test_a_damaged_checkpoint_is_one_line_and_the_record_stays(finished, tmp_path, damage):
    ck = finished / "checkpoint.pt"
    data = ck.read_bytes()
    if damage == "truncated":
        ck.write_bytes(data[: len(data) // 2])
    elif damage == "empty":
        ck.write_bytes(b"")
    else:
        torch.save({"weights": torch.zeros(3)}, ck)
    (finished / "summary.json").unlink()  # a run cut before its end
    before = snapshot(finished)
    with pytest.raises(ConfigError, match="cannot be resumed from|not an archbench checkpoint"):
        train(make_cfg(tmp_path, *SHORT, "trainer.resume=true", tiny=False))
    assert snapshot(finished) == before
    if damage == "truncated":  # as a user sees it
        one_line_error(cli(finished, *SHORT, "trainer.resume=true"), "checkpoint.pt is damaged")


@pytest.mark.parametrize(
    "other",
    [["arch=lstm", "arch.hidden=16"], ["arch.d_model=32"], ["optimizer=sgd"]],
    ids=["other-arch", "other-width", "other-optimizer"],
)
def test_a_checkpoint_of_another_model_or_optimizer_is_one_line(finished, tmp_path, other):
    """Old checkpoints did not record their settings: the state itself must then be checked."""
    ck = torch.load(finished / "checkpoint.pt", weights_only=True)
    ck["config"] = None
    torch.save(ck, finished / "checkpoint.pt")
    (finished / "summary.json").unlink()
    before = snapshot(finished)
    with pytest.raises(ConfigError, match="does not fit this run's (model|optimizer)"):
        base = [o for o in SHORT if not o.startswith("arch.")] if other[0].startswith("arch=") else SHORT
        train(make_cfg(tmp_path, *base, *other, "trainer.resume=true", tiny=False))
    assert snapshot(finished) == before


def test_a_launch_that_failed_in_data_setup_leaves_no_settings_for_the_next(tmp_path):
    root = tmp_path / "fashion"
    root.mkdir()
    header = bytes([0, 0, 8, 3]) + (60000).to_bytes(4, "big") + (28).to_bytes(4, "big") * 2
    images = gzip.compress(header + bytes(60000 * 28 * 28))
    for name in ("train-images-idx3-ubyte", "t10k-images-idx3-ubyte"):
        (root / f"{name}.gz").write_bytes(images[: len(images) // 2])  # cut short after its header
    for name in ("train-labels-idx1-ubyte", "t10k-labels-idx1-ubyte"):
        (root / f"{name}.gz").write_bytes(gzip.compress(bytes([0, 0, 8, 1]) + (60000).to_bytes(4, "big")))
    run = tmp_path / "run"
    failed = cli(
        run,
        "task=image_classification",
        "task.data.name=fashion_mnist",
        f"task.data.root={root}",
        "arch=cnn",
        "trainer.max_steps=2",
        "trainer.progress=false",
    )
    one_line_error(failed, "is damaged", "gzip stream is cut short")
    ok = cli(
        run,
        "task=image_classification",
        "arch=vit",
        "arch.d_model=16",
        "arch.n_heads=2",
        "arch.d_ff=32",
        "trainer.max_steps=2",
        "trainer.progress=false",
        "trainer.probes=false",
    )
    assert ok.returncode == 0, ok.stderr
    config, overrides = (run / ".hydra" / "config.yaml").read_text(), (run / ".hydra" / "overrides.yaml").read_text()
    assert "fashion" not in config + overrides and "arch=vit" in overrides
    assert json.loads((run / "summary.json").read_text())["arch"] == "vit"


@pytest.mark.parametrize("resume", [False, True])
def test_an_unreadable_summary_is_not_an_empty_folder(tmp_path, resume):
    run = tmp_path / "run"
    run.mkdir()
    (run / "summary.json").write_text('{"status": "comp')
    (run / "metrics.jsonl").write_text('{"step": 10, "split": "val", "metrics": {"acc": 0.5}}\n')
    before = snapshot(run)
    one_line_error(
        cli(run, *SHORT, f"trainer.resume={str(resume).lower()}"),
        "summary.json exists but is not a readable run record",
    )
    assert snapshot(run) == before


def test_a_completed_run_without_its_checkpoint_checks_settings_against_its_record(finished, tmp_path):
    """A completed run whose checkpoint is gone, relaunched with other settings, is refused (it used to return
    the old record, exit 0)."""
    (finished / "checkpoint.pt").unlink()
    before = snapshot(finished)
    proc = cli(finished, *SHORT, "trainer.resume=true", "seed=3")
    one_line_error(proc, "differ from the record", "seed (0 → 3)")
    assert snapshot(finished) == before
    same = train(make_cfg(tmp_path, *SHORT, "trainer.resume=true", tiny=False))  # same settings: the record
    assert same["status"] == "completed" and same["seed"] == 0


def test_a_completed_run_reports_the_folder_it_is_in_now(finished, tmp_path):
    moved = tmp_path / "elsewhere"
    moved.mkdir()
    finished.rename(moved / "run")
    s = train(make_cfg(moved, *SHORT, "trainer.resume=true", tiny=False))
    assert s["run_dir"] == str(moved / "run")


DIVERGE = [
    *TINY,
    "optimizer=sgd",
    "optimizer.lr=1e30",
    "trainer.grad_clip=null",
    "trainer.warmup_steps=0",
    "trainer.ckpt_every=1000",
    "trainer.max_steps=20",
]


@pytest.fixture
def diverged(tmp_path):
    """A run that diverged before its first checkpoint, in tmp_path/run."""
    proc = cli(tmp_path / "run", *DIVERGE)
    assert proc.returncode == 1 and "diverged:" in proc.stderr, proc.stderr[-2000:]
    assert not (tmp_path / "run" / "checkpoint.pt").exists()
    return tmp_path / "run"


def test_a_diverged_run_resumed_with_other_settings_is_refused(diverged):
    before = snapshot(diverged)
    proc = cli(diverged, *DIVERGE, "trainer.resume=true", "optimizer.lr=0.01")
    one_line_error(proc, "differ from the record", "optimizer.lr (1e+30 → 0.01)")
    assert snapshot(diverged) == before


def test_a_diverged_run_resumed_starts_over_saying_so_and_keeps_its_record(diverged):
    old = json.loads((diverged / "summary.json").read_text())
    proc = cli(diverged, *DIVERGE, "trainer.resume=true")
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert "starting over, its record kept as summary.diverged.json" in proc.stderr
    assert json.loads((diverged / "summary.diverged.json").read_text()) == old
    assert json.loads((diverged / "summary.json").read_text())["status"] == "diverged"
