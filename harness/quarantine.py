"""Every place archbench reaches into a library's private internals, in one module, each behind a version guard.

They save start-up time; what each saves is measured by ``benchmarks/startup.py`` (docs/performance.md). Each
patch applies only where the library's version is one it was checked against (:data:`CHECKED`); anywhere else
the public path runs instead, a little slower but correct. ``tests/harness/test_quarantine.py`` fails loudly when an
installed version is not in :data:`CHECKED` or a private name is gone: read the patch again, then add the version.

``ARCHBENCH_QUARANTINE_OFF=exit,hydra_mode,dynamo,triton,deterministic`` (any of them) turns patches off, for the
benchmark and for debugging.

- ``deterministic``: :func:`deterministic_algorithms` sets torch's flag directly; the public
  ``torch.use_deterministic_algorithms`` imports ``torch._inductor`` only to set a flag for compiled code.
- ``hydra_mode``: :func:`skip_mode_composition` — Hydra composes the whole configuration once only to read
  ``hydra.mode``; where nothing can set it, that composition is skipped.
- ``exit``: :func:`exit_without_teardown` ends a single run as Python's exit would, less the module teardown.
- ``dynamo``: :func:`keep_dynamo_out_of_training` — torch wraps optimizer and dispatch-mode methods in
  ``torch._compile._disable_dynamo``, which imports ``torch._dynamo`` on the first call only to mark them "do not
  trace"; while dynamo is not imported nothing can trace, so the mark is skipped until it is.
- ``triton``: :func:`flop_counter_module` imports ``torch.utils.flop_counter`` without triton where no GPU can
  run a triton kernel.

Two more reach into plugins' internals for behaviour, not speed (guarded the same way; on another version the
plugin's own behaviour stays): :func:`wrap_optuna_sweep` (``experiment=tune``: one line instead of Optuna's
traceback when no trial completed) and :func:`slurm_watcher` / :func:`jobs_not_results` (the SLURM launcher:
state from ``squeue`` where accounting is off; the launcher's jobs instead of their blocking results).
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import importlib
import inspect
import logging
import os
import sys
import threading

#: the versions (major.minor) each library's patches were checked against
CHECKED = {
    "python": ("3.11", "3.12"),
    "torch": ("2.14",),
    "hydra": ("1.3",),
    "hydra-optuna-sweeper": ("1.3",),
    "submitit": ("1.5",),
}


def minor(version: str) -> str:
    return ".".join(version.split("+")[0].split(".")[:2])


def checked(library: str, version: str) -> bool:
    return minor(version) in CHECKED[library]


def enabled(patch: str) -> bool:
    return patch not in os.environ.get("ARCHBENCH_QUARANTINE_OFF", "").split(",")


PYTHON_OK = checked("python", f"{sys.version_info[0]}.{sys.version_info[1]}")


def torch_ok() -> bool:
    import torch

    return checked("torch", torch.__version__)


def private_names() -> dict[str, object]:
    """Every private name the patches below use, by where it lives (None where it is gone): the tests check that
    each is still there."""
    import torch
    import torch._compile
    from torch.optim import optimizer

    return {  # looked up with a default, never called here
        "torch._C._set_deterministic_algorithms": getattr(torch._C, "_set_deterministic_algorithms", None),
        "hydra._internal.hydra.Hydra.get_mode": getattr(hydra_class(), "get_mode", None),
        "threading._shutdown": getattr(threading, "_shutdown", None),
        "atexit._run_exitfuncs": getattr(atexit, "_run_exitfuncs", None),
        "torch._compile._disable_dynamo": getattr(torch._compile, "_disable_dynamo", None),
        "torch.optim.optimizer._use_grad_for_differentiable": getattr(optimizer, "_use_grad_for_differentiable", None),
    }


# -- deterministic ---------------------------------------------------------------------------------------------
def deterministic_algorithms(compiled: bool) -> None:
    """``torch.use_deterministic_algorithms(True, warn_only=True)``; without compilation, the flag alone."""
    import torch

    if not compiled and torch_ok() and enabled("deterministic") and hasattr(torch._C, "_set_deterministic_algorithms"):
        torch._C._set_deterministic_algorithms(True, warn_only=True)  # guarded: torch in CHECKED
    else:
        torch.use_deterministic_algorithms(True, warn_only=True)


# -- hydra's mode ----------------------------------------------------------------------------------------------
def skip_mode_composition() -> bool:
    """Make Hydra's first composition (only to read ``hydra.mode``) return None at once; whether it did. The
    caller says where nothing can set ``hydra.mode`` (run.py: ``compose_once``)."""
    import hydra

    if not (checked("hydra", hydra.__version__) and enabled("hydra_mode")):
        return False
    Hydra = hydra_class()
    if not callable(getattr(Hydra, "get_mode", None)):
        return False
    Hydra.get_mode = lambda self, config_name, overrides: None
    return True


def hydra_class():
    """Hydra's private ``Hydra`` class (what :func:`skip_mode_composition` patches, behind its guard; the tests that
    check the patch read it here)."""
    from hydra._internal.hydra import Hydra  # guarded: only behind checked("hydra") but in the tests of this module

    return Hydra


# -- the end of a single run -----------------------------------------------------------------------------------
def exit_without_teardown(code: int = 0):
    """End the process as Python's own shutdown would — wait for the threads that are not daemons, run the atexit
    handlers, flush stdout and stderr — without tearing the interpreter's modules down one by one (with torch loaded
    ~0.5 s). Elsewhere than a checked Python, ``sys.exit``."""
    shutdown = getattr(threading, "_shutdown", None)  # CPython's wait for non-daemon threads (and their exit hooks)
    run_exitfuncs = getattr(atexit, "_run_exitfuncs", None)  # guarded: called only where Python is in CHECKED
    if not (PYTHON_OK and enabled("exit") and shutdown and run_exitfuncs):
        sys.exit(code)
    shutdown()  # guarded: Python in CHECKED
    run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed or broken pipe: what Python's own exit would also lose
            pass
    os._exit(code)  # guarded: Python in CHECKED, above


# -- torch._dynamo kept out of eager training ------------------------------------------------------------------
_INNER_CODE = None


def _inner_code():
    import torch._compile

    global _INNER_CODE
    if _INNER_CODE is None:
        _INNER_CODE = torch._compile._disable_dynamo(lambda: None).__code__
    return _INNER_CODE


def _dynamo():
    """``torch._dynamo`` when something imported it (then tracing may happen), else None."""
    return sys.modules.get("torch._dynamo")


def _lazy_disable(fn, recursive: bool):
    real = []

    def call(*args, **kwargs):
        dynamo = _dynamo()
        if dynamo is None:  # nothing can be tracing: the mark changes nothing
            return fn(*args, **kwargs)
        if not real:
            real.append(dynamo.disable(fn, recursive, wrapping=False))
        return real[0](*args, **kwargs)

    return call


def _use_grad_code():
    from torch.optim.optimizer import _use_grad_for_differentiable

    return _use_grad_for_differentiable(lambda self: None).__code__


def _eager_step(use_grad):
    """``Optimizer.step`` as torch's ``_use_grad_for_differentiable`` runs it, less its ``import torch._dynamo`` and
    graph breaks (no-ops outside tracing) while dynamo is not imported."""
    import torch

    raw = use_grad.__wrapped__

    @functools.wraps(raw)
    def step(self, *args, **kwargs):
        if _dynamo() is not None:
            return use_grad(self, *args, **kwargs)
        prev = torch.is_grad_enabled()
        try:
            torch.set_grad_enabled(self.defaults["differentiable"])
            return raw(self, *args, **kwargs)
        finally:
            torch.set_grad_enabled(prev)

    step.__eager_step__ = True
    return step


def keep_dynamo_out(*roots) -> int:
    """Give every ``_disable_dynamo`` wrapper found on the classes ``roots`` (and their subclasses) the lazy form;
    returns how many were set (0 where torch is not a checked version). Safe to call more than once."""
    if not (torch_ok() and enabled("dynamo")):
        return 0
    code, step_code, done, seen = _inner_code(), _use_grad_code(), 0, set()
    classes = list(roots)
    while classes:
        cls = classes.pop()
        if cls in seen:
            continue
        seen.add(cls)
        classes.extend(cls.__subclasses__())
        step = vars(cls).get("step")
        if getattr(step, "__code__", None) is step_code and hasattr(step, "__wrapped__"):
            cls.step = _eager_step(step)  # before the first instance hooks it (Optimizer._patch_step_function)
            done += 1
        for attr in vars(cls).values():
            func = getattr(attr, "__func__", attr)
            if getattr(func, "__code__", None) is not code:
                continue
            free = inspect.getclosurevars(func).nonlocals
            fn = free.get("fn")
            if fn is not None and getattr(fn, "__dynamo_disable", None) is None:
                fn.__dynamo_disable = _lazy_disable(fn, bool(free.get("recursive", True)))
                done += 1
    return done


def flop_counter_module():
    """``torch.utils.flop_counter``, imported without ``triton`` where no GPU is available (~0.1 s a start).

    The module imports triton only to recognise a user's triton kernel inside a compiled graph, which a CPU-only
    run cannot have. Where CUDA is available, or triton or the module is already loaded, or torch is not a checked
    version, this is the plain import. Otherwise triton is blocked for the duration of the import only (and the
    module's "triton not found" warning, which a CUDA build of torch logs, is held back), so that a later
    ``import triton`` still works."""
    import torch

    name = "torch.utils.flop_counter"
    if name in sys.modules or "triton" in sys.modules or torch.cuda.is_available():
        return importlib.import_module(name)
    if not (torch_ok() and enabled("triton")):
        return importlib.import_module(name)
    log = logging.getLogger(name)
    level = log.level
    sys.modules["triton"] = None  # guarded: torch in CHECKED; `from triton... import` raises: the module's fallback
    log.setLevel(logging.ERROR)
    try:
        return importlib.import_module(name)
    finally:
        log.setLevel(level)
        if sys.modules.get("triton", 0) is None:
            sys.modules.pop("triton")


def keep_dynamo_out_of_training() -> int:
    """The optimizers and LR schedulers a run builds, and the dispatch modes (the FLOP counter) it uses."""
    import torch
    from torch.utils._python_dispatch import TorchDispatchMode

    flop_counter_module()  # defines its dispatch mode

    return keep_dynamo_out(torch.optim.Optimizer, torch.optim.lr_scheduler.LRScheduler, TorchDispatchMode)


# -- plugins -----------------------------------------------------------------------------------------------------
def package_ok(name: str) -> bool:
    import importlib.metadata

    try:
        return checked(name, importlib.metadata.version(name))
    except importlib.metadata.PackageNotFoundError:
        return False


def wrap_optuna_sweep(wrap) -> bool:
    """Replace the Optuna sweeper's ``sweep`` by ``wrap(sweep)`` (once); whether it is wrapped."""
    if not package_ok("hydra-optuna-sweeper"):
        return False
    from hydra_plugins.hydra_optuna_sweeper._impl import OptunaSweeperImpl  # guarded: hydra-optuna-sweeper checked

    if not getattr(OptunaSweeperImpl.sweep, "wrapped", False):
        OptunaSweeperImpl.sweep = wrap(OptunaSweeperImpl.sweep)
    return True


def slurm_watcher(fallback):
    """submitit's job-state watcher, asking ``fallback(job_ids)`` (the text ``sacct`` would print) where ``sacct``
    fails (accounting off); submitit's own watcher on a version not checked."""
    import subprocess
    import time

    from submitit.slurm.slurm import SlurmInfoWatcher

    if not package_ok("submitit"):
        return SlurmInfoWatcher(delay_s=30)

    class Watcher(SlurmInfoWatcher):  # guarded: submitit checked (its private fields below)
        def update(self) -> None:
            command = self._make_command()
            if command is None:
                return
            try:
                self._output = subprocess.check_output(command, stderr=subprocess.DEVNULL)
            except (subprocess.CalledProcessError, OSError):
                self._output = fallback(sorted({x.split("_")[0] for x in self._registered - self._finished}))
            self._num_calls += 1
            self._info_dict.update(self.read_info(self._output))
            self._last_status_check = time.time()

    return Watcher(delay_s=30)


@contextlib.contextmanager
def jobs_not_results(pending):
    """While open, ``submitit.AutoExecutor.map_array`` returns ``pending(job)`` for each job it submits (the
    hydra-submitit launcher then hands the jobs back instead of blocking on their results). Public names of
    submitit, swapped for the duration only."""
    import submitit

    real_map_array = submitit.AutoExecutor.map_array

    def map_array(executor, *args):
        return [pending(job) for job in real_map_array(executor, *args)]

    submitit.AutoExecutor.map_array = map_array
    try:
        yield
    finally:
        submitit.AutoExecutor.map_array = real_map_array
