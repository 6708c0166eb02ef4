"""The one study protocol that claims and replications share: a typed declaration (question, arms by role, metric
and direction, δ, expected outcome and anchor, positive and negative controls, the size of its test family) and
the parts of the verdict engine that do not depend on the statistic: controls first, then the rule, then Holm
over a family fixed by the preset.

A **positive control** names the runs of one arm and the level they must reach: their mean ``metric`` over
distinct seeds must beat the task's recorded chance (:func:`studies.facts.chance`, or another metric of the same
records such as ``test/baseline_loss``) by ``margin`` in the metric's direction. A comparison whose arm did not
learn says nothing about the contrast, so a failed control makes the verdict *inconclusive* and names the arm —
"not supported" / "not reproduced" never come from arms at chance. A **negative control** is an arm that must
*not* reach the level (a cnn that cannot see the source); when it does, the setting is broken and the verdict is
inconclusive too.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from studies import facts

# Which architectures play which role in a comparison: the rules read roles, never names. A user's architecture
# joins a study as the "candidate" role (the scorecard), so adding one never changes another claim's arms.
ROLES: dict[str, tuple[str, ...]] = {
    "attention": ("transformer",),
    "recurrent": ("lstm", "rnn"),
    "gated recurrent": ("gru",),
    "convolutional": ("cnn",),
    "state-space": ("s4d",),
    "patch attention": ("vit",),
}


@dataclass(frozen=True)
class Control:
    """An arm that must have learned (positive) or must not have (``negative=True``): the mean of ``metric`` per
    distinct seed (each seed's matching runs averaged first) over the completed runs that match ``where`` against
    ``level`` ("chance": the task's recorded chance; else the name of a metric of the same runs, e.g.
    ``test/baseline_loss``) beyond ``margin`` in ``direction`` (max: above it; min: below it)."""

    label: str
    where: Mapping | Callable[[dict], bool]
    metric: str = "test/acc"
    margin: float = 0.05
    level: str | float = "chance"
    direction: str = "max"
    negative: bool = False

    def check(self, runs: list[dict], roles: Mapping | None = None) -> dict | None:
        """None when no completed run matches (missing evidence is the rule's to report); else
        ``{label, mean, level, margin, passed, why}``."""
        sel = [r for r in facts.completed(runs) if facts.matches(r, self.where, roles or ROLES)]
        # every matching run counts, each seed once: a seed's runs (one per cell where ``where`` spans several —
        # C6's delays, C10's blocks) are averaged first, so no cell is dropped as a "duplicate" of another
        by_seed: dict = defaultdict(list)
        for i, r in enumerate(sel):
            v = facts.metric(r, self.metric)
            if v is not None:
                by_seed[r.get("seed") if r.get("seed") is not None else f"run {i}"].append(v)
        vals = [sum(v) / len(v) for v in by_seed.values()]
        lvls = [v for v in (self.level_of(r) for r in sel) if v is not None]
        if not vals or not lvls:
            return None
        m, lvl = sum(vals) / len(vals), max(lvls) if self.direction == "max" else min(lvls)
        learned = m > lvl + self.margin if self.direction == "max" else m < lvl - self.margin
        passed = learned != self.negative
        side = "above" if self.direction == "max" else "below"
        what = f"{self.label}: mean {self.metric} {m:.3g} over {len(vals)} seed(s), {side} {self.level} {lvl:.3g}"
        if self.negative:
            why = f"negative control failed: {what} by more than {self.margin:g} — it should not learn here"
        else:
            why = f"positive control failed: {what} not by {self.margin:g} — this arm did not learn"
        return {
            "label": self.label,
            "mean": round(m, 4),
            "level": round(lvl, 4),
            "margin": self.margin,
            "negative": self.negative,
            "passed": passed,
            "why": None if passed else why,
        }

    def level_of(self, run: dict) -> float | None:
        if isinstance(self.level, (int, float)) and not isinstance(self.level, bool):
            return float(self.level)
        if self.level == "chance":
            return facts.chance(run)
        if self.level == "uniform loss":
            return facts.uniform_loss(run)
        return facts.metric(run, self.level)


def check_controls(controls, runs: list[dict], roles: Mapping | None = None) -> tuple[list[dict], list[str]]:
    """Every control's check (those with runs) and the failures' reasons."""
    checked = [c for c in (ctl.check(runs, roles) for ctl in controls) if c is not None]
    return checked, [c["why"] for c in checked if not c["passed"]]


@dataclass(frozen=True)
class Study:
    """What every study declares before running. ``tests``: how many primary tests it adds to the Holm family —
    a number, or a function of the preset's document (C6: one per delay of its locality sweep)."""

    id: str
    question: str
    delta: float
    anchor: str = ""
    expects: str = ""
    controls: tuple[Control, ...] = ()
    tests: int | Callable[[dict], int] = 1
    roles: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: ROLES)

    def family_share(self, preset: dict | None) -> int:
        if callable(self.tests):
            return self.tests(preset or {}) if preset else 0
        return self.tests


def family_size(studies, preset: dict | None) -> int:
    """The size of the Holm family a preset declares: the sum of its studies' primary tests (0 when the preset is
    unknown: the family is then the tests found, and the report says so)."""
    if not preset:
        return 0
    return sum(s.family_share(preset) for s in studies)


def sweep_values(preset: dict, sweep: str, key: str) -> list[str]:
    """The values a preset's sweep gives ``key`` ("20,50" → ["20", "50"]); [] when it does not set it."""
    over = ((preset.get("sweeps") or {}).get(sweep) or {}).get("overrides") or {}
    v = over.get(key)
    return [] if v is None else [x.strip() for x in str(v).split(",") if x.strip()]


def claim_seeds(preset: dict | None, claim_id: str) -> int | None:
    """The fewest evidence seeds any of the preset's sweeps feeding ``claim_id`` runs (a sweep's own ``seed``
    override, else the preset's ``seeds``); None without a preset or a sweep for the claim."""
    counts = [
        len(str((sw.get("overrides") or {}).get("seed", (preset or {}).get("seeds", "0"))).split(","))
        for sw in ((preset or {}).get("sweeps") or {}).values()
        if claim_id in (sw.get("claims") or [])
    ]
    return min(counts) if counts else None


def per_seed(runs: list[dict], metric: str) -> dict:
    """{seed: mean of that seed's finite ``metric``} (a duplicate run of a seed is not a second replicate)."""
    by = defaultdict(list)
    for r in runs:
        v = facts.metric(r, metric)
        if v is not None:
            by[r.get("seed")].append(v)
    return {s: sum(v) / len(v) for s, v in by.items()}


MARKER = "study.json"  # written by a study's driver at the top of its folder: which study and preset made it


def write_marker(out, study: str, preset: str) -> None:
    """Record which study and preset a folder holds, so that its report never guesses from the folder's name."""
    import json
    from pathlib import Path

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / MARKER).write_text(json.dumps({"study": study, "preset": preset}) + "\n")


def read_marker(root) -> dict:
    """The folder's marker ({"study", "preset"}), or {} when it has none or it cannot be read."""
    import json
    from pathlib import Path

    try:
        doc = json.loads((Path(root) / MARKER).read_text())
    except (OSError, ValueError):
        return {}
    return doc if isinstance(doc, dict) else {}
