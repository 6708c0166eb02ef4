"""Attention, masking, positional encoding and the blocks against their definitions."""

import math

import pytest
import torch

from architectures.layers import (
    DecoderBlock,
    EncoderBlock,
    MultiHeadAttention,
    PositionalEncoding,
    Residual,
    attention,
    causal_mask,
    image_to_sequence,
    sinusoidal_table,
)
from core.errors import ConfigError

torch.manual_seed(0)


def test_attention_oracle_is_softmax_qk_over_sqrt_dk_times_v():
    q, k, v = torch.randn(2, 5, 8), torch.randn(2, 7, 8), torch.randn(2, 7, 3)
    out, w = attention(q, k, v)
    manual = torch.softmax(torch.einsum("bld,bsd->bls", q, k) / math.sqrt(8), -1)
    torch.testing.assert_close(w, manual)
    torch.testing.assert_close(out, manual @ v)
    torch.testing.assert_close(w.sum(-1), torch.ones(2, 5))


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("with_pad", [False, True])
def test_fused_attention_equals_the_oracle(causal, with_pad):
    mha = MultiHeadAttention(16, 4).eval()
    x = torch.randn(3, 6, 16)
    pad = torch.tensor([[False] * 6, [False] * 4 + [True] * 2, [False] * 5 + [True]]) if with_pad else None
    fused = mha(x, key_pad=pad, causal=causal)
    mha.keep_weights = True
    plain = mha(x, key_pad=pad, causal=causal)
    torch.testing.assert_close(fused, plain, atol=1e-5, rtol=1e-5)
    assert mha.weights.shape == (3, 4, 6, 6)
    if causal:  # no weight on the future
        assert torch.all(mha.weights.triu(1) == 0)
    if with_pad:  # no weight on padding
        assert torch.all(mha.weights[1, :, :, 4:] == 0)


def test_cross_attention_matches_oracle_per_head():
    mha = MultiHeadAttention(8, 2, cross=True).eval()
    x, ctx = torch.randn(2, 3, 8), torch.randn(2, 5, 8)
    out = mha(x, context=ctx)
    q = mha.q(x).unflatten(-1, (2, 4)).transpose(1, 2)
    k, v = (t.unflatten(-1, (2, 4)).transpose(1, 2) for t in mha.kv(ctx).chunk(2, -1))
    ref, _ = attention(q, k, v)
    torch.testing.assert_close(out, mha.proj(ref.transpose(1, 2).reshape(2, 3, 8)), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("norm_first", [False, True])
def test_causal_encoder_block_ignores_the_future(norm_first):
    block = EncoderBlock(16, 4, 32, dropout=0.0, norm_first=norm_first).eval()
    x = torch.randn(2, 10, 16)
    y = x.clone()
    y[:, 6:] = torch.randn(2, 4, 16)  # perturb positions 6..9
    a, b = block(x, causal=True), block(y, causal=True)
    torch.testing.assert_close(a[:, :6], b[:, :6])
    assert not torch.allclose(a[:, 6:], b[:, 6:])
    c, d = block(x), block(y)  # without the mask the past does see the future
    assert not torch.allclose(c[:, :6], d[:, :6])


def test_decoder_block_is_causal_in_the_target_and_reads_the_memory():
    block = DecoderBlock(16, 4, 32, dropout=0.0).eval()
    y, mem = torch.randn(2, 7, 16), torch.randn(2, 5, 16)
    y2 = y.clone()
    y2[:, 4:] = torch.randn(2, 3, 16)
    torch.testing.assert_close(block(y, mem)[:, :4], block(y2, mem)[:, :4])
    assert not torch.allclose(block(y, mem), block(y, torch.randn(2, 5, 16)))
    pad = torch.zeros(2, 5, dtype=torch.bool)
    pad[:, 3:] = True
    mem2 = mem.clone()
    mem2[:, 3:] = torch.randn(2, 2, 16)  # padded memory positions must not matter
    torch.testing.assert_close(block(y, mem, memory_pad=pad), block(y, mem2, memory_pad=pad))


def test_residual_is_post_norm_by_default_and_pre_norm_on_request():
    x = torch.randn(2, 4, 16) * 5 + 3
    post = EncoderBlock(16, 2, 32, dropout=0.0, norm_first=False).eval()(x)
    torch.testing.assert_close(post.mean(-1), torch.zeros(2, 4), atol=1e-5, rtol=0)  # ends in LayerNorm
    pre = EncoderBlock(16, 2, 32, dropout=0.0, norm_first=True).eval()(x)
    assert pre.mean(-1).abs().mean() > 0.5  # the residual stream is not normalised


@pytest.mark.parametrize("norm_first", [False, True])
def test_without_residual_x_reaches_the_output_only_through_the_sublayer(norm_first):
    """A sub-layer that outputs 0: with the skip path the output is x (post-norm: LayerNorm(x)), without it 0."""
    zero = torch.nn.Linear(16, 16)
    torch.nn.init.zeros_(zero.weight)
    torch.nn.init.zeros_(zero.bias)
    x = torch.randn(2, 4, 16) * 3 + 1
    skip = Residual(16, zero, norm_first=norm_first)
    torch.testing.assert_close(skip(x), x if norm_first else skip.norm(x))
    torch.testing.assert_close(Residual(16, zero, norm_first=norm_first, residual=False)(x), torch.zeros_like(x))


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("residual,layer_norm", [(False, True), (True, False), (False, False)])
def test_block_ablations_follow_their_formula(norm_first, residual, layer_norm):
    """The encoder block against a manual computation: post-norm norm(skip + f(x)), pre-norm skip + f(norm(x)),
    skip = x or nothing, norm = LayerNorm or nothing (then the block has no LayerNorm at all)."""
    block = EncoderBlock(16, 2, 32, norm_first=norm_first, residual=residual, layer_norm=layer_norm).eval()
    x = torch.randn(2, 5, 16)
    norms = [block.attn.norm, block.ffn.norm] if layer_norm else [torch.nn.Identity()] * 2
    h = x
    for sub, norm in zip((block.attn.fn, block.ffn.fn), norms):
        skip = h if residual else 0
        h = skip + sub(norm(h)) if norm_first else norm(skip + sub(h))
    torch.testing.assert_close(block(x), h)
    has_norm = any(isinstance(m, torch.nn.LayerNorm) for m in block.modules())
    assert has_norm == layer_norm
    seed = EncoderBlock(16, 2, 32, norm_first=norm_first).eval()
    seed.load_state_dict(block.state_dict(), strict=layer_norm)  # the same weights with the seed's wrapping
    assert not torch.allclose(seed(x), block(x), atol=1e-4)


def test_sinusoidal_table_follows_the_formula():
    pe = sinusoidal_table(50, 16)
    for pos in (0, 1, 7, 49):
        for i in range(8):
            angle = pos / 10000 ** (2 * i / 16)
            assert pe[pos, 2 * i].item() == pytest.approx(math.sin(angle), abs=1e-6)
            assert pe[pos, 2 * i + 1].item() == pytest.approx(math.cos(angle), abs=1e-6)


def test_positional_encoding_kinds():
    x = torch.zeros(1, 5, 8)
    torch.testing.assert_close(PositionalEncoding("sinusoidal", 10, 8)(x)[0], sinusoidal_table(10, 8)[:5])
    assert torch.equal(PositionalEncoding("none", 10, 8)(x), x)
    learned = PositionalEncoding("learned", 10, 8)
    assert learned.pe.requires_grad and learned(x).abs().sum() > 0
    with pytest.raises(ConfigError, match="sinusoidal, learned, none"):
        PositionalEncoding("rotary", 10, 8)


def test_heads_must_divide_width():
    with pytest.raises(ConfigError, match="not divisible by n_heads=3"):
        MultiHeadAttention(16, 3)


def test_causal_mask_shape():
    m = causal_mask(3)
    assert m.tolist() == [[True, False, False], [True, True, False], [True, True, True]]


@pytest.mark.parametrize(
    "image_as,shape", [("rows", (2, 6, 3 * 4)), ("pixels", (2, 24, 3)), ("patches", (2, 6, 3 * 2 * 2))]
)
def test_image_to_sequence_reading_orders(image_as, shape):
    img = torch.arange(2 * 3 * 6 * 4, dtype=torch.float).reshape(2, 3, 6, 4)
    seq = image_to_sequence(img, image_as, 2)
    assert seq.shape == shape
    if image_as == "pixels":  # pixel (row 1, col 2) is step 1·W + 2, holding its C channel values
        torch.testing.assert_close(seq[:, 1 * 4 + 2], img[:, :, 1, 2])
    if image_as == "rows":
        torch.testing.assert_close(seq[:, 5], img[:, :, 5, :].reshape(2, -1))
    if image_as == "patches":  # patch (1, 1) covers rows 2-3, cols 2-3
        torch.testing.assert_close(seq[:, 1 * 2 + 1], img[:, :, 2:4, 2:4].reshape(2, -1))
