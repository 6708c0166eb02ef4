"""Every architecture as an encoder–decoder (``output_kind == "sequence"``): the encode/decode/decode_step
interface that greedy and beam search rely on, causality, source padding, gradients, configs, incremental
decoding against the prefix-recomputing decoder, and (slow) learnability."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from architectures.layers import Residual
from architectures.model import Backbone
from architectures.seq2seq import GenericDecoder
from core.errors import ConfigError
from tasks.base import TaskSpec
from tasks.decoding import beam_search, greedy
from tests.conftest import ARCHS, arch_config, build_arch

torch.set_num_threads(1)

PAD, BOS, EOS = 0, 1, 2
SPEC = TaskSpec(
    input_kind="tokens",
    output_kind="sequence",
    vocab_size=11,
    max_len=12,
    pad_id=PAD,
    tgt_vocab_size=13,
    tgt_max_len=10,
    bos_id=BOS,
    eos_id=EOS,
    tgt_pad_id=PAD,
)

SMALL = {"hidden": 16, "channels": 16, "d_model": 16, "n_heads": 2, "d_ff": 32, "patch_size": 2, "dropout": 0.0}


def tiny(arch: str, **kw) -> tuple[str, dict]:
    return arch, {**{k: v for k, v in SMALL.items() if k in arch_config(arch)}, **kw}


# Each arch at tiny size (its own decoder, or the generic one), the generic decoder around the archs that have
# their own, and the variants that change the code path.
CASES = (
    {name: tiny(name) for name in ARCHS}
    | {f"{name}-generic": tiny(name, decoder="generic") for name in ARCHS}
    | {
        "lstm-bi-feed-2layer": tiny("lstm", bidirectional=True, input_feeding=True, n_layers=2),
        "rnn-tied": tiny("rnn", tie_embeddings=True),
        "cnn-2heads-tied": tiny("cnn", n_heads=2, tie_embeddings=True, n_dec_layers=2),
        "transformer-prenorm-tied": tiny("transformer", norm_first=True, tie_embeddings=True, n_dec_layers=1),
        # claim C10's ablations (encoder and decoder): without skip connections (one layer each: deeper, attention
        # averages the states of a tiny untrained model into one vector, Dong et al. 2021), without LayerNorm, neither
        "transformer-no-residual": tiny("transformer", residual=False, n_layers=1),
        "transformer-prenorm-no-residual": tiny("transformer", norm_first=True, residual=False, n_layers=1),
        "transformer-no-layernorm": tiny("transformer", layer_norm=False),
        "transformer-no-residual-no-layernorm": tiny("transformer", residual=False, layer_norm=False, n_layers=1),
    }
)
# Without skip connections nor LayerNorm the signal shrinks in every sub-layer of an untrained model: a changed
# target token moves the logits by ~1e-6, below what the causality test can tell from rounding.
VANISHING = {"transformer-no-residual-no-layernorm"}


def build(case: str, spec: TaskSpec = SPEC) -> torch.nn.Module:
    torch.manual_seed(0)
    arch, kw = CASES[case]
    return build_arch(arch, spec, **kw).eval()


def source(B=4, S=8, lengths=(8, 5, 3, 1), seed=1):
    """(B, S) source ids in 3..10 with trailing padding after ``lengths``."""
    g = torch.Generator().manual_seed(seed)
    src = torch.randint(3, SPEC.vocab_size, (B, S), generator=g)
    for b, n in enumerate(lengths):
        src[b, n:] = PAD
    return src


def target(B=4, T=6, seed=2):
    """(B, T) decoder inputs starting with BOS, the last row padded after EOS."""
    g = torch.Generator().manual_seed(seed)
    tgt = torch.randint(3, SPEC.tgt_vocab_size, (B, T), generator=g)
    tgt[:, 0] = BOS
    tgt[-1, 3], tgt[-1, 4:] = EOS, PAD
    return tgt


def reorder(memory, idx):
    return tuple(None if t is None else t.index_select(0, idx) for t in memory)


# --------------------------------------------------------------------------------------------- interface
@pytest.mark.parametrize("case", CASES)
def test_shapes_and_memory_has_batch_first(case):
    model, src, tgt = build(case), source(), target()
    memory = model.encode(src)
    assert isinstance(memory, tuple)
    assert all(t is None or (torch.is_tensor(t) and t.shape[0] == 4) for t in memory)
    assert model(src, tgt).shape == (4, 6, SPEC.tgt_vocab_size)
    assert model.decode(memory, tgt[:, :1]).shape == (4, 1, SPEC.tgt_vocab_size)


@pytest.mark.parametrize("case", CASES)
def test_forward_equals_decode_of_encode(case):
    model, src, tgt = build(case), source(), target()
    torch.testing.assert_close(model(src, tgt), model.decode(model.encode(src), tgt))


@pytest.mark.parametrize("case", [c for c in CASES if c not in VANISHING])
def test_decoder_is_causal(case):
    model, src, tgt = build(case), source(), target()
    memory = model.encode(src)
    full = model.decode(memory, tgt)
    for t in range(tgt.shape[1] - 1):
        changed = tgt.clone()
        changed[:, t + 1 :] = (changed[:, t + 1 :] + 5) % (SPEC.tgt_vocab_size - 3) + 3  # new future tokens
        out = model.decode(memory, changed)
        torch.testing.assert_close(out[:, : t + 1], full[:, : t + 1], atol=1e-5, rtol=1e-5)
        assert not torch.allclose(out[:, t + 1 :], full[:, t + 1 :], atol=1e-5), "the future had no effect at all"
    # and a prefix decodes like the start of the whole sequence (what greedy search does step by step)
    torch.testing.assert_close(model.decode(memory, tgt[:, :3]), full[:, :3], atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("case", CASES)
def test_source_padding_does_not_change_logits(case):
    model, src, tgt = build(case), source(S=8), target()
    longer = F.pad(src, (0, 4), value=PAD)  # (B, 12): four more pads
    torch.testing.assert_close(model(longer, tgt), model(src, tgt), atol=1e-5, rtol=1e-4)
    other = src.clone()
    other[1, 5:] = 7  # tokens where row 1 had padding: the logits must notice
    assert not torch.allclose(model(other, tgt)[1], model(src, tgt)[1], atol=1e-5)


@pytest.mark.parametrize("case", CASES)
def test_memory_reorders_like_beam_search(case):
    model, src, tgt = build(case), source(), target()
    idx = torch.tensor([2, 0, 0, 3, 1, 2])
    beams = model.decode(reorder(model.encode(src), idx), tgt[idx])
    torch.testing.assert_close(beams, model(src[idx], tgt[idx]), atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("case", CASES)
def test_gradients_reach_every_parameter(case):
    model, src, tgt = build(case).train(), source(), target()
    model(src, tgt).square().mean().backward()
    dead = [n for n, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert not dead, f"no gradient reaches {dead}"


@pytest.mark.parametrize("case", CASES)
def test_an_all_padding_source_gives_finite_logits(case):
    model, src = build(case), source()
    src[2] = PAD
    assert torch.isfinite(model(src, target())).all()


@pytest.mark.parametrize("name", ARCHS)
def test_class_and_token_outputs_keep_their_head(name):
    for kind in ("class", "tokens"):
        spec = TaskSpec(input_kind="tokens", output_kind=kind, vocab_size=11, max_len=12, pad_id=PAD, num_classes=3)
        model = build(name, spec)
        assert hasattr(model, "head") and not hasattr(model, "decoder")
        assert model(source(S=12, lengths=(12, 5, 3, 1))).shape == ((4, 3) if kind == "class" else (4, 12, 3))


@pytest.mark.parametrize("case", CASES)
def test_arch_yaml_builds_an_encoder_decoder(case):
    model = build(case)
    assert not hasattr(model, "head") and hasattr(model, "decoder")
    has_own = type(model.backbone).own_decoder is not Backbone.own_decoder
    expected = "own" if has_own and CASES[case][1].get("decoder", "own") == "own" else "generic"
    assert model.describe()["decoder"] == expected
    assert isinstance(model.decoder, GenericDecoder) == (expected == "generic")


@pytest.mark.parametrize("name", ARCHS)
def test_image_input_with_sequence_output_is_a_config_error(name):
    spec = TaskSpec(
        input_kind="image", output_kind="sequence", image_shape=(1, 8, 8), tgt_vocab_size=13, tgt_max_len=10
    )
    with pytest.raises(ConfigError, match="token inputs"):
        build(name, spec)


@pytest.mark.parametrize("name", ARCHS)
def test_sequence_spec_without_target_sizes_is_a_config_error(name):
    spec = TaskSpec(input_kind="tokens", output_kind="sequence", vocab_size=11, max_len=12, pad_id=PAD)
    with pytest.raises(ConfigError, match="tgt_vocab_size"):
        build(name, spec)


# --------------------------------------------------------------------------------------------- incremental decoding
@pytest.mark.parametrize("case", CASES)
def test_decode_step_equals_the_last_position_of_decode(case):
    """Feeding the target one token at a time through the per-step state gives the logits of the whole prefix."""
    model, src, tgt = build(case), source(), target()
    memory = model.encode(src)
    full, state = model.decode(memory, tgt[:, :4]), None  # no padding in the first 4 target positions
    for t in range(4):
        logits, state = model.decode_step(memory, tgt[:, t : t + 1], state)
        torch.testing.assert_close(logits[:, 0], full[:, t], atol=1e-5, rtol=1e-4, msg=f"{case} position {t}")


@pytest.mark.parametrize("case", CASES)
def test_incremental_search_finds_the_prefix_recomputing_hypotheses(case):
    """Greedy and beam search with the per-step state return exactly the recomputing decoder's tokens."""
    torch.manual_seed(3)
    model, src = build(case), source()
    with torch.no_grad():  # a sharper output layer and a rarer EOS: long hypotheses that differ between rows
        model.decoder.out.fc.weight.mul_(8)
        model.decoder.out.fc.bias[EOS] -= 4
    for search in (
        lambda inc: greedy(model, src, 8, BOS, EOS, (PAD,), incremental=inc),
        lambda inc: beam_search(model, src, 3, 8, BOS, EOS, 1.0, (PAD,), incremental=inc),
    ):
        fast, slow = search(True), search(False)
        assert fast == slow and any(len(h) > 2 for h in fast)


@pytest.mark.parametrize("case", [c for c, (a, kw) in CASES.items() if a == "transformer" and "decoder" not in kw])
def test_transformer_block_options_reach_encoder_and_decoder(case):
    """layer_norm=false leaves no LayerNorm module (nor its parameters) anywhere, the default keeps them; every
    Residual of encoder and decoder has the residual setting."""
    model, settings = build(case), CASES[case][1]
    norms = [n for n, m in model.named_modules() if isinstance(m, torch.nn.LayerNorm)]
    layer_norm = settings.get("layer_norm", True)
    assert (norms == []) != layer_norm, norms
    assert any(n.startswith("decoder.") for n in norms) == layer_norm
    residual = settings.get("residual", True)
    skips = {(n.split(".")[0], m.residual) for n, m in model.named_modules() if isinstance(m, Residual)}
    assert skips == {("backbone", residual), ("decoder", residual)}


def test_tied_embeddings_share_one_matrix():
    model = build("transformer-prenorm-tied")
    assert model.decoder.out.fc.weight is model.decoder.embed.emb.weight


def test_cnn_decoder_covers_the_target_by_default():
    model = build("cnn")  # kernel 3, causal reach 2·(2ⁿ − 1) ≥ tgt_max_len − 1 = 9 → n = 3
    assert len(model.decoder.convs) == 3


# --------------------------------------------------------------------------------------------- learnability
def reverse_batch(n, g, length=5, alphabet=10):
    """Reverse ``length`` symbols: source ids 1..alphabet, target ids 3..alphabet+2 framed by BOS/EOS."""
    x = torch.randint(0, alphabet, (n, length), generator=g)
    y = torch.cat([torch.full((n, 1), BOS), x.flip(1) + 3, torch.full((n, 1), EOS)], 1)  # (n, length + 2)
    return x + 1, y[:, :-1], y[:, 1:]


@pytest.mark.slow
@pytest.mark.parametrize(
    "name,kw,lr",
    [
        ("transformer", dict(d_model=32, n_heads=2, n_layers=1, d_ff=64, dropout=0.0), 3e-3),
        ("lstm", dict(hidden=48), 1e-2),
    ],
)
def test_learns_to_reverse(name, kw, lr):
    spec = TaskSpec(
        input_kind="tokens",
        output_kind="sequence",
        vocab_size=11,
        max_len=5,
        pad_id=PAD,
        tgt_vocab_size=13,
        tgt_max_len=7,
    )
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    model = build_arch(name, spec, **kw).train()
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    src_val, tin_val, tout_val = reverse_batch(256, torch.Generator().manual_seed(99))
    acc = 0.0
    for step in range(1, 3001):
        src, tin, tout = reverse_batch(64, g)
        loss = F.cross_entropy(model(src, tin).flatten(0, 1), tout.flatten())
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 50 == 0:
            model.eval()
            with torch.no_grad():
                acc = (model(src_val, tin_val).argmax(-1) == tout_val).float().mean().item()
            model.train()
            if acc >= 0.9:
                break
    assert acc >= 0.9, f"{name} reached only {acc:.2f} teacher-forced accuracy after {step} steps"
