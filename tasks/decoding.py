"""Greedy and beam-search decoding for seq2seq models.

The model interface (every architecture's ``sequence`` output end):
``model.encode(src) -> memory``, a tuple of tensors with the batch on dim 0 (entries may be None), and
``model.decode(memory, tgt_in) -> logits (B, T, V)`` for the whole prefix ``tgt_in``; the last position's logits
give the next token. The source is encoded once; each step decodes the growing prefix.
"""
from __future__ import annotations

import torch


def reorder(memory: tuple, index: torch.Tensor) -> tuple:
    """Select rows ``index`` of every memory tensor (dim 0); None entries stay None."""
    return tuple(None if m is None else m.index_select(0, index) for m in memory)


def next_log_probs(model, memory: tuple, prefix: torch.Tensor, forbid: tuple[int, ...]) -> torch.Tensor:
    """log P(next token | prefix), (B, V), in float32; ``forbid`` tokens (BOS, padding) get -inf."""
    logp = model.decode(memory, prefix)[:, -1].float().log_softmax(-1)  # (B, V)
    logp[:, list(forbid)] = float("-inf")
    return logp


def strip(tokens: list[int], eos: int) -> list[int]:
    """Tokens up to (not including) the first EOS."""
    return tokens[:tokens.index(eos)] if eos in tokens else tokens


@torch.no_grad()
def greedy(model, src: torch.Tensor, max_len: int, bos: int, eos: int, forbid: tuple[int, ...] = ()) -> list[list[int]]:
    """Pick the most likely token at each step.

    Args:
        model: seq2seq model with ``encode`` and ``decode``.
        src: source ids (B, S).
        max_len: most tokens to generate (EOS included).
        bos, eos: ids of the start and end tokens.
        forbid: ids never generated besides ``bos`` (e.g. padding).

    Returns:
        B token lists, without BOS and EOS.
    """
    memory = model.encode(src)
    prefix = torch.full((src.shape[0], 1), bos, dtype=torch.long, device=src.device)  # (B, 1)
    done = torch.zeros(src.shape[0], dtype=torch.bool, device=src.device)  # (B,)
    for _ in range(max_len):
        token = next_log_probs(model, memory, prefix, (bos, *forbid)).argmax(-1)  # (B,)
        prefix = torch.cat([prefix, token[:, None]], 1)  # (B, t + 1)
        done |= token == eos
        if bool(done.all()):
            break
    return [strip(row, eos) for row in prefix[:, 1:].tolist()]


@torch.no_grad()
def beam_search(model, src: torch.Tensor, beam: int, max_len: int, bos: int, eos: int,
                length_penalty: float = 1.0, forbid: tuple[int, ...] = ()) -> list[list[int]]:
    """Keep the ``beam`` best prefixes per sentence; return the best finished hypothesis.

    A hypothesis is scored by its summed log-probability divided by ``length ** length_penalty`` (length
    counts the EOS; 0 = raw log-probability, 1 = per-token mean). A sentence is done once ``beam`` hypotheses
    have ended (the usual early stop); after ``max_len`` steps, unfinished beams compete too.

    Args:
        model: seq2seq model with ``encode`` and ``decode``.
        src: source ids (B, S).
        beam: hypotheses kept per sentence (1 = greedy).
        max_len: most tokens to generate (EOS included).
        bos, eos: ids of the start and end tokens.
        length_penalty: exponent of the length normalisation.

    Returns:
        B token lists, without BOS and EOS.
    """
    B, k, device = src.shape[0], int(beam), src.device
    memory = reorder(model.encode(src), torch.arange(B, device=device).repeat_interleave(k))  # rows (B·k, ...)
    prefix = torch.full((B * k, 1), bos, dtype=torch.long, device=device)  # (B·k, 1)
    scores = torch.full((B, k), float("-inf"), device=device)  # (B, k) summed log-probs of alive prefixes
    scores[:, 0] = 0.0  # all k start identical: keep one so the first step yields k distinct prefixes
    finished: list[list[tuple[float, list[int]]]] = [[] for _ in range(B)]
    norm = lambda total, length: total / (length ** length_penalty)  # noqa: E731
    for step in range(1, max_len + 1):
        logp = next_log_probs(model, memory, prefix, (bos, *forbid))  # (B·k, V)
        V = logp.shape[-1]
        cand = (scores[:, :, None] + logp.view(B, k, V)).view(B, k * V)  # (B, k·V)
        top, idx = cand.topk(min(2 * k, k * V), dim=1)  # (B, 2k): enough to refill k after EOS ends some
        origin, token = idx // V, idx % V  # (B, 2k) beam each candidate extends, and its token
        new_rows, new_tokens, new_scores = [], [], []
        for b in range(B):
            rows, toks, scs = [], [], []
            for rank, (s, o, t) in enumerate(zip(top[b].tolist(), origin[b].tolist(), token[b].tolist())):
                if s == float("-inf"):
                    break
                if t == eos:
                    if rank < k and len(finished[b]) < k:  # an ending counts only if it ranks among the k best
                        finished[b].append((norm(s, step), prefix[b * k + o, 1:].tolist()))
                elif len(rows) < k:
                    rows.append(b * k + o)
                    toks.append(t)
                    scs.append(s)
                if len(rows) == k and len(finished[b]) >= k:
                    break
            while len(rows) < k:  # pad dead slots (only when fewer than k live candidates exist)
                rows.append(b * k)
                toks.append(eos)
                scs.append(float("-inf"))
            new_rows += rows
            new_tokens += toks
            new_scores.append(scs)
        rows = torch.tensor(new_rows, device=device)  # (B·k,)
        prefix = torch.cat([prefix.index_select(0, rows), torch.tensor(new_tokens, device=device)[:, None]], 1)
        memory = reorder(memory, rows)
        scores = torch.tensor(new_scores, device=device)  # (B, k)
        if all(len(f) >= k for f in finished):
            break
    out = []
    for b in range(B):
        pool = finished[b] or []
        if len(pool) < k:  # ran out of steps: unfinished beams compete (their length is the step count)
            pool = pool + [(norm(s, prefix.shape[1] - 1), prefix[b * k + j, 1:].tolist())
                           for j, s in enumerate(scores[b].tolist()) if s > float("-inf")]
        out.append(strip(max(pool, key=lambda p: p[0])[1], eos) if pool else [])
    return out
