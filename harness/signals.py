"""SIGINT/SIGTERM/SIGUSR2 as a request to stop, honoured within moments wherever the run is.

Training stops after the current step. Evaluation, decoding and probes stop at their next module call: while
:meth:`StopFlag.watching` is open, a global forward pre-hook raises :class:`StopRequested` once a stop was
asked for, so no task or architecture needs to know about signals. A second Ctrl-C stops at once.
"""

from __future__ import annotations

import contextlib
import signal
import warnings

import torch

from core import faults

# The stop check is meant to fire at the compiled module's call too (trainer.compile=true): no warning for that.
warnings.filterwarnings("ignore", message=r"Using `torch.compile\(module\)` when there are global hooks")


class StopRequested(KeyboardInterrupt):
    """A signal asked the run to stop while it was evaluating, decoding or probing."""


class StopFlag:
    """Installs the handlers while open; ``reason`` is the name of the first signal received (or None)."""

    def __init__(self):
        self.reason, self.old = None, {}

    def __enter__(self):
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGUSR2):  # SIGUSR2: SLURM's time limit is near
            try:
                self.old[sig] = signal.signal(sig, self.handle)
            except ValueError:  # not the main thread (some launchers): keep the default behaviour
                pass
        return self

    def handle(self, signum, frame):
        if self.reason is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.reason = signal.Signals(signum).name
        if self.at_once:
            raise StopRequested(self.reason)

    at_once = False  # set during set-up (data, tokenizer, model): nothing to save there, so a signal stops it now

    @contextlib.contextmanager
    def stopping_at_once(self):
        """While open, a signal raises StopRequested where the process is (set-up holds nothing worth a grace
        period; a long tokenizer or data step would otherwise hold the stop until training starts)."""
        self.check()
        self.at_once = True
        try:
            yield
        finally:
            self.at_once = False

    def __exit__(self, *exc):
        for sig, old in self.old.items():
            signal.signal(sig, old)

    def check(self, *_):
        if self.reason is not None:
            raise StopRequested(self.reason)

    @contextlib.contextmanager
    def watching(self, phase: str):
        """Raise StopRequested at the next ``nn.Module`` call after a signal (evaluation, decoding, probes).
        ``phase`` names the moment for :mod:`core.faults`."""
        self.check()

        def hook(*_):
            faults.point(phase)
            self.check()

        handle = torch.nn.modules.module.register_module_forward_pre_hook(hook)
        try:
            yield
        finally:
            handle.remove()
