"""What every task generated on the fly shares: fixed validation/test sets drawn from ``data_seed`` (the same for
every run), a training stream drawn on the device from the run's seed, and bitwise resume of that stream.

A subclass sets ``n_val``, ``n_test`` and ``data_seed`` and implements ``generate(batch_size, generator, device)``
→ (inputs, targets). Tasks whose answers are the last ``n`` positions (copy_long, selective_copy) score them with
:func:`answer_stats` and :func:`answer_metrics`.
"""

from __future__ import annotations

import torch

from tasks.base import Batch, Task, batches_of


class GeneratedTask(Task):
    """A task whose sequences come from a seeded generator (nothing to download)."""

    n_val: int
    n_test: int
    data_seed: int

    def generate(self, batch_size: int, generator: torch.Generator, device=None) -> tuple[torch.Tensor, torch.Tensor]:
        raise NotImplementedError

    def setup(self, device: torch.device, seed: int) -> None:
        self.device = torch.device(device)
        self.gen = torch.Generator(device=self.device)
        self.gen.manual_seed(int(seed))
        fixed = torch.Generator().manual_seed(self.data_seed)
        self.fixed = {"val": self.generate(self.n_val, fixed, "cpu"), "test": self.generate(self.n_test, fixed, "cpu")}
        self.fixed = {k: (x.to(self.device), y.to(self.device)) for k, (x, y) in self.fixed.items()}

    def train_batch(self, batch_size: int) -> Batch:
        x, y = self.generate(batch_size, self.gen)
        return Batch((x,), y, n_tokens=x.numel())

    def eval_batches(self, split: str, batch_size: int):
        x, y = self.fixed[split]
        for s in batches_of(len(x), batch_size):
            yield Batch((x[s],), y[s], n_tokens=x[s].numel())

    def state_dict(self) -> dict:
        return {"gen": self.gen.get_state()}

    def load_state_dict(self, state: dict) -> None:
        self.gen.set_state(state["gen"])


def answer_stats(logits: torch.Tensor, targets: torch.Tensor, n: int) -> dict[str, torch.Tensor]:
    """Sums over one batch whose answers are its last ``n`` positions: answers right by position (n,), whole
    answers right, and the count of sequences."""
    right = logits[:, -n:].argmax(-1) == targets[:, -n:]  # (B, n)
    return {
        "right_by_pos": right.sum(0).double(),
        "seq_right": right.all(1).sum().double(),
        "count": torch.tensor(float(targets.shape[0])),
    }


def answer_metrics(s: dict[str, torch.Tensor], **more) -> dict:
    """``acc`` (mean over answer positions), ``seq_acc`` (whole answers right), ``more`` and ``acc_by_position``
    from the summed :func:`answer_stats`."""
    by_pos = (s["right_by_pos"] / s["count"]).tolist()
    return {
        "acc": float(sum(by_pos) / len(by_pos)),
        "seq_acc": float(s["seq_right"] / s["count"]),
        **more,
        "acc_by_position": by_pos,
    }
