"""``python -m harness.sweeps --preset quick|smoke|full [--out DIR]``: run every claim's sweep, then the
claims report (``make claims PRESET=…``).

A preset (``conf/claims/<preset>.yaml``) names, per sweep, an experiment of ``conf/experiment/`` and the
overrides that size it. Sweeps go through Hydra multirun (``run.py -m``; local joblib, or SLURM with
``--launcher slurm``) into ``<out>/<sweep>/``, so launching again skips completed runs and resumes cut ones.
Where a sweep sets ``tune_lr`` (and the preset an ``lr_grid``), each architecture's learning rate is first picked
on validation in a short pre-sweep (seed 0, ``lr_steps`` steps) into ``<out>/<sweep>/lr/``; the choice is written to
``<out>/<sweep>/lr_choice.json`` and reused by the main sweep and by any relaunch. A sweep with ``stages`` (the
pre-training claim: ``stage=mlm`` then ``stage=finetune`` of ``experiment=pretrain_finetune``) launches each stage in
turn with ``sweep_root=<out>/<sweep>``, where the experiment puts each stage's folder. A sweep whose local data
folder (an override ``…data.path`` / ``…data.root`` naming a path) is missing is skipped with one line saying which
variable sets it; its claims come out inconclusive.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

from omegaconf import OmegaConf

from core.record import LR_PRESWEEP
from reports.load import find_records, metric_direction

ROOT = Path(__file__).resolve().parents[1]
PRESETS = ROOT / "conf" / "claims"


def load_preset(name: str):
    path = PRESETS / f"{name}.yaml"
    if not path.exists():
        known = sorted(p.stem for p in PRESETS.glob("*.yaml"))
        raise SystemExit(f"error: no claims preset {name!r}; use one of {', '.join(known)} (conf/claims/)")
    return OmegaConf.to_container(OmegaConf.load(path), resolve=True)


def overrides_of(preset: dict, sweep: dict, extra: dict | None = None) -> list[str]:
    merged = {**(preset.get("common") or {}), **(sweep.get("overrides") or {}), **(extra or {})}
    merged.setdefault("seed", preset.get("seeds", "0"))
    return [f"{k}={'null' if v is None else str(v).lower() if isinstance(v, bool) else v}" for k, v in merged.items()]


def launch(experiment: str, folder: Path | None, overrides: list[str], launcher: str | None) -> int:
    """``run.py -m`` into ``folder`` (None: the experiment places its folders itself, e.g. from ``sweep_root``)."""
    where = [f"hydra.sweep.dir={folder}"] if folder is not None else []
    cmd = [sys.executable, str(ROOT / "run.py"), "-m", f"experiment={experiment}", *where,
           *overrides] + ([f"hydra/launcher={launcher}"] if launcher else [])
    print("$", " ".join(cmd[1:]), flush=True)
    return subprocess.call(cmd, cwd=ROOT)


def best_lr(folder: Path) -> dict[str, float]:
    """Per arch, the grid learning rate with the best validation value of the run's stop metric."""
    best: dict[str, tuple[float, float]] = {}
    for run in find_records([folder]).runs:
        sel = run.get("selection") or {}
        metric = str(sel.get("metric") or "val/acc")
        value = run.get("metrics", {}).get(metric)
        lr = (run.get("config") or {}).get("optimizer", {}).get("lr")
        if run["status"] != "completed" or not isinstance(value, (int, float)) or lr is None:
            continue
        score = -value if metric_direction(run, metric) == "min" else value
        if run["arch"] not in best or score > best[run["arch"]][0]:
            best[run["arch"]] = (score, float(lr))
    return {a: lr for a, (_, lr) in best.items()}


def missing_data(preset: dict, sweep: dict) -> str | None:
    """The first local data folder named by the sweep's overrides that does not exist (hub ids are left alone)."""
    merged = {**(preset.get("common") or {}), **(sweep.get("overrides") or {})}
    for stage in sweep.get("stages", []):
        merged.update(stage.get("overrides", {}))
    for key, value in merged.items():
        text = str(value)
        if key.endswith(("data.path", "data.root")) and text.startswith((".", "/", "~")):
            if not (ROOT / Path(text).expanduser()).exists():
                return f"{key}={text}"
    return None


def run_sweep(name: str, sweep: dict, preset: dict, out: Path, launcher: str | None) -> list[str]:
    """Launch one sweep (with its lr pre-sweep); returns the problems met (a failed launch, a missing lr)."""
    folder, problems = out / name, []
    gone = missing_data(preset, sweep)
    if gone:
        hint = sweep.get("data_hint", "")
        return [f"{name}: skipped, its data folder is missing ({gone}){'; ' + hint if hint else ''}"]
    if sweep.get("stages"):
        for stage in sweep["stages"]:
            extra = {"stage": stage["stage"], "sweep_root": folder, **stage.get("overrides", {})}
            if launch(sweep["experiment"], None, overrides_of(preset, sweep, extra), launcher):
                problems.append(f"{name}: stage {stage['stage']} exited with an error")
        return problems
    grid = preset.get("lr_grid") or []
    if sweep.get("tune_lr", True) and grid:
        choice_file = folder / "lr_choice.json"
        if choice_file.exists():
            choice = json.loads(choice_file.read_text())
        else:
            pre = {"optimizer.lr": ",".join(map(str, grid)), "seed": 0, "trainer.max_steps": preset["lr_steps"],
                   "trainer.stop_at": None}
            if launch(sweep["experiment"], folder / LR_PRESWEEP, overrides_of(preset, sweep, pre), launcher):
                problems.append(f"{name}: the learning-rate pre-sweep failed")
            choice = best_lr(folder / LR_PRESWEEP)
            folder.mkdir(parents=True, exist_ok=True)
            choice_file.write_text(json.dumps(choice, indent=1))
        archs = str(sweep.get("overrides", {}).get("arch", "")).split(",") if sweep.get("overrides", {}).get("arch") \
            else list(choice)
        for arch in archs:
            if arch not in choice:
                problems.append(f"{name}: no learning rate chosen for {arch} (its pre-sweep runs failed)")
                continue
            extra = {"optimizer.lr": choice[arch]} | ({"arch": arch} if sweep.get("overrides", {}).get("arch") else {})
            if launch(sweep["experiment"], folder, overrides_of(preset, sweep, extra), launcher):
                problems.append(f"{name}: sweep for {arch} exited with an error")
    elif launch(sweep["experiment"], folder, overrides_of(preset, sweep), launcher):
        problems.append(f"{name}: sweep exited with an error")
    return problems


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m harness.sweeps", description=__doc__.split("\n\n")[0])
    p.add_argument("--preset", default="quick", help="conf/claims/<preset>.yaml (smoke, quick, full)")
    p.add_argument("--out", default=None, help="sweep folder (default: runs/claims/<preset>; or CLAIMS_OUT)")
    p.add_argument("--launcher", default=None, help="hydra/launcher to use (default: the experiments' local one)")
    p.add_argument("--only", default=None, help="comma-separated sweep names to run (default: all)")
    args = p.parse_args(argv)
    preset = load_preset(args.preset)
    out = Path(args.out or os.environ.get("CLAIMS_OUT") or ROOT / "runs" / "claims" / args.preset).resolve()
    wanted = set(args.only.split(",")) if args.only else None
    problems = []
    for name, sweep in preset["sweeps"].items():
        if wanted is None or name in wanted:
            problems += run_sweep(name, sweep, preset, out, args.launcher)
    from reports.claims.__main__ import main as report

    code = report([str(out), "--preset", args.preset])
    for line in problems:
        print(f"warning: {line}", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
