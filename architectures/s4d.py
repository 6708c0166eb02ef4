"""S4D: a diagonal state space model (Gu, Gupta, Goel & Ré 2022, "On the Parameterization and Initialization of
Diagonal State Space Models") as a backbone, in plain PyTorch.

Each of the d channels is a linear time-invariant system with N/2 complex diagonal states,
x'(t) = A x(t) + B u(t), y(t) = 2·Re(C x(t)) + D u(t), discretised with step Δ (zero-order hold). Unrolled over L
steps it is a convolution with the kernel K[l] = 2·Re(Σₙ Cₙ (e^{ΔAₙ} − 1)/Aₙ · e^{ΔAₙ l}) (B folded into C), computed
by FFT in O(L log L): training sees the whole sequence in parallel, and the convolution is causal by
construction. S4D-Lin initialisation: Aₙ = −½ + iπn, log Δ uniform in [log Δmin, log Δmax], C ~ N(0, 1) complex.
Decoding steps the same system as a recurrence (state (B, d, N/2)), one token at a time.

A layer is pre-norm residual: ``x + dropout(GLU(Linear(GELU(ssm(LayerNorm(x))))))``. The bidirectional option
adds a second kernel run over the reversed sequence (padding is zeroed first, so it never reaches real tokens).
A and Δ are kept out of weight decay, as in the reference implementation.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn

from architectures.layers import Layer
from architectures.model import Backbone
from core.errors import ConfigError


def log_uniform_dt(d: int, dt_min: float, dt_max: float) -> torch.Tensor:
    """log Δ (d,), drawn uniformly in [log dt_min, log dt_max] (S4D's initialisation, and Mamba's)."""
    return torch.rand(d) * (math.log(dt_max) - math.log(dt_min)) + math.log(dt_min)


def check_dt_range(dt_min: float, dt_max: float) -> None:
    if not 0 < dt_min <= dt_max:
        raise ConfigError(f"arch.dt_min={dt_min} and arch.dt_max={dt_max} must satisfy 0 < dt_min ≤ dt_max")


def ssm_parameter_names(n_layers: int, params: tuple[str, ...]) -> set[str]:
    """``params`` of the forward (``ssm``) and backward (``back``) SSM of every layer: what weight decay leaves out."""
    return {f"layers.{i}.{ssm}.{p}" for i in range(n_layers) for ssm in ("ssm", "back") for p in params}


class SSMStack(Backbone):
    """What the state space backbones (S4D, S6) share: causal unless bidirectional, a stack of layers over a
    residual stream of width d_model and a final LayerNorm; weight decay leaves out the SSM parameters named in
    ``no_decay`` (of every layer's forward and backward SSM)."""

    causal_settings = {"bidirectional": False}
    no_decay: tuple[str, ...] = ()

    def build_stack(self, d_model: int, bidirectional: bool | None, dt_min: float, dt_max: float, layers) -> None:
        """``layers``: an iterable of the layers, consumed after the Δ range is checked."""
        check_dt_range(dt_min, dt_max)
        self.width = self.out_width = d_model
        self.causal = not bidirectional
        self.layers = nn.ModuleList(layers)
        self.final = nn.LayerNorm(d_model)

    def no_weight_decay(self) -> set[str]:
        return ssm_parameter_names(len(self.layers), self.no_decay)


class DiagonalSSM(nn.Module):
    """d independent diagonal SSMs of N/2 complex states: the kernel (d, L), and one recurrence step."""

    def __init__(self, d: int, d_state: int, dt_min: float, dt_max: float):
        super().__init__()
        n = d_state // 2
        self.log_dt = nn.Parameter(log_uniform_dt(d, dt_min, dt_max))  # (d,)
        self.log_A_real = nn.Parameter(torch.full((d, n), math.log(0.5)))  # Re A = −exp(·) = −½
        self.A_imag = nn.Parameter(math.pi * torch.arange(n, dtype=torch.float32).expand(d, n).clone())  # Im A = πn
        self.C = nn.Parameter(torch.view_as_real(torch.randn(d, n, dtype=torch.cfloat)))  # (d, n, 2)

    def discrete(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(ΔA, C·(e^{ΔA} − 1)/A), both complex (d, n)."""
        A = -torch.exp(self.log_A_real) + 1j * self.A_imag  # (d, n)
        dtA = A * torch.exp(self.log_dt)[:, None]  # (d, n)
        return dtA, torch.view_as_complex(self.C) * (torch.exp(dtA) - 1.0) / A

    def kernel(self, L: int) -> torch.Tensor:
        """K (d, L), real."""
        dtA, C = self.discrete()
        powers = torch.exp(dtA[..., None] * torch.arange(L, device=dtA.device))  # (d, n, L)
        return 2 * torch.einsum("dn,dnl->dl", C, powers).real

    def convolve(self, u: torch.Tensor) -> torch.Tensor:
        """u (B, L, d) → causal convolution with the kernel, (B, L, d), by FFT."""
        L = u.shape[1]
        k_f = torch.fft.rfft(self.kernel(L), n=2 * L)  # (d, L + 1)
        u_f = torch.fft.rfft(u.transpose(1, 2).float(), n=2 * L)  # (B, d, L + 1)
        return torch.fft.irfft(u_f * k_f, n=2 * L)[..., :L].transpose(1, 2).to(u.dtype)  # (B, L, d)

    def step(self, u: torch.Tensor, s: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        """u (B, 1, d); state s (B, d, n) complex: s ← e^{ΔA} s + u, y = 2·Re(C' s)."""
        dtA, C = self.discrete()
        s = u[:, 0, :, None].to(C.dtype) if s is None else torch.exp(dtA) * s + u[:, 0, :, None]  # (B, d, n)
        return 2 * (s * C).sum(-1).real[:, None].to(u.dtype), s  # (B, 1, d)


class S4DLayer(Layer):
    def __init__(self, d: int, d_state: int, dt_min: float, dt_max: float, dropout: float, bidirectional: bool):
        super().__init__()
        self.norm = nn.LayerNorm(d)
        self.ssm = DiagonalSSM(d, d_state, dt_min, dt_max)
        self.back = DiagonalSSM(d, d_state, dt_min, dt_max) if bidirectional else None
        self.D = nn.Parameter(torch.randn(d))  # the skip term D·u
        self.out = nn.Sequential(nn.GELU(), nn.Dropout(dropout), nn.Linear(d, 2 * d), nn.GLU(-1))
        self.drop = nn.Dropout(dropout)

    def forward(self, x, pad=None):
        u = self.norm(x)  # (B, L, d)
        if pad is not None:
            u = u.masked_fill(pad[..., None], 0.0)  # zero input: padding adds nothing to any convolution
        y = self.ssm.convolve(u)  # (B, L, d)
        if self.back is not None:
            y = y + self.back.convolve(u.flip(1)).flip(1)  # the same from the end: sees the future
        return x + self.drop(self.out(y + u * self.D))

    def step(self, x, state=None):
        """Causal only: the SSM state (B, d, N/2) complex."""
        u = self.norm(x)  # (B, 1, d)
        y, state = self.ssm.step(u, state)
        return x + self.drop(self.out(y + u * self.D)), state


class S4D(SSMStack):
    """Stack of S4D layers.

    Args:
        max_len: longest sequence (unused: the kernel is computed for the length at hand).
        d_model: channels d.
        n_layers: S4D layers.
        d_state: N, the state size per channel (N/2 complex states).
        bidirectional: a second kernel over the reversed sequence; null in the YAML follows the task.
        dropout: after the GELU and on the residual branch.
        dt_min, dt_max: range of the initial discretisation step Δ (log-uniform).
    """

    no_decay = ("log_A_real", "A_imag")

    def __init__(
        self,
        max_len: int,
        *,
        d_model: int,
        n_layers: int,
        d_state: int,
        bidirectional: bool | None,
        dropout: float,
        dt_min: float,
        dt_max: float,
    ):
        super().__init__()
        if d_model < 1 or n_layers < 1 or d_state < 2 or d_state % 2:
            raise ConfigError(
                f"arch.d_model={d_model} and arch.n_layers={n_layers} must be ≥ 1 and "
                f"arch.d_state={d_state} even and ≥ 2"
            )
        layers = (S4DLayer(d_model, d_state, dt_min, dt_max, dropout, bidirectional) for _ in range(n_layers))
        self.build_stack(d_model, bidirectional, dt_min, dt_max, layers)
