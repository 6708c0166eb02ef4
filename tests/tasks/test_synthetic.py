"""What every generated task shares (tasks/synthetic.py): fixed evaluation sets independent of the training seed,
generated once and reused by every validation pass, distinct validation and test sets, a training stream that
resumes bitwise."""

import pytest
import torch

from tasks.assoc_recall import AssocRecall
from tasks.copy_long import CopyLong
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


@pytest.mark.parametrize("make", [CopyLong, AssocRecall, SelectiveCopy])
def test_validation_batches_generated_once_and_reused(make):
    """Every validation pass reads the same tensors generated at setup (views of them, nothing regenerated),
    and training batches drawn between passes do not change them."""
    task = make(n_val=20, n_test=20)
    task.setup("cpu", 0)
    first = [b.inputs[0] for b in task.eval_batches("val", 8)]
    task.train_batch(8)
    second = [b.inputs[0] for b in task.eval_batches("val", 8)]
    assert [len(x) for x in first] == [8, 8, 4]
    base = task.fixed["val"][0]
    for a, b in zip(first, second, strict=True):
        assert a.data_ptr() == b.data_ptr() and torch.equal(a, b)
        assert a.untyped_storage().data_ptr() == base.untyped_storage().data_ptr()  # a view of the fixed set
