"""What the end-of-run probes cost: the pooled pass of the hidden-state probe, and all of ``probes.at_end``;
beside them one validation pass, for scale.

Builds the sentiment task (``experiment=sentiment_cpu``) and an untrained model of ``--arch`` with
``--layers`` layers (the cost of a forward pass does not depend on the weights), then times, ``--repeats``
times each, :func:`harness.probes.pooled_states` on the first ``--examples`` validation sentences (forward only,
batches of ``probes.POOLED_BATCH``) and the whole :func:`harness.probes.at_end` (gradient curve, hidden states
with the pooled pass, attention maps), and prints the median seconds of each. Run:
``python benchmarks/probe_cost.py --data ../shared/data/mr_sentences [--arch transformer] [--layers 4] [--threads 1]``.

``--task copy_long`` times the default job's model and task instead (the arch YAML's layers unless ``--layers``):
one validation pass (``trainer.eval_batch_size``), the start probes and the end probes, the latter with the
probe batch of ``--probe-batch`` sequences (default ``probes.PROBE_BATCH``).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

CONF = str(Path(__file__).resolve().parent.parent / "conf")


def median_s(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    from hydra import compose, initialize_config_dir

    from harness import probes
    from harness.train import build

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--arch", default="transformer")
    ap.add_argument("--task", default="sentiment", choices=["sentiment", "copy_long"])
    ap.add_argument("--layers", type=int, default=None, help="default: 4 (sentiment), the arch YAML's (copy_long)")
    ap.add_argument("--data", default="../shared/data/mr_sentences")
    ap.add_argument("--examples", type=int, default=probes.POOLED_EXAMPLES)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--probe-batch", type=int, default=probes.PROBE_BATCH)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    probes.PROBE_BATCH = args.probe_batch
    overrides = [f"arch={args.arch}"] + [f"arch.n_layers={args.layers or 4}"] * (
        args.task == "sentiment" or bool(args.layers)
    )
    overrides += ["experiment=sentiment_cpu", f"task.data.path={args.data}"] if args.task == "sentiment" else []
    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        cfg = compose("config", overrides=overrides)
    task = build(cfg.task, "task")
    task.setup(torch.device("cpu"), 0)
    torch.manual_seed(0)
    model = build(cfg.arch, "arch", spec=task.spec)
    val = median_s(lambda: task.evaluate(model.eval(), "val", int(cfg.trainer.eval_batch_size)), args.repeats)
    model.train()
    print(
        f"{args.arch} on {args.task}, {len(model.backbone.layers)} layers, d_model {cfg.arch.get('d_model')}, "
        f"max_len {task.spec.max_len}, {args.threads} thread(s), torch {torch.__version__}"
    )
    print(f"one validation pass (batches of {cfg.trainer.eval_batch_size}): {val:.3f} s (median of {args.repeats})")
    if args.task == "copy_long":  # per-position outputs: no pooled pass
        start = median_s(lambda: probes.at_start(model, task), args.repeats)
        with tempfile.TemporaryDirectory() as tmp:
            at_end = median_s(lambda: probes.at_end(model, task, Path(tmp), None), args.repeats)
        print(f"start probes (probes.at_start): {start:.3f} s")
        print(f"all end-of-run probes (probes.at_end, probe batch {probes.PROBE_BATCH}): {at_end:.3f} s")
        return
    n = len(probes.pooled_states(model, task, args.examples)["pooled_labels"])
    pooled = median_s(lambda: probes.pooled_states(model, task, args.examples), args.repeats)
    with tempfile.TemporaryDirectory() as tmp:
        at_end = median_s(lambda: probes.at_end(model, task, Path(tmp), None), args.repeats)
    print(f"pooled pass on {n} validation sentences: {pooled:.3f} s (median of {args.repeats})")
    print(f"all end-of-run probes (probes.at_end, pooled pass included): {at_end:.3f} s")


if __name__ == "__main__":
    main()
