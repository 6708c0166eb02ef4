"""Multi-query associative recall, MQAR (Arora et al. 2023, "Zoology"; after Ba et al. 2016's associative recall).

Input (length ``seq_len``): ``n_pairs`` key–value pairs ``k1 v1 k2 v2 …`` first, then ``n_queries`` of those keys
in random order, each at a random position of the rest of the sequence, which is filler (token 0). Keys are drawn
from the first half of the vocabulary and values from the second half (disjoint); keys are unique within a
sequence, and so are values. Target: at each query position, the value that followed that key; every other
position is ignored by the loss and the metrics.

Values are drawn independently of keys in every sequence, so nothing about the query token or its position tells
the answer: a model must look the key up. Chance levels: ``chance`` = 1/n_pairs (guessing among the sequence's
own values, the best a model can do without binding keys to values) and ``uniform_chance`` = 1/n_values
(guessing among every value token).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from core.errors import ConfigError, whole
from tasks.base import Batch, Task, TaskSpec
from tasks.synthetic import GeneratedTask

FILLER = 0
IGNORE = -100


class AssocRecall(GeneratedTask):
    """Recall the value bound to each queried key.

    Args:
        n_pairs: key–value pairs per sequence (≥ 1).
        vocab: vocabulary size: token 0 is filler, then (vocab - 1) // 2 key tokens, then as many value tokens
            (at least 2·n_pairs + 1, so that keys and values can be unique within a sequence).
        seq_len: sequence length (≥ 2·n_pairs + n_queries).
        n_queries: queries per sequence (1 ≤ n_queries ≤ n_pairs; each pair is queried at most once).
        n_val, n_test: size of the fixed validation and test sets.
        data_seed: seed of the fixed validation/test sets (independent of the training seed).
    """

    main_metric = "acc"
    directions = {**Task.directions, "seq_acc": "max", "chance": "max", "uniform_chance": "max"}

    def __init__(
        self,
        *,
        n_pairs: int = 8,
        vocab: int = 64,
        seq_len: int = 64,
        n_queries: int = 8,
        n_val: int = 256,
        n_test: int = 512,
        data_seed: int = 1234,
    ):
        n_pairs, vocab = whole("task.n_pairs", n_pairs, 1), whole("task.vocab", vocab, 3)
        seq_len, n_queries = whole("task.seq_len", seq_len, 3), whole("task.n_queries", n_queries, 1)
        self.n_val, self.n_test = whole("task.n_val", n_val, 1), whole("task.n_test", n_test, 1)
        self.data_seed = int(data_seed)
        if vocab < 2 * n_pairs + 1:
            raise ConfigError(
                f"task.vocab={vocab} is too small for task.n_pairs={n_pairs}: keys and values are "
                f"unique within a sequence, so vocab must be at least 2·n_pairs + 1 = {2 * n_pairs + 1}"
            )
        if n_queries > n_pairs:
            raise ConfigError(
                f"task.n_queries={n_queries} must be at most task.n_pairs={n_pairs} (each pair is queried at most once)"
            )
        if seq_len < 2 * n_pairs + n_queries:
            raise ConfigError(
                f"task.seq_len={seq_len} is too short: the pairs and queries need at least "
                f"2·n_pairs + n_queries = {2 * n_pairs + n_queries} positions"
            )
        self.n_pairs, self.vocab, self.seq_len, self.n_queries = n_pairs, vocab, seq_len, n_queries
        self.n_keys = (vocab - 1) // 2  # key ids 1..n_keys, value ids n_keys+1..2·n_keys
        self.chance = 1.0 / n_pairs
        self.uniform_chance = 1.0 / self.n_keys
        self.spec = TaskSpec(
            input_kind="tokens",
            output_kind="tokens",
            vocab_size=vocab,
            max_len=seq_len,
            num_classes=vocab,
            pad_id=None,
            ignore_index=IGNORE,
        )

    # -- data ---------------------------------------------------------------------------------------
    def generate(self, batch_size: int, generator: torch.Generator, device=None) -> tuple[torch.Tensor, torch.Tensor]:
        """(inputs, targets), LongTensor (B, seq_len) each, drawn from ``generator`` on its device."""
        device = device if device is not None else generator.device
        B, N, Q, L = batch_size, self.n_pairs, self.n_queries, self.seq_len

        def distinct(n_from: int, k: int) -> torch.Tensor:  # (B, k): k distinct draws from 0..n_from-1 per row
            return torch.rand(B, n_from, generator=generator, device=device).argsort(dim=1)[:, :k]

        keys = distinct(self.n_keys, N) + 1  # (B, N)
        values = distinct(self.n_keys, N) + 1 + self.n_keys  # (B, N), independent of the keys
        asked = distinct(N, Q)  # (B, Q): which pairs are queried, in random order
        slots = distinct(L - 2 * N, Q).sort(dim=1).values + 2 * N  # (B, Q): where the queries sit, in order
        x = torch.full((B, L), FILLER, dtype=torch.long, device=device)
        x[:, 0 : 2 * N : 2], x[:, 1 : 2 * N : 2] = keys, values
        x.scatter_(1, slots, keys.gather(1, asked))
        y = torch.full((B, L), IGNORE, dtype=torch.long, device=device)
        y.scatter_(1, slots, values.gather(1, asked))
        return x, y

    # -- metrics ------------------------------------------------------------------------------------
    def eval_stats(self, logits: torch.Tensor, batch: Batch) -> dict[str, torch.Tensor]:
        y = batch.targets
        asked = y != IGNORE  # (B, L) query positions
        loss_sum = F.cross_entropy(
            logits.float().reshape(-1, logits.shape[-1]), y.reshape(-1), ignore_index=IGNORE, reduction="sum"
        )
        right = (logits.argmax(-1) == y) & asked  # (B, L)
        return {
            "loss_sum": loss_sum,
            "queries": asked.sum().double(),
            "right": right.sum().double(),
            "seq_right": (right.sum(1) == asked.sum(1)).sum().double(),
            "count": torch.tensor(float(y.shape[0])),
        }

    def finalize(self, s: dict[str, torch.Tensor]) -> dict:
        return {
            "acc": float(s["right"] / s["queries"]),
            "seq_acc": float(s["seq_right"] / s["count"]),
            "loss": float(s["loss_sum"] / s["queries"]),
            "chance": self.chance,
            "uniform_chance": self.uniform_chance,
        }

    def describe(self) -> dict:
        return {
            "n_pairs": self.n_pairs,
            "n_queries": self.n_queries,
            "vocab": self.vocab,
            "seq_len": self.seq_len,
            "chance": self.chance,
            "uniform_chance": self.uniform_chance,
        }
