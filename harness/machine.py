"""Set-up of the process a run trains in: threads, the allocator, the device, the seed and determinism.

:func:`prepare` does it once, before the task and the model are built, and returns the :class:`Machine` it set up;
as a component (:class:`harness.callbacks.Callback`) the machine says, before the first step, when it is busier
than its cores."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass

import torch
from omegaconf import DictConfig

from core.errors import ConfigError
from harness import allocator, quarantine, slurm
from harness.callbacks import Callback


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ConfigError(f"trainer.device={name!r} is not a device; use auto, cpu or cuda") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError("trainer.device=cuda but no CUDA device is available; use trainer.device=auto or cpu")
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise ConfigError(
            f"trainer.device={name} does not exist; this machine has {torch.cuda.device_count()} "
            f"CUDA device(s): use cuda:0 … cuda:{torch.cuda.device_count() - 1}"
        )
    return device


def warn_if_busy() -> None:
    """With trainer.threads unset: one line when the machine is busier than its cores. PyTorch's OpenMP threads
    then wait on each other (a 2-thread run on a busy 2-core machine was measured ~100x slower per step than
    quiet, a 1-thread run ~3x)."""
    try:
        load, cores = os.getloadavg()[0], os.cpu_count() or 1
    except OSError:  # no load average on this platform
        return
    if load > cores:
        print(
            f"warning: this machine is busy (load average {load:.1f} on {cores} cores); "
            f"add trainer.threads=1 for a faster run",
            file=sys.stderr,
            flush=True,
        )


def deterministic(device: torch.device, compiled: bool) -> None:
    """Repeatable algorithms (bitwise on the CPU)."""
    if device.type == "cuda":  # cuBLAS is repeatable only with a fixed workspace (else: a warning a matmul)
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    quarantine.deterministic_algorithms(compiled)  # without compilation, the flag alone (no torch._inductor)
    torch.utils.deterministic.fill_uninitialized_memory = False  # NaN-filling new tensors costs ~20%/step


@dataclass
class Machine(Callback):
    """What :func:`prepare` set up: the device, the allocator setting (``env.malloc`` in the record), and whether
    the thread count was left to PyTorch (then a busy machine is worth a warning)."""

    device: torch.device
    malloc: str | None
    check_busy: bool

    def on_start(self, trainer) -> None:
        if self.check_busy:
            warn_if_busy()


def prepare(t: DictConfig, seed: int) -> Machine:
    """Threads, allocator, device (and its memory share), the seed, determinism: in this order."""
    threads = t.threads or slurm.cpus_granted()  # in a SLURM job: the CPUs it was granted
    if threads:
        torch.set_num_threads(int(threads))
    malloc = allocator.keep_freed_memory()  # big CPU tensors reuse freed heap blocks (no page faults)
    device = pick_device(str(t.device))
    if t.cuda_memory_fraction is not None and device.type == "cuda":  # runs sharing one GPU
        torch.cuda.set_per_process_memory_fraction(float(t.cuda_memory_fraction), device)
    torch.manual_seed(seed)
    if t.deterministic:
        deterministic(device, bool(t.compile))
    return Machine(device, malloc, check_busy=not threads)
