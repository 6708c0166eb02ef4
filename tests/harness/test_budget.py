"""budget.params=N sizes each architecture's width to N parameters ±10%, and the run records it."""

from __future__ import annotations

import pytest

from core.errors import ConfigError
from harness import budget
from harness.train import build, train
from tests.conftest import ARCHS


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("target", [20_000, 60_000])
def test_budget_sizes_each_arch_within_ten_percent(cfg_factory, arch, target):
    cfg = cfg_factory(f"arch={arch}", "task=copy_long", "task.delay=20", f"budget.params={target}", tiny=False)
    task = build(cfg.task, "task")
    record = budget.fit(cfg, task.spec, lambda node, spec: build(node, "arch", spec=spec))
    launched = cfg.arch.copy()
    model = build(budget.sized(cfg.arch, record), "arch", spec=task.spec)
    params = budget.count_params(model)
    assert abs(params - target) <= 0.1 * target
    assert record["actual"] == params and cfg.arch == launched  # the config stays as launched


def test_budget_is_recorded_in_the_run(cfg_factory):
    cfg = cfg_factory(
        "arch=transformer",
        "task=copy_long",
        "task.delay=4",
        "task.n_memorize=2",
        "budget.params=30000",
        "trainer.max_steps=1",
        "trainer.probes=false",
    )
    summary = train(cfg)
    assert summary["budget"]["width_key"] == "d_model" and summary["budget"]["width"] % 2 == 0  # n_heads=2
    assert summary["params"] == summary["budget"]["actual"]
    assert abs(summary["params"] - 30000) <= 3000
    # the config recorded is the one launched (the YAML's width); the width run is the budget's own field
    assert summary["config"]["arch"]["d_model"] == cfg.arch.d_model != summary["budget"]["width"]


def test_budget_off_by_default_and_unreachable_budget_is_a_config_error(cfg_factory):
    cfg = cfg_factory("arch=transformer", "task=copy_long", "trainer.max_steps=1", "trainer.probes=false")
    assert cfg.budget.params is None
    assert train(cfg)["budget"] is None
    cfg = cfg_factory("arch=transformer", "task=copy_long", "budget.params=10")
    task = build(cfg.task, "task")
    with pytest.raises(ConfigError, match="±10%"):
        budget.fit(cfg, task.spec, lambda node, spec: build(node, "arch", spec=spec))


@pytest.mark.parametrize("arch", ARCHS)
def test_budget_width_sets_the_width_whatever_the_arch_calls_it(cfg_factory, arch):
    cfg = cfg_factory(f"arch={arch}", "task=copy_long", "budget.width=24", tiny=False)
    task = build(cfg.task, "task")
    record = budget.fit(cfg, task.spec, lambda node, spec: build(node, "arch", spec=spec))
    key = cfg.budget.width_key  # named by the arch YAML
    assert key in ("hidden", "channels", "d_model")
    assert record == {"width_key": key, "width": 24} and budget.sized(cfg.arch, record)[key] == 24 != cfg.arch[key]


@pytest.mark.parametrize(
    "bad, message",
    [(["budget.width=0"], "whole number ≥ 1"), (["budget.width=32", "budget.params=30000"], "set one of them")],
)
def test_bad_budget_width_is_a_config_error(cfg_factory, bad, message):
    cfg = cfg_factory("arch=lstm", "task=copy_long", *bad)
    task = build(cfg.task, "task")
    with pytest.raises(ConfigError, match=message):
        budget.fit(cfg, task.spec, lambda node, spec: build(node, "arch", spec=spec))
