"""experiment=tune: Optuna trials on validation, a resumable sqlite study, the best setting as overrides."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.hydra_config import HydraConfig

from harness.tune import TuneRecord
from reports import build_report
from tasks.copy_long import CopyLong
from tests.conftest import CONF, ROOT

TINY = [
    "task.delay=3",
    "task.n_memorize=2",
    "task.n_val=16",
    "task.n_test=16",
    "trainer.max_steps=3",
    "trainer.eval_every=3",
    "trainer.batch_size=8",
    "trainer.progress=false",
    "trainer.probes=false",
]


def tune(root: Path, n_trials: int, *extra: str) -> subprocess.CompletedProcess:
    """experiment=tune in ``root/lstm_copy_long`` (named through ${hydra:runtime.choices…}, as by default)."""
    sweep_dir = f"{root}/${{hydra:runtime.choices.arch}}_${{hydra:runtime.choices.task}}"
    cmd = [
        sys.executable,
        "run.py",
        "-m",
        "experiment=tune",
        "arch=lstm",
        "task=copy_long",
        *TINY,
        *extra,
        "hydra/launcher=basic",
        f"hydra.sweep.dir={sweep_dir}",
        f"hydra.sweeper.n_trials={n_trials}",
    ]
    return subprocess.run(
        cmd, cwd=ROOT, capture_output=True, text=True, timeout=300, env={**os.environ, "HYDRA_FULL_ERROR": "1"}
    )


def trials(sweep_dir: Path) -> list[dict]:
    with open(sweep_dir / "trials.csv") as f:
        return list(csv.DictReader(f))


def test_tune_writes_trials_and_best_overrides_resumes_its_study_and_keeps_it_to_one_setting(tmp_path):
    first = tune(tmp_path, 2)
    sweep = tmp_path / "lstm_copy_long"
    assert first.returncode == 0, first.stderr[-3000:]
    assert (sweep / "optuna.db").exists()
    rows = trials(sweep)
    assert [r["trial"] for r in rows] == ["0", "1"] and {r["state"] for r in rows} == {"COMPLETE"}
    tuned = {"optimizer.lr", "optimizer.weight_decay", "arch.dropout", "budget.width"}
    assert tuned <= set(rows[0])
    assert all("/" not in r["run"] and len(r["run"]) < 80 for r in rows)  # flat, short trial folders
    best = max(rows, key=lambda r: float(r["value"]))
    summary = json.loads((sweep / best["run"] / "summary.json").read_text())
    assert summary["metrics"]["val/acc"] == float(best["value"])  # scored on validation
    assert summary["budget"]["width"] == int(best["budget.width"]) == summary["config"]["budget"]["width"]

    lines = (sweep / "best_overrides.txt").read_text().split()
    assert all("=" in line for line in lines) and "arch=lstm" in lines and "task=copy_long" in lines
    assert not any(line.startswith("experiment=") for line in lines)
    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        cfg = compose(config_name="config", overrides=lines)  # ready to use as a command line
    assert cfg.optimizer.lr == float(best["optimizer.lr"]) and cfg.arch.dropout == float(best["arch.dropout"])
    assert f"best of 2 completed trials: trial {best['trial']}" in first.stdout

    again = tune(tmp_path, 1)  # the same command continues the same study
    assert again.returncode == 0, again.stderr[-3000:]
    assert [r["trial"] for r in trials(sweep)] == ["0", "1", "2"]
    assert len(list(sweep.rglob("summary.json"))) == 3

    rep = build_report([sweep], sweep / "report")  # the report lists the trials, best first
    ((title, note, table),) = [s for s in rep.sections if s[0].startswith("Tuning")]
    assert len(table) == 3 and table["Value"].iloc[0] == max(float(r["value"]) for r in trials(sweep))
    assert "3 trials, 3 completed" in note and "arch=lstm" in note
    assert "Tuning:" in (sweep / "report" / "index.html").read_text()
    assert (sweep / "report" / "figures" / "tuning_lstm_copy_long.png").exists()  # history (+ importance)

    other = tune(tmp_path, 1, "seed=1")  # one study, one setting
    assert other.returncode == 2
    assert other.stderr.count("error:") == 1 and "was started with the overrides" in other.stderr
    assert len(trials(sweep)) == 3 and len(list(sweep.rglob("summary.json"))) == 3


class DirectedCopy(CopyLong):
    directions = {"acc": "max", "loss": "min"}  # as every task declares them (Task.directions)


@pytest.mark.parametrize(
    "metric, direction, refused",
    [
        ("val/loss", "maximize", True),
        ("val/loss", "minimize", False),
        ("val/acc", "maximize", False),
        ("val/acc", "minimize", True),
    ],
)
def test_the_study_direction_must_match_the_metric(tmp_path, capsys, metric, direction, refused):
    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        cfg = compose(
            config_name="config",
            return_hydra_config=True,
            overrides=[
                "experiment=tune",
                f"trainer.stop_metric={metric}",
                f"hydra.sweeper.direction={direction}",
                f"hydra.sweep.dir={tmp_path}",
                f"task._target_={__name__}.DirectedCopy",
            ],
        )
    try:
        if refused:
            with pytest.raises(SystemExit) as e:
                TuneRecord().on_multirun_start(cfg)
            assert e.value.code == 2 and capsys.readouterr().err.count("error:") == 1
        else:
            TuneRecord().on_multirun_start(cfg)
            assert (tmp_path / "setting.txt").exists()
    finally:
        HydraConfig.instance().cfg = None  # the callback set Hydra's global config; later tests run without


def test_parameter_importance_names_the_parameter_that_matters(tmp_path):
    import optuna

    from reports.tuning import importances

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        study_name="tune", storage=f"sqlite:///{tmp_path / 'optuna.db'}", sampler=optuna.samplers.RandomSampler(seed=0)
    )
    study.optimize(lambda t: t.suggest_float("x", 0, 1) ** 2 + 0.001 * t.suggest_float("y", 0, 1), n_trials=16)
    imp = importances(tmp_path)
    assert set(imp) == {"x", "y"} and imp["x"] > imp["y"]
    assert importances(tmp_path / "none") == {}


def test_a_study_in_which_every_trial_fails_ends_with_one_line(tmp_path):
    """Every trial refused (trainer.batch_size=0): no optuna "Record does not exist" traceback but one line,
    exit 2, and trials.csv listing the failed trials."""
    done = tune(tmp_path, 2, "trainer.batch_size=0")
    assert done.returncode == 2, done.stderr[-3000:]
    assert "Traceback" not in done.stderr and "Record does not exist" not in done.stderr
    last = [line for line in done.stderr.splitlines() if line.strip()][-1]
    assert last.startswith("error: tune: no trial completed") and "trials.csv" in last
    rows = list(csv.DictReader(open(next(tmp_path.rglob("trials.csv")))))
    assert [r["state"] for r in rows] == ["FAIL", "FAIL"]
