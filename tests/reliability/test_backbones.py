"""A backbone of one's own (issue 33, cases 7, 8, 14 and "also seen"): checked when the model is built, before
any data or training, and told in one line naming the backbone — a wrong width or dropped positions (not a shape
error deep in the head), a forward that returns NaN/inf (not "diverged … lower optimizer.lr"), ``sys.exit`` in a
forward (not exit 0), a backbone declaring ``causal=True`` that looks ahead, a backbone module that cannot be
imported (the PYTHONPATH hint, not Hydra's chained ImportError), an architecture YAML without the model's
defaults (not ``ConfigAttributeError: Key '_target_'``)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from omegaconf import open_dict

from architectures import checks
from core.errors import ConfigError
from harness.train import build, divergence_message
from tasks.base import TaskSpec
from tests.conftest import make_cfg
from tests.reliability.helpers import TINY, cli, one_line_error

FAKE = "tests.reliability.fake_backbones"
TOKENS = TaskSpec(input_kind="tokens", output_kind="tokens", vocab_size=11, max_len=12, num_classes=11)
CAUSAL = TaskSpec(input_kind="tokens", output_kind="tokens", vocab_size=11, max_len=12, num_classes=11, causal=True)
CLASSES = TaskSpec(input_kind="tokens", output_kind="class", vocab_size=11, max_len=12, num_classes=3)


@pytest.fixture(scope="module")
def arch_node(tmp_path_factory):
    return make_cfg(tmp_path_factory.mktemp("bb"), "arch=transformer").arch


def built(node, backbone: str, spec: TaskSpec = TOKENS):
    node = node.copy()
    with open_dict(node):
        node.backbone = f"{FAKE}.{backbone}"
    checks._checked.clear()  # each test builds as a fresh process would
    return build(node, "arch", spec=spec)


@pytest.mark.parametrize(
    "backbone, says",
    [
        ("WrongWidth", "returned shape (1, 12, 32) for an input of shape (1, 12, 16)"),
        ("DropsPositions", "returned shape (1, 11, 16)"),
        ("NonFinite", "its forward produced non-finite values"),
        ("Exits", "its forward called sys.exit(0)"),
        ("Raises", "its forward failed on an input of shape (1, 12, 16)"),
    ],
)
@pytest.mark.parametrize("spec", [TOKENS, CLASSES], ids=["tokens", "class"])
def test_a_backbone_that_breaks_the_contract_is_one_line_naming_it(arch_node, backbone, says, spec):
    with pytest.raises(ConfigError) as e:
        built(arch_node, backbone, spec)
    assert says in str(e.value) and f"{FAKE}.{backbone}" in str(e.value) and "\n" not in str(e.value)


def test_a_backbone_that_keeps_the_contract_builds(arch_node):
    assert built(arch_node, "Plain").backbone.out_width == 16
    assert built(arch_node, "Plain", CAUSAL).backbone.causal is True


def test_a_causal_backbone_that_looks_ahead_is_refused_for_a_causal_task(arch_node):
    with pytest.raises(ConfigError, match=r"declares causal=True but looks ahead: changing the inputs from position 6"):
        built(arch_node, "LooksAhead", CAUSAL)
    built(arch_node, "LooksAhead", TOKENS)  # not used as causal: nothing to check


def test_every_registered_causal_backbone_passes_the_check(tmp_path):
    """The check is not a false alarm for the built-in backbones that declare causal (built for a causal task)."""
    from tests.conftest import ARCHS

    for arch in ARCHS:
        cfg = make_cfg(tmp_path, f"arch={arch}")
        checks._checked.clear()
        try:
            model = build(cfg.arch, "arch", spec=CAUSAL)
        except ConfigError as e:
            assert "looks ahead" not in str(e), (arch, e)  # a backbone with no causal variant is refused otherwise
            continue
        assert model.backbone.causal


@settings(derandomize=True, max_examples=40, deadline=None)
@given(length=st.integers(2, 40), shift=st.integers(1, 5), width=st.integers(1, 8))
def test_any_look_ahead_is_found(length, shift, width):
    """Generated: a backbone reading ``shift`` positions ahead is refused at any length and width; reading only
    behind passes."""
    import torch

    class Ahead(torch.nn.Module):
        causal = True

        def __init__(self, k):
            super().__init__()
            self.width = self.out_width = width
            self.k = k
            self.lin = torch.nn.Linear(width, width)

        def forward(self, x, pad=None):
            return self.lin(x + torch.roll(x, -self.k, 1) * (self.k > 0))

    checks._checked.clear()
    if shift < length:
        with pytest.raises(ConfigError, match="looks ahead"):
            checks.check_backbone(Ahead(shift), length, causal=True)
    checks.check_backbone(Ahead(0), length, causal=True)


def test_a_non_finite_loss_at_step_1_blames_the_forward_not_the_lr():
    """Case 14: the loss of the first batch comes before any update."""
    first = divergence_message(float("nan"), 1, 1e-3, 1.0)
    assert "before any update" in first and "lower optimizer.lr" not in first
    assert "lower optimizer.lr" in divergence_message(float("nan"), 2, 1e-3, 1.0)


def test_run_py_says_the_pythonpath_hint_for_a_backbone_module_it_cannot_find(tmp_path):
    """Case 7: one line naming the module, with the PYTHONPATH hint (not Hydra's chained ImportError)."""
    r = cli(tmp_path / "r", *TINY, "arch.backbone=mypkg_nowhere.mixer.ConvMixer1D")
    one_line_error(r, "no module mypkg_nowhere.mixer", "PYTHONPATH=.")
    assert not (tmp_path / "r" / "summary.json").exists()


def test_a_backbone_module_that_fails_to_import_is_one_line_naming_it(tmp_path, arch_node, monkeypatch):
    (tmp_path / "broken_bb.py").write_text("import torch\nraise RuntimeError('boom at import')\n")
    (tmp_path / "deps_bb.py").write_text("import not_installed_anywhere\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    for module, says in [
        ("broken_bb", "importing module broken_bb failed: RuntimeError: boom at import"),
        ("deps_bb", "it imports not_installed_anywhere, which is not installed or not found"),
    ]:
        node = arch_node.copy()
        with open_dict(node):
            node.backbone = f"{module}.X"
        with pytest.raises(ConfigError, match="^arch.backbone=") as e:
            build(node, "arch", spec=TOKENS)
        assert says in str(e.value)


def test_an_arch_yaml_without_the_model_defaults_is_one_line(tmp_path):
    """'Also seen': not ConfigAttributeError: Key '_target_'."""
    conf = tmp_path / "myconf" / "arch"
    conf.mkdir(parents=True)
    (conf / "bare.yaml").write_text("backbone: architectures.lstm.LSTM\nhidden: 16\n")
    overrides = [o for o in TINY if not o.startswith("arch.")]
    r = cli(tmp_path / "r", "--config-dir", str(tmp_path / "myconf"), *overrides, "arch=bare")
    one_line_error(r, "arch: its config names no class (no _target_)", "/model@_here_: default")


def test_sys_exit_0_in_a_forward_is_not_a_success(tmp_path):
    """'Also seen': a forward that calls sys.exit(0) — at build (the check's forward) or while training."""
    r = cli(tmp_path / "r", *TINY, f"arch.backbone={FAKE}.Exits")
    assert r.returncode != 0 and "sys.exit(0)" in r.stderr and "Traceback" not in r.stderr
