"""Helpers for the text-task tests: tiny data frames and folders, a tiny reference seq2seq model, a copy oracle."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import torch
import torch.nn as nn

POSITIVE = [
    "a good film",
    "great fun and good acting",
    "i loved it",
    "wonderful and warm",
    "good good good",
    "a great story",
    "fun for all",
    "warm and wonderful acting",
]
NEGATIVE = [
    "a bad film",
    "boring and bad acting",
    "i hated it",
    "dull and cold",
    "bad bad bad",
    "a dull story",
    "awful for all",
    "cold and boring acting",
]


def sentiment_frame(n_repeat: int = 1) -> pd.DataFrame:
    rows = [{"text": t, "label": 1} for t in POSITIVE] + [{"text": t, "label": 0} for t in NEGATIVE]
    return pd.DataFrame(rows * n_repeat)


def write_folder(folder: Path, splits: dict[str, pd.DataFrame], fmt: str = "parquet") -> Path:
    """Write ``{split: frame}`` as ``<split>.<fmt>`` (parquet, csv, json = a JSON array, jsonl = JSON lines)."""
    folder.mkdir(parents=True, exist_ok=True)
    for split, df in splits.items():
        path = folder / f"{split}.{fmt}"
        if fmt == "parquet":
            df.to_parquet(path, index=False)
        elif fmt == "csv":
            df.to_csv(path, index=False)
        elif fmt == "json":
            path.write_text(json.dumps(df.to_dict("records")))
        else:
            df.to_json(path, orient="records", lines=True, force_ascii=False)
    return folder


PAIRS = [
    ("the house is small", "la casa es pequeña"),
    ("the dog is big", "el perro es grande"),
    ("i see the house", "veo la casa"),
    ("the cat sleeps", "el gato duerme"),
    ("a small dog", "un perro pequeño"),
    ("the big house", "la casa grande"),
    ("¿where is the cat?", "¿dónde está el gato?"),
    ("the dog sleeps", "el perro duerme"),
]


class TinySeq2Seq(nn.Module):
    """GRU encoder + GRU decoder with dot-product attention, implementing the seq2seq interface:
    ``forward(src, tgt_in)``, ``encode(src) -> (states (B, S, d), pad (B, S), last (B, d))``,
    ``decode(memory, tgt_in) -> (B, T, V)``, ``decode_step(memory, tokens (B, 1), state) -> ((B, 1, V), state)``
    with the decoder GRU's state (batch first)."""

    def __init__(self, src_vocab: int, tgt_vocab: int, d: int = 16, pad: int = 0):
        super().__init__()
        self.pad = pad
        self.src_emb, self.tgt_emb = nn.Embedding(src_vocab, d), nn.Embedding(tgt_vocab, d)
        self.enc, self.dec = nn.GRU(d, d, batch_first=True), nn.GRU(d, d, batch_first=True)
        self.out = nn.Linear(2 * d, tgt_vocab)

    def encode(self, src):
        states, last = self.enc(self.src_emb(src))  # (B, S, d), (1, B, d)
        return states, src == self.pad, last[0]

    def decode(self, memory, tgt_in):
        return self.decode_step(memory, tgt_in)[0]

    def decode_step(self, memory, tokens, state=None):
        states, pad, last = memory
        h0 = last[None] if state is None else state.transpose(0, 1)  # (1, B, d)
        h, h_n = self.dec(self.tgt_emb(tokens), h0.contiguous())  # (B, T, d)
        scores = (h @ states.transpose(1, 2)).masked_fill(pad[:, None, :], float("-inf"))  # (B, T, S)
        context = scores.softmax(-1) @ states  # (B, T, d)
        return self.out(torch.cat([h, context], -1)), h_n.transpose(0, 1)  # (B, T, V), (B, 1, d)

    def forward(self, src, tgt_in):
        return self.decode(self.encode(src), tgt_in)


class CopyOracle(nn.Module):
    """Predicts the source token at each target position, then EOS: a perfect translator when tgt == src."""

    def __init__(self, vocab: int, pad: int = 0, eos: int = 2):
        super().__init__()
        self.vocab, self.pad, self.eos = vocab, pad, eos

    def encode(self, src):
        return (src,)

    def decode(self, memory, tgt_in):
        (src,) = memory
        B, T = tgt_in.shape
        nxt = torch.cat([src, torch.full((B, T), self.pad, dtype=src.dtype, device=src.device)], 1)[:, :T]
        nxt = nxt.masked_fill(nxt == self.pad, self.eos)  # (B, T) next token at each position
        return torch.nn.functional.one_hot(nxt, self.vocab).float() * 30.0  # (B, T, V)

    def decode_step(self, memory, tokens, state=None):
        """Its per-step state is the number of positions decoded so far (one per row: reorderable)."""
        t = torch.zeros(len(tokens), dtype=torch.long, device=tokens.device) if state is None else state
        (src,) = memory
        src = torch.nn.functional.pad(src, (0, 1), value=self.pad)
        nxt = src.gather(1, t.clamp(max=src.shape[1] - 1)[:, None])  # (B, 1)
        nxt = nxt.masked_fill(nxt == self.pad, self.eos)
        return torch.nn.functional.one_hot(nxt, self.vocab).float() * 30.0, t + 1

    def forward(self, src, tgt_in):
        return self.decode(self.encode(src), tgt_in)
