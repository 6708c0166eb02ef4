"""Records read (issue 33, cases 5, 9, 10): every summary.json is validated on read — the schema's keys and every
value's type — and a record that fails is skipped with one warning naming the field; a record's seed must be its
config's seed, and a run copied under another seed (metrics bit-identical) is counted once. Names from records
that become file names or figure labels go through one sanitiser (``core.names``).

Generated inputs (hypothesis, derandomised): a real record broken at any field with any hostile value, read by
``reports.load`` and the table code; hostile architecture and task names through ``python -m reports``, the claims
report and the replications report — never a traceback, every file inside the report folder."""

from __future__ import annotations

import copy
import json
import logging
from pathlib import Path

import numpy as np
import pytest
from hypothesis import Phase, given, settings
from hypothesis import strategies as st

from core.names import file_name, label
from reports import tables
from reports.__main__ import main as reports_main
from reports.load import find_records, to_frame

EXAMPLE = json.loads((Path(__file__).parent / "data" / "summary_v2.json").read_text())  # a real run's record

HOSTILE = st.one_of(
    st.none(),
    st.booleans(),
    st.sampled_from([float("nan"), float("inf"), -float("inf"), 1e308, -1e308, 2**70, -1, 0, "nan", "inf"]),
    st.sampled_from(["", "x", "<script>alert(1)</script>", "a/b", "../../etc", "$\\frac{a}{$", "é" * 80, "\x00"]),
    st.sampled_from([[], {}, [1, "a"], {"k": None}]),
)
NAMES = st.one_of(
    st.sampled_from(["team/tf", "x" * 60, "x" * 300, "$a$", "_hidden", "..", "a\\b", "<b>é</b>", "a\nb", "-rf"]),
    st.text(min_size=1, max_size=80),
)


def write(folder: Path, summary: dict) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "summary.json").write_text(json.dumps(summary))
    return folder


def run_of(seed: int, wall_s: float = 12.5, **changes) -> dict:
    s = copy.deepcopy(EXAMPLE)
    s.update(seed=seed, wall_s=wall_s, config={**s["config"], "seed": seed}, **changes)
    return s


def paths(d: dict, prefix: tuple = ()) -> list[tuple]:
    """Every key path of a nested dict (the places a record can be broken)."""
    out = []
    for k, v in d.items():
        out.append((*prefix, k))
        if isinstance(v, dict):
            out += paths(v, (*prefix, k))
    return out


PATHS = [p for p in paths(EXAMPLE) if p[0] != "config"]  # config: anything a user's setting holds, not typed


def test_the_example_record_is_read(tmp_path):
    rec = find_records([write(tmp_path / "a", EXAMPLE)])
    assert len(rec.runs) == 1 and rec.skipped == []


def test_a_record_relabelled_with_another_seed_is_skipped_naming_the_seed(tmp_path, caplog):
    """Case 5: copies of one run relabelled seed 1 and 2 (config seed still 0) are not three seeds."""
    for seed in (0, 1, 2):
        s = run_of(0)
        s["seed"] = seed  # the relabelling: config.seed stays 0
        write(tmp_path / f"s{seed}", s)
    with caplog.at_level(logging.WARNING, "reports"):
        rec = find_records([tmp_path])
    assert [r["seed"] for r in rec.runs] == [0]
    assert len(rec.skipped) == 2 and all("seed" in why and "config.seed is 0" in why for _, why in rec.skipped)
    assert sum("config.seed" in m for m in caplog.messages) == 2  # one warning each


def test_a_copy_relabelled_everywhere_is_counted_once(tmp_path):
    """Case 5, the careful forger: seed and config.seed both changed, metrics and wall time bit-identical."""
    for seed in (0, 1, 2):
        write(tmp_path / f"s{seed}", run_of(seed))
    rec = find_records([tmp_path])
    assert [r["seed"] for r in rec.runs] == [0]
    assert all("bit-identical" in why for _, why in rec.skipped) and len(rec.skipped) == 2
    row = tables.summarize(to_frame(rec.runs)).iloc[0]
    assert row["n"] == 1
    # real seeds (other metrics or another wall time) are all read
    write(tmp_path / "s1", run_of(1, wall_s=13.0))
    assert len(find_records([tmp_path]).runs) == 2


@pytest.mark.parametrize(
    "where, value, named",
    [
        (("seed",), "1", "seed"),
        (("params",), -3, "params"),
        (("metrics", "test/acc"), "high", "metrics.test/acc"),
        (("speed", "compiled"), "yes", "speed.compiled"),
        (("task_info", "directions", "acc"), "up", "task_info.directions.acc"),
        (("wall_s",), "nan", "wall_s"),
    ],
)
def test_a_record_of_wrong_types_is_skipped_naming_the_field(tmp_path, where, value, named):
    s = copy.deepcopy(EXAMPLE)
    node = s
    for k in where[:-1]:
        node = node[k]
    node[where[-1]] = value
    rec = find_records([write(tmp_path / "a", s)])
    assert rec.runs == [] and len(rec.skipped) == 1
    why = rec.skipped[0][1]
    assert f"({named}:" in why or why.endswith(f"wrong type for: {named})"), why


@settings(derandomize=True, max_examples=80, deadline=None)
@given(where=st.sampled_from(PATHS), value=HOSTILE, delete=st.booleans())
def test_any_field_broken_any_way_is_read_or_skipped_naming_it(tmp_path_factory, where, value, delete):
    """Generated: a real record with one field replaced by a hostile value (or removed) is either read — and
    the tables are made of it — or skipped with one line; never an exception."""
    s = copy.deepcopy(EXAMPLE)
    node = s
    for k in where[:-1]:
        node = node[k]
    if delete:
        del node[where[-1]]
    else:
        node[where[-1]] = value
    folder = write(tmp_path_factory.mktemp("r") / "run", s)
    rec = find_records([folder])
    assert len(rec.runs) + len(rec.skipped) == 1
    if rec.skipped:
        why = rec.skipped[0][1]
        assert "\n" not in why and len(why) < 400
        if where[-1] not in ("status", "arch", "task", "seed", "metrics", "speed", "record_version"):
            assert ".".join(map(str, where)) in why or ".".join(map(str, where[:-1])) in why, (where, why)
    else:
        frame = to_frame(rec.runs)
        tables.summarize(frame)
        tables.long_range(frame)


#: values a valid record may hold that a reader may not expect (the schema's non-finite strings, extremes)
ODD_VALUES = st.sampled_from(["nan", "inf", "-inf", 1e308, -1e308, 0, 0.0, 10**18, None])


def report_folder(root: Path, arch: str, task: str, odd=None) -> Path:
    """Four runs (two seeds × two delays) of ``arch`` on ``task`` with curves and attention maps: every figure;
    the second run's test accuracy, validation loss and step time are ``odd``."""
    for i, (seed, delay) in enumerate([(0, 10), (1, 10), (0, 20), (1, 20)]):
        s = run_of(seed, wall_s=10.0 + i, arch=arch, task=task)
        s["metrics"] = {**s["metrics"], "test/acc": 0.5 + 0.1 * i}
        if i == 1:
            s["metrics"].update({"test/acc": odd, "val/loss": odd})
            s["speed"] = {**s["speed"], "step_ms": odd}
        s["task_info"] = {**s["task_info"], "delay": delay, "seq_len": 32 * (1 + i // 2)}
        s["config"] = {**s["config"], "task": {**s["config"]["task"], "delay": delay}}
        folder = write(root / f"r{i}", s)
        lines = [{"step": k, "split": "val", "metrics": {"acc": 0.1 * k}} for k in (1, 2, 3)]
        (folder / "metrics.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
        length = delay + 2 * s["task_info"]["n_memorize"]  # as copy_long's maps are (the claims read them so)
        np.savez(folder / "attention.npz", layer0=np.full((2, length, length), 1 / length, dtype=np.float32))
    return root


@settings(
    derandomize=True,
    max_examples=4,
    deadline=None,
    phases=[Phase.generate],
)
@given(arch=NAMES, task=NAMES, odd=ODD_VALUES)
def test_hostile_names_go_through_every_report(tmp_path_factory, arch, task, odd):
    """Generated (cases 9, 10): any architecture and task name — ``team/tf``, 300 characters, ``$…$``, ``..``,
    control characters — and odd values a valid record may hold (``"nan"``, ``1e308``, null) give a whole
    report, its figures inside ``figures/``, and the claims and replications reports run on the folder without a
    traceback."""
    from studies.claims.__main__ import main as claims_main
    from studies.replications.__main__ import main as replications_main

    root = tmp_path_factory.mktemp("names")
    runs = root / "study"  # a claims folder: the runs in one of its sweep folders
    report_folder(runs / "long_range", arch, task, odd)
    out = root / "report"
    assert reports_main([str(runs), "--out", str(out)]) == 0
    made = [p for p in out.rglob("*") if p.is_file()]
    assert all(p.resolve().is_relative_to(out.resolve()) for p in made)
    pngs = [p for p in (out / "figures").iterdir()]
    assert len(pngs) >= 3 and all(p.suffix == ".png" and len(p.name.encode()) <= 255 for p in pngs)
    assert claims_main([str(runs), "--out", str(root / "claims")]) in (0, 1)
    assert replications_main([str(runs), "--out", str(root / "replications")]) == 0


@settings(derandomize=True, max_examples=300, deadline=None)
@given(NAMES)
def test_the_sanitiser_gives_one_safe_bounded_name(name):
    """One file-name component (no separator, not hidden, ≤ 120 ASCII characters) and one plain label (no
    mathtext, not hidden, ≤ 40 characters); two different names never give one file name of a changed name."""
    f = file_name(name)
    assert f and "/" not in f and "\\" not in f and not f.startswith((".", "-")) and len(f) <= 120 and f.isascii()
    assert f not in (".", "..") and "\x00" not in f
    shown = label(name)
    assert "$" not in shown.replace(r"\$", "") and not shown.startswith("_") and len(shown) <= 41
    assert all(c.isprintable() for c in shown)
    if f != name:
        assert file_name(name + "x") != f


def test_unfinished_runs_are_split_off_for_the_study_pages(tmp_path):
    """Case 3's report half: what a study page counts and what it names apart (studies.claims.build calls it)."""
    from reports.load import split_unfinished

    for seed, status in enumerate(["completed", "diverged", "failed", "interrupted"]):
        write(tmp_path / f"s{seed}", {**run_of(seed, wall_s=10.0 + seed), "status": status})
    done, unfinished = split_unfinished(find_records([tmp_path]).runs)
    assert [r["status"] for r in done] == ["completed", "diverged"]
    assert [r["status"] for r in unfinished] == ["failed", "interrupted"]
