"""Every architecture × input kind × output kind: shapes, padding, gradients, and the invalid combinations."""

import pytest
import torch

from core.errors import ConfigError
from tasks.base import TaskSpec
from tests.conftest import ARCHS, arch_config, build_arch

# Small sizes by the width settings each backbone has (an architecture added later gets its YAML defaults).
SMALL = {"hidden": 12, "channels": 8, "d_model": 16, "n_heads": 2, "d_ff": 32}


def build(arch: str, spec: TaskSpec, **kw):
    small = {k: v for k, v in SMALL.items() if k in arch_config(arch)}
    return build_arch(arch, spec, **{**small, **kw})


TOKENS = dict(input_kind="tokens", vocab_size=11, max_len=18, pad_id=0)
IMAGE = dict(input_kind="image", image_shape=(3, 8, 8), num_classes=5)


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("output", ["class", "tokens"])
def test_token_inputs(arch, output):
    spec = TaskSpec(output_kind=output, num_classes=7, **TOKENS)
    model = build(arch, spec)
    x = torch.randint(1, 11, (3, 18))
    y = model(x)
    assert y.shape == ((3, 7) if output == "class" else (3, 18, 7))
    y.float().sum().backward()
    unused = [n for n, p in model.named_parameters() if p.grad is None]
    assert not unused, f"parameters without gradient: {unused}"


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("image_as", ["rows", "pixels", "patches", "conv"])
def test_image_inputs_to_class(arch, image_as):
    spec = TaskSpec(output_kind="class", **IMAGE)
    model = build(arch, spec, image_as=image_as, patch_size=2, stem_stages=2)
    assert model(torch.randn(4, 3, 8, 8)).shape == (4, 5)
    expected = {"rows": 8, "pixels": 64, "patches": 16, "conv": 16}[image_as] + model.adapter.n_cls
    assert model.adapter(torch.randn(4, 3, 8, 8))[0].shape == (4, expected, model.backbone.width)


@pytest.mark.parametrize("arch", ARCHS)
def test_class_output_ignores_padding(arch):
    """Padding a sequence further (no causal leak into real tokens from the right) leaves the prediction alone."""
    spec = TaskSpec(output_kind="class", num_classes=3, **{**TOKENS, "max_len": 24})
    model = build(arch, spec).eval()  # the lstm is bidirectional: padding must not reach it backwards
    x = torch.randint(1, 11, (2, 8))
    longer = torch.cat([x, torch.zeros(2, 16, dtype=torch.long)], 1)
    if arch == "vit":
        x = torch.cat([x, torch.zeros(2, 4, dtype=torch.long)], 1)  # a whole number of patches, then pad more
        longer = torch.cat([x, torch.zeros(2, 12, dtype=torch.long)], 1)
    torch.testing.assert_close(model(x), model(longer), atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("arch", ARCHS)
def test_per_position_output_needs_token_input(arch):
    spec = TaskSpec(output_kind="tokens", **IMAGE)
    with pytest.raises(ConfigError, match="token inputs"):
        build(arch, spec)


@pytest.mark.parametrize("route", ["settings", "task"])
@pytest.mark.parametrize("arch", ARCHS)
def test_causal_backbones_ignore_the_future(arch, route):
    """Every backbone made causal by its ``causal_settings`` (as the generic decoder makes it), or by a task whose
    spec asks for a causal model (causal LM) from the YAML defaults, bidirectional ones included: outputs at
    positions < 10 do not change when positions ≥ 10 do; and its record says so."""
    cls = build(arch, TaskSpec(output_kind="class", num_classes=2, **TOKENS)).backbone
    if route == "settings":
        spec = TaskSpec(output_kind="tokens", num_classes=5, **TOKENS)
        model = build(arch, spec, **cls.causal_settings, patch_tokens=False).eval()
    else:
        spec = TaskSpec(output_kind="tokens", num_classes=5, causal=True, **TOKENS)
        both_ways = {"bidirectional": True} if "bidirectional" in cls.causal_settings else {"causal": False}
        model = build(arch, spec, **both_ways).eval()
    assert model.describe()["context"] == "causal"
    x = torch.randint(1, 11, (2, 18))
    x2 = x.clone()
    x2[:, 10:] = torch.randint(1, 11, (2, 8))
    torch.testing.assert_close(model(x)[:, :10], model(x2)[:, :10], msg=arch)
    assert not torch.allclose(model(x)[:, 10:], model(x2)[:, 10:])


def test_a_task_that_needs_a_causal_model_refuses_a_backbone_that_cannot_be(monkeypatch):
    from architectures.gru import GRU

    monkeypatch.setattr(GRU, "causal_settings", {})  # a backbone that declares no causal variant
    spec = TaskSpec(output_kind="tokens", num_classes=5, causal=True, **TOKENS)
    with pytest.raises(ConfigError, match="GRU: this task needs a causal model"):
        build("gru", spec, bidirectional=True)
    assert build("gru", spec, bidirectional=False).describe()["context"] == "causal"


def test_cnn_receptive_field_covers_the_sequence():
    for max_len in (10, 120, 1000):
        for causal in (False, True):
            spec = TaskSpec(output_kind="tokens", num_classes=3, **{**TOKENS, "max_len": max_len})
            model = build("cnn", spec, causal=causal)
            reach = (model.backbone.receptive_field - 1) // (1 if causal else 2)
            assert reach >= max_len - 1, (max_len, causal, model.backbone.receptive_field)


def test_cnn_first_token_reaches_the_last_output():
    spec = TaskSpec(output_kind="tokens", num_classes=3, **{**TOKENS, "max_len": 40, "pad_id": None})
    model = build("cnn", spec).eval()
    x = torch.randint(1, 11, (1, 40))
    x2 = x.clone()
    x2[0, 0] = (x[0, 0] % 10) + 1
    assert not torch.allclose(model(x)[0, -1], model(x2)[0, -1])


def test_vit_patch_size_is_checked():
    with pytest.raises(ConfigError, match="patch_size=3 does not divide the 8x8 image"):
        build("vit", TaskSpec(output_kind="class", **IMAGE), patch_size=3)
    with pytest.raises(ConfigError, match="longer than the sequence"):
        build("vit", TaskSpec(output_kind="tokens", num_classes=3, **TOKENS), patch_size=40)


def test_lstm_is_an_lstm_and_rnn_an_rnn():
    spec = TaskSpec(output_kind="class", num_classes=2, **TOKENS)
    assert isinstance(build("lstm", spec).backbone.layers[0].rnn, torch.nn.LSTM)
    assert isinstance(build("rnn", spec).backbone.layers[0].rnn, torch.nn.RNN)


@pytest.mark.parametrize("arch", ARCHS)
def test_backbone_contract(arch):
    """(B, L, d) + padding → (B, L, out_width), one state per layer, and a record of how it reads and sees."""
    model = build(arch, TaskSpec(output_kind="class", num_classes=2, **TOKENS)).eval()
    bb = model.backbone
    x, pad = torch.randn(3, 7, bb.width), torch.zeros(3, 7, dtype=torch.bool)
    out, states = bb.forward_intermediates(x, pad, keep=True)
    assert out.shape == (3, 7, bb.out_width) and len(states) == len(bb.layers) >= 1
    info = model.describe()
    assert info["context"] in ("causal", "bidirectional") and info["layers"] == len(bb.layers)


def test_unknown_arch_setting_names_the_valid_ones():
    with pytest.raises(ConfigError, match="valid settings: .*hidden"):
        build("rnn", TaskSpec(output_kind="class", num_classes=2, **TOKENS), d_model=3)
