"""Case 12: a size that cannot fit in memory (generated data, a model width) is one line naming the settings to
lower, exit 2, no record — not torch's allocator traceback. The run gets a 16 GB address-space limit, so the
refusal comes from the allocator at once on any machine, whatever it would overcommit."""

from __future__ import annotations

import resource

import pytest

from core.errors import memory_error_line
from tests.reliability.helpers import TINY, cli, one_line_error


def limited():
    resource.setrlimit(resource.RLIMIT_AS, (16 * 2**30, 16 * 2**30))


@pytest.mark.parametrize("override", ["task.n_val=1000000000000", "arch.d_model=100000000000"])
def test_a_size_that_cannot_fit_is_one_line(tmp_path, override):
    proc = cli(tmp_path / "run", *TINY, override, "arch.n_heads=1", preexec_fn=limited)
    one_line_error(proc, "out of memory", "trainer.batch_size")
    assert "Traceback" not in proc.stderr and not (tmp_path / "run" / "summary.json").exists()


def test_only_memory_errors_are_turned_into_the_line():
    assert "GB" in memory_error_line(
        RuntimeError(
            "DefaultCPUAllocator: can't allocate memory: you tried to allocate 24000000000000 bytes. Error code 12"
        )
    )
    assert memory_error_line(MemoryError()) is not None
    assert memory_error_line(RuntimeError("mat1 and mat2 shapes cannot be multiplied")) is None  # a real bug
    assert memory_error_line(ValueError("out of memory")) is None
