"""Sweep experiments compose, and a re-launched sweep skips completed runs and resumes cut ones."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from tests.conftest import ARCHS, CONF, ROOT

EXPERIMENTS = ["long_range", "matrix", "seq_scaling"]
TASKS = ["copy_long", "sentiment", "translation", "image_classification"]  # the matrix of DESIGN.md


def composed(*overrides: str, hydra: bool = False):
    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        return compose(config_name="config", overrides=list(overrides), return_hydra_config=hydra)


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_experiment_composes_as_a_resumable_local_sweep(name):
    cfg = composed(f"experiment={name}", hydra=True)
    assert cfg.trainer.resume is True and cfg.trainer.threads == 1
    h = cfg.hydra
    sweep = OmegaConf.to_container(h.sweep, resolve=False)  # resolved only inside a Hydra run
    assert sweep["dir"] == "runs/sweeps/${hydra:runtime.choices.experiment}"  # no timestamp: a relaunch finds it
    assert sweep["subdir"] == "${hydra.job.override_dirname}"
    assert "experiment" in h.job.config.override_dirname.exclude_keys
    assert h.launcher._target_.endswith("JoblibLauncher") and h.launcher.n_jobs == 2
    assert h.sweeper.params.arch.startswith("glob(*)")  # Hydra expands it to every conf/arch/*.yaml = ARCHS


def test_long_range_and_seq_scaling_settings():
    lr = composed("experiment=long_range", hydra=True)
    assert lr.task._target_.endswith("CopyLong") and lr.budget.params and lr.trainer.probes
    assert [int(d) for d in lr.hydra.sweeper.params["task.delay"].split(",")] == [10, 20, 50, 100, 200]
    assert lr.hydra.sweeper.params.seed == "0,1,2"
    seq = composed("experiment=seq_scaling", hydra=True)
    assert seq.trainer.probes is False and seq.trainer.stop_at is None
    assert [int(d) for d in seq.hydra.sweeper.params["task.delay"].split(",")] == [64, 128, 256, 512, 1024]


def test_pretrain_finetune_is_two_resumable_stages_in_one_folder():
    mlm = composed("experiment=pretrain_finetune", "stage=mlm", hydra=True)
    fine = composed("experiment=pretrain_finetune", hydra=True)
    assert mlm.task._target_.endswith("MaskedLM") and fine.task._target_.endswith("Sentiment")
    for cfg in (mlm, fine):
        assert cfg.trainer.resume is True and cfg.trainer.threads == 1 and cfg.task.vocab_size == 2000
        assert cfg.hydra.sweeper.params.arch.startswith("glob(*)") and cfg.hydra.sweeper.params.seed == "0,1,2"
        assert cfg.hydra.launcher.n_jobs == 2
    assert OmegaConf.to_container(mlm.hydra.sweep, resolve=False) == {
        "dir": "${sweep_root}/${stage_name}",
        "subdir": "arch=${hydra:runtime.choices.arch}/seed=${seed}",
    }
    p = fine.hydra.sweeper.params
    assert p["task.train_fraction"] == "0.1,1.0" and p.init_weights == "false,true"
    # stage 2 finds stage 1's run of its own arch and seed by the folder layout
    assert OmegaConf.to_container(fine, resolve=False)["init_from"] == (
        "${sweep_root}/mlm/arch=${hydra:runtime.choices.arch}/seed=${seed}"
    )
    assert mlm.sweep_root == fine.sweep_root == "runs/sweeps/pretrain_finetune" and mlm.stage_name == "mlm"


@pytest.mark.parametrize("task", TASKS)
def test_matrix_composes_for_every_task_that_exists(task):
    matrix = composed("experiment=matrix", hydra=True)
    assert task in matrix.hydra.sweeper.params.task.split(",")
    for arch in ARCHS:
        cfg = composed("experiment=matrix", f"task={task}", f"arch={arch}")
        assert cfg.budget.params is None and cfg.budget.width_key in cfg.arch and cfg.trainer.resume


@pytest.mark.parametrize("launcher, target", [("slurm", "SlurmLauncher"), ("submitit_local", "LocalLauncher")])
def test_submitit_launchers_compose_with_the_experiments(launcher, target):
    cfg = composed("experiment=long_range", f"hydra/launcher={launcher}", hydra=True)
    assert cfg.hydra.launcher._target_.endswith(target)
    if launcher == "slurm":
        assert cfg.hydra.launcher.gpus_per_node == 1 and cfg.hydra.launcher.max_num_timeout >= 1
    OmegaConf.to_container(cfg.hydra.launcher)  # every field is a valid SlurmQueueConf/LocalQueueConf field


def launch(sweep_dir: Path) -> subprocess.CompletedProcess:
    cmd = [
        sys.executable,
        "run.py",
        "-m",
        "experiment=long_range",
        "hydra/launcher=basic",
        f"hydra.sweep.dir={sweep_dir}",
        "arch=rnn,transformer",
        "seed=0",
        "task.delay=3",
        "task.n_memorize=2",
        "task.n_val=8",
        "task.n_test=8",
        "trainer.max_steps=2",
        "trainer.eval_every=2",
        "trainer.batch_size=4",
        "trainer.progress=false",
        "trainer.probes=false",
        "budget.params=null",
    ]
    env = {**os.environ, "HYDRA_FULL_ERROR": "1"}
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=120, env=env)


def test_relaunched_sweep_skips_completed_runs_and_resumes_cut_ones(tmp_path):
    first = launch(tmp_path)
    assert first.returncode == 0, first.stderr[-2000:]
    records = sorted(tmp_path.rglob("summary.json"))
    assert [p.relative_to(tmp_path).parts[0] for p in records] == ["arch=rnn", "arch=transformer"]
    wall = {p: json.loads(p.read_text())["wall_s"] for p in records}
    records[1].unlink()  # the transformer job was cut after its checkpoint

    second = launch(tmp_path)
    assert second.returncode == 0, second.stderr[-2000:]
    assert second.stderr.count("already completed") == 1 and "resuming" in second.stderr
    assert json.loads(records[0].read_text())["wall_s"] == wall[records[0]]  # not run again
    assert json.loads(records[1].read_text())["status"] == "completed"


def test_the_gpu_seq_scaling_preset_covers_1k_to_16k_at_a_fixed_token_budget():
    sweep = composed("experiment=seq_scaling_gpu", hydra=True)
    assert set(sweep.hydra.sweeper.params.arch.split(",")) == {"lstm", "cnn", "transformer"}
    assert sweep.hydra.launcher._target_.endswith("BasicLauncher")  # one run at a time on the GPU
    assert sweep.trainer.precision == "bf16" and sweep.trainer.device == "cuda" and sweep.trainer.warmup_measure
    lengths = []
    for name in sweep.hydra.sweeper.params.seq_len.split(","):
        cfg = composed("experiment=seq_scaling_gpu", f"seq_len={name}")
        length = cfg.task.delay + 2 * cfg.task.n_memorize
        assert cfg.trainer.batch_size * length == 65536
        lengths.append(length)
    assert lengths == [1024, 4096, 16384]


def test_the_gpu_seq_scaling_preset_trains_and_records_speed_per_length(tmp_path):
    from harness.train import train
    from tests.conftest import make_cfg

    cfg = make_cfg(
        tmp_path,
        "experiment=seq_scaling_gpu",
        "seq_len=1k",
        "arch=cnn",
        "arch.channels=8",
        "trainer.device=auto",
        "trainer.precision=auto",
        "trainer.batch_size=2",
        "trainer.max_steps=3",
        "trainer.warmup_measure=1",
        "trainer.threads=1",
        "trainer.progress=false",
        tiny=False,
    )
    s = train(cfg)
    assert s["status"] == "completed" and s["task_info"]["seq_len"] == 1024
    assert s["speed"]["train_tokens_per_s"] > 0 and s["speed"]["peak_mem_mb"] is not None
    assert s["speed"]["measured_steps"] == 2


def test_several_runs_can_share_one_gpu_through_the_joblib_launcher():
    cfg = composed(
        "experiment=long_range", "hydra/launcher=gpu_shared", "trainer.cuda_memory_fraction=0.24", hydra=True
    )
    assert cfg.hydra.launcher._target_.endswith("JoblibLauncher") and cfg.hydra.launcher.n_jobs > 1
    assert cfg.trainer.cuda_memory_fraction == 0.24
