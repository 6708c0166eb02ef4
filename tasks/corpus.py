"""What the corpus tasks (``mlm``, ``denoise``, ``lm``) share: one text column of a data set, loaded and tokenized
as sentiment does (labels are not read), a generator that corrupts each training batch afresh (seeded with the
run seed, saved for resume), and per-token metrics over the positions the task scores: ``acc``, ``loss``,
``perplexity``."""

from __future__ import annotations

import sys

import torch
import torch.nn.functional as F

from tasks.base import Batch, token_metrics, token_stats
from tasks.text_data import TextTask, TokenizedText
from tasks.text_source import TextSource

EVAL_LOGITS = 2**26  # most logits (batch × length × vocabulary) per evaluation batch: 256 MB in fp32


class CorpusTask(TextTask):
    """A text column to corrupt and restore. Subclasses take their :class:`TextSource` settings
    (``@takes_text_source``), call :meth:`load_corpus` in ``__init__``, set the spec, and draw training corruptions
    from ``self.gen``."""

    main_metric = "acc"
    directions = {"acc": "max", "loss": "min", "perplexity": "min"}

    def load_corpus(self, source: TextSource, **settings) -> TokenizedText:
        """Read the source's text column of every split (labels are not read) and tokenize it. The older form
        ``load_corpus(data, tokenizer=…, …)`` still works, with one warning line, until 0.3."""
        if not isinstance(source, TextSource):
            print(
                "warning: CorpusTask.load_corpus(data, tokenizer=..., ...) is deprecated and goes in 0.3; decorate "
                "the task with tasks.text_source.takes_text_source and call load_corpus(source)",
                file=sys.stderr,
            )
            source = TextSource(data=source, **settings)
        self.path, self.text_col, self.train_fraction = source.path, source.text_column, source.train_fraction
        raw = source.read([self.text_col])
        tt = self.keep_tokens(source.tokenize(raw))
        self.sizes, self.carved, self.kind = raw.sizes(), raw.carved_validation, self.tokenizer.kind
        return tt

    def setup(self, device: torch.device, seed: int) -> None:
        super().setup(device, seed)
        self.gen = torch.Generator().manual_seed(int(seed) + 1)  # training corruptions (the sampler has its own)

    def state_dict(self) -> dict:
        return {**super().state_dict(), "corrupt_gen": self.gen.get_state()}

    def load_state_dict(self, state: dict) -> None:
        super().load_state_dict(state)
        self.gen.set_state(state["corrupt_gen"])

    def eval_batches(self, split: str, batch_size: int):
        """As for every text task; with per-position outputs (mlm, lm) batches are capped so that their logits
        stay under ``EVAL_LOGITS`` values."""
        if self.spec.output_kind == "tokens":
            batch_size = min(batch_size, max(1, EVAL_LOGITS // (self.spec.max_len * self.spec.num_classes)))
        return super().eval_batches(split, batch_size)

    def loss(self, logits: torch.Tensor, batch: Batch) -> torch.Tensor:
        """Mean cross-entropy over the scored positions (0 when a batch has none)."""
        y = batch.targets.reshape(-1)
        loss_sum = F.cross_entropy(
            logits.reshape(-1, logits.shape[-1]).float(), y, ignore_index=self.spec.ignore_index, reduction="sum"
        )
        return loss_sum / (y != self.spec.ignore_index).sum().clamp(min=1)

    def eval_stats(self, logits: torch.Tensor, batch: Batch) -> dict[str, torch.Tensor]:
        return token_stats(logits, batch.targets, self.spec.ignore_index)

    def finalize(self, s: dict[str, torch.Tensor]) -> dict:
        return token_metrics(s)

    def describe(self) -> dict:
        return {
            "data": self.path,
            "text_column": self.text_col,
            "tokenizer": self.kind,
            "vocab_size": self.spec.vocab_size,
            "max_len": self.max_len,
            "rows": self.sizes,
            "validation_carved": self.carved,
            "truncated_share": self.truncated,
            "tokenizer_file": str(self.tokenizer_file) if self.tokenizer_file else None,
            **self.subset_info(),
        }
