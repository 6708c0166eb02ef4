"""Greedy and beam-search decoding against the seq2seq interface (encode once, decode the growing prefix)."""

from __future__ import annotations

import torch
import torch.nn as nn

from tasks.decoding import beam_search, greedy
from tests.tasks.text_fixtures import TinySeq2Seq

BOS, EOS = 1, 2


def sequence_log_prob(model, src, tokens: list[int]) -> float:
    """log P(tokens + EOS | src) under teacher forcing, for one sentence."""
    tgt_in = torch.tensor([[BOS] + tokens])
    logp = model(src, tgt_in)[0].log_softmax(-1)  # (T, V)
    return float(logp.gather(1, torch.tensor(tokens + [EOS])[:, None]).sum())


def test_beam_of_one_is_greedy_on_a_random_model():
    torch.manual_seed(0)
    model = TinySeq2Seq(12, 9).eval()
    with torch.no_grad():
        model.out.bias[EOS] += 0.3  # some sentences end early, some run to max_len
    src = torch.randint(3, 12, (8, 5))
    src[2, 3:] = 0  # padding in one row
    g = greedy(model, src, max_len=7, bos=BOS, eos=EOS, forbid=(0,))
    assert g == beam_search(model, src, beam=1, max_len=7, bos=BOS, eos=EOS, length_penalty=1.0, forbid=(0,))
    assert g == beam_search(model, src, beam=1, max_len=7, bos=BOS, eos=EOS, length_penalty=0.0, forbid=(0,))
    assert all(EOS not in seq and BOS not in seq and 0 not in seq and len(seq) <= 7 for seq in g)
    assert {len(seq) for seq in g} >= {0, 1, 7}


def test_decoding_matches_teacher_forcing_per_sentence():
    """Batched greedy (memory rows selected per sentence) equals decoding each sentence alone."""
    torch.manual_seed(1)
    model = TinySeq2Seq(12, 9).eval()
    src = torch.randint(3, 12, (4, 6))
    batched = beam_search(model, src, beam=3, max_len=6, bos=BOS, eos=EOS)
    alone = [beam_search(model, src[i : i + 1], beam=3, max_len=6, bos=BOS, eos=EOS)[0] for i in range(4)]
    assert batched == alone


def test_incremental_decoding_finds_the_prefix_recomputing_hypotheses():
    torch.manual_seed(2)
    model = TinySeq2Seq(12, 9).eval()
    src = torch.randint(3, 12, (6, 5))
    for beam in (1, 3):
        fast = beam_search(model, src, beam=beam, max_len=7, bos=BOS, eos=EOS, incremental=True)
        assert fast == beam_search(model, src, beam=beam, max_len=7, bos=BOS, eos=EOS, incremental=False)
    assert greedy(model, src, 7, BOS, EOS) == greedy(model, src, 7, BOS, EOS, incremental=False)


class Table(nn.Module):
    """Ignores the source; the next-token distribution depends on the prefix only:
    after BOS: A 0.6, B 0.4; after A: C, D, E, EOS at 0.25 each; after B: EOS 0.9; after anything else: EOS.
    Greedy takes A (0.6) and ends with at most 0.6·0.25 = 0.15; the best sequence is B EOS (0.36)."""

    A, B, C, D, E = 3, 4, 5, 6, 7
    V = 8

    def encode(self, src):
        return (src.float(), None)

    def next_probs(self, prefix: list[int]) -> torch.Tensor:
        p = torch.full((self.V,), 1e-6)
        last = prefix[-1]
        if last == BOS:
            p[self.A], p[self.B] = 0.6, 0.4
        elif last == self.A and len(prefix) == 2:
            p[[self.C, self.D, self.E, EOS]] = 0.25
        elif last == self.B:
            p[EOS], p[self.C] = 0.9, 0.1
        else:
            p[EOS] = 1.0
        return p / p.sum()

    def decode(self, memory, tgt_in):
        assert memory[0].shape[0] == tgt_in.shape[0]  # memory rows follow the beams
        rows = [[self.next_probs(seq[: t + 1]) for t in range(len(seq))] for seq in tgt_in.tolist()]
        return torch.stack([torch.stack(r) for r in rows]).log()  # (B, T, V)

    def decode_step(self, memory, tokens, state=None):
        """Its per-step state is the prefix so far."""
        prefix = tokens if state is None else torch.cat([state, tokens], 1)
        return self.decode(memory, prefix)[:, -1:], prefix

    def __call__(self, src, tgt_in):
        return self.decode(self.encode(src), tgt_in)


def test_beam_finds_a_better_sequence_than_greedy():
    model, src = Table(), torch.zeros(2, 3, dtype=torch.long)
    g = greedy(model, src, max_len=5, bos=BOS, eos=EOS)
    b = beam_search(model, src, beam=2, max_len=5, bos=BOS, eos=EOS, length_penalty=0.0)
    assert g[0][0] == Table.A and b == [[Table.B], [Table.B]]
    assert sequence_log_prob(model, src[:1], b[0]) > sequence_log_prob(model, src[:1], g[0])


def test_beam_stops_at_max_len_without_eos():
    class Never(Table):  # EOS is never likely: every hypothesis runs to max_len
        def next_probs(self, prefix):
            p = torch.full((self.V,), 1e-9)
            p[self.C] = 1.0
            return p / p.sum()

    out = beam_search(Never(), torch.zeros(1, 2, dtype=torch.long), beam=3, max_len=4, bos=BOS, eos=EOS)
    assert out == [[Table.C] * 4]
    assert greedy(Never(), torch.zeros(1, 2, dtype=torch.long), max_len=4, bos=BOS, eos=EOS) == [[Table.C] * 4]
