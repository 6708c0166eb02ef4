"""The trials of ``experiment=tune`` studies: each ``trials.csv`` (written by ``harness.tune`` beside the
study) under the report's folders → one table, best first, with the best setting's overrides."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from harness.tune import BEST, TRIALS


def sections(dirs: list[str]) -> list[tuple[str, str, pd.DataFrame]]:
    """(heading, note, table) per study found under ``dirs``."""
    out = []
    for path in sorted({p.resolve() for d in dirs if Path(d).exists() for p in Path(d).rglob(TRIALS)}):
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
