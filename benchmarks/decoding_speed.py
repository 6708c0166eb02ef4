"""Incremental decoding (per-step state) against the prefix-recomputing decoder, on a trained model.

Trains one short translation run (``experiment=translation_cpu`` with ``--train-s`` seconds of training), then
decodes the first ``--sentences`` test sentences both ways, checks that the hypotheses are identical, and
prints the decoding time of each and the speed-up. Run:
``python benchmarks/decoding_speed.py --arch transformer --data ../shared/data/bible_en_es [--beam 1] [--train-s 60]``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tasks.base import batches_of

CONF = str(Path(__file__).resolve().parent.parent / "conf")


def main() -> None:
    from hydra import compose, initialize_config_dir
    from omegaconf import open_dict

    from harness.train import Trainer

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--arch", default="transformer")
    ap.add_argument("--data", default="../shared/data/bible_en_es")
    ap.add_argument("--train-s", type=float, default=60.0)
    ap.add_argument("--sentences", type=int, default=500)
    ap.add_argument("--beam", type=int, default=1)
    ap.add_argument("--batch", type=int, default=100)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        cfg = compose(
            "config",
            overrides=[
                "experiment=translation_cpu",
                f"arch={args.arch}",
                f"task.data.path={args.data}",
                "task.data.src=en",
                "task.data.tgt=es",
                f"trainer.max_time_s={args.train_s}",
                "task.eval_decode_max=1",
                "task.test_decode_max=1",
                "trainer.progress=false",
                f"trainer.threads={args.threads}",
                "trainer.probes=false",
                f"task.beam={args.beam}",
            ],
        )
    with tempfile.TemporaryDirectory() as tmp, open_dict(cfg):
        cfg.run_dir = tmp
        trainer = Trainer(cfg)
        summary = trainer.run()
    model, task = trainer.model.eval(), trainer.task
    src, src_len = task.data["test"][:2]
    n = min(args.sentences, len(src))
    print(
        f"{args.arch}: trained {summary['step']} steps ({args.train_s:.0f} s), {summary['params']:,} params, "
        f"decoder {model.describe().get('decoder')}; decoding {n} test sentences, beam {args.beam}, "
        f"{torch.get_num_threads()} threads",
        flush=True,
    )
    results = {}
    for incremental in (True, False, True, False):  # alternated, each twice
        task.incremental = incremental
        t0, hyps = time.perf_counter(), []
        with torch.no_grad():
            for s in batches_of(n, args.batch):
                hyps += task.translate(model, src[s, : int(src_len[s].max())])
        dt = time.perf_counter() - t0
        results.setdefault(incremental, []).append((dt, hyps))
        print(f"  {'incremental' if incremental else 'recompute  '}: {dt:7.2f} s", flush=True)
    same = all(h == results[True][0][1] for _, h in results[True] + results[False])
    fast, slow = (min(dt for dt, _ in results[k]) for k in (True, False))
    print(
        f"{args.arch}: incremental {fast:.2f} s, recompute {slow:.2f} s, speed-up {slow / fast:.2f}x; "
        f"hypotheses identical: {same}"
    )


if __name__ == "__main__":
    main()
