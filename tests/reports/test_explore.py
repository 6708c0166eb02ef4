"""explore.html's data: from real tiny runs (attention.npz, gradient by distance) and from probe files written by
hand in the agreed format (hidden.npz, seq2seq attention); missing or broken files leave a note, not a crash."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from core.similarity import linear_cka
from harness.train import train
from reports import build_report
from reports.explore import MAX_POS, attention_view, grad_views, hidden_view, load_npz, pe_view
from reports.load import find_records, to_frame
from tests.conftest import make_cfg
from tests.reports.fake_probes import write_hidden, write_seq2seq_attention


def page_data(report: Path) -> dict:
    text = (report / "explore.html").read_text()
    blob = re.search(r'<script type="application/json" id=explore-data>(.*?)</script>', text, re.S).group(1)
    return json.loads(blob)


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> Path:
    """Real 2-step runs: transformer (2 seeds) and lstm on copy_long."""
    root = tmp_path_factory.mktemp("explore_runs")
    for arch, seed in [("transformer", 0), ("transformer", 1), ("lstm", 0)]:
        train(
            make_cfg(
                root / f"{arch}_{seed}",
                f"arch={arch}",
                "task=copy_long",
                "task.delay=6",
                "task.n_memorize=2",
                f"seed={seed}",
                "trainer.max_steps=2",
            )
        )
    return root


def test_explorer_is_written_self_contained_from_real_runs(runs, tmp_path):
    build_report([runs], tmp_path)
    html = (tmp_path / "explore.html").read_text()
    assert "Plotly" in html and not re.search(r"<script[^>]+src=|<link[^>]+href=", html)  # nothing fetched
    data = page_data(tmp_path)
    labels = [r["label"] for r in data["runs"]]
    assert labels[:2] == ["copy_long / transformer, seed 0", "copy_long / transformer, seed 1"]  # attention first
    att = data["runs"][0]["attention"]
    with np.load(runs / "transformer_0" / "run" / "attention.npz") as z:
        assert len(att["layers"]) == 2 and np.allclose(
            att["layers"][1]["weights"], z["layer1"].astype(float), atol=1e-3
        )
        assert att["layers"][0]["query_text"] == [str(t) for t in z["tokens"]]  # ids until token_text exists
    assert "no attention maps" in data["runs"][2]["attention"]["note"]  # the lstm
    (grad,) = data["grad"]
    curves = {c["arch"]: c for c in grad["settings"][0]["curves"]}
    assert set(curves) == {"transformer", "lstm"} and curves["transformer"]["n"] == 2
    ends = [
        json.loads((runs / f"transformer_{s}" / "run" / "summary.json").read_text())["long_range"][
            "grad_norm_by_distance"
        ]["end"]
        for s in (0, 1)
    ]
    want = [(a + b) / 2 if a and b else None for a, b in zip(*ends)]
    got = curves["transformer"]["end"]
    assert all((w is None and g is None) or g == pytest.approx(w, rel=1e-3) for w, g in zip(want, got))


def test_gradient_curves_are_averaged_over_seeds_keeping_tiny_values(tmp_path):
    for seed, end in [(0, [1.0, 1e-9, None]), (1, [3.0, 2e-9, None])]:
        (tmp_path / str(seed)).mkdir()
        (tmp_path / str(seed) / "summary.json").write_text(
            json.dumps(
                {
                    "status": "completed",
                    "arch": "lstm",
                    "task": "copy_long",
                    "seed": seed,
                    "metrics": {},
                    "speed": {},
                    "long_range": {
                        "grad_norm_by_distance": {"distance": [0, 1, 2], "init": [1.0, 0.5, 0.25], "end": end}
                    },
                }
            )
        )
    records = find_records([tmp_path])
    (task,) = grad_views(to_frame(records.runs), {r["_dir"]: r for r in records.runs})
    (curve,) = task["settings"][0]["curves"]
    assert curve["n"] == 2 and curve["init"] == [1.0, 0.5, 0.25]
    assert curve["end"] == [2.0, 1.5e-9, None]  # significant digits, not decimals; no value stays missing


def test_hidden_states_view_from_a_hand_written_file(tmp_path):
    z = write_hidden(tmp_path, N=6, L=10, d=8, K=2)
    view = hidden_view(dict(np.load(tmp_path / "hidden.npz")))
    cka = np.array(view["cka"], dtype=float)
    assert view["names"] == ["embedding", "encoder.0", "encoder.1"]
    assert np.allclose(np.diag(cka), 1) and np.allclose(cka, cka.T)
    flat = [z[f"layer{i}"].astype(np.float64).reshape(6, -1) for i in range(3)]
    assert cka[0, 1] == pytest.approx(linear_cka(flat[0], flat[1]), abs=1e-3)  # the summary's measure
    real = int((~z["pad"]).sum())
    layer = view["layers"][2]
    assert len(layer["x"]) == len(layer["position"]) == len(layer["cls"]) == real  # padding left out
    first = [i for i, s in enumerate(layer["seq"]) if s == 1]
    assert [layer["position"][i] for i in first] == list(range(8))  # sequence 1 ends in 2 pads
    assert layer["cls"][first[0]] == int(z["labels"][1]) and layer["text"][first[0]] == str(z["token_text"][1, 0])
    assert sum(layer["explained"]) <= 1 + 1e-6


def test_per_position_labels_and_no_labels(tmp_path):
    z = write_hidden(tmp_path, labels="per_position")
    z["labels"][0, 1] = -100  # the ignore index: no class there
    layer = hidden_view(z)["layers"][0]
    assert layer["cls"][:3] == [int(z["labels"][0, 0]), None, int(z["labels"][0, 2])]
    del z["labels"]
    assert hidden_view(z)["layers"][0]["cls"] is None


def test_positional_encoding_table_and_its_absence(tmp_path):
    z = write_hidden(tmp_path, L=10, d=8)
    view = pe_view(z)
    assert len(view["table"]) == 10 and np.allclose(view["table"], z["pe"][:10], atol=1e-4)  # positions in use
    assert "first 10 of 40" in view["note"]
    assert "no positional-encoding table" in pe_view(write_hidden(tmp_path, pe=False))["note"]
    assert "no hidden.npz" in pe_view(None)["note"]


def test_seq2seq_attention_shows_source_and_target_tokens(tmp_path):
    write_seq2seq_attention(tmp_path)
    enc, dec, cross = attention_view(tmp_path)["layers"]
    assert enc["query_text"] == enc["key_text"] == ["the", "cat", "sat", "down", "."]
    assert dec["query_text"] == dec["key_text"] == ["<s>", "el", "gato", "se"]
    assert cross["query_text"] == ["<s>", "el", "gato", "se"] and cross["key_text"][1] == "cat"
    assert np.array(cross["weights"]).shape == (2, 4, 5)


def test_unnamed_seq2seq_layers_get_no_token_labels(tmp_path):
    z = write_seq2seq_attention(tmp_path)
    del z["names"]
    np.savez(tmp_path / "attention.npz", **z)  # the format before names: which layer is the decoder's is unknown
    assert all(l["query_text"] is None and l["key_text"] is None for l in attention_view(tmp_path, True)["layers"])
    assert attention_view(tmp_path, False)["layers"][0]["key_text"] == ["the", "cat", "sat", "down", "."]


def test_long_maps_are_cropped_with_a_note(tmp_path):
    L = MAX_POS + 7
    np.savez(tmp_path / "attention.npz", tokens=np.zeros(L, int), layer0=np.full((1, L, L), 1 / L, np.float16))
    view = attention_view(tmp_path)
    assert np.array(view["layers"][0]["weights"]).shape == (1, MAX_POS, MAX_POS)
    assert f"first {MAX_POS} positions of {L}" in view["note"]


def test_missing_and_broken_files_leave_notes(runs, tmp_path):
    (tmp_path / "hidden.npz").write_bytes(b"not a zip")
    (tmp_path / "attention.npz").write_bytes(b"not a zip")
    assert "unreadable" in hidden_view(load_npz(tmp_path / "hidden.npz"))["note"]
    assert "unreadable" in pe_view(load_npz(tmp_path / "hidden.npz"))["note"]
    assert "unreadable" in attention_view(tmp_path)["note"]
    assert "no hidden.npz" in hidden_view(None)["note"]
    frame = to_frame(find_records([runs]).runs)
    frame.loc[:, "status"] = "failed"
    assert grad_views(frame, {}) == []  # only completed runs are drawn


def test_explorer_of_no_runs_is_still_a_page(tmp_path):
    build_report([tmp_path / "nothing"], tmp_path / "report")
    assert page_data(tmp_path / "report") == {"runs": [], "left_out": 0, "grad": []}
