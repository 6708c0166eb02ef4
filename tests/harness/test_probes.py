"""Long-range probes: gradient norm by distance, attention maps, layer similarity; kept across a resume."""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from tests.conftest import ARCHS

from harness import probes
from harness.train import build, train


@pytest.mark.parametrize("arch", ARCHS)
def test_probes_give_finite_gradient_norms_per_distance(cfg_factory, arch):
    cfg = cfg_factory(f"arch={arch}", "task=copy_long", "task.delay=6", "task.n_memorize=3", "trainer.max_steps=2")
    summary = train(cfg)
    lr, seq_len = summary["long_range"], summary["task_info"]["seq_len"]
    curve = lr["grad_norm_by_distance"]
    assert curve["distance"] == list(range(seq_len))
    for when in ("init", "end"):
        assert len(curve[when]) == seq_len
        assert all(isinstance(v, float) and math.isfinite(v) and v >= 0 for v in curve[when])
    assert curve["init"] != curve["end"]  # measured before step 1 and after training
    run_dir = Path(cfg.run_dir)
    info = summary["arch_info"]
    assert {"grad_norm_by_distance", "hidden_states", "cka"} <= set(lr["probes"])
    with np.load(run_dir / "hidden.npz") as z:  # the input adapter's output, then one state per backbone layer
        names = list(z["names"])
        assert names == ["input"] + [f"layers.{i}" for i in range(info["layers"])] == lr["hidden"]["layers"]
        assert z["tokens"].shape == z["pad"].shape == z["token_text"].shape and z["tokens"].shape[0] <= 32
        assert z["layer0"].dtype == np.float16 and z["layer0"].shape[0] == z["tokens"].shape[0]
        assert ("pe" in z) == (cfg.arch.pos_encoding != "none")
    assert len(lr["cka"]) == info["layers"] and all(0 <= v <= 1 + 1e-6 for v in lr["cka"])
    if info["attention"]:
        assert "attention_maps" in lr["probes"]
        with np.load(run_dir / "attention.npz") as z:
            maps = [z[f"layer{i}"] for i in range(lr["attention"]["layers"])]
            assert list(z["names"]) == lr["attention"]["names"] and z["token_text"].shape == z["tokens"].shape
        assert len(maps) == 2 and maps[0].shape[0] == 2  # TINY_ARCH: 2 layers, 2 heads
        assert np.allclose(maps[0].astype(np.float32).sum(-1), 1, atol=1e-2)  # rows are distributions
    else:
        assert "attention_maps" not in lr["probes"] and "no attention" in lr["attention_note"]
        assert not (run_dir / "attention.npz").exists()


def test_gradient_reaches_the_symbol_only_through_memory(cfg_factory):
    """On an untrained RNN the gradient at the copied symbol's distance is far below the nearest one."""
    cfg = cfg_factory("arch=rnn", "task=copy_long", "task.delay=30", "task.n_memorize=2")
    task = build(cfg.task, "task")
    task.setup(torch.device("cpu"), 0)
    torch.manual_seed(0)
    model = build(cfg.arch, "arch", spec=task.spec)
    values = probes.at_start(model, task)["values"]
    assert values[30 + 2] < 1e-3 * values[0]


def test_resume_keeps_the_initial_curve(cfg_factory):
    cfg = cfg_factory("arch=lstm", "task=copy_long", "task.delay=4", "task.n_memorize=2", "trainer.max_steps=2")
    first = train(cfg)
    (Path(cfg.run_dir) / "summary.json").unlink()  # as if cut after its last checkpoint
    cfg.trainer.resume, cfg.trainer.max_steps = True, 4
    second = train(cfg)
    assert second["step"] == 4
    a, b = first["long_range"]["grad_norm_by_distance"], second["long_range"]["grad_norm_by_distance"]
    assert a["init"] == b["init"] and a["end"] != b["end"]


def test_probes_off(cfg_factory):
    cfg = cfg_factory("arch=transformer", "task=copy_long", "task.delay=4", "task.n_memorize=2",
                      "trainer.probes=false", "trainer.max_steps=2")
    summary = train(cfg)
    assert "grad_norm_by_distance" not in summary["long_range"] and "probes" not in summary["long_range"]
    assert not (Path(cfg.run_dir) / "attention.npz").exists() and not (Path(cfg.run_dir) / "hidden.npz").exists()
    assert json.loads((Path(cfg.run_dir) / "summary.json").read_text())["long_range"]["delay"] == 4


def test_linear_cka():
    x = torch.randn(20, 5)
    assert probes.linear_cka(x, x) == pytest.approx(1.0)
    assert probes.linear_cka(x, 3 * x @ torch.linalg.qr(torch.randn(5, 5))[0]) == pytest.approx(1.0)  # invariances
    assert probes.linear_cka(x, torch.randn(20, 7)) < 0.9
