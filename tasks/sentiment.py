"""Sentence / document classification (sentiment): text in, one class out.

Data through :mod:`tasks.text_data` (hub id such as ``rotten_tomatoes``, ``imdb``, ``stanfordnlp/sst2``, or a local
folder); the number of classes is read from the labels. Each batch is padded to its longest text (texts are
truncated to ``max_len`` tokens first), so short-sentence sets do not pay for ``max_len`` positions.
Metrics: ``acc``, ``macro_f1`` (mean per-class F1 over the classes that occur in the labels or the predictions,
as scikit-learn's default) and ``loss`` (mean cross-entropy).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from core.errors import ConfigError
from tasks.base import Batch, TaskSpec
from tasks.checks import class_ids
from tasks.text_data import PAD, TextTask, pad_sequences
from tasks.text_source import TextSource, takes_text_source


def macro_f1(confusion: torch.Tensor) -> tuple[float, list[float]]:
    """(macro F1, per-class F1) from a confusion matrix (K, K), rows = true class, columns = predicted.

    Classes absent from both labels and predictions are left out of the mean (their F1 is reported as 0).
    """
    c = confusion.double()
    tp = c.diag()
    fp, fn = c.sum(0) - tp, c.sum(1) - tp
    denom = 2 * tp + fp + fn  # (K,)
    f1 = torch.where(denom > 0, 2 * tp / denom.clamp(min=1), torch.zeros_like(tp))
    present = denom > 0
    return (float(f1[present].mean()) if present.any() else 0.0), f1.tolist()


@takes_text_source
class Sentiment(TextTask):
    """Text classification from a text column and an integer label column.

    Args:
        data, tokenizer, vocab_size, max_len, lowercase, val_fraction, split_seed, train_fraction, cache_dir: the
            :class:`tasks.text_source.TextSource` settings (``train_fraction``: share of the labelled training rows).
        num_classes: K when some class has no training example; null = the classes of the train split, which
            must be exactly 0..K-1.
        label_map: raw label → class id (e.g. ``{neg: 0, pos: 1}`` or ``{1: 0, 2: 1}``), applied before the check.
        drop_empty: drop rows whose text or label is empty or missing (refused otherwise).
    """

    main_metric = "acc"
    directions = {**TextTask.directions, "macro_f1": "max"}

    def __init__(
        self,
        source: TextSource,
        *,
        num_classes: int | None = None,
        label_map: dict | None = None,
        drop_empty: bool = False,
    ):
        self.path, self.text_col, self.label_col = source.path, source.text_column, source.label_column
        self.train_fraction = source.train_fraction
        raw = source.read([self.text_col, self.label_col], drop_empty=drop_empty)
        if num_classes is not None and int(num_classes) < 2:
            raise ConfigError(f"task.num_classes={num_classes} must be ≥ 2, or null to read it from the labels")
        self.num_classes = class_ids(raw.splits, self.label_col, self.path, num_classes, label_map)
        self.label_map, self.dropped = dict(label_map) if label_map else None, raw.dropped
        tt = self.keep_tokens(source.tokenize(raw))
        self.rows = {}  # split -> (ids (N, L) padded, lengths (N,), labels (N,)) on the CPU until setup
        for s, fitted in tt.ids.items():
            self.rows[s] = (
                pad_sequences(fitted),
                torch.tensor([len(x) for x in fitted]),
                torch.tensor(raw.splits[s][self.label_col], dtype=torch.long),
            )
        self.sizes, self.carved = raw.sizes(), raw.carved_validation
        self.kind = self.tokenizer.kind
        self.spec = TaskSpec(
            input_kind="tokens",
            output_kind="class",
            vocab_size=self.tokenizer.vocab_size,
            max_len=self.max_len,
            num_classes=self.num_classes,
            pad_id=PAD,
        )

    # -- data ---------------------------------------------------------------------------------------
    def make_batch(self, split: str, idx) -> Batch:
        x, lengths, y = self.data[split]
        lengths = lengths[idx]  # (B,)
        longest_in_batch = int(lengths.max())
        return Batch((x[idx, :longest_in_batch],), y[idx], n_tokens=int(lengths.sum()))  # x: (B, L ≤ max_len)

    # -- metrics ------------------------------------------------------------------------------------
    def eval_stats(self, logits: torch.Tensor, batch: Batch) -> dict[str, torch.Tensor]:
        y, K = batch.targets, self.num_classes
        pred = logits.argmax(-1)  # (B,)
        confusion = torch.bincount(y * K + pred, minlength=K * K).reshape(K, K)  # rows true, columns predicted
        loss_sum = F.cross_entropy(logits.float(), y, reduction="sum")
        return {"confusion": confusion, "loss_sum": loss_sum}

    def finalize(self, s: dict[str, torch.Tensor]) -> dict:
        c = s["confusion"]
        n = float(c.sum())
        f1, per_class = macro_f1(c)
        return {
            "acc": float(c.diag().sum()) / n,
            "macro_f1": f1,
            "loss": float(s["loss_sum"]) / n,
            "f1_by_class": per_class,
        }

    def token_strings(self, ids: list[int]) -> list[str]:
        return [self.tokenizer.token(i) for i in ids]

    def describe(self) -> dict:
        return {
            "data": self.path,
            "text_column": self.text_col,
            "label_column": self.label_col,
            "tokenizer": self.kind,
            "vocab_size": self.spec.vocab_size,
            "max_len": self.max_len,
            "num_classes": self.num_classes,
            "label_map": self.label_map,
            "rows": self.sizes,
            "rows_dropped_empty": self.dropped,
            "validation_carved": self.carved,
            "truncated_share": self.truncated,
            "tokenizer_file": str(self.tokenizer_file) if self.tokenizer_file else None,
            "padding": "each batch padded to its longest text",
            **self.subset_info(),
        }
