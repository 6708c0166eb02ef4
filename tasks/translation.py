"""Machine translation (seq2seq): a source sentence in, a target sentence out.

Data through :mod:`tasks.text_data` (hub id such as ``bentrevett/multi30k`` or a local folder) with one column per
language (``data.src``, ``data.tgt``). BPE (or word/byte) tokenizers trained on the train split, joint or one per
side. Training is teacher-forced: ``model(src, tgt_in)`` with ``tgt_in = BOS + y`` is scored against ``y + EOS``
(padding → ``ignore_index``). Evaluation adds decoding (greedy, or beam search with ``beam > 1``) of the first
``eval_decode_max`` validation sentences (``test_decode_max`` test sentences; null = all) and scores the
detokenized output against the raw reference text with sacrebleu (``bleu``, ``chrf``).
"""

from __future__ import annotations

import sacrebleu
import torch

from core.errors import ConfigError
from tasks.base import Batch, batches_of, check_train_fraction, token_metrics, token_stats
from tasks.decoding import beam_search, greedy
from tasks.text_data import (
    BOS,
    EOS,
    PAD,
    TextTask,
    check_data_keys,
    fit_length,
    get_tokenizer,
    longest,
    pad_sequences,
    read_data,
    text_to_text_spec,
    texts,
)


class Translation(TextTask):
    """Sentence-level translation from column ``data.src`` to column ``data.tgt``.

    Args:
        data: ``path`` (hub id or folder), ``src`` and ``tgt`` column names, optional ``name`` (hub config),
            ``val_split`` (null = carve from train) and ``test_split``.
        tokenizer: ``bpe`` (default), ``word`` or ``byte``.
        vocab_size: largest vocabulary per tokenizer (the joint one, or each side's).
        joint_vocab: one tokenizer trained on both languages (source and target ids then agree).
        max_len: source tokens kept; null = the longest training source.
        tgt_max_len: longest target sequence the model sees, BOS/EOS included (targets are cut to
            ``tgt_max_len - 1`` tokens, so ``BOS + y`` and ``y + EOS`` fit); null = from the training data.
        lowercase: lower-case both sides before tokenizing (BLEU is then scored against cased references).
        beam: 1 = greedy decoding; > 1 = beam search with this many hypotheses.
        length_penalty: beam scores are divided by length ** length_penalty.
        incremental: decode with the model's per-step state (KV caches, recurrent states); false = recompute
            the whole prefix at every step (the reference; same hypotheses, slower).
        max_decode_len: most tokens generated per sentence (EOS included); null = tgt_max_len.
        eval_decode_max: validation sentences decoded at each evaluation (decoding is the slow part on CPU);
            null = all.
        test_decode_max: test sentences decoded at the end; null = all.
        val_fraction, split_seed: how validation is carved from train when the data has none.
        train_fraction: share of the training pairs used (a subset drawn with the run seed; 1 = all).
        cache_dir: cache root (default ``$ARCHBENCH_CACHE`` or ``~/.cache/archbench``).
        drop_empty: drop sentence pairs with an empty or missing side (refused otherwise).
    """

    main_metric = "bleu"
    directions = {**TextTask.directions, "perplexity": "min", "bleu": "max", "chrf": "max"}

    def __init__(
        self,
        *,
        data: dict,
        tokenizer: str = "bpe",
        vocab_size: int = 8000,
        joint_vocab: bool = True,
        max_len: int | None = 64,
        tgt_max_len: int | None = 64,
        lowercase: bool = False,
        beam: int = 1,
        length_penalty: float = 1.0,
        incremental: bool = True,
        max_decode_len: int | None = None,
        eval_decode_max: int | None = 500,
        test_decode_max: int | None = None,
        val_fraction: float = 0.1,
        split_seed: int = 0,
        train_fraction: float = 1.0,
        cache_dir: str | None = None,
        drop_empty: bool = False,
    ):
        data = check_data_keys(data, ("path", "name", "src", "tgt", "val_split", "test_split"))
        self.path = str(data["path"])
        self.src_col, self.tgt_col = str(data.get("src", "de")), str(data.get("tgt", "en"))
        if self.src_col == self.tgt_col:
            raise ConfigError(f"task.data.src and task.data.tgt are both {self.src_col!r}; name two columns")
        for key, value, low in (
            ("max_len", max_len, 1),
            ("tgt_max_len", tgt_max_len, 2),
            ("max_decode_len", max_decode_len, 1),
            ("eval_decode_max", eval_decode_max, 1),
            ("test_decode_max", test_decode_max, 1),
        ):
            if value is not None and int(value) < low:
                raise ConfigError(f"task.{key}={value} must be ≥ {low}, or null")
        self.incremental = bool(incremental)
        if int(beam) < 1:
            raise ConfigError(f"task.beam={beam} must be ≥ 1 (1 = greedy decoding)")
        self.train_fraction = check_train_fraction(train_fraction)
        raw = read_data(
            data,
            [self.src_col, self.tgt_col],
            val_fraction=val_fraction,
            split_seed=split_seed,
            cache_dir=cache_dir,
            drop_empty=drop_empty,
        )
        self.dropped = raw.dropped
        self.text = {
            s: {side: texts(cols[col], col, s) for side, col in (("src", self.src_col), ("tgt", self.tgt_col))}
            for s, cols in raw.splits.items()
        }
        train = self.text["train"]

        def tok(cols: list[str], corpus_fn):
            return get_tokenizer(
                tokenizer,
                corpus_fn,
                vocab_size=vocab_size,
                lowercase=lowercase,
                identity={**raw.identity, "columns": cols},
                cache_dir=cache_dir,
            )

        self.joint = bool(joint_vocab)
        if str(tokenizer).endswith(".json") and not self.joint:
            raise ConfigError(
                f"task.tokenizer={tokenizer} is one saved tokenizer, which serves both languages; "
                "use task.joint_vocab=true with it"
            )
        if self.joint:
            self.src_tok, file = tok([self.src_col, self.tgt_col], lambda: train["src"] + train["tgt"])
            self.tgt_tok, self.tokenizer_files = self.src_tok, [file]
        else:
            self.src_tok, f1 = tok([self.src_col], lambda: train["src"])
            self.tgt_tok, f2 = tok([self.tgt_col], lambda: train["tgt"])
            self.tokenizer_files = [f1, f2]
        src_ids = {s: self.src_tok.encode_batch(t["src"]) for s, t in self.text.items()}
        tgt_ids = {s: self.tgt_tok.encode_batch(t["tgt"]) for s, t in self.text.items()}
        self.max_len = int(max_len) if max_len is not None else longest(src_ids["train"], key="task.max_len")
        self.tgt_max_len = (
            int(tgt_max_len) if tgt_max_len is not None else longest(tgt_ids["train"], key="task.tgt_max_len") + 1
        )
        self.max_decode_len = int(max_decode_len) if max_decode_len is not None else self.tgt_max_len
        if self.max_decode_len > self.tgt_max_len:
            raise ConfigError(
                f"task.max_decode_len={max_decode_len} is longer than task.tgt_max_len="
                f"{self.tgt_max_len}, the longest target the decoder is built for; lower it or "
                "raise task.tgt_max_len"
            )
        self.beam, self.length_penalty = int(beam), float(length_penalty)
        self.decode_max = {"val": eval_decode_max, "test": test_decode_max}
        self.truncated, self.rows = {}, {}
        for s in self.text:
            src, cut_src = fit_length(src_ids[s], self.max_len)
            y = [t[: self.tgt_max_len - 1] for t in tgt_ids[s]]
            self.truncated[s] = {"src": cut_src, "tgt": sum(len(t) > self.tgt_max_len - 1 for t in tgt_ids[s]) / len(y)}
            self.rows[s] = (
                pad_sequences(src),
                torch.tensor([len(t) for t in src]),
                pad_sequences([[BOS] + t for t in y]),
                pad_sequences([t + [EOS] for t in y], pad=-100),
                torch.tensor([len(t) + 1 for t in y]),
            )  # src, src_len, tgt_in, targets, tgt_len
        self.sizes, self.carved, self.kind, self.samples = raw.sizes(), raw.carved_validation, self.src_tok.kind, []
        self.tokenizer = self.src_tok if self.joint else None  # the one tokenizer a pre-trained model can share
        self.spec = text_to_text_spec(self.src_tok.vocab_size, self.tgt_tok.vocab_size, self.max_len, self.tgt_max_len)

    # -- data ---------------------------------------------------------------------------------------
    def make_batch(self, split: str, idx) -> Batch:
        src, src_len, tgt_in, targets, tgt_len = self.data[split]
        S, T = int(src_len[idx].max()), int(tgt_len[idx].max())
        inputs = (src[idx, :S], tgt_in[idx, :T])  # (B, S), (B, T) = BOS + y, padded with 0
        n_tokens = int(src_len[idx].sum() + tgt_len[idx].sum())
        return Batch(inputs, targets[idx, :T], n_tokens=n_tokens)  # targets (B, T) = y + EOS, padding -100

    # -- metrics ------------------------------------------------------------------------------------
    def eval_stats(self, logits: torch.Tensor, batch: Batch) -> dict[str, torch.Tensor]:
        return token_stats(logits, batch.targets, self.spec.ignore_index)  # over y + EOS, padding ignored

    def finalize(self, s: dict[str, torch.Tensor]) -> dict:
        return token_metrics(s)

    def translate(self, model, src: torch.Tensor) -> list[str]:
        """Detokenized translations of source ids (B, S)."""
        if self.beam == 1:
            out = greedy(model, src, self.max_decode_len, BOS, EOS, forbid=(PAD,), incremental=self.incremental)
        else:
            out = beam_search(
                model,
                src,
                self.beam,
                self.max_decode_len,
                BOS,
                EOS,
                self.length_penalty,
                forbid=(PAD,),
                incremental=self.incremental,
            )
        return [self.tgt_tok.decode(ids) for ids in out]

    @torch.no_grad()
    def evaluate(self, model: torch.nn.Module, split: str, batch_size: int, forward=None) -> dict:
        """Teacher-forced ``loss``/``acc`` over the split, then ``bleu``/``chrf`` of decoded sentences."""
        metrics = super().evaluate(model, split, batch_size, forward)
        src, src_len = self.data[split][:2]
        limit = self.decode_max.get(split)
        n = len(src) if limit is None else min(int(limit), len(src))
        hyps = []
        for s in batches_of(n, batch_size):
            hyps += self.translate(model, src[s, : int(src_len[s].max())])
        refs = self.text[split]["tgt"][:n]
        metrics.update(
            bleu=sacrebleu.corpus_bleu(hyps, [refs]).score, chrf=sacrebleu.corpus_chrf(hyps, [refs]).score, decoded=n
        )
        if split == "test":
            self.samples = [
                {"source": a, "reference": r, "hypothesis": h} for a, r, h in zip(self.text[split]["src"], refs, hyps)
            ]
        return metrics

    def artifacts(self) -> dict[str, list[dict]]:
        return {"samples": self.samples} if self.samples else {}

    def token_strings(self, ids: list[int]) -> list[str]:
        return [self.src_tok.token(i) for i in ids]

    def target_token_strings(self, ids: list[int]) -> list[str]:
        return [self.tgt_tok.token(i) for i in ids]

    def describe(self) -> dict:
        return {
            "data": self.path,
            "src": self.src_col,
            "tgt": self.tgt_col,
            "tokenizer": self.kind,
            "joint_vocab": self.joint,
            "vocab_size": self.spec.vocab_size,
            "tgt_vocab_size": self.spec.tgt_vocab_size,
            "max_len": self.max_len,
            "tgt_max_len": self.tgt_max_len,
            "rows": self.sizes,
            "rows_dropped_empty": self.dropped,
            "validation_carved": self.carved,
            "truncated_share": self.truncated,
            "decoding": {
                "beam": self.beam,
                "length_penalty": self.length_penalty,
                "incremental": self.incremental,
                "max_decode_len": self.max_decode_len,
                "decode_max": self.decode_max,
            },
            "tokenizer_files": [str(f) for f in self.tokenizer_files if f],
            **self.subset_info(),
        }
