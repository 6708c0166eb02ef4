"""``python -m studies.scorecard --arch NAME [--config-dir DIR] [--preset smoke|quick|full]``: a user's architecture
through every question of the claims and replications where an architecture can stand in, against the built-in
baselines, on one page (``make scorecard ARCH=… CONFIG_DIR=… PRESET=…``).

For each question (a sweep cell of a claims or replications preset, a metric and its direction, δ) the candidate
runs the same sweep with ``arch=<NAME>`` into ``<out>/<source>/<sweep>/`` (its own learning-rate pre-sweep where
the sweep tunes one); the baselines are the built-in archs' runs of the same preset, read from the baseline folders
(``runs/claims/<preset>``, ``runs/replications/<preset>``) and run there only when missing. Each row: the
candidate's mean with its 95% CI beside each baseline's, the comparison against the transformer and against the
best baseline (better / worse / within δ / undecided: ``studies.stats.decide`` both ways and ``decide_close``,
Holm over every row's comparisons), the candidate's positive control (above chance by the question's margin) and
the folders holding the evidence. Written as ``scorecard.json``, ``scorecard.md`` and a self-contained
``scorecard.html`` (a dot plot on top; readable at 390 px). The candidate is the "candidate" role of the protocol:
it never changes a claim's verdict or its correction family.

The candidate runs at its own settings: a sweep's ``arch.*`` overrides and the experiment's ``arch.*`` sweep axes
are the baselines' (``with_arch``). A question whose sweep is not in the preset gets a row saying "not in this
preset"; one whose data folder is missing says so. Two rows read more than one sweep or run per number: C6's
locality (the copy at the longest delay at the locality sweeps' one parameter budget; the baselines are the cnn at
each depth of ``locality``, one column per depth, and the one-layer transformer of ``locality_attention``; the
candidate at its own depth) and C8's pre-training gain (pre-trained − scratch test accuracy at the fewest labels
per arch, read by the claim's own code, ``rules.c8_cells`` / ``c8_arms``; the candidate's gain against a
baseline's is the difference of the two differences, Welch–Satterthwaite over the four groups).

**No row for C10** (depth stability, sweeps ``depth`` / ``depth_bare``): it asks whether the *transformer's
block* (post-norm, pre-norm, no residual, no LayerNorm: ``conf/block``, which sets ``arch.norm_first``,
``arch.residual`` and ``arch.layer_norm``) trains at depth 6 as at depth 2. Every axis of those sweeps is a
transformer setting (the experiment fixes ``arch: transformer``, sweeps ``block`` and ``arch.n_layers``); an
architecture of its own has no block kinds to vary and need not have ``n_layers`` (Hydra fails on a key the arch
lacks), and at its own depth alone there is no depth × block interaction to read. No candidate can stand in.
"""

from __future__ import annotations

import argparse
import base64
import html
import json
import math
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from reports.load import find_records
from studies import facts, stats
from studies.protocol import ROLES, write_marker

ROOT = Path(__file__).resolve().parents[1]
BETTER, WORSE, WITHIN, UNDECIDED = "better", "worse", "within δ", "undecided"


@dataclass(frozen=True)
class Question:
    """One row: the runs of ``sweep`` (a claims sweep, or ``replication/sweep``) in the cell ``where`` (a value of
    a setting; ``"max"`` / ``"min"``: its largest / smallest value in the runs), read on ``metric``.

    ``also``: more sweeps of the same preset (or replication) whose baseline runs join the row — the candidate runs
    ``sweep`` alone. ``split``: a setting that tells one baseline's variants apart (the cnn at two depths: two
    columns, ``cnn n_layers=5`` and ``cnn n_layers=6``; an arch at one value keeps its name). ``gain``: a row whose
    number is a difference of two arms of the same arch (pre-trained − scratch), ``gain(runs)`` → ``(treated values,
    reference values, their measurement floor)`` for one arch's runs in the cell; it is compared with a baseline's
    gain as the interaction (candidate's gain − baseline's gain, Welch–Satterthwaite)."""

    id: str
    text: str
    source: str  # "claims" or "replications"
    sweep: str  # the claims sweep, or "<replication>/<sweep>"
    metric: str
    delta: float
    where: dict = field(default_factory=dict)
    direction: str = "max"
    control_margin: float | None = 0.05  # the candidate must beat chance by this much (None: no control)
    also: tuple[str, ...] = ()
    split: str | None = None
    gain: Callable[[list[dict]], tuple | None] | None = None


def pretraining_gain(runs: list[dict]) -> tuple | None:
    """C8's gain for one arch's runs: (pre-trained test accuracies, scratch test accuracies, floor) at the fewest
    labels among them, read as C8 reads it (``studies.claims.rules.c8_cells`` / ``c8_arms``: the compute-matched
    scratch run is its own cell, never scratch)."""
    from studies.claims.rules import c8_arms, c8_cells

    cells = c8_cells(runs)
    if not cells:
        return None
    arch, fraction = min({k[:2] for k in cells}, key=lambda k: (k[1] is None, k[1]))
    return c8_arms(cells, arch, fraction)


QUESTIONS = (
    Question(
        "copy-short",
        "copy at the shortest delay (positive control)",
        "claims",
        "long_range",
        "test/acc",
        0.05,
        {"task.delay": "min"},
    ),
    Question(
        "copy-long",
        "copy at the longest delay (long-range dependencies, C2)",
        "claims",
        "long_range",
        "test/acc",
        0.05,
        {"task.delay": "max"},
    ),
    Question(
        "gradient",
        "gradient reaching the source at the longest delay, step 50 (log10 L·‖∂ℓ/∂x‖; vanishing, C3)",
        "claims",
        "long_range",
        "grad_at_source.early",
        0.3,  # decades: a factor of 2 in the gradient that reaches the source
        {"task.delay": "max"},
        control_margin=None,
    ),
    Question(
        "throughput",
        "train tokens/s at the longest length (C1, this device)",
        "claims",
        "seq_scaling",
        "speed.train_tokens_per_s",
        0.10,
        {"task.delay": "max"},
        control_margin=None,
    ),
    Question(
        "images",
        "image classification with 10% of the labels (C6)",
        "claims",
        "images",
        "test/acc",
        0.05,
        {"task.train_fraction": "min"},
    ),
    Question(
        "locality",
        "copy at the longest delay at one parameter budget (C6 locality: the cnn at the depths of the sweep, a "
        "one-layer transformer; the candidate at its own depth)",
        "claims",
        "locality",
        "test/acc",
        0.05,  # C6's δ
        {"task.delay": "max"},
        also=("locality_attention",),
        split="arch.n_layers",
    ),
    Question(
        "pretraining",
        "test accuracy gained by MLM pre-training over scratch at the fewest labels (C8)",
        "claims",
        "pretrain_finetune",
        "test/acc",
        0.02,  # C8's δ
        {"task.train_fraction": "min"},
        gain=pretraining_gain,
    ),
    Question(
        "recall",
        "multi-query associative recall (Zoology)",
        "replications",
        "zoology_mqar/grid",
        "test/acc",
        0.05,
        {"task.n_pairs": "max"},
    ),
    Question("selective-copy", "selective copying (Gu & Dao)", "replications", "selective_copy/grid", "test/acc", 0.05),
    Question(
        "copy-strings",
        "copying long strings (Jelassi et al.)",
        "replications",
        "repeat_after_me/grid",
        "test/acc",
        0.05,
        {"task.n_memorize": "max"},
    ),
)


GRADIENT = "grad_at_source."  # a metric ``grad_at_source.<init|early|end>``: C3's reading of the gradient curve


def value(run: dict, metric: str) -> float | None:
    """``metrics.<metric>``, a dotted path of the record (``speed.train_tokens_per_s``), or ``grad_at_source.<when>``:
    log10 of the gradient reaching the copy's source times the input's length (C3's measure, 1/L dilution out)."""
    if metric.startswith(GRADIENT):
        from studies.claims.rules import grad_at_source

        return grad_at_source(run, metric[len(GRADIENT) :])
    v = facts.metric(run, metric)
    return v if v is not None else facts.number(facts.get(run, metric))


def zero_gradient(run: dict, metric: str) -> bool:
    from studies.claims.rules import zero_at_source

    return zero_at_source(run, metric[len(GRADIENT) :])


def in_cell(runs: list[dict], where: dict) -> list[dict]:
    """The completed runs in the question's cell (``"max"``/``"min"`` resolved over these runs)."""
    runs = facts.completed(runs)
    for key, want in where.items():
        vals = sorted({facts.setting(r, key) for r in runs if facts.number(facts.setting(r, key)) is not None})
        if want in ("max", "min") and vals:
            want = vals[-1] if want == "max" else vals[0]
        runs = [r for r in runs if facts.same(facts.setting(r, key), want)]
    return runs


def per_seed(runs: list[dict], metric: str) -> list[float]:
    kept, _ = stats.distinct_seeds(runs)
    return [v for v in (value(r, metric) for r in kept) if v is not None]


def compare(cand, base, q: Question, floor: float) -> stats.Decision:
    """Candidate − baseline, oriented so positive is better: better (supported at δ), worse (the reverse
    supported), within δ (equivalent), undecided — one decision whose p-value Holm can correct. A ``gain`` row
    compares the gains: (treated − reference) of the candidate minus the same of the baseline."""
    sign = 1 if q.direction == "max" else -1
    if q.gain is not None:
        (ct, cr, cf), (bt, br, bf) = cand, base
        est = stats.contrast([(ct, sign, cf), (cr, -sign, cf), (bt, -sign, bf), (br, sign, bf)])
        return judge(est, q.delta)
    a, b = (cand, base) if sign > 0 else (base, cand)
    if q.metric.startswith("speed."):  # throughput: a ratio on the log scale, δ relative
        la = [math.log(v) for v in a if v > 0]
        lb = [math.log(v) for v in b if v > 0]
        return judge(stats.difference(la, lb), math.log1p(q.delta))
    return judge(stats.difference(a, b, floor), q.delta)


def judge(est: stats.Estimate | None, delta: float) -> stats.Decision:
    """An oriented candidate − baseline estimate against δ: better, worse, within δ or undecided."""
    up = stats.decide(est, delta, "candidate − baseline")
    if up.outcome == stats.SUPPORTED:
        return stats.Decision(BETTER, est, delta, up.why, up.mde, up.p)
    neg = est and stats.Estimate(
        -est.value,
        None if est.hi is None else -est.hi,
        None if est.lo is None else -est.lo,
        est.n,
        est.se,
        est.dof,
        est.note,
    )
    down = stats.decide(neg, delta, "baseline − candidate")
    if down.outcome == stats.SUPPORTED:
        return stats.Decision(WORSE, est, delta, down.why, down.mde, down.p)
    close = stats.decide_close(est, delta, "candidate − baseline")
    if close.outcome == stats.SUPPORTED:
        return stats.Decision(WITHIN, est, delta, close.why, close.mde, close.p)
    ps = [p for p in (up.p, down.p, close.p) if p is not None]
    return stats.Decision(UNDECIDED, est, delta, close.why, close.mde, min(ps) if ps else None)


def column(runs: list[dict], split: str | None) -> Callable[[dict], str]:
    """A baseline run's column: its arch, or ``<arch> <setting>=<value>`` where that arch ran at several values of
    ``split`` in these runs (the cnn at depths 5 and 6: two columns; the transformer at one depth: "transformer")."""
    seen: dict = {}
    for r in runs if split else ():
        seen.setdefault(r.get("arch"), set()).add(str(facts.setting(r, split)))
    several = {a for a, v in seen.items() if len(v) > 1}
    short = str(split).rsplit(".", 1)[-1]
    return lambda r: f"{r.get('arch')} {short}={facts.setting(r, split)}" if r.get("arch") in several else r.get("arch")


def reference(runs: list[dict], col: Callable[[dict], str], split: str | None, arch: str = "transformer") -> str:
    """The reference column: the transformer's; where it ran at several values of the row's ``split`` (the full
    preset's transformer at 1 and 2 layers), the column of its smallest value — the shallowest, as C6 reads it."""
    mine = [r for r in runs if r.get("arch") == arch]
    if not mine or not split:
        return arch
    value = lambda r: facts.number(facts.setting(r, split))
    return col(min(mine, key=lambda r: (value(r) is None, value(r) or 0)))


# what a candidate and its baselines must share in a row's cell (each arch's own settings and tuned lr aside): a
# baseline folder made with another version of the preset (another step count, another task size) is not compared
SHARED = ("trainer.max_steps", "trainer.batch_size", "trainer.warmup_steps", "trainer.grad_clip", "budget.params")
NOT_TASK = ("data", "cache_dir")  # where the task reads its files from, not what it asks


def shared_settings(run: dict) -> dict:
    """The run's :data:`SHARED` settings and its task's, less files it read (the data folder; a fine-tune's
    ``tokenizer``, the path of its MLM run's tokenizer file: one per run)."""
    task = facts.get(run, "config.task") or {}
    is_file = lambda v: isinstance(v, str) and ("/" in v or "\\" in v)
    return {k: facts.setting(run, k) for k in SHARED} | {
        f"task.{k}": v for k, v in task.items() if k not in NOT_TASK and not isinstance(v, dict) and not is_file(v)
    }


def settings_differ(cand: list[dict], base: list[dict]) -> list[str]:
    """The shared settings at which the candidate ran in one cell and no baseline did:
    ``"trainer.max_steps: baselines 550, candidate 1150"``; empty when they ran the same experiment (baselines
    may hold more, e.g. a stage the candidate's row does not read)."""
    of_c, of_b = [shared_settings(r) for r in cand], [shared_settings(r) for r in base]
    values = lambda settings, k: sorted({json.dumps(s.get(k), default=str) for s in settings})
    keys = sorted({k for s in of_c + of_b for k in s})
    return [
        f"{k}: baselines {', '.join(values(of_b, k))}, candidate {', '.join(values(of_c, k))}"
        for k in keys
        if not set(values(of_c, k)) <= set(values(of_b, k))
    ]


def row(q: Question, candidate: str, cand_runs: list[dict], base_runs: list[dict]) -> dict:
    """One question's row: every arch's mean and CI (a ``gain`` row: every arch's gain), the candidate against the
    transformer and the best baseline, its positive control."""
    cell_c = [r for r in in_cell(cand_runs, q.where) if r.get("arch") == candidate]
    cell_b = [r for r in in_cell(base_runs, q.where) if r.get("arch") != candidate]
    col = column(cell_b, q.split)
    archs = sorted({col(r) for r in cell_b}, key=str)
    of = {a: [r for r in cell_b if col(r) == a] for a in archs}
    of[candidate] = cell_c
    if q.gain is None:
        vals = {a: per_seed(runs, q.metric) for a, runs in of.items()}
        means = {a: stats.mean(v) for a, v in vals.items()}
        learned = vals[candidate]
    else:
        vals = {a: q.gain(runs) for a, runs in of.items()}
        means = {a: v and stats.difference(*v) for a, v in vals.items()}
        learned = vals[candidate][0] if vals[candidate] else []  # the control: the treated arm learned
    out = {
        "id": q.id,
        "question": q.text,
        "metric": q.metric,
        "direction": q.direction,
        "delta": q.delta,
        "by_arch": {a: (m.to_dict() if m else None) for a, m in means.items()},
        "evidence": sorted({str(Path(r["_dir"]).parent) for r in cell_c + cell_b if r.get("_dir")}),
        "comparisons": {},
    }
    if not means[candidate]:
        out["why"] = f"no completed {candidate} runs in this cell" + (" (both arms)" if q.gain else "")
        zero = q.metric.startswith(GRADIENT) and cell_c and all(zero_gradient(r, q.metric) for r in cell_c)
        if zero:
            out["why"] = (
                f"the gradient at the source is exactly 0 in all {len(cell_c)} {candidate} runs: the source lies "
                "outside what the architecture sees at this delay (vanishing entirely; no log, no interval)"
            )
        return out
    items = [n for n in (facts.n_test(r) for r in cell_c + cell_b) if n]
    floor = stats.proportion_floor(learned, min(items)) if items and q.metric.endswith("acc") else 0.0
    chance = [c for c in (facts.chance(r) for r in cell_c) if c is not None]
    if q.control_margin is not None and chance and learned:
        level = stats.mean(learned).value
        out["control"] = {
            "chance": max(chance),
            "mean": round(level, 4),
            "passed": level > max(chance) + q.control_margin,
        }
    sign = 1 if q.direction == "max" else -1
    ranked = [a for a in archs if means.get(a)]
    best = max(ranked, key=lambda a: sign * means[a].value) if ranked else None
    ref = reference(cell_b, col, q.split)
    differ = settings_differ(cell_c, cell_b)
    if differ:
        out["settings_differ"] = differ
    for label, base in (("transformer", ref if ref in ranked else None), ("best", best)):
        if base is not None:
            d = compare(vals[candidate], vals[base], q, floor)
            out["comparisons"][label] = {"against": base, **d.to_dict()}
            if differ:  # another experiment: the numbers stand beside each other, undecided, out of the correction
                out["comparisons"][label].update(
                    outcome=UNDECIDED,
                    p=None,
                    other_settings=True,
                    why="the baselines ran at other settings (" + "; ".join(differ) + "): run them again with "
                    "this version's preset to compare",
                )
    return out


def correct(rows: list[dict]) -> None:
    """Holm over every comparison of every row: a better / worse / within δ whose adjusted p is ≥ 0.05 becomes
    undecided ("after correction")."""
    ps = {(i, k): c.get("p") for i, r in enumerate(rows) for k, c in r["comparisons"].items()}
    adjusted = stats.holm(ps)
    size = len([p for p in ps.values() if p is not None])
    for (i, k), q in adjusted.items():
        if q is None:
            continue
        c = rows[i]["comparisons"][k]
        c["p_holm"], c["corrected"] = float(f"{q:.4g}"), f"Holm over {size} comparisons"
        if c["outcome"] != UNDECIDED and q >= stats.ALPHA:
            c["why"] = f"after correction (Holm p={q:.3g}): {c['why']}"
            c["outcome"] = UNDECIDED


def evidence(folder: Path) -> list[dict]:
    """The sweep folder's runs without its learning-rate pre-sweep (``<sweep>/lr/``: tuning runs, not evidence)."""
    found = find_records([folder]) if folder.is_dir() else None
    if not found:
        return []
    return [r for r in found.runs if not facts.in_presweep(r, folder)]


def sweeps_read(q: Question) -> list[str]:
    """The sweeps whose baseline runs a row reads: ``sweep``, then ``also`` (in the same replication)."""
    rep = q.sweep.rpartition("/")[0]
    return [q.sweep, *(f"{rep}/{name}" if rep else name for name in q.also)]


def build(
    candidate: str,
    cand_root: Path,
    base_roots: dict,
    preset: str,
    out: Path,
    questions=QUESTIONS,
    notes: dict | None = None,
) -> dict:
    """The scorecard from run folders: ``cand_root/<source>/<sweep>`` and ``base_roots[source]/<sweep>`` (each of
    :func:`sweeps_read`). ``notes``: {question id: why it has no runs} (not in this preset, its data missing) — the
    row says so instead of being decided."""
    rows = []
    for q in questions:
        if (notes or {}).get(q.id):
            rows.append(
                {"id": q.id, "question": q.text, "metric": q.metric, "direction": q.direction, "delta": q.delta}
                | {"by_arch": {}, "evidence": [], "comparisons": {}, "why": notes[q.id]}
            )
            continue
        cand = evidence(cand_root / q.source / q.sweep)
        base = [r for name in sweeps_read(q) for r in evidence(base_roots[q.source] / name)]
        rows.append(row(q, candidate, cand, base))
    correct(rows)
    against = [r["comparisons"]["transformer"]["outcome"] for r in rows if "transformer" in r["comparisons"]]
    tally = {k: against.count(k) for k in (BETTER, WORSE, WITHIN, UNDECIDED)}
    doc = {
        "arch": candidate,
        "preset": preset,
        "written": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "summary": f"{candidate} against the transformer: " + ", ".join(f"{v} {k}" for k, v in tally.items()),
        "roles": {k: list(v) for k, v in ROLES.items()},
        "rows": rows,
    }
    out.mkdir(parents=True, exist_ok=True)
    figure = dot_plot(doc, out / "scorecard.png")
    (out / "scorecard.json").write_text(json.dumps(doc, indent=1, default=str))
    (out / "scorecard.md").write_text(markdown(doc))
    (out / "scorecard.html").write_text(page(doc, figure))
    return doc


def dot_plot(doc: dict, path: Path) -> Path | None:
    """Each question's arch means (dots, 95% CI bars), the candidate in its own colour, one panel per row."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [r for r in doc["rows"] if any(v for v in r["by_arch"].values())]
    if not rows:
        return None
    fig, axes = plt.subplots(len(rows), 1, figsize=(6, 1.1 * len(rows) + 0.6), squeeze=False)
    for ax, r in zip(axes[:, 0], rows):
        items = [(a, v) for a, v in r["by_arch"].items() if v]
        for y, (a, v) in enumerate(items):
            lo, hi = v["ci95"]
            color = "#b42318" if a == doc["arch"] else "#555"
            if lo is not None:
                ax.plot([lo, hi], [y, y], color=color, lw=1)
            ax.plot([v["value"]], [y], "o", color=color)
        ax.set_yticks(range(len(items)), [a[:18] for a, _ in items], fontsize=6)
        ax.set_title(r["question"][:70], fontsize=7, loc="left")
        ax.tick_params(axis="x", labelsize=6)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def cell_text(c: dict | None) -> str:
    if not c:
        return "—"
    est = c.get("estimate") or {}
    ci = est.get("ci95") or [None, None]
    number = f"{est['value']:+.3g}" + (f" [{ci[0]:.3g}, {ci[1]:.3g}]" if ci[0] is not None else "") if est else ""
    other = " (baselines at other settings)" if c.get("other_settings") else ""
    return f"{c['outcome']} vs {c['against']} {number}".strip() + other


def mean_text(v: dict | None, why: str | None = None) -> str:
    if not v:
        return why or "—"
    lo, hi = v["ci95"]
    return f"{v['value']:.3g}" + (f" [{lo:.3g}, {hi:.3g}]" if lo is not None else "") + f" (n={v['n']})"


def markdown(doc: dict) -> str:
    lines = [
        f"# Scorecard: {doc['arch']} (preset {doc['preset']}, written {doc['written']})",
        "",
        doc["summary"],
        "",
        "| question | metric | δ | candidate (95% CI) | transformer | vs the transformer | vs the best baseline "
        "| control |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in doc["rows"]:
        ctl = r.get("control")
        ctl_text = "—" if not ctl else ("passed" if ctl["passed"] else f"FAILED (chance {ctl['chance']:.3g})")
        ref = (r["comparisons"].get("transformer") or {}).get("against", "transformer")  # its shallowest, if split
        lines.append(
            f"| {r['question']} | {r['metric']} | {r['delta']:g} | "
            f"{mean_text(r['by_arch'].get(doc['arch']), r.get('why'))} | {mean_text(r['by_arch'].get(ref))} | "
            f"{cell_text(r['comparisons'].get('transformer'))} | "
            f"{cell_text(r['comparisons'].get('best'))} | {ctl_text} |"
        )
    return "\n".join(lines) + "\n"


CSS = (
    "body{font-family:sans-serif;max-width:1400px;margin:auto;padding:0 8px}table{border-collapse:collapse;"
    "width:100%}td,th{border:1px solid #ccc;padding:4px 6px;vertical-align:top;font-size:14px}img{max-width:100%}"
    ".wrap{overflow-x:auto}.better{color:#1a7f37}.worse{color:#b42318}.undecided{color:#8a6d00}"
    "@media (max-width:600px){td,th{font-size:12px;padding:3px}.wide{display:none}}"
)


def page(doc: dict, figure: Path | None) -> str:
    esc = html.escape
    rows = []
    for r in doc["rows"]:
        t, b = r["comparisons"].get("transformer"), r["comparisons"].get("best")
        ctl = r.get("control")
        kind = lambda c: "undecided" if not c else c["outcome"].split()[0]
        rows.append(
            f"<tr><td>{esc(r['question'])}</td><td>{esc(mean_text(r['by_arch'].get(doc['arch']), r.get('why')))}</td>"
            f"<td class='{kind(t)}'>{esc(cell_text(t))}</td><td class='{kind(b)} wide'>{esc(cell_text(b))}</td>"
            f"<td class='wide'>{esc('—' if not ctl else 'passed' if ctl['passed'] else 'FAILED')}</td></tr>"
        )
    img = ""
    if figure is not None:
        b64 = base64.b64encode(figure.read_bytes()).decode()
        img = f"<img alt='scorecard dot plot' src='data:image/png;base64,{b64}'>"
    return (
        "<!doctype html><html><head><meta charset=utf-8><meta name=viewport content='width=device-width'>"
        f"<title>archbench scorecard — {esc(doc['arch'])}</title><style>{CSS}</style></head><body>"
        f"<h1>Scorecard: {esc(doc['arch'])}</h1><p>{esc(doc['summary'])} · preset {esc(doc['preset'])} · "
        f"written {esc(doc['written'])}</p><div class=wrap><table><tr><th>question</th><th>{esc(doc['arch'])} "
        "(95% CI)</th><th>vs the transformer</th><th class=wide>vs the best baseline</th>"
        f"<th class=wide>control</th></tr>{''.join(rows)}</table></div>{img}"
        f"<details><summary>evidence (JSON)</summary><pre>{esc(json.dumps(doc['rows'], indent=1))}</pre></details>"
        "</body></html>\n"
    )


# -- running what is missing -------------------------------------------------------------------------------------
def sweeps_of(preset: str) -> dict:
    """{source: (the preset's sweeps in the form the driver runs, the preset document)} for claims and replications."""
    from studies import replicate, sweeps

    claims = sweeps.load_preset(preset)
    reps = {}
    for name, spec in replicate.load().items():
        p = replicate.sweeps_preset(spec, preset)
        reps[name] = p
    return {"claims": claims, "replications": reps}


def with_arch(sweep: dict, arch: str) -> dict:
    """The sweep with the candidate as its only arch, at its own settings. The baselines' ``arch.*`` overrides (a
    cnn's depth, a transformer's layer count) are left out, from the sweep and from its stages; where the
    experiment itself sweeps an ``arch.*`` setting (claims_locality: ``arch.n_layers: 2``) its sweep axes are
    switched off (``hydra.sweeper.params=null``) and its other axes carried as overrides (the preset's seeds still
    win). A user's arch thus never gets a setting meant for another arch — one it lacks fails in Hydra, one it has
    (the example mixer's ``n_layers``) would silently change it."""
    from studies.sweeps import NOT_CONDITIONS, sweeper_params

    own = lambda over: {k: v for k, v in (over or {}).items() if not str(k).startswith("arch.")}
    over = own(sweep.get("overrides"))
    params = sweeper_params(ROOT / "conf" / "experiment" / f"{sweep['experiment']}.yaml")
    if len(own(params)) < len(params):
        carried = {k: v for k, v in own(params).items() if k not in NOT_CONDITIONS}
        over = {**carried, **over, "hydra.sweeper.params": None}
    mine = {**sweep, "overrides": {**over, "arch": arch}}
    if sweep.get("stages"):
        mine["stages"] = [{**st, "overrides": own(st.get("overrides"))} for st in sweep["stages"]]
    return mine


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m studies.scorecard", description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--arch", required=True, help="the architecture: conf/arch/<NAME>.yaml or <config-dir>/arch/<NAME>.yaml"
    )
    p.add_argument("--config-dir", default=None, help="your config folder (holding arch/<NAME>.yaml)")
    p.add_argument("--preset", default="quick", choices=("smoke", "quick", "full"))
    p.add_argument("--out", default=None, help="default: runs/scorecard/<NAME>/<preset>")
    p.add_argument(
        "--baselines", default=None, help="folder holding claims/ and replications/ baselines (default: runs)"
    )
    p.add_argument("--only", default=None, help="comma-separated question ids (default: all)")
    p.add_argument("--launcher", default=None)
    args = p.parse_args(argv)
    if "/" in args.arch or not args.arch.replace("_", "").replace("-", "").isalnum():
        print(
            f"error: --arch {args.arch!r}: a name of letters, digits, - and _ (conf/arch/<NAME>.yaml)", file=sys.stderr
        )
        return 2
    conf = Path(args.config_dir).resolve() if args.config_dir else None
    if conf is not None and not (conf / "arch" / f"{args.arch}.yaml").is_file():
        print(
            f"error: {conf}/arch/{args.arch}.yaml does not exist; --config-dir names the folder holding arch/",
            file=sys.stderr,
        )
        return 2
    if conf is None and not (ROOT / "conf" / "arch" / f"{args.arch}.yaml").is_file():
        print(f"error: no architecture {args.arch!r} in conf/arch/; pass --config-dir for your own", file=sys.stderr)
        return 2
    wanted = [q for q in QUESTIONS if not args.only or q.id in args.only.split(",")]
    if not wanted:
        print(f"error: --only {args.only}: use question ids {', '.join(q.id for q in QUESTIONS)}", file=sys.stderr)
        return 2
    from studies.sweeps import DATA_SKIPPED, run_sweep

    base = Path(args.baselines or ROOT / "runs").resolve()
    base_roots = {"claims": base / "claims" / args.preset, "replications": base / "replications" / args.preset}
    out = Path(args.out or ROOT / "runs" / "scorecard" / args.arch / args.preset).resolve()
    write_marker(out, "scorecard", args.preset)
    if conf is not None:  # the user's configs and package reach every run.py the driver starts
        os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(conf.parent), os.environ.get("PYTHONPATH")]))
    presets = sweeps_of(args.preset)
    problems, notes, launched = [], {}, {}
    for q in wanted:
        rep, _, sweep_name = q.sweep.rpartition("/")
        preset = presets[q.source] if q.source == "claims" else presets[q.source].get(rep)
        if preset is None or sweep_name not in preset["sweeps"]:
            notes[q.id] = f"not in this preset ({q.source} preset {args.preset} has no sweep {q.sweep})"
            problems.append(f"{q.id}: {notes[q.id]}")
            continue
        if (q.source, q.sweep) in launched:  # several questions read one sweep (long_range): it runs once
            notes[q.id] = launched[(q.source, q.sweep)]
            continue
        base_dir = base_roots[q.source] / (rep or "")
        for name in (n.rpartition("/")[2] for n in sweeps_read(q)):
            if name in preset["sweeps"] and not evidence(base_dir / name):  # missing: run once, where studies put them
                problems += run_sweep(name, preset["sweeps"][name], preset, base_dir, args.launcher)
        mine = with_arch(preset["sweeps"][sweep_name], args.arch)
        if conf is not None:
            mine["overrides"]["hydra.searchpath"] = f"[file://{conf}]"
        got = run_sweep(sweep_name, mine, preset, out / q.source / (rep or ""), args.launcher)
        notes[q.id] = launched[(q.source, q.sweep)] = next((line for line in got if DATA_SKIPPED in line), None)
        problems += got
    doc = build(args.arch, out, base_roots, args.preset, out / "report", wanted, notes)
    for line in problems:
        print(f"warning: {line}", file=sys.stderr)
    print(doc["summary"])
    print(f"scorecard: {out / 'report' / 'scorecard.html'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
