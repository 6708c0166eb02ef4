"""The one model every architecture runs in: input adapter → backbone → output end.

An architecture file defines a :class:`Backbone` — ``(B, L, d)`` states + padding ``(B, L)`` → ``(B, L, d_out)``,
made of ``layers`` — and knows nothing about tasks. :class:`Model` composes around it, from the task's spec and
the arch config, the way the Annotated Transformer composes ``EncoderDecoder(encoder, decoder, src_embed,
tgt_embed, generator)``:

- the **input adapter** (:class:`InputAdapter`): token embedding (×√d optionally) or an image read as rows,
  pixels, patches or through a 2-D conv stem (``image_as``); optional 1-D patches of tokens, a CLS token, and
  the positional encoding;
- the **backbone** (``arch.backbone``, e.g. ``architectures.gru.GRU``, built with the remaining settings);
- the **output end**: the shared pooled :class:`ClassHead`, a per-position :class:`TokenHead` (un-patching
  1-D patches), or for ``sequence`` outputs a decoder — the backbone's own (``own_decoder``) or the generic
  one (:class:`architectures.seq2seq.GenericDecoder`: the backbone made causal + cross-attention).

The probes read the model only through :meth:`Model.input_embedding`, :meth:`Model.forward_intermediates`,
:meth:`Model.attention_maps` and :meth:`Model.positional_table`.
Shapes: B batch, L length, d width, C/H/W image channels/height/width.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from architectures.checks import check_backbone
from architectures.layers import (
    IMAGE_AS,
    ClassHead,
    MultiHeadAttention,
    PositionalEncoding,
    TokenEmbedding,
    TokenHead,
    image_sequence_shape,
    image_to_sequence,
    masked_mean,
)
from architectures.seq2seq import GenericDecoder, wants_decoder
from core.errors import ConfigError
from core.imports import import_class
from tasks.base import TaskSpec

DECODERS = ("own", "generic")
INITS = ("torch", "xavier", "normal")


# --------------------------------------------------------------------------------------------- the contract
class Backbone(nn.Module):
    """``(B, L, d)`` states + padding (B, L) (True = padding, or None) → ``(B, L, out_width)``.

    A subclass builds ``self.layers`` (an ``nn.ModuleList`` of :class:`architectures.layers.Layer`, each
    ``(x, pad) → x``) and ``self.final`` (a module applied after the last layer, ``nn.Identity()`` if none), and
    sets ``width`` (d in), ``out_width`` (d out; 2·hidden when bidirectional) and ``causal`` (position i sees
    only positions ≤ i). Its constructor is ``(max_len, *, typed hyper-parameters)`` where ``max_len`` is the
    longest sequence it will see; the hyper-parameters' defaults live in its YAML (``conf/arch/<name>.yaml``).
    A ``bidirectional: bool | None`` setting reaches it resolved (None = the task's ``prefers_bidirectional``).

    Class attributes:
        causal_settings: the settings that make it causal; the generic decoder builds a causal copy with them.
    """

    causal_settings: dict = {"causal": True}
    layers: nn.ModuleList
    final: nn.Module
    width: int
    out_width: int
    causal: bool

    def forward(self, x, pad=None):
        return self.forward_intermediates(x, pad)[0]

    def forward_intermediates(self, x, pad=None, keep: bool = False):
        """(output (B, L, out_width), [state after each layer] if ``keep`` else [])."""
        states = []
        for layer in self.layers:
            x = layer(x, pad)
            if keep:
                states.append(x)
        return self.final(x), states

    def attentions(self) -> dict[str, MultiHeadAttention]:
        """The attention modules whose maps the probes may read, by name (none by default)."""
        return {}

    def own_decoder(
        self, spec: TaskSpec, *, n_layers: int | None, tie_embeddings: bool, pos_encoding: str, scale_embedding: bool
    ) -> nn.Module | None:
        """The architecture's specific seq2seq decoder, or None for the generic one."""
        return None

    def describe(self) -> dict:
        """Extra facts for ``arch_info`` (e.g. a receptive field)."""
        return {}

    def no_weight_decay(self) -> set[str]:
        """Names of parameters (relative to the backbone) kept out of weight decay besides embeddings/norms."""
        return set()


def backbone_class(path: str) -> type[Backbone]:
    """The class ``arch.backbone`` names; one ConfigError line when it cannot be had (:func:`import_class`)."""
    cls = import_class(path, "arch.backbone")
    if not (isinstance(cls, type) and issubclass(cls, Backbone)):
        raise ConfigError(f"arch.backbone={path!r} is not a Backbone (architectures.model.Backbone)")
    return cls


def settings_of(fn) -> list[str]:
    return [p for p in inspect.signature(fn).parameters if p not in ("self", "spec", "max_len", "hparams")]


# --------------------------------------------------------------------------------------------- input adapter
class BasicBlock2d(nn.Module):
    def __init__(self, c_in: int, c_out: int, stride: int):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False),
            nn.BatchNorm2d(c_out),
            nn.ReLU(),
            nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False),
            nn.BatchNorm2d(c_out),
        )
        self.skip = (
            nn.Identity()
            if stride == 1 and c_in == c_out
            else nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out))
        )

    def forward(self, x):
        return F.relu(self.body(x) + self.skip(x))


class ConvStem(nn.Module):
    """A small residual 2-D conv net: stem conv, then ``stages`` residual stages of widths d, 2d, 4d, … (each
    after the first halves the resolution); the final map's positions, projected to d, are the sequence."""

    def __init__(self, channels_in: int, d: int, stages: int):
        super().__init__()
        if stages < 1:
            raise ConfigError(f"arch.stem_stages={stages} must be at least 1")
        widths = [d * 2**i for i in range(stages)]
        layers = [nn.Conv2d(channels_in, widths[0], 3, 1, 1, bias=False), nn.BatchNorm2d(widths[0]), nn.ReLU()]
        for i, w in enumerate(widths):
            layers.append(BasicBlock2d(widths[max(i - 1, 0)], w, 1 if i == 0 else 2))
        self.body = nn.Sequential(*layers)
        self.proj = nn.Linear(widths[-1], d) if widths[-1] != d else nn.Identity()

    @staticmethod
    def length(shape: tuple[int, int, int], stages: int) -> int:
        _, H, W = shape
        for _ in range(stages - 1):
            H, W = (H + 1) // 2, (W + 1) // 2
        return H * W

    def forward(self, img):
        return self.proj(self.body(img).flatten(2).transpose(1, 2))  # (B, H'·W', d)


class ImageReader(nn.Module):
    """Image (B, C, H, W) → (B, L, d): rows, pixels or patches in reading order, then Linear."""

    def __init__(self, image_as: str, patch: int, features: int, d: int):
        super().__init__()
        self.image_as, self.patch, self.proj = image_as, patch, nn.Linear(features, d)

    def forward(self, img):
        return self.proj(image_to_sequence(img, self.image_as, self.patch))


@dataclass(frozen=True)
class InputReading:
    """How the input adapter reads the input: :class:`Model`'s settings of the same names (documented there)."""

    image_as: str
    patch_size: int
    patch_tokens: bool
    cls_token: bool
    pos_encoding: str
    scale_embedding: bool
    stem_stages: int

    def length(self, spec: TaskSpec) -> int:
        """The longest sequence the adapter yields (without the CLS token), after checking the reading settings."""
        if spec.input_kind == "tokens":
            if not self.patch_tokens:
                return spec.max_len
            if not 1 <= self.patch_size <= spec.max_len:
                raise ConfigError(
                    f"arch.patch_size={self.patch_size} is longer than the sequence (max_len={spec.max_len}); "
                    f"use 1 ≤ patch_size ≤ {spec.max_len}"
                )
            return -(-spec.max_len // self.patch_size)
        if self.image_as not in IMAGE_AS:
            raise ConfigError(f"arch.image_as={self.image_as!r} is not valid; use one of {', '.join(IMAGE_AS)}")
        if self.image_as == "conv":
            return ConvStem.length(spec.image_shape, self.stem_stages)
        return image_sequence_shape(spec.image_shape, self.image_as, self.patch_size)[0]


class InputAdapter(nn.Module):
    """Input → (B, L', d) states and (B, L') padding (True = padding) or None, read as ``reading`` says.

    Tokens: embedding (×√d with ``scale_embedding``), optionally grouped into 1-D patches of ``patch_size``
    tokens (``patch_tokens``; a patch is padding when all its tokens are). Images: read as ``image_as``. Then
    an optional CLS token in front and the positional encoding (``sinusoidal``, ``learned`` or ``none``).
    """

    def __init__(self, spec: TaskSpec, d: int, reading: InputReading, *, dropout: float):
        super().__init__()
        image_as, patch_size, stem_stages = reading.image_as, reading.patch_size, reading.stem_stages
        self.tokens, self.pad_id = spec.input_kind == "tokens", spec.pad_id
        self.length, self.per = reading.length(spec), 1
        if self.tokens:
            self.embed = TokenEmbedding(spec.vocab_size, d, spec.pad_id, reading.scale_embedding)
            self.per = patch_size if reading.patch_tokens else 1
            self.group = nn.Linear(self.per * d, d) if self.per > 1 else nn.Identity()
            self.reading = f"1-D patches of {self.per} tokens" if self.per > 1 else "tokens"
        elif image_as == "conv":
            self.embed = ConvStem(spec.image_shape[0], d, stem_stages)
            self.reading = "image as 2-D convolutions"
        else:
            _, features = image_sequence_shape(spec.image_shape, image_as, patch_size)
            self.embed = ImageReader(image_as, patch_size, features, d)
            self.reading = (
                f"image as {patch_size}x{patch_size} patches" if image_as == "patches" else f"image as {image_as}"
            )
        self.cls = nn.Parameter(torch.zeros(1, 1, d)) if reading.cls_token else None
        self.n_cls = int(reading.cls_token)
        self.pos = PositionalEncoding(reading.pos_encoding, self.length + self.n_cls, d, dropout)

    def forward(self, x, embedded=None):
        """x: ids (B, L) or images (B, C, H, W); ``embedded`` replaces the token embedding (B, L, d) (probes)."""
        e = self.embed(x) if embedded is None else embedded  # (B, L, d)
        pad = x == self.pad_id if self.tokens and self.pad_id is not None else None  # (B, L)
        if self.per > 1:  # 1-D patches of `per` tokens
            B, L, d = e.shape
            extra = -L % self.per
            e = self.group(F.pad(e, (0, 0, 0, extra)).reshape(B, (L + extra) // self.per, self.per * d))  # (B, N, d)
            if pad is not None:
                pad = F.pad(pad, (0, extra), value=True).reshape(B, -1, self.per).all(-1)  # (B, N)
        if self.cls is not None:
            e = torch.cat([self.cls.expand(len(e), -1, -1), e], 1)  # (B, 1 + N, d)
            pad = None if pad is None else F.pad(pad, (1, 0), value=False)
        return self.pos(e), pad


# --------------------------------------------------------------------------------------------- the model
class Model(nn.Module):
    """Input adapter → backbone → output end, chosen by config (what ``conf/arch/*.yaml`` instantiates).

    Args:
        spec: the task's spec.
        backbone: the backbone class, as an import path (``architectures.gru.GRU``).
        image_as: how an image is read: ``rows``, ``pixels``, ``patches`` or ``conv`` (a residual 2-D conv stem).
        patch_size: side of image patches, and tokens per 1-D patch with ``patch_tokens``.
        patch_tokens: group token inputs into 1-D patches (per-position outputs are un-patched).
        cls_token: a learned CLS token in front (needed by ``pool=cls``).
        pos_encoding: ``sinusoidal``, ``learned`` or ``none``, added to the input (and target) embeddings.
        scale_embedding: multiply token embeddings by √d (Vaswani et al.).
        stem_stages: residual stages of the 2-D conv stem (``image_as=conv``).
        pool: how class outputs pool positions (``mean``, ``max``, ``last``, ``cls``).
        decoder: sequence outputs: ``own`` (the architecture's specific decoder when it has one) or ``generic``.
        n_dec_layers: decoder layers (null = the architecture's choice, usually as many as the encoder).
        tie_embeddings: share the target embedding with the output projection.
        init: initialisation of the weight matrices, applied once the model is built (:func:`init_weights`):
            ``torch`` (each module's PyTorch default), ``xavier`` (xavier_uniform, as the Annotated Transformer)
            or ``normal`` (N(0, 0.02), as nanoGPT); with the last two the biases of linear and conv layers start
            at zero. Embedding and positional tables, norms and recurrent biases keep their own initialisation.
        **hparams: the backbone's own settings; ``bidirectional: null`` follows ``spec.prefers_bidirectional``.

    A task whose spec is ``causal`` (causal language modelling) gets the backbone built with its
    ``causal_settings``, whatever its reading-direction setting, and tokens read one by one (no 1-D patches);
    a backbone that is still not causal is refused with one line. ``arch_info.context`` records which was built.
    """

    def __init__(
        self,
        spec: TaskSpec,
        *,
        backbone: str,
        image_as: str,
        patch_size: int,
        patch_tokens: bool,
        cls_token: bool,
        pos_encoding: str,
        scale_embedding: bool,
        stem_stages: int,
        pool: str,
        decoder: str,
        n_dec_layers: int | None,
        tie_embeddings: bool,
        init: str,
        **hparams,
    ):
        super().__init__()
        self.spec, cls = spec, backbone_class(backbone)
        if decoder not in DECODERS:
            raise ConfigError(f"arch.decoder={decoder!r} is not known; use one of {', '.join(DECODERS)}")
        if init not in INITS:
            raise ConfigError(f"arch.init={init!r} is not known; use one of {', '.join(INITS)}")
        self.init = init
        if "bidirectional" in hparams and hparams["bidirectional"] is None:
            hparams["bidirectional"] = bool(getattr(spec, "prefers_bidirectional", False))
        seq2seq = wants_decoder(spec, cls.__name__.lower())
        if spec.causal and not seq2seq:  # the task asks for the past only: the variant the backbone declares causal,
            hparams = {**hparams, **cls.causal_settings}  # reading tokens one by one (a 1-D patch holds future ones)
            patch_tokens = False
        if spec.output_kind == "tokens" and spec.input_kind == "image":
            raise ConfigError(f"{cls.__name__}: per-position outputs need token inputs, not images")
        reading = InputReading(
            image_as, patch_size, patch_tokens, cls_token, pos_encoding, scale_embedding, stem_stages
        )
        length = reading.length(spec) + int(cls_token)
        self.backbone = make_backbone(cls, length, hparams, settings_of(Model.__init__))
        self.adapter = InputAdapter(spec, self.backbone.width, reading, dropout=float(hparams.get("dropout", 0.0)))
        if spec.causal and not seq2seq and not self.backbone.causal:
            raise ConfigError(
                f"{cls.__name__}: this task needs a causal model (position i sees inputs ≤ i), but its "
                f"causal settings {cls.causal_settings} do not make it causal"
            )
        check_backbone(self.backbone, length, causal=bool(spec.causal and not seq2seq))  # shape, finite, causal
        self.decoder_kind = None
        if seq2seq:
            own = (
                None
                if decoder == "generic"
                else self.backbone.own_decoder(
                    spec,
                    n_layers=n_dec_layers,
                    tie_embeddings=tie_embeddings,
                    pos_encoding=pos_encoding,
                    scale_embedding=scale_embedding,
                )
            )
            self.decoder_kind = "own" if own is not None else "generic"
            if own is None:
                twin = make_backbone(
                    cls,
                    spec.tgt_max_len,
                    {**hparams, **cls.causal_settings, **({"n_layers": n_dec_layers} if n_dec_layers else {})},
                    settings_of(Model.__init__),
                )
                check_backbone(twin, spec.tgt_max_len, causal=bool(twin.causal))  # the decoder must not look ahead
                own = GenericDecoder(
                    spec,
                    twin,
                    self.backbone.out_width,
                    pos_encoding=pos_encoding,
                    scale_embedding=scale_embedding,
                    tie_embeddings=tie_embeddings,
                    dropout=float(hparams.get("dropout", 0.0)),
                )
            self.decoder = own
        elif spec.output_kind == "class":
            self.head = ClassHead(self.backbone.out_width, spec.num_classes, pool, has_cls=cls_token)
        else:
            self.head = TokenHead(self.backbone.out_width, spec.num_classes, self.adapter.per)
        init_weights(self, init)

    # -- forward --------------------------------------------------------------------------------------
    def forward_features(self, x, embedded=None):
        """x → (states (B, L', out_width), padding (B, L') or None)."""
        h, pad = self.adapter(x, embedded)
        return self.backbone(h, pad), pad

    def forward_head(self, h, pad, length: int):
        if self.spec.output_kind == "tokens":  # drop the CLS position and the positions added to fill a patch
            return self.head(h[:, self.adapter.n_cls :])[:, :length]  # (B, L, classes)
        return self.head(h, pad)  # (B, classes)

    def forward(self, x, tgt_in=None, *, embedded=None):
        if self.spec.output_kind == "sequence":
            return self.decode(self.encode(x, embedded), tgt_in)  # (B, T, tgt_vocab_size)
        return self.forward_head(*self.forward_features(x, embedded), x.shape[1])

    # -- seq2seq --------------------------------------------------------------------------------------
    def encode(self, src, embedded=None) -> tuple:
        """src (B, S) → memory: (states (B, S', out_width), padding (B, S') or None), batch first."""
        return self.forward_features(src, embedded)

    def decode(self, memory: tuple, tgt_in):
        """memory from :meth:`encode`, tgt_in (B, T) → logits (B, T, tgt_vocab_size) of the whole prefix."""
        return self.decoder(*memory, tgt_in)

    def decode_step(self, memory: tuple, tokens, state=None):
        """Incremental decoding: the next tokens (B, 1) → (logits (B, 1, V), state); ``state`` None at the start
        holds batch-first tensors (KV caches, recurrent states, buffers), reorderable for beam search."""
        return self.decoder.step(*memory, tokens, state)

    # -- what probes and records read -----------------------------------------------------------------
    def input_embedding(self, x):
        """Token embeddings (B, L, d) that ``forward(x, embedded=...)`` accepts; None for image inputs."""
        return self.adapter.embed(x) if self.adapter.tokens else None

    def forward_intermediates(self, x, pooled: bool = False) -> tuple[list[str], list[torch.Tensor]]:
        """Names and states (B, L', d_i): the adapter's output (embedding + positions), then each layer's output
        of the backbone (the encoder for seq2seq). ``pooled``: each state averaged over the positions that are
        not padding (B, d_i), as the class head's mean pooling reads them (CLS and patches included)."""
        h, pad = self.adapter(x)
        _, states = self.backbone.forward_intermediates(h, pad, keep=True)
        states = [h] + states
        if pooled:
            states = [masked_mean(s, pad) for s in states]
        return ["input"] + [f"layers.{i}" for i in range(len(states) - 1)], states

    def attention_modules(self) -> dict[str, MultiHeadAttention]:
        mods = {f"encoder.{k}": m for k, m in self.backbone.attentions().items()}
        if hasattr(self, "decoder") and hasattr(self.decoder, "attentions"):
            mods.update({f"decoder.{k}": m for k, m in self.decoder.attentions().items()})
        return mods

    @torch.no_grad()
    def attention_maps(self, *inputs) -> dict[str, torch.Tensor]:
        """Run ``inputs`` once and return every attention map by name, (B, heads, L, S); {} when none."""
        mods = self.attention_modules()
        try:
            for m in mods.values():
                m.keep_weights = True
            self(*inputs)
            return {k: m.weights for k, m in mods.items() if m.weights is not None}
        finally:
            for m in mods.values():
                m.keep_weights, m.weights = False, None

    def positional_table(self) -> torch.Tensor | None:
        """The positional-encoding table (P, d) added to the input embeddings, or None."""
        pos = self.adapter.pos
        return None if pos.kind == "none" else pos.pe.detach()

    def no_weight_decay(self) -> set[str]:
        """Parameters kept out of weight decay besides those of < 2 dims: embedding tables, positional
        tables, the CLS token, and what the backbone names."""
        names = {f"backbone.{n}" for n in self.backbone.no_weight_decay()}
        for prefix, m in self.named_modules():
            if isinstance(m, (nn.Embedding, PositionalEncoding)):
                names |= {f"{prefix}.{n}" if prefix else n for n, _ in m.named_parameters()}
        if self.adapter.cls is not None:
            names.add("adapter.cls")
        return names

    def describe(self) -> dict:
        """What the run record says about the built model (``arch_info``)."""
        info = {
            "backbone": type(self.backbone).__name__,
            "input": self.adapter.reading,
            "context": "causal" if self.backbone.causal else "bidirectional",
            "layers": len(self.backbone.layers),
            "attention": bool(self.backbone.attentions()),
            "init": self.init,
        }
        if self.decoder_kind:
            info["decoder"] = self.decoder_kind
        return {**info, **self.backbone.describe()}


def init_weights(model: Model, scheme: str) -> None:
    """Re-initialise the weight matrices of ``model`` by ``scheme`` (one of :data:`INITS`; ``torch`` = leave them).

    Matrices are the parameters of ≥ 2 dims that weight decay also treats as matrices (not the embedding and
    positional tables nor the CLS token, :meth:`Model.no_weight_decay`): linear, fused-QKV, conv and recurrent
    weights. The biases of linear and conv layers start at zero; norms and other 1-D parameters keep theirs.
    """
    if scheme == "torch":
        return
    skip = model.no_weight_decay()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() >= 2 and name not in skip:
                if scheme == "xavier":
                    nn.init.xavier_uniform_(p)
                else:
                    nn.init.normal_(p, mean=0.0, std=0.02)
        for m in model.modules():
            if isinstance(m, (nn.Linear, nn.Conv1d, nn.Conv2d)) and m.bias is not None:
                nn.init.zeros_(m.bias)


def make_backbone(cls: type[Backbone], max_len: int, hparams: dict, model_settings: list[str]) -> Backbone:
    try:
        return cls(max_len, **hparams)
    except TypeError as e:
        if "argument" not in str(e):
            raise
        valid = sorted(set(settings_of(cls.__init__)) | set(model_settings) - {"backbone"})
        raise ConfigError(f"arch ({cls.__name__}): {e}; valid settings: {', '.join(valid)}") from None
