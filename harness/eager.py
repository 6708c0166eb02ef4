"""Runs that do not compile never import ``torch._dynamo`` (with inductor, sympy and fsdp: ~1 s of CPU a start).

torch wraps some functions (``Optimizer.add_param_group``, ``zero_grad``, ``state_dict``, a dispatch mode's
``__torch_dispatch__`` ...) in ``torch._compile._disable_dynamo``, which imports ``torch._dynamo`` on the first call
only to mark them
"do not trace". While dynamo is not imported nothing can be traced, so the mark is a no-op: :func:`keep_dynamo_out`
gives each such function a cached "disabled" form that calls it directly until dynamo has been imported (by a
``torch.compile`` in the same process), and from then on the real ``torch._dynamo.disable`` form.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import logging
import sys

import torch._compile

_INNER_CODE = None


def _inner_code():
    global _INNER_CODE
    if _INNER_CODE is None:
        _INNER_CODE = torch._compile._disable_dynamo(lambda: None).__code__
    return _INNER_CODE


def _lazy_disable(fn, recursive: bool):
    real = []

    def call(*args, **kwargs):
        if "torch._dynamo" not in sys.modules:  # nothing can be tracing: the mark changes nothing
            return fn(*args, **kwargs)
        if not real:
            real.append(sys.modules["torch._dynamo"].disable(fn, recursive, wrapping=False))
        return real[0](*args, **kwargs)

    return call


def _use_grad_code():
    from torch.optim.optimizer import _use_grad_for_differentiable

    return _use_grad_for_differentiable(lambda self: None).__code__


def _eager_step(use_grad):
    """``Optimizer.step`` as torch's ``_use_grad_for_differentiable`` runs it, less its ``import torch._dynamo`` and
    graph breaks (no-ops outside tracing) while dynamo is not imported."""
    raw = use_grad.__wrapped__

    @functools.wraps(raw)
    def step(self, *args, **kwargs):
        if "torch._dynamo" in sys.modules:
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
    returns how many were set. Safe to call more than once."""
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
    run cannot have. Where CUDA is available, or triton or the module is already loaded, this is the plain import.
    Otherwise triton is blocked for the duration of the import only (and the module's "triton not found" warning,
    which a CUDA build of torch logs, is held back), so that a later ``import triton`` still works."""
    name = "torch.utils.flop_counter"
    if name in sys.modules or "triton" in sys.modules or torch.cuda.is_available():
        return importlib.import_module(name)
    log = logging.getLogger(name)
    level = log.level
    sys.modules["triton"] = None  # `from triton... import` raises ImportError: the module's own fallback
    log.setLevel(logging.ERROR)
    try:
        return importlib.import_module(name)
    finally:
        log.setLevel(level)
        if sys.modules.get("triton", 0) is None:
            del sys.modules["triton"]


def keep_dynamo_out_of_training() -> int:
    """The optimizers and LR schedulers a run builds, and the dispatch modes (the FLOP counter) it uses."""
    from torch.utils._python_dispatch import TorchDispatchMode

    flop_counter_module()  # defines its dispatch mode

    return keep_dynamo_out(torch.optim.Optimizer, torch.optim.lr_scheduler.LRScheduler, TorchDispatchMode)
