"""``explore.html``: one self-contained interactive page (Plotly's JavaScript inlined, no network) to look
inside the models of a report's runs, written by ``python -m reports`` beside ``index.html``.

Per run (a selector; at most ``MAX_RUNS``, attention models first):

* attention maps of the fixed probe example per layer and head (``attention.npz``); hovering a cell shows the
  weight and the query and key tokens (source/target text for translation);
* the positional-encoding table added to the embeddings and the dot-product similarity of one position with
  all others (``hidden.npz``: ``pe``);
* hidden states layer by layer (``hidden.npz``): the linear CKA between every pair of layers, and a 2-D PCA of
  each layer's token states coloured by position or class, with a layer slider.

Across runs: the gradient norm at the input vs distance (``summary.json``: ``long_range.grad_norm_by_distance``),
per task and setting, architectures toggled. A missing file or key leaves its part out with a note.
"""

from __future__ import annotations

import html
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd

from core.record import ATTENTION_FILE, HIDDEN_FILE
from core.similarity import linear_cka
from reports.figures import archs, completed
from reports.load import read_npz
from reports.tables import arch_rank, natural, with_settings

MAX_RUNS = 24  # runs offered in the selector (a long sweep would make the page heavy)
MAX_POS = 128  # positions shown per axis of attention maps and of the positional-encoding table
MAX_POINTS = 1500  # token states per layer in the PCA
DIGITS = 4
SCRIPT = Path(__file__).with_name("explore.js")


def rounded(a: np.ndarray, digits: int = DIGITS) -> list:
    """A float array as nested lists, rounded (small JSON); non-finite values become None."""
    a = np.asarray(a, dtype=np.float64)
    out = np.round(a, digits).astype(object)
    out[~np.isfinite(a)] = None
    return out.tolist()


def significant(a: np.ndarray, digits: int = DIGITS) -> list:
    """A 1-D float array rounded to significant digits (gradient norms span many decades); NaN → None."""
    return [float(f"{v:.{digits}g}") if math.isfinite(v) else None for v in np.asarray(a, dtype=np.float64)]


def load_npz(path: Path) -> dict[str, np.ndarray] | None:
    if not path.exists():
        return None
    arrays = read_npz(path)
    return arrays if arrays is not None else {"_error": np.array("damaged (truncated, or not an .npz)")}


def layer_keys(z: dict) -> list[str]:
    return sorted((k for k in z if k.startswith("layer") and k[5:].isdigit()), key=lambda k: int(k[5:]))


def texts(z: dict, key: str, n: int) -> list[str] | None:
    """``z[key]`` as n display strings, or None when absent or of another length."""
    if key not in z or len(z[key]) != n:
        return None
    return [str(t) for t in z[key].tolist()]


# -- per run ----------------------------------------------------------------------------------------------
def attention_view(run_dir: Path, seq2seq: bool = False) -> dict:
    """Maps, layer names and the query/key token texts of ``attention.npz`` (or a note why there are none).
    Records written before layers had names label no seq2seq layer (which are the decoder's is unknown)."""
    z = load_npz(run_dir / ATTENTION_FILE)
    if z is None:
        return {"note": "no attention maps in this run (attention models on token tasks write attention.npz)"}
    if "_error" in z:
        return {"note": f"attention.npz unreadable: {z['_error']}"}
    keys = layer_keys(z)
    names = texts(z, "names", len(keys))
    if names is None and seq2seq:
        z = {k: v for k, v in z.items() if not k.endswith(("text", "tokens"))}
    names = names or [f"layer {i}" for i in range(len(keys))]
    layers = []
    for key, name in zip(keys, names):
        w = z[key].astype(np.float32)[:, :MAX_POS, :MAX_POS]  # (heads, L, S)
        _, L, S = w.shape
        if "cross" in name:  # decoder queries over the source
            q, k = texts(z, "tgt_text", L) or [], texts(z, "src_text", S) or []
        elif name.startswith("decoder"):
            q = k = texts(z, "tgt_text", L) or []
        else:
            q = texts(z, "src_text", L) or texts(z, "token_text", L) or texts(z, "tokens", L) or []
            k = texts(z, "src_text", S) or texts(z, "token_text", S) or texts(z, "tokens", S) or []
        layers.append(
            {
                "name": name,
                "weights": rounded(w, 3),
                "query_text": q[:L] if q else None,
                "key_text": k[:S] if k else None,
            }
        )
    if not layers:
        return {"note": "attention.npz holds no layer maps"}
    full = z[keys[0]].shape[1:]
    crop = f"first {MAX_POS} positions of {full[0]}" if max(full) > MAX_POS else ""
    return {"layers": layers, "note": crop}


def pe_view(z: dict | None) -> dict:
    if z is None:
        return {"note": "no hidden.npz in this run"}
    if "_error" in z:
        return {"note": f"hidden.npz unreadable: {z['_error']}"}
    if "pe" not in z:
        return {
            "note": "this model adds no positional-encoding table to its embeddings "
            "(pos_encoding=none, or a recurrent or convolutional model)"
        }
    pe = z["pe"].astype(np.float32)
    P = pe.shape[0]
    if "layer0" in z:
        P = min(P, z["layer0"].shape[1])  # the positions this run's sequences use
    P = min(P, MAX_POS)
    return {"table": rounded(pe[:P]), "note": f"first {P} of {pe.shape[0]} positions" if P < pe.shape[0] else ""}


def tokens_of_layer(z: dict, x: np.ndarray) -> tuple[np.ndarray, dict]:
    """The (n, d) token states of one layer (padding left out when the layer keeps the input's positions) and
    per point: sequence, position, token text, class."""
    N, L = x.shape[:2]
    pad = z.get("pad")
    keep = ~pad.astype(bool) if pad is not None and pad.shape == (N, L) else np.ones((N, L), bool)
    seq, pos = np.nonzero(keep)
    text = z.get("token_text")
    labels = z.get("labels")
    cls = None
    if labels is not None and labels.shape == (N,):
        cls = labels[seq]
    elif labels is not None and labels.shape == (N, L):
        cls = labels[seq, pos]
    meta = {
        "seq": seq,
        "pos": pos,
        "text": text[seq, pos].astype(str) if text is not None and text.shape == (N, L) else None,
        "cls": cls,
    }
    return x[seq, pos].astype(np.float64), meta


def pca2(x: np.ndarray) -> tuple[np.ndarray, list[float]]:
    from sklearn.decomposition import PCA

    n_comp = min(2, *x.shape)
    pca = PCA(n_components=n_comp).fit(x)
    xy = pca.transform(x)
    if n_comp < 2:
        xy = np.concatenate([xy, np.zeros((len(xy), 2 - n_comp))], axis=1)
    return xy, [float(v) for v in pca.explained_variance_ratio_] + [0.0] * (2 - n_comp)


def hidden_view(z: dict | None) -> dict:
    """CKA between every pair of layers (one sequence = one example, as the summary's ``cka``) and a 2-D PCA
    of each layer's token states."""
    if z is None:
        return {"note": "no hidden.npz in this run (the end-of-run probes of token tasks write it)"}
    if "_error" in z:
        return {"note": f"hidden.npz unreadable: {z['_error']}"}
    keys = layer_keys(z)
    if not keys:
        return {"note": "hidden.npz holds no layer states"}
    names = texts(z, "names", len(keys)) or [f"layer {i}" for i in range(len(keys))]
    flat = [z[k].astype(np.float64).reshape(len(z[k]), -1) for k in keys]
    cka = [[linear_cka(a, b) for b in flat] for a in flat]
    layers = []
    for key in keys:
        x, meta = tokens_of_layer(z, z[key])
        x, meta = x[:MAX_POINTS], {k: (v[:MAX_POINTS] if v is not None else None) for k, v in meta.items()}
        xy, ratio = pca2(x)
        layers.append(
            {
                "x": rounded(xy[:, 0], 3),
                "y": rounded(xy[:, 1], 3),
                "explained": rounded(ratio, 3),
                "position": meta["pos"].tolist(),
                "seq": meta["seq"].tolist(),
                "text": meta["text"].tolist() if meta["text"] is not None else None,
                "cls": None
                if meta["cls"] is None
                # a negative label is the ignore index
                else [int(c) if c >= 0 else None for c in meta["cls"]],
            }
        )
    return {"names": names, "cka": rounded(np.array(cka), 3), "layers": layers}


def run_label(r: pd.Series) -> str:
    setting = f", {r['setting']}" if r.get("setting") else ""
    return f"{r['task']} / {r['arch']}{setting}, seed {r['seed']}"


def run_views(df: pd.DataFrame) -> tuple[list[dict], int]:
    """The per-run views of (at most MAX_RUNS) completed runs, those with attention maps first; and how many
    runs were left out."""
    runs = with_settings(completed(df))
    if runs.empty:
        return [], 0
    runs = runs.assign(
        _attn=[not (Path(p) / ATTENTION_FILE).exists() for p in runs["path"]],
        _hidden=[not (Path(p) / HIDDEN_FILE).exists() for p in runs["path"]],
        _arch=[arch_rank(a) for a in runs["arch"]],
        _set=[natural(s) for s in runs["setting"]],
    )
    runs = runs.sort_values(["_attn", "_hidden", "task", "_arch", "_set", "seed"])
    views = []
    for _, r in runs.head(MAX_RUNS).iterrows():
        run_dir = Path(r["path"])
        hidden = load_npz(run_dir / HIDDEN_FILE)
        seq2seq = r.get("task_info.spec.output_kind") == "sequence"
        views.append(
            {
                "label": run_label(r),
                "path": str(run_dir),
                "attention": attention_view(run_dir, seq2seq),
                "pe": pe_view(hidden),
                "hidden": hidden_view(hidden),
            }
        )
    return views, max(0, len(runs) - MAX_RUNS)


# -- across runs ------------------------------------------------------------------------------------------
def mean_over_runs(rows: list[list[float]]) -> np.ndarray:
    """Column means over the runs' curves, leaving out NaN (a distance no run measured stays NaN)."""
    a = np.array(rows, dtype=np.float64)
    ok = np.isfinite(a)
    return np.where(ok.any(0), np.where(ok, a, 0).sum(0) / np.maximum(ok.sum(0), 1), np.nan)


def grad_views(df: pd.DataFrame, runs_by_path: dict[str, dict]) -> list[dict]:
    """Per task and setting: each arch's gradient norm by distance at init and at the end (mean over seeds)."""
    out = []
    runs = with_settings(completed(df))
    for task, g in runs.groupby("task"):
        settings = []
        for setting in sorted(g["setting"].unique(), key=natural):
            curves = []
            part = g[g["setting"] == setting]
            for arch in archs(part):
                per_run = [
                    (runs_by_path[p].get("long_range") or {}).get("grad_norm_by_distance") or {}
                    for p in part.loc[part["arch"] == arch, "path"]
                ]
                per_run = [c for c in per_run if c.get("distance")]
                if not per_run:
                    continue
                curve = {"arch": arch, "distance": per_run[0]["distance"], "n": len(per_run)}
                for when in ("init", "end"):
                    rows = [
                        [
                            v if isinstance(v, (int, float)) and math.isfinite(v) and v > 0 else np.nan
                            for v in (c.get(when) or [])
                        ]
                        for c in per_run
                        if c.get(when)
                    ]
                    rows = [r for r in rows if len(r) == len(curve["distance"])]
                    curve[when] = significant(mean_over_runs(rows)) if rows else None
                curves.append(curve)
            if curves:
                settings.append({"name": setting or "all runs", "curves": curves})
        if settings:
            out.append({"task": task, "settings": settings})
    return out


# -- the page ---------------------------------------------------------------------------------------------
def explorer_data(df: pd.DataFrame, runs: list[dict]) -> dict:
    if not len(df):
        return {"runs": [], "left_out": 0, "grad": []}
    views, left_out = run_views(df)
    return {"runs": views, "left_out": left_out, "grad": grad_views(df, {r["_dir"]: r for r in runs})}


def page(data: dict, title: str, css: str) -> str:
    from plotly.offline import get_plotlyjs

    # every "<" as \u003c (valid JSON, same string): no "</script>" or "<!--<script>" in a label can end or
    # swallow the script element
    blob = json.dumps(data, separators=(",", ":"), allow_nan=False).replace("<", "\\u003c")
    body = f"""<h1>{html.escape(title)}</h1>
<p class=note>Inside the models of this report's runs: attention, positional encoding, hidden states, gradients.
Plots are interactive (hover, zoom; double-click resets). Data: each run folder's attention.npz, hidden.npz and
summary.json.</p>
<div class=bar><label>Run <select id=run></select></label> <span id=run-note class=note></span></div>
<h2>Attention maps</h2>
<div class=controls><label>Layer <select id=layer></select></label> <label>Head <select id=head></select></label></div>
<p id=attn-note class=note></p><div id=attn class=plot></div>
<h2>Positional encoding</h2>
<p id=pe-note class=note></p>
<div class=row><div id=pe class=plot></div><div><div class=controls><label>Position
<input id=pe-pos type=range min=0 max=0 value=0> <span id=pe-pos-value></span></label></div>
<div id=pe-sim class=plot></div></div></div>
<h2>Hidden states layer by layer</h2>
<p id=hidden-note class=note></p>
<div class=row><div id=cka class=plot></div><div><div class=controls><label>Layer
<input id=pca-layer type=range min=0 max=0 value=0> <span id=pca-layer-value></span></label>
<label>Colour by <select id=pca-colour><option value=position>position</option><option value=cls>class</option>
</select></label></div><div id=pca class=plot></div></div></div>
<h2>Gradient norm vs distance</h2>
<p class=note>‖∂L_out/∂e_t‖ at the input embedding vs the distance from the output position, at initialisation
(dashed) and at the end (solid); mean over seeds. Tick an architecture to show or hide it.</p>
<div class=controls><label>Task and setting <select id=grad-set></select></label> <span id=grad-archs></span></div>
<p id=grad-note class=note></p><div id=grad class=plot></div>
<script type="application/json" id=explore-data>{blob}</script>
<script>{get_plotlyjs()}</script>
<script>{SCRIPT.read_text()}</script>"""
    style = (
        css
        + """
.bar{position:sticky;top:0;background:#fff;padding:.5em 0;border-bottom:1px solid #ddd;z-index:10}
.controls{margin:.4em 0} .controls label{margin-right:1.2em} .plot{min-height:80px}
.row{display:flex;gap:1em;flex-wrap:wrap} .row>div{flex:1 1 560px} select{max-width:40em}"""
    )
    return (
        f"<!doctype html><html><head><meta charset=utf-8><title>{html.escape(title)}</title>"
        f"<style>{style}</style></head><body>{body}</body></html>\n"
    )


def write_explorer(out: Path, df: pd.DataFrame, runs: list[dict], css: str) -> Path:
    path = Path(out) / "explore.html"
    path.write_text(page(explorer_data(df, runs), "archbench explorer", css))
    return path
