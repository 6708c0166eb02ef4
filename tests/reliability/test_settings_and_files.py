"""Cases 7, 11, 12, 13, 18: settings of the wrong type, damaged data files, a read-only run folder, the
divergence advice and the mode of atomically written files."""

from __future__ import annotations

import gzip
import os
import pickle
import shlex
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from core.errors import ConfigError, DivergedError
from core.files import atomic_write_bytes
from harness.train import train
from tasks.image_classification import CIFAR_FILES, CIFAR_FOLDER, ImageClassification, read_idx
from tests.conftest import ROOT, make_cfg
from tests.reliability.helpers import TINY, cli, one_line_error


# -- cases 7 and 13: types ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "override, says",
    [
        ("task.delay=2.5", "task.delay=2.5 must be a whole number"),
        ("optimizer.lr=abc", "optimizer.lr='abc' must be a number"),
        ("trainer.min_lr_ratio=abc", "trainer.min_lr_ratio='abc' must be a number"),
        ("trainer.stop_at=abc", "trainer.stop_at='abc' must be a number, or null"),
        ("arch.dropout=high", "arch.dropout='high' must be a number"),
        ("trainer.resume=yes", "trainer.resume='yes' is not known; use true, false or auto"),
    ],
)
def test_a_setting_of_the_wrong_type_is_refused_before_training(tmp_path, override, says):
    with pytest.raises(ConfigError, match="^" + says.replace("(", r"\(").replace(")", r"\)")):
        train(make_cfg(tmp_path, *TINY, override, tiny=False))
    assert not (tmp_path / "run" / "summary.json").exists()


def test_a_wrong_type_from_the_command_line_is_one_line(tmp_path):
    one_line_error(cli(tmp_path / "run", *TINY, "optimizer.lr=abc"), "optimizer.lr='abc' must be a number")


# -- case 11: damaged image files ---------------------------------------------------------------------------------
def idx_gz(path: Path, n: int = 50) -> bytes:
    data = gzip.compress(bytes([0, 0, 8, 3]) + n.to_bytes(4, "big") + (28).to_bytes(4, "big") * 2 + bytes(n * 784))
    path.write_bytes(data)
    return data


def test_a_truncated_or_garbled_gz_idx_file_is_one_line(tmp_path):
    path = tmp_path / "train-images-idx3-ubyte.gz"
    data = idx_gz(path)
    path.write_bytes(data[: len(data) - 40])
    with pytest.raises(ConfigError, match="is damaged .*gzip stream is cut short or garbled"):
        read_idx(path)
    garbled = bytearray(data)
    garbled[30:60] = bytes(30)
    path.write_bytes(bytes(garbled))
    with pytest.raises(ConfigError, match="is damaged"):
        read_idx(path)


def test_a_damaged_cifar_folder_names_archbench_s_download_key(tmp_path):
    folder = tmp_path / CIFAR_FOLDER
    folder.mkdir()
    for name in CIFAR_FILES:
        (folder / name).write_bytes(pickle.dumps({"not": "cifar"}))
    task = ImageClassification(data={"name": "cifar10", "root": str(tmp_path)})
    with pytest.raises(ConfigError, match="is damaged .*task.data.download=true") as e:
        task.load()
    assert "download=True" not in str(e.value)


# -- case 12: a read-only run folder -----------------------------------------------------------------------------
def test_a_read_only_run_folder_is_one_line(tmp_path):
    """Not writable by its owner; root writes anywhere, so as root the folder is a read-only bind mount in a
    private mount namespace (``unshare -m``)."""
    run = tmp_path / "ro"
    run.mkdir()
    (run / "notes.txt").write_text("mine")
    args = [sys.executable, "run.py", *TINY, f"hydra.run.dir={run}"]
    if os.getuid() == 0:
        if not shutil.which("unshare"):
            pytest.skip("running as root without unshare: no way to make a folder read-only for root")
        mount = f"mount --bind {run} {run} && mount -o remount,bind,ro {run} && exec {shlex.join(args)}"
        args = ["unshare", "-m", "sh", "-c", mount]
    else:
        run.chmod(0o555)
    try:
        proc = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=120)
    finally:
        run.chmod(0o755)
    one_line_error(proc, "is not writable", "choose another hydra.run.dir")
    assert sorted(p.name for p in run.iterdir()) == ["notes.txt"]


# -- case 18: divergence advice and file modes -------------------------------------------------------------------
@pytest.mark.parametrize(
    "clip, advice",
    [
        ("1.0", "gradient clipping is on at trainer.grad_clip=1.0"),
        ("null", "turn gradient clipping on (trainer.grad_clip=1.0)"),
    ],
)
def test_the_divergence_message_fits_the_clipping_setting(tmp_path, clip, advice):
    with pytest.raises(DivergedError) as e:
        train(
            make_cfg(
                tmp_path,
                *TINY,
                "optimizer=sgd",
                "optimizer.lr=1e30",
                "trainer.warmup_steps=0",
                f"trainer.grad_clip={clip}",
                tiny=False,
            )
        )
    assert advice in str(e.value)
    assert "keep trainer.grad_clip on" not in str(e.value)


@pytest.mark.parametrize("mask", [0o022, 0o077, 0o002])
def test_atomic_writes_keep_the_umask_s_mode(tmp_path, mask):
    old = os.umask(mask)
    try:
        atomic_write_bytes(tmp_path / "f.json", b"{}")
        if mask == 0o022:
            train(make_cfg(tmp_path, *TINY, "trainer.max_steps=2", tiny=False))
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "f.json").stat().st_mode) == 0o666 & ~mask
    if mask == 0o022:
        for name in ("summary.json", "checkpoint.pt", "metrics.jsonl", ".hydra/config.yaml"):
            assert stat.S_IMODE((tmp_path / "run" / name).stat().st_mode) == 0o644, name
