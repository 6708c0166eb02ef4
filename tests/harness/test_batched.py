"""trainer.seeds_batched: per seed, the batched job's record equals its separate run's (same seed, same data
order) within a stated floating-point tolerance where the step is stacked (vmap's batched matrix products sum in
another order than one seed's), exactly where the seeds step one after another; every arch either stacks or says
why not in one line; a batched job killed after a checkpoint resumes to the uninterrupted batched job's result."""

import json
import os
import signal
import subprocess
import sys

import pytest
import torch

from harness.batched import seed_dirs, train_seeds
from harness.train import train
from tests.conftest import ARCHS, CUDA_RESUME_ABS, CUDA_RESUME_REL, DEVICE, ROOT, assert_same_metrics, make_cfg
from tests.harness.test_resume import RUN, wait_for_checkpoint

# a stacked step's metrics against the separate run's: relative, and absolute for values near 0 (accuracies move in
# steps of 1/n: a flipped answer would be 1/64 here, far above it)
REL, ABS = 1e-4, 1e-5
UNSTACKED = {"rnn", "lstm", "gru"}  # nn.RNN / nn.LSTM / nn.GRU: their fused kernels have no vmap batching rule
SEEDS = [3, 4]
SEED_LIST = f"seed=[{','.join(map(str, SEEDS))}]"
SMALL = ["task=copy_long", "task.delay=4", "task.n_memorize=3", "trainer.max_steps=6", "trainer.eval_every=3"]
SMALL += ["trainer.select=best", "trainer.stop_at=null", "trainer.log_every=1"]


def floats(metrics: dict) -> dict:
    return {k: v for k, v in metrics.items() if isinstance(v, float)}


def assert_equal_runs(b: dict, a: dict, stacked: bool) -> None:
    """A batched seed's float metrics against its separate run's: bitwise where the seeds stepped one after another
    on the CPU, within REL/ABS where the step was stacked; on CUDA (kernels not all bitwise repeatable, TF32
    convolutions) within the suite's CUDA tolerances either way."""
    x, y = floats(b["metrics"]), floats(a["metrics"])
    assert x.keys() == y.keys() and x
    if DEVICE.type == "cuda":
        assert x == pytest.approx(y, rel=CUDA_RESUME_REL, abs=CUDA_RESUME_ABS)
    elif stacked:
        assert x == pytest.approx(y, rel=REL, abs=ABS)
    else:
        assert x == y


def val_at(summary: dict, step: int) -> dict:
    lines = (json.loads(x) for x in (open(f"{summary['run_dir']}/metrics.jsonl")).read().splitlines())
    return next(x["metrics"] for x in lines if x["split"] == "val" and x["step"] == step)


def val_lines(summary: dict) -> list[tuple]:
    lines = (json.loads(x) for x in (open(f"{summary['run_dir']}/metrics.jsonl")).read().splitlines())
    return [(x["step"], x["split"]) for x in lines]


@pytest.mark.parametrize("arch", ARCHS)
def test_each_seed_of_a_batched_job_equals_its_separate_run(tmp_path, arch, capfd):
    ov = [f"arch={arch}", *SMALL]
    batched = train_seeds(make_cfg(tmp_path / "b", *ov, "trainer.seeds_batched=true", SEED_LIST))
    err = capfd.readouterr().err
    stacked = arch not in UNSTACKED
    why = [line for line in err.splitlines() if line.startswith("note: trainer.seeds_batched")]
    assert len(why) == (0 if stacked else 1), err
    for seed, b in zip(SEEDS, batched):
        alone = train(make_cfg(tmp_path / f"s{seed}", *ov, f"seed={seed}"))
        assert b["seed"] == seed and b["run_dir"].endswith(f"seed={seed}")
        assert b["batched"]["seeds"] == SEEDS and b["batched"]["stacked"] is stacked
        assert "batched" not in alone
        assert (b["status"], b["step"], b["selection"]) == (alone["status"], alone["step"], alone["selection"])
        assert val_lines(b) == val_lines(alone)
        assert_equal_runs(b, alone, stacked)  # unstacked on the CPU: what the separate runs computed, to the bit
        ck_b = torch.load(f"{b['run_dir']}/checkpoint.pt", weights_only=True)["model"]
        ck_a = torch.load(f"{alone['run_dir']}/checkpoint.pt", weights_only=True)["model"]
        assert ck_b.keys() == ck_a.keys()
        for name, w in ck_a.items():  # its own weights (Adam turns rounding in a gradient that should be 0, e.g.
            # a key bias's, into whole steps: weights are compared through the metrics), not the stack's storage
            assert ck_b[name].untyped_storage().nbytes() == w.untyped_storage().nbytes(), name


def test_dropout_steps_the_seeds_one_after_another_with_each_seeds_own_draws(tmp_path, capfd):
    ov = ["arch=transformer", "arch.dropout=0.2", *SMALL]
    batched = train_seeds(make_cfg(tmp_path / "b", *ov, "trainer.seeds_batched=true", SEED_LIST))
    assert "dropout is on" in capfd.readouterr().err
    for seed, b in zip(SEEDS, batched):
        alone = train(make_cfg(tmp_path / f"s{seed}", *ov, f"seed={seed}"))
        assert b["batched"]["stacked"] is False
        assert_equal_runs(b, alone, stacked=False)


def test_a_backbone_vmap_cannot_batch_falls_back_at_its_first_step(tmp_path, capfd):
    """A user's backbone whose forward branches on a value: the first stacked forward fails, one line says why,
    and the seeds step one after another from there — what their separate runs compute."""
    ov = ["arch=transformer", "arch.backbone=tests.reliability.fake_backbones.DataDependent", *SMALL]
    batched = train_seeds(make_cfg(tmp_path / "b", *ov, "trainer.seeds_batched=true", SEED_LIST))
    why = [x for x in capfd.readouterr().err.splitlines() if x.startswith("note: trainer.seeds_batched")]
    assert len(why) == 1 and "vmap cannot batch its forward" in why[0]
    for seed, b in zip(SEEDS, batched):
        alone = train(make_cfg(tmp_path / f"s{seed}", *ov, f"seed={seed}"))
        assert b["batched"]["stacked"] is False and "vmap cannot batch" in b["batched"]["why"]
        assert_equal_runs(b, alone, stacked=False)


def test_a_seed_that_reaches_the_target_stops_alone(tmp_path):
    """Each seed keeps its own early stop: the target set between the two seeds' first validation losses stops
    one at the first evaluation while the other trains on (to the target or the last step), as their separate runs
    do."""
    ov = ["arch=transformer", *SMALL[:-3], "trainer.stop_metric=val/loss"]
    first = [train(make_cfg(tmp_path / f"p{s}", *ov, f"seed={s}")) for s in SEEDS]
    losses = [val_at(f, 3)["loss"] for f in first]
    ov.append(f"trainer.stop_at={sum(losses) / 2}")
    batched = train_seeds(make_cfg(tmp_path / "b", *ov, "trainer.seeds_batched=true", SEED_LIST))
    alone = [train(make_cfg(tmp_path / f"s{s}", *ov, f"seed={s}")) for s in SEEDS]
    assert sorted(a["step"] for a in alone) == [3, 6]  # one stopped at the first evaluation, the other went on
    for b, a in zip(batched, alone):
        assert (b["stop_reason"], b["step"]) == (a["stop_reason"], a["step"])
        assert_equal_runs(b, a, stacked=True)


def test_seed_folders_take_the_place_of_a_seed_list_level_or_go_below():
    from pathlib import Path

    assert seed_dirs(Path("out/arch=cnn/seed=[1,2]/task.delay=5"), [1, 2]) == [
        Path("out/arch=cnn/seed=1/task.delay=5"),
        Path("out/arch=cnn/seed=2/task.delay=5"),
    ]
    assert seed_dirs(Path("runs/x"), [7]) == [Path("runs/x/seed=7")]


def test_a_seed_list_without_the_switch_or_with_repeats_is_one_line(tmp_path):
    from core.errors import ConfigError

    with pytest.raises(ConfigError, match="seeds_batched=true"):
        train(make_cfg(tmp_path, "seed=[1,2]"))
    with pytest.raises(ConfigError, match="distinct whole numbers"):
        train_seeds(make_cfg(tmp_path / "twice", "seed=[1,1]", "trainer.seeds_batched=true"))
    assert not (tmp_path / "twice").exists()  # refused before any folder was made


def launch(run_dir, *overrides: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    cmd = [sys.executable, "run.py", *overrides, f"hydra.run.dir={run_dir}"]
    return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


CUT = [o for o in RUN if not o.startswith(("arch.dropout", "trainer.max_steps"))]
CUT += ["arch.dropout=0.0", "trainer.max_steps=120", "trainer.seeds_batched=true", "seed=[1,2]"]


@pytest.fixture(scope="module")
def uncut(tmp_path_factory):
    return train_seeds(make_cfg(tmp_path_factory.mktemp("ref"), *CUT, tiny=False))


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_a_killed_or_stopped_batched_job_resumes_to_the_uninterrupted_result(tmp_path, uncut, sig):
    run = tmp_path / "cut"
    proc = launch(run, *CUT)
    wait_for_checkpoint(proc, run / "seed=2" / "checkpoint.pt")
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=60)
    if sig == signal.SIGKILL:
        assert not (run / "seed=1" / "summary.json").exists()  # it really died mid-run
    else:  # each seed checkpointed and recorded as interrupted, at the same step
        assert proc.returncode == 130, err
        cut = [json.loads((run / f"seed={s}" / "summary.json").read_text()) for s in (1, 2)]
        assert [c["status"] for c in cut] == ["interrupted"] * 2 and "SIGTERM" in cut[0]["error"]
        assert cut[0]["step"] == cut[1]["step"] < 120
    resumed = launch(run, *CUT, "trainer.resume=true")
    out, err = resumed.communicate(timeout=120)
    assert resumed.returncode == 0, err
    assert err.count("from step") == 2, err  # both seeds resumed from their checkpoints
    for seed, ref in zip([1, 2], uncut):
        s = json.loads((run / f"seed={seed}" / "summary.json").read_text())
        assert s["status"] == "completed" and s["step"] == 120 and s["batched"]["stacked"] is True
        assert_same_metrics(s["metrics"], ref["metrics"], DEVICE)  # bitwise on the CPU


def test_a_study_sweep_with_seeds_batched_writes_the_folders_separate_runs_would(tmp_path):
    """``seeds_batched: true`` in a preset: one job per cell, and each seed's record where the separate sweep puts
    it, so that a sweep launched either way continues the other's runs."""
    from studies import sweeps

    sweep = {"experiment": "long_range", "overrides": {"arch": "cnn", "task.delay": "4,5"}}
    tiny = {"task.n_memorize": 3, "task.n_val": 16, "task.n_test": 16, "trainer.max_steps": 2, "trainer.eval_every": 2}
    tiny |= {"arch.channels": 16, "budget.params": "null", "trainer.probes": False}
    preset = {"seeds": "1,2", "common": tiny}
    found, started = {}, {}
    for batched in (False, True):  # the two sweeps run at once (one thread each, separate folders)
        over = sweeps.overrides_of({**preset, "seeds_batched": batched}, sweep)
        assert any(o.startswith("seed=[") for o in over) is batched
        cmd = [sys.executable, "run.py", "-m", "experiment=long_range", *over, "hydra/launcher=basic"]
        cmd.append(f"hydra.sweep.dir={tmp_path / str(batched)}")
        started[batched] = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for batched, proc in started.items():
        out = tmp_path / str(batched)
        err = proc.communicate()[1]
        assert proc.returncode == 0, err
        found[batched] = sorted(str(p.relative_to(out)) for p in out.rglob("summary.json"))
        assert len(found[batched]) == 4  # 2 delays × 2 seeds
        records = [json.loads((out / f).read_text()) for f in found[batched]]
        assert [r.get("batched", {}).get("stacked") for r in records] == [True if batched else None] * 4
    assert found[True] == found[False]
    # the separate sweep's folder relaunched batched: every run is found completed, none trained again
    over = sweeps.overrides_of({**preset, "seeds_batched": True}, sweep)
    cmd = [sys.executable, "run.py", "-m", "experiment=long_range", *over, "hydra/launcher=basic"]
    done = subprocess.run([*cmd, f"hydra.sweep.dir={tmp_path / 'False'}"], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0 and done.stderr.count("already completed") == 4, done.stderr
