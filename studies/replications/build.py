"""Replications report: for every ``conf/replications/<name>.yaml``, the runs of ``RUNS/<name>/``, the rule's
outcome, a figure (ours: mean ± 95% CI over seeds) and the published result beside it; written as
``replications.json``, ``replications.md`` and a self-contained ``replications.html``."""

from __future__ import annotations

import base64
import html
import json
import time
from collections import defaultdict
from pathlib import Path

import matplotlib
import yaml

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from reports.load import find_records
from studies import facts, stats
from studies.claims.figures import interval
from studies.replications.rules import INCONCLUSIVE, completed, correct, declaration, get, judge, setting

ROOT = Path(__file__).resolve().parents[2]
CONF = ROOT / "conf" / "replications"
CSS = (
    "body{font-family:sans-serif;max-width:1000px;margin:auto;padding:0 10px}table{border-collapse:collapse}"
    "td,th{border:1px solid #ccc;padding:4px 8px;vertical-align:top}img{max-width:100%}.wrap{overflow-x:auto}"
    "p,td,h2{overflow-wrap:anywhere}"
    ".reproduced{color:#1a7f37}.not{color:#b42318}.inconclusive{color:#8a6d00}summary{cursor:pointer;color:#345}"
    "@media (max-width:600px){td,th{font-size:12px;padding:3px}.wide{display:none}}"
)


def load_replications(conf: Path = CONF) -> dict[str, dict]:
    """Every replication's YAML, by name (the file's stem)."""
    return {p.stem: yaml.safe_load(p.read_text()) for p in sorted(conf.glob("*.yaml"))}


def x_value(run: dict, keys) -> object:
    for k in [keys] if isinstance(keys, str) else keys:
        v = setting(run, k)
        if v is not None:
            return v
    return None


def figure(name: str, spec: dict, runs: list[dict]):
    """Mean ± 95% CI of the figure's metric against ``x`` (one line per ``series``), or None without runs."""
    fig_spec = spec.get("figure") or {}
    metric, series = fig_spec.get("metric", spec["rule"]["comparisons"][0]["metric"]), fig_spec.get("series", "arch")
    panels = fig_spec.get("panels")  # a key whose values get one panel each (e.g. task.n_pairs)
    data = defaultdict(lambda: defaultdict(lambda: defaultdict(list)))
    for r in completed(runs):
        y = stats.finite([get(r, f"metrics.{metric}")])
        x = x_value(r, fig_spec.get("x", "seed"))
        if y and x is not None:
            label = " ".join(f"{setting(r, k)}" for k in ([series] if isinstance(series, str) else series))
            data[setting(r, panels) if panels else ""][label][x].append(y[0])
    if not data:
        return None
    keys = sorted(data, key=str)
    fig, axes = plt.subplots(1, len(keys), figsize=(min(4.2 * len(keys), 14), 3.6), squeeze=False)
    for ax, key in zip(axes[0], keys):
        for label, by in sorted(data[key].items()):
            xs = sorted(
                by, key=lambda v: (not isinstance(v, (int, float)), v if isinstance(v, (int, float)) else str(v))
            )
            est = [stats.mean(by[x]) for x in xs]
            pos = list(range(len(xs))) if any(not isinstance(x, (int, float)) for x in xs) else xs
            lo, hi = zip(*(interval(e) for e in est))
            ax.errorbar(
                pos,
                [e.value for e in est],
                yerr=[[max(e.value - a, 0) for e, a in zip(est, lo)], [max(b - e.value, 0) for e, b in zip(est, hi)]],
                marker="o",
                capsize=3,
                label=label,
            )
            if pos is not xs:
                ax.set_xticks(pos, [str(x) for x in xs])
        ax.set(
            xlabel=fig_spec.get("xlabel", "x"),
            ylabel=fig_spec.get("ylabel", metric),
            title=f"{panels}={key}" if panels else name,
        )
        ax.legend(fontsize=7)
    fig.suptitle(
        f"{spec['paper']} — ours (mean, 95% CI over seeds); published: {spec['published']['result']}",
        fontsize=8,
        wrap=True,
    )
    fig.tight_layout()
    return fig


def ours_text(result: dict) -> str:
    """The first comparison's difference with its CI (or the side means when there are too few seeds)."""
    c = result["comparisons"][0]
    if "difference" in c:
        d = c["difference"]
        return f"{c['label']}: {d['value']:+.3g} [{d['ci95'][0]:.3g}, {d['ci95'][1]:.3g}] (n={d['n']})"
    a, b = c["a"], c["b"]
    show = lambda s: "—" if s["mean"] is None else f"{s['mean']:.3g}"
    return f"{c['label']}: a {show(a)} (n={a['n']}) vs b {show(b)} (n={b['n']})"


def build_replications(root: str | Path, out: str | Path | None = None, conf: Path = CONF) -> dict:
    root = Path(root)
    out = Path(out) if out else root / "report"
    out.mkdir(parents=True, exist_ok=True)
    doc = {"written": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "runs_root": str(root), "replications": []}
    specs = load_replications(conf)
    found, results = {}, {}
    for name, spec in specs.items():
        folder = root / name
        rec = find_records([folder]) if folder.is_dir() else None
        found[name] = [r for r in rec.runs if not facts.in_presweep(r, folder)] if rec else []  # tuning runs out
        results[name] = judge(found[name], spec["rule"])
    family = {n: declaration(n, spec).tests for n, spec in specs.items()}  # each replication's declared comparisons
    correct(results, family)
    doc["family"] = family
    for name, spec in specs.items():
        folder, runs, result = root / name, found[name], results[name]
        if not runs:
            result = {**result, "outcome": INCONCLUSIVE, "why": f"no runs in {folder}"}
        entry = {
            "name": name,
            "paper": spec["paper"],
            "published": spec["published"],
            "setting": spec.get("setting"),
            "differs": spec.get("differs"),
            "runs": len(runs),
            "statuses": _count(runs),
            **result,
            "ours": ours_text(result),
            "figures": [],
        }
        fig = figure(name, spec, runs)
        if fig is not None:
            fig.savefig(out / f"{name}.png", dpi=90)
            plt.close(fig)
            entry["figures"].append(f"{name}.png")
        doc["replications"].append(entry)
    (out / "replications.json").write_text(json.dumps(doc, indent=1, default=str))
    (out / "replications.md").write_text(markdown(doc))
    (out / "replications.html").write_text(page(doc, out))
    return doc


def _count(runs: list[dict]) -> dict:
    counts: dict[str, int] = defaultdict(int)
    for r in runs:
        counts[r["status"]] += 1
    return dict(counts)


def markdown(doc: dict) -> str:
    lines = [
        f"# Replications (written {doc['written']}, runs in `{doc['runs_root']}`)",
        "",
        "| replication | paper | published (where) | ours: difference, 95% CI (seeds) | reproduced? |",
        "|---|---|---|---|---|",
    ]
    for r in doc["replications"]:
        p = r["published"]
        lines.append(f"| {r['name']} | {r['paper']} | {p['result']} ({p['where']}) | {r['ours']} | {r['outcome']} |")
    lines.append("")
    for r in doc["replications"]:
        lines += [
            f"## {r['name']}: {r['outcome']}",
            "",
            f"Why: {r['why']}",
            "",
            f"Runs: {r['runs']} {r['statuses']}",
            "",
        ]
        for c in r.get("controls") or []:
            word = "negative control" if c["negative"] else "positive control"
            state = "passed" if c["passed"] else "FAILED"
            lines += [f"{word} {c['label']}: mean {c['mean']} vs level {c['level']}: {state}", ""]
        for c in r.get("comparisons") or []:
            st = c.get("stability")
            if st:
                word = "stable" if st["stable"] else "NOT stable"
                shown = ", ".join(f"seed {k} out: {v:+.3g}" for k, v in st["left_out"].items())
                lines += [f"Leave one seed out ({c['label']}): {word} — the whole {st['whole']}; {shown}", ""]
        if r.get("differs"):
            lines += [f"What differs from the paper: {r['differs']}", ""]
    return "\n".join(lines) + "\n"


def page(doc: dict, out: Path) -> str:
    esc = html.escape
    css_class = {"reproduced in direction": "reproduced", "not reproduced": "not"}
    rows = "".join(
        f"<tr><td><a href='#{esc(r['name'])}'>{esc(r['name'])}</a></td><td class=wide>{esc(r['paper'])}</td>"
        f"<td class=wide>{esc(r['published']['result'])} ({esc(r['published']['where'])})</td><td>{esc(r['ours'])}</td>"
        f"<td class='{css_class.get(r['outcome'], 'inconclusive')}'>{esc(r['outcome'])}</td></tr>"
        for r in doc["replications"]
    )
    parts = [
        f"<h1>archbench replications</h1><p>Runs in {esc(doc['runs_root'])} · written {esc(doc['written'])}</p>"
        "<div class=wrap><table><tr><th>replication</th><th class=wide>paper</th><th class=wide>published (where)</th>"
        f"<th>ours: difference, 95% CI (seeds)</th><th>reproduced?</th></tr>{rows}</table></div>"
    ]
    for r in doc["replications"]:
        parts.append(
            f"<h2 id='{esc(r['name'])}'>{esc(r['name'])}: {esc(r['outcome'])}</h2>"
            f"<p>Why: {esc(r['why'])}</p><p>Setting: {esc(str(r.get('setting') or ''))}</p>"
            f"<p>What differs from the paper: {esc(str(r.get('differs') or ''))}</p>"
        )
        for f in r["figures"]:
            b64 = base64.b64encode((out / f).read_bytes()).decode()
            parts.append(f"<img alt='{esc(r['name'])}' src='data:image/png;base64,{b64}'>")
        for c in r.get("controls") or []:
            state = "passed" if c["passed"] else "FAILED"
            word = "negative" if c["negative"] else "positive"
            parts.append(f"<p>{word} control {esc(c['label'])}: mean {c['mean']} vs level {c['level']}: {state}</p>")
        evidence = esc(json.dumps(r["comparisons"], indent=1, default=str))
        parts.append(f"<details><summary>Comparisons (JSON)</summary><pre>{evidence}</pre></details>")
    return (
        "<!doctype html><html><head><meta charset=utf-8><meta name=viewport content='width=device-width'>"
        f"<title>archbench replications</title>"
        f"<style>{CSS}</style></head><body>{''.join(parts)}</body></html>\n"
    )
