"""arch.init: the initialisation scheme of the weight matrices is applied (bounds / spread, zero biases, tables
and norms left alone), refused with one line when unknown, and recorded in the run record."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from architectures.model import INITS
from core.errors import ConfigError
from harness.train import build, train
from tasks.copy_long import CopyLong

SPEC = CopyLong(delay=10, n_memorize=3, n_val=8, n_test=8).spec


def model(cfg_factory, init: str, seed: int = 0):
    cfg = cfg_factory(f"arch.init={init}", "arch.d_model=64", "arch.d_ff=128", "arch.n_heads=4", tiny=False)
    torch.manual_seed(seed)
    return build(cfg.arch, "arch", spec=SPEC)  # as the harness builds it


def matrices(m):
    skip = m.no_weight_decay()
    return {n: p for n, p in m.named_parameters() if p.dim() >= 2 and n not in skip}


def linear_biases(m):
    return [mod.bias for mod in m.modules() if isinstance(mod, torch.nn.Linear) and mod.bias is not None]


def test_xavier_bounds_and_zero_biases(cfg_factory):
    m = model(cfg_factory, "xavier")
    for name, p in matrices(m).items():
        fan_out, fan_in = p.shape[:2]
        bound = math.sqrt(6 / (fan_in + fan_out))
        assert p.abs().max() <= bound + 1e-6, name
        assert p.std().item() == pytest.approx(bound / math.sqrt(3), rel=0.15), name  # uniform(-a, a): std a/√3
    assert all(torch.all(b == 0) for b in linear_biases(m))


def test_normal_spread_and_zero_biases(cfg_factory):
    m = model(cfg_factory, "normal")
    for name, p in matrices(m).items():
        assert p.std().item() == pytest.approx(0.02, rel=0.15), name
        assert p.mean().abs().item() < 0.005, name
    assert all(torch.all(b == 0) for b in linear_biases(m))


def test_torch_default_left_alone_and_tables_kept(cfg_factory):
    torch_m, xavier_m = model(cfg_factory, "torch"), model(cfg_factory, "xavier")
    # PyTorch's default nn.Linear init: kaiming_uniform(a=√5), i.e. bound 1/√fan_in, and nonzero biases
    qkv = torch_m.backbone.layers[0].attn.fn.qkv
    assert qkv.weight.abs().max() <= 1 / math.sqrt(qkv.in_features) + 1e-6
    assert any(torch.any(b != 0) for b in linear_biases(torch_m))
    # the embedding table (built before the scheme is applied, same seed) and the norms are not touched
    assert torch.equal(torch_m.adapter.embed.emb.weight, xavier_m.adapter.embed.emb.weight)
    for mod in xavier_m.modules():
        if isinstance(mod, torch.nn.LayerNorm):
            assert torch.all(mod.weight == 1) and torch.all(mod.bias == 0)
    assert not torch.equal(torch_m.head.fc.weight, xavier_m.head.fc.weight)


def test_unknown_scheme_is_refused(cfg_factory):
    with pytest.raises(ConfigError, match="arch.init='kaiming' is not known; use one of torch, xavier, normal"):
        model(cfg_factory, "kaiming")
    assert INITS == ("torch", "xavier", "normal")


def test_scheme_recorded(cfg_factory):
    cfg = cfg_factory("task=copy_long", "arch.init=normal", "trainer.max_steps=1", "trainer.probes=false")
    summary = train(cfg)
    assert summary["arch_info"]["init"] == "normal"
    saved = json.loads((Path(cfg.run_dir) / "summary.json").read_text())
    assert saved["arch_info"]["init"] == "normal"


def test_defaults_per_architecture(cfg_factory):
    """The transformer starts xavier (the default job); the others keep PyTorch's defaults (conf/model/default.yaml)."""
    assert cfg_factory().arch.init == "xavier"
    assert cfg_factory("arch=vit").arch.init == "torch" and cfg_factory("arch=lstm").arch.init == "torch"
