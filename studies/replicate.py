"""``python -m studies.replicate --preset smoke|quick|full [--out DIR] [--only a,b]``: run every replication's
sweeps (``conf/replications/<name>.yaml``, its ``presets.<preset>``), then the replications report
(``make replicate PRESET=…``).

The sweeps go through the claims' driver (:func:`studies.sweeps.run_sweep`: Hydra multirun of
``experiment=replicate``, relaunching skips completed runs and resumes cut ones, a missing local data folder skips
the sweep with one line) into ``<out>/<name>/<sweep>/``. No learning rate is tuned: each replication's setting is
fixed before running, except where a preset declares an ``lr_grid`` (with ``lr_steps`` and a ``tune_seed`` outside its
seeds) and a sweep ``tune_lr: true``: the paper picked each model's best learning rate (Zoology), so the claims'
pre-sweep picks it per architecture on the validation loss before the evidence runs.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from omegaconf import OmegaConf

from studies.protocol import write_marker
from studies.sweeps import check_launcher, check_out, drive, fail, names_of, run_sweep

ROOT = Path(__file__).resolve().parents[1]
CONF = ROOT / "conf" / "replications"
PRESETS = ("smoke", "quick", "full")


def load(conf: Path = CONF) -> dict[str, dict]:
    """Every replication, by name, with its interpolations (``${oc.env:…}``) resolved."""
    return {p.stem: OmegaConf.to_container(OmegaConf.load(p), resolve=True) for p in sorted(conf.glob("*.yaml"))}


def sweeps_preset(spec: dict, preset: str) -> dict:
    """The replication's preset in the form the claims' sweep driver reads (no learning-rate pre-sweep)."""
    p = (spec.get("presets") or {}).get(preset)
    if p is None:
        raise SystemExit(f"error: the replication has no preset {preset!r}; use one of {', '.join(spec['presets'])}")
    sweeps = {
        name: {"experiment": "replicate", "tune_lr": False, "data_hint": spec.get("data_hint", ""), **s}
        for name, s in p["sweeps"].items()
    }
    tuning = {k: p[k] for k in ("lr_steps", "tune_seed") if k in p}
    return {
        "seeds": str(p.get("seeds", "0,1,2")),
        "common": p.get("common") or {},
        "lr_grid": list(p.get("lr_grid") or []),
        **tuning,
        "sweeps": sweeps,
        "seeds_batched": bool(p.get("seeds_batched", False)),  # the seeds of a cell as one job
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m studies.replicate", description=__doc__.split("\n\n")[0])
    p.add_argument("--preset", default="quick", choices=PRESETS)
    p.add_argument("--out", default=None, help="run folder (default: runs/replications/<preset>; or REPLICATE_OUT)")
    p.add_argument("--launcher", default=None, help="hydra/launcher to use (default: local)")
    p.add_argument("--only", default=None, help="comma-separated replication names (default: all)")
    args = p.parse_args(argv)
    specs = load()
    try:
        wanted = names_of(args.only) or list(specs)
        unknown = [w for w in wanted if w not in specs]
        if unknown:
            raise fail(f"no replication {', '.join(unknown)}; use one of {', '.join(specs)} (conf/replications/)")
        check_launcher(args.launcher)
        out = check_out(
            Path(args.out or os.environ.get("REPLICATE_OUT") or ROOT / "runs" / "replications" / args.preset)
        )
    except SystemExit as e:
        return int(e.code) if isinstance(e.code, int) else 2
    out = out.resolve()
    write_marker(out, "replications", args.preset)

    def run_one(name: str) -> list[str]:
        preset = sweeps_preset(specs[name], args.preset)
        return [
            f"{name}: {line}"
            for sweep, s in preset["sweeps"].items()
            for line in run_sweep(sweep, s, preset, out / name, args.launcher)
        ]

    return drive(wanted, run_one, out, [str(out)], "studies.replications")


if __name__ == "__main__":
    sys.exit(main())
