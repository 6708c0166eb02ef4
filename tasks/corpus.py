"""What the corpus tasks (``mlm``, ``denoise``, ``lm``) share: one text column of a data set, loaded and tokenized
as sentiment does (labels are not read), a generator that corrupts each training batch afresh (seeded with the
run seed, saved for resume), and per-token metrics over the positions the task scores: ``acc``, ``loss``,
``perplexity``."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from tasks.base import Batch, check_train_fraction, token_metrics, token_stats
from tasks.text_data import TextTask, TokenizedText, check_data_keys, load_text_data, tokenize_column

EVAL_LOGITS = 2**26  # most logits (batch × length × vocabulary) per evaluation batch: 256 MB in fp32


class CorpusTask(TextTask):
    """A text column to corrupt and restore. Subclasses call :meth:`load_corpus` in ``__init__``, set the spec,
    and draw training corruptions from ``self.gen``."""

    main_metric = "acc"
    directions = {"acc": "max", "loss": "min", "perplexity": "min"}

    def load_corpus(
        self,
        data: dict,
        *,
        tokenizer: str,
        vocab_size: int,
        max_len: int | None,
        lowercase: bool,
        val_fraction: float,
        split_seed: int,
        train_fraction: float,
        cache_dir: str | None,
    ) -> TokenizedText:
        """Read ``data.text_column`` of every split (a ``label_column`` key is accepted and ignored, so that a
        data set's sentiment settings carry over) and tokenize it."""
        data = check_data_keys(data, ("path", "name", "text_column", "label_column", "val_split", "test_split"))
        self.path, self.text_col = str(data["path"]), str(data.get("text_column", "text"))
        self.train_fraction = check_train_fraction(train_fraction)
        raw = load_text_data(
            self.path,
            [self.text_col],
            name=data.get("name"),
            val_split=data.get("val_split", "validation"),
            test_split=data.get("test_split", "test"),
            val_fraction=float(val_fraction),
            split_seed=int(split_seed),
            cache_dir=cache_dir,
        )
        tt = tokenize_column(
            raw,
            self.text_col,
            tokenizer=tokenizer,
            vocab_size=vocab_size,
            lowercase=lowercase,
            max_len=max_len,
            cache_dir=cache_dir,
        )
        self.tokenizer, self.tokenizer_file, self.max_len, self.truncated = (
            tt.tokenizer,
            tt.tokenizer_file,
            tt.max_len,
            tt.truncated,
        )
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
