"""examples/own_architecture/ copied outside the repository: its backbone (its own package) and YAML (its own
config folder) run all four main tasks, a sweep, the reports, and budget.params sizes its own width key."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import open_dict

from harness.train import train
from tests.conftest import CONF, TINY_TRAINER
from tests.test_matrix import data, task_overrides  # noqa: F401 - data: the fixture with the tiny text sets

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "own_architecture"
TINY = ["arch.dim=16", "trainer.stop_at=null"]


@pytest.fixture(scope="module")
def outside(tmp_path_factory):
    """The example in a folder outside the repository, importable as the user would have it."""
    root = tmp_path_factory.mktemp("user_project")
    shutil.copytree(EXAMPLE, root, dirs_exist_ok=True)
    sys.path.insert(0, str(root))
    yield root
    sys.path.remove(str(root))
    for name in [m for m in sys.modules if m == "mypkg" or m.startswith("mypkg.")]:
        sys.modules.pop(name)


def env_for(root: Path) -> dict:
    return {
        **os.environ,
        "PYTHONPATH": f"{root}{os.pathsep}{REPO}",
        "HF_DATASETS_OFFLINE": "1",
        "HF_HUB_OFFLINE": "1",
        "WANDB_MODE": "offline",
    }


def mixer_cfg(outside: Path, tmp_path: Path, *overrides: str):
    """The real config with the user's config folder on Hydra's search path, tiny, run_dir in tmp_path."""
    ov = TINY_TRAINER + ["arch=mixer", f"hydra.searchpath=[file://{outside / 'myconf'}]", *overrides]
    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        cfg = compose(config_name="config", overrides=ov)
    with open_dict(cfg):
        cfg.run_dir = str(tmp_path / "run")
    return cfg


@pytest.mark.parametrize("task", ["copy_long", "sentiment", "translation", "image_classification"])
def test_own_backbone_runs_every_main_task(outside, data, tmp_path, task):
    s = train(mixer_cfg(outside, tmp_path, *TINY, *task_overrides(task, data)))
    assert s["status"] == "completed" and s["arch"] == "mixer" and s["step"] == 4
    assert s["config"]["arch"]["backbone"] == "mypkg.mixer.ConvMixer1D"
    assert sys.modules.get("mypkg.mixer").__file__.startswith(str(outside))  # the user's copy, not the repository's


def test_budget_params_sizes_the_width_key_the_backbone_names(outside, tmp_path):
    cfg = mixer_cfg(outside, tmp_path, "budget.params=20000", *task_overrides("copy_long", {}))
    s = train(cfg)
    assert s["budget"]["width_key"] == "dim" and abs(s["budget"]["rel_error"]) <= 0.1
    assert s["params"] == s["budget"]["actual"] and s["budget"]["warning"] is None
    assert s["config"]["arch"]["dim"] == cfg.arch.dim  # the config as launched; the width run is budget.width


def test_a_budget_that_leaves_a_degenerate_width_warns(outside, tmp_path, capfd):
    s = train(mixer_cfg(outside, tmp_path, "budget.params=900", *task_overrides("copy_long", {})))
    assert s["budget"]["width"] < 16 and "degenerate" in s["budget"]["warning"]
    assert "warning: budget.params=900" in capfd.readouterr().err


def test_command_line_config_dir_sweep_and_report(outside):
    """As the README says: run.py --config-dir myconf arch=mixer from the user's folder, a sweep, the report."""
    base = [
        sys.executable,
        str(REPO / "run.py"),
        "--config-dir",
        "myconf",
        "arch=mixer",
        "arch.dim=16",
        "task.delay=6",
        "task.n_memorize=3",
        "task.n_val=16",
        "task.n_test=16",
        "trainer.max_steps=4",
        "trainer.eval_every=2",
        "trainer.batch_size=8",
        "trainer.threads=1",
        "trainer.probes=false",
    ]
    r = subprocess.run(
        base + ["hydra.run.dir=runs/one"],
        cwd=outside,
        env=env_for(outside),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    assert json.loads((outside / "runs/one/summary.json").read_text())["arch"] == "mixer"
    r = subprocess.run(
        base[:2] + ["-m"] + base[2:] + ["seed=0,1", "hydra.sweep.dir=runs/sweep", "hydra/launcher=basic"],
        cwd=outside,
        env=env_for(outside),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    r = subprocess.run(
        [sys.executable, "-m", "reports", "runs/sweep"],
        cwd=outside,
        env=env_for(outside),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    csv = (outside / "runs/sweep/report/results.csv").read_text()
    assert csv.count("mixer") >= 2
