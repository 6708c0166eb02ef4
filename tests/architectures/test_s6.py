"""The selective state space model (architectures/s6.py): the chunked scan against the sequential reference,
numerical safety at long lengths, causality, selectivity (Δ, B, C depend on the input), padding, decoding steps,
Mamba's initialisation, and (slow) selective copying."""

from __future__ import annotations

import pytest
import torch

from architectures.s6 import S6, SelectiveSSM, selective_scan, selective_scan_reference
from core.errors import ConfigError
from tasks.base import TaskSpec
from tests.conftest import arch_config, build_arch

torch.set_num_threads(1)

SETTINGS = {k: v for k, v in arch_config("s6").items() if k in S6.__init__.__annotations__}


def backbone(**kw) -> S6:
    torch.manual_seed(0)
    return S6(40, **{**SETTINGS, "d_model": 16, "scan": "chunked", "chunk": 4, **kw}).eval()


def scan_inputs(B=3, L=37, D=5, N=4, dt_scale=1.0, dtype=torch.float64, seed=0):
    g = torch.Generator().manual_seed(seed)
    u = torch.randn(B, L, D, generator=g, dtype=dtype)
    dt = torch.rand(B, L, D, generator=g, dtype=dtype) * dt_scale
    A = -torch.rand(D, N, generator=g, dtype=dtype) * N - 0.5
    Bm, Cm = torch.randn(B, L, N, generator=g, dtype=dtype), torch.randn(B, L, N, generator=g, dtype=dtype)
    return u, dt, A, Bm, Cm


# --------------------------------------------------------------------------------------------- the scans
def test_reference_scan_is_the_recurrence_written_out():
    u, dt, A, B, C = scan_inputs(B=1, L=3, D=1, N=2)
    h, ys = torch.zeros(2, dtype=torch.float64), []
    for t in range(3):  # h_t = exp(Δ_t A) h_{t−1} + Δ_t B_t u_t, y_t = C_t · h_t
        h = torch.exp(dt[0, t, 0] * A[0]) * h + dt[0, t, 0] * B[0, t] * u[0, t, 0]
        ys.append((C[0, t] * h).sum())
    torch.testing.assert_close(selective_scan_reference(u, dt, A, B, C)[0][0, :, 0], torch.stack(ys))


@pytest.mark.parametrize("chunk", [1, 2, 5, 8, 36, 37, 64])
def test_chunked_scan_equals_the_reference(chunk):
    """In float64 to rounding (1e-12), for chunks that divide L, do not, and exceed it; the gradients too."""
    inputs = [t.requires_grad_() for t in scan_inputs()]
    ref = selective_scan_reference(*inputs)[0]
    grads_ref = torch.autograd.grad(ref.square().sum(), inputs)
    out = selective_scan(*inputs, chunk)
    grads = torch.autograd.grad(out.square().sum(), inputs)
    torch.testing.assert_close(out, ref, atol=1e-12, rtol=1e-12)
    for g, r in zip(grads, grads_ref):
        torch.testing.assert_close(g, r, atol=1e-10, rtol=1e-10)


@pytest.mark.parametrize("dt_scale", [0.1, 5.0, 200.0])
def test_scan_is_finite_and_chunked_equals_reference_at_length_1500_in_float32(dt_scale):
    """Steps that forget almost everything (Δ·A down to −1700 per step, far beyond exp's float32 range) or almost
    nothing: no overflow, and the chunked scan stays within 1e-5 of the reference (relative to its largest value)."""
    u, dt, A, B, C = scan_inputs(B=2, L=1500, D=4, N=8, dt_scale=dt_scale, dtype=torch.float32)
    ref = selective_scan_reference(u, dt, A, B, C)[0]
    out = selective_scan(u, dt, A, B, C, 64)
    assert torch.isfinite(ref).all() and torch.isfinite(out).all()
    assert (out - ref).abs().max() <= 1e-5 * ref.abs().max()


def test_chunked_and_sequential_backbones_agree():
    x = torch.randn(2, 30, 16)
    chunked, sequential = backbone(scan="chunked"), backbone(scan="sequential")
    torch.testing.assert_close(chunked(x), sequential(x), atol=1e-5, rtol=1e-4)


def test_auto_scan_is_sequential_on_the_cpu(monkeypatch):
    def chunked(*args):
        raise AssertionError("the chunked scan ran on the CPU")

    monkeypatch.setattr("architectures.s6.selective_scan", chunked)
    auto = backbone(scan="auto")
    auto(torch.randn(2, 30, 16))
    assert auto.describe() == {"scan": "sequential", "chunk": None}  # what the record says ran
    assert backbone(scan="chunked", chunk=8).describe() == {"scan": "chunked", "chunk": 8}
    with pytest.raises(AssertionError, match="chunked scan ran"):
        backbone(scan="chunked")(torch.randn(2, 30, 16))


def test_the_scan_runs_in_float32_under_bf16_autocast(monkeypatch):
    """As Mamba keeps its scan in fp32: a recurrence over hundreds of steps in bf16 would drift."""
    import architectures.s6

    reference, dtypes = architectures.s6.selective_scan_reference, set()

    def spy(*args):
        dtypes.update(t.dtype for t in args if torch.is_tensor(t))
        return reference(*args)

    monkeypatch.setattr("architectures.s6.selective_scan_reference", spy)
    bb = backbone(scan="sequential")
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = bb(torch.randn(2, 12, 16))
    assert dtypes == {torch.float32} and torch.isfinite(out).all()


@pytest.mark.cuda
def test_auto_scan_is_chunked_on_a_gpu_and_agrees_with_the_cpu(monkeypatch):
    import architectures.s6

    x, bb, calls = torch.randn(2, 150, 16), backbone(scan="auto", chunk=64), []
    expected, chunked = bb(x), architectures.s6.selective_scan
    monkeypatch.setattr("architectures.s6.selective_scan", lambda *a: calls.append(1) or chunked(*a))
    torch.testing.assert_close(bb.cuda()(x.cuda()).cpu(), expected, atol=1e-4, rtol=1e-3)
    assert len(calls) == len(bb.layers) and bb.describe() == {"scan": "chunked", "chunk": 64}


# --------------------------------------------------------------------------------------------- the backbone
@pytest.mark.parametrize("bidirectional", [False, True])
def test_shape_and_context(bidirectional):
    bb = backbone(bidirectional=bidirectional)
    out, states = bb.forward_intermediates(torch.randn(3, 11, 16), keep=True)
    assert out.shape == (3, 11, 16) and len(states) == SETTINGS["n_layers"]
    assert bb.causal is not bidirectional


@pytest.mark.parametrize("scan", ["chunked", "sequential"])
def test_causal_backbone_ignores_the_future_across_chunks(scan):
    """Positions < 9 (two chunks of 4 and one more) do not change when positions ≥ 9 do; later ones do."""
    bb = backbone(scan=scan)
    x = torch.randn(2, 20, 16)
    x2 = x.clone()
    x2[:, 9:] = torch.randn(2, 11, 16)
    torch.testing.assert_close(bb(x)[:, :9], bb(x2)[:, :9])
    assert not torch.allclose(bb(x)[:, 9:], bb(x2)[:, 9:])


def test_bidirectional_backbone_sees_the_future():
    bb = backbone(bidirectional=True)
    x = torch.randn(2, 20, 16)
    x2 = x.clone()
    x2[:, 15:] = torch.randn(2, 5, 16)
    assert not torch.allclose(bb(x)[:, :5], bb(x2)[:, :5])


@pytest.mark.parametrize("scan", ["chunked", "sequential"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_padding_never_reaches_real_positions(bidirectional, scan):
    """Trailing padding, whatever its states, leaves the real positions as the unpadded sequence has them."""
    bb = backbone(bidirectional=bidirectional, scan=scan)
    x = torch.randn(2, 10, 16)
    longer = torch.cat([x, 100 * torch.randn(2, 7, 16)], 1)
    pad = torch.zeros(2, 17, dtype=torch.bool)
    pad[:, 10:] = True
    torch.testing.assert_close(bb(longer, pad)[:, :10], bb(x), atol=1e-5, rtol=1e-4)


def test_padding_is_an_identity_step_of_the_state():
    """Δ = 0 at padding: the state after a padded position is the state before it (and no input is written)."""
    ssm = backbone().layers[0].ssm
    torch.manual_seed(1)
    x = torch.randn(1, 6, ssm.D.numel())
    pad = torch.tensor([[False, False, False, True, True, True]])
    u = torch.nn.functional.silu(ssm.conv(torch.nn.functional.pad(x.masked_fill(pad[..., None], 0).mT, (3, 0)))).mT
    dt, B, C = ssm.select(u)
    dt = dt.masked_fill(pad[..., None], 0.0)
    h_states = [selective_scan_reference(u[:, :t], dt[:, :t], -ssm.A_log.exp(), B[:, :t], C[:, :t])[1] for t in (3, 6)]
    torch.testing.assert_close(h_states[0], h_states[1])


def test_step_by_step_equals_the_whole_sequence():
    """Decoding: each layer's step (conv buffer + state) gives the outputs of the whole causal sequence."""
    bb = backbone()
    x = torch.randn(2, 9, 16)
    whole, states = bb(x), [None] * len(bb.layers)
    for t in range(9):
        y = x[:, t : t + 1]
        for i, layer in enumerate(bb.layers):
            y, states[i] = layer.step(y, states[i])
        torch.testing.assert_close(bb.final(y)[:, 0], whole[:, t], atol=1e-5, rtol=1e-4)


# --------------------------------------------------------------------------------------------- selectivity
def test_delta_b_and_c_depend_on_the_input():
    """What makes S6 selective (and S4D not): Δ, B and C at a position change with the input there, and Δ spans more
    than one value across positions of one sequence."""
    ssm = backbone().layers[0].ssm
    u = torch.randn(2, 8, ssm.D.numel())
    dt, B, C = ssm.select(u)
    assert dt.shape == u.shape and B.shape == C.shape == (2, 8, 16)
    dt2, B2, C2 = ssm.select(u.flip(0))
    for a, b in ((dt, dt2.flip(0)), (B, B2.flip(0)), (C, C2.flip(0))):
        torch.testing.assert_close(a, b)  # a function of the input alone …
    for a, b in ((dt, dt2), (B, B2), (C, C2)):
        assert not torch.allclose(a, b)  # … that differs between inputs
    assert (dt[0].std(0) > 0).all()  # and along the sequence


def test_a_large_delta_resets_the_state_and_a_small_one_keeps_it():
    """The mechanism selection uses: with Δ → 0 a step ignores its input and keeps the state; with a large Δ the
    state forgets what came before."""
    u, dt, A, B, C = scan_inputs(B=1, L=6, D=2, N=3)
    keep = dt.clone()
    keep[:, 3:] = 0.0
    _, h3 = selective_scan_reference(u[:, :3], dt[:, :3], A, B[:, :3], C[:, :3])
    _, h6 = selective_scan_reference(u, keep, A, B, C)
    torch.testing.assert_close(h3, h6)
    reset = dt.clone()
    reset[:, 4] = 1e3
    other = u.clone()
    other[:, :4] = torch.randn(1, 4, 2, dtype=torch.float64)
    y, y_other = (selective_scan_reference(v, reset, A, B, C)[0] for v in (u, other))
    torch.testing.assert_close(y[:, 5], y_other[:, 5])  # nothing before position 4 survives it


# --------------------------------------------------------------------------------------------- set-up
def test_mamba_initialisation():
    ssm: SelectiveSSM = backbone(dt_min=0.01, dt_max=0.05).layers[0].ssm
    N = SETTINGS["d_state"]
    torch.testing.assert_close(-ssm.A_log.exp(), -torch.arange(1.0, N + 1).expand(ssm.D.numel(), N))  # S4D-real
    assert torch.equal(ssm.D, torch.ones_like(ssm.D))
    dt = torch.nn.functional.softplus(ssm.dt_bias)
    assert ((dt >= 0.01 - 1e-6) & (dt <= 0.05 + 1e-6)).all()
    assert ssm.dt_rank == 1  # ⌈16 / 16⌉


@pytest.mark.parametrize("init", ["xavier", "normal"])
def test_arch_init_and_weight_decay_leave_a_d_and_the_dt_bias_alone(init):
    spec = TaskSpec(input_kind="tokens", output_kind="class", vocab_size=11, max_len=12, pad_id=0, num_classes=2)
    torch.manual_seed(0)
    model = build_arch("s6", spec, d_model=16, init=init, bidirectional=True)
    ssm = model.backbone.layers[1].back
    assert torch.equal(ssm.A_log, torch.log(torch.arange(1.0, SETTINGS["d_state"] + 1)).repeat(32, 1))
    assert ssm.dt_bias.abs().sum() > 0
    names = dict(model.named_parameters())
    assert {"backbone.layers.1.back.A_log", "backbone.layers.0.ssm.D"} <= model.no_weight_decay() & set(names)


@pytest.mark.parametrize(
    "bad",
    [{"d_state": 0}, {"expand": 0}, {"chunk": 0}, {"dt_rank": 0}, {"dt_min": 0.2, "dt_max": 0.1}, {"scan": "fast"}],
)
def test_invalid_settings_are_config_errors(bad):
    with pytest.raises(ConfigError, match=f"arch.{next(iter(bad))}="):
        backbone(**bad)


# --------------------------------------------------------------------------------------------- learnability
@pytest.mark.slow
def test_selective_copy_is_solved_at_a_small_size(cfg_factory):
    from harness.train import train

    cfg = cfg_factory(
        "arch=s6",
        "task=selective_copy",
        "task.seq_len=16",
        "task.n_memorize=4",
        "task.vocab=6",
        "task.n_val=256",
        "task.n_test=256",
        "arch.d_model=32",
        "trainer.max_steps=1500",
        "trainer.eval_every=100",
        "trainer.batch_size=32",
        "trainer.eval_batch_size=256",
        "trainer.warmup_steps=50",
        "trainer.stop_at=0.95",
        "trainer.ckpt_every=1000",
        "optimizer.lr=3e-3",
        tiny=False,
    )
    cfg.trainer.progress = False
    s = train(cfg)
    assert s["metrics"]["test/acc"] >= 0.9, s["metrics"]
