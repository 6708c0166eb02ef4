"""Turn run folders into a report folder: results.csv, tables.md, tables.html, figures/*.png, a
self-contained index.html (tables and base64-embedded figures) and the interactive explore.html."""

from __future__ import annotations

import base64
import html
import io
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import matplotlib.pyplot as plt
import pandas as pd

from core.names import file_name
from reports import explore, pretraining, tuning
from reports import figures as figs
from reports import tables as tb
from reports.load import Records, find_records, to_frame

CSS = """body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1300px;color:#222}
h1{margin-bottom:.2em} h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:1.6em}
table.t{border-collapse:collapse;font-size:13px;margin:.5em 0 1.2em} table.t th,table.t td{padding:3px 9px;
border-bottom:1px solid #e4e4e4;text-align:right;white-space:nowrap} table.t th{background:#f3f3f3}
table.t td:first-child,table.t th:first-child{text-align:left} .note{color:#666;font-size:13px}
img{max-width:100%;border:1px solid #eee;margin:.4em 0 1.4em} code{background:#f5f5f5;padding:1px 4px}
.scroll{overflow-x:auto;max-width:100%} table.t th.sortable{cursor:pointer;user-select:none}
table.t th.sortable:after{content:" \\2195";color:#aaa} table.t td.best{font-weight:bold;background:#e3f4e3}
nav.links{display:flex;flex-wrap:wrap;gap:.3em 1em} body{padding:0 1em}
@media (prefers-color-scheme:dark){body{background:#16181c;color:#ddd} h2{border-color:#444}
table.t th{background:#262a30} table.t td,table.t th{border-color:#333} table.t td.best{background:#1f4424}
a{color:#8cb4ff} .note{color:#aaa} code{background:#262a30} img{border-color:#333;background:#fff}}"""

# Sort a table by clicking its header (numbers by value, text naturally); mark the best value of each column
# whose header carries a direction (↑ higher is better, ↓ lower) or is a known speed/memory column. No network.
SCRIPT = """(function(){
var DIR={"Train samples/s":1,"Train tokens/s":1,"Eval samples/s":1,"ms/step":-1,"Peak MB":-1,"MFU":1};
function num(t){var m=String(t).replace(/,/g,"").match(/^\\s*(-?[0-9.]+(?:e-?[0-9]+)?)/i);return m?parseFloat(m[1]):NaN}
function dir(h){var t=h.textContent.trim();if(t.indexOf("\u2191")>=0)return 1;
  if(t.indexOf("\u2193")>=0)return -1;return DIR[t]||0}
document.querySelectorAll("table.t").forEach(function(tb){
  var heads=tb.querySelectorAll("thead th"),body=tb.tBodies[0];if(!body)return;
  heads.forEach(function(h,i){
    var d=dir(h),cells=[].map.call(body.rows,function(r){return r.cells[i]}).filter(Boolean);
    if(d){var best=null;
      cells.forEach(function(c){var v=num(c.textContent);if(!isNaN(v)&&(best===null||d*v>d*best))best=v});
      cells.forEach(function(c){if(best!==null&&num(c.textContent)===best)c.classList.add("best")})}
    h.classList.add("sortable");h.title="sort";
    h.addEventListener("click",function(){
      var asc=h.dataset.sort!=="asc";heads.forEach(function(o){delete o.dataset.sort});h.dataset.sort=asc?"asc":"desc";
      var rows=[].slice.call(body.rows);rows.sort(function(a,b){
        var x=a.cells[i]?a.cells[i].textContent:"",y=b.cells[i]?b.cells[i].textContent:"",nx=num(x),ny=num(y),c;
        if(!isNaN(nx)&&!isNaN(ny))c=nx-ny;else if(isNaN(nx)!==isNaN(ny))c=isNaN(nx)?1:-1;
        else c=x.localeCompare(y,undefined,{numeric:true});return asc?c:-c});
      rows.forEach(function(r){body.appendChild(r)})})})})})();"""


@dataclass
class Report:
    out: Path
    records: Records
    frame: pd.DataFrame
    sections: list[tuple[str, str, pd.DataFrame]] = field(default_factory=list)  # (heading, note, table)
    figures: list[str] = field(default_factory=list)

    @property
    def counts(self) -> dict:
        status = self.frame["status"].value_counts().to_dict() if len(self.frame) else {}
        return {
            "runs": len(self.frame),
            "completed": status.get("completed", 0),
            "not_completed": len(self.frame) - status.get("completed", 0),
            "skipped": len(self.records.skipped),
        }


def default_out(dirs: list[str]) -> Path:
    return Path(dirs[0]) / "report" if dirs else Path("report")


def png_bytes(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def build_report(dirs: list[str | Path], out: str | Path | None = None) -> Report:
    dirs = [str(d) for d in dirs] or ["runs"]
    out = Path(out) if out else default_out(dirs)
    out.mkdir(parents=True, exist_ok=True)
    records = find_records(dirs)
    frame = to_frame(records.runs)
    rep = Report(out, records, frame)
    frame.to_csv(out / "results.csv", index=False)

    if len(frame):
        summary = tb.summarize(frame)
        for task in sorted(summary["task"].unique()) if len(summary) else []:
            rep.sections.append(
                (
                    f"{task}: test {summary.loc[summary.task == task, 'main_metric'].iloc[0]}, "
                    "speed and memory by architecture",
                    "mean ± std over seeds; n = distinct seeds averaged (NaN, inf and missing values are never "
                    "averaged: they are counted under Not averaged); completed runs only",
                    tb.main_table(summary, task),
                )
            )
        lr = tb.long_range(frame)
        for task in sorted(lr["task"].unique()) if len(lr) else []:
            for title, table in tb.long_range_tables(lr, task).items():
                rep.sections.append(
                    (
                        f"{task}: {title}",
                        "long-range: mean ± std over seeds; steps to solve = "
                        "steps until the stop target (runs that reached it / runs)",
                        table,
                    )
                )
        rep.sections += pretraining.sections(frame, records.runs)
        bad = tb.not_completed(frame)
        if len(bad):
            rep.sections.append(("Runs not completed", "not averaged into the tables above", bad))
    rep.sections += tuning.sections(dirs)
    if records.skipped:
        rep.sections.append(
            (
                "Skipped folders",
                "not readable as archbench run records",
                pd.DataFrame(records.skipped, columns=["path", "why"]),
            )
        )

    images = {}
    if len(frame):
        fig_dir = out / "figures"
        fig_dir.mkdir(exist_ok=True)
        shown = figs.labelled(frame)  # names as figures show them: bounded, no mathtext, no hidden legend entry
        made = {
            **figs.all_figures(shown, records.runs),
            **pretraining.figures(shown, records.runs),
            **tuning.figures(dirs),
        }
        for name, fig in made.items():
            stem = file_name(name)  # a name holding an arch or task name: `team/tf`, 300 characters, `..`
            images[stem] = png_bytes(fig)
            (fig_dir / f"{stem}.png").write_bytes(images[stem])
            rep.figures.append(stem)

    write_tables(rep, dirs)
    write_index(rep, dirs, images)
    explore.write_explorer(out, frame, records.runs, CSS)
    return rep


def header(rep: Report, dirs: list[str]) -> str:
    c = rep.counts
    return (
        f"{c['runs']} runs from {', '.join(dirs)}: {c['completed']} completed, {c['not_completed']} not "
        f"completed, {c['skipped']} folder{'' if c['skipped'] == 1 else 's'} skipped"
    )


def write_tables(rep: Report, dirs: list[str]) -> None:
    md = [f"# archbench report\n\n{header(rep, dirs)}\n"]
    htm = []
    for title, note, table in rep.sections:
        md.append(f"## {title}\n\n{note}\n\n{tb.to_markdown(table)}\n")
        htm.append(f"{tb.heading_html(title)}<p class=note>{html.escape(note)}</p>{table_html(table)}")
    (rep.out / "tables.md").write_text("\n".join(md))
    (rep.out / "tables.html").write_text(page("archbench tables", "".join(htm)))


def page(title: str, body: str) -> str:
    return (
        f"<!doctype html><html><head><meta charset=utf-8>"
        f"<meta name=viewport content='width=device-width, initial-scale=1'><title>{html.escape(title)}</title>"
        f"<style>{CSS}</style></head><body>{body}<script>{SCRIPT}</script></body></html>\n"
    )


def table_html(table: pd.DataFrame) -> str:
    return f"<div class=scroll>{tb.to_html(table)}</div>"


def runs_table(rep: Report) -> str:
    """One row per run, each linking to its folder (relative to the report, so the folder can move)."""
    f = rep.frame
    rows = []
    for _, r in f.sort_values(["task", "arch", "seed"], kind="stable").iterrows():
        try:
            href = os.path.relpath(r["path"], rep.out)
        except ValueError:  # another drive
            href = str(r["path"])
        value = r["main_value"]
        rows.append(
            "<tr>"
            + "".join(
                f"<td>{html.escape(str(c))}</td>"
                for c in (
                    r["task"],
                    r["arch"],
                    r["seed"],
                    r["status"],
                    f"{value:.4g}" if isinstance(value, float) else ("" if value is None else value),
                    r.get("params", ""),
                    r.get("step", ""),
                    f"{r['wall_s']:.1f}" if isinstance(r.get("wall_s"), float) else "",
                )
            )
            + f"<td><a href='{html.escape(quote(href))}/'>{html.escape(href)}</a></td></tr>"
        )
    head = "".join(
        f"<th>{h}</th>"
        for h in ("task", "arch", "seed", "status", "main metric (test)", "params", "steps", "wall s", "run folder")
    )
    return (
        f"<div class=scroll><table class=t><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table></div>"
    )


def write_index(rep: Report, dirs: list[str], images: dict[str, bytes]) -> None:
    parts = [
        f"<h1>archbench report</h1><p class=note>{html.escape(header(rep, dirs))} · "
        f"written {time.strftime('%Y-%m-%d %H:%M')}</p>"
        "<nav class=links><a href='explore.html'>explore.html</a><a href='results.csv'>results.csv</a>"
        "<a href='tables.md'>tables.md</a><a href='tables.html'>tables.html</a><a href='figures/'>figures/</a>"
        "<a href='#runs'>runs</a></nav><p class=note>click a column header to sort; the best value of a "
        "column with a direction (↑ higher is better, ↓ lower) is in bold</p>"
    ]
    for title, note, table in rep.sections:
        parts.append(f"{tb.heading_html(title)}<p class=note>{html.escape(note)}</p>{table_html(table)}")
    if images:
        parts.append(tb.heading_html("Figures"))
    for name, data in images.items():
        b64 = base64.b64encode(data).decode()
        parts.append(
            f"{tb.heading_html(name.replace('_', ' '), 3)}<img alt='{html.escape(name)}' "
            f"src='data:image/png;base64,{b64}'>"
        )
    if len(rep.frame):
        parts.append(
            f"<h2 id=runs>Runs</h2><p class=note>every run read, with a link to its folder</p>{runs_table(rep)}"
        )
    (rep.out / "index.html").write_text(page("archbench report", "".join(parts)))


def terminal_summary(rep: Report, dirs: list[str]) -> str:
    lines = [header(rep, dirs)]
    for title, note, table in rep.sections:
        if title.startswith("Skipped") or title.startswith("Runs not"):
            continue
        if title.startswith("Tuning"):
            lines += ["", title, note]
            continue
        keep = [
            c
            for c in table.columns
            if c in ("Source", "Arch", "Setting", "n", "Not averaged", "ms/step", "Params")
            or c.startswith(("test/", "delay"))
        ]
        lines += ["", title, tb.to_markdown(table[keep])]
    lines += [
        "",
        f"report: {rep.out / 'index.html'}  (tables.md, results.csv, {len(rep.figures)} figures)",
        f"explorer: {rep.out / 'explore.html'}  (attention, positional encoding, hidden states, gradients)",
    ]
    return "\n".join(lines)
