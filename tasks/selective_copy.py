"""Selective copying (Gu & Dao 2023, "Mamba", §3.1 and Table 1).

Input (length ``seq_len + n_memorize``): a region of ``seq_len`` positions holding ``n_memorize`` data symbols at
random positions (drawn per sequence) among noise tokens (0), then ``n_memorize`` marker tokens. Target: at the
i-th marker, the i-th data symbol in order of appearance; every other position is ignored by the loss and the
metrics. Unlike the copy memory problem (``copy_long``), where the symbols sit at fixed positions, the spacing
varies, so a linear time-invariant model (a fixed convolution, e.g. ``s4d``) cannot solve it by position alone:
the model must select by content.

Data symbols are 1..vocab-2 (uniform, independent), noise is 0 and the marker is vocab-1. ``chance`` =
1/(vocab - 2), guessing uniformly among the symbols.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from core.errors import ConfigError, whole
from tasks.base import Batch, Task, TaskSpec
from tasks.synthetic import GeneratedTask, answer_metrics, answer_stats

NOISE = 0
IGNORE = -100


class SelectiveCopy(GeneratedTask):
    """Copy the ``n_memorize`` data symbols scattered among noise, in order.

    Args:
        seq_len: length of the region holding the data symbols and the noise (≥ n_memorize).
        n_memorize: data symbols to copy (≥ 1).
        vocab: vocabulary size (≥ 4): noise 0, data symbols 1..vocab-2, marker vocab-1.
        n_val, n_test: size of the fixed validation and test sets.
        data_seed: seed of the fixed validation/test sets (independent of the training seed).
    """

    main_metric = "acc"
    directions = {**Task.directions, "seq_acc": "max", "chance": "max"}

    def __init__(
        self,
        *,
        seq_len: int = 64,
        n_memorize: int = 8,
        vocab: int = 10,
        n_val: int = 256,
        n_test: int = 512,
        data_seed: int = 1234,
    ):
        seq_len, n = whole("task.seq_len", seq_len, 1), whole("task.n_memorize", n_memorize, 1)
        self.vocab = whole("task.vocab", vocab, 4)
        self.n_val, self.n_test = whole("task.n_val", n_val, 1), whole("task.n_test", n_test, 1)
        self.data_seed = int(data_seed)
        if n > seq_len:
            raise ConfigError(
                f"task.n_memorize={n} must be at most task.seq_len={seq_len} (the symbols sit in the "
                "region of seq_len positions)"
            )
        self.seq_len, self.n = seq_len, n
        self.marker, self.n_symbols = self.vocab - 1, self.vocab - 2
        self.length = seq_len + n
        self.chance = 1.0 / self.n_symbols
        self.spec = TaskSpec(
            input_kind="tokens",
            output_kind="tokens",
            vocab_size=self.vocab,
            max_len=self.length,
            num_classes=self.vocab,
            pad_id=None,
            ignore_index=IGNORE,
        )

    # -- data ---------------------------------------------------------------------------------------
    def generate(self, batch_size: int, generator: torch.Generator, device=None) -> tuple[torch.Tensor, torch.Tensor]:
        """(inputs, targets), LongTensor (B, seq_len + n_memorize) each, drawn from ``generator`` on its device."""
        device = device if device is not None else generator.device
        B, n, L = batch_size, self.n, self.seq_len
        symbols = torch.randint(1, self.n_symbols + 1, (B, n), generator=generator, device=device)  # (B, n)
        where = torch.rand(B, L, generator=generator, device=device).argsort(dim=1)[:, :n].sort(dim=1).values
        x = torch.full((B, self.length), NOISE, dtype=torch.long, device=device)
        x.scatter_(1, where, symbols)
        x[:, L:] = self.marker
        y = torch.full_like(x, IGNORE)
        y[:, L:] = symbols
        return x, y

    # -- metrics ------------------------------------------------------------------------------------
    def eval_stats(self, logits: torch.Tensor, batch: Batch) -> dict[str, torch.Tensor]:
        n, y = self.n, batch.targets
        loss_sum = F.cross_entropy(
            logits[:, -n:].float().reshape(-1, logits.shape[-1]), y[:, -n:].reshape(-1), reduction="sum"
        )
        return {"loss_sum": loss_sum, **answer_stats(logits, y, n)}

    def finalize(self, s: dict[str, torch.Tensor]) -> dict:
        return answer_metrics(s, loss=float(s["loss_sum"] / (s["count"] * self.n)), chance=self.chance)

    def describe(self) -> dict:
        return {"seq_len": self.seq_len, "n_memorize": self.n, "vocab": self.vocab, "chance": self.chance}

    def answer_positions(self, length: int) -> list[int]:
        """The n marker positions, where the symbols are written back."""
        return list(range(length - self.n, length))
