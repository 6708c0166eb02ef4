"""The harness end to end through Hydra compose: records, every architecture, bad settings, divergence."""

import json
from pathlib import Path

import pytest
import torch
from hydra.errors import ConfigCompositionException, MissingConfigException

from core.errors import ConfigError, DivergedError
from core.record import MetricsLog
from harness import allocator
from harness.train import Trainer, train
from tasks.copy_long import CopyLong
from tests.conftest import ARCHS, PEAK_MEM_KIND, arch_config

COPY = ("task=copy_long", "task.delay=6", "task.n_memorize=3")
REPORT_KEYS = {"status", "arch", "task", "seed", "params", "metrics", "speed", "long_range", "env", "wall_s"}


@pytest.mark.parametrize("arch", ARCHS)
def test_every_architecture_writes_a_complete_record(cfg_factory, arch, device):
    cfg = cfg_factory(f"arch={arch}", *COPY)
    train(cfg)
    run = Path(cfg.run_dir)
    s = json.loads((run / "summary.json").read_text())
    assert REPORT_KEYS <= set(s)
    assert s["status"] == "completed" and s["arch"] == arch and s["task"] == "copy_long" and s["step"] == 4
    assert s["params"] > 0
    for key in ("val/acc", "test/acc", "test/loss", "test/seq_acc", "test/baseline_loss"):
        assert isinstance(s["metrics"][key], float), key
    assert len(s["metrics"]["test/acc_by_position"]) == 3
    for key in ("train_samples_per_s", "train_tokens_per_s", "step_ms", "eval_samples_per_s"):
        assert s["speed"][key] > 0, key
    # on the CPU, resident memory above the start of the run: 0 when a tiny run reuses memory freed by earlier tests
    assert s["speed"]["peak_mem_mb"] >= 0 and s["speed"]["peak_mem_kind"] == PEAK_MEM_KIND[device.type]
    assert s["speed"]["train_tokens_per_s"] == pytest.approx(s["speed"]["train_samples_per_s"] * 12)
    assert "steps_to_target" in s["long_range"] and s["long_range"]["distance"] == 9
    assert s["env"]["torch"] and s["env"]["device"] == str(device) and s["env"]["threads"] == 1
    assert s["env"]["malloc"] == allocator.keep_freed_memory()  # what the run set (None where not glibc)
    assert (run / ".hydra" / "config.yaml").exists() and (run / "checkpoint.pt").exists()
    lines = MetricsLog(run).lines()
    assert [(l["step"], l["split"]) for l in lines] == [(2, "train"), (2, "val"), (4, "train"), (4, "val"), (4, "test")]
    assert all(l["metrics"] for l in lines)
    assert (run / "metrics.csv").read_text().startswith("step,split,metric,value")


def test_stop_at_target_records_steps_to_target(cfg_factory):
    cfg = cfg_factory(*COPY, "trainer.stop_at=0.0", "trainer.max_steps=10")
    s = train(cfg)
    assert s["step"] == 2 and s["stop_reason"] == "target" and s["long_range"]["steps_to_target"] == 2


def test_an_unknown_stop_metric_is_refused_before_training(cfg_factory):
    cfg = cfg_factory(*COPY, "trainer.stop_metric=val/bleu")
    with pytest.raises(ConfigError, match="val/bleu has no declared direction in this task; use one of val/acc"):
        train(cfg)
    assert not (Path(cfg.run_dir) / "metrics.jsonl").exists()


def test_a_run_stopped_at_its_target_stays_stopped_when_resumed(cfg_factory):
    cfg = cfg_factory(*COPY, "trainer.stop_at=0.0", "trainer.max_steps=10")
    first = train(cfg)
    (Path(cfg.run_dir) / "summary.json").unlink()  # e.g. killed between the last checkpoint and the summary
    cfg.trainer.resume = True
    again = train(cfg)
    assert first["step"] == again["step"] == 2 and again["stop_reason"] == "target"
    assert again["metrics"] == first["metrics"]


@pytest.mark.parametrize(
    "metric,script",
    [("val/acc", [0.2, 0.5, 0.9, 0.4, 0.3, 0.6, 0.8, 0.7]), ("val/loss", [0.8, 0.5, 0.1, 0.6, 0.7, 0.4, 0.2, 0.3])],
)
def test_select_best_tests_the_weights_of_the_best_evaluation(cfg_factory, monkeypatch, metric, script):
    # The monitored validation values are scripted (best at the 3rd of 8 evaluations, step 6), so the test does
    # not depend on which evaluation a noisy run happens to make best; weights and test metrics are real.
    key, scripted = metric.removeprefix("val/"), iter(script)
    real_evaluate = CopyLong.evaluate

    def evaluate(self, model, split, batch_size, forward=None):
        out = real_evaluate(self, model, split, batch_size, forward)
        return {**out, key: next(scripted)} if split == "val" else out

    monkeypatch.setattr(CopyLong, "evaluate", evaluate)
    cfg = cfg_factory(
        *COPY,
        "trainer.select=best",
        f"trainer.stop_metric={metric}",
        "trainer.stop_at=null",
        "trainer.max_steps=16",
        "trainer.eval_every=2",
        "trainer.ckpt_every=8",
        "optimizer.lr=0.05",
    )
    s = train(cfg)
    assert s["selection"] == {"weights": "best", "metric": metric, "step": 6}
    vals = {l["step"]: l["metrics"] for l in MetricsLog(Path(cfg.run_dir)).lines() if l["split"] == "val"}
    assert s["metrics"][metric] == script[2] and s["metrics"]["val/acc"] == vals[6]["acc"]
    ck = torch.load(Path(cfg.run_dir) / "checkpoint.pt", weights_only=True)
    assert ck["step"] == 16 and set(ck["best_model"]) == set(ck["model"])
    assert any(not torch.equal(ck["best_model"][k], ck["model"][k]) for k in ck["model"])  # training went on
    rebuilt = Trainer(cfg)  # the test metrics are those of the best weights, not of the last ones
    rebuilt.task.setup(rebuilt.device, 0)  # the task on the model's device
    rebuilt.model.load_state_dict(ck["best_model"])
    again, _, _ = rebuilt.evaluator.evaluate("test")  # the harness's own evaluation (autocast, compiled model)
    assert again["acc"] == s["metrics"]["test/acc"] and again["loss"] == s["metrics"]["test/loss"]


def test_time_budget_stops_the_run(cfg_factory):
    cfg = cfg_factory(*COPY, "trainer.max_time_s=0.001", "trainer.max_steps=1000", "trainer.stop_at=null")
    s = train(cfg)
    assert s["status"] == "completed" and s["stop_reason"] == "time" and s["step"] == 1
    assert "test/acc" in s["metrics"]


def test_divergence_writes_the_record_and_raises(cfg_factory):
    cfg = cfg_factory(
        *COPY,
        "optimizer=sgd",
        "optimizer.lr=1e30",
        "trainer.grad_clip=null",
        "trainer.warmup_steps=0",
        "trainer.max_steps=50",
    )
    with pytest.raises(DivergedError, match="loss is (nan|inf)"):
        train(cfg)
    s = json.loads((Path(cfg.run_dir) / "summary.json").read_text())
    assert s["status"] == "diverged" and "lower optimizer.lr" in s["error"] and s["step"] < 50


@pytest.mark.parametrize("clip,rate", [(1e-9, 1.0), (1e9, 0.0)])
def test_the_record_says_how_often_gradients_were_clipped(cfg_factory, clip, rate):
    s = train(cfg_factory(*COPY, f"trainer.grad_clip={clip}", "trainer.max_steps=12", "trainer.sync_every=6"))
    g = s["grad_norm"]
    assert g["steps"] == 12 and g["clipped_rate"] == rate and g["clip"] == clip
    assert g["max"] >= g["mean"] > 0 and g["nonfinite"] == 0 and 0 <= g["spikes"] <= 12


def test_no_clipping_no_gradient_norms(cfg_factory):
    assert train(cfg_factory(*COPY, "trainer.grad_clip=null"))["grad_norm"] is None


def test_a_spike_is_a_norm_far_above_its_window():
    from harness.run_state import GradNormState

    st = GradNormState()
    st.add(torch.tensor([1.0, 1.1, 0.9, 1.0, 50.0, float("nan")]), clip=2.0)
    g = st.summary(2.0)
    assert (g["steps"], g["spikes"], g["nonfinite"], g["max"]) == (6, 1, 1, 50.0)
    assert g["clipped_rate"] == pytest.approx(1 / 6) and g["mean"] == pytest.approx(54.0 / 5)


@pytest.mark.parametrize(
    "overrides,message",
    [
        (("arch.n_heads=3",), "d_model=16 is not divisible by n_heads=3"),
        (("arch=vit", "arch.patch_size=64"), "patch_size=64 is longer than the sequence"),
        (("task.delay=0",), "task.delay=0 must be at least 1"),
        (("trainer.max_steps=0",), "trainer.max_steps=0 must be a whole number"),
        (("arch.pos_encoding=rotary",), "use one of sinusoidal, learned, none"),
        (("+arch.depth=3",), "valid settings: .*d_model, .*n_heads"),
        (("optimizer.lr=-1",), "Invalid learning rate"),
        (
            ("trainer.device=cuda:64",),
            "trainer.device=cuda:64 does not exist" if torch.cuda.is_available() else "no CUDA device is available",
        ),
        (("trainer.precision=fp16",), "trainer.precision='fp16' is not known; use auto, fp32 or bf16"),
        (("trainer.compile_mode=fast",), "trainer.compile_mode='fast' is not known; use default, reduce-overhead"),
        (("trainer.compile_mode=reduce-overhead",), "compile_mode=reduce-overhead needs trainer.compile=true"),
        (("trainer.warmup_measure=-1",), "trainer.warmup_measure=-1 must be a whole number ≥ 0"),
        (("trainer.sync_every=0",), "trainer.sync_every=0 must be a whole number ≥ 1"),
        (("trainer.peak_tflops=0",), "trainer.peak_tflops=0 must be a number > 0, or null"),
        (
            ("trainer.cuda_memory_fraction=1.5",),
            "trainer.cuda_memory_fraction=1.5 must be a number in \\(0, 1\\], or null",
        ),
        (("arch.d_model=0",), "arch.d_model=0 must be a whole number ≥ 1"),
        (("trainer.min_lr_ratio=-0.5",), "min_lr_ratio=-0.5 must be a number between 0 and 1"),
        (("trainer.stop_metric=acc",), "must name a validation metric"),
        (("seed=abc",), "seed='abc' must be a whole number"),
        (("trainer.select=final",), "trainer.select='final' is not known; use last or best"),
    ],
)
def test_bad_settings_fail_before_training_with_one_clear_message(cfg_factory, overrides, message):
    cfg = cfg_factory(*COPY, *overrides)
    with pytest.raises(ConfigError, match=message):
        train(cfg)
    assert not (Path(cfg.run_dir) / "summary.json").exists()
    assert not (Path(cfg.run_dir) / "metrics.jsonl").exists()


@pytest.mark.parametrize("arch", [a for a in ARCHS if not arch_config(a).cls_token])
def test_cls_pooling_needs_a_cls_token(cfg_factory, arch):
    with pytest.raises(ConfigError, match="pool=cls needs a CLS token \\(arch.cls_token=true\\)"):
        train(cfg_factory("task=image_classification", f"arch={arch}", "arch.pool=cls"))
    assert train(cfg_factory("task=image_classification", "arch=vit", "arch.pool=cls"))["status"] == "completed"


def test_unknown_optimizer_is_refused_by_the_config_registry(cfg_factory):
    with pytest.raises((MissingConfigException, ConfigCompositionException), match="adamw"):
        cfg_factory(*COPY, "optimizer=lbfgs")


def test_a_finished_run_folder_is_not_overwritten(cfg_factory):
    cfg = cfg_factory(*COPY)
    train(cfg)
    before = (Path(cfg.run_dir) / "summary.json").read_bytes()
    with pytest.raises(ConfigError, match="already holds a run; pass trainer.resume=true"):
        train(cfg)
    assert (Path(cfg.run_dir) / "summary.json").read_bytes() == before
    cfg.trainer.resume = True  # a completed run is returned as it is
    assert train(cfg)["wall_s"] == json.loads(before)["wall_s"]


@pytest.mark.parametrize("optimizer", ["adamw", "adam", "sgd", "rmsprop"])
def test_each_optimizer_trains(cfg_factory, optimizer):
    s = train(cfg_factory(*COPY, f"optimizer={optimizer}"))
    assert s["status"] == "completed" and s["config"]["optimizer"]["_target_"].lower().endswith(optimizer)


def test_training_is_deterministic_on_cpu(cfg_factory, tmp_path):
    a = train(cfg_factory(*COPY, "arch.dropout=0.1", "trainer.device=cpu"))
    cfg = cfg_factory(*COPY, "arch.dropout=0.1", "trainer.device=cpu")
    cfg.run_dir = str(tmp_path / "again")
    b = train(cfg)
    assert a["metrics"] == b["metrics"]


def test_wandb_logger_writes_offline_run_in_the_run_folder(cfg_factory, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "offline")
    cfg = cfg_factory(*COPY, "logger=wandb")
    s = train(cfg)
    assert s["status"] == "completed"
    runs = list((Path(cfg.run_dir) / "wandb").glob("offline-run-*"))
    assert len(runs) == 1 and any(runs[0].glob("*.wandb"))


def test_weight_decay_only_on_matrices_and_recorded(cfg_factory):
    from harness.optim import param_groups

    cfg = cfg_factory("arch=vit", *COPY)
    s = train(cfg)
    assert s["optimizer"]["weight_decay"] == cfg.optimizer.weight_decay > 0
    assert s["optimizer"]["decayed_params"] + s["optimizer"]["not_decayed_params"] == s["params"]
    trainer = Trainer(cfg_factory("arch=vit", *COPY))
    groups, _ = param_groups(trainer.model, 0.1)
    decayed = {id(p) for p in groups[0]["params"]}
    names = {n for n, p in trainer.model.named_parameters() if id(p) in decayed}
    assert all(p.dim() >= 2 for p in groups[0]["params"]) and groups[1]["weight_decay"] == 0.0
    assert "adapter.embed.emb.weight" not in names and "adapter.pos.pe" not in names and "adapter.cls" not in names
    assert "backbone.layers.0.attn.fn.qkv.weight" in names and "backbone.layers.0.attn.norm.weight" not in names
    assert not any(n.endswith(".bias") for n in names)
    assert trainer.optimizer.param_groups[0]["weight_decay"] == cfg.optimizer.weight_decay


def test_a_lower_is_better_metric_stops_when_it_falls_to_the_target(cfg_factory):
    s = train(cfg_factory(*COPY, "trainer.stop_metric=val/loss", "trainer.stop_at=100.0"))
    assert s["stop_reason"] == "target" and s["step"] == 2  # the first evaluation: loss ≤ 100
    assert s["task_info"]["directions"]["loss"] == "min" and s["task_info"]["directions"]["acc"] == "max"


def test_deterministic_mode_is_on_without_importing_the_compiler(cfg_factory):
    """trainer.deterministic sets PyTorch's flag (warn-only) itself; the public wrapper would import
    torch._inductor at every start just to set a flag that matters only for compiled models."""
    torch.use_deterministic_algorithms(False)
    Trainer(cfg_factory("trainer.deterministic=true", "trainer.compile=false"))
    assert torch.are_deterministic_algorithms_enabled() and torch.is_deterministic_algorithms_warn_only_enabled()
