"""Speed figures: warm-up and compilation left out of the throughput, p50/p90, FLOPs and MFU, the loss checked
every few steps with the exact diverged step named, and the precision rule."""

import json
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn as nn

from core.errors import DivergedError
from harness import precision, speed
from harness.run_state import SpeedState
from harness.train import Trainer, train

COPY = ("task=copy_long", "task.delay=6", "task.n_memorize=3", "trainer.stop_at=null", "trainer.probes=false")


def test_warmup_steps_are_left_out_of_the_throughput(cfg_factory, monkeypatch):
    # a slow first step (as CUDA start-up or autotuning make it), then steps of ~20 ms: 40 steps, 10 excluded
    real_step = Trainer.train_step

    def train_step(self, batch):
        time.sleep(1.0 if self.step == 0 else 0.02)
        return real_step(self, batch)

    monkeypatch.setattr(Trainer, "train_step", train_step)
    cfg = cfg_factory(
        *COPY, "trainer.max_steps=40", "trainer.eval_every=40", "trainer.ckpt_every=40", "trainer.warmup_measure=10"
    )
    sp = train(cfg)["speed"]
    assert sp["warmup_s"] >= 1.0 and sp["measured_steps"] == 30 and sp["steady"] is True
    assert sp["compile_s"] is None  # not compiled
    from_median = 8 / (sp["step_ms"] / 1000)  # batch / median step
    assert sp["train_samples_per_s"] == pytest.approx(from_median, rel=0.10)
    assert sp["train_tokens_per_s"] == pytest.approx(sp["train_samples_per_s"] * 12)  # 12 tokens a sample
    assert sp["step_ms"] <= sp["step_ms_p90"]
    naive = 40 * 8 / sp["train_time_s"]  # every step counted, as before: the slow start drags it far down
    assert naive < 0.9 * from_median
    line = [
        l
        for l in map(json.loads, (Path(cfg.run_dir) / "metrics.jsonl").read_text().splitlines())
        if l["split"] == "train"
    ][-1]
    assert line["throughput"]["train_samples_per_s"] == pytest.approx(sp["train_samples_per_s"])


def test_meter_counts_compilation_and_warmup_apart():
    state = SpeedState()
    meter = speed.SpeedMeter(state, warmup=2, compiled=True)
    for seconds in [30.0, 1.0, 0.5] + [0.1] * 9 + [0.3]:
        meter.add(seconds, 4, 40)
    sp = meter.summary()
    assert sp["compile_s"] == 30.0 and sp["warmup_s"] == 1.5 and sp["measured_steps"] == 10
    assert sp["step_ms"] == pytest.approx(100.0) and sp["step_ms_p90"] == pytest.approx(
        1000 * np.percentile([0.1] * 9 + [0.3], 90)
    )
    assert sp["train_samples_per_s"] == pytest.approx(40 / 1.2) and sp["train_tokens_per_s"] == pytest.approx(400 / 1.2)
    assert sp["train_time_s"] == pytest.approx(32.7)
    resumed = speed.SpeedMeter(state, warmup=2, compiled=True)  # a new process warms up (and compiles) again
    for seconds in [20.0, 2.0, 2.0, 0.1]:
        resumed.add(seconds, 4, 40)
    sp = resumed.summary()
    assert sp["compile_s"] == 50.0 and sp["warmup_s"] == 5.5 and sp["measured_steps"] == 11


def test_a_run_shorter_than_its_warmup_is_measured_over_its_second_half():
    meter = speed.SpeedMeter(SpeedState(), warmup=10, compiled=False)
    for seconds in (5.0, 1.0, 0.2, 0.2):
        meter.add(seconds, 2, 20)
    sp = meter.summary()
    assert sp["steady"] is False and sp["measured_steps"] == 2 and sp["train_samples_per_s"] == pytest.approx(10)


def test_percentile_matches_numpy():
    xs = [3.0, 1.0, 7.0, 2.0, 9.0, 4.0]
    for q in (0, 50, 90, 100):
        assert speed.percentile(xs, q) == pytest.approx(np.percentile(xs, q))


def test_flops_of_a_step_are_counted_and_the_model_left_as_it_was():
    torch.manual_seed(0)
    B, I, H, O = 5, 8, 16, 4
    model = nn.Sequential(nn.Linear(I, H), nn.BatchNorm1d(H), nn.Dropout(0.5), nn.Linear(H, O))
    x = torch.randn(B, I)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    rng = torch.get_rng_state()
    flops = speed.count_flops(model, lambda m: m(x).sum(), torch.device("cpu"))
    # layer 1: forward + weight gradient (the input needs none); layer 2: forward, input and weight gradients
    assert flops == 2 * (2 * B * I * H) + 3 * (2 * B * H * O)
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in before.items())  # BatchNorm statistics too
    assert all(p.grad is None for p in model.parameters()) and torch.equal(torch.get_rng_state(), rng)


def test_attention_flops_are_counted_on_the_cpu():
    B, h, L, d = 2, 4, 16, 8
    q = torch.randn(B, h, L, d)
    with torch.no_grad(), torch.utils.flop_counter.FlopCounterMode(display=False, custom_mapping=speed.FORMULAS) as fc:
        torch.nn.functional.scaled_dot_product_attention(q, q, q)
    assert fc.get_total_flops() == 2 * (2 * B * h * L * L * d)  # QKᵀ and weights·V


@pytest.mark.parametrize("kind,gates", [(nn.LSTM, 4), (nn.GRU, 3), (nn.RNN, 1)])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_recurrent_flops_are_counted_whichever_kernel_runs(kind, gates, bidirectional):
    B, T, I, H, layers = 3, 7, 5, 6, 2
    rnn = kind(I, H, num_layers=layers, bidirectional=bidirectional, batch_first=True)
    x = torch.randn(B, T, I, requires_grad=True)
    flops = speed.count_flops(rnn, lambda m: m(x)[0].sum(), torch.device("cpu"))
    d = 2 if bidirectional else 1
    weights = d * gates * H * (I + H) + (layers - 1) * d * gates * H * (d * H + H)  # w_ih and w_hh of each layer
    # forward, then input and weight gradients; kernels run op by op (the CPU's GRU and RNN) skip the gradient
    # into the initial state, a step's worth of one matrix
    assert flops == pytest.approx(3 * 2 * B * T * weights, rel=0.03)


def test_the_cudnn_formula_counts_every_layer_and_direction():
    T, B, I, H = 7, 3, 5, 6  # a 2-layer bidirectional LSTM: cuDNN gets w_ih, w_hh, b_ih, b_hh per layer and direction
    weights = [(4 * H, I), (4 * H, H), (4 * H,), (4 * H,)] * 2 + [(4 * H, 2 * H), (4 * H, H), (4 * H,), (4 * H,)] * 2
    forward = speed.FORMULAS[torch.ops.aten._cudnn_rnn]((T, B, I), weights)
    assert forward == 2 * T * B * (2 * 4 * H * (I + H) + 2 * 4 * H * (2 * H + H))
    assert speed.FORMULAS[torch.ops.aten._cudnn_rnn_backward]((T, B, I), weights) == 2 * forward


@pytest.mark.parametrize(
    "name,prec,expected",
    [
        ("NVIDIA H100 80GB HBM3", "bf16", 989.4),
        ("NVIDIA H100 PCIe", "bf16", 756.5),
        ("NVIDIA H200", "fp32", 66.9),
        ("NVIDIA A100-SXM4-80GB", "bf16", 312.0),
        ("NVIDIA A10", "bf16", 125.0),
        ("NVIDIA L4", "fp32", 30.3),
        ("NVIDIA L40S", "bf16", 362.1),
        ("Some Future GPU", "bf16", None),
        (None, "fp32", None),
    ],
)
def test_peak_is_looked_up_by_device_name_and_precision(name, prec, expected):
    assert speed.peak_tflops(name, prec)[0] == expected
    assert speed.peak_tflops(name, prec, override=123.0) == (123.0, "trainer.peak_tflops")


def test_the_record_has_flops_and_mfu_against_the_given_peak(cfg_factory):
    s = train(cfg_factory(*COPY, "trainer.max_steps=6", "trainer.warmup_measure=2", "trainer.peak_tflops=0.5"))
    sp = s["speed"]
    assert sp["flops_per_step"] > 0 and sp["peak_tflops"] == 0.5 and sp["peak_source"] == "trainer.peak_tflops"
    achieved = sp["flops_per_step"] / (sp["step_ms"] / 1000)
    assert sp["model_tflops"] == pytest.approx(achieved / 1e12) and sp["mfu"] == pytest.approx(achieved / 0.5e12)


def test_without_a_known_peak_the_cpu_record_has_flops_but_no_mfu(cfg_factory):
    sp = train(cfg_factory(*COPY, "trainer.device=cpu"))["speed"]
    assert sp["flops_per_step"] > 0 and "mfu" not in sp


@pytest.mark.parametrize("sync_every", [5, 1])
def test_the_first_step_with_a_nan_loss_is_named_though_checked_every_k_steps(cfg_factory, monkeypatch, sync_every):
    real_step = Trainer.train_step

    def train_step(self, batch):
        if self.step + 1 == 7:  # the weights turn NaN before step 7: its loss (and every later one) is NaN
            with torch.no_grad():
                next(self.model.parameters()).fill_(float("nan"))
        return real_step(self, batch)

    monkeypatch.setattr(Trainer, "train_step", train_step)
    cfg = cfg_factory(
        *COPY,
        f"trainer.sync_every={sync_every}",
        "trainer.max_steps=50",
        "trainer.eval_every=50",
        "trainer.ckpt_every=50",
    )
    with pytest.raises(DivergedError, match="loss is nan at step 7 "):
        train(cfg)
    s = json.loads((Path(cfg.run_dir) / "summary.json").read_text())
    assert s["status"] == "diverged" and "at step 7 " in s["error"]
    assert s["step"] == (10 if sync_every == 5 else 7)  # found at the check after step 7


@pytest.mark.parametrize(
    "kind,params,bf16_ok,expected",
    [
        ("cpu", 10**8, True, "fp32"),
        ("cuda", 68_000, True, "fp32"),
        ("cuda", 19_000_000, True, "bf16"),
        ("cuda", 19_000_000, False, "fp32"),
    ],
)
def test_auto_precision_follows_the_stated_rule(kind, params, bf16_ok, expected):
    chosen, why = precision.choose("auto", torch.device(kind), params, bf16_supported=bf16_ok)
    assert chosen == expected and why.startswith("auto:")
    assert precision.choose("bf16", torch.device(kind), params, bf16_ok) == ("bf16", "set by trainer.precision")


def test_the_record_says_which_precision_and_why(cfg_factory, device):
    sp = train(cfg_factory(*COPY))["speed"]
    expected = precision.choose("auto", device, 10**4)  # the tiny model is far below the rule's threshold
    assert (sp["precision"], sp["precision_rule"].split(" (")[0]) == (expected[0], expected[1].split(" (")[0])
