"""A run that does not compile never imports torch._dynamo (nor inductor, sympy, fsdp): ~1 s of CPU a start."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("torch._dynamo", "torch._inductor", "sympy", "torch.distributed.fsdp")

EAGER_RUN = """
import sys, torch
import harness.train
from harness import eager, optim
from torch.utils.flop_counter import FlopCounterMode
eager.keep_dynamo_out_of_training()
model = torch.nn.Sequential(torch.nn.Embedding(10, 8), torch.nn.LayerNorm(8), torch.nn.Linear(8, 3))
groups, _ = optim.param_groups(model, 0.1)
opt = torch.optim.AdamW(groups, lr=0.1)
sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1.0)
x = torch.tensor([[1, 2, 3]])
with FlopCounterMode(display=False) as fc:
    model(x).sum().backward()
before = model[2].weight.detach().clone()
opt.step(); sched.step(); opt.zero_grad(); opt.state_dict()
assert not torch.equal(before, model[2].weight), "the step changed nothing"
assert torch.is_grad_enabled()
print([m for m in {heavy!r} if m in sys.modules])
"""


def run(code: str) -> str:
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip().splitlines()[-1]


def test_importing_the_training_entry_loads_no_compiler():
    assert run(f"import sys, harness.train\nprint([m for m in {HEAVY!r} if m in sys.modules])") == "[]"


def test_an_eager_step_loads_no_compiler():
    """Optimizer construction, step, zero_grad, state_dict, the LR scheduler and the FLOP counter all stay eager."""
    assert run(EAGER_RUN.format(heavy=HEAVY)) == "[]"


def test_once_dynamo_is_loaded_the_real_disable_is_used():
    """After a torch.compile in the same process (a reused sweep worker) the step goes through torch's own path."""
    code = EAGER_RUN.format(heavy=HEAVY).replace("import harness.train", "import harness.train, torch._dynamo")
    assert "torch._dynamo" in run(code)
