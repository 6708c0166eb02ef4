"""The run state as a type: it round-trips through a checkpoint, an older checkpoint's flat layout still resumes
(to the same result as an uninterrupted run), and a state with unknown keys is refused with one line."""

from pathlib import Path

import pytest
import torch

from core.errors import ConfigError
from harness.run_state import GradNormState, RunState, SpeedState
from harness.train import train
from tests.conftest import assert_same_metrics, make_cfg

COPY = ("task=copy_long", "task.delay=6", "task.n_memorize=3")
SAME = (*COPY, "trainer.grad_clip=1.0", "trainer.schedule=constant")  # a schedule that max_steps does not change


def flat_layout(state: dict) -> dict:
    """A state as checkpoints wrote it before it had parts: the speed sums beside the other keys."""
    old = {k: v for k, v in state.items() if k != "speed"}
    old.update(state["speed"])
    return old


def test_the_state_round_trips_and_reads_the_flat_layout():
    st = RunState(
        stop_reason="target",
        elapsed_s=3.5,
        steps_to_target=7,
        best={"step": 4, "value": 0.5},
        speed=SpeedState(train_time_s=1.5, samples=80, step_s=[0.1, 0.2]),
        grad_norm=GradNormState(steps=3, max=2.0),
    )
    d = st.to_dict()
    assert isinstance(d["speed"], dict) and RunState.from_dict(d) == st
    assert RunState.from_dict(flat_layout(d)) == st
    old = flat_layout(d)
    del old["grad_norm"], old["components"]  # keys the flat layout held only once they were set
    assert RunState.from_dict(old) == RunState(**{**st.__dict__, "grad_norm": GradNormState()})


def test_unknown_keys_are_named():
    with pytest.raises(ValueError, match="does not know: surprise, speed.laps"):
        RunState.from_dict(
            {**RunState().to_dict(), "surprise": 1, "speed": {**RunState().to_dict()["speed"], "laps": 2}}
        )


def test_a_checkpoint_in_the_old_layout_resumes_to_the_uninterrupted_result(tmp_path, device):
    whole = train(make_cfg(tmp_path / "whole", *SAME, "trainer.max_steps=8"))
    cfg = make_cfg(tmp_path / "cut", *SAME)  # 4 steps, checkpoint at step 4
    train(cfg)
    run = Path(cfg.run_dir)
    ck = torch.load(run / "checkpoint.pt", weights_only=True)
    assert ck["step"] == 4 and "speed" in ck["state"]
    ck["state"] = flat_layout(ck["state"])
    torch.save(ck, run / "checkpoint.pt")
    (run / "summary.json").unlink()  # e.g. killed between the last checkpoint and the summary
    cfg.trainer.max_steps, cfg.trainer.resume = 8, True
    again = train(cfg)
    assert again["status"] == "completed" and again["step"] == 8
    assert_same_metrics(again["metrics"], whole["metrics"], device)
    assert again["grad_norm"]["steps"] == whole["grad_norm"]["steps"] == 8


def test_a_checkpoint_with_an_unknown_state_is_refused_with_one_line(tmp_path):
    cfg = make_cfg(tmp_path, *COPY)
    train(cfg)
    run = Path(cfg.run_dir)
    ck = torch.load(run / "checkpoint.pt", weights_only=True)
    ck["state"]["laps"] = 3
    torch.save(ck, run / "checkpoint.pt")
    (run / "summary.json").unlink()
    cfg.trainer.resume = True
    with pytest.raises(
        ConfigError,
        match=r"checkpoint.pt does not fit this run's run state \(ValueError: its run "
        r"state holds keys this version does not know: laps\)",
    ) as e:
        train(cfg)
    assert "\n" not in str(e.value)
