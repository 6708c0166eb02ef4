"""TensorBoard read back, loggers combined, the train loss every log_every steps, progress lines in a file,
the busy-machine warning."""

import importlib
import os
from pathlib import Path

from harness.train import train

train_mod = importlib.import_module("harness.train")  # the module (harness.train the attribute is the function)

COPY = ("task=copy_long", "task.delay=6", "task.n_memorize=3")


def scalars_of(event_dir: Path) -> dict[str, list[tuple[int, float]]]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(event_dir))
    acc.Reload()
    return {tag: [(e.step, e.value) for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}


def test_tensorboard_and_csv_together_log_every_evaluation_and_the_step_loss(cfg_factory):
    cfg = cfg_factory(*COPY, "logger=[csv,tensorboard]", "trainer.max_steps=6", "trainer.log_every=2")
    s = train(cfg)
    run = Path(cfg.run_dir)
    assert s["status"] == "completed" and (run / "metrics.csv").exists()
    tags = scalars_of(run / "tensorboard")
    assert [step for step, _ in tags["train/step_loss"]] == [2, 4, 6]
    assert sorted({step for step, _ in tags["lr"]}) == [2, 4, 6]
    assert [step for step, _ in tags["val/acc"]] == [2, 4, 6]  # eval_every=2
    assert tags["final/test/acc"][0][1] == s["metrics"]["test/acc"]


def test_step_losses_are_in_the_record_and_the_training_curve(cfg_factory):
    from core.record import MetricsLog
    from reports import figures
    from reports.load import find_records, to_frame

    cfg = cfg_factory(
        *COPY,
        "trainer.max_steps=12",
        "trainer.eval_every=6",
        "trainer.log_every=2",
        "trainer.stop_at=null",
        "trainer.probes=false",
    )
    train(cfg)
    lines = MetricsLog(Path(cfg.run_dir)).lines()
    assert [ln["step"] for ln in lines if ln["split"] == "train_step"] == [2, 4, 6, 8, 10, 12]
    fig = figures.training_curves(to_frame(find_records([cfg.run_dir]).runs))["training_curves_copy_long"]
    counts = sorted(len(ln.get_xdata()) for ax in fig.axes for ln in ax.get_lines() if len(ln.get_xdata()) > 1)
    assert counts == [2, 6]  # val: each evaluation; train loss: every log_every steps


def test_log_every_null_logs_no_step_loss(cfg_factory):
    cfg = cfg_factory(*COPY, "logger=tensorboard", "trainer.log_every=null")
    train(cfg)
    assert "train/step_loss" not in scalars_of(Path(cfg.run_dir) / "tensorboard")


def test_progress_lines_when_stderr_is_not_a_terminal(cfg_factory, capfd):
    cfg = cfg_factory(*COPY, "trainer.progress=auto", "trainer.max_steps=4", "trainer.stop_at=null")
    train(cfg)
    lines = [ln for ln in capfd.readouterr().err.splitlines() if " step " in ln]
    assert [ln.split(" step ")[1].split()[0] for ln in lines] == ["2/4", "4/4"]
    assert "val/acc↑" in lines[0] and "loss " in lines[0] and "steps/s" in lines[0] and "ETA" in lines[0]


def test_no_progress_lines_with_progress_false(cfg_factory, capfd):
    train(cfg_factory(*COPY, "trainer.progress=false"))
    assert " step " not in capfd.readouterr().err


def test_busy_machine_warning(monkeypatch, capsys):
    monkeypatch.setattr(os, "getloadavg", lambda: (9.0, 9.0, 9.0))
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    train_mod.warn_if_busy()
    assert "trainer.threads=1" in capsys.readouterr().err
    monkeypatch.setattr(os, "getloadavg", lambda: (1.0, 1.0, 1.0))
    train_mod.warn_if_busy()
    assert capsys.readouterr().err == ""


def test_wandb_group_is_the_sweep_folder_name_in_a_multirun():
    from hydra import compose, initialize_config_dir
    from hydra.core.hydra_config import HydraConfig

    from harness.loggers import sweep_name
    from tests.conftest import CONF

    assert sweep_name() is None  # a plain run (or a test) has no sweep
    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        cfg = compose(
            "config",
            overrides=["hydra.mode=MULTIRUN", "hydra.sweep.dir=runs/sweeps/long_range"],
            return_hydra_config=True,
        )
    HydraConfig.instance().set_config(cfg)
    try:
        assert sweep_name() == "long_range"
    finally:
        HydraConfig.instance().cfg = None
