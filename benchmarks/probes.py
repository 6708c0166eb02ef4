"""What the end-of-run probes cost: the pooled pass of the hidden-state probe, and all of ``probes.at_end``.

Builds the sentiment task (``experiment=sentiment_cpu``) and an untrained model of ``--arch`` with
``--layers`` layers (the cost of a forward pass does not depend on the weights), then times, ``--repeats``
times each, :func:`harness.probes.pooled_states` on the first ``--examples`` validation sentences (forward only,
batches of ``probes.POOLED_BATCH``) and the whole :func:`harness.probes.at_end` (gradient curve, hidden states
with the pooled pass, attention maps), and prints the median seconds of each. Run:
``python benchmarks/probes.py --data ../shared/data/mr_sentences [--arch transformer] [--layers 4] [--threads 1]``.
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
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--data", default="../shared/data/mr_sentences")
    ap.add_argument("--examples", type=int, default=probes.POOLED_EXAMPLES)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        cfg = compose("config", overrides=["experiment=sentiment_cpu", f"arch={args.arch}",
                                           f"arch.n_layers={args.layers}", f"task.data.path={args.data}"])
    task = build(cfg.task, "task")
    task.setup(torch.device("cpu"), 0)
    torch.manual_seed(0)
    model = build(cfg.arch, "arch", spec=task.spec)
    n = len(probes.pooled_states(model, task, args.examples)["pooled_labels"])
    pooled = median_s(lambda: probes.pooled_states(model, task, args.examples), args.repeats)
    with tempfile.TemporaryDirectory() as tmp:
        at_end = median_s(lambda: probes.at_end(model, task, Path(tmp), None), args.repeats)
    print(f"{args.arch}, {args.layers} layers, d_model {cfg.arch.get('d_model')}, max_len {task.spec.max_len}, "
          f"{args.threads} thread(s), torch {torch.__version__}")
    print(f"pooled pass on {n} validation sentences: {pooled:.3f} s (median of {args.repeats})")
    print(f"all end-of-run probes (probes.at_end, pooled pass included): {at_end:.3f} s")


if __name__ == "__main__":
    main()
