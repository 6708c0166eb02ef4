"""``python -m studies.sweeps --preset quick|smoke|full [--out DIR]``: run every claim's sweep, then the
claims report (``make claims PRESET=…``).

A preset (``conf/claims/<preset>.yaml``) names, per sweep, an experiment of ``conf/experiment/`` and the
overrides that size it. Sweeps go through Hydra multirun (``run.py -m``; local joblib, or SLURM with
``--launcher slurm``) into ``<out>/<sweep>/``, so launching again skips completed runs and resumes cut ones.
Seeds: ``seeds`` are the evidence seeds; ``tune_seed`` (default 0, never one of them) is the seed the learning rates
are tuned on. Where a sweep sets ``tune_lr`` (and the preset an ``lr_grid``), the learning rate is first picked per
architecture **and per condition** (the sweep's multi-valued axes other than arch and seed, e.g. ``task.delay``) on
the validation loss of a pre-sweep (``tune_seed``; ``lr_steps`` steps, or ``horizon``: as long as the evidence
runs) into ``<out>/<sweep>/lr/``; every pre-sweep run (arch × condition × lr × val metric, the chosen row marked) is
written to ``<out>/<sweep>/lr_presweep.csv`` and the choice to ``<out>/<sweep>/lr_choice.json``, reused by the
main sweep and by any relaunch. ``arch: all`` in a sweep's overrides is every ``conf/arch/*.yaml`` (a user's own
included). Each claim's minimal effect δ is declared with the claim (studies/claims/registry.py); each sweep's
``claims`` says which claims it feeds, so that ``--only C5`` re-runs one claim's evidence (sweep names work too).
A sweep with ``stages`` (the
pre-training claim: ``stage=mlm`` then ``stage=finetune`` of ``experiment=pretrain_finetune``) launches each stage in
turn with ``sweep_root=<out>/<sweep>``, where the experiment puts each stage's folder. A sweep whose local data
folder (an override ``…data.path`` / ``…data.root`` naming a path) is missing is skipped with one line saying which
variable sets it; its claims come out inconclusive.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import sys
from pathlib import Path
from typing import NamedTuple

from omegaconf import OmegaConf

from core.record import LR_PRESWEEP
from core.record import record_direction as metric_direction
from reports.load import find_records, split_unfinished
from studies import children
from studies.protocol import write_marker

ROOT = Path(__file__).resolve().parents[1]
PRESETS = ROOT / "conf" / "claims"


def fail(message: str) -> SystemExit:
    """A user error in a preset or the command line: one line on stderr, exit 2."""
    print(f"error: {message}", file=sys.stderr)
    return SystemExit(2)


def registered_archs() -> list[str]:
    """Every architecture of the registry (``conf/arch/*.yaml``), a user's own included."""
    return sorted(p.stem for p in (ROOT / "conf" / "arch").glob("*.yaml"))


def load_preset(name: str) -> dict:
    """The preset, checked: the tuning seed is not an evidence seed; ``arch: all`` becomes every registered arch."""
    path = PRESETS / f"{name}.yaml"
    if not path.exists():
        known = sorted(p.stem for p in PRESETS.glob("*.yaml"))
        raise fail(f"no claims preset {name!r}; use one of {', '.join(known)} (conf/claims/)")
    preset = OmegaConf.to_container(OmegaConf.load(path), resolve=True)
    return check_preset(preset, name)


def check_preset(preset: dict, name: str = "preset") -> dict:
    if "deltas" in preset:
        raise fail(
            f"{name}: `deltas` is no longer read from a preset — each claim's δ is declared with the claim "
            "(studies/claims/registry.py, one value for every preset); remove the key"
        )
    seeds = [s.strip() for s in str(preset.get("seeds", "0")).split(",")]
    tune = str(preset.get("tune_seed", 0))
    if preset.get("lr_grid") and tune in seeds:
        raise fail(
            f"{name}: tune_seed {tune} is also an evidence seed (seeds: {','.join(seeds)}); "
            f'tune on a seed outside the evidence, e.g. tune_seed: 0 and seeds: "1,2,3"'
        )
    above, grid = preset.get("lr_above") or [], preset.get("lr_grid") or []
    if above and (not grid or min(above) <= max(grid)):
        raise fail(
            f"{name}: lr_above {above} must lie above the largest lr of lr_grid {grid} (the rates tried where the "
            "grid's top was chosen)"
        )
    steps = preset.get("lr_steps", HORIZON)
    if steps != HORIZON and not (isinstance(steps, int) and not isinstance(steps, bool) and steps > 0):
        raise fail(
            f"{name}: lr_steps {steps!r} is neither a positive number of steps nor {HORIZON!r} (the pre-sweep "
            "trains as long as the evidence runs it chooses for)"
        )
    for sname, sweep in (preset.get("sweeps") or {}).items():
        over = sweep.get("overrides") or {}
        by = sweep.get("lr_by")
        if by is not None and (by != TO_TARGET or over.get("trainer.stop_at") is None):
            raise fail(
                f"{name}: sweep {sname}: lr_by {by!r} needs lr_by: {TO_TARGET} and a trainer.stop_at in its "
                "overrides (the lr that reaches that target in the fewest steps)"
            )
        if str(over.get("arch", "")) == "all":
            over["arch"] = ",".join(registered_archs())
    return preset


HORIZON = "horizon"  # lr_steps: the pre-sweep runs as many steps as the evidence runs (their trainer.max_steps)


def presweep_steps(preset: dict, sweep: dict, stage: dict | None = None) -> dict:
    """The pre-sweep's step override: ``lr_steps`` steps, or at ``horizon`` the evidence runs' own
    ``trainer.max_steps`` (the stage's, else the sweep's, else the experiment's default: no override)."""
    steps = preset.get("lr_steps", HORIZON)
    if steps != HORIZON:
        return {"trainer.max_steps": steps}
    for over in ((stage or {}).get("overrides") or {}, sweep.get("overrides") or {}):
        if "trainer.max_steps" in over:
            return {"trainer.max_steps": over["trainer.max_steps"]}
    return {}


def overrides_of(preset: dict, sweep: dict, extra: dict | None = None) -> list[str]:
    merged = {**(preset.get("common") or {}), **(sweep.get("overrides") or {}), **(extra or {})}
    merged.setdefault("seed", preset.get("seeds", "0"))
    if sweep.get("seeds_batched", preset.get("seeds_batched", False)) and "," in text(merged["seed"]):
        merged |= seeds_batched(sweep, text(merged["seed"]))
    return [f"{k}={text(v)}" for k, v in merged.items()]


def seeds_batched(sweep: dict, seeds: str) -> dict:
    """The overrides that train a cell's seeds as one batched job (``seeds_batched: true`` in a preset or a sweep):
    ``seed=[1,2,3]`` (one value: one job per cell, not per seed) and the switch, left out of the folder names so
    that each seed's run lands in the folder its separate run would have (``…/seed=1/…``): a sweep launched either
    way continues the other's runs."""
    exp = ROOT / "conf" / "experiment" / f"{sweep['experiment']}.yaml"
    node = OmegaConf.load(exp) if exp.exists() else {}
    keys = OmegaConf.select(node, "hydra.job.config.override_dirname.exclude_keys") if node else None
    keys = [*(keys or ["experiment"]), "trainer.seeds_batched"]
    return {
        "seed": f"[{seeds}]",
        "trainer.seeds_batched": True,
        "hydra.job.config.override_dirname.exclude_keys": f"[{','.join(keys)}]",
    }


def launch(experiment: str, folder: Path | None, overrides: list[str], launcher: str | None) -> int:
    """``run.py -m`` into ``folder`` (None: the experiment places its folders itself, e.g. from ``sweep_root``)."""
    where = [f"hydra.sweep.dir={folder}"] if folder is not None else []
    cmd = [sys.executable, str(ROOT / "run.py"), "-m", f"experiment={experiment}", *where, *overrides] + (
        [f"hydra/launcher={launcher}"] if launcher else []
    )
    print("$", " ".join(cmd[1:]), flush=True)
    return children.run(cmd, cwd=ROOT)  # a signal is passed on and waited for; Interrupted ends the driver


# keys that are never a condition of the lr choice: the arch (chosen per arch anyway), seeds, the lr itself
NOT_CONDITIONS = {"arch", "seed", "optimizer.lr"}


def sweeper_params(path: Path) -> dict:
    """The ``hydra.sweeper.params`` of a config file (an experiment's or a stage's): its default sweep axes."""
    if not path.exists():
        return {}
    return OmegaConf.to_container(OmegaConf.load(path)).get("hydra", {}).get("sweeper", {}).get("params", {}) or {}


def sweep_axes(preset: dict, sweep: dict) -> dict:
    """The sweep's axes: the experiment's sweeper params, then the preset's overrides (which win)."""
    params = sweeper_params(ROOT / "conf" / "experiment" / f"{sweep['experiment']}.yaml")
    return {**params, **(preset.get("common") or {}), **(sweep.get("overrides") or {})}


def multi_valued(axes: dict) -> list[str]:
    """The axes with more than one value, other than arch, seed and lr: the conditions of the lr choice."""
    return sorted(k for k, v in axes.items() if k not in NOT_CONDITIONS and "," in str(v))


def condition_keys(preset: dict, sweep: dict) -> list[str]:
    """The sweep's multi-valued axes other than arch, seed and lr: the experiment's sweeper params, then the
    preset's overrides (which win), keeping those with more than one value (e.g. ``task.delay``)."""
    return multi_valued(sweep_axes(preset, sweep))


#: a pre-sweep run that ended with one of these has its answer (a diverged lr is an answer: too high)
ANSWERED = ("completed", "diverged")


def presweep_gaps(rows: list[dict], keys: list[str], axes: dict, grid: list) -> str | None:
    """What a pre-sweep lacks, or None when it is whole: a run with an answer (completed or diverged) for every
    arch × condition × lr of the grid. A cut pre-sweep (its child killed or crashed) must never be taken for a
    choice: cells with half the grid would get a "chosen" lr, cells with no run would be dropped."""
    archs = [a for a in str(axes.get("arch") or "").split(",") if a] or sorted({r["arch"] for r in rows})
    expected = len(archs) * len(grid) * math.prod(len(str(axes[k]).split(",")) for k in keys)
    answered = sum(r["status"] in ANSWERED for r in rows)
    if answered >= expected:
        return None
    bad = sorted({r["status"] for r in rows if r["status"] not in ANSWERED})
    return f"{answered} of {expected} runs finished" + (f"; others {', '.join(bad)}" if bad else "")


def config_value(config: dict, key: str):
    value = config
    for part in key.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


TO_TARGET = "steps_to_target"  # a sweep's ``lr_by``: the lr that reaches trainer.stop_at in the fewest steps


def lr_table(folder: Path, keys: list[str], by: str | None = None) -> list[dict]:
    """One row per pre-sweep run: arch, its condition (``keys``), lr, the metric it is ranked on and its value.

    The metric is the validation loss where the run has one (accuracy ties at 1.0 say nothing), otherwise the run's
    stop metric; ``score`` is the value turned so that higher is better (by the metric's declared direction). With
    ``by="steps_to_target"`` (a time-to-target claim, C1) the steps to the stop target rank first — a run that got
    there beats one that did not, fewer steps beat more — and the validation loss breaks the rest."""
    rows = []
    for run in find_records([folder]).runs:
        config, metrics = run.get("config") or {}, run.get("metrics", {})
        metric = (
            "val/loss"
            if isinstance(metrics.get("val/loss"), (int, float))
            else str((run.get("selection") or {}).get("metric") or "val/acc")
        )
        value = metrics.get(metric)
        ok = run["status"] == "completed" and isinstance(value, (int, float)) and value == value
        score = None if not ok else (-value if metric_direction(run, metric) == "min" else value)
        if by == TO_TARGET and ok:
            steps = (run.get("long_range") or {}).get("steps_to_target")
            reached = isinstance(steps, (int, float))
            metric, value = TO_TARGET, steps if reached else None
            score = (1, -steps, score) if reached else (0, 0, score)
        rows.append(
            {
                "arch": run["arch"],
                **{k: config_value(config, k) for k in keys},
                "lr": config_value(config, "optimizer.lr"),
                "metric": metric,
                "value": value if ok else None,
                "status": run["status"],
                "score": score,
            }
        )
    return rows


def choose_lr(rows: list[dict], keys: list[str]) -> list[dict]:
    """Per arch and condition, the lr of the best score (ties: the smaller lr); marks the chosen rows."""
    best: dict[tuple, dict] = {}
    for row in rows:
        if row["score"] is None or row["lr"] is None:
            continue
        cell = (row["arch"], *(str(row[k]) for k in keys))
        old = best.get(cell)
        if old is None or row["score"] > old["score"] or (row["score"] == old["score"] and row["lr"] < old["lr"]):
            best[cell] = row
    for row in rows:
        row["chosen"] = int(any(row is b for b in best.values()))
    return [
        {"arch": b["arch"], "condition": {k: b[k] for k in keys}, "lr": float(b["lr"])} for _, b in sorted(best.items())
    ]


def best_lr(folder: Path, keys: list[str] | None = None) -> list[dict]:
    """The choice (per arch and condition) from the pre-sweep runs in ``folder``."""
    return choose_lr(lr_table(folder, keys or []), keys or [])


def write_presweep(
    folder: Path, rows: list[dict], keys: list[str], choice: list[dict], tune_seed, tag: dict | None = None
) -> None:
    """``lr_presweep.csv`` (every pre-sweep run: lr × condition × val metric, chosen 1/0) and ``lr_choice.json``
    (with ``tag``, e.g. the stage the choice was made for)."""
    folder.mkdir(parents=True, exist_ok=True)
    cols = ["arch", *keys, "lr", "metric", "value", "status", "chosen"]
    lines = [",".join(cols)] + [
        ",".join("" if r.get(c) is None else str(r.get(c)) for c in cols)
        for r in sorted(rows, key=lambda r: (r["arch"], *(str(r[k]) for k in keys), r["lr"] or 0))
    ]
    (folder / "lr_presweep.csv").write_text("\n".join(lines) + "\n")
    metric = sorted({r["metric"] for r in rows})
    (folder / "lr_choice.json").write_text(
        json.dumps(
            {
                "tune_seed": tune_seed,
                "metric": ",".join(metric),
                "condition_keys": keys,
                "choice": choice,
                **(tag or {}),
            },
            indent=1,
        )
    )


def text(value) -> str:
    """A value as a Hydra override writes it (``null``, ``true``/``false``)."""
    return "null" if value is None else str(value).lower() if isinstance(value, bool) else str(value)


def main_launches(choice: list[dict], keys: list[str]) -> list[dict]:
    """The main sweep's launches: one per arch and lr, its cells joined into one multirun where they form a product
    over the condition keys (``task.delay=10,20`` at one lr; ``init_weights=false,true task.train_fraction=0.1``),
    one per cell otherwise (a product would add cells chosen at another lr). Fewer, larger launches keep the
    launcher's workers busy (3 seeds of one cell on 2 workers leave one idle half the time)."""
    groups: dict[tuple, list] = {}
    for c in choice:
        groups.setdefault((c["arch"], c["lr"]), []).append(c["condition"])
    launches = []
    for (arch, lr), conds in groups.items():
        base = {"arch": arch, "optimizer.lr": lr}
        axes = {k: list(dict.fromkeys(text(c[k]) for c in conds)) for k in keys}
        cells = {tuple(text(c[k]) for k in keys) for c in conds}
        if len(cells) == math.prod(len(v) for v in axes.values()):
            launches.append({**base, **{k: ",".join(v) for k, v in axes.items()}})
        else:
            launches += [{**base, **{k: text(c[k]) for k in keys}} for c in conds]
    return launches


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


def serial_sweep(sweep: dict, launcher: str | None) -> tuple[dict, str | None]:
    """A ``serial: true`` sweep (timing runs, C1): its runs one at a time (Hydra's basic launcher, no joblib
    parallelism; a cluster launcher given with ``--launcher`` is kept: one job per node there) with every thread
    of the machine (``trainer.threads`` unset, whatever the experiment says)."""
    if not sweep.get("serial"):
        return sweep, launcher
    over = {**(sweep.get("overrides") or {}), "trainer.threads": None}
    return {**sweep, "overrides": over}, launcher or "basic"


def tuned(preset: dict, sweep: dict) -> bool:
    """Whether the sweep's learning rate is picked by a pre-sweep (its ``tune_lr`` and the preset's ``lr_grid``)."""
    return bool(sweep.get("tune_lr", True) and preset.get("lr_grid"))


class LrChoice(NamedTuple):
    choice: list[dict]  # one row per arch and condition: its values and the chosen lr
    keys: list[str]  # the condition keys the choice is made per
    problems: list[str]  # what failed, one line each


def lr_choice(
    name: str, sweep: dict, preset: dict, out: Path, launcher: str | None, stage: dict | None = None
) -> LrChoice:
    """The sweep's lr choice per arch and condition: ``<out>/<name>/lr_choice.json`` when it was made for the same
    condition keys (and stage), otherwise the pre-sweep (``tune_seed``, ``lr_steps`` steps, every lr of
    ``lr_grid``) is run into ``<out>/<name>/lr/`` and the choice written. Given a ``stage`` of a staged sweep, the
    pre-sweep runs that stage (its overrides and ``sweep_root``) into ``<out>/<name>/lr/<stage>/``, per the stage's
    condition keys."""
    folder, problems = out / name, []
    tune_seed = preset.get("tune_seed", 0)
    if stage is None:
        axes, extra, where, tag = sweep_axes(preset, sweep), {}, folder / LR_PRESWEEP, {}
    else:
        axes, extra = stage_axes(preset, sweep, stage), stage_overrides(folder, stage)
        where, tag = folder / LR_PRESWEEP / stage["stage"], {"stage": stage["stage"]}
    keys = multi_valued(axes)
    choice_file = folder / "lr_choice.json"
    saved = json.loads(choice_file.read_text()) if choice_file.exists() else None
    same = (
        isinstance(saved, dict)
        and saved.get("condition_keys") == keys
        and all(saved.get(k) == v for k, v in tag.items())
    )
    if same and saved.get("complete") is True and saved.get("choice"):  # a cut or empty one is made again
        return LrChoice(saved["choice"], keys, problems)
    pre = {
        **extra,
        "optimizer.lr": ",".join(map(str, preset.get("lr_grid") or [])),
        "seed": tune_seed,
        **presweep_steps(preset, sweep, stage),
        **({} if sweep.get("lr_by") == TO_TARGET else {"trainer.stop_at": None}),  # to target: the sweep's own stop
    }
    code = launch(sweep["experiment"], where, overrides_of(preset, sweep, pre), launcher)
    rows = lr_table(where, keys, sweep.get("lr_by"))
    gap = presweep_gaps(rows, keys, axes, preset.get("lr_grid") or [])
    if not (code or gap) and preset.get("lr_above"):
        code, gap = extend_above(preset, sweep, where, pre, rows, keys, launcher)
        rows = lr_table(where, keys, sweep.get("lr_by"))
    of = f" of stage {stage['stage']}" if stage else ""
    if code or gap:
        problems.append(
            f"{name}: the learning-rate pre-sweep{of} is incomplete ({gap or f'exit {code}'}); its choice is not "
            "kept, the next launch runs it again"
        )
    choice = choose_lr(rows, keys)
    write_presweep(folder, rows, keys, choice, tune_seed, {**tag, "complete": not (code or gap)})
    return LrChoice(choice, keys, problems)


def extend_above(
    preset: dict, sweep: dict, where: Path, pre: dict, rows: list[dict], keys: list[str], launcher: str | None
) -> tuple[int, str | None]:
    """The grid extended where its top was chosen: each arch × condition whose pre-sweep choice is the largest lr of
    ``lr_grid`` also runs the preset's ``lr_above`` (e.g. [0.1]) into ``<where>/above/`` — a choice at the edge of
    the grid says only that the best lr may lie beyond it. Returns (exit code, what is missing or None)."""
    top, above = max(preset["lr_grid"]), list(preset["lr_above"])
    edge = [c for c in choose_lr(rows, keys) if c["lr"] >= top]
    code = 0
    for cell in edge:  # one launch per cell into one folder: the runs' own folders name arch and condition
        extra = {**pre, "arch": cell["arch"], **cell["condition"], "optimizer.lr": ",".join(map(str, above))}
        code = launch(sweep["experiment"], where / "above", overrides_of(preset, sweep, extra), launcher) or code
    seen = lr_table(where / "above", keys, sweep.get("lr_by")) if edge else []
    answered = sum(r["status"] in ANSWERED for r in seen)
    missing = len(edge) * len(above) - answered
    return code, (f"{missing} of {len(edge) * len(above)} runs above the grid unfinished" if missing > 0 else None)


def borrowed_lr(sweep: dict, out: Path) -> tuple[list[dict] | None, str | None]:
    """``lr_from: <sweep>``: reuse that sweep's lr choice (``<out>/<sweep>/lr_choice.json``) for the cells whose
    condition matches this sweep's overrides (e.g. ``task.delay: 10``), so a timing run trains at the lr tuned for
    it without a second pre-sweep. Returns (launches, problem)."""
    source = out / str(sweep["lr_from"]) / "lr_choice.json"
    if not source.exists():
        return None, (
            f"no learning-rate choice at {source}; run its sweep first (--only {sweep['lr_from']}), then this one"
        )
    saved = json.loads(source.read_text())
    over = sweep.get("overrides") or {}
    keys = [k for k in saved.get("condition_keys", []) if k in over]
    wanted = set(filter(None, str(over.get("arch") or "").split(",")))
    choice = [
        c
        for c in saved["choice"]
        if (not wanted or c["arch"] in wanted) and all(text(c["condition"].get(k)) == text(over[k]) for k in keys)
    ]
    launches = [{"arch": c["arch"], "optimizer.lr": c["lr"]} for c in choice]
    missing = sorted(wanted - {c["arch"] for c in choice})
    return launches, (
        f"no learning rate in {source} for {', '.join(missing)} at "
        f"{', '.join(f'{k}={over[k]}' for k in keys) or 'this condition'}"
        if missing
        else None
    )


def stage_axes(preset: dict, sweep: dict, stage: dict) -> dict:
    """A stage's axes: ``conf/stage/<stage>.yaml``'s sweeper params, then the sweep's and the stage's overrides."""
    params = sweeper_params(ROOT / "conf" / "stage" / f"{stage['stage']}.yaml")
    common = {k: v for k, v in (preset.get("common") or {}).items() if k == "arch"}
    return {**params, **common, **(sweep.get("overrides") or {}), **(stage.get("overrides") or {})}


def stage_condition_keys(sweep: dict, stage: dict) -> list[str]:
    """A stage's multi-valued axes other than arch, seed and lr (``conf/stage/<stage>.yaml``'s sweeper params, then
    the sweep's and the stage's overrides), e.g. ``init_weights`` and ``task.train_fraction`` for fine-tuning."""
    return multi_valued(stage_axes({}, sweep, stage))


def stage_overrides(folder: Path, stage: dict) -> dict:
    """What launches one stage of a staged sweep: ``stage=<name>``, ``sweep_root`` and the stage's overrides."""
    return {"stage": stage["stage"], "sweep_root": folder, **stage.get("overrides", {})}


def run_stages(name: str, sweep: dict, preset: dict, out: Path, launcher: str | None) -> list[str]:
    """A staged sweep (``stage=mlm`` then ``stage=finetune`` …), each stage launched in turn with
    ``sweep_root=<out>/<name>``. Where the preset tunes (``lr_grid``) a stage marked ``tune_lr: true`` gets its
    learning rate per arch and condition (e.g. pre-trained or scratch × label fraction) from a pre-sweep on
    ``tune_seed`` into ``<out>/<name>/lr/<stage>/`` (the earlier stages then also run on ``tune_seed``, so that
    the pre-sweep has their runs to start from); a stage with ``lr_from_stage: <stage>`` (the compute-matched
    scratch run) takes that choice at its own condition."""
    folder, problems = out / name, []
    stages = sweep["stages"]
    tune = tuned(preset, sweep)
    tuned_at = [i for i, st in enumerate(stages) if tune and st.get("tune_lr")]
    tune_seed = preset.get("tune_seed", 0)
    choice: dict[str, LrChoice] = {}
    for i, stage in enumerate(stages):
        extra = stage_overrides(folder, stage)
        if i in tuned_at:
            made = choice[stage["stage"]] = lr_choice(name, sweep, preset, out, launcher, stage)
            problems += made.problems
            launches = [{**extra, **cell} for cell in main_launches(made.choice, made.keys)]
        elif tune and stage.get("lr_from_stage") in choice:
            picked, keys, _ = choice[stage["lr_from_stage"]]
            over = stage.get("overrides") or {}
            launches = [
                {**extra, "arch": c["arch"], "optimizer.lr": c["lr"]}
                for c in picked
                if all(k in over and text(c["condition"].get(k)) == text(over[k]) for k in keys)
            ]
            if not launches:
                problems.append(f"{name}: no learning rate of stage {stage['lr_from_stage']} at {over}")
        else:
            if tuned_at and i < tuned_at[0]:  # the tuned stage's pre-sweep starts from this stage's tune-seed runs
                extra["seed"] = f"{preset.get('seeds', '0')},{tune_seed}"
            launches = [extra]
        for one in launches:
            if launch(sweep["experiment"], None, overrides_of(preset, sweep, one), launcher):
                problems.append(f"{name}: stage {stage['stage']} exited with an error")
    return problems


DATA_SKIPPED = "skipped, its data folder is missing"  # a sweep not run, not failed: its claims say inconclusive


def run_sweep(name: str, sweep: dict, preset: dict, out: Path, launcher: str | None) -> list[str]:
    """Launch one sweep (with its lr pre-sweep); returns the problems met (a failed launch, a missing lr)."""
    folder, problems = out / name, []
    gone = missing_data(preset, sweep)
    if gone:
        hint = sweep.get("data_hint", "")
        return [f"{name}: {DATA_SKIPPED} ({gone}){'; ' + hint if hint else ''}"]
    sweep, launcher = serial_sweep(sweep, launcher)
    if sweep.get("lr_from"):
        source = (preset.get("sweeps") or {}).get(str(sweep["lr_from"]))
        if source and tuned(preset, source) and not (out / str(sweep["lr_from"]) / "lr_choice.json").exists():
            # e.g. --only C1: the timing sweep needs long_range's lr; its pre-sweep alone makes the choice
            problems += lr_choice(str(sweep["lr_from"]), source, preset, out, launcher).problems
        launches, problem = borrowed_lr(sweep, out)
        problems += [f"{name}: {problem}"] if problem else []
        for extra in launches or []:
            if launch(sweep["experiment"], folder, overrides_of(preset, sweep, extra), launcher):
                problems.append(f"{name}: sweep for {extra['arch']} at lr {extra['optimizer.lr']} exited with an error")
        return problems
    if sweep.get("stages"):
        return run_stages(name, sweep, preset, out, launcher)
    if tuned(preset, sweep):
        choice, keys, problems = lr_choice(name, sweep, preset, out, launcher)
        wanted = str((sweep.get("overrides") or {}).get("arch") or "").split(",")
        for arch in filter(None, wanted):
            if arch not in {c["arch"] for c in choice}:
                problems.append(f"{name}: no learning rate chosen for {arch} (its pre-sweep runs failed)")
        for extra in main_launches(choice, keys):
            if launch(sweep["experiment"], folder, overrides_of(preset, sweep, extra), launcher):
                problems.append(f"{name}: sweep for {extra['arch']} at lr {extra['optimizer.lr']} exited with an error")
    elif launch(sweep["experiment"], folder, overrides_of(preset, sweep), launcher):
        problems.append(f"{name}: sweep exited with an error")
    return problems


def names_of(only: str | None, flag: str = "--only") -> list[str] | None:
    """The comma-separated names of ``--only``, in order, each once; None when ``--only`` is not given. ``--only ''``
    or ``--only ,`` names nothing: one line (it would otherwise run everything)."""
    if only is None:
        return None
    wanted = list(dict.fromkeys(w.strip() for w in only.split(",") if w.strip()))
    if not wanted:
        raise fail(f"{flag} {only!r} names nothing; give comma-separated names, or leave {flag} out to run all")
    return wanted


def selected(preset: dict, only: str | None) -> list[str]:
    """The sweeps ``--only`` names: sweep names or claim ids (a sweep's ``claims`` list), comma-separated."""
    sweeps = preset["sweeps"]
    wanted = names_of(only)
    if wanted is None:
        return list(sweeps)
    claims = {c for s in sweeps.values() for c in s.get("claims", [])}
    unknown = [w for w in wanted if w not in sweeps and w.upper() not in claims]
    if unknown:
        raise fail(
            f"--only {','.join(unknown)}: not a sweep or claim of this preset; use sweeps "
            f"{', '.join(sweeps)} or claims {', '.join(sorted(claims, key=lambda c: int(c[1:])))}"
        )
    return [n for n, s in sweeps.items() if n in wanted or {w.upper() for w in wanted} & set(s.get("claims", []))]


LAUNCHERS = ROOT / "conf" / "hydra" / "launcher"
#: Hydra's own launchers and the plugins' (``hydra/launcher=<name>`` without a file in conf/hydra/launcher/)
PLUGIN_LAUNCHERS = ("basic", "joblib", "submitit_local", "submitit_slurm")


def check_launcher(launcher: str | None) -> str | None:
    """``--launcher``: one of conf/hydra/launcher/*.yaml or Hydra's own; one line otherwise (before any run)."""
    known = sorted({p.stem for p in LAUNCHERS.glob("*.yaml")} | set(PLUGIN_LAUNCHERS))
    if launcher is not None and launcher not in known:
        raise fail(f"--launcher {launcher!r} is not a launcher; use one of {', '.join(known)}")
    return launcher


def check_out(out: Path) -> Path:
    """``--out``: a folder, or a place where one can be made; one line for a file (or a file above it)."""
    for place in (out, *out.parents):
        if place.exists():
            if not place.is_dir():
                what = "is a file" if place == out else f"is under {place}, a file"
                raise fail(f"--out {out} {what}; give a folder for the sweeps (created if missing)")
            break
    return out


PRESET_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")


def failed_runs(folder: Path) -> list[str]:
    """One line per run under ``folder`` that failed, was interrupted or was cut before its record (a run the
    claims must not count and the driver's exit status must not hide)."""
    rec = find_records([folder]) if folder.is_dir() else None
    if rec is None:
        return []
    bad = [(r["_dir"], r["status"]) for r in split_unfinished(rec.runs)[1]]
    bad += [(path, "no record") for path, why in rec.skipped if why.startswith("partial run")]
    return [f"{path}: {status}" for path, status in bad]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m studies.sweeps", description=__doc__.split("\n\n")[0])
    p.add_argument("--preset", default="quick", help="conf/claims/<preset>.yaml (smoke, quick, full)")
    p.add_argument("--out", default=None, help="sweep folder (default: runs/claims/<preset>; or CLAIMS_OUT)")
    p.add_argument("--launcher", default=None, help="hydra/launcher to use (default: the experiments' local one)")
    p.add_argument(
        "--only",
        default=None,
        help="comma-separated claim ids (C5) or sweep names to run (default: all); the report still "
        "reads the whole folder",
    )
    args = p.parse_args(argv)
    try:
        if not PRESET_NAME.fullmatch(args.preset):
            known = sorted(p.stem for p in PRESETS.glob("*.yaml"))
            raise fail(f"--preset {args.preset!r} is not a preset name; use one of {', '.join(known)} (conf/claims/)")
        preset = load_preset(args.preset)
        names = selected(preset, args.only)
        check_launcher(args.launcher)
        out = check_out(Path(args.out or os.environ.get("CLAIMS_OUT") or ROOT / "runs" / "claims" / args.preset))
    except SystemExit as e:
        return int(e.code) if isinstance(e.code, int) else 2
    out = out.resolve()
    write_marker(out, "claims", args.preset)
    return drive(
        names,
        lambda name: run_sweep(name, preset["sweeps"][name], preset, out, args.launcher),
        out,
        [str(out), "--preset", args.preset],
        "studies.claims",
    )


def drive(names: list[str], run_one, out: Path, report_args: list[str], report_module: str) -> int:
    """Run each of ``names`` (``run_one(name)`` → problems), then the report; the exit status is the report's, or
    1 when a launch failed or a run under ``out`` failed, was interrupted or lost its record (each named on one
    line); 130, with one line, when the driver was interrupted (the running child stopped and waited for)."""
    import importlib

    problems = []
    try:
        for name in names:
            problems += run_one(name)
    except children.Interrupted as e:
        print(f"error: {e.line()}", file=sys.stderr)
        return 130
    except KeyboardInterrupt:
        print("error: interrupted (SIGINT) between runs; run the same command again to continue", file=sys.stderr)
        return 130
    failed = failed_runs(out)
    code = importlib.import_module(f"{report_module}.__main__").main(report_args)
    for line in problems:
        print(f"warning: {line}", file=sys.stderr)
    if failed:
        shown = "; ".join(failed[:5]) + (f"; and {len(failed) - 5} more" if len(failed) > 5 else "")
        print(f"warning: {len(failed)} run(s) did not complete: {shown}", file=sys.stderr)
    failures = [line for line in problems if DATA_SKIPPED not in line]
    return code or (1 if failures or failed else 0)


if __name__ == "__main__":
    sys.exit(main())
