"""Tuning with Hydra's Optuna sweeper (``experiment=tune``): a Hydra callback that keeps each study to one
setting and, when the sweep ends, writes the trials and the best setting beside the study.

    python run.py -m experiment=tune arch=lstm task=copy_long hydra.sweeper.n_trials=6

The sweep folder (``runs/sweeps/tune/<arch>_<task>/``) holds:

* ``optuna.db`` — the study (sqlite). Relaunching the same command adds ``n_trials`` more trials to it.
* ``setting.txt`` — the command-line overrides the study was started with; a relaunch with other ones is
  refused (one study, one setting), so pass another ``hydra.sweep.dir`` for another setting.
* one run folder per trial, flat and short: the tuned values rounded to 3 digits and a hash of the exact ones
  (``lr=0.00213,weight_decay=0.0421,dropout=0.1,width=64_3fa2c1``), so a repeated value set finds its completed
  run and values that round alike stay apart;
* ``trials.csv`` — one row per trial: number, state, value, direction, the tuned values, the run folder;
* ``best_overrides.txt`` — the best trial's overrides, one ``key=value`` a line, ready for
  ``python run.py $(cat best_overrides.txt)``; and the sweeper's own ``optimization_results.yaml``.
"""

from __future__ import annotations

import csv
import hashlib
import sys
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from hydra.experimental.callback import Callback
from hydra.utils import get_class
from omegaconf import DictConfig, OmegaConf

from core.record import BEST, SETTING, TRIALS, metric_direction

NOT_IN_NAME = ("experiment", "arch", "task")  # the same for every trial of a study


def short_value(value: str) -> str:
    try:
        number = float(value)
    except ValueError:
        return value
    return value if number.is_integer() and "." not in value and "e" not in value.lower() else f"{number:.3g}"


def trial_dir(overrides, tuned=None) -> str:
    """A trial's folder name from its overrides (``hydra.overrides.task``): the tuned keys' values (the keys of
    ``hydra.sweeper.params``; all overrides when not given), short, then a hash of all the exact overrides."""
    items = sorted(str(o) for o in overrides if str(o).split("=", 1)[0].lstrip("+~") not in NOT_IN_NAME)
    pairs = [i.split("=", 1) for i in items if "=" in i]
    parts = [f"{k.rsplit('.', 1)[-1]}={short_value(v)}" for k, v in pairs if tuned is None or k in tuned]
    digest = hashlib.sha1("\n".join(items).encode()).hexdigest()[:6]
    return (",".join(parts) or "trial") + "_" + digest


# Registered on import: the Hydra callback below is unpickled in every launcher worker, importing this module
# before the worker resolves hydra.sweep.subdir (conf/experiment/tune.yaml).
OmegaConf.register_new_resolver("tune_dir", trial_dir, replace=True)


def run_overrides(sweep_dir: Path) -> dict[Path, list[str]]:
    """Each run folder under the sweep and the overrides it was launched with (``.hydra/overrides.yaml``)."""
    return {
        p.parent.parent: [str(o) for o in OmegaConf.load(p)] for p in sorted(sweep_dir.rglob(".hydra/overrides.yaml"))
    }


def trial_folder(params: dict[str, Any], runs: dict[Path, list[str]]) -> Path | None:
    """The run folder launched with the trial's values (the sweeper passes them as ``name=value``)."""
    wanted = {f"{k}={v}" for k, v in params.items()}
    return next((folder for folder, overrides in runs.items() if wanted <= set(overrides)), None)


def without_experiment(overrides: list[str]) -> list[str]:
    return [o for o in overrides if not o.startswith(("experiment=", "+experiment="))]


def check_direction(config: DictConfig) -> None:
    """Refuse a study that would maximize a metric the task declares lower-is-better (or the reverse)."""
    declared = getattr(get_class(config.task._target_), "directions", None) or {}
    metric = str(config.trainer.stop_metric)
    want = {"max": "maximize", "min": "minimize"}.get(metric_direction(declared, metric))
    direction = config.hydra.sweeper.direction
    direction = getattr(direction, "name", str(direction))
    if want and direction != want:
        print(
            f"error: trainer.stop_metric={metric} is better {'higher' if want == 'maximize' else 'lower'} but "
            f"hydra.sweeper.direction={direction}; pass hydra.sweeper.direction={want}",
            file=sys.stderr,
        )
        sys.exit(2)


class TuneRecord(Callback):
    """Hydra callback of ``experiment=tune`` (``hydra.callbacks.tune``)."""

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        HydraConfig.instance().set_config(config)  # the sweep folder's name reads ${hydra:runtime.choices...}
        check_direction(config)
        from harness.quarantine import wrap_optuna_sweep

        wrap_optuna_sweep(no_trial_completed)
        sweep_dir = Path(config.hydra.sweep.dir)
        sweep_dir.mkdir(parents=True, exist_ok=True)  # the sqlite study is created before any job runs
        setting = "\n".join(config.hydra.overrides.task) + "\n"
        path = sweep_dir / SETTING
        if path.exists() and path.read_text() != setting:
            print(
                f"error: the study in {sweep_dir} was started with the overrides "
                f"'{' '.join(path.read_text().split())}', not '{' '.join(setting.split())}'; repeat them to add "
                "trials, or pass hydra.sweep.dir=... for a new study",
                file=sys.stderr,
            )
            sys.exit(2)
        path.write_text(setting)

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        import optuna

        HydraConfig.instance().set_config(config)
        sweeper, sweep_dir = config.hydra.sweeper, Path(config.hydra.sweep.dir)
        study = optuna.load_study(study_name=sweeper.study_name, storage=sweeper.storage)
        runs = write_trials(study, sweep_dir)
        done = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
        if not done:
            print(f"tune: no trial completed; see {sweep_dir / TRIALS}", file=sys.stderr)
            return
        best = study.best_trial
        folder = trial_folder(best.params, runs)
        overrides = (
            without_experiment(runs[folder])
            if folder
            else without_experiment(list(config.hydra.overrides.task)) + [f"{k}={v}" for k, v in best.params.items()]
        )
        (sweep_dir / BEST).write_text("\n".join(overrides) + "\n")
        print(
            f"tune: best of {len(done)} completed trials: trial {best.number}, {config.trainer.stop_metric} = "
            f"{best.value:.4g} ({sweeper.direction}); python run.py $(cat {sweep_dir / BEST})",
            flush=True,
        )


def write_trials(study, sweep_dir: Path) -> dict:
    """``trials.csv``: one row per trial, failures included; returns the trials' overrides by run folder."""
    runs = run_overrides(sweep_dir)
    names = list(dict.fromkeys(k for t in study.trials for k in t.params))
    with open(sweep_dir / TRIALS, "w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["trial", "state", "value", "direction", *names, "run"])
        for t in study.trials:
            folder = trial_folder(t.params, runs)
            out.writerow(
                [
                    t.number,
                    t.state.name,
                    t.value,
                    study.direction.name.lower(),
                    *(t.params.get(k) for k in names),
                    folder.relative_to(sweep_dir) if folder else "",
                ]
            )
    return runs


def no_trial_completed(impl_sweep):
    """Optuna's sweeper asks for the best trial before any callback runs: a study in which no trial completed
    ends in its "Record does not exist" traceback. This wraps its ``sweep``: one line, ``error: tune: no trial
    completed``, ``trials.csv`` holding the failures, and exit 2."""
    import functools

    @functools.wraps(impl_sweep)
    def sweep(self, arguments):
        try:
            return impl_sweep(self, arguments)
        except ValueError as e:
            if "Record does not exist" not in str(e):
                raise
        import optuna

        config = self.config
        HydraConfig.instance().set_config(config)
        sweeper, sweep_dir = config.hydra.sweeper, Path(config.hydra.sweep.dir)
        write_trials(optuna.load_study(study_name=sweeper.study_name, storage=sweeper.storage), sweep_dir)
        print(
            f"error: tune: no trial completed (each trial's error is above); see {sweep_dir / TRIALS}", file=sys.stderr
        )
        sys.exit(2)

    sweep.wrapped = True
    return sweep
