"""The claims report over hand-made run folders: claims.json lists C1…C10 with allowed verdicts, its figures
exist, the page and the Markdown are written; measures derived from attention.npz / hidden.npz."""

import json

import numpy as np
import pytest

from studies.claims import rules
from studies.claims.__main__ import main
from studies.claims.build import add_attention_measures, add_layer_measures, build_claims
from studies.claims.registry import CLAIMS
from tests.studies.test_claims_rules import grad_runs, long_range_runs, soft_maps


def write_runs(folder, runs):
    for i, r in enumerate(runs):
        d = folder / f"run{i}"
        d.mkdir(parents=True)
        r.setdefault("metrics", {})
        r.setdefault("speed", {})
        (d / "summary.json").write_text(json.dumps(r))


def test_report_lists_every_claim_with_allowed_verdicts_and_figures(tmp_path):
    runs = long_range_runs({"transformer": 200, "lstm": 50, "rnn": 10})
    curves = {
        (g["arch"], g["seed"], g["config"]["task"]["delay"]): g["long_range"]
        for g in grad_runs({"transformer": 0.0, "lstm": -0.5, "rnn": -0.5}, delays=(10, 50, 200))
    }
    for r in runs:
        r["long_range"] = curves[(r["arch"], r["seed"], r["config"]["task"]["delay"])]
    write_runs(tmp_path / "long_range", runs)
    (tmp_path / "long_range" / "junk").mkdir()
    (tmp_path / "long_range" / "junk" / "summary.json").write_text("{broken")
    doc = build_claims(tmp_path, preset="smoke")
    assert [c["id"] for c in doc["claims"]] == list(CLAIMS)
    assert all(c["verdict"] in rules.VERDICTS for c in doc["claims"])
    by = {c["id"]: c for c in doc["claims"]}
    assert by["C2"]["verdict"] == rules.SUPPORTED and "transformer 200" in by["C2"]["key"]
    assert by["C3"]["verdict"] == rules.SUPPORTED
    assert by["C1"]["verdict"] == rules.INCONCLUSIVE and by["C1"]["key"]  # no seq_scaling runs: says so
    assert any("bad JSON" in s for s in by["C2"]["skipped"])
    out = tmp_path / "report"
    for c in doc["claims"]:
        for f in c["figures"]:
            assert (out / f).stat().st_size > 1000
    assert by["C2"]["figures"] and by["C3"]["figures"]
    saved = json.loads((out / "claims.json").read_text())
    assert saved["preset"] == "smoke" and saved["device"] == ["cpu"]
    page = (out / "claims.html").read_text()
    assert "data:image/png;base64," in page and "C10" in page and "<script" not in page
    assert "| C2 | long-range dependencies are handled better | supported |" in (out / "claims.md").read_text()


def test_cli_refuses_a_missing_folder_with_one_line(tmp_path, capsys):
    assert main([str(tmp_path / "nope")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "is not a folder" in err[0]


def test_attention_measures_from_the_probe_file(tmp_path):
    delay, n = 4, 2
    L = delay + 2 * n
    aligned = np.full((L, L), 1.0 / L)
    for j in range(L - n, L):
        aligned[j] = 0
        aligned[j, j - delay - n] = 1
    layer = np.stack([aligned, np.full((L, L), 1.0 / L)]).astype(np.float16)  # (heads, L, L)
    np.savez(tmp_path / "attention.npz", tokens=np.arange(L), layer0=layer)
    np.savez(tmp_path / "attention_init.npz", tokens=np.arange(L), layer0=np.full((2, L, L), 1.0 / L))
    run = {"_dir": str(tmp_path), "task_info": {"delay": delay, "n_memorize": n}}
    add_attention_measures(run)
    att = run["long_range"]["attention"]
    assert att["alignment"] == 1.0 and att["alignment_chance"] == 1 / L
    assert att["head_diversity"] > 0.1 and att["head_diversity_baseline"] == pytest.approx(0.0, abs=1e-3)
    assert att["head_diversity_init"] == pytest.approx(0.0, abs=1e-3)


def test_head_diversity_baseline_is_the_init_maps_at_the_trained_entropy(tmp_path):
    init = [soft_maps(seed=0), soft_maps(seed=1)]  # two layers, four heads
    for name, layers in (("attention_init.npz", init), ("attention.npz", [rules.sharpened(m, 8.0) for m in init])):
        np.savez(tmp_path / name, **{f"layer{i}": m.astype(np.float16) for i, m in enumerate(layers)})
    run = {"_dir": str(tmp_path)}
    add_attention_measures(run)
    att = run["long_range"]["attention"]
    assert att["head_diversity"] > att["head_diversity_init"] + 0.2  # sharpened only: above the plain init value
    assert att["head_diversity"] < att["head_diversity_baseline"] + rules.DIVERSE_BY  # not above the matched one


def test_layer_measures_from_hidden_states(tmp_path):
    rng = np.random.default_rng(0)
    labels = np.array([0, 1] * 16)
    noise = rng.normal(size=(32, 5, 8))
    signal = labels[:, None, None] * np.ones((32, 5, 8))
    np.savez(
        tmp_path / "hidden.npz",
        labels=labels,
        pad=np.zeros((32, 5), bool),
        layer0=noise.astype(np.float16),
        layer1=(noise + signal).astype(np.float16),
        layer2=(noise * 0.1 + 3 * signal).astype(np.float16),
    )
    run = {"_dir": str(tmp_path)}
    add_layer_measures(run)
    probe, cka = run["long_range"]["layer_probe_acc"], run["long_range"]["cka_to_input"]
    assert probe[0] < 0.8 and probe[2] == 1.0
    assert cka[0] == pytest.approx(1.0) and cka[2] < cka[0]


def test_layer_measures_prefer_the_pooled_states(tmp_path):
    """pooled<i> (many validation sequences, pooled by the run) win over the probe batch's layer<i>; the label
    grows more readable layer by layer, and CKA is taken against the state named "input"."""
    rng = np.random.default_rng(0)
    labels = np.array([0, 1] * 100)
    noise = rng.normal(size=(200, 8))
    signal = (2 * labels[:, None] - 1) * np.ones((200, 8))
    pooled = {f"pooled{i}": (noise + s * signal).astype(np.float32) for i, s in enumerate([0.0, 0.15, 0.5, 3.0])}
    decoy = np.zeros((32, 5, 8), np.float16)
    decoy[1::2] = 1  # the probe batch alone would make layer 0 perfectly readable
    np.savez(
        tmp_path / "hidden.npz",
        labels=np.array([0, 1] * 16),
        pad=np.zeros((32, 5), bool),
        names=np.array(["input", "layers.0", "layers.1", "layers.2"]),
        pooled_labels=labels,
        **{f"layer{i}": decoy for i in range(4)},
        **pooled,
    )
    run = {"_dir": str(tmp_path)}
    add_layer_measures(run)
    probe, cka = run["long_range"]["layer_probe_acc"], run["long_range"]["cka_to_input"]
    assert len(probe) == len(cka) == 4
    assert probe[0] < 0.65 and probe[0] < probe[1] < probe[2] < probe[3] and probe[3] == 1.0
    assert cka[0] == pytest.approx(1.0) and cka[3] < cka[1] < cka[0]


def test_layer_measures_of_the_model_at_init_and_the_shuffled_label_control(tmp_path):
    rng = np.random.default_rng(0)
    labels = np.array([0, 1] * 100)
    noise = rng.normal(size=(200, 8))
    signal = (2 * labels[:, None] - 1) * np.ones((200, 8))
    trained = {f"pooled{i}": (noise + s * signal).astype(np.float32) for i, s in enumerate([0.0, 0.5, 3.0])}
    init = {f"pooled{i}": noise.astype(np.float32) + i for i in range(3)}
    np.savez(tmp_path / "hidden.npz", pooled_labels=labels, **trained)
    np.savez(tmp_path / "hidden_init.npz", pooled_labels=labels, **init)
    run = {"_dir": str(tmp_path)}
    add_layer_measures(run)
    lr = run["long_range"]
    assert lr["layer_probe_acc"][2] == 1.0 and max(lr["layer_probe_acc_init"]) < 0.65
    assert max(lr["layer_probe_acc_shuffled"]) < 0.65  # shuffled labels: nothing to read, even where acc is 1
    assert lr["cka_to_input_init"][2] == pytest.approx(1.0)


def test_layer_pooling_ignores_a_padding_mask_of_other_positions(tmp_path):
    """Older files of patched models: the token padding (N, L) does not match the states' positions (N, L')."""
    labels = np.array([0, 1] * 8)
    states = (
        np.repeat(labels[:, None, None], 3, 1) * np.ones((16, 3, 4))
        + np.random.default_rng(1).normal(size=(16, 3, 4)) * 0.01
    )
    np.savez(tmp_path / "hidden.npz", labels=labels, pad=np.zeros((16, 6), bool), layer0=states, layer1=states)
    run = {"_dir": str(tmp_path)}
    add_layer_measures(run)
    assert run["long_range"]["layer_probe_acc"] == [1.0, 1.0]


def test_setting_lists_budgets_and_flags_unequal_parameters(tmp_path):
    runs = long_range_runs({"transformer": 200, "lstm": 50, "rnn": 10})
    for r in runs:
        r["params"] = {"transformer": 60_000, "lstm": 61_000, "rnn": 80_000}[r["arch"]]
        r["config"]["optimizer"] = {"lr": {"transformer": 0.001, "lstm": 0.003, "rnn": 0.01}[r["arch"]]}
        r["config"]["trainer"] = {"max_steps": 600}
    write_runs(tmp_path / "long_range", runs)
    by = {c["id"]: c for c in build_claims(tmp_path)["claims"]}
    st = by["C2"]["setting"]
    assert st["seeds"] == [0, 1, 2] and st["by_arch"]["lstm"]["lr"] == [0.003]
    assert st["by_arch"]["rnn"]["params"] == "80,000–80,000" and st["by_arch"]["rnn"]["max_steps"] == [600]
    assert st["param_spread"] == pytest.approx(80 / 60, abs=1e-3) and st["equal_params"] is False
    assert any("more than 10%" in w for w in by["C2"]["caveats"])
    md = (tmp_path / "report" / "claims.md").read_text()
    assert "lstm: 61,000–61,000 params, lr 0.003, 600 steps, 9 runs" in md
    for r in runs:
        r["params"] = 60_000 + (r["arch"] == "rnn") * 5_000
    write_runs(tmp_path / "again" / "long_range", runs)
    c2 = {c["id"]: c for c in build_claims(tmp_path / "again")["claims"]}["C2"]
    assert c2["setting"]["equal_params"] is True and not any("10%" in w for w in c2["caveats"])


def test_the_lr_pre_sweep_is_not_evidence(tmp_path):
    write_runs(tmp_path / "long_range", long_range_runs({"transformer": 200, "lstm": 50, "rnn": 10}))
    write_runs(
        tmp_path / "long_range" / "lr",
        [{**r, "metrics": {"test/acc": 0.0}} for r in long_range_runs({"transformer": 10, "lstm": 10, "rnn": 10})],
    )
    c2 = {c["id"]: c for c in build_claims(tmp_path)["claims"]}["C2"]
    assert c2["verdict"] == rules.SUPPORTED and len(c2["runs"]) == 27
    assert not any("/lr/" in r for r in c2["runs"])


def test_figure_intervals_stay_within_an_accuracys_range():
    from studies import stats
    from studies.claims import figures

    e = stats.mean([0.2, 1.0, 1.0])  # the t-interval of 3 seeds reaches past 1 and below 0
    assert e.lo < 0 and e.hi > 1
    assert figures.interval(e, figures.UNIT) == (0.0, 1.0) and figures.interval(e) == (e.lo, e.hi)
    assert figures.interval(stats.Estimate(0.5, None, None, 1), figures.UNIT) == (0.5, 0.5)


def lr_folder(tmp_path):
    runs = long_range_runs({"transformer": 200, "lstm": 50, "rnn": 10})
    for r in runs:
        r["config"] = {
            "seed": r["seed"],
            "arch": {"name": r["arch"]},
            "task": (r.get("config") or {}).get("task"),
            "run_dir": None,
        }
    write_runs(tmp_path / "long_range", runs)
    return runs


def test_cli_refuses_an_empty_folder_or_one_too_deep_and_writes_nothing(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert main([str(tmp_path / "empty")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no run records under" in err[0]
    assert list((tmp_path / "empty").iterdir()) == []
    lr_folder(tmp_path / "claims")
    deep = tmp_path / "claims" / "long_range"
    assert main([str(deep)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no run records under" in err[0] and str(tmp_path / "claims") in err[0]
    assert not (deep / "report").exists()


def test_cli_refuses_an_out_that_is_a_file(tmp_path, capsys):
    lr_folder(tmp_path)
    (tmp_path / "f.txt").write_text("x")
    assert main([str(tmp_path), "--out", str(tmp_path / "f.txt")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "is a file" in err[0]
    assert (tmp_path / "f.txt").read_text() == "x"


def test_a_copied_run_counts_once_and_is_named(tmp_path):
    import shutil

    lr_folder(tmp_path)
    shutil.copytree(tmp_path / "long_range" / "run0", tmp_path / "long_range" / "run0_copy")
    shutil.copytree(tmp_path / "long_range" / "run0", tmp_path / "long_range" / "run0_copy2")
    doc = build_claims(tmp_path)
    by = {c["id"]: c for c in doc["claims"]}
    runs = by["C2"]["runs"]
    assert not any("copy" in r for r in runs)
    dup = [w for w in by["C2"]["caveats"] if "counted once" in w]
    assert len(dup) == 1 and "appears 3 times" in dup[0] and "run0_copy2" in dup[0]


def test_partial_run_warned_once_and_truncated_probe_files_skipped(tmp_path, caplog):
    lr_folder(tmp_path)
    (tmp_path / "long_range" / "partial").mkdir()
    (tmp_path / "long_range" / "partial" / "metrics.jsonl").write_text("")
    np.savez(tmp_path / "long_range" / "run0" / "attention.npz", layer0=np.ones((2, 4, 4)))
    whole = (tmp_path / "long_range" / "run0" / "attention.npz").read_bytes()
    (tmp_path / "long_range" / "run0" / "attention.npz").write_bytes(whole[: len(whole) // 2])
    (tmp_path / "long_range" / "run1" / "hidden.npz").write_bytes(b"PK\x03\x04 not a zip")
    with caplog.at_level("WARNING"):
        doc = build_claims(tmp_path)
    warned = [r.getMessage() for r in caplog.records]
    assert sum("partial run:" in w for w in warned) == 1  # C1, C2, C3, C6 all read long_range: one warning
    assert sum("attention.npz" in w and "unreadable probe file" in w for w in warned) == 1
    assert sum("hidden.npz" in w and "unreadable probe file" in w for w in warned) == 1
    by = {c["id"]: c for c in doc["claims"]}
    assert any(r.endswith("run0") for r in by["C2"]["runs"])  # the run stays; only its probe measures are left out


def test_markdown_table_is_generated_with_delta_and_each_claim_ends_with_its_command(tmp_path, capsys):
    lr_folder(tmp_path / "quick")
    assert main([str(tmp_path / "quick"), "--markdown-table"]) == 0
    out = capsys.readouterr().out
    assert "| id | claim | verdict | key number | δ | literature anchor | agrees? |" in out
    from studies.claims.registry import deltas

    d = deltas("quick")
    assert d and set(d) <= set(CLAIMS)
    row = next(line for line in out.splitlines() if line.startswith("| C2 |"))
    assert f"| {d['C2']:g} | Bai et al. 2018" in row  # C2's row carries the declared δ and its anchor
    verdict = row.split(" | ")[2]
    assert row.endswith(f"| {CLAIMS['C2'].agreement(verdict)} |")  # the agreement column follows the verdict
    assert main([str(tmp_path / "quick"), "--markdown-table", "--brief"]) == 0
    brief = capsys.readouterr().out
    assert "--brief`" in brief.splitlines()[0] and "| verdict | the number that decided it (cut) |" in brief
    row = next(line for line in brief.splitlines() if line.startswith("| C2 |"))
    assert row.startswith(f"| C2 | {CLAIMS['C2'].text} | {verdict} | ")
    assert row.endswith(f" | {CLAIMS['C2'].agreement(verdict)} |") and len(row.split(" | ")[3]) <= 111
    md = (tmp_path / "quick" / "report" / "claims.md").read_text()
    for cid in CLAIMS:
        section = md.split(f"## {cid}: ")[1].split("\n## ")[0]
        assert section.rstrip().endswith(f"`python -m studies.sweeps --preset quick --only {cid}`")
    assert deltas("no-such-preset") == deltas("quick") == {c.id: c.delta for c in CLAIMS.values()}


def test_the_declared_delta_reaches_the_rule_whatever_the_folder_is_called(tmp_path, monkeypatch):
    """δ comes from the declaration: a renamed claims folder (no preset of that name) uses the same δ, and the
    rule receives it (a declaration with δ = 0.3 turns a gap of 0.1 into 'not supported')."""
    import dataclasses

    from studies.claims import build, registry
    from tests.studies.test_claims_rules import pe_runs

    runs = pe_runs(0.5, 0.6, n=20, sd=0.001)  # a gap of 0.1: ≥ the declared 0.05
    write_runs(tmp_path / "renamed" / "positions", runs)
    c4 = {c["id"]: c for c in build_claims(tmp_path / "renamed")["claims"]}["C4"]
    assert c4["delta"] == CLAIMS["C4"].delta == 0.05 and c4["verdict"] == rules.SUPPORTED
    strict = {**CLAIMS, "C4": dataclasses.replace(CLAIMS["C4"], delta=0.3)}
    monkeypatch.setattr(registry, "CLAIMS", strict)
    monkeypatch.setattr(build, "CLAIMS", strict)
    c4 = {c["id"]: c for c in build_claims(tmp_path / "renamed")["claims"]}["C4"]
    assert c4["delta"] == 0.3 and "δ=0.3" in c4["rule"] and c4["verdict"] == rules.NOT_SUPPORTED


def test_every_rules_default_delta_is_its_declaration():
    """One source of δ: a rule called without δ (tests, notebooks) uses the value its declaration states."""
    import inspect

    for c in CLAIMS.values():
        assert inspect.signature(c.rule).parameters["delta"].default == c.delta, c.id


def test_the_report_reads_the_preset_from_the_drivers_marker_not_the_folder_name(tmp_path):
    from studies.protocol import write_marker

    write_runs(tmp_path / "my-copy" / "long_range", long_range_runs({"transformer": 200, "lstm": 50, "rnn": 10}))
    write_marker(tmp_path / "my-copy", "claims", "quick")
    doc = build_claims(tmp_path / "my-copy")
    assert (
        doc["preset"] == "quick" and doc["family"] == 26
    )  # the quick preset's declared family (C4: 2 tasks; C6: 2 parts × 2 delays; C8: 2)


def test_holm_across_the_claims_primary_tests():
    from studies.claims.build import correct_primary

    def claim(cid, p, outcome, verdict):
        return {
            "id": cid,
            "verdict": verdict,
            "condition": None,
            "key": "k",
            "caveats": [],
            "evidence": {"decision": {"p": p, "outcome": outcome, "why": "w"}},
        }

    claims = [
        claim("C4", 0.001, "supported", rules.SUPPORTED),
        claim("C5", 0.03, "supported", rules.SUPPORTED),
        claim("C9", 0.5, "not supported", rules.NOT_SUPPORTED),
        {"id": "C1", "verdict": rules.MIXED, "caveats": [], "evidence": {}},
    ]
    correct_primary(claims)
    by = {c["id"]: c for c in claims}
    assert by["C4"]["verdict"] == rules.SUPPORTED and by["C4"]["evidence"]["decision"]["p_holm"] == pytest.approx(0.003)
    assert by["C5"]["verdict"] == rules.INCONCLUSIVE and "Holm" in by["C5"]["key"]  # 2 × 0.03 = 0.06 ≥ 0.05
    # "not supported" is corrected too: its p (of an effect ≥ δ) of 0.5 cannot decide anything
    assert by["C9"]["verdict"] == rules.INCONCLUSIVE and "after correction" in by["C9"]["key"]
    assert by["C1"]["caveats"] == []  # no primary test recorded: not part of the family
    assert "primary tests (the tests found (the preset's size unknown): C4, C5, C9)" in by["C4"]["caveats"][0]
    # a family declared by the preset counts tests that were not measured: 0.001 × 10
    claims = [claim("C4", 0.001, "supported", rules.SUPPORTED)]
    correct_primary(claims, family=10)
    assert (
        claims[0]["evidence"]["decision"]["p_holm"] == pytest.approx(0.01)
        and "10 primary tests" in (claims[0]["caveats"][0])
    )


def test_holm_includes_each_part_of_a_claim_with_several_primary_tests():
    from studies.claims.build import correct_primary

    parts = {
        "lstm": {"p": 0.001, "outcome": "supported", "why": "w"},
        "rnn": {"p": 0.03, "outcome": "supported", "why": "w"},
    }
    claims = [
        {
            "id": "C2",
            "verdict": rules.SUPPORTED,
            "condition": None,
            "key": "k",
            "caveats": [],
            "evidence": {"decisions": parts},
        },
        {
            "id": "C4",
            "verdict": rules.SUPPORTED,
            "condition": None,
            "key": "k",
            "caveats": [],
            "evidence": {"decision": {"p": 0.03, "outcome": "supported", "why": "w"}},
        },
    ]
    correct_primary(claims)
    assert (
        parts["lstm"]["p_holm"] == pytest.approx(0.003)
        and "3 primary tests (the tests found (the preset's size unknown): C2 lstm, C2 rnn, C4)"
        in parts["lstm"]["corrected"]
    )
    assert claims[0]["verdict"] == rules.INCONCLUSIVE and "C2 rnn" in claims[0]["caveats"][1]  # 2 × 0.03 ≥ 0.05


def test_report_shows_the_lr_pre_sweep_and_settings_per_source_and_stage(tmp_path):
    write_runs(tmp_path / "long_range", long_range_runs({"transformer": 200, "lstm": 50, "rnn": 10}))
    (tmp_path / "long_range" / "lr_presweep.csv").write_text(
        "arch,task.delay,lr,metric,value,status,chosen\nlstm,10,0.001,val/loss,0.9,completed,0\n"
        "lstm,10,0.003,val/loss,0.4,completed,1\n"
    )
    ft = {"task": {"_target_": "tasks.sentiment.Sentiment"}}
    staged = [
        {
            "arch": a,
            "seed": s,
            "status": "completed",
            "task": "sentiment",
            "params": p,
            "metrics": {"test/acc": 0.7},
            "config": {**ft, "stage_name": stage},
        }
        for stage, by in (
            ("mlm", {"lstm": 90_000, "transformer": 60_000}),
            ("finetune", {"lstm": 61_000, "transformer": 60_000}),
        )
        for a, p in by.items()
        for s in range(2)
    ]
    write_runs(tmp_path / "pretrain_finetune", staged)
    by = {c["id"]: c for c in build_claims(tmp_path)["claims"]}
    md = (tmp_path / "report" / "claims.md").read_text()
    assert by["C2"]["lr_presweep"]["long_range"][1]["chosen"] == "1"
    assert "Learning-rate pre-sweep of `long_range`" in md
    assert "| lstm | 10 | 0.003 | val/loss | 0.4 | completed | 1 |" in md
    # the choice sits at the grid's largest lr: the best may lie outside, and the caveat says so
    assert [w for w in by["C2"]["caveats"] if "grid" in w] == [
        "long_range: lr 0.003 chosen at the largest value of the grid 0.001, 0.003 for 1 of 1 cells "
        "(lstm task.delay=10); the best lr may lie outside the grid"
    ]
    c8 = by["C8"]["setting"]["by_source"]
    assert set(c8) == {"pretrain_finetune/mlm", "pretrain_finetune/finetune"}
    assert c8["pretrain_finetune/mlm"]["equal_params"] is False and c8["pretrain_finetune/finetune"]["equal_params"]
    assert [w for w in by["C8"]["caveats"] if "more than 10%" in w] == [
        "parameter counts differ by more than 10% between archs in pretrain_finetune/mlm (largest/smallest median 1.5)"
    ]
    assert "[pretrain_finetune/mlm]" in md and "Learning-rate pre-sweep of <" not in md


def test_agreement_with_the_literature_anchor_follows_the_verdict():
    """agrees when the outcome is the one the anchor reports, differs otherwise, open when inconclusive."""
    from studies.claims import rules

    c4 = CLAIMS["C4"]  # Haviv et al. 2022: a causal LM learns order without positions (copy: not their test)
    assert c4.expects == rules.MIXED and "Haviv" in c4.anchor
    assert c4.agreement(rules.MIXED, "needed on copy only") == "agrees"
    assert c4.agreement(rules.MIXED, "needed on language modelling only") == "differs"
    assert c4.agreement(rules.SUPPORTED) == "differs"
    assert c4.agreement(rules.INCONCLUSIVE) == "open"
    assert all(c.anchor and c.expects in rules.VERDICTS for c in CLAIMS.values())
    c9 = CLAIMS["C9"]  # Jain & Wallace 2019: plausible, not faithful — a mixed verdict agrees only on that side
    assert c9.agreement(rules.MIXED, "aligned on copy, not faithful: no single head's removal matters") == "agrees"
    assert c9.agreement(rules.MIXED, "a head is needed, but its attention is not aligned") == "differs"


def test_no_grid_edge_caveat_when_the_chosen_lr_is_inside_the_grid():
    from studies.claims.build import lr_at_grid_edge

    rows = [
        {"arch": "lstm", "lr": lr, "metric": "val/loss", "value": v, "status": "completed", "chosen": c}
        for lr, v, c in (("0.001", "0.9", "0"), ("0.003", "0.4", "1"), ("0.01", "0.6", "0"))
    ]
    assert lr_at_grid_edge({"long_range": rows}) == []
    rows[1]["chosen"], rows[0]["chosen"] = "0", "1"
    assert lr_at_grid_edge({"long_range": rows}) == [
        "long_range: lr 0.001 chosen at the smallest value of the grid 0.001, 0.003, 0.01 for 1 of 1 cells (lstm); "
        "the best lr may lie outside the grid"
    ]


def test_an_inconclusive_key_also_names_the_decided_parts_after_the_holm_correction():
    from studies.claims.build import name_decided_parts

    est = lambda v, lo, hi: {"value": v, "ci95": [lo, hi], "n": 3}
    decisions = {
        "cnn": {"outcome": "not supported", "estimate": est(-0.058, -0.081, -0.036), "p": 0.002, "p_holm": 0.021},
        "gru": {"outcome": "supported", "estimate": est(0.031, 0.012, 0.05), "p": 0.019, "p_holm": 0.194},
        "vit": {"outcome": "supported", "estimate": est(0.2, 0.15, 0.25), "p": 0.001, "p_holm": 0.01},
        "lstm": {"outcome": "inconclusive", "estimate": est(0.001, -0.04, 0.04), "p": 0.9, "p_holm": 1.0},
    }
    claims = [
        {"id": "C8", "verdict": "inconclusive", "key": "underpowered: lstm", "evidence": {"decisions": decisions}},
        {"id": "C4", "verdict": "supported", "key": "k", "evidence": {"decisions": decisions}},
    ]
    name_decided_parts(claims)
    assert claims[0]["key"] == (
        "underpowered: lstm; decided parts: cnn not supported -0.058 [-0.081, -0.036], "
        "gru supported 0.031 [0.012, 0.050] before correction only (Holm p = 0.194), vit supported 0.200 [0.150, 0.250]"
    )
    assert claims[1]["key"] == "k"  # a decided verdict's key is its own


def test_a_claim_below_eighty_percent_power_says_at_which_n_it_would_be_decided(tmp_path):
    from studies.claims.build import add_power

    table = [
        {"claim": "C2", "n": 3, "literature": {"supported": 0.4}, "n_for_80": 8, "n_for_80_outcome": "supported"},
        {
            "claim": "C4",
            "n": 3,
            "literature": {"not supported": 0.9},
            "n_for_80": 3,
            "n_for_80_outcome": "not supported",
        },
    ]
    (tmp_path / "power.json").write_text(json.dumps(table))
    claims = [{"id": "C2", "caveats": []}, {"id": "C4", "caveats": []}]
    sweeps = {"a": {"claims": ["C2"]}, "b": {"claims": ["C4"], "overrides": {"seed": "1,2,3"}}}
    add_power(claims, {"seeds": "1,2,3", "sweeps": sweeps}, tmp_path / "power.json")
    assert claims[0]["caveats"] == [
        "power: 'supported' at the literature's effect comes out in 40% of simulated runs at 3 seeds; 80% needs "
        "n = 8 (decided at full with n = 8)"
    ]
    assert claims[1]["caveats"] == [] and claims[1]["power"]["rate"] == 0.9
    claims = [{"id": "C2", "caveats": []}, {"id": "C4", "caveats": []}]
    add_power(claims, {"seeds": "1,2,3,4,5", "sweeps": sweeps}, tmp_path / "power.json")  # C2 runs 5: not its table
    assert claims[0]["caveats"] == [] and "power" not in claims[0]
    assert claims[1]["power"]["seeds"] == 3  # C4's sweep runs its own 3 seeds: the table's n
    table[0] |= {"n_for_80": 3, "strong_effect": 0.1}  # 80% at 3 seeds only for twice δ: not "needs n = 3" at n = 3
    (tmp_path / "power.json").write_text(json.dumps(table))
    claims = [{"id": "C2", "caveats": []}]
    add_power(claims, {"seeds": "1,2,3", "sweeps": sweeps}, tmp_path / "power.json")
    assert claims[0]["caveats"] == [
        "power: 'supported' at the literature's effect comes out in 40% of simulated runs at 3 seeds; 80% needs "
        "n = 3 at an effect of 0.1 (twice δ where the literature's is smaller); at the literature's effect more than 3"
    ]


def test_a_failed_run_is_named_and_never_counted_among_the_runs(tmp_path):
    runs = long_range_runs({"transformer": 200, "lstm": 50, "rnn": 10})
    runs[0]["status"] = "failed"
    write_runs(tmp_path / "long_range", runs)
    c2 = {c["id"]: c for c in build_claims(tmp_path, preset="smoke")["claims"]}["C2"]
    assert len(c2["runs"]) == len(runs) - 1 and [u["status"] for u in c2["unfinished"]] == ["failed"]
    assert any("did not finish and are not counted" in w for w in c2["caveats"])
    md = (tmp_path / "report" / "claims.md").read_text()
    assert f"Runs: {len(runs) - 1} from long_range (1 more did not finish: not counted)" in md


def test_a_preset_given_as_a_path_is_not_read():
    from studies.claims.registry import preset_doc

    assert preset_doc("quick") and preset_doc("../claims/quick") is None and preset_doc("/etc/passwd") is None
