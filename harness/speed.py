"""Speed figures of a run: steady-state step times (warm-up and compilation reported apart), FLOPs, MFU.

- :class:`StepClock` times training steps without a host sync per step: on CUDA each step's end is a recorded
  event, read when the loop synchronises anyway (every ``trainer.sync_every`` steps); on the CPU a
  ``perf_counter``. Consecutive steps chain (a step lasts from the previous step's end to its own), so a step's
  time is what the run really spends per step, GPU idle gaps included.
- :class:`SpeedMeter` keeps the sums a record needs: the first ``trainer.warmup_measure`` steps of each process
  (CUDA start, autotuning, CUDA-graph recording) and the first compiled step are counted apart, so throughput
  and ``step_ms`` (p50, p90) come from the steady state.
- :func:`count_flops` counts one training step's FLOPs (forward + backward) with
  ``torch.utils.flop_counter.FlopCounterMode``; :func:`peak_tflops` looks the device's peak up in a small table
  of known GPUs (or takes ``trainer.peak_tflops``), and MFU = FLOPs per step / median step time / peak.
- :class:`PeakMemory`: the run's peak memory (CUDA allocator peak, or the CPU's resident high-water mark).
"""

from __future__ import annotations

import re
import statistics
import time
from pathlib import Path

import torch

from harness.quarantine import flop_counter_module
from harness.run_state import SpeedState

flop_counter = flop_counter_module()  # without triton on a CPU-only machine
FlopCounterMode = flop_counter.FlopCounterMode

# Dense (no sparsity) peak TFLOP/s from the vendors' data sheets: bf16 on tensor cores, fp32 without TF32
# (the harness leaves torch's default, TF32 off). First match of the pattern in the device name wins.
PEAK_TFLOPS: list[tuple[str, str, dict[str, float]]] = [
    (r"H200", "H200", {"bf16": 989.4, "fp32": 66.9}),
    (r"H100.*PCIe", "H100 PCIe", {"bf16": 756.5, "fp32": 51.2}),
    (r"H100.*NVL", "H100 NVL", {"bf16": 835.5, "fp32": 60.0}),
    (r"H100", "H100 SXM", {"bf16": 989.4, "fp32": 66.9}),
    (r"A100", "A100", {"bf16": 312.0, "fp32": 19.5}),
    (r"L40S", "L40S", {"bf16": 362.1, "fp32": 91.6}),
    (r"\bL4\b", "L4", {"bf16": 121.0, "fp32": 30.3}),
    (r"\bA10\b", "A10", {"bf16": 125.0, "fp32": 31.2}),
    (r"RTX 4090", "RTX 4090", {"bf16": 165.2, "fp32": 82.6}),
]


# Formulas FlopCounterMode lacks: the CPU's fused attention kernel (it costs what the GPU kernels cost) and the
# fused recurrent kernels (cuDNN on CUDA, oneDNN for nn.LSTM on the CPU): each token meets every weight matrix
# once, 2 FLOPs a weight forward, twice that backward (input and weight gradients).
def _cpu_attention(query_shape, key_shape, value_shape, *args, out_shape=None, **kwargs) -> int:
    return flop_counter.sdpa_flop_count(query_shape, key_shape, value_shape)


def _cpu_attention_backward(
    grad_out_shape, query_shape, key_shape, value_shape, *args, out_shape=None, **kwargs
) -> int:
    return flop_counter.sdpa_backward_flop_count(grad_out_shape, query_shape, key_shape, value_shape)


def _recurrent(input_shape, weight_shapes) -> int:
    """2 · tokens · weights of the matrices in ``weight_shapes`` (input (T, B, in), (B, T, in) or packed (N, in))."""
    tokens = 1
    for n in input_shape[:-1]:
        tokens *= n
    return 2 * tokens * sum(w[0] * w[1] for w in weight_shapes if len(w) == 2)


def _cudnn_rnn(input_shape, weight_shapes, *args, out_shape=None, **kwargs) -> int:
    return _recurrent(input_shape, weight_shapes)


def _cudnn_rnn_backward(input_shape, weight_shapes, *args, out_shape=None, **kwargs) -> int:
    return 2 * _recurrent(input_shape, weight_shapes)


def _onednn_rnn_layer(input_shape, w_ih, w_hh, *args, out_shape=None, **kwargs) -> int:
    return _recurrent(input_shape, [w_ih, w_hh])


def _onednn_rnn_layer_backward(input_shape, w_ih, w_hh, *args, out_shape=None, **kwargs) -> int:
    return 2 * _recurrent(input_shape, [w_ih, w_hh])


aten = torch.ops.aten
FORMULAS = {
    aten._scaled_dot_product_flash_attention_for_cpu: _cpu_attention,
    aten._scaled_dot_product_flash_attention_for_cpu_backward: _cpu_attention_backward,
    aten._cudnn_rnn: _cudnn_rnn,
    aten._cudnn_rnn_backward: _cudnn_rnn_backward,
    aten.mkldnn_rnn_layer: _onednn_rnn_layer,
    aten.mkldnn_rnn_layer_backward: _onednn_rnn_layer_backward,
}


def peak_tflops(
    device_name: str | None, precision: str, override: float | None = None
) -> tuple[float | None, str | None]:
    """(peak TFLOP/s, where it comes from) for ``precision`` on the device called ``device_name``; (None, None)
    for a device not in the table (e.g. a CPU) unless ``override`` (``trainer.peak_tflops``) is given."""
    if override is not None:
        return float(override), "trainer.peak_tflops"
    for pattern, name, peaks in PEAK_TFLOPS:
        if device_name and re.search(pattern, device_name) and precision in peaks:
            return peaks[precision], f"table: {name} {precision}"
    return None, None


def count_flops(model: torch.nn.Module, step_loss, device: torch.device) -> int:
    """FLOPs of one forward + backward of ``step_loss(model)`` (a scalar loss). The model is left as it was:
    its buffers (e.g. BatchNorm statistics) and the random streams are put back, its gradients cleared. Matrix
    products, convolutions, attention (its full score matrix, causal or not) and recurrent kernels are counted;
    elementwise work is not."""
    buffers = [(b, b.detach().clone()) for b in model.buffers()]
    devices = [device] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices), FlopCounterMode(display=False, custom_mapping=FORMULAS) as fc:
        step_loss(model).backward()
    with torch.no_grad():
        for b, saved in buffers:
            b.copy_(saved)
    model.zero_grad(set_to_none=True)
    return int(fc.get_total_flops())


class StepClock:
    """``start()`` before a step, ``stop(samples, tokens)`` after it, ``pause()`` when other work (evaluation,
    checkpoint) follows; ``read()`` (after a host sync) returns (seconds, samples, tokens) of each step stopped
    since the last read."""

    def __init__(self, device: torch.device):
        self.cuda = device.type == "cuda"
        self.last_end, self.begin, self.pending = None, None, []

    def now(self):
        if self.cuda:
            event = torch.cuda.Event(enable_timing=True)
            event.record()
            return event
        return time.perf_counter()

    def start(self) -> None:
        self.begin = self.last_end if self.last_end is not None else self.now()

    def stop(self, samples: int, tokens: int) -> None:
        self.last_end = self.now()
        self.pending.append((self.begin, self.last_end, samples, tokens))

    def pause(self) -> None:
        self.last_end = None

    def read(self) -> list[tuple[float, int, int]]:
        if self.cuda and self.pending:
            self.pending[-1][1].synchronize()
        seconds = (lambda a, b: a.elapsed_time(b) / 1000) if self.cuda else (lambda a, b: b - a)
        out = [(seconds(a, b), n, k) for a, b, n, k in self.pending]
        self.pending = []
        return out


class SpeedMeter:
    """Running sums of the training steps (kept in the checkpoint, so a resumed run reports the whole run).

    ``state`` (a :class:`harness.run_state.SpeedState`): ``train_time_s``, ``samples``, ``tokens`` over every
    step; ``warmup_s`` and ``compile_s`` (the excluded steps); ``steady`` (``steps``, ``time_s``, ``samples``,
    ``tokens``) and ``step_s`` (each steady step's seconds, for the percentiles). ``warmup`` steps are excluded
    at the start of every process (a resumed run warms up again); with ``compiled``, the first step of a process
    is the compilation, counted apart before them.
    """

    def __init__(self, state: SpeedState, warmup: int, compiled: bool):
        self.state, self.warmup, self.compiled = state, warmup, compiled
        self.seen = 0  # steps of this process
        self.warm: list[tuple[float, int, int]] = []  # this process's excluded steps (compilation apart)

    def add(self, seconds: float, samples: int, tokens: int) -> None:
        st = self.state
        st.train_time_s += seconds
        st.samples += samples
        st.tokens += tokens
        self.seen += 1
        if self.compiled and self.seen == 1:
            st.compile_s += seconds
        elif self.seen <= self.warmup + self.compiled:
            st.warmup_s += seconds
            self.warm.append((seconds, samples, tokens))
        else:
            steady = st.steady
            steady["steps"] += 1
            steady["time_s"] += seconds
            steady["samples"] += samples
            steady["tokens"] += tokens
            st.step_s.append(seconds)

    def measured(self) -> tuple[list[float], int, int]:
        """(step seconds, samples, tokens) the rates come from: the steady steps, or, in a run too short to
        have any, the second half of its warm-up steps (at least one)."""
        steady = self.state.steady
        if steady["steps"]:
            return self.state.step_s, steady["samples"], steady["tokens"]
        rest = self.warm[len(self.warm) // 2 :]
        return [s for s, _, _ in rest], sum(n for _, n, _ in rest), sum(t for _, _, t in rest)

    def rates(self) -> dict:
        """Training samples/s and tokens/s of the measured steps (for the metrics lines during the run)."""
        times, samples, tokens = self.measured()
        total = sum(times)
        return {
            "train_samples_per_s": samples / total if total else None,
            "train_tokens_per_s": tokens / total if total else None,
        }

    def summary(self, flops: int | None = None, peak: tuple[float | None, str | None] = (None, None)) -> dict:
        """The training part of ``summary["speed"]``."""
        times, _, _ = self.measured()
        st = self.state
        p50 = statistics.median(times) if times else None
        p90 = percentile(times, 90) if times else None
        out = {
            **self.rates(),
            "step_ms": 1000 * p50 if p50 else None,
            "step_ms_p90": 1000 * p90 if p90 else None,
            "measured_steps": len(times),
            "steady": bool(st.steady["steps"]),
            "warmup_s": st.warmup_s,
            "compile_s": st.compile_s if self.compiled else None,
            "train_time_s": st.train_time_s,
        }
        if flops:
            out["flops_per_step"] = flops
            out["model_tflops"] = flops / p50 / 1e12 if p50 else None
            if peak[0] and p50:
                out.update(peak_tflops=peak[0], peak_source=peak[1], mfu=flops / p50 / (peak[0] * 1e12))
        return out


def percentile(values: list[float], q: float) -> float:
    """The ``q``-th percentile with linear interpolation between the closest ranks (numpy's default)."""
    xs = sorted(values)
    pos = (len(xs) - 1) * q / 100
    lo = int(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def step_flops(tr) -> int:
    """FLOPs of one training step of trainer ``tr`` (forward + backward) on a batch like the run's, counted once;
    the model, the data stream and the random state are left as they were."""
    with torch.random.fork_rng(devices=[tr.device] if tr.device.type == "cuda" else []):
        stream = tr.task.state_dict()
        batch = tr.task.train_batch(tr.cfg.trainer.batch_size)
        tr.task.load_state_dict(stream)

    def step_loss(model):
        with tr.autocast():
            logits = model(*batch.inputs)
        return tr.task.loss(logits, batch)

    return count_flops(tr.model, step_loss, tr.device)


# -- memory ------------------------------------------------------------------------------------------------
def _proc_status_kb(field: str) -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


class PeakMemory:
    """Peak memory of a run: CUDA allocator peak, or on CPU the resident-set high-water mark above the
    resident size at the start (Linux lets a process reset its high-water mark, so runs in a reused sweep
    worker do not inherit the previous run's peak)."""

    def __init__(self, device: torch.device):
        self.device = device
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
            self.kind = "cuda_max_allocated"
        else:
            try:
                Path("/proc/self/clear_refs").write_text("5")
            except OSError:
                pass
            self.base_kb = _proc_status_kb("VmRSS") or 0
            self.kind = "cpu_rss_above_start"

    def peak_mb(self) -> float | None:
        if self.device.type == "cuda":
            return torch.cuda.max_memory_allocated(self.device) / 2**20
        hwm = _proc_status_kb("VmHWM")
        return None if hwm is None else max(hwm - self.base_kb, 0) / 1024
