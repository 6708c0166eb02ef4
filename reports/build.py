"""Turn run folders into a report folder: results.csv, tables.md, tables.html, figures/*.png, a
self-contained index.html (tables and base64-embedded figures) and the interactive explore.html."""
from __future__ import annotations

import base64
import html
import io
import time
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd

from reports import explore
from reports import figures as figs
from reports import tables as tb
from reports import tuning
from reports.load import Records, find_records, to_frame

CSS = """body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1300px;color:#222}
h1{margin-bottom:.2em} h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:1.6em}
table.t{border-collapse:collapse;font-size:13px;margin:.5em 0 1.2em} table.t th,table.t td{padding:3px 9px;
border-bottom:1px solid #e4e4e4;text-align:right;white-space:nowrap} table.t th{background:#f3f3f3}
table.t td:first-child,table.t th:first-child{text-align:left} .note{color:#666;font-size:13px}
img{max-width:100%;border:1px solid #eee;margin:.4em 0 1.4em} code{background:#f5f5f5;padding:1px 4px}"""


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
        return {"runs": len(self.frame), "completed": status.get("completed", 0),
                "not_completed": len(self.frame) - status.get("completed", 0), "skipped": len(self.records.skipped)}


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
            rep.sections.append((f"{task}: test {summary.loc[summary.task == task, 'main_metric'].iloc[0]}, "
                                 "speed and memory by architecture",
                                 "mean ± std over seeds; n = runs averaged (NaN, inf and missing values are never "
                                 "averaged: they are counted under Not averaged); completed runs only",
                                 tb.main_table(summary, task)))
        lr = tb.long_range(frame)
        for task in sorted(lr["task"].unique()) if len(lr) else []:
            for title, table in tb.long_range_tables(lr, task).items():
                rep.sections.append((f"{task}: {title}", "long-range: mean ± std over seeds; steps to solve = "
                                     "steps until the stop target (runs that reached it / runs)", table))
        bad = tb.not_completed(frame)
        if len(bad):
            rep.sections.append(("Runs not completed", "not averaged into the tables above", bad))
    rep.sections += tuning.sections(dirs)
    if records.skipped:
        rep.sections.append(("Skipped folders", "not readable as archbench run records",
                             pd.DataFrame(records.skipped, columns=["path", "why"])))

    images = {}
    if len(frame):
        fig_dir = out / "figures"
        fig_dir.mkdir(exist_ok=True)
        for name, fig in figs.all_figures(frame, records.runs).items():
            images[name] = png_bytes(fig)
            (fig_dir / f"{name}.png").write_bytes(images[name])
            rep.figures.append(name)

    write_tables(rep, dirs)
    write_index(rep, dirs, images)
    explore.write_explorer(out, frame, records.runs, CSS)
    return rep


def header(rep: Report, dirs: list[str]) -> str:
    c = rep.counts
    return (f"{c['runs']} runs from {', '.join(dirs)}: {c['completed']} completed, {c['not_completed']} not "
            f"completed, {c['skipped']} folder{'' if c['skipped'] == 1 else 's'} skipped")


def write_tables(rep: Report, dirs: list[str]) -> None:
    md = [f"# archbench report\n\n{header(rep, dirs)}\n"]
    htm = []
    for title, note, table in rep.sections:
        md.append(f"## {title}\n\n{note}\n\n{tb.to_markdown(table)}\n")
        htm.append(f"{tb.heading_html(title)}<p class=note>{html.escape(note)}</p>{tb.to_html(table)}")
    (rep.out / "tables.md").write_text("\n".join(md))
    (rep.out / "tables.html").write_text(page("archbench tables", "".join(htm)))


def page(title: str, body: str) -> str:
    return (f"<!doctype html><html><head><meta charset=utf-8><title>{html.escape(title)}</title>"
            f"<style>{CSS}</style></head><body>{body}</body></html>\n")


def write_index(rep: Report, dirs: list[str], images: dict[str, bytes]) -> None:
    parts = [f"<h1>archbench report</h1><p class=note>{html.escape(header(rep, dirs))} · "
             f"written {time.strftime('%Y-%m-%d %H:%M')} · files: results.csv, tables.md, figures/</p>"]
    for title, note, table in rep.sections:
        parts.append(f"{tb.heading_html(title)}<p class=note>{html.escape(note)}</p>{tb.to_html(table)}")
    if images:
        parts.append(tb.heading_html("Figures"))
    for name, data in images.items():
        b64 = base64.b64encode(data).decode()
        parts.append(f"{tb.heading_html(name.replace('_', ' '), 3)}<img alt='{html.escape(name)}' "
                     f"src='data:image/png;base64,{b64}'>")
    (rep.out / "index.html").write_text(page("archbench report", "".join(parts)))


def terminal_summary(rep: Report, dirs: list[str]) -> str:
    lines = [header(rep, dirs)]
    for title, note, table in rep.sections:
        if title.startswith("Skipped") or title.startswith("Runs not"):
            continue
        if title.startswith("Tuning"):
            lines += ["", title, note]
            continue
        keep = [c for c in table.columns if c in ("Source", "Arch", "Setting", "n", "Not averaged", "ms/step", "Params")
                or c.startswith(("test/", "delay"))]
        lines += ["", title, tb.to_markdown(table[keep])]
    lines += ["", f"report: {rep.out / 'index.html'}  (tables.md, results.csv, {len(rep.figures)} figures)",
              f"explorer: {rep.out / 'explore.html'}  (attention, positional encoding, hidden states, gradients)"]
    return "\n".join(lines)
