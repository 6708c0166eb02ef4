"""The copy memory problem (Hochreiter & Schmidhuber 1997; Arjovsky, Shah & Bengio 2016).

Input (length T + 2n): ``n`` data symbols drawn from {1..8}, then T-1 blanks (0), the delimiter (9), then n
blanks. With ``repeat`` r > 1 the n symbols are written r times in a row before the blanks (length T + (r+1)·n):
every answer can then be read from r places, so blanking one of them need not change it (claim C9's test of
faithfulness). Target: blank at every position except the last n, which must repeat the n symbols. A model with no
memory can do no better than predicting blanks and then guessing uniformly among the 8 symbols, which costs
``baseline_loss = n·ln 8 / (T + 2n)`` per position.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from core.errors import ConfigError
from tasks.base import Batch, Task, TaskSpec
from tasks.synthetic import GeneratedTask, answer_metrics, answer_stats

BLANK, DELIM, N_SYMBOLS = 0, 9, 8
VOCAB = 10


class CopyLong(GeneratedTask):
    """Copy ``n_memorize`` symbols across ``delay`` steps.

    Args:
        delay: T, the number of steps between the last data symbol and the delimiter's end (≥ 1).
        n_memorize: n, symbols to remember (≥ 1).
        repeat: r, how many times the n symbols are written before the delay (≥ 1; 1 = the classic task).
        n_val, n_test: size of the fixed validation and test sets.
        data_seed: seed of the fixed validation/test sets (independent of the training seed, so that every
            run is scored on the same sequences).
    """

    main_metric = "acc"
    directions = {**Task.directions, "seq_acc": "max", "baseline_loss": "min"}

    def __init__(
        self,
        *,
        delay: int = 100,
        n_memorize: int = 10,
        n_val: int = 256,
        n_test: int = 512,
        data_seed: int = 1234,
        repeat: int = 1,
    ):
        if int(delay) < 1:
            raise ConfigError(
                f"task.delay={delay} must be at least 1 (the number of blanks before the output; e.g. task.delay=100)"
            )
        if int(n_memorize) < 1:
            raise ConfigError(f"task.n_memorize={n_memorize} must be at least 1 (default 10)")
        if int(repeat) < 1:
            raise ConfigError(f"task.repeat={repeat} must be at least 1 (copies of the symbols; 1 = the classic task)")
        if int(n_val) < 1 or int(n_test) < 1:
            raise ConfigError(f"task.n_val={n_val} and task.n_test={n_test} must be at least 1")
        self.delay, self.n, self.repeat = int(delay), int(n_memorize), int(repeat)
        self.n_val, self.n_test, self.data_seed = int(n_val), int(n_test), int(data_seed)
        self.length = self.delay + (self.repeat + 1) * self.n
        self.spec = TaskSpec(
            input_kind="tokens",
            output_kind="tokens",
            vocab_size=VOCAB,
            max_len=self.length,
            num_classes=VOCAB,
            pad_id=None,
        )
        self.baseline_loss = self.n * math.log(N_SYMBOLS) / self.length

    # -- data ---------------------------------------------------------------------------------------
    def generate(self, batch_size: int, generator: torch.Generator, device=None) -> tuple[torch.Tensor, torch.Tensor]:
        """(inputs, targets), both LongTensor (B, T + (r+1)·n), drawn from ``generator``."""
        device = device if device is not None else generator.device
        n, L = self.n, self.length
        symbols = torch.randint(1, N_SYMBOLS + 1, (batch_size, n), generator=generator, device=device)
        x = torch.full((batch_size, L), BLANK, dtype=torch.long, device=device)
        for k in range(self.repeat):
            x[:, k * n : (k + 1) * n] = symbols
        x[:, L - n - 1] = DELIM  # the delimiter is the last of the T steps of the delay
        return x, self.fixed_target(x)

    def fixed_target(self, x: torch.Tensor) -> torch.Tensor:
        """The correct output for inputs ``x`` (the oracle of the tests): blanks, then the first n symbols."""
        y = torch.full_like(x, BLANK)
        y[:, -self.n :] = x[:, : self.n]
        return y

    # -- metrics ------------------------------------------------------------------------------------
    def eval_stats(self, logits: torch.Tensor, batch: Batch) -> dict[str, torch.Tensor]:
        n = self.n
        y = batch.targets
        loss_sum = F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), y.reshape(-1), reduction="sum")
        return {"loss_sum": loss_sum, "positions": torch.tensor(float(y.numel())), **answer_stats(logits, y, n)}

    def finalize(self, s: dict[str, torch.Tensor]) -> dict:
        return answer_metrics(s, loss=float(s["loss_sum"] / s["positions"]), baseline_loss=self.baseline_loss)

    def describe(self) -> dict:
        out = {"delay": self.delay, "n_memorize": self.n, "seq_len": self.length, "baseline_loss": self.baseline_loss}
        return {**out, "repeat": self.repeat} if self.repeat > 1 else out

    def answer_positions(self, length: int) -> list[int]:
        """The last n positions, where the symbols are written back."""
        return list(range(length - self.n, length))

    @property
    def source_distance(self) -> int:
        """Symbol i is read at position i (its last copy: (r−1)·n + i) and written at position T + r·n + i: every
        distance to the nearest copy is T + n."""
        return self.delay + self.n

    @property
    def source_distances(self) -> list[int]:
        """The distance from an answer to each copy of its symbol, nearest first (one per ``repeat``)."""
        return [self.delay + self.n * (k + 1) for k in range(self.repeat)]

    def long_range(self, metrics: dict) -> dict:
        """The copy distance (the delay itself is in ``task_info``) and the accuracy by answer position."""
        return {"distance": self.source_distance, "acc_by_position": metrics.get("acc_by_position")}
