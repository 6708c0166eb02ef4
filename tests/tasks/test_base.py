"""The shared epoch sampler of the data tasks."""

import pytest
import torch

from core.errors import ConfigError
from tasks.base import EpochSampler


def test_full_batches_cover_each_epoch_once_and_resume_bitwise():
    s = EpochSampler(10, seed=1)
    batches = [s.next(4) for _ in range(5)]  # 20 rows: exactly two epochs
    assert all(len(b) == 4 for b in batches) and s.epoch == 2 and s.pos == 0
    first, second = torch.cat(batches[:3])[:10], torch.cat(batches)[10:]
    assert sorted(first.tolist()) == sorted(second.tolist()) == list(range(10))
    state = s.state_dict()
    expected = [s.next(3) for _ in range(4)]
    again = EpochSampler(10, seed=99)
    again.load_state_dict(state)
    assert all(torch.equal(again.next(3), e) for e in expected)


def test_a_checkpoint_from_other_data_is_refused():
    with pytest.raises(ConfigError, match="covers 10 training rows but this task has 12"):
        EpochSampler(12, seed=0).load_state_dict(EpochSampler(10, seed=0).state_dict())
