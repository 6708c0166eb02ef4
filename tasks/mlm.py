"""Masked language modelling (BERT's pre-training task): tokens in, the masked tokens predicted per position.

Data and tokenizer exactly as :mod:`tasks.sentiment` (hub id or local folder, ``data.text_column``, the same cached
tokenizers, so a sentiment run on the same texts gets the same vocabulary); labels are not read. Each text is
cut to ``max_len`` tokens. ``mask_prob`` of the real (non-padding) positions are selected; of those 80% become
``<mask>``, 10% a random ordinary token and 10% stay unchanged (Devlin et al. 2019). The loss and the metrics
count the selected positions only. Training masks are drawn afresh for every batch (dynamic masking) from a
generator seeded with the run seed; validation and test masks are drawn once from ``mask_seed``, so every run
is scored on the same positions. Metrics: ``acc`` (masked-token accuracy), ``loss``, ``perplexity``, ``unigram_loss``
(the cross-entropy of the training text's word frequencies on the same masked targets: the level of an MLM that
learned nothing else); the record's
``task_info.chance`` is the unigram rate (always answering the most frequent training token, on the test masks).
"""

from __future__ import annotations

import torch

from tasks.base import Batch, TaskSpec, strict_fraction
from tasks.corpus import CorpusTask
from tasks.text_data import PAD, SPECIALS, pad_sequences
from tasks.text_source import TextSource, takes_text_source

MASK_SPLIT = (0.8, 0.1, 0.1)  # of the selected positions: <mask>, a random token, unchanged


def mask_tokens(
    ids: torch.Tensor,
    real: torch.Tensor,
    mask_prob: float,
    mask_id: int,
    random_ids: tuple[int, int],
    gen: torch.Generator,
    ignore_index: int = -100,
) -> tuple[torch.Tensor, torch.Tensor]:
    """BERT's corruption of a batch.

    Args:
        ids: (B, L) token ids.
        real: (B, L) True where a position may be selected (not padding).
        mask_prob: chance that a real position is selected.
        mask_id: id of ``<mask>``.
        random_ids: [low, high) range the random replacements are drawn from (the ordinary tokens).
        gen: CPU generator the draws come from.

    Returns:
        inputs (B, L): the corrupted ids; targets (B, L): the original id at selected positions, ``ignore_index``
        elsewhere.
    """
    shape = ids.shape
    selected = (torch.rand(shape, generator=gen) < mask_prob) & real.cpu()  # (B, L)
    how = torch.rand(shape, generator=gen)  # (B, L): < 0.8 mask, < 0.9 random, else unchanged
    random = torch.randint(random_ids[0], random_ids[1], shape, generator=gen)  # (B, L)
    cpu = ids.cpu()
    inputs = torch.where(selected & (how < MASK_SPLIT[0]), mask_id, cpu)
    inputs = torch.where(selected & (how >= MASK_SPLIT[0]) & (how < MASK_SPLIT[0] + MASK_SPLIT[1]), random, inputs)
    targets = torch.where(selected, cpu, ignore_index)
    return inputs.to(ids.device), targets.to(ids.device)


@takes_text_source
class MaskedLM(CorpusTask):
    """Masked language modelling over a text column.

    Args:
        data: ``path`` (hub id or folder), ``text_column``, optional ``name`` (hub config), ``val_split`` (null =
            carve from train) and ``test_split`` (``label_column`` is accepted and ignored).
        tokenizer, vocab_size, max_len, lowercase, val_fraction, split_seed, train_fraction, cache_dir: the
            :class:`tasks.text_source.TextSource` settings, as for sentiment.
        mask_prob: share of real positions selected for prediction (0.15 in BERT).
        mask_seed: seed of the fixed validation/test masks.
    """

    directions = {**CorpusTask.directions, "unigram_loss": "min"}

    def __init__(self, source: TextSource, *, mask_prob: float = 0.15, mask_seed: int = 1234):
        self.mask_prob, self.mask_seed = strict_fraction("mask_prob", mask_prob, "BERT: 0.15"), int(mask_seed)
        tt = self.load_corpus(source)
        self.mask_id = self.tokenizer.reserved[0]
        self.random_ids = (len(SPECIALS), min(self.tokenizer.reserved))  # the ordinary tokens
        self.rows = {s: (pad_sequences(ids), torch.tensor([len(x) for x in ids])) for s, ids in tt.ids.items()}
        self.spec = TaskSpec(
            input_kind="tokens",
            output_kind="tokens",
            vocab_size=self.tokenizer.vocab_size,
            max_len=self.max_len,
            num_classes=self.tokenizer.vocab_size,
            pad_id=PAD,
            prefers_bidirectional=True,
        )

    def corrupt(self, ids: torch.Tensor, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        return mask_tokens(ids, ids != PAD, self.mask_prob, self.mask_id, self.random_ids, gen, self.spec.ignore_index)

    # -- data ---------------------------------------------------------------------------------------
    def setup(self, device: torch.device, seed: int) -> None:
        super().setup(device, seed)
        fixed = torch.Generator().manual_seed(self.mask_seed)
        self.fixed = {s: self.corrupt(self.data[s][0], fixed) for s in self.data if s != "train"}
        x = self.data["train"][0]
        counts = torch.bincount(x[x != PAD].flatten().cpu(), minlength=self.spec.num_classes).double()
        self.unigram = self.unigram_rate(int(counts.argmax())) if counts.sum() else None
        self.log_unigram = ((counts + 0.5) / (counts + 0.5).sum()).log().float().to(device)  # (V,), add-½ smoothed

    def eval_stats(self, logits: torch.Tensor, batch: Batch) -> dict[str, torch.Tensor]:
        """The token sums, and ``unigram_sum``: the cross-entropy of the training text's unigram distribution on the
        same masked targets (the loss of a model that learned word frequencies and nothing else)."""
        y = batch.targets
        picked = y[y != self.spec.ignore_index]
        return {**super().eval_stats(logits, batch), "unigram_sum": -self.log_unigram[picked].double().sum()}

    def finalize(self, s: dict[str, torch.Tensor]) -> dict:
        out = super().finalize(s)
        if "unigram_sum" in s:
            out["unigram_loss"] = float(s["unigram_sum"]) / max(float(s["tokens"]), 1.0)
        return out

    def unigram_rate(self, top: int) -> float | None:
        """The masked accuracy of always answering ``top`` (the training text's most frequent token) on the fixed
        test masks (validation when there is no test split): the level an MLM that learned nothing but the unigram
        distribution reaches — published as the task's ``chance``."""
        split = "test" if "test" in self.fixed else next(iter(self.fixed), None)
        if split is None:
            return None
        targets = self.fixed[split][1]
        picked = targets[targets != self.spec.ignore_index]
        return float((picked == top).float().mean()) if picked.numel() else None

    def make_batch(self, split: str, idx) -> Batch:
        x, lengths = self.data[split]
        L = int(lengths[idx].max())
        if split == "train":
            inputs, targets = self.corrupt(x[idx, :L], self.gen)
        else:
            inputs, targets = (t[idx, :L] for t in self.fixed[split])
        return Batch((inputs,), targets, n_tokens=int(lengths[idx].sum()))  # (B, L), (B, L) -100 where unselected

    def describe(self) -> dict:
        unigram = getattr(self, "unigram", None)
        return {
            **super().describe(),
            **({"chance": round(unigram, 4)} if unigram is not None else {}),
            "masking": {
                "mask_prob": self.mask_prob,
                "split": dict(zip(("mask", "random", "keep"), MASK_SPLIT)),
                "eval_mask_seed": self.mask_seed,
                "train": "drawn per batch (dynamic)",
            },
        }
