"""Sequence-to-sequence pre-training by span corruption (T5, Raffel et al. 2020): a text with spans dropped in,
the dropped spans out, trained as an encoder–decoder by every architecture.

Data and tokenizer as :mod:`tasks.sentiment` / :mod:`tasks.mlm` (a text column; labels not read). Per text of
L tokens, ``round(L · noise_density)`` tokens (at least 1, at most L − 1) are noise, split into
``round(noise / mean_span)`` spans (at least 1) at random; noise and kept runs alternate, kept first. The
source is the text with each span replaced by one sentinel ``<extra_id_i>``; the target is each sentinel followed
by its span, then EOS — so source and target together rebuild the text (:func:`rebuild`). Training corruptions
are drawn afresh per batch from a generator seeded with the run seed; validation/test ones once from
``noise_seed``. Teacher forcing as in translation: ``model(src, BOS + y)`` scored against ``y + EOS``.
Metrics: ``acc`` (target tokens right), ``loss``, ``perplexity``.
"""

from __future__ import annotations

import torch

from core.errors import ConfigError
from tasks.base import Batch, strict_fraction
from tasks.corpus import CorpusTask
from tasks.text_data import BOS, EOS, N_SENTINELS, PAD, pad_sequences, text_to_text_spec
from tasks.text_source import TextSource, takes_text_source


def span_counts(length: int, noise_density: float, mean_span: float) -> tuple[int, int]:
    """(noise tokens, spans) for a text of ``length`` tokens (T5's ``random_spans_noise_mask`` rule)."""
    noise = min(max(round(length * noise_density), 1), max(length - 1, 1))
    spans = max(1, min(round(noise / mean_span), noise, max(length - noise, 1)))
    return noise, spans


def segment(n: int, parts: int, gen: torch.Generator) -> list[int]:
    """``n`` items cut into ``parts`` non-empty runs at random cut points; the run lengths."""
    cuts = (torch.randperm(n - 1, generator=gen)[: parts - 1] + 1).sort().values.tolist() if parts > 1 else []
    bounds = [0] + cuts + [n]
    return [b - a for a, b in zip(bounds, bounds[1:])]


def span_corrupt(
    ids: list[int], noise_density: float, mean_span: float, sentinels: list[int], gen: torch.Generator
) -> tuple[list[int], list[int]]:
    """(source, target) of one text: spans of ``ids`` replaced by sentinels in the source, and the target
    ``sentinel_0 span_0 sentinel_1 span_1 …`` (without EOS). A one-token text is all noise."""
    if len(ids) < 2:
        return sentinels[:1], sentinels[:1] + list(ids)
    noise, spans = span_counts(len(ids), noise_density, mean_span)
    noise_runs = segment(noise, spans, gen)
    keep_runs = segment(len(ids) - noise, spans, gen)
    src, tgt, pos = [], [], 0
    for i, (k, z) in enumerate(zip(keep_runs, noise_runs)):
        src += ids[pos : pos + k] + [sentinels[i]]
        tgt += [sentinels[i]] + ids[pos + k : pos + k + z]
        pos += k + z
    return src, tgt


def rebuild(src: list[int], tgt: list[int], sentinels: list[int]) -> list[int]:
    """The text again: every sentinel of the source replaced by the tokens that follow it in the target."""
    where = [i for i, t in enumerate(tgt) if t in sentinels] + [len(tgt)]
    spans = {tgt[a]: tgt[a + 1 : b] for a, b in zip(where, where[1:])}
    out = []
    for t in src:
        out += spans[t] if t in spans else [t]
    return out


@takes_text_source
class Denoise(CorpusTask):
    """Span-corruption pre-training over a text column.

    Args:
        data, tokenizer, vocab_size, max_len, lowercase, val_fraction, split_seed, cache_dir, train_fraction:
            the :class:`tasks.text_source.TextSource` settings (``max_len`` cuts the text before corruption).
        noise_density: share of each text's tokens that are dropped into spans (0.15 in T5).
        mean_span: mean span length in tokens (3 in T5).
        noise_seed: seed of the fixed validation/test corruptions.
    """

    def __init__(
        self,
        source: TextSource,
        *,
        noise_density: float = 0.15,
        mean_span: float = 3.0,
        noise_seed: int = 1234,
    ):
        self.noise_density = strict_fraction("noise_density", noise_density, "T5: 0.15")
        if float(mean_span) < 1:
            raise ConfigError(f"task.mean_span={mean_span} must be ≥ 1 token (T5: 3)")
        self.mean_span, self.noise_seed = float(mean_span), int(noise_seed)
        tt = self.load_corpus(source)
        noise, spans = span_counts(self.max_len, self.noise_density, self.mean_span)
        if spans > N_SENTINELS:
            raise ConfigError(
                f"texts of task.max_len={self.max_len} tokens need {spans} spans but the vocabulary "
                f"reserves {N_SENTINELS} sentinels; lower task.max_len or task.noise_density, or raise "
                "task.mean_span"
            )
        self.sentinels = self.tokenizer.reserved[1:]
        self.tgt_max_len = max(noise + spans, 2) + 1  # BOS/EOS + sentinels + span tokens, for the longest text
        self.ids = tt.ids  # split -> id lists (corrupted per batch / once for eval)
        self.rows = {s: (torch.arange(len(ids)),) for s, ids in tt.ids.items()}  # row numbers; text in self.ids
        V = self.tokenizer.vocab_size
        self.spec = text_to_text_spec(V, V, self.max_len, self.tgt_max_len)

    def corrupt(self, rows: list[int], split: str, gen: torch.Generator) -> Batch:
        """One batch from the texts ``rows`` of ``split``: (src (B, S), BOS + y (B, T)), targets y + EOS."""
        pairs = [
            span_corrupt(self.ids[split][r], self.noise_density, self.mean_span, self.sentinels, gen) for r in rows
        ]
        src = pad_sequences([s for s, _ in pairs])  # (B, S)
        tgt_in = pad_sequences([[BOS] + t for _, t in pairs])  # (B, T)
        targets = pad_sequences([t + [EOS] for _, t in pairs], pad=-100)  # (B, T)
        n_tokens = sum(len(s) + len(t) + 1 for s, t in pairs)
        return Batch((src, tgt_in), targets, n_tokens=n_tokens)

    # -- data ---------------------------------------------------------------------------------------
    def setup(self, device: torch.device, seed: int) -> None:
        super().setup(device, seed)
        fixed = torch.Generator().manual_seed(self.noise_seed)
        self.fixed = {s: self.corrupt(list(range(len(self.ids[s]))), s, fixed) for s in self.ids if s != "train"}

    def make_batch(self, split: str, idx) -> Batch:
        rows = self.data[split][0][idx].tolist()
        if split == "train":
            return self.corrupt(rows, split, self.gen).to(self.device)
        b = self.fixed[split]
        src, tgt_in = (t[rows] for t in b.inputs)
        targets = b.targets[rows]
        S, T = int((src != PAD).sum(1).max()), int((targets != -100).sum(1).max())
        n_tokens = int((src != PAD).sum() + (targets != -100).sum())
        return Batch((src[:, :S], tgt_in[:, :T]), targets[:, :T], n_tokens).to(self.device)

    def describe(self) -> dict:
        return {
            **super().describe(),
            "tgt_max_len": self.tgt_max_len,
            "corruption": {
                "noise_density": self.noise_density,
                "mean_span": self.mean_span,
                "eval_noise_seed": self.noise_seed,
                "train": "drawn per batch",
            },
        }
