"""Checks of a backbone's contract, run once when the model is built (before any data or training): a backbone of
one's own that breaks the contract is told in one line naming it, not deep in the head or after a run.

* Shape: ``(B, L, width)`` in → ``(B, L, out_width)`` out. A wrong width or dropped positions otherwise fail in
  the head (``mat1 and mat2 shapes cannot be multiplied``) with nothing naming the backbone or ``out_width``.
* Finite: the output of a random input at initialisation is finite. A forward that returns NaN/inf would
  otherwise be reported as a divergence at step 1 ("lower optimizer.lr"), which no learning rate can help.
* Causal: a backbone that declares ``causal=True`` (for a causal task, or as the generic decoder) must not look
  ahead: changing the positions from ``p`` on leaves every output before ``p`` as it was.

Each check is one forward (two for the causal one) of a single sequence of the length the backbone was built for,
in eval mode and without gradients, from its own random generator (the run's random stream is left alone).
"""

from __future__ import annotations

import torch

from core.errors import ConfigError, first_line, memory_error_line

#: outputs before the perturbed position may differ by float rounding only
TOLERANCE = 1e-4


def _name(backbone) -> str:
    return f"arch.backbone {type(backbone).__module__}.{type(backbone).__name__}"


def _forward(backbone, x):
    out = backbone(x, None)
    return out[0] if isinstance(out, tuple) else out


_checked: set[tuple] = set()  # backbones (class, sizes) already checked in this process: the first build only


def _guarded(backbone, x):
    """The forward, with what it raises told in one line naming the backbone: ``sys.exit`` in a forward (which
    would end the run with status 0), or any error that is not the machine's memory running out."""
    try:
        return _forward(backbone, x)
    except SystemExit as e:
        raise ConfigError(
            f"{_name(backbone)}: its forward called sys.exit({e.code}); a forward returns a tensor"
        ) from None
    except Exception as e:  # the backbone's own code failed: one line naming it
        if memory_error_line(e) is not None:
            raise
        raise ConfigError(
            f"{_name(backbone)}: its forward failed on an input of shape {tuple(x.shape)}: {first_line(e)}"
        ) from None


def check_backbone(backbone: torch.nn.Module, length: int, *, causal: bool) -> None:
    """One ConfigError line naming the backbone when it breaks the contract (see the module's docstring);
    ``causal``: also check that it does not look ahead (it declares ``causal=True`` and is used as causal).
    A backbone of the same class, sizes and parameter count is checked once per process."""
    width, out_width = int(backbone.width), int(backbone.out_width)
    key = (type(backbone), length, width, out_width, causal, sum(p.numel() for p in backbone.parameters()))
    if key in _checked:
        return
    gen = torch.Generator().manual_seed(0)
    device = next((p.device for p in backbone.parameters()), torch.device("cpu"))
    dtype = next((p.dtype for p in backbone.parameters() if p.is_floating_point()), torch.float32)
    x = torch.randn(1, length, width, generator=gen).to(device, dtype)
    was_training = backbone.training
    backbone.eval()
    try:
        with torch.no_grad():
            y = _guarded(backbone, x)
            shape = tuple(getattr(y, "shape", ()))
            if shape != (1, length, out_width):
                raise ConfigError(
                    f"{_name(backbone)} returned shape {shape} for an input of shape (1, {length}, {width}); a "
                    f"backbone returns (B, L, out_width) = (1, {length}, {out_width}): set out_width to the width its "
                    "forward returns, and keep every position"
                )
            if not torch.isfinite(y).all():
                raise ConfigError(
                    f"{_name(backbone)}: its forward produced non-finite values (NaN or inf) for a random input at "
                    "initialisation, before any training (no learning rate can help); check the backbone's forward"
                )
            if causal:
                p = max(1, length // 2)
                bent = x.clone()
                bent[:, p:] = torch.randn(bent[:, p:].shape, generator=gen).to(device, dtype) * 3
                moved = (_guarded(backbone, bent)[:, :p] - y[:, :p]).abs().max().item()
                scale = max(1.0, y[:, :p].abs().max().item())
                if not moved <= TOLERANCE * scale:
                    raise ConfigError(
                        f"{_name(backbone)} declares causal=True but looks ahead: changing the inputs from position "
                        f"{p} on changed its outputs before {p} (by up to {moved:.3g}); a causal backbone's output at "
                        "i may depend on inputs ≤ i only"
                    )
    finally:
        backbone.train(was_training)
    _checked.add(key)
