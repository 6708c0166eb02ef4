"""Learnability (slow): the transformer and the LSTM solve the copy task at a small delay."""

import pytest

from harness.train import train


@pytest.mark.slow
@pytest.mark.parametrize(
    "arch,overrides",
    [
        ("transformer", ["arch.d_model=32", "arch.n_heads=2", "arch.d_ff=64"]),
        ("lstm", ["arch.hidden=128"]),
    ],
)
def test_copy_is_solved_at_a_small_delay(cfg_factory, arch, overrides):
    cfg = cfg_factory(
        f"arch={arch}",
        "task=copy_long",
        "task.delay=10",
        "task.n_memorize=5",
        "task.n_val=256",
        "task.n_test=256",
        "trainer.max_steps=3000",
        "trainer.eval_every=100",
        "trainer.batch_size=32",
        "trainer.eval_batch_size=256",
        "trainer.warmup_steps=50",
        "trainer.stop_at=0.99",
        "trainer.ckpt_every=1000",
        *overrides,
        tiny=False,
    )
    cfg.trainer.progress = False
    s = train(cfg)
    assert s["metrics"]["test/acc"] >= 0.95, s["metrics"]
    assert s["long_range"]["steps_to_target"] is not None
