"""Greedy and beam-search decoding for seq2seq models.

The model interface (:class:`architectures.model.Model` with a ``sequence`` output end):
``model.encode(src) -> memory``, a tuple of tensors with the batch on dim 0 (entries may be None);
``model.decode(memory, tgt_in) -> logits (B, T, V)`` for the whole prefix ``tgt_in``; and
``model.decode_step(memory, tokens (B, 1), state) -> (logits (B, 1, V), state)``, one more position from a
per-step state (KV caches, recurrent states, buffers). The source is encoded once. With ``incremental``
(the default) each step costs one step of every decoder layer; without it each step decodes the whole
growing prefix again (the reference the incremental path is tested against).
"""

from __future__ import annotations

import torch


def reorder(memory, index: torch.Tensor):
    """Select rows ``index`` (dim 0) of every tensor in a nest of tuples/lists; None and numbers stay."""
    if torch.is_tensor(memory):
        return memory.index_select(0, index)
    if isinstance(memory, (tuple, list)):
        return type(memory)(reorder(m, index) for m in memory)
    return memory


class Stepper:
    """Next-token log-probabilities for a batch of prefixes, incrementally or by recomputing the prefix."""

    def __init__(self, model, memory: tuple, prefix: torch.Tensor, forbid: tuple[int, ...], incremental: bool):
        self.model, self.memory, self.forbid, self.incremental = model, memory, list(forbid), incremental
        self.prefix, self.state = prefix, None  # (B, t)

    def log_probs(self) -> torch.Tensor:
        """log P(next token | prefix), (B, V), in float32; ``forbid`` tokens get -inf."""
        if self.incremental:
            logits, self.state = self.model.decode_step(self.memory, self.prefix[:, -1:], self.state)
        else:
            logits = self.model.decode(self.memory, self.prefix)
        logp = logits[:, -1].float().log_softmax(-1)  # (B, V)
        logp[:, self.forbid] = float("-inf")
        return logp

    def extend(self, tokens: torch.Tensor, rows: torch.Tensor | None = None) -> None:
        """Append ``tokens`` (B,) to the prefixes, after keeping ``rows`` (beam search) of everything."""
        if rows is not None:
            self.prefix, self.memory, self.state = (
                reorder(self.prefix, rows),
                reorder(self.memory, rows),
                reorder(self.state, rows),
            )
        self.prefix = torch.cat([self.prefix, tokens[:, None]], 1)  # (B, t + 1)


def strip(tokens: list[int], eos: int) -> list[int]:
    """Tokens up to (not including) the first EOS."""
    return tokens[: tokens.index(eos)] if eos in tokens else tokens


@torch.no_grad()
def greedy(
    model, src: torch.Tensor, max_len: int, bos: int, eos: int, forbid: tuple[int, ...] = (), incremental: bool = True
) -> list[list[int]]:
    """Pick the most likely token at each step.

    Args:
        model: seq2seq model with ``encode``, ``decode`` and ``decode_step``.
        src: source ids (B, S).
        max_len: most tokens to generate (EOS included).
        bos, eos: ids of the start and end tokens.
        forbid: ids never generated besides ``bos`` (e.g. padding).
        incremental: step with the per-step state (else recompute the prefix every step).

    Returns:
        B token lists, without BOS and EOS.
    """
    prefix = torch.full((src.shape[0], 1), bos, dtype=torch.long, device=src.device)  # (B, 1)
    steps = Stepper(model, model.encode(src), prefix, (bos, *forbid), incremental)
    done = torch.zeros(src.shape[0], dtype=torch.bool, device=src.device)  # (B,)
    for _ in range(max_len):
        token = steps.log_probs().argmax(-1)  # (B,)
        steps.extend(token)
        done |= token == eos
        if bool(done.all()):
            break
    return [strip(row, eos) for row in steps.prefix[:, 1:].tolist()]


@torch.no_grad()
def beam_search(
    model,
    src: torch.Tensor,
    beam: int,
    max_len: int,
    bos: int,
    eos: int,
    length_penalty: float = 1.0,
    forbid: tuple[int, ...] = (),
    incremental: bool = True,
) -> list[list[int]]:
    """Keep the ``beam`` best prefixes per sentence; return the best finished hypothesis.

    A hypothesis is scored by its summed log-probability divided by ``length ** length_penalty`` (length
    counts the EOS; 0 = raw log-probability, 1 = per-token mean). A sentence is done once ``beam`` hypotheses
    have ended (the usual early stop); after ``max_len`` steps, unfinished beams compete too.

    Args:
        model: seq2seq model with ``encode``, ``decode`` and ``decode_step``.
        src: source ids (B, S).
        beam: hypotheses kept per sentence (1 = greedy).
        max_len: most tokens to generate (EOS included).
        bos, eos: ids of the start and end tokens.
        length_penalty: exponent of the length normalisation.
        forbid: ids never generated besides ``bos`` (e.g. padding).
        incremental: step with the per-step state (else recompute the prefix every step).

    Returns:
        B token lists, without BOS and EOS.
    """
    B, k, device = src.shape[0], int(beam), src.device
    memory = reorder(model.encode(src), torch.arange(B, device=device).repeat_interleave(k))  # rows (B·k, ...)
    prefix = torch.full((B * k, 1), bos, dtype=torch.long, device=device)  # (B·k, 1)
    steps = Stepper(model, memory, prefix, (bos, *forbid), incremental)
    scores = torch.full((B, k), float("-inf"), device=device)  # (B, k) summed log-probs of alive prefixes
    scores[:, 0] = 0.0  # all k start identical: keep one so the first step yields k distinct prefixes
    finished: list[list[tuple[float, list[int]]]] = [[] for _ in range(B)]
    norm = lambda total, length: total / (length**length_penalty)
    for step in range(1, max_len + 1):
        logp = steps.log_probs()  # (B·k, V)
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
                        finished[b].append((norm(s, step), steps.prefix[b * k + o, 1:].tolist()))
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
        steps.extend(torch.tensor(new_tokens, device=device), rows=torch.tensor(new_rows, device=device))
        scores = torch.tensor(new_scores, device=device)  # (B, k)
        if all(len(f) >= k for f in finished):
            break
    out = []
    for b in range(B):
        pool = finished[b] or []
        if len(pool) < k:  # ran out of steps: unfinished beams compete (their length is the step count)
            pool = pool + [
                (norm(s, steps.prefix.shape[1] - 1), steps.prefix[b * k + j, 1:].tolist())
                for j, s in enumerate(scores[b].tolist())
                if s > float("-inf")
            ]
        out.append(strip(max(pool, key=lambda p: p[0])[1], eos) if pool else [])
    return out
