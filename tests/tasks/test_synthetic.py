"""What every generated task shares (tasks/synthetic.py): fixed evaluation sets independent of the training seed,
distinct validation and test sets, a training stream that resumes bitwise."""
import pytest
import torch

from tasks.assoc_recall import AssocRecall
from tasks.selective_copy import SelectiveCopy


@pytest.mark.parametrize("make", [AssocRecall, SelectiveCopy])
def test_fixed_sets_and_resumable_stream(make):
    a, b = make(n_val=20, n_test=20), make(n_val=20, n_test=20)
    a.setup("cpu", 0)
    b.setup("cpu", 9)
    assert torch.equal(a.fixed["val"][0], b.fixed["val"][0]) and not torch.equal(a.fixed["val"][0], a.fixed["test"][0])
    state = a.state_dict()
    first = a.train_batch(8).inputs[0]
    assert not torch.equal(first, b.train_batch(8).inputs[0])  # the training stream follows the run's seed
    a.load_state_dict(state)
    assert torch.equal(a.train_batch(8).inputs[0], first)
