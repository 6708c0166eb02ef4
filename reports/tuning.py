"""The trials of ``experiment=tune`` studies: each ``trials.csv`` (written by ``harness.tune`` beside the
study) under the report's folders → one table, best first, with the best setting's overrides, every tuned key
a column; and per study an optimisation-history figure and a parameter-importance figure."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from core.record import BEST, TRIALS


def studies(dirs: list[str]) -> list[Path]:
    """The ``trials.csv`` files under ``dirs``."""
    return sorted({p.resolve() for d in dirs if Path(d).exists() for p in Path(d).rglob(TRIALS)})


def sections(dirs: list[str]) -> list[tuple[str, str, pd.DataFrame]]:
    """(heading, note, table) per study found under ``dirs``."""
    out = []
    for path in studies(dirs):
        trials = pd.read_csv(path)
        if trials.empty or not {"trial", "state", "value"} <= set(trials):
            continue
        done = trials[trials["state"] == "COMPLETE"]
        best = path.parent / BEST
        note = f"{len(trials)} trials, {len(done)} completed, value = the trial's validation score; "
        note += f"best setting: {' '.join(best.read_text().split())}" if best.exists() else "no best setting yet"
        minimize = "direction" in trials and (trials["direction"] == "minimize").any()
        table = trials.drop(columns=["direction"], errors="ignore")
        table = table.sort_values(["value", "trial"], ascending=[bool(minimize), True], na_position="last")
        table = table.rename(columns={"trial": "Trial", "state": "State", "value": "Value", "run": "Run folder"})
        out.append((f"Tuning: {path.parent}", note, table.reset_index(drop=True)))
    return out


def importances(study_dir: Path) -> dict[str, float]:
    """Optuna's parameter importances (mean decrease in impurity of a random forest) of the study in
    ``optuna.db``; empty when it cannot say (fewer than two completed trials, no variation)."""
    db = study_dir / "optuna.db"
    if not db.exists():
        return {}
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = f"sqlite:///{db}"
    try:
        name = optuna.get_all_study_summaries(storage)[0].study_name  # one study per sweep folder
        study = optuna.load_study(study_name=name, storage=storage)
        # a random forest (scikit-learn); optuna's default fANOVA fails with the pinned numpy
        evaluator = optuna.importance.MeanDecreaseImpurityImportanceEvaluator(seed=0)
        return dict(optuna.importance.get_param_importances(study, evaluator=evaluator))
    except (RuntimeError, ValueError, IndexError, ZeroDivisionError):  # too few or too alike trials to say
        return {}


def figures(dirs: list[str]) -> dict:
    """Per study: the value of each trial and the best so far (optimisation history), and the importance of
    each tuned key."""
    import matplotlib.pyplot as plt

    out = {}
    for i, path in enumerate(studies(dirs)):
        trials = pd.read_csv(path)
        done = trials[trials["state"] == "COMPLETE"].sort_values("trial") if "state" in trials else trials[:0]
        if done.empty:
            continue
        minimize = "direction" in done and (done["direction"] == "minimize").any()
        best = done["value"].cummin() if minimize else done["value"].cummax()
        imp = importances(path.parent)
        fig, axes = plt.subplots(1, 2 if imp else 1, figsize=(10 if imp else 5.5, 3.4), squeeze=False)
        ax = axes[0][0]
        ax.plot(done["trial"], done["value"], "o", label="trial")
        ax.step(done["trial"], best, where="post", label="best so far")
        ax.xaxis.set_major_locator(plt.MaxNLocator(integer=True))
        ax.set(
            xlabel="trial",
            ylabel=f"value ({'lower' if minimize else 'higher'} is better)",
            title="optimisation history",
        )
        ax.legend(fontsize=8)
        if imp:
            keys = sorted(imp, key=imp.get)
            axes[0][1].barh(keys, [imp[k] for k in keys])
            axes[0][1].set(xlabel="importance (random forest)", title="parameter importance")
        fig.suptitle(f"tuning: {path.parent.name}")
        fig.tight_layout()
        out[f"tuning_{path.parent.name}" + (f"_{i}" if i else "")] = fig
    return out
