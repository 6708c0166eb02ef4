"""S6: the selective state space model of Mamba (Gu & Dao 2023, "Mamba: Linear-Time Sequence Modeling with Selective
State Spaces", §3 and Algorithm 2) as a backbone, in plain PyTorch.

S4D's system x'(t) = A x(t) + B u(t), y(t) = C x(t) + D u(t) is time-invariant: Δ, B and C are parameters, so the
whole layer is one fixed convolution. S6 makes it *selective*: Δ (B, L, D), B and C (B, L, N) are computed from
the input at each position, so the model can choose what to write into its state and what to ignore. With a
real diagonal A (D, N) and the discretisation of Mamba (Ā = exp(ΔA), B̄u ≈ ΔBu) each channel d and state n run

    h_t = exp(Δ_t A) · h_{t−1} + Δ_t B_t u_t,        y_t = Σₙ C_t h_t + D u_t,

which is no convolution any more: it is computed by a scan over the positions. Two scans compute it:
:func:`selective_scan_reference`, the plain recurrence one position at a time (the test oracle, and what
decoding steps), and :func:`selective_scan`, which runs the same recurrence on all chunks of ``chunk`` positions
at once, then carries each chunk's end state into the next: 2·chunk + L/chunk sequential steps instead of L, for
about twice the arithmetic. ``scan: auto`` (the default) takes the chunked scan on a GPU, where each sequential
step costs kernel launches, and the sequential one on the CPU, where the scan is bound by arithmetic and the
chunked one measured 1.4–2.7× slower at training sizes (docs/architectures.md). Both multiply only by
exp(Δ A) ∈ (0, 1] (Δ ≥ 0, A < 0): nothing overflows at any length.

A layer is the Mamba block, pre-norm residual: ``x + dropout(out(S6(SiLU(conv(x_in))) · SiLU(z)))`` where
``(x_in, z) = in_proj(LayerNorm(x))`` has width 2·expand·d, ``conv`` is a short causal depthwise convolution,
Δ = softplus(low-rank projection + dt bias), and a final LayerNorm closes the stack (Mamba's ``norm_f``).
Initialisation as Mamba's: A = −(1, 2, …, N) per channel (S4D-real), D = 1, the dt bias the inverse softplus of
Δ drawn log-uniform in [dt_min, dt_max]. A, D and the dt bias are kept out of weight decay (and out of
``arch.init``'s re-initialisation of matrices).

Causal by construction. The bidirectional option (what tasks such as masked language modelling prefer) adds a
second conv + S6 with its own parameters over the reversed sequence and sums the two before the gate, as Vision
Mamba's bidirectional block does (Zhu et al. 2024). Padding is zeroed before the convolution and its Δ set to 0
(an identity step: the state passes through unchanged), so it never reaches a real position in either direction.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from architectures.layers import Layer
from architectures.s4d import SSMStack, log_uniform_dt
from core.errors import ConfigError


def scan_step(h, u, dt, A, B, C):
    """One position: h (..., D, N), u and dt (..., D), A (D, N), B and C (..., N) → (y (..., D), h)."""
    h = torch.exp(dt[..., None] * A) * h + (dt * u)[..., None] * B[..., None, :]  # (..., D, N)
    return (h * C[..., None, :]).sum(-1), h


def selective_scan_reference(u, dt, A, B, C, h=None):
    """The recurrence one position at a time: u, dt (..., L, D), A (D, N), B, C (..., L, N), state h (..., D, N)
    or None (zero) → (y (..., L, D) without the D·u skip, the state after the last position)."""
    if h is None:
        h = u.new_zeros(*u.shape[:-2], u.shape[-1], A.shape[-1])  # (..., D, N)
    ys = []
    for ut, dtt, Bt, Ct in zip(u.unbind(-2), dt.unbind(-2), B.unbind(-2), C.unbind(-2)):
        y, h = scan_step(h, ut, dtt, A, Bt, Ct)
        ys.append(y)
    return torch.stack(ys, -2), h


def selective_scan(u, dt, A, B, C, chunk: int):
    """The same recurrence by chunks of ``chunk`` positions (equal to the reference up to rounding).

    Every chunk runs from a zero state, all chunks at once; the state at each chunk's start is then carried
    through the chunks (its end state plus the previous start decayed by exp(A·ΣΔ) over the chunk); chunks after the
    first run again from their true start. u, dt (B, L, D), B, C (B, L, N) → y (B, L, D)."""
    L = u.shape[1]
    if L <= chunk:
        return selective_scan_reference(u, dt, A, B, C)[0]
    extra = -L % chunk  # the tail is filled with Δ = 0, u = 0: identity steps
    u, dt, B, C = (F.pad(t, (0, 0, 0, extra)).unflatten(1, (-1, chunk)) for t in (u, dt, B, C))  # (B, nc, T, ·)
    y, h_end = selective_scan_reference(u, dt, A, B, C)  # (B, nc, T, D), (B, nc, D, N): each chunk from zero
    decay = torch.exp(dt.sum(2)[..., None] * A)  # (B, nc, D, N): the decay over a whole chunk
    start, starts = torch.zeros_like(h_end[:, 0]), []  # (B, D, N)
    for he, de in zip(h_end[:, :-1].unbind(1), decay[:, :-1].unbind(1)):
        start = de * start + he
        starts.append(start)
    later = selective_scan_reference(u[:, 1:], dt[:, 1:], A, B[:, 1:], C[:, 1:], torch.stack(starts, 1))[0]
    return torch.cat([y[:, :1], later], 1).flatten(1, 2)[:, :L]  # (B, L, D)


SCANS = ("auto", "sequential", "chunked")


def scan_used(scan: str, on_cuda: bool) -> str:
    """``auto`` → ``chunked`` on a GPU, ``sequential`` on the CPU; the others as they are."""
    return ("chunked" if on_cuda else "sequential") if scan == "auto" else scan


class SelectiveSSM(nn.Module):
    """Causal depthwise conv → SiLU → S6 over D = expand·d channels: (B, L, D) → (B, L, D); and one decoding step."""

    def __init__(
        self, D: int, d_state: int, dt_rank: int, d_conv: int, dt_min: float, dt_max: float, scan: str, chunk: int
    ):
        super().__init__()
        self.d_state, self.dt_rank, self.scan, self.chunk = d_state, dt_rank, scan, chunk
        self.conv = nn.Conv1d(D, D, d_conv, groups=D)  # depthwise; padded on the left only
        self.x_proj = nn.Linear(D, dt_rank + 2 * d_state, bias=False)  # Δ (low rank), B, C from the input
        self.dt_proj = nn.Linear(dt_rank, D, bias=False)
        nn.init.uniform_(self.dt_proj.weight, -(dt_rank**-0.5), dt_rank**-0.5)
        dt = torch.exp(log_uniform_dt(D, dt_min, dt_max))  # (D,)
        self.dt_bias = nn.Parameter(dt + torch.log(-torch.expm1(-dt)))  # softplus(dt_bias) = dt
        self.A_log = nn.Parameter(torch.log(torch.arange(1, d_state + 1, dtype=torch.float32)).repeat(D, 1))  # (D, N)
        self.D = nn.Parameter(torch.ones(D))  # the skip term D·u

    def select(self, u):
        """u (..., D) → Δ (..., D), B (..., N), C (..., N): the input-dependent parameters."""
        dt, B, C = self.x_proj(u).split([self.dt_rank, self.d_state, self.d_state], -1)
        return F.softplus(self.dt_proj(dt) + self.dt_bias), B, C

    def forward(self, x, pad=None):
        """x (B, L, D); ``pad`` (B, L) True = padding."""
        if pad is not None:
            x = x.masked_fill(pad[..., None], 0.0)  # the convolution reads zeros there, as before the sequence
        k = self.conv.kernel_size[0]
        u = F.silu(self.conv(F.pad(x.transpose(1, 2), (k - 1, 0)))).transpose(1, 2)  # (B, L, D), causal
        dt, B, C = self.select(u)  # (B, L, D), (B, L, N), (B, L, N)
        if pad is not None:
            dt = dt.masked_fill(pad[..., None], 0.0)  # Δ = 0: exp(0·A) = 1 and nothing written, the state passes
        A = -torch.exp(self.A_log.float())  # (D, N)
        v, dt, B, C = u.float(), dt.float(), B.float(), C.float()  # the scan in float32, also under bf16 autocast
        if scan_used(self.scan, u.is_cuda) == "chunked":
            y = selective_scan(v, dt, A, B, C, self.chunk)
        else:
            y = selective_scan_reference(v, dt, A, B, C)[0]
        return (y + v * self.D).to(u.dtype)  # (B, L, D)

    def step(self, x, state=None):
        """x (B, 1, D); state (the last d_conv − 1 inputs (B, d_conv − 1, D), h (B, D, N)) or None."""
        k = self.conv.kernel_size[0]
        buf = F.pad(x, (0, 0, k - 1, 0)) if state is None else torch.cat([state[0], x], 1)  # (B, k, D)
        u = F.silu(self.conv(buf.transpose(1, 2)))[..., 0]  # (B, D)
        v, dt, B, C = (t.float() for t in (u, *self.select(u)))  # float32, as forward
        h = v.new_zeros(*v.shape, self.d_state) if state is None else state[1]  # (B, D, N)
        y, h = scan_step(h, v, dt, -torch.exp(self.A_log.float()), B, C)
        return (y + v * self.D).to(u.dtype)[:, None], (buf[:, 1:], h)  # (B, 1, D)


class MambaLayer(Layer):
    def __init__(self, d: int, expand: int, bidirectional: bool, dropout: float, **ssm):
        super().__init__()
        self.norm = nn.LayerNorm(d)
        self.in_proj = nn.Linear(d, 2 * expand * d, bias=False)  # x_in and the gate z
        self.ssm = SelectiveSSM(expand * d, **ssm)
        self.back = SelectiveSSM(expand * d, **ssm) if bidirectional else None
        self.out = nn.Linear(expand * d, d, bias=False)
        self.drop = nn.Dropout(dropout)

    def forward(self, x, pad=None):
        x_in, z = self.in_proj(self.norm(x)).chunk(2, -1)  # (B, L, D) each
        y = self.ssm(x_in, pad)  # (B, L, D)
        if self.back is not None:
            y = y + self.back(x_in.flip(1), None if pad is None else pad.flip(1)).flip(1)  # sees the future
        return x + self.drop(self.out(y * F.silu(z)))

    def step(self, x, state=None):
        """Causal only: the SSM's state (conv buffer, h)."""
        x_in, z = self.in_proj(self.norm(x)).chunk(2, -1)  # (B, 1, D) each
        y, state = self.ssm.step(x_in, state)
        return x + self.drop(self.out(y * F.silu(z))), state


class S6(SSMStack):
    """Stack of Mamba blocks (selective state space layers).

    Args:
        max_len: longest sequence (unused: the scan has no length limit).
        d_model: width d of the residual stream.
        n_layers: Mamba blocks.
        d_state: N, the state size per channel.
        expand: the blocks' inner width is expand·d_model.
        d_conv: kernel size of the causal depthwise convolution.
        dt_rank: rank of Δ's projection; null = ⌈d_model / 16⌉ (Mamba's "auto").
        bidirectional: a second conv + S6 over the reversed sequence; null in the YAML follows the task.
        dropout: on the residual branch.
        dt_min, dt_max: range of the initial Δ (log-uniform), through the dt bias.
        scan: ``sequential``, ``chunked``, or ``auto`` (chunked on a GPU, sequential on the CPU); equal results.
        chunk: positions per chunk of the chunked scan.
    """

    no_decay = ("A_log", "D", "dt_bias")

    def __init__(
        self,
        max_len: int,
        *,
        d_model: int,
        n_layers: int,
        d_state: int,
        expand: int,
        d_conv: int,
        dt_rank: int | None,
        bidirectional: bool | None,
        dropout: float,
        dt_min: float,
        dt_max: float,
        scan: str,
        chunk: int,
    ):
        super().__init__()
        sizes = dict(d_model=d_model, n_layers=n_layers, d_state=d_state, expand=expand, d_conv=d_conv, chunk=chunk)
        sizes |= {"dt_rank": dt_rank} if dt_rank is not None else {}
        bad = [f"arch.{k}={v}" for k, v in sizes.items() if not (isinstance(v, int) and v >= 1)]
        if bad:
            raise ConfigError(f"{', '.join(bad)}: must be whole numbers ≥ 1 (dt_rank may be null)")
        if scan not in SCANS:
            raise ConfigError(f"arch.scan={scan!r} is not known; use one of {', '.join(SCANS)}")
        self.scan, self.chunk = scan, chunk
        ssm = dict(
            d_state=d_state,
            dt_rank=dt_rank or math.ceil(d_model / 16),
            d_conv=d_conv,
            dt_min=dt_min,
            dt_max=dt_max,
            scan=scan,
            chunk=chunk,
        )
        layers = (MambaLayer(d_model, expand, bidirectional, dropout, **ssm) for _ in range(n_layers))
        self.build_stack(d_model, bidirectional, dt_min, dt_max, layers)

    def describe(self) -> dict:
        """Which scan runs where the parameters are now (the record's ``arch_info``)."""
        scan = scan_used(self.scan, self.final.weight.is_cuda)
        return {"scan": scan, "chunk": self.chunk if scan == "chunked" else None}
