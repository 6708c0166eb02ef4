"""The contract between tasks, architectures and the harness.

A task owns its data, loss and metrics and publishes a frozen :class:`TaskSpec`. Architectures read sizes
from the spec only; the harness only calls the methods of :class:`Task`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F

from core.errors import ConfigError

INPUT_KINDS = ("tokens", "image")
OUTPUT_KINDS = ("class", "tokens", "sequence")


@dataclass(frozen=True)
class TaskSpec:
    """What an architecture needs to know about a task.

    Args:
        input_kind: ``tokens`` (LongTensor (B, L)) or ``image`` (FloatTensor (B, C, H, W)).
        output_kind: ``class`` (logits (B, num_classes)), ``tokens`` (logits (B, L, num_classes), one per
            input position) or ``sequence`` (seq2seq: ``model(src, tgt_in)`` → (B, T, tgt_vocab_size)).
        vocab_size: input vocabulary size (tokens input).
        max_len: longest input sequence the task will produce.
        image_shape: (C, H, W) for image input.
        num_classes: classes (class output) or labels per position (tokens output).
        pad_id: id of padding in token inputs, or None when inputs are never padded.
        ignore_index: target value the loss ignores.
        tgt_vocab_size, tgt_max_len, bos_id, eos_id, tgt_pad_id: the target side of seq2seq tasks.
        (How a model reads an image is the model's setting, ``arch.image_as``.)
        prefers_bidirectional: a position's output should depend on the positions after it too (masked language
            modelling); architectures whose reading direction is left open (recurrent ``bidirectional=null``)
            follow it.
        causal: the output at position i must depend on inputs ≤ i only (causal language modelling); the
            shared model builds the causal variant the architecture declares, or refuses.
    """

    input_kind: str
    output_kind: str
    vocab_size: int = 0
    max_len: int = 0
    image_shape: tuple[int, int, int] = (0, 0, 0)
    num_classes: int = 0
    pad_id: int | None = None
    ignore_index: int = -100
    tgt_vocab_size: int = 0
    tgt_max_len: int = 0
    bos_id: int = 1
    eos_id: int = 2
    tgt_pad_id: int = 0
    prefers_bidirectional: bool = False  # outputs should see both sides (MLM); recurrent bidirectional=null follows
    causal: bool = False  # outputs may see only the past (causal LM): the model builds its causal variant or refuses

    def __post_init__(self):
        if self.input_kind not in INPUT_KINDS:
            raise ConfigError(f"input_kind {self.input_kind!r} is not one of {INPUT_KINDS}")
        if self.output_kind not in OUTPUT_KINDS:
            raise ConfigError(f"output_kind {self.output_kind!r} is not one of {OUTPUT_KINDS}")

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Batch:
    """One batch: ``model(*inputs)`` gives the logits that ``task.loss(logits, batch)`` scores."""

    inputs: tuple
    targets: torch.Tensor
    n_tokens: int  # input tokens (or pixels read as a sequence) in the batch, for throughput

    @property
    def n_samples(self) -> int:
        return int(self.targets.shape[0])

    def to(self, device) -> Batch:
        move = lambda t: t.to(device, non_blocking=True) if torch.is_tensor(t) else t
        return Batch(tuple(move(t) for t in self.inputs), move(self.targets), self.n_tokens)


class Task:
    """Base class of every task.

    Subclasses set ``self.spec`` in ``__init__`` (validating their settings there, so that bad input fails
    before training) and implement ``setup``, ``train_batch``, ``eval_batches``, ``eval_stats`` and
    ``finalize``. The loss defaults to cross-entropy over ``spec.ignore_index``.
    """

    spec: TaskSpec
    main_metric: str = "acc"  # what reports show first
    directions: dict[str, str] = {"acc": "max", "loss": "min"}  # per metric: max = higher is better, min = lower
    train_fraction: float = 1.0  # share of the training rows used; setup keeps ``train_rows`` (drawn with the seed)
    # how far each answer sits from the input position it copies (copy tasks; the record's long_range.distance);
    # None where the answers read no single position
    source_distance: int | None = None

    # -- data ---------------------------------------------------------------------------------------
    def setup(self, device: torch.device, seed: int) -> None:
        """Prepare data on ``device``; ``seed`` drives the order/generation of training batches."""
        raise NotImplementedError

    def train_batch(self, batch_size: int) -> Batch:
        """The next training batch (already on the device)."""
        raise NotImplementedError

    def eval_batches(self, split: str, batch_size: int) -> Iterable[Batch]:
        raise NotImplementedError

    def state_dict(self) -> dict:
        """Where the training stream stands (RNG state, epoch, position), for bitwise resume."""
        return {}

    def data_fingerprint(self) -> str | None:
        """A hash of the data read from files (recorded; a resume on other data is refused); None for data
        generated from the seed."""
        return None

    def load_state_dict(self, state: dict) -> None:
        pass

    # -- loss and metrics ---------------------------------------------------------------------------
    def loss(self, logits: torch.Tensor, batch: Batch) -> torch.Tensor:
        return F.cross_entropy(
            logits.reshape(-1, logits.shape[-1]).float(), batch.targets.reshape(-1), ignore_index=self.spec.ignore_index
        )

    def eval_stats(self, logits: torch.Tensor, batch: Batch) -> dict[str, torch.Tensor]:
        """Sums over one batch (e.g. correct, count, loss_sum); added up over the split."""
        raise NotImplementedError

    def finalize(self, sums: dict[str, torch.Tensor]) -> dict:
        """Turn the summed statistics into metrics (floats, or lists of floats)."""
        raise NotImplementedError

    @torch.no_grad()
    def evaluate(self, model: torch.nn.Module, split: str, batch_size: int, forward=None) -> dict:
        """Metrics of ``model`` on ``split``. ``forward(model, batch)`` lets the harness add autocast."""
        forward = forward or (lambda m, b: m(*b.inputs))
        sums: dict[str, torch.Tensor] = {}
        for batch in self.eval_batches(split, batch_size):
            stats = self.eval_stats(forward(model, batch), batch)
            for k, v in stats.items():
                sums[k] = sums[k] + v if k in sums else v
        return self.finalize({k: v.detach().double().cpu() for k, v in sums.items()})

    # -- what the record says about the task -------------------------------------------------------
    def describe(self) -> dict:
        """Settings worth recording in the summary (data source, sizes, ...)."""
        return {}

    def artifacts(self) -> dict[str, list[dict]]:
        """Rows to save beside the record after the test evaluation, as ``<name>.jsonl`` (e.g. translation
        samples). The harness writes them; tasks never touch the run folder."""
        return {}

    def subset_info(self) -> dict:
        """What the record says about the training subset (``train_fraction`` < 1 keeps part of the rows)."""
        info = {"train_fraction": self.train_fraction}
        if hasattr(self, "train_rows"):
            info.update(train_rows_used=len(self.train_rows), subset_seed=self.subset_seed)
        return info

    def run_files(self) -> dict[str, str]:
        """Text files to save in the run folder, ``{name: content}`` (e.g. the trained tokenizer, which a run
        started with ``init_from`` reuses). The harness writes them."""
        return {}

    def token_strings(self, ids: list[int]) -> list[str]:
        """Input token ids as text, for the probes' files (text tasks decode with their tokenizer)."""
        return [str(i) for i in ids]

    def target_token_strings(self, ids: list[int]) -> list[str]:
        """Target-side token ids as text (seq2seq tasks with their own target vocabulary override it)."""
        return self.token_strings(ids)

    def answer_positions(self, length: int) -> list[int]:
        """Output positions whose loss the long-range probes differentiate (per-position outputs of a
        sequence of ``length``); by default all of them."""
        return list(range(length))

    def long_range(self, metrics: dict) -> dict:
        """Long-range view of the final test metrics (e.g. accuracy by distance); {} when not a sequence task."""
        return {}


class EpochSampler:
    """Shuffled epochs over ``n`` training rows from a seeded CPU ``torch.Generator`` (the same stream on every
    device); every batch is full, the last one of an epoch running into the next. Resumable bitwise."""

    def __init__(self, n: int, seed: int):
        self.n, self.gen = n, torch.Generator().manual_seed(int(seed))
        self.epoch, self.pos = 0, 0
        self.order = torch.randperm(n, generator=self.gen)

    def next(self, batch_size: int) -> torch.Tensor:
        """Indices (batch_size,) of the next batch."""
        parts, need = [], batch_size
        while need:
            take = min(need, self.n - self.pos)
            parts.append(self.order[self.pos : self.pos + take])
            self.pos, need = self.pos + take, need - take
            if self.pos == self.n:
                self.epoch, self.pos = self.epoch + 1, 0
                self.order = torch.randperm(self.n, generator=self.gen)
        return torch.cat(parts)

    def state_dict(self) -> dict:
        return {"epoch": self.epoch, "pos": self.pos, "order": self.order.clone(), "gen": self.gen.get_state()}

    def load_state_dict(self, state: dict) -> None:
        if len(state["order"]) != self.n:
            raise ConfigError(
                f"the checkpoint's data order covers {len(state['order'])} training rows but this "
                f"task has {self.n}; resume with the same task.data settings"
            )
        self.epoch, self.pos = int(state["epoch"]), int(state["pos"])
        self.order = state["order"].clone()
        self.gen.set_state(state["gen"])


def to_device(t: torch.Tensor, device: torch.device) -> torch.Tensor:
    """A CPU tensor (e.g. a batch's indices) on ``device`` without making the host wait for the GPU: on CUDA it
    is pinned and copied asynchronously (a copy from pageable memory would synchronise every step)."""
    if torch.device(device).type == "cuda":
        return t.pin_memory().to(device, non_blocking=True)
    return t.to(device)


def check_train_fraction(value) -> float:
    """``task.train_fraction`` as a float in (0, 1], or one clear ConfigError."""
    try:
        f = float(value)
    except (TypeError, ValueError):
        f = float("nan")
    if not 0 < f <= 1:
        raise ConfigError(f"task.train_fraction={value} must be a fraction in (0, 1] (1 = the whole train split)")
    return f


def strict_fraction(key: str, value, usual: str) -> float:
    """``task.<key>`` as a float strictly between 0 and 1, or one ConfigError line (``usual``: its usual value)."""
    if not 0 < float(value) < 1:
        raise ConfigError(f"task.{key}={value} must lie strictly between 0 and 1 ({usual})")
    return float(value)


def train_subset(n: int, fraction: float, seed: int) -> torch.Tensor:
    """Indices (sorted) of ``round(n · fraction)`` training rows (at least one), drawn by a permutation seeded with
    ``seed``: the labelled subset of a data-efficiency run. ``fraction == 1`` keeps every row."""
    if fraction >= 1:
        return torch.arange(n)
    keep = max(1, round(n * fraction))
    return torch.randperm(n, generator=torch.Generator().manual_seed(int(seed)))[:keep].sort().values


def token_stats(logits: torch.Tensor, targets: torch.Tensor, ignore_index: int) -> dict[str, torch.Tensor]:
    """Sums for per-token metrics over the positions whose target is not ``ignore_index``: cross-entropy
    ``loss_sum``, ``right`` (argmax hits) and ``tokens``. logits (..., V), targets (...)."""
    keep = targets != ignore_index
    loss_sum = F.cross_entropy(
        logits.float().reshape(-1, logits.shape[-1]), targets.reshape(-1), ignore_index=ignore_index, reduction="sum"
    )
    right = (logits.argmax(-1) == targets) & keep
    return {"loss_sum": loss_sum, "right": right.sum().double(), "tokens": keep.sum().double()}


def token_metrics(s: dict[str, torch.Tensor]) -> dict:
    """``acc``, ``loss`` (mean cross-entropy per scored token) and ``perplexity`` from :func:`token_stats` sums."""
    n = max(float(s["tokens"]), 1.0)
    loss = float(s["loss_sum"]) / n
    return {"acc": float(s["right"]) / n, "loss": loss, "perplexity": math.exp(min(loss, 50.0))}


def batches_of(n: int, batch_size: int) -> Iterator[slice]:
    for start in range(0, n, batch_size):
        yield slice(start, min(start + batch_size, n))
