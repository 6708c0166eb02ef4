"""The pre-training report: gain = pre-trained − scratch per architecture and train fraction, paired by seed,
mean ± std; a figure; runs that only pre-train are left to the ordinary tables."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reports import build_report, pretraining
from reports.load import find_records, to_frame

# (arch, fraction, seed) → (scratch acc, pre-trained acc)
VALUES = {
    ("lstm", 0.1, 0): (0.60, 0.70),
    ("lstm", 0.1, 1): (0.62, 0.66),
    ("lstm", 1.0, 0): (0.70, 0.71),
    ("lstm", 1.0, 1): (0.72, 0.73),
    ("transformer", 0.1, 0): (0.55, 0.60),
    ("transformer", 0.1, 1): (0.57, 0.58),
}


def record(folder: Path, arch: str, seed: int, task: str, acc: float, fraction: float, loaded: list[str] | None):
    folder.mkdir(parents=True)
    init = (
        None
        if loaded is None
        else {"from": "/x", "loaded": loaded, "skipped": [], "source_task": "mlm", "source_arch": arch}
    )
    summary = {
        "status": "completed",
        "arch": arch,
        "task": task,
        "seed": seed,
        "params": 100,
        "step": 10,
        "metrics": {"test/acc": acc, "test/loss": 0.5},
        "speed": {"step_ms": 1.0},
        "task_info": {"main_metric": "acc", "train_fraction": fraction},
        "init": init,
        "config": {
            "seed": seed,
            "init_weights": bool(loaded),
            "init_from": f"/mlm/seed={seed}",
            "task": {"train_fraction": fraction, "tokenizer": f"/mlm/seed={seed}/tokenizer.json"},
        },
    }
    (folder / "summary.json").write_text(json.dumps(summary))


@pytest.fixture
def sweep(tmp_path) -> Path:
    root = tmp_path / "sweep"
    for (arch, fraction, seed), (scratch, pre) in VALUES.items():
        record(
            root / f"{arch}_{fraction}_{seed}_scratch",
            arch,
            seed,
            "sentiment",
            scratch,
            fraction,
            [] if arch == "lstm" else None,
        )  # a control with init_weights=false, or no init_from at all
        record(root / f"{arch}_{fraction}_{seed}_pre", arch, seed, "sentiment", pre, fraction, ["embed.emb.weight"])
        record(root / f"{arch}_mlm_{fraction}_{seed}", arch, seed, "mlm", 0.3, 1.0, None)
    return root


def test_gain_is_paired_by_seed(sweep):
    recs = find_records([sweep])
    g = pretraining.gains(pretraining.runs(to_frame(recs.runs), recs.runs))
    assert set(g["task"]) == {"sentiment"} and len(g) == 3
    row = g[(g["arch"] == "lstm") & (g["fraction"] == 0.1)].iloc[0]
    assert row["gain_mean"] == pytest.approx(0.07) and row["gain_std"] == pytest.approx(0.0424264, rel=1e-4)
    assert row["scratch_mean"] == pytest.approx(0.61) and row["n_pairs"] == 2 and row["pretrain"] == "mlm"
    full = g[(g["arch"] == "lstm") & (g["fraction"] == 1.0)].iloc[0]
    assert full["gain_mean"] == pytest.approx(0.01) and full["gain_std"] == pytest.approx(0.0, abs=1e-9)
    assert list(g["arch"]) == ["lstm", "lstm", "transformer"]


def test_report_shows_the_gain_table_and_figure(sweep, tmp_path):
    rep = build_report([sweep], tmp_path / "report")
    md = (tmp_path / "report" / "tables.md").read_text()
    assert "## sentiment: gain from pre-training" in md
    assert "| lstm | train_fraction=0.1 | mlm | 2/2 | 0.610 ± 0.014 | 0.680 ± 0.028 | +0.070 ± 0.042 |" in md
    assert "| transformer | train_fraction=0.1 | mlm | 2/2 | 0.560 ± 0.014 | 0.590 ± 0.014 | +0.030 ± 0.028 |" in md
    # each seed's own source run (init_from, its tokenizer.json) does not split the seeds apart
    assert "| lstm | init_weights=False, task.train_fraction=0.1 | 2 |" in md
    assert "pretraining_gain_sentiment" in rep.figures
    assert (tmp_path / "report" / "figures" / "pretraining_gain_sentiment.png").read_bytes()[:4] == b"\x89PNG"


def test_no_pretrained_runs_no_section(tmp_path):
    record(tmp_path / "r" / "a", "lstm", 0, "sentiment", 0.6, 1.0, None)
    recs = find_records([tmp_path / "r"])
    assert pretraining.sections(to_frame(recs.runs), recs.runs) == []
    assert pretraining.figures(to_frame(recs.runs), recs.runs) == {}


def test_fine_tunes_of_different_sources_are_different_settings(tmp_path):
    """init_from names each seed's own source run, so it is not the setting; the source's setting is: fine-tunes
    from sources of another setting (or budget) get their own rows, seeds of one source setting share one."""
    root = tmp_path / "r"
    for seed, source_setting, acc in [(0, "aaaa1111", 0.6), (1, "aaaa1111", 0.62), (0, "bbbb2222", 0.9)]:
        record(root / f"{source_setting}_{seed}", "lstm", seed, "sentiment", acc, 1.0, ["embed.emb.weight"])
        path = root / f"{source_setting}_{seed}" / "summary.json"
        s = json.loads(path.read_text())
        s["init"]["source_setting"] = source_setting
        path.write_text(json.dumps(s))
    rep = build_report([root], tmp_path / "report")
    from reports import tables

    rows = tables.summarize(rep.frame)
    assert sorted(zip(rows["setting"], rows["n"])) == [
        ("init.source_setting=aaaa1111", 2),
        ("init.source_setting=bbbb2222", 1),
    ]


def test_the_source_setting_ignores_seed_and_folder_only():
    from core.record import setting_id

    a = {"seed": 0, "run_dir": "/a", "logger": {"mode": "x"}, "trainer": {"max_steps": 100, "threads": 1}}
    assert setting_id(a) == setting_id({**a, "seed": 3, "run_dir": "/b", "logger": {"mode": "y"}})
    assert setting_id(a) != setting_id({**a, "trainer": {"max_steps": 200, "threads": 1}})  # the budget counts
