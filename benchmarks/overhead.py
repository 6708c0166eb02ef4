"""What the harness and our own layers cost against plain PyTorch, on this machine.

1. Harness vs a bare loop: the same model, optimizer and copy_long batches; training samples/s of
   ``harness.train.train`` (its own per-step timing: batch, forward, loss, backward, clipping, step, schedule)
   against a plain ``for`` loop (batch, forward, loss, backward, step).
2. Our Transformer encoder vs ``nn.TransformerEncoder`` at equal size (post-norm, ReLU, no dropout).
3. Our LSTM architecture vs a bare ``nn.LSTM`` + embedding + linear at equal size.

Each comparison alternates the two sides ``--repeats`` times and prints the median ratio (ours / reference;
> 1 means ours is faster). Both sides are timed by the harness's own clock (``harness.speed``), leaving out the
first ``--warmup`` steps. Run: ``python benchmarks/overhead.py [--repeats 5] [--steps 40] [--threads N]``.

``--gpu``: the GPU section instead (default model, batch 64, delay 100; median ms/step after ``--warmup`` steps):
a bare loop in fp32 and in bf16 autocast, the harness with each precision and with ``torch.compile``, and
PyTorch Lightning's Trainer when it is importable (it is not a dependency). ``--device cpu`` runs the same
section on the CPU to check it: ``python benchmarks/overhead.py --gpu --device cpu --steps 30 --warmup 5 --repeats 1``.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import tempfile
from pathlib import Path

import torch
import torch.nn as nn

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from harness import speed
from harness.run_state import SpeedState
from tasks.copy_long import CopyLong

CONF = str(Path(__file__).resolve().parent.parent / "conf")

D, H, FF, LAYERS, BATCH, DELAY = 64, 4, 128, 2, 64, 100


def model_of(arch: str, spec, **overrides) -> nn.Module:
    """The suite's model of ``arch`` (its YAML, with ``overrides``) for ``spec``."""
    from hydra import compose, initialize_config_dir
    from omegaconf import open_dict

    from harness.train import build

    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        node = compose("config", overrides=[f"arch={arch}"]).arch
    with open_dict(node):
        node.update(overrides)
    return build(node, "arch", spec=spec)


WARMUP = 10  # steps left out of every measurement (--warmup)


def harness_speed(steps: int, clip: bool, *extra: str) -> dict:
    """``summary["speed"]`` of a harness run (dropout off, no target, as the bare loop)."""
    from hydra import compose, initialize_config_dir
    from omegaconf import open_dict

    from harness.train import train

    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        cfg = compose(
            "config",
            overrides=[
                f"trainer.max_steps={steps}",
                f"trainer.eval_every={steps}",
                f"trainer.ckpt_every={steps}",
                "trainer.stop_at=null",
                "trainer.progress=false",
                "trainer.probes=false",
                "task.n_val=64",
                "task.n_test=64",
                f"task.delay={DELAY}",
                f"trainer.batch_size={BATCH}",
                "arch.dropout=0.0",
                f"trainer.grad_clip={'1.0' if clip else 'null'}",
                f"trainer.threads={torch.get_num_threads()}",
                f"trainer.warmup_measure={WARMUP}",
                *extra,
            ],
        )
    with tempfile.TemporaryDirectory() as tmp, open_dict(cfg):
        cfg.run_dir = tmp
        return train(cfg)["speed"]


def bare_speed(steps: int, device: str = "cpu", bf16: bool = False) -> dict:
    """The same model, optimizer and batches in a plain loop."""
    torch.manual_seed(0)
    task = CopyLong(delay=DELAY, n_val=8, n_test=8)
    task.setup(device, 0)
    model = model_of("transformer", task.spec, d_model=D, n_heads=H, n_layers=LAYERS, d_ff=FF, dropout=0.0).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, betas=(0.9, 0.98), weight_decay=0.01)
    return timed_steps(model, opt, task, lambda: task.train_batch(BATCH), steps, bf16)  # batches made in the loop


def timed_steps(model: nn.Module, opt, task: CopyLong, next_batch, steps: int, bf16: bool = False) -> dict:
    """Speed of a plain loop (batch, forward, loss, backward, step), timed as the harness times its steps."""
    device = next(model.parameters()).device
    clock, meter = speed.StepClock(device), speed.SpeedMeter(SpeedState(), WARMUP, compiled=False)
    autocast = (lambda: torch.autocast(device.type, dtype=torch.bfloat16)) if bf16 else contextlib.nullcontext
    for _ in range(steps):
        clock.start()
        b = next_batch()
        with autocast():
            logits = model(*b.inputs)
        loss = task.loss(logits, b)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        clock.stop(b.n_samples, b.n_tokens)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    for seconds, samples, tokens in clock.read():
        meter.add(seconds, samples, tokens)
    return meter.summary()


def lightning_speed(steps: int, device: str, bf16: bool) -> dict | None:
    """The same model, optimizer and on-device batches through PyTorch Lightning's Trainer (None when neither
    ``lightning`` nor ``pytorch_lightning`` is importable), timed by the same clock from callbacks."""
    try:
        import lightning as L
    except ImportError:
        try:
            import pytorch_lightning as L
        except ImportError:
            return None
    dev = torch.device(device)
    task = CopyLong(delay=DELAY, n_val=8, n_test=8)
    task.setup(dev, 0)
    torch.manual_seed(0)
    clock, meter = speed.StepClock(dev), speed.SpeedMeter(SpeedState(), WARMUP, compiled=False)

    class Module(L.LightningModule):
        def __init__(self):
            super().__init__()
            self.model = model_of("transformer", task.spec, d_model=D, n_heads=H, n_layers=LAYERS, d_ff=FF, dropout=0.0)

        def training_step(self, _index, _batch_idx):
            b = task.train_batch(BATCH)
            return task.loss(self.model(*b.inputs), b)

        def configure_optimizers(self):
            return torch.optim.AdamW(self.parameters(), lr=3e-3, betas=(0.9, 0.98), weight_decay=0.01)

    class Timer(L.Callback):
        def on_train_batch_start(self, *args):
            clock.start()

        def on_train_batch_end(self, *args):
            clock.stop(BATCH, BATCH * (DELAY + 20))

    trainer = L.Trainer(
        accelerator="gpu" if dev.type == "cuda" else "cpu",
        devices=1,
        max_steps=steps,
        precision="bf16-mixed" if bf16 else "32-true",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=[Timer()],
    )
    trainer.fit(Module(), torch.utils.data.DataLoader(range(steps), batch_size=None))  # indices: data is on the device
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)
    for seconds, samples, tokens in clock.read():
        meter.add(seconds, samples, tokens)
    return meter.summary()


class TorchEncoder(nn.Module):
    def __init__(self, spec):
        super().__init__()
        self.emb = nn.Embedding(spec.vocab_size, D)
        self.enc = nn.TransformerEncoder(
            nn.TransformerEncoderLayer(D, H, FF, 0.0, batch_first=True), LAYERS, enable_nested_tensor=False
        )
        self.out = nn.Linear(D, spec.num_classes)

    def forward(self, x):
        return self.out(self.enc(self.emb(x) * D**0.5))


class TorchLSTM(nn.Module):
    def __init__(self, spec, hidden=128):
        super().__init__()
        self.emb, self.rnn = nn.Embedding(spec.vocab_size, hidden), nn.LSTM(hidden, hidden, batch_first=True)
        self.out = nn.Linear(hidden, spec.num_classes)

    def forward(self, x):
        return self.out(self.rnn(self.emb(x))[0])


def train_step_samples_per_s(model: nn.Module, task: CopyLong, steps: int) -> float:
    batches = iter([task.train_batch(BATCH) for _ in range(steps)])  # made ahead: only the model is timed
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    return timed_steps(model, opt, task, lambda: next(batches), steps)["train_samples_per_s"]


def paired(name: str, ours, reference, repeats: int) -> float:
    ratios = []
    for i in range(repeats):
        a, b = (ours(), reference()) if i % 2 == 0 else tuple(reversed((reference(), ours())))
        ratios.append(a / b)
        print(
            f"  {name} repeat {i + 1}: ours {a:8.1f} samples/s, reference {b:8.1f} samples/s, ratio {a / b:.3f}",
            flush=True,
        )
    med = statistics.median(ratios)
    print(f"{name}: median ratio {med:.3f} over {repeats} repeats (min {min(ratios):.3f}, max {max(ratios):.3f})")
    return med


def gpu_section(steps: int, repeats: int, device: str) -> None:
    """Median ms/step of each way to train the default model (median over ``repeats`` alternating rounds)."""
    on = ("trainer.grad_clip=null", f"trainer.device={device}")  # the same work as the bare loop: no clipping
    ways = {
        "bare loop, fp32": lambda: bare_speed(steps, device, bf16=False),
        "bare loop, bf16 autocast": lambda: bare_speed(steps, device, bf16=True),
        "harness, precision=fp32": lambda: harness_speed(steps, False, *on, "trainer.precision=fp32"),
        "harness, precision=bf16": lambda: harness_speed(steps, False, *on, "trainer.precision=bf16"),
        "harness, precision=auto (default)": lambda: harness_speed(steps, False, *on),
        "harness, default + grad clipping": lambda: harness_speed(steps, True, f"trainer.device={device}"),
        "harness, compile": lambda: harness_speed(steps, False, *on, "trainer.compile=true"),
        "harness, compile reduce-overhead": lambda: harness_speed(
            steps, False, *on, "trainer.compile=true", "trainer.compile_mode=reduce-overhead"
        ),
        "Lightning, fp32": lambda: lightning_speed(steps, device, bf16=False),
        "Lightning, bf16-mixed": lambda: lightning_speed(steps, device, bf16=True),
    }
    if not device.startswith("cuda"):  # compiling for the CPU takes minutes: the CPU check leaves it out
        ways = {k: v for k, v in ways.items() if "compile" not in k}
    ms: dict[str, list[float]] = {name: [] for name in ways}
    for r in range(repeats):
        for name in ways if r % 2 == 0 else reversed(list(ways)):
            sp = ways[name]()
            if sp is not None:
                ms[name].append(sp["step_ms"])
    base = statistics.median(ms["bare loop, fp32"])
    print(
        f"\n{device}: median ms/step after {WARMUP} warm-up steps, {steps} steps, {repeats} repeats "
        "(ratio = bare fp32 / this; > 1 = faster than the bare loop)"
    )
    print("| way | ms/step | ratio |\n|---|---|---|")
    for name, values in ms.items():
        if values:
            med = statistics.median(values)
            print(f"| {name} | {med:.2f} | {base / med:.3f} |")
        else:
            print(f"| {name} | not importable | |")


def main() -> None:
    global WARMUP
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--steps", type=int, default=None, help="steps per measurement (default 40; --gpu: 300)")
    ap.add_argument("--warmup", type=int, default=None, help="steps left out (default 10; --gpu: 50)")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--only", choices=["harness", "transformer", "lstm"], default=None)
    ap.add_argument("--gpu", action="store_true", help="the GPU section (bare loop, harness, Lightning)")
    ap.add_argument("--device", default="cuda", help="device of the --gpu section (cpu to check it)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    steps = args.steps or (300 if args.gpu else 40)
    WARMUP = args.warmup if args.warmup is not None else (50 if args.gpu else 10)
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, batch {BATCH}, copy_long delay {DELAY} "
        f"(length {DELAY + 20}), d_model {D}, heads {H}, d_ff {FF}, layers {LAYERS}"
    )
    if args.gpu:
        if args.device.startswith("cuda"):
            print(f"device: {torch.cuda.get_device_name(torch.device(args.device))}")
        gpu_section(steps, args.repeats, args.device)
        return
    task = CopyLong(delay=DELAY, n_val=8, n_test=8)
    task.setup("cpu", 0)
    results = {}
    if args.only in (None, "harness"):
        results["harness (clip on) / bare"] = paired(
            "harness (clip on) / bare",
            lambda: harness_speed(steps, True)["train_samples_per_s"],
            lambda: bare_speed(steps)["train_samples_per_s"],
            args.repeats,
        )
        results["harness (clip off) / bare"] = paired(
            "harness (clip off) / bare",
            lambda: harness_speed(steps, False)["train_samples_per_s"],
            lambda: bare_speed(steps)["train_samples_per_s"],
            args.repeats,
        )
    if args.only in (None, "transformer"):
        torch.manual_seed(0)
        ours = model_of("transformer", task.spec, d_model=D, n_heads=H, n_layers=LAYERS, d_ff=FF, dropout=0.0)
        ref = TorchEncoder(task.spec)
        results["own transformer / nn.TransformerEncoder"] = paired(
            "own transformer / nn.TransformerEncoder",
            lambda: train_step_samples_per_s(ours, task, steps),
            lambda: train_step_samples_per_s(ref, task, steps),
            args.repeats,
        )
    if args.only in (None, "lstm"):
        ours, ref = model_of("lstm", task.spec, hidden=128), TorchLSTM(task.spec, 128)
        results["own lstm / nn.LSTM"] = paired(
            "own lstm / nn.LSTM",
            lambda: train_step_samples_per_s(ours, task, steps // 2),
            lambda: train_step_samples_per_s(ref, task, steps // 2),
            args.repeats,
        )
    print("\nsummary (median ratio, > 1 = ours faster):")
    for k, v in results.items():
        print(f"  {k:45s} {v:.3f}")


if __name__ == "__main__":
    main()
