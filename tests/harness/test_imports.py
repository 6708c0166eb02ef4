"""A run that does not compile never imports torch._dynamo (nor inductor, sympy, fsdp): ~1 s of CPU a start."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("torch._dynamo", "torch._inductor", "sympy", "torch.distributed.fsdp")

EAGER_RUN = """
import sys, torch
import harness.train
from harness import optim, quarantine
from torch.utils.flop_counter import FlopCounterMode
quarantine.keep_dynamo_out_of_training()
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


FLOPS_WITHOUT_TRITON = """
import importlib.util, sys, torch
import harness.train
from harness import speed
cpu_only = not torch.cuda.is_available()
loaded = "triton" in sys.modules
left_blocked = sys.modules.get("triton", 0) is None
installed = importlib.util.find_spec("triton") is not None
if installed:
    import triton  # a compile later in the same process still finds it
x = torch.randn(4, 3)
flops = speed.count_flops(torch.nn.Linear(3, 5), lambda m: m(x).sum(), torch.device("cpu"))
print(cpu_only, loaded, left_blocked, installed, "triton" in sys.modules, flops)
"""


def test_the_flop_counter_is_imported_without_triton_where_no_gpu_can_run_a_triton_kernel():
    """torch.utils.flop_counter imports triton (~0.1 s) only to recognise triton kernels; on a CPU-only machine the
    harness imports it without, and leaves triton importable for a compile later in the process."""
    cpu_only, loaded, left_blocked, installed, after, flops = run(FLOPS_WITHOUT_TRITON).split()
    if cpu_only == "True":
        assert loaded == "False"
    assert left_blocked == "False"
    assert after == installed  # `import triton` worked where triton is installed
    assert int(flops) == 2 * (2 * 4 * 3 * 5)  # the Linear forward and its weight gradient (x needs none)
