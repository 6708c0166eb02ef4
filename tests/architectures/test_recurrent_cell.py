"""The recurrent class decides its cell: ``arch=rnn`` builds nn.RNN layers, ``arch=lstm`` nn.LSTM ones, and no
setting can make one build the other's (the record's arch name says what was built)."""

import pytest
import torch.nn as nn
from hydra.errors import ConfigCompositionException

from tests.conftest import make_cfg


@pytest.mark.parametrize("arch,layer", [("rnn", nn.RNN), ("lstm", nn.LSTM)])
def test_the_class_decides_the_cell(arch, layer, tmp_path):
    from harness.train import build
    from tasks.base import TaskSpec

    cfg = make_cfg(tmp_path, f"arch={arch}", "arch.hidden=8")
    spec = TaskSpec(input_kind="tokens", output_kind="class", vocab_size=11, max_len=5, pad_id=0, num_classes=2)
    model = build(cfg.arch, "arch", spec=spec)
    kinds = {type(m) for m in model.modules() if isinstance(m, nn.RNNBase)}
    assert kinds == {layer}


@pytest.mark.parametrize("arch,other", [("lstm", "rnn"), ("rnn", "gru")])
def test_cell_is_not_a_setting(arch, other, tmp_path):
    with pytest.raises(ConfigCompositionException, match="cell"):
        make_cfg(tmp_path, f"arch={arch}", f"arch.cell={other}")
