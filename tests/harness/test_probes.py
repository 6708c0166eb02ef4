"""Long-range probes: gradient norm by distance, attention maps, layer similarity; kept across a resume."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from harness import probes
from harness.train import build, train
from tests.conftest import ARCHS


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
    cfg = cfg_factory(
        "arch=transformer",
        "task=copy_long",
        "task.delay=4",
        "task.n_memorize=2",
        "trainer.probes=false",
        "trainer.max_steps=2",
    )
    summary = train(cfg)
    assert "grad_norm_by_distance" not in summary["long_range"] and "probes" not in summary["long_range"]
    assert not (Path(cfg.run_dir) / "attention.npz").exists() and not (Path(cfg.run_dir) / "hidden.npz").exists()
    written = json.loads((Path(cfg.run_dir) / "summary.json").read_text())
    assert written["long_range"]["distance"] == 4 + 2 and written["task_info"]["delay"] == 4  # each stated once
    assert "delay" not in written["long_range"]


def test_linear_cka():
    x = torch.randn(20, 5)
    assert probes.linear_cka(x, x) == pytest.approx(1.0)
    assert probes.linear_cka(x, 3 * x @ torch.linalg.qr(torch.randn(5, 5))[0]) == pytest.approx(1.0)  # invariances
    assert probes.linear_cka(x, torch.randn(20, 7)) < 0.9
    assert probes.linear_cka(x, x[:, :1] * 0) != probes.linear_cka(x, x[:, :1] * 0)  # no variance: NaN, not a number


@pytest.mark.parametrize("arch", ["transformer", "rnn"])
def test_attention_maps_at_initialisation(cfg_factory, arch):
    """A model with attention writes its untrained maps beside the trained ones (the head-diversity baseline)."""
    cfg = cfg_factory(f"arch={arch}", "task=copy_long", "task.delay=4", "task.n_memorize=2", "trainer.max_steps=4")
    lr = train(cfg)["long_range"]
    run_dir = Path(cfg.run_dir)
    if arch == "rnn":
        assert not (run_dir / "attention_init.npz").exists() and not (run_dir / "attention.npz").exists()
        assert "attention_init" not in lr and "attention_maps_init" not in lr["probes"]
        return
    assert lr["attention_init"]["file"] == "attention_init.npz" and "attention_maps_init" in lr["probes"]
    assert lr["attention_init"]["names"] == lr["attention"]["names"]
    with np.load(run_dir / "attention_init.npz") as z0, np.load(run_dir / "attention.npz") as z1:
        assert list(z0["names"]) == list(z1["names"]) and (z0["tokens"] == z1["tokens"]).all()
        for i in range(lr["attention"]["layers"]):
            init, end = z0[f"layer{i}"].astype(np.float32), z1[f"layer{i}"].astype(np.float32)
            assert init.shape == end.shape and np.allclose(init.sum(-1), 1, atol=1e-2)
            assert np.abs(init - end).max() > 1e-3  # measured before step 1 and after training
    with np.load(run_dir / "hidden.npz") as z:  # per-position outputs: no pooled states
        assert "pooled_labels" not in z.files


def test_resume_keeps_the_initial_attention_maps(cfg_factory):
    cfg = cfg_factory("arch=transformer", "task=copy_long", "task.delay=4", "task.n_memorize=2", "trainer.max_steps=2")
    first = train(cfg)
    init_file = Path(cfg.run_dir) / "attention_init.npz"
    written = init_file.read_bytes()
    (Path(cfg.run_dir) / "summary.json").unlink()  # as if cut after its last checkpoint
    cfg.trainer.resume, cfg.trainer.max_steps = True, 4
    second = train(cfg)
    assert second["step"] == 4 and init_file.read_bytes() == written
    assert second["long_range"]["attention_init"] == first["long_range"]["attention_init"]
    assert second["long_range"]["attention"] != first["long_range"]["attention"]


def test_pooled_states_of_more_validation_sequences(cfg_factory, tmp_path):
    """Class outputs: each layer's states mean-pooled over the real tokens of every validation sequence (here 80,
    more than the 32 of the probe batch), beside the probe batch's own states."""
    from tests.tasks.text_fixtures import sentiment_frame, write_folder

    val = sentiment_frame(5)
    folder = write_folder(tmp_path / "sent", {"train": sentiment_frame(2), "validation": val, "test": val})
    cfg = cfg_factory(
        "arch=transformer",
        "task=sentiment",
        f"task.data.path={folder}",
        f"task.cache_dir={tmp_path / 'cache'}",
        "task.max_len=8",
        "trainer.stop_at=null",
    )
    summary = train(cfg)
    width, layers = cfg.arch.d_model, summary["arch_info"]["layers"]
    assert summary["long_range"]["hidden"]["pooled_examples"] == len(val)
    # the same pooled states of the model at initialisation (C7's untrained control), other values
    assert summary["long_range"]["hidden_init"] == {"file": "hidden_init.npz", "pooled_examples": len(val)}
    with np.load(Path(cfg.run_dir) / "hidden_init.npz") as z0, np.load(Path(cfg.run_dir) / "hidden.npz") as z:
        assert (z0["pooled_labels"] == z["pooled_labels"]).all()
        assert z0[f"pooled{layers}"].shape == z[f"pooled{layers}"].shape
        assert not np.allclose(z0[f"pooled{layers}"], z[f"pooled{layers}"])
    with np.load(Path(cfg.run_dir) / "hidden.npz") as z:
        pooled = [z[f"pooled{i}"] for i in range(layers + 1)]
        assert f"pooled{layers + 1}" not in z.files
        assert all(p.dtype == np.float32 and p.shape == (len(val), width) for p in pooled)
        assert (z["pooled_labels"] == val["label"].to_numpy()).all()
        n = len(z["labels"])  # the probe batch: the first validation sequences, pooled here by hand
        for i in (0, layers):
            keep = ~z["pad"][..., None]
            by_hand = (z[f"layer{i}"].astype(np.float32) * keep).sum(1) / keep.sum(1)
            assert np.allclose(pooled[i][:n], by_hand, atol=2e-2)


def test_pooled_states_stop_at_the_limit(cfg_factory):
    cfg = cfg_factory("arch=transformer", "task=copy_long", "task.delay=4", "task.n_memorize=2")
    task = build(cfg.task, "task")
    task.setup(torch.device("cpu"), 0)
    model = build(cfg.arch, "arch", spec=task.spec)
    out = probes.pooled_states(model, task, limit=11, batch_size=4)  # across three batches, the last one cut
    assert out["pooled_labels"].shape[0] == 11 and out["pooled0"].shape == (11, cfg.arch.d_model)


def test_the_early_gradient_curve_is_taken_once_at_its_step_and_kept_across_a_resume(cfg_factory):
    """C3 reads ‖∂ℓ/∂e_t‖ at initialisation and early in training (``callbacks.early_gradient``), not only at the
    end."""
    cfg = cfg_factory(
        "arch=lstm",
        "task=copy_long",
        "task.delay=4",
        "task.n_memorize=2",
        "trainer.max_steps=3",
        "+callbacks.early_gradient._target_=harness.probe_callbacks.EarlyGradient",
        "+callbacks.early_gradient.step=2",
        "optimizer.lr=0.05",
    )
    first = train(cfg)
    curve = first["long_range"]["grad_norm_by_distance"]
    assert curve["early_step"] == 2 and len(curve["early"]) == len(curve["init"])
    assert curve["early"] != curve["init"] and curve["early"] != curve["end"]  # three different models
    (Path(cfg.run_dir) / "summary.json").unlink()
    cfg.trainer.resume, cfg.trainer.max_steps = True, 5
    again = train(cfg)["long_range"]["grad_norm_by_distance"]
    assert again["early"] == curve["early"] and again["early_step"] == 2
    off = cfg_factory("arch=lstm", "task=copy_long", "task.delay=4", "task.n_memorize=2", "trainer.max_steps=2")
    off.run_dir = str(Path(cfg.run_dir).parent / "off")
    assert "early" not in train(off)["long_range"]["grad_norm_by_distance"]


def test_the_head_gate_zeroes_exactly_one_head():
    from architectures.layers import MultiHeadAttention

    torch.manual_seed(0)
    mha, x = MultiHeadAttention(8, 2).eval(), torch.randn(3, 5, 8)
    intact = mha(x)
    mha.head_gate = torch.ones(2)
    torch.testing.assert_close(mha(x), intact)
    mha.head_gate = torch.zeros(2)
    torch.testing.assert_close(mha(x), mha.proj.bias.expand(3, 5, 8))  # no head left: the projection's bias
    mha.head_gate = torch.tensor([0.0, 1.0])
    one = mha(x)
    assert not torch.allclose(one, intact) and not torch.allclose(one, mha.proj.bias.expand(3, 5, 8))


def test_head_ablation_records_the_drop_per_layer_and_head(cfg_factory):
    cfg = cfg_factory(
        "arch=transformer",
        "task=copy_long",
        "task.delay=4",
        "task.n_memorize=2",
        "task.n_test=16",
        "arch.n_heads=2",
        "trainer.max_steps=2",
        "+callbacks.head_ablation._target_=harness.probe_callbacks.HeadAblation",
    )
    ab = train(cfg)["long_range"]["head_ablation"]
    layers = len(ab["names"])
    assert layers >= 1 and [len(d) for d in ab["drop"]] == [2] * layers and ab["n_sequences"] == 16
    assert all(math.isfinite(v) for d in ab["drop"] for v in d) and 0 <= ab["full"] <= 1
    assert all(len(p) == 2 for row in ab["acc_by_position"] for p in row)  # per answer position


def test_source_masking_blanks_the_attended_source_and_a_control_over_the_test_set(cfg_factory, tmp_path):
    """C9 faithfulness: the intact answers score the run's test accuracy; masked and control beside it."""
    cfg = cfg_factory(
        "arch=transformer",
        "task=copy_long",
        "task.delay=4",
        "task.n_memorize=2",
        "task.n_test=16",
        "arch.n_heads=2",
        "trainer.max_steps=2",
        "+callbacks.source_masking._target_=harness.probe_callbacks.SourceMasking",
    )
    summary = train(cfg)
    sm = summary["long_range"]["source_masking"]
    assert sm["n_sequences"] == 16 and sm["metric"] == "test/answer_acc"
    assert sm["intact"] == pytest.approx(summary["metrics"]["test/acc"])  # the same answers, scored the same way
    assert sm["drop"] == pytest.approx(sm["intact"] - sm["masked"])
    assert sm["control_drop"] == pytest.approx(sm["intact"] - sm["control"])
    assert all(0 <= sm[k] <= 1 for k in ("intact", "masked", "control", "argmax_on_source"))
    assert sm["head"][0] in summary["long_range"]["attention"]["names"] and sm["head"][1] in (0, 1)
    lstm = cfg_factory(
        "arch=lstm",
        "task=copy_long",
        "task.delay=4",
        "task.n_memorize=2",
        "task.n_test=16",
        "trainer.max_steps=2",
        "+callbacks.source_masking._target_=harness.probe_callbacks.SourceMasking",
    )
    lstm.run_dir = str(tmp_path / "lstm")
    assert "source_masking" not in train(lstm)["long_range"]
