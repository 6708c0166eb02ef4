"""What the harness and our own layers cost against plain PyTorch, on this machine.

1. Harness vs a bare loop: the same model, optimizer and copy_long batches; training samples/s of
   ``harness.train.train`` (its own per-step timing: batch, forward, loss, backward, clipping, step, schedule)
   against a plain ``for`` loop (batch, forward, loss, backward, step).
2. Our Transformer encoder vs ``nn.TransformerEncoder`` at equal size (post-norm, ReLU, no dropout).
3. Our LSTM architecture vs a bare ``nn.LSTM`` + embedding + linear at equal size.

Each comparison alternates the two sides ``--repeats`` times and prints the median ratio (ours / reference;
> 1 means ours is faster). Run: ``python benchmarks/overhead.py [--repeats 5] [--steps 40] [--threads N]``.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn as nn

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tasks.copy_long import CopyLong  # noqa: E402

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


def harness_samples_per_s(steps: int, clip: bool) -> float:
    from hydra import compose, initialize_config_dir
    from omegaconf import open_dict

    from harness.train import train

    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        cfg = compose("config", overrides=[
            f"trainer.max_steps={steps}", f"trainer.eval_every={steps}", f"trainer.ckpt_every={steps}",
            "trainer.stop_at=null", "trainer.progress=false", "task.n_val=64", "task.n_test=64",
            f"task.delay={DELAY}", f"trainer.batch_size={BATCH}", "arch.dropout=0.0",
            f"trainer.grad_clip={'1.0' if clip else 'null'}", f"trainer.threads={torch.get_num_threads()}"])
    with tempfile.TemporaryDirectory() as tmp, open_dict(cfg):
        cfg.run_dir = tmp
        return train(cfg)["speed"]["train_samples_per_s"]


def bare_samples_per_s(steps: int) -> float:
    torch.manual_seed(0)
    task = CopyLong(delay=DELAY, n_val=8, n_test=8)
    task.setup("cpu", 0)
    model = model_of("transformer", task.spec, d_model=D, n_heads=H, n_layers=LAYERS, d_ff=FF, dropout=0.0)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, betas=(0.9, 0.98), weight_decay=0.01)
    return timed_steps(model, opt, task, (task.train_batch(BATCH) for _ in range(steps)))  # batches made in the loop


def timed_steps(model: nn.Module, opt, task: CopyLong, batches) -> float:
    """Training samples/s of a plain loop (forward, loss, backward, step) over ``batches``."""
    n, t0 = 0, time.perf_counter()
    for b in batches:
        loss = task.loss(model(*b.inputs), b)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        n += b.n_samples
    return n / (time.perf_counter() - t0)


class TorchEncoder(nn.Module):
    def __init__(self, spec):
        super().__init__()
        self.emb = nn.Embedding(spec.vocab_size, D)
        self.enc = nn.TransformerEncoder(nn.TransformerEncoderLayer(D, H, FF, 0.0, batch_first=True), LAYERS,
                                         enable_nested_tensor=False)
        self.out = nn.Linear(D, spec.num_classes)

    def forward(self, x):
        return self.out(self.enc(self.emb(x) * D ** 0.5))


class TorchLSTM(nn.Module):
    def __init__(self, spec, hidden=128):
        super().__init__()
        self.emb, self.rnn = nn.Embedding(spec.vocab_size, hidden), nn.LSTM(hidden, hidden, batch_first=True)
        self.out = nn.Linear(hidden, spec.num_classes)

    def forward(self, x):
        return self.out(self.rnn(self.emb(x))[0])


def train_step_samples_per_s(model: nn.Module, task: CopyLong, steps: int) -> float:
    batches = [task.train_batch(BATCH) for _ in range(steps)]  # made ahead: only the model is timed
    return timed_steps(model, torch.optim.AdamW(model.parameters(), lr=1e-3), task, batches)


def paired(name: str, ours, reference, repeats: int) -> float:
    ratios = []
    for i in range(repeats):
        a, b = (ours(), reference()) if i % 2 == 0 else tuple(reversed((reference(), ours())))
        ratios.append(a / b)
        print(f"  {name} repeat {i + 1}: ours {a:8.1f} samples/s, reference {b:8.1f} samples/s, ratio {a / b:.3f}",
              flush=True)
    med = statistics.median(ratios)
    print(f"{name}: median ratio {med:.3f} over {repeats} repeats (min {min(ratios):.3f}, max {max(ratios):.3f})")
    return med


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--only", choices=["harness", "transformer", "lstm"], default=None)
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, batch {BATCH}, copy_long delay {DELAY} "
          f"(length {DELAY + 20}), d_model {D}, heads {H}, d_ff {FF}, layers {LAYERS}")
    task = CopyLong(delay=DELAY, n_val=8, n_test=8)
    task.setup("cpu", 0)
    results = {}
    if args.only in (None, "harness"):
        results["harness (clip on) / bare"] = paired(
            "harness (clip on) / bare", lambda: harness_samples_per_s(args.steps, True),
            lambda: bare_samples_per_s(args.steps), args.repeats)
        results["harness (clip off) / bare"] = paired(
            "harness (clip off) / bare", lambda: harness_samples_per_s(args.steps, False),
            lambda: bare_samples_per_s(args.steps), args.repeats)
    if args.only in (None, "transformer"):
        torch.manual_seed(0)
        ours = model_of("transformer", task.spec, d_model=D, n_heads=H, n_layers=LAYERS, d_ff=FF, dropout=0.0)
        ref = TorchEncoder(task.spec)
        results["own transformer / nn.TransformerEncoder"] = paired(
            "own transformer / nn.TransformerEncoder", lambda: train_step_samples_per_s(ours, task, args.steps),
            lambda: train_step_samples_per_s(ref, task, args.steps), args.repeats)
    if args.only in (None, "lstm"):
        ours, ref = model_of("lstm", task.spec, hidden=128), TorchLSTM(task.spec, 128)
        results["own lstm / nn.LSTM"] = paired(
            "own lstm / nn.LSTM", lambda: train_step_samples_per_s(ours, task, args.steps // 2),
            lambda: train_step_samples_per_s(ref, task, args.steps // 2), args.repeats)
    print("\nsummary (median ratio, > 1 = ours faster):")
    for k, v in results.items():
        print(f"  {k:45s} {v:.3f}")


if __name__ == "__main__":
    main()
