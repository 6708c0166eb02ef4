"""Probe files written by hand in the agreed format (INTERFACES: attention.npz, hidden.npz), for the explorer."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def sinusoidal(P: int, d: int) -> np.ndarray:
    pos, i = np.arange(P)[:, None], np.arange(0, d, 2)[None, :]
    pe = np.zeros((P, d), np.float32)
    pe[:, 0::2], pe[:, 1::2] = np.sin(pos / 10000 ** (i / d)), np.cos(pos / 10000 ** (i / d))
    return pe


def write_hidden(
    run_dir: Path,
    N: int = 6,
    L: int = 10,
    d: int = 8,
    K: int = 2,
    pe: bool = True,
    labels: str = "class",
    seed: int = 0,
) -> dict:
    """hidden.npz: tokens, token_text, pad (last 2 positions of odd sequences), labels, layer0..K, names, pe."""
    rng = np.random.default_rng(seed)
    tokens = rng.integers(1, 9, (N, L))
    pad = np.zeros((N, L), bool)
    pad[1::2, -2:] = True
    tokens[pad] = 0
    z = {
        "tokens": tokens,
        "token_text": np.where(pad, "", np.char.add("w", tokens.astype(str))),
        "pad": pad,
        "labels": rng.integers(0, 3, N) if labels == "class" else rng.integers(0, 9, (N, L)),
        "names": np.array(["embedding"] + [f"encoder.{i}" for i in range(K)]),
    }
    x = rng.normal(size=(N, L, d))
    for i in range(K + 1):
        z[f"layer{i}"] = x.astype(np.float16)
        x = np.tanh(x @ rng.normal(size=(d, d)) / np.sqrt(d)) + 0.5 * x
    if pe:
        z["pe"] = sinusoidal(4 * L, d)
    np.savez_compressed(Path(run_dir) / "hidden.npz", **z)
    return z


def write_seq2seq_attention(run_dir: Path, S: int = 5, T: int = 4, heads: int = 2) -> dict:
    """attention.npz of an encoder–decoder: encoder self, decoder self and decoder cross attention."""
    rng = np.random.default_rng(1)

    def soft(shape):
        w = np.exp(rng.normal(size=shape))
        return (w / w.sum(-1, keepdims=True)).astype(np.float16)

    z = {
        "tokens": np.arange(S),
        "layer0": soft((heads, S, S)),
        "layer1": soft((heads, T, T)),
        "layer2": soft((heads, T, S)),
        "names": np.array(["encoder.0.self", "decoder.0.self", "decoder.0.cross"]),
        "src_text": np.array(["the", "cat", "sat", "down", "."]),
        "tgt_text": np.array(["<s>", "el", "gato", "se"]),
    }
    np.savez_compressed(Path(run_dir) / "attention.npz", **z)
    return z
