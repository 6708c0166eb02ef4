"""``python -m studies.claims RUNS [--out DIR] [--preset NAME]``: the claims report.

Reads the run folders of a claims sweep (``runs/claims/<preset>/<experiment>/…``), adds the measures that are
computed from the probe files (attention alignment and head diversity from ``attention.npz``; per-layer linear
probes and CKA to the input from ``hidden.npz``), applies each claim's verdict rule (``studies.claims.rules``) and
writes ``claims.json``, ``claims.md``, a self-contained ``claims.html`` and ``figures/claim_<id>.png``.
"""

from __future__ import annotations

import base64
import csv
import html
import json
import logging
import time
import zipfile
from pathlib import Path

import numpy as np

from core.record import ATTENTION_FILE as ATTENTION
from core.record import ATTENTION_INIT_FILE as ATTENTION_INIT
from core.record import HIDDEN_FILE as HIDDEN
from core.record import HIDDEN_INIT_FILE as HIDDEN_INIT
from core.similarity import linear_cka
from reports.load import find_records, split_unfinished
from studies import facts, stats
from studies.claims import figures, rules
from studies.claims.registry import CLAIMS, preset_doc
from studies.protocol import claim_seeds, family_size, read_marker

log = logging.getLogger(__name__)

# Which sweep folders (under the claims root) each claim reads; runs are shared where the setting is the same.
SOURCES = {cid: list(c.sources) for cid, c in CLAIMS.items()}


# -- measures computed from the probe files ---------------------------------------------------------------------
def numbered(files: list[str], prefix: str) -> list[str]:
    """``prefix0``, ``prefix1``, … among ``files``, in numeric order."""
    return sorted(
        (k for k in files if k.startswith(prefix) and k[len(prefix) :].isdigit()), key=lambda k: int(k[len(prefix) :])
    )


def attention_layers(path: Path) -> list[np.ndarray]:
    with np.load(path, allow_pickle=False) as z:
        return [z[k].astype(np.float64) for k in numbered(z.files, "layer")]


def add_attention_measures(run: dict) -> None:
    """long_range.attention.{alignment, alignment_chance, head_diversity, head_diversity_baseline,
    head_diversity_init} where the files allow: the baseline is the diversity of the maps at initialisation
    sharpened per head to the trained head's entropy (``rules.entropy_matched``), ``head_diversity_init`` the
    plain diversity at initialisation (shown beside it)."""
    folder = Path(run["_dir"])
    if not (folder / ATTENTION).exists():
        return
    att = run.setdefault("long_range", {}).setdefault("attention", {})
    layers = attention_layers(folder / ATTENTION)
    delay, n = rules.get(run, "task_info.delay"), rules.get(run, "task_info.n_memorize")
    repeat = int(rules.get(run, "task_info.repeat") or 1)  # copies of each symbol: any of them is its source
    if delay and n and all(m.shape[-1] == m.shape[-2] for m in layers):
        att["alignment"] = max(rules.copy_alignment(m, int(delay), int(n), repeat) for m in layers)
        att["alignment_chance"] = repeat / layers[0].shape[-1]  # the argmax on a source by chance: r/L
    div = [d for d in map(rules.head_diversity, layers) if d is not None]
    if div:
        att["head_diversity"] = float(np.mean(div))
    if (folder / ATTENTION_INIT).exists():
        init = attention_layers(folder / ATTENTION_INIT)
        plain = [d for d in map(rules.head_diversity, init) if d is not None]
        if plain:
            att["head_diversity_init"] = float(np.mean(plain))
        if len(init) == len(layers) and all(i.shape[0] == t.shape[0] for i, t in zip(init, layers)):
            base = [rules.head_diversity(rules.entropy_matched(i, t)) for i, t in zip(init, layers)]
            base = [d for d in base if d is not None]
            if base:
                att["head_diversity_baseline"] = float(np.mean(base))


def pooled(states: np.ndarray, pad: np.ndarray | None) -> np.ndarray:
    """(N, L, d) → (N, d): the mean over the positions that are not padding (all positions when ``pad`` does not
    match them, e.g. 1-D patches or a CLS token)."""
    if pad is None or pad.shape != states.shape[:2]:
        return states.mean(1)
    keep = (~pad).astype(np.float64)
    return (states * keep[..., None]).sum(1) / np.maximum(keep.sum(1, keepdims=True), 1)


def probe_accuracy(x: np.ndarray, y: np.ndarray, folds: int = 4) -> float | None:
    """Cross-validated accuracy of a logistic-regression probe of labels ``y`` from features ``x``."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_score

    counts = np.bincount(y)
    folds = min(folds, int(counts[counts > 0].min()))
    if folds < 2 or len(np.unique(y)) < 2:
        return None
    model = LogisticRegression(max_iter=2000)
    return float(cross_val_score(model, x, y, cv=folds).mean())


def layer_measures(path: Path) -> dict:
    """Per-layer measures of one hidden-state file: ``cka_to_input``, ``layer_probe_acc`` and the Hewitt & Liang
    control ``layer_probe_acc_shuffled`` (the same probe on labels shuffled once, seed 0: what a probe reads from
    any labelling) — from the pooled states of up to 512 validation sequences (``pooled<i>``, ``pooled_labels``)
    where the run wrote them, else from the probe batch's states (``layer<i>``) pooled here."""
    with np.load(path, allow_pickle=False) as z:
        if numbered(z.files, "pooled") and "pooled_labels" in z.files:
            states = [z[k].astype(np.float64) for k in numbered(z.files, "pooled")]
            labels = z["pooled_labels"]
        else:
            pad = z["pad"] if "pad" in z.files else None
            labels = z["labels"] if "labels" in z.files else None
            states = [pooled(z[k].astype(np.float64), pad) for k in numbered(z.files, "layer")]
        names = [str(n) for n in z["names"]] if "names" in z.files else []
    out: dict = {}
    if states:
        # The input is the first state forward_intermediates returns, named "input": the input adapter's output
        # (token embedding + positional encoding, the CLS token and 1-D patches where the model has them), i.e.
        # what the first backbone layer reads.
        first = names.index("input") if "input" in names else 0
        out["cka_to_input"] = [linear_cka(states[first], s) for s in states]
    if labels is not None and labels.ndim == 1:
        y = labels.astype(int)
        out["layer_probe_acc"] = [probe_accuracy(s, y) for s in states]
        shuffled = np.random.default_rng(0).permutation(y)
        out["layer_probe_acc_shuffled"] = [probe_accuracy(s, shuffled) for s in states]
    return out


def add_layer_measures(run: dict) -> None:
    """long_range.{cka_to_input, layer_probe_acc, layer_probe_acc_shuffled} from hidden.npz (class outputs only),
    and the same measures of the model at initialisation from hidden_init.npz (suffix ``_init``: C7's control)."""
    lr = None
    for name, suffix in ((HIDDEN, ""), (HIDDEN_INIT, "_init")):
        path = Path(run["_dir"]) / name
        if path.exists():
            lr = run.setdefault("long_range", {}) if lr is None else lr
            lr.update({k + suffix: v for k, v in layer_measures(path).items()})


PROBE_ERRORS = (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile)


def add_probe_measures(run: dict, skipped: list) -> None:
    """The attention and hidden-state measures; a probe file that cannot be read (truncated, not an npz) is
    skipped with one warning and the run stays (its other measures are still evidence)."""
    for add, name in ((add_attention_measures, ATTENTION), (add_layer_measures, HIDDEN)):
        try:
            add(run)
        except PROBE_ERRORS as e:
            path = Path(run["_dir"]) / name
            why = f"unreadable probe file ({type(e).__name__}: {str(e)[:80]}); its measures left out"
            skipped.append((str(path), why))
            log.warning("skipped %s: %s", path, why)


def identity(run: dict) -> str:
    """What makes two records the same replicate: the sweep, the resolved config (arch, task, seed, settings)."""
    cfg = {k: v for k, v in (run.get("config") or {}).items() if k not in ("hydra", "run_dir")}
    return json.dumps([run.get("_source"), run.get("arch"), run.get("seed"), cfg], sort_keys=True, default=str)


def load_sweep(folder: Path) -> tuple[list[dict], list[tuple[str, str]], dict]:
    """The evidence runs of one sweep folder (the lr pre-sweep left out), the folders skipped, and the duplicated
    replicates: {("<arch> seed <s>", first folder): [folders]} — a copy of a run (same config and seed) counts once."""
    rec = find_records([folder])
    runs, skipped, first = [], list(rec.skipped), {}
    dup: dict = {}
    for run in sorted(rec.runs, key=lambda r: r["_dir"]):
        if facts.in_presweep(run, folder):
            continue  # the learning-rate pre-sweep's short runs choose the lr; they are not evidence
        run["_source"] = folder.name
        key = identity(run)
        if key in first:
            dup.setdefault((f"{run.get('arch')} seed {run.get('seed')}", first[key]), [first[key]]).append(run["_dir"])
            continue
        first[key] = run["_dir"]
        add_probe_measures(run, skipped)
        runs.append(run)
    return runs, skipped, dup


def load_claim_runs(root: Path, claim: str, cache: dict | None = None) -> tuple[list[dict], list, dict]:
    """The runs of a claim's source sweeps; ``cache`` ({folder: loaded}) reads each sweep once per report, so a
    partial run's warning is printed once, not once per claim that reads its sweep."""
    cache = {} if cache is None else cache
    runs, skipped, dup = [], [], {}
    for s in SOURCES[claim]:
        folder = root / s
        if not folder.is_dir():
            continue
        if folder not in cache:
            cache[folder] = load_sweep(folder)
        r, k, d = cache[folder]
        runs += r
        skipped += k
        dup.update(d)
    return runs, skipped, dup


def record_count(root: Path) -> tuple[int, int]:
    """(records in the claims' sweep folders, records anywhere under ``root``)."""
    sweeps = {s for v in SOURCES.values() for s in v}
    inside = sum(1 for s in sweeps if (root / s).is_dir() for _ in (root / s).rglob("summary.json"))
    return inside, (inside or sum(1 for _ in root.rglob("summary.json")))


def no_records_error(root: Path) -> str | None:
    """One line when ``root`` holds no claims evidence (an empty folder, or one sweep folder: one level too deep)."""
    inside, anywhere = record_count(root)
    if inside:
        return None
    sweeps = ", ".join(f"{s}/" for s in sorted({s for v in SOURCES.values() for s in v}))
    if anywhere:
        return (
            f"no run records under {root}'s sweep folders ({sweeps}); it holds {anywhere} record(s) of its own — "
            f"give the claims folder above it, e.g. {root.parent}"
        )
    return (
        f"no run records under {root}; give the folder of a claims sweep with {sweeps} inside (e.g. runs/claims/smoke)"
    )


EQUAL_PARAMS = {"C1", "C2", "C3", "C6", "C8"}  # claims that compare architectures at one parameter budget (±10%)


def stage_of(run: dict):
    """The stage of a staged sweep (pre-training: mlm, finetune) as the resolved config names it; None otherwise."""
    return rules.get(run, "config.stage_name") or rules.get(run, "config.stage")


def source_label(run: dict) -> str:
    stage = stage_of(run)
    return str(run.get("_source") or "?") + (f"/{stage}" if isinstance(stage, str) and stage else "")


def arch_setting(runs: list[dict], compares: bool) -> dict:
    """Seeds and, per arch, parameters, learning rate(s), step budget and run count of one group of runs; the
    spread of parameter counts (largest / smallest median) where the claim compares architectures."""
    out: dict = {"seeds": sorted({r.get("seed") for r in runs if r.get("seed") is not None}, key=str), "by_arch": {}}
    medians = {}
    for arch, rs in sorted(rules.group(runs, lambda r: r.get("arch")).items(), key=lambda kv: str(kv[0])):
        params = sorted(p for p in rules.values(rs, "params") if isinstance(p, (int, float)))
        lrs = sorted({rules.get(r, "config.optimizer.lr") for r in rs} - {None})
        steps = sorted({rules.get(r, "config.trainer.max_steps") for r in rs} - {None})
        out["by_arch"][arch] = {
            "params": f"{params[0]:,}–{params[-1]:,}" if params else None,
            "lr": lrs,
            "max_steps": steps,
            "runs": len(rs),
        }
        if params:
            medians[arch] = params[len(params) // 2]
    if compares and len(medians) > 1:
        spread = max(medians.values()) / max(min(medians.values()), 1)
        out["param_spread"] = round(spread, 3)
        out["equal_params"] = spread <= 1.1
    return out


def setting(cid: str, runs: list[dict]) -> dict:
    """What the runs of a claim were given: per source sweep and stage (``by_source``, never merged: a pre-training
    stage's params are not the fine-tune's), and over all of them (``seeds``, ``by_arch``); for the claims that
    compare architectures, the parameter spread per source and the largest (``param_spread``, ``equal_params``)."""
    compares = cid in EQUAL_PARAMS
    out = arch_setting(runs, False)
    out["by_source"] = {
        label: arch_setting(rs, compares) for label, rs in sorted(rules.group(runs, source_label).items())
    }
    spreads = {k: v["param_spread"] for k, v in out["by_source"].items() if "param_spread" in v}
    if spreads:
        out["param_spread"] = max(spreads.values())
        out["equal_params"] = all(v <= 1.1 for v in spreads.values())
        out["unequal_sources"] = sorted(k for k, v in spreads.items() if v > 1.1)
    return out


def lr_presweeps(root: Path, sources) -> dict:
    """{source: rows of <root>/<source>/lr_presweep.csv} (lr × condition × val metric, ``chosen`` 1 on the picked
    row) for the claim's sweeps that tuned the learning rate; the table the report shows beside the verdict."""
    out = {}
    for s in sources:
        path = root / s / "lr_presweep.csv"
        if path.is_file():
            with path.open(newline="") as f:
                out[s] = list(csv.DictReader(f))
    return out


def lr_at_grid_edge(tables: dict) -> list[str]:
    """Caveats for choices at the largest or smallest lr of a pre-sweep's grid: the best lr may lie outside it
    (one line per source and edge, naming the arch and condition cells)."""
    out = []
    for source, rows in tables.items():
        lrs = sorted({float(r["lr"]) for r in rows if r.get("lr") not in (None, "")})
        if len(lrs) < 2:
            continue
        keys = [k for k in (rows[0] if rows else {}) if k not in ("arch", "lr", "metric", "value", "status", "chosen")]
        for edge, name in ((lrs[-1], "largest"), (lrs[0], "smallest")):
            cells = [
                r["arch"] + "".join(f" {k}={r[k]}" for k in keys)
                for r in rows
                if str(r.get("chosen")) == "1" and r.get("lr") not in (None, "") and float(r["lr"]) == edge
            ]
            if cells:
                out.append(
                    f"{source}: lr {edge:g} chosen at the {name} value of the grid {', '.join(f'{v:g}' for v in lrs)} "
                    f"for {len(cells)} of {sum(str(r.get('chosen')) == '1' for r in rows)} cells "
                    f"({', '.join(cells[:6])}{', …' if len(cells) > 6 else ''}); the best lr may lie outside the grid"
                )
    return out


def presweep_markdown(tables: dict) -> list[str]:
    lines = []
    for source, rows in tables.items():
        if not rows:
            continue
        cols = list(rows[0])
        lines += [
            "",
            f"Learning-rate pre-sweep of `{source}` (tuning seed, validation metric; chosen = 1):",
            "",
            "| " + " | ".join(cols) + " |",
            "|" + "---|" * len(cols),
        ]
        lines += ["| " + " | ".join(str(r.get(c, "")) for c in cols) + " |" for r in rows]
    return lines


# -- the report -------------------------------------------------------------------------------------------------
def build_claims(root: str | Path, out: str | Path | None = None, preset: str | None = None) -> dict:
    root = Path(root)
    out = Path(out) if out else root / "report"
    (out / "figures").mkdir(parents=True, exist_ok=True)
    claims, devices, cache = [], set(), {}
    preset = preset or read_marker(root).get("preset") or root.name
    doc_preset = preset_doc(preset)
    for cid, c in CLAIMS.items():
        claim = c.text
        runs, skipped, dup = load_claim_runs(root, cid, cache)
        devices |= {str(rules.get(r, "env.device")) for r in runs if rules.get(r, "env.device")}
        verdict = c.judge(runs)
        figs = []
        fig = c.figure(runs, verdict) if runs else None
        if fig is not None:
            path = out / "figures" / f"claim_{cid}.png"
            fig.savefig(path, dpi=110, bbox_inches="tight")
            figures.plt.close(fig)
            figs.append(str(path.relative_to(out)))
        found = setting(cid, runs)
        if dup:
            verdict.caveats += [
                f"{k[0]} appears {len(v)} times, counted once ({', '.join(v)})" for k, v in sorted(dup.items())
            ]
        if found.get("equal_params") is False:
            verdict.caveats += [
                f"parameter counts differ by more than 10% between archs in {k} (largest/smallest "
                f"median {found['by_source'][k]['param_spread']})"
                for k in found["unequal_sources"]
            ]
        presweep = lr_presweeps(root, SOURCES[cid])
        verdict.caveats += lr_at_grid_edge(presweep)
        done, unfinished = split_unfinished(runs)
        if unfinished:
            verdict.caveats.append(
                f"{len(unfinished)} run(s) did not finish and are not counted: "
                + ", ".join(f"{r['_dir']} ({r.get('status')})" for r in unfinished[:5])
                + (" …" if len(unfinished) > 5 else "")
            )
        claims.append(
            {
                "id": cid,
                "claim": claim,
                **verdict.to_dict(),
                "setting": found,
                "figures": figs,
                "runs": [r["_dir"] for r in done],
                "unfinished": [{"dir": r["_dir"], "status": r.get("status")} for r in unfinished],
                "skipped": [f"{p}: {w}" for p, w in skipped],
                "sources": SOURCES[cid],
                "delta": c.delta,
                "command": c.command(preset),
                "literature": c.anchor,
                "literature_expects": c.expects or None,
                "literature_part": c.expects_part or None,
                "lr_presweep": presweep,
            }
        )
    family = family_size(CLAIMS.values(), doc_preset)
    correct_primary(claims, family)
    add_power(claims, doc_preset)
    name_decided_parts(claims)
    for c in claims:  # after the correction across claims, which can turn a verdict inconclusive
        c["agreement"] = CLAIMS[c["id"]].agreement(c["verdict"], c.get("condition"))
    doc = {
        "preset": preset,
        "family": family or None,
        "device": sorted(devices),
        "written": time.strftime("%Y-%m-%d %H:%M"),
        "root": str(root),
        "claims": claims,
    }
    (out / "claims.json").write_text(json.dumps(doc, indent=1, default=str))
    (out / "claims.md").write_text(markdown(doc))
    (out / "claims.html").write_text(page(doc, out))
    return doc


POWER = Path(__file__).with_name("power.json")  # python -m studies.power --json > studies/claims/power.json


def add_power(claims: list[dict], preset: dict | None, path: Path = POWER) -> None:
    """Each claim's simulated power at the preset's seed count (studies.power, the committed table): the rate of
    the outcome the literature expects at its effect, and the seeds that reach 80%; a claim that cannot reach 80%
    at this preset says at which n it would."""
    try:
        rows = {r["claim"]: r for r in json.loads(path.read_text())}
    except (OSError, ValueError):
        return
    for c in claims:
        r, seeds = rows.get(c["id"]), claim_seeds(preset, c["id"])
        if not r or seeds != r.get("n"):
            continue
        want, lit = r.get("n_for_80_outcome", "supported"), r.get("literature") or {}
        rate = lit.get(want)
        c["power"] = {"seeds": seeds, "outcome": want, "rate": rate, "n_for_80": r.get("n_for_80")}
        if rate is not None and rate < 0.8:
            need, strong = r.get("n_for_80"), r.get("strong_effect")
            at = f" at an effect of {strong:g} (twice δ where the literature's is smaller)" if strong else ""
            if not need:
                tail = "n > 20"
            elif need <= seeds:  # reached at this n only for the larger effect the n column is computed at
                tail = f"n = {need}{at}; at the literature's effect more than {seeds}"
            else:
                tail = f"n = {need}{at} (decided at full with n = {need})"
            c["caveats"].append(
                f"power: '{want}' at the literature's effect comes out in {100 * rate:.0f}% of simulated runs at "
                f"{seeds} seeds; 80% needs {tail}"
            )


def primary_tests(c: dict) -> dict:
    """{test name: decision dict} of one claim: its ``decision``, or each part of ``decisions`` (C1: per recurrent
    family, C6: per delay, …), those with a p-value."""
    ev = c.get("evidence") or {}
    found = {c["id"]: ev["decision"]} if isinstance(ev.get("decision"), dict) else {}
    if isinstance(ev.get("decisions"), dict):
        found.update({f"{c['id']} {k}": d for k, d in ev["decisions"].items() if isinstance(d, dict)})
    return {k: d for k, d in found.items() if d.get("p") is not None}


def correct_primary(claims: list[dict], family: int = 0) -> None:
    """Holm across the claims' primary tests (every ``decision`` and each part of ``decisions`` with a p-value),
    in a family of the size the preset declares (``family``; the tests found when 0): each gets its adjusted p
    and the family's name; a decided test — supported or not supported — whose adjusted p is ≥ 0.05 no longer
    decides, and its claim turns inconclusive, saying why."""
    tests = {c["id"]: primary_tests(c) for c in claims}
    primary = {k: d["p"] for t in tests.values() for k, d in t.items()}
    if not primary:
        return
    adjusted = stats.holm(primary, family=family)
    size = max(len(primary), family)
    declared = "declared by the preset" if family else "the tests found (the preset's size unknown)"
    label = f"Holm over the claims' {size} primary tests ({declared}: {', '.join(primary)})"
    for c in claims:
        for name, dec in tests[c["id"]].items():
            q = adjusted[name]
            dec["p_holm"], dec["corrected"] = float(f"{q:.4g}"), label
            c["caveats"].append(f"{label}: {name} adjusted p = {q:.3g}")
            decided = dec.get("outcome") in (stats.SUPPORTED, stats.NOT_SUPPORTED)
            if decided and q >= stats.ALPHA and c["verdict"] != rules.INCONCLUSIVE:
                why = f"underpowered after correction: {dec['why']}, but {label} gives p = {q:.3g} ≥ {stats.ALPHA:g}"
                c["verdict"], c["condition"], c["key"] = rules.INCONCLUSIVE, None, why
                c["evidence"].setdefault("insufficient", []).append(why)


def name_decided_parts(claims: list[dict]) -> None:
    """An inconclusive claim's key names its undecided parts only; this adds the parts that were decided (after the
    Holm correction: a supported part whose adjusted p is ≥ 0.05 is named as such, not as supported), so that the
    verdict's line does not hide, e.g., one arch for which pre-training clearly hurts."""
    for c in claims:
        decisions = (c.get("evidence") or {}).get("decisions")
        if c["verdict"] != rules.INCONCLUSIVE or not isinstance(decisions, dict):
            continue
        named = []
        for part, d in decisions.items():
            if not isinstance(d, dict) or d.get("outcome") not in (stats.SUPPORTED, stats.NOT_SUPPORTED):
                continue
            est = d.get("estimate") or {}
            number = f" {est['value']:.3f} [{est['ci95'][0]:.3f}, {est['ci95'][1]:.3f}]" if est.get("ci95") else ""
            q = d.get("p_holm")
            if q is not None and q >= stats.ALPHA:
                named.append(f"{part} {d['outcome']}{number} before correction only (Holm p = {q:.3g})")
            else:
                named.append(f"{part} {d['outcome']}{number}")
        if named:
            c["key"] = f"{c.get('key') or ''}; decided parts: {', '.join(named)}".lstrip("; ")


def verdict_text(c: dict) -> str:
    return c["verdict"] + (f" ({c['condition']})" if c.get("condition") else "")


def setting_text(st: dict) -> str:
    arch = "; ".join(
        f"{a}: {v['params'] or '?'} params, lr {', '.join(f'{x:g}' for x in v['lr']) or '?'}, "
        f"{', '.join(map(str, v['max_steps'])) or '?'} steps, {v['runs']} runs"
        for a, v in st.get("by_arch", {}).items()
    )
    spread = f"; parameter spread {st['param_spread']}×" if "param_spread" in st else ""
    text = f"seeds {', '.join(map(str, st.get('seeds', []))) or 'none'}; {arch or 'no runs'}{spread}"
    by_source = st.get("by_source") or {}
    if len(by_source) > 1:  # per source and stage, never merged
        return " · ".join(f"[{k}] " + setting_text(v) for k, v in by_source.items())
    return text


def delta_text(c: dict) -> str:
    return f"{c['delta']:g}" if c.get("delta") is not None else "not declared"


def agreement_text(c: dict) -> str:
    """``agrees`` / ``differs (anchor: <outcome>)`` / ``open`` (an inconclusive verdict says nothing either way)."""
    if c.get("agreement") == "differs":
        part = f": {c['literature_part']}" if c.get("literature_part") else ""
        return f"differs (anchor: {c.get('literature_expects')}{part})"
    return c.get("agreement") or "open"


def cut(text: str, width: int = 110) -> str:
    """The first ``width`` characters of a key number (up to its first "; " when that comes sooner), "…" if cut."""
    first = text.split("; ")[0]
    return first if len(first) <= width and first == text else (first[:width].rstrip() + "…")


def markdown_table(doc: dict, brief: bool = False) -> str:
    """The verdict table (the README's), generated: never typed by hand. ``brief``: id, claim, verdict and the
    agreement with the literature only."""
    flag = " --brief" if brief else ""
    lines = [
        f"Preset {doc['preset']}, device {', '.join(doc['device']) or 'none recorded'}, written {doc['written']} "
        f"(`python -m studies.claims {doc['root']} --markdown-table{flag}`)",
        "",
    ]
    if brief:
        lines += ["| id | claim | verdict | the number that decided it (cut) | agrees with the literature? |"]
        lines += ["|---|---|---|---|---|"]
        lines += [
            f"| {c['id']} | {c['claim']} | {verdict_text(c)} | {cut(c['key'])} | {agreement_text(c)} |"
            for c in doc["claims"]
        ]
        return "\n".join(lines) + "\n"
    lines += [
        "| id | claim | verdict | key number | δ | literature anchor | agrees? |",
        "|---|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {c['id']} | {c['claim']} | {verdict_text(c)} | {c['key']} | {delta_text(c)} | {c.get('literature') or ''} "
        f"| {agreement_text(c)} |"
        for c in doc["claims"]
    ]
    return "\n".join(lines) + "\n"


def markdown(doc: dict) -> str:
    lines = [
        f"# archbench claims — preset {doc['preset']}",
        "",
        f"Device: {', '.join(doc['device']) or 'none recorded'} · written {doc['written']} · runs under "
        f"`{doc['root']}`",
        "",
        markdown_table(doc).split("\n", 2)[2].rstrip("\n"),
    ]
    for c in doc["claims"]:
        lines += [
            "",
            f"## {c['id']}: {c['claim']}",
            "",
            f"**Verdict: {verdict_text(c)}.**",
            "",
            f"Rule: {c['rule']}",
            "",
            f"Minimal effect δ (declared with the claim): {delta_text(c)}",
            "",
            f"Literature anchor: {c.get('literature') or 'none'} — {agreement_text(c)}",
            "",
            f"Runs: {len(c['runs'])} from {', '.join(c['sources'])}"
            + (f" ({len(c['unfinished'])} more did not finish: not counted)" if c.get("unfinished") else ""),
            "",
            "Setting: " + setting_text(c["setting"]),
            "",
        ]
        lines += [f"- caveat: {w}" for w in c.get("caveats") or []]
        lines += presweep_markdown(c.get("lr_presweep") or {})
        lines += ["", "```json", json.dumps(c["evidence"], indent=1, default=str), "```"]
        lines += [f"![{c['id']}]({f})" for f in c["figures"]]
        lines += [f"- skipped: {s}" for s in c["skipped"]]
        lines += ["", f"Re-run only this claim's evidence: `{c['command']}`"]
    return "\n".join(lines) + "\n"


CSS = """body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#222;padding:0 10px}
table{border-collapse:collapse;font-size:14px}td,th{padding:4px 10px;border-bottom:1px solid #ddd;text-align:left;
vertical-align:top}.key,p,li,h2{overflow-wrap:anywhere}.wrap{overflow-x:auto;max-width:100%}
.badge{display:inline-block;padding:1px 8px;border-radius:10px;border:1px solid currentColor}
.supported{color:#0a7a2f;font-weight:600}.not.supported{color:#b3261e;font-weight:600}.mixed{color:#9a6700;
font-weight:600}.inconclusive{color:#666;font-weight:600}pre{background:#f6f6f6;padding:.6em;overflow:auto;
font-size:12px;max-height:22em}img{max-width:100%;border:1px solid #eee}details{margin:.4em 0}
summary{cursor:pointer;color:#345}.caveat{font-size:13px;color:#555}
@media (max-width:600px){body{margin:.5em auto}table{font-size:12px}td,th{padding:3px 4px}.wide{display:none}}"""


def decisions_html(c: dict) -> str:
    """What decided the verdict: each primary decision's outcome, estimate with its interval, p after Holm."""
    ev = c.get("evidence") or {}
    decs = dict(ev.get("decisions") or {})
    if isinstance(ev.get("decision"), dict):
        decs = {"": ev["decision"], **decs}
    esc = html.escape
    items = []
    for name, d in decs.items():
        if not isinstance(d, dict):
            continue
        est = d.get("estimate") or {}
        ci = est.get("ci95") or [None, None]
        number = "" if est.get("value") is None else f" {est['value']:.3g}"
        if ci[0] is not None:
            number += f" [{ci[0]:.3g}, {ci[1]:.3g}]"
        p = d.get("p_holm", d.get("p"))
        ptext = "" if p is None else f", p{' (Holm)' if 'p_holm' in d else ''} = {p:.3g}"
        outcome = esc(str(d.get("outcome")))
        items.append(f"<li>{esc(name or 'the contrast')}: <b>{outcome}</b>{esc(number)}{esc(ptext)}</li>")
    return f"<ul>{''.join(items)}</ul>" if items else ""


def controls_html(c: dict) -> str:
    esc = html.escape
    rows = (c.get("evidence") or {}).get("controls") or []
    items = [
        f"<li>{'negative' if x.get('negative') else 'positive'} control {esc(str(x.get('label')))}: mean "
        f"{x.get('mean')} vs level {x.get('level')}: {'passed' if x.get('passed') else '<b>failed</b>'}</li>"
        for x in rows
    ]
    return f"<ul>{''.join(items)}</ul>" if items else ""


def page(doc: dict, out: Path) -> str:
    """One page: the verdict table first (usable at 390 px: the table scrolls inside its box, the key number wraps),
    then per claim what was decided and by how much (badge, decisions with intervals and Holm p, power, controls,
    caveats); the rule, setting, lr pre-sweep and raw evidence folded away."""
    esc = html.escape
    rows = "".join(
        f"<tr><td><a href='#{c['id']}'>{c['id']}</a></td><td class=wide>{esc(c['claim'])}</td>"
        f"<td class='{esc(c['verdict'])}'>{esc(verdict_text(c))}</td><td class=key>{esc(cut(c['key'], 160))}</td></tr>"
        for c in doc["claims"]
    )
    family = f" · Holm family: {doc['family']} tests" if doc.get("family") else ""
    parts = [
        f"<h1>archbench claims — {esc(doc['preset'])}</h1><p>Device: {esc(', '.join(doc['device']) or 'none')}"
        f" · written {esc(doc['written'])}{family}</p><div class=wrap><table><tr><th>id</th><th class=wide>claim</th>"
        f"<th>verdict</th><th>the number that decided it</th></tr>{rows}</table></div>"
    ]
    for c in doc["claims"]:
        power = c.get("power")
        power_text = (
            f"<p>Power at this preset ({power['seeds']} seeds): '{esc(power['outcome'])}' at the literature's effect "
            f"in {100 * power['rate']:.0f}% of simulated runs; 80% needs n = {power['n_for_80'] or '> 20'}</p>"
            if power and power.get("rate") is not None
            else ""
        )
        parts.append(
            f"<h2 id='{c['id']}'>{c['id']}: {esc(c['claim'])}</h2><p><span class='badge {esc(c['verdict'])}'>"
            f"{esc(verdict_text(c))}</span> · δ = {esc(delta_text(c))} · {esc(agreement_text(c))}</p>"
            f"<p>{esc(c['key'])}</p>{decisions_html(c)}{power_text}{controls_html(c)}"
            + "".join(f"<p class='caveat'>Caveat: {esc(w)}</p>" for w in c.get("caveats") or [])
            + f"<details><summary>Rule, setting and runs</summary><p>Rule: {esc(c['rule'])}</p>"
            f"<p>{len(c['runs'])} runs from {esc(', '.join(c['sources']))}</p>"
            f"<p>Minimal effect δ (declared with the claim): {esc(delta_text(c))}</p>"
            f"<p>Setting: {esc(setting_text(c['setting']))}</p></details>"
        )
        for source, rows in (c.get("lr_presweep") or {}).items():
            if rows:
                head = "".join(f"<th>{esc(k)}</th>" for k in rows[0])
                body = "".join("<tr>" + "".join(f"<td>{esc(str(v))}</td>" for v in r.values()) + "</tr>" for r in rows)
                parts.append(
                    f"<details><summary>Learning-rate pre-sweep of {esc(source)} (tuning seed; chosen = 1)</summary>"
                    f"<div class=wrap><table><tr>{head}</tr>{body}</table></div></details>"
                )
        for f in c["figures"]:
            b64 = base64.b64encode((out / f).read_bytes()).decode()
            parts.append(f"<img alt='{c['id']}' src='data:image/png;base64,{b64}'>")
        evidence = esc(json.dumps(c["evidence"], indent=1, default=str))
        parts.append(
            f"<details><summary>Evidence (JSON)</summary><pre>{evidence}</pre></details>"
            f"<p>Re-run only this claim's evidence: <code>{esc(c['command'])}</code></p>"
        )
    return (
        "<!doctype html><html><head><meta charset=utf-8><meta name=viewport content='width=device-width'>"
        f"<title>archbench claims</title><style>{CSS}</style></head><body>{''.join(parts)}</body></html>\n"
    )
