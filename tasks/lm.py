"""Causal language modelling: each position predicts the next token from the ones before it (the setting of
Haviv et al. 2022, "Transformer language models without positional encodings still learn positional information").

Data and tokenizer exactly as :mod:`tasks.mlm` (``task.data.path``: a hub id or a local folder, ``data.text_column``,
the same cached tokenizers). Each text is cut to ``max_len`` tokens; the input is ``<bos>`` + the text and the target
is the text + ``<eos>``, so every token of the text and its end are predicted. Padding is ignored by the loss and
the metrics. The spec asks for a causal backbone (``TaskSpec.causal``): the shared model builds the causal variant
the architecture declares, or refuses with one line. Metrics: ``loss`` (mean cross-entropy per predicted token, in
nats), ``perplexity`` = exp(loss) (both lower is better; ``perplexity`` first in the reports) and ``acc``
(next-token accuracy).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from tasks.base import Batch, TaskSpec
from tasks.corpus import CorpusTask
from tasks.text_data import BOS, EOS, PAD, pad_sequences
from tasks.text_source import TextSource, takes_text_source


@takes_text_source
class CausalLM(CorpusTask):
    """Next-token prediction over a text column.

    Args:
        data: ``path`` (hub id or folder), ``text_column``, optional ``name`` (hub config), ``val_split`` (null =
            carve from train) and ``test_split`` (``label_column`` is accepted and ignored).
        tokenizer, vocab_size, max_len, lowercase, val_fraction, split_seed, train_fraction, cache_dir: the
            :class:`tasks.text_source.TextSource` settings, as for mlm.
    """

    main_metric = "perplexity"

    def __init__(self, source: TextSource):
        tt = self.load_corpus(source)
        self.rows = {s: (pad_sequences(ids), torch.tensor([len(x) for x in ids])) for s, ids in tt.ids.items()}
        self.spec = TaskSpec(
            input_kind="tokens",
            output_kind="tokens",
            vocab_size=self.tokenizer.vocab_size,
            max_len=self.max_len + 1,
            num_classes=self.tokenizer.vocab_size,
            pad_id=PAD,
            causal=True,
        )

    def make_batch(self, split: str, idx) -> Batch:
        x, lengths = self.data[split]
        n = lengths[idx]  # (B,)
        ids = x[idx, : int(n.max())]  # (B, L)
        inputs = F.pad(ids, (1, 0), value=BOS)  # (B, L + 1): <bos> + text
        targets = F.pad(ids, (0, 1), value=PAD).scatter(1, n[:, None], EOS)  # (B, L + 1): text + <eos>
        targets = targets.masked_fill(targets == PAD, self.spec.ignore_index)
        return Batch((inputs,), targets, n_tokens=int((n + 1).sum()))

    def describe(self) -> dict:
        return {**super().describe(), "objective": "next token (<bos> + text → text + <eos>)"}
