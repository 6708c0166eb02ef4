"""The Trainer's components, each on its own: the callback interface, set-up, evaluation and selection, progress,
the loggers' lines, the probe registry, and the run state's place for what components keep across a resume."""

import dataclasses
import os
from types import SimpleNamespace

import pytest
import torch
from omegaconf import OmegaConf

from core.errors import ConfigError
from core.record import MetricsLog
from harness import machine, probe_callbacks
from harness.callbacks import Callback, Callbacks
from harness.evaluation import Selection, stop_direction
from harness.loggers import Logbook, Loggers
from harness.progress import Progress
from harness.run_state import RunState
from harness.trainer_settings import TrainerSettings


def trainer_settings(**changes):
    return OmegaConf.create({**dataclasses.asdict(TrainerSettings()), **changes})


# -- the interface ------------------------------------------------------------------------------------------------
class Recorder(Callback):
    def __init__(self, tag, calls):
        self.tag, self.calls = tag, calls

    def on_start(self, trainer):
        self.calls.append((self.tag, "start"))

    def on_step(self, trainer):
        self.calls.append((self.tag, "step"))

    def on_validation(self, trainer, metrics):
        self.calls.append((self.tag, "validation", metrics["acc"]))

    def on_end(self, trainer, long_range):
        long_range[self.tag] = len(long_range)


def test_callbacks_are_called_in_order_and_every_hook_is_optional():
    calls = []
    group = Callbacks([Recorder("a", calls), Callback(), Recorder("b", calls)])
    group.on_start(None)
    group.on_step(None)
    group.on_validation(None, {"acc": 0.5})
    out = {}
    group.on_end(None, out)
    assert calls == [("a", "start"), ("b", "start"), ("a", "step"), ("b", "step")] + [
        ("a", "validation", 0.5),
        ("b", "validation", 0.5),
    ]
    assert out == {"a": 0, "b": 1}  # each sees what the ones before it added


# -- set-up -----------------------------------------------------------------------------------------------------
def test_prepare_sets_threads_seed_and_determinism(monkeypatch):
    before = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()
    try:
        m = machine.prepare(trainer_settings(threads=1, device="cpu", deterministic=True), seed=3)
        assert torch.get_num_threads() == 1 and torch.are_deterministic_algorithms_enabled()
        assert m.device == torch.device("cpu") and not m.check_busy
        assert torch.initial_seed() == 3
        monkeypatch.delenv("SLURM_CPUS_PER_TASK", raising=False)
        assert machine.prepare(trainer_settings(threads=None, device="cpu"), seed=0).check_busy
    finally:
        torch.set_num_threads(before[0])
        torch.use_deterministic_algorithms(before[1])


@pytest.mark.parametrize("name, message", [("gpu", "is not a device"), ("cuda:99", "does not exist|no CUDA")])
def test_a_bad_device_is_one_config_error(name, message):
    with pytest.raises(ConfigError, match=message):
        machine.pick_device(name)


def test_the_busy_warning_is_said_at_the_start_only_when_threads_were_left_to_pytorch(monkeypatch, capsys):
    monkeypatch.setattr(os, "getloadavg", lambda: (9.0, 9.0, 9.0))
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    machine.Machine(torch.device("cpu"), None, check_busy=False).on_start(None)
    assert capsys.readouterr().err == ""
    machine.Machine(torch.device("cpu"), None, check_busy=True).on_start(None)
    assert "trainer.threads=1" in capsys.readouterr().err


# -- evaluation and selection -----------------------------------------------------------------------------------
def test_the_direction_comes_from_the_task():
    task = SimpleNamespace(directions={"acc": "max", "loss": "min"})
    assert stop_direction(task, "val/loss") == "min" and stop_direction(task, "val/acc") == "max"
    with pytest.raises(ConfigError, match="val/bleu has no declared direction"):
        stop_direction(task, "val/bleu")


@pytest.mark.parametrize("direction, values, best_step", [("max", [0.2, 0.5, 0.5, 0.4], 2), ("min", [3, 1, 1, 2], 2)])
def test_selection_keeps_the_first_best_weights_and_marks_the_target(direction, values, best_step):
    t = trainer_settings(select="best", stop_metric="val/x", stop_at=values[1])
    sel, state, model = Selection(t, direction), RunState(), torch.nn.Linear(1, 1)
    reached = []
    for step, v in enumerate(values, 1):
        torch.nn.init.constant_(model.weight, step)
        sel.consider({"x": v}, state, step, model)
        reached.append(sel.reached({"x": v}, state, step))
    assert state.best == {"step": best_step, "value": values[1]}  # a tie does not replace the best
    assert reached == [False, True, True, False]
    assert state.steps_to_target == 2
    assert sel.load(True, state, 4, model) == best_step and model.weight.item() == best_step
    assert Selection(trainer_settings(select="last"), direction).load(True, state, 4, model) == 4
    with pytest.raises(ConfigError, match="val/x is not a metric of this task"):
        sel.monitored({"acc": 1.0})


# -- progress and lines -----------------------------------------------------------------------------------------
def test_progress_writes_one_line_per_validation_where_no_bar_shows(capsys):  # capsys: stderr is no terminal
    p = Progress("auto", "lstm/copy_long", 10, "val/loss", "min", {"loss": "min"})
    p.open(0)
    tr = SimpleNamespace(step=5, last_train_loss=1.25, task=SimpleNamespace(main_metric="acc"))
    p.on_validation(tr, {"loss": 0.5, "acc": 0.9})
    p.close()
    line = capsys.readouterr().err.strip().splitlines()[-1]
    assert line.startswith("lstm/copy_long step 5/10  loss 1.2500  val/loss↓ 0.5000")
    assert p.postfix == {"val_loss↓": "0.500", "val_acc↑": "0.900"}
    quiet = Progress(False, "x", 10, "val/acc", "max", {})
    quiet.open(0)
    quiet.line(5, None)
    assert capsys.readouterr().err == ""


def test_the_logbook_writes_each_line_to_the_file_and_the_loggers(tmp_path):
    seen = []
    book = Logbook(MetricsLog(tmp_path))
    book.loggers = Loggers([SimpleNamespace(log=lambda step, m: seen.append((step, m)), finish=None)])
    book.step_loss(1, 2.0, 0.1)
    book.train(2, 1.5, 0.1, {"train_samples_per_s": 10.0}, 3.0)
    book.val(2, {"acc": 0.5}, 0.1, 0.5, 10, 3.0)
    book.test(2, {"acc": 0.4}, 0.0, 10)
    lines = book.log.lines()
    assert [(ln["step"], ln["split"]) for ln in lines] == [(1, "train_step"), (2, "train"), (2, "val"), (2, "test")]
    assert lines[2]["throughput"] == {"eval_samples_per_s": 20.0}
    assert lines[3]["throughput"]["eval_samples_per_s"] is None  # no time taken: no rate
    assert [m for _, m in seen][2] == {"val": {"acc": 0.5}} and len(seen) == 3  # the test line goes to the record
    assert book.val_at(2) == {"acc": 0.5} and book.val_at(1) == {}


# -- probes -----------------------------------------------------------------------------------------------------
def test_the_engine_switches_on_the_long_range_probes_only():
    kinds = lambda **kw: [type(c).__name__ for c in probe_callbacks.probe_callbacks(trainer_settings(**kw))]
    assert kinds() == ["LongRangeProbes"] and kinds(probes=False) == []
    assert set(probe_callbacks.PROBES) == {"probes"} <= set(TrainerSettings.__dataclass_fields__)


def configured(*overrides):
    from pathlib import Path

    from tests.conftest import make_cfg

    return [type(c).__name__ for c in probe_callbacks.configured(make_cfg(Path("unused"), *overrides))]


def test_a_preset_names_the_study_probes_as_components():
    target = "+callbacks.{0}._target_=harness.probe_callbacks.{1}"
    named = (target.format("source_masking", "SourceMasking"), target.format("head_ablation", "HeadAblation"))
    assert configured(*named) == ["LongRangeProbes", "SourceMasking", "HeadAblation"]  # the config's order
    early = probe_callbacks.EarlyGradient(None)
    assert early.step is None  # step=null: a preset's override switches it off
    with pytest.raises(ConfigError, match=r"callbacks.early_gradient.step=0 must be"):
        configured(target.format("early_gradient", "EarlyGradient"), "+callbacks.early_gradient.step=0")


def test_the_deprecated_probe_settings_still_turn_their_components_on_with_a_warning(capsys):
    got = configured(
        "trainer.probe_early_step=50", "trainer.probe_source_masking=true", "trainer.probe_head_ablation=true"
    )
    assert got == ["LongRangeProbes", "EarlyGradient", "HeadAblation", "SourceMasking"]  # the old order
    err = capsys.readouterr().err
    assert err.count("is deprecated and goes in 0.3") == 3
    assert (
        "+callbacks.early_gradient._target_=harness.probe_callbacks.EarlyGradient +callbacks.early_gradient.step=50"
        in err
    )
    assert configured("trainer.probes=false", "trainer.probe_head_ablation=true") == []  # as before: with probes only
    early = probe_callbacks.deprecated(trainer_settings(probe_early_step=7), {})[0]
    assert early.step == 7
    named = {"early_gradient": {"_target_": "x"}}  # the config's own entry wins over the old setting
    assert probe_callbacks.deprecated(trainer_settings(probe_early_step=7), named) == []
    assert set(probe_callbacks.DEPRECATED) <= set(TrainerSettings.__dataclass_fields__)


def test_the_early_curve_joins_the_gradient_curve_of_the_end():
    tr = SimpleNamespace(state=RunState(components={"early_gradient": {"step": 5, "values": [1.0, 2.0]}}))
    long_range = {"grad_norm_by_distance": {"distance": [0, 1], "end": [3.0, 4.0], "init": None}}
    probe_callbacks.EarlyGradient(5).on_end(tr, long_range)
    assert list(long_range["grad_norm_by_distance"]) == ["distance", "end", "init", "early", "early_step"]
    assert long_range["grad_norm_by_distance"]["early_step"] == 5


def test_a_checkpoint_of_before_the_probe_components_keeps_its_probes():
    old = {**RunState().to_dict(), "probes_init": {"values": [1.0]}, "probes_early": None}
    del old["components"]
    assert RunState.from_dict(old).components == {"long_range": {"values": [1.0]}}
    old["probes_early"] = {}
    assert RunState.from_dict(old).components == {"long_range": {"values": [1.0]}, "early_gradient": {}}


def test_the_trainer_module_is_the_loop_only():
    """train.py's Trainer stays a loop: at most 250 lines, no method over 60."""
    import ast
    import importlib
    import inspect

    train = importlib.import_module("harness.train")
    tree = ast.parse(inspect.getsource(train))
    (trainer,) = [n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Trainer"]
    assert trainer.end_lineno - trainer.lineno + 1 <= 250
    longest = max(n.end_lineno - n.lineno + 1 for n in trainer.body if isinstance(n, ast.FunctionDef))
    assert longest <= 60


class Marker(Callback):
    """A component named by the config (``callbacks.<name>._target_``), as a study or a user would add one."""

    def __init__(self, label: str = "x"):
        self.label, self.started = label, 0

    def on_start(self, trainer):
        self.started += 1

    def on_end(self, trainer, long_range):
        long_range["marker"] = {"label": self.label, "started": self.started, "step": trainer.step}


def test_a_config_names_its_own_component(tmp_path):
    from harness.train import train
    from tests.conftest import make_cfg

    target, copy = f"{__name__}.Marker", ("task=copy_long", "task.delay=6")
    s = train(make_cfg(tmp_path / "a", *copy, f"+callbacks.mine._target_={target}", "+callbacks.mine.label=hi"))
    assert s["long_range"]["marker"] == {"label": "hi", "started": 1, "step": 4}
    with pytest.raises(ConfigError, match="callbacks.bad"):
        train(make_cfg(tmp_path / "b", *copy, f"+callbacks.bad._target_={target}", "+callbacks.bad.colour=red"))


def test_the_probe_components_state_survives_a_resume(tmp_path, device):
    """The curves at initialisation and at ``callbacks.early_gradient.step`` live in the checkpoint: a run cut after the
    early step and resumed records the same long-range probes as one that ran through."""
    from pathlib import Path

    from harness.train import train
    from tests.conftest import make_cfg

    same = ("task=copy_long", "task.delay=4", "task.n_memorize=2", "trainer.schedule=constant")
    early = (
        "+callbacks.early_gradient._target_=harness.probe_callbacks.EarlyGradient",
        "+callbacks.early_gradient.step=3",
    )
    probes = (*early, "trainer.ckpt_every=2", "trainer.eval_every=2", "trainer.stop_at=null")
    whole = train(make_cfg(tmp_path / "whole", *same, *probes, "trainer.max_steps=6"))
    cfg = make_cfg(tmp_path / "cut", *same, *probes, "trainer.max_steps=4")
    train(cfg)
    (Path(cfg.run_dir) / "summary.json").unlink()  # as if killed after the step-4 checkpoint
    cfg.trainer.max_steps, cfg.trainer.resume = 6, True
    again = train(cfg)
    curve, expected = again["long_range"]["grad_norm_by_distance"], whole["long_range"]["grad_norm_by_distance"]
    assert curve["early_step"] == expected["early_step"] == 3
    if device.type == "cpu":  # bitwise on the CPU
        assert curve == expected and again["metrics"] == whole["metrics"]
