"""Freed CPU memory is reused by the process (glibc): an evaluation-sized forward pass, repeated, faults no pages.

The pass is measured in a fresh interpreter, as a training process starts: inside the test process the heap holds
whatever the tests before it left (thread arenas, fragments), and one full-suite run measured 3,750 faults a pass
there against 0 in a fresh process.
"""

import json
import os
import platform
import statistics
import subprocess
import sys
from pathlib import Path

from harness import allocator

ROOT = Path(__file__).resolve().parents[2]
GLIBC = platform.libc_ver()[0] == "glibc"

CHILD = """
import json, resource, torch
from architectures.layers import EncoderBlock
from harness import allocator

def page_faults(fn):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    fn()
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before

said = allocator.keep_freed_memory()
torch.manual_seed(0)
blocks = torch.nn.Sequential(EncoderBlock(64, 4, 128), EncoderBlock(64, 4, 128)).eval()
x = torch.randn(500, 120, 64)

@torch.no_grad()
def forward():
    y = blocks(x)
    del y

for _ in range(3):  # the heap grows to its steady size
    forward()
print(json.dumps({"said": said, "faults": [page_faults(forward) for _ in range(5)]}))
"""


def steady_faults() -> tuple[str | None, float]:
    """Median page faults per pass of the default job's backbone (2 blocks, d_model 64) over one evaluation batch
    of 500 sequences of 120 tokens (its QKV output is 46 MB, above glibc's own mmap threshold, ≤ 32 MiB)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    out = subprocess.run([sys.executable, "-c", CHILD], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    got = json.loads(out.stdout.strip().splitlines()[-1])
    return got["said"], statistics.median(got["faults"])


def test_a_repeated_evaluation_pass_reuses_freed_memory_instead_of_faulting_new_pages():
    said = allocator.keep_freed_memory()
    assert (said is not None) == GLIBC
    if not GLIBC:  # nothing to change elsewhere: the record says None
        return
    assert "mmap and trim thresholds 1024 MiB" in said
    said, kept = steady_faults()
    assert "mmap and trim thresholds 1024 MiB" in said
    # with glibc's defaults the same pass faulted 7,500–52,000 pages each time (median ~30,000; measured 2026-12-03,
    # though not on every run: the default is not asserted); with the thresholds raised a fresh process faults none
    assert kept < 2000, f"{kept} page faults per evaluation pass in the steady state"
