"""GPU-only behaviour: these tests carry the ``cuda`` marker, run wherever a CUDA device is and are skipped
elsewhere (tests/conftest.py). Resume on CUDA is in test_resume.py (parametrised by device)."""

import warnings

import pytest
import torch

from harness import precision, speed
from harness.train import Trainer, train

pytestmark = pytest.mark.cuda

CUDA = ("trainer.stop_at=null", "trainer.probes=false", "trainer.device=cuda")
COPY = ("task=copy_long", "task.delay=6", "task.n_memorize=3", *CUDA)


def test_bf16_autocast_runs_the_model_in_bf16(cfg_factory, monkeypatch):
    dtypes, real_forward = [], Trainer.forward

    def forward(self, batch):
        logits = real_forward(self, batch)
        dtypes.append(logits.dtype)
        return logits

    monkeypatch.setattr(Trainer, "forward", forward)
    s = train(cfg_factory(*COPY, "trainer.precision=bf16"))
    assert set(dtypes) == {torch.bfloat16} and s["speed"]["precision"] == "bf16"
    assert s["status"] == "completed" and 0 < s["metrics"]["test/loss"] < 10


def test_auto_precision_on_cuda_follows_the_rule(cfg_factory):
    small = Trainer(cfg_factory(*COPY))
    assert small.params < precision.BF16_MIN_PARAMS and small.precision == "fp32"
    large = Trainer(cfg_factory(*COPY, "arch.d_model=256", "arch.n_heads=4", "arch.d_ff=1024", "arch.n_layers=2"))
    assert large.params >= precision.BF16_MIN_PARAMS
    assert large.precision == ("bf16" if torch.cuda.is_bf16_supported() else "fp32")


@pytest.mark.parametrize("mode", ["default", "reduce-overhead"])
def test_compiled_training_reports_compile_time_apart(cfg_factory, mode):
    s = train(
        cfg_factory(
            *COPY,
            "trainer.compile=true",
            f"trainer.compile_mode={mode}",
            "trainer.max_steps=20",
            "trainer.eval_every=10",
            "trainer.warmup_measure=3",
        )
    )
    sp = s["speed"]
    assert s["status"] == "completed" and sp["compiled"] and sp["compile_mode"] == mode
    assert sp["compile_s"] > 0 and sp["measured_steps"] == 16 and sp["steady"]
    assert sp["compile_s"] > sp["step_ms"] / 1000  # compiling costs more than a steady step
    assert all(torch.isfinite(torch.tensor(s["metrics"][k])) for k in ("val/loss", "test/loss"))


def test_cuda_record_has_the_allocator_peak_flops_and_mfu(cfg_factory, tmp_path):
    s = train(cfg_factory(*COPY))
    sp, name = s["speed"], s["env"]["device_name"]
    assert sp["peak_mem_kind"] == "cuda_max_allocated" and sp["peak_mem_mb"] > 0
    assert sp["flops_per_step"] > 0 and sp["model_tflops"] > 0
    assert ("mfu" in sp) == (speed.peak_tflops(name, sp["precision"])[0] is not None)
    cfg = cfg_factory(*COPY, "trainer.peak_tflops=1000")
    cfg.run_dir = str(tmp_path / "given_peak")
    given = train(cfg)["speed"]
    assert 0 < given["mfu"] < 1 and given["peak_source"] == "trainer.peak_tflops"


def host_syncs(fn, times: int = 5) -> int:
    """How many synchronising CUDA calls ``times`` calls of ``fn`` make (torch's sync debug mode, as warnings)."""
    torch.cuda.synchronize()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        torch.cuda.set_sync_debug_mode("warn")
        try:
            for _ in range(times):
                fn()
        finally:
            torch.cuda.set_sync_debug_mode(0)
    return sum("synchroniz" in str(w.message) for w in caught)


@pytest.mark.parametrize(
    "task",
    [
        ("task=copy_long", "task.delay=100"),  # generated on the device
        ("task=image_classification", "arch=cnn", "task.augment=true"),
    ],
)
def test_a_training_step_adds_no_host_sync_to_the_models_own(cfg_factory, task):
    trainer = Trainer(cfg_factory(*CUDA, *task, "trainer.batch_size=64"))
    trainer.task.setup(trainer.device, 0)
    clock, losses = speed.StepClock(trainer.device), []

    def harness_step():
        clock.start()
        batch = trainer.task.train_batch(64)
        losses.append(trainer.train_step(batch))
        clock.stop(batch.n_samples, batch.n_tokens)

    def bare_step():  # what any loop must do: forward, loss, backward, optimizer step
        batch = trainer.task.train_batch(64)
        loss = trainer.task.loss(trainer.model(*batch.inputs), batch)
        trainer.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        trainer.optimizer.step()

    for _ in range(3):  # first calls create handles and optimizer state
        harness_step()
        bare_step()
    assert host_syncs(lambda: losses[-1].item()) == 5  # the detector sees a sync per .item()
    model_own = host_syncs(bare_step)  # e.g. a sorting embedding backward may sync inside PyTorch
    assert host_syncs(harness_step) <= model_own
    clock.read()  # the steps so far
    for _ in range(5):
        harness_step()
    torch.cuda.synchronize()
    times = clock.read()
    assert torch.isfinite(torch.stack(losses)).all()
    assert len(times) == 5 and all(s > 0 and n == 64 for s, n, _ in times)


def test_memory_fraction_caps_this_process(cfg_factory):
    trainer = Trainer(cfg_factory(*COPY, "trainer.cuda_memory_fraction=0.5"))
    try:
        assert torch.cuda.get_per_process_memory_fraction(trainer.device) == pytest.approx(0.5)
    finally:
        torch.cuda.set_per_process_memory_fraction(1.0, trainer.device)


def test_a_deterministic_cuda_run_makes_cublas_repeatable_without_warnings(cfg_factory, monkeypatch):
    monkeypatch.delenv("CUBLAS_WORKSPACE_CONFIG", raising=False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        s = train(cfg_factory(*COPY))
    assert s["status"] == "completed" and s["config"]["trainer"]["deterministic"]
    assert not [w for w in caught if "CUBLAS_WORKSPACE_CONFIG" in str(w.message)]
