"""The scorecard: rows decided from records (better / worse / within δ / undecided, the candidate's control), and a
user's own architecture from its own folder through `make scorecard`, reusing the baselines' runs, its page
rendered in Chromium at a desktop and a phone width."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from studies import scorecard as S
from tests.conftest import ROOT
from tests.studies.test_pages_browser import driver  # noqa: F401 - the Chromium fixture

COPY = {"_target_": "tasks.copy_long.CopyLong", "n_test": 512, "n_memorize": 10}


def run(arch, seed, delay, acc, folder="long_range"):
    return {
        "arch": arch,
        "seed": seed,
        "status": "completed",
        "task": "copy_long",
        "metrics": {"test/acc": acc},
        "config": {"task": {**COPY, "delay": delay}, "seed": seed},
        "task_info": {"n_memorize": 10, "delay": delay},
    }


def rows_for(cand, base, delay="max"):
    q = S.Question("q", "copy", "claims", "long_range", "test/acc", 0.05, {"task.delay": delay})
    return S.row(q, "mine", cand, base)


def test_each_outcome_against_the_transformer_and_the_best_baseline():
    base = [run("transformer", s, 50, 0.60 + 0.01 * s) for s in range(5)]
    base += [run("lstm", s, 50, 0.80 + 0.01 * s) for s in range(5)]
    better = rows_for([run("mine", s, 50, 0.90 + 0.01 * s) for s in range(5)], base)
    assert better["comparisons"]["transformer"]["outcome"] == S.BETTER
    assert better["comparisons"]["best"]["against"] == "lstm" and better["comparisons"]["best"]["outcome"] == S.BETTER
    worse = rows_for([run("mine", s, 50, 0.30 + 0.01 * s) for s in range(5)], base)
    assert worse["comparisons"]["transformer"]["outcome"] == S.WORSE
    same = rows_for([run("mine", s, 50, 0.60 + 0.01 * s) for s in range(5)], base)
    assert same["comparisons"]["transformer"]["outcome"] == S.WITHIN
    noisy = rows_for([run("mine", s, 50, v) for s, v in enumerate((0.2, 0.9, 0.5))], base)
    assert noisy["comparisons"]["transformer"]["outcome"] == S.UNDECIDED
    assert (
        better["control"]["passed"]
        and not rows_for([run("mine", s, 50, 0.13) for s in range(3)], base)["control"]["passed"]
    )


def test_baselines_run_at_other_settings_are_shown_but_not_compared():
    """A baseline folder from another version of the preset (another step count): the row says which settings
    differ and decides nothing; at the same settings the same numbers are compared."""
    steps = lambda runs, n: [{**r, "config": {**r["config"], "trainer": {"max_steps": n}}} for r in runs]
    base = steps([run("transformer", s, 50, 0.60 + 0.01 * s) for s in range(5)], 400)
    cand = [run("mine", s, 50, 0.90 + 0.01 * s) for s in range(5)]
    same = rows_for(steps(cand, 400), base)
    assert same["comparisons"]["transformer"]["outcome"] == S.BETTER and "settings_differ" not in same
    other = rows_for(steps(cand, 1000), base)
    assert other["settings_differ"] == ["trainer.max_steps: baselines 400, candidate 1000"]
    t = other["comparisons"]["transformer"]
    assert t["outcome"] == S.UNDECIDED and t["p"] is None and "other settings" in t["why"]
    assert other["by_arch"]["mine"]["value"] == pytest.approx(0.92)  # the numbers stay on the page
    assert S.cell_text(t).endswith("(baselines at other settings)")
    longer = [{**r, "config": {**r["config"], "task": {**r["config"]["task"], "n_memorize": 20}}} for r in cand]
    assert rows_for(longer, [run("transformer", s, 50, 0.6) for s in range(5)])["settings_differ"] == [
        "task.n_memorize: baselines 10, candidate 20"
    ]
    # a file each run read (a fine-tune's tokenizer, from its own MLM run) is not a setting of the experiment
    tok = lambda runs, who: [
        {**r, "config": {**r["config"], "task": {**r["config"]["task"], "tokenizer": f"runs/{who}/{r['seed']}.json"}}}
        for r in runs
    ]
    assert "settings_differ" not in rows_for(tok(cand, "mine"), tok([run("transformer", 0, 50, 0.6)], "base"))


def test_the_cell_is_resolved_and_holm_demotes_a_marginal_row():
    base = [run("transformer", s, d, 0.9 if d == 5 else 0.5) for s in range(3) for d in (5, 50)]
    cand = [run("mine", s, d, 0.9 if d == 5 else 0.7) for s in range(3) for d in (5, 50)]
    short, long = rows_for(cand, base, "min"), rows_for(cand, base, "max")
    assert short["by_arch"]["mine"]["value"] == pytest.approx(0.9) and long["by_arch"]["mine"]["value"] == 0.7
    marginal = rows_for(
        [run("mine", s, 50, v) for s, v in enumerate((0.62, 0.75, 0.58, 0.7, 0.66))],
        [run("transformer", s, 50, v) for s, v in enumerate((0.5, 0.52, 0.48, 0.51, 0.49))],
    )
    assert marginal["comparisons"]["transformer"]["outcome"] == S.BETTER
    rows = [marginal] + [rows_for([run("mine", s, 50, 0.5) for s in range(2)], base) for _ in range(20)]
    S.correct(rows)
    assert rows[0]["comparisons"]["transformer"]["outcome"] == S.UNDECIDED
    assert "after correction" in rows[0]["comparisons"]["transformer"]["why"]


def test_a_bad_arch_name_or_config_folder_is_one_line(tmp_path, capsys):
    assert S.main(["--arch", "../x"]) == 2
    assert S.main(["--arch", "nosuch"]) == 2
    assert S.main(["--arch", "mixer", "--config-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 3 and all(e.startswith("error: ") for e in err)


# the baselines' other sweeps at the smoke preset (the transformer's runs there cost minutes): records written from
# the real long_range one, each with the settings its row's cell reads, so that every row has a baseline to read
STAND_INS = {
    ("claims", "seq_scaling"): [({"task.delay": d}, {"speed": {"train_tokens_per_s": 5000.0}}) for d in (32, 96)],
    ("claims", "images"): [({"task.train_fraction": f}, {"metrics": {"test/acc": 0.5}}) for f in (0.1, 1.0)],
    ("replications", "zoology_mqar/grid"): [({"task.n_pairs": 6}, {"metrics": {"test/acc": 0.3}})],
    ("replications", "selective_copy/grid"): [({}, {"metrics": {"test/acc": 0.2}})],
    ("replications", "repeat_after_me/grid"): [
        ({"task.n_memorize": n}, {"metrics": {"test/acc": 0.2}}) for n in (5, 40)
    ],
}


def stand_in_baselines(base, template: dict) -> None:
    for (source, sweep), cells in STAND_INS.items():
        for i, (settings, measured) in enumerate(cells):
            r = json.loads(json.dumps(template))
            for key, v in settings.items():
                node = r["config"]
                for part in key.split(".")[:-1]:
                    node = node.setdefault(part, {})
                node[key.split(".")[-1]] = v
            for k, v in measured.items():
                r[k] = {**(r.get(k) or {}), **v}
            folder = base / source / "smoke" / sweep / f"{i}_transformer"
            folder.mkdir(parents=True)
            r["run_dir"] = str(folder)
            (folder / "summary.json").write_text(json.dumps(r))


@pytest.fixture(scope="module")
def scorecard(tmp_path_factory):
    """examples/own_architecture copied outside the repository; a transformer baseline at the smoke preset's
    long_range cells (and stand-ins for its other sweeps, above), then `make scorecard` for the user's mixer with
    CONFIG_DIR over every question: the long_range rows read the baseline, C6's locality runs its missing
    baselines — the smoke preset's cnn at depth 5, the one-layer transformer — and the mixer at its own depth; the
    pre-training row's text is missing here (CLAIMS_TEXT names no folder), so it says so."""
    tmp = tmp_path_factory.mktemp("scorecard")
    shutil.copytree(ROOT / "examples" / "own_architecture", tmp / "proj")
    env = {
        **os.environ,
        "HF_DATASETS_OFFLINE": "1",
        "HF_HUB_OFFLINE": "1",
        "WANDB_MODE": "offline",
        "CLAIMS_TEXT": str(tmp / "no-text"),
    }
    base = tmp / "base" / "claims" / "smoke" / "long_range"
    subprocess.run(
        [
            sys.executable,
            str(ROOT / "run.py"),
            "-m",
            "experiment=long_range",
            "arch=transformer",
            "task.delay=5,20",
            "seed=1",
            "trainer.max_steps=20",  # the smoke preset's, so that the rows compare (same settings)
            "trainer.eval_every=10",
            "task.n_val=64",
            "task.n_test=64",
            "budget.params=20000",
            f"hydra.sweep.dir={base}",
            "hydra/launcher=basic",
        ],
        cwd=tmp,
        env=env,
        check=True,
        capture_output=True,
        timeout=600,
    )
    stand_in_baselines(tmp / "base", json.loads(next(base.rglob("summary.json")).read_text()))
    reused = lambda: sorted(p for p in (tmp / "base").rglob("summary.json") if "locality" not in str(p))
    before = reused()
    args = f"--baselines {tmp / 'base'} --out {tmp / 'out'}"
    out = subprocess.run(
        [
            "make",
            "-s",
            "-C",
            str(ROOT),
            "scorecard",
            "ARCH=mixer",
            f"CONFIG_DIR={tmp / 'proj' / 'myconf'}",
            "PRESET=smoke",
            f"SCORECARD_ARGS={args}",
        ],
        cwd=tmp,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return tmp, before, reused(), out.stdout


def test_make_scorecard_runs_a_users_arch_from_its_folder_and_reuses_the_baselines(scorecard):
    tmp, before, after, stdout = scorecard
    assert before == after and len(before) == 2 + sum(map(len, STAND_INS.values()))  # reused, not run again
    doc = json.loads((tmp / "out" / "report" / "scorecard.json").read_text())
    rows = {r["id"]: r for r in doc["rows"]}
    assert list(rows) == [q.id for q in S.QUESTIONS]  # every row, in order
    for i in ("copy-short", "copy-long", "locality", "throughput", "images", "recall", "selective-copy"):
        assert rows[i]["by_arch"]["mixer"]["n"] == 1 and rows[i]["by_arch"]["transformer"]["n"] == 1, i
        assert rows[i]["comparisons"]["transformer"]["against"] == "transformer", i
    assert "data folder is missing" in rows["pretraining"]["why"]
    # the real baseline ran the candidate's experiment; the stand-ins carry the copy task's settings, and say so
    assert all("settings_differ" not in rows[i] for i in ("copy-short", "copy-long", "locality"))
    assert all("task._target_" in " ".join(rows[i]["settings_differ"]) for i in ("images", "recall"))
    assert set(rows["locality"]["by_arch"]) == {"cnn", "transformer", "mixer"}
    mine = list((tmp / "out" / "claims" / "long_range").rglob("summary.json"))
    assert mine and all("arch=mixer" in str(p) for p in mine)
    # the candidate's locality run kept its own depth (2 in myconf/arch/mixer.yaml), not the cnn's 5
    (local,) = [json.loads(p.read_text()) for p in (tmp / "out" / "claims" / "locality").rglob("summary.json")]
    assert local["arch"] == "mixer" and local["config"]["arch"]["n_layers"] == 2
    assert local["config"]["budget"]["params"] == 20000
    assert "mixer against the transformer:" in stdout


@pytest.mark.browser
def test_the_scorecard_page_reads_at_desktop_and_phone_width(scorecard, driver):
    tmp = scorecard[0]
    page = (tmp / "out" / "report" / "scorecard.html").resolve().as_uri()
    for width in (1400, 390):
        driver.set_window_size(width, 1200)
        driver.get(page)
        rows = driver.execute_script("return document.querySelectorAll('table tr').length")
        overflow = driver.execute_script("return document.documentElement.scrollWidth - window.innerWidth")
        assert rows == len(S.QUESTIONS) + 1 and overflow <= 1, (width, rows, overflow)
        driver.save_screenshot(str(tmp / f"scorecard_{width}.png"))


def test_the_gradient_row_reads_c3s_measure_with_the_dilution_out():
    """``grad_at_source.early``: log10 of the gradient at the source times L, so a uniform-attention 1/L reads the
    same at every length; a vanishing candidate is *worse* than a baseline whose gradient reaches the source."""

    def grad(arch, seed, g):
        r = run(arch, seed, 50, 0.9)
        r["task_info"]["seq_len"] = 70
        r["long_range"] = {"distance": 60, "grad_norm_by_distance": {"distance": [1, 60], "early": [1.0, g]}}
        return r

    assert S.value(grad("mine", 0, 1 / 70), "grad_at_source.early") == pytest.approx(0.0)
    q = next(q for q in S.QUESTIONS if q.id == "gradient")
    base = [grad("transformer", s, (1 + 0.05 * s) / 70) for s in range(5)]
    cand = [grad("mine", s, (1e-3 + 1e-5 * s) / 70) for s in range(5)]
    out = S.row(q, "mine", cand, base)
    assert out["comparisons"]["transformer"]["outcome"] == S.WORSE and "control" not in out
    # a candidate whose receptive field misses the source (the example ConvMixer at delay 50, 2026-12-07): the
    # gradient there is exactly 0 — the row says so instead of "no completed runs"
    blind = S.row(q, "mine", [grad("mine", s, 0.0) for s in range(3)], base)
    assert "exactly 0 in all 3 mine runs" in blind["why"] and not blind["comparisons"]
    assert "no completed" in S.row(q, "mine", [], base)["why"]


def locality(arch, seed, delay, acc, layers):
    r = run(arch, seed, delay, acc)
    r["config"]["arch"] = {"n_layers": layers}
    return r


def test_the_locality_row_gives_each_baseline_depth_its_column_and_reads_the_longest_delay():
    """C6's locality: the cnn at depths 5 and 6 are two columns, the one-layer transformer keeps its name (the
    reference column), the candidate at its own depth is read at the longest delay."""
    q = next(q for q in S.QUESTIONS if q.id == "locality")
    assert q.sweep == "locality" and q.also == ("locality_attention",)
    base = [locality("cnn", s, d, 0.5 + 0.01 * s + (0.3 if d == 20 else 0), 5) for s in range(4) for d in (20, 50)]
    base += [locality("cnn", s, d, 0.8 + 0.01 * s, 6) for s in range(4) for d in (20, 50)]
    base += [locality("transformer", s, d, 0.7 + 0.01 * s, 1) for s in range(4) for d in (20, 50)]
    good = S.row(q, "mine", [locality("mine", s, d, 0.95 + 0.01 * s, 3) for s in range(4) for d in (20, 50)], base)
    assert set(good["by_arch"]) == {"cnn n_layers=5", "cnn n_layers=6", "transformer", "mine"}
    assert good["by_arch"]["cnn n_layers=5"]["value"] == pytest.approx(0.515)  # delay 50, not 20
    assert good["comparisons"]["transformer"]["outcome"] == S.BETTER
    assert (
        good["comparisons"]["best"]["against"] == "cnn n_layers=6"
        and good["comparisons"]["best"]["outcome"] == S.BETTER
    )
    bad = S.row(q, "mine", [locality("mine", s, 50, 0.2 + 0.01 * s, 3) for s in range(4)], base)
    assert bad["comparisons"]["transformer"]["outcome"] == S.WORSE and bad["comparisons"]["best"]["outcome"] == S.WORSE
    one_depth = [r for r in base if r["config"]["arch"]["n_layers"] != 6]  # one cnn depth: the column is "cnn"
    assert set(S.row(q, "mine", [], one_depth)["by_arch"]) == {"cnn", "transformer", "mine"}
    # the transformer at 1 and 2 layers (the full preset): the reference is its shallowest, as C6 reads it
    two = base + [locality("transformer", s, 50, 0.99, 2) for s in range(4)]
    split = S.row(q, "mine", [locality("mine", s, 50, 0.95 + 0.01 * s, 3) for s in range(4)], two)
    assert {"transformer n_layers=1", "transformer n_layers=2"} <= set(split["by_arch"])
    assert split["comparisons"]["transformer"]["against"] == "transformer n_layers=1"
    assert split["comparisons"]["transformer"]["outcome"] == S.BETTER


def test_the_candidate_runs_a_sweep_at_its_own_settings_not_the_baselines():
    """The locality sweeps set the cnn's depth (and the experiment sweeps arch.n_layers): the candidate gets
    neither, its other settings and the preset's seeds stay; a staged sweep's stages keep theirs."""
    sweep = {
        "experiment": "claims_locality",
        "overrides": {"arch": "transformer", "arch.n_layers": "5,6", "budget.params": 60000, "task.delay": "20,50"},
    }
    mine = S.with_arch(sweep, "mixer")
    over = mine["overrides"]
    assert over["arch"] == "mixer" and not any(k.startswith("arch.") for k in over)
    assert over["budget.params"] == 60000 and over["task.delay"] == "20,50"
    assert "hydra.sweeper.params" in over and over["hydra.sweeper.params"] is None and "seed" not in over
    assert "arch.n_layers" in sweep["overrides"]  # the baselines' sweep is left as it was
    staged = {
        "experiment": "pretrain_finetune",
        "overrides": {"arch": "cnn,transformer"},
        "stages": [{"stage": "finetune", "overrides": {"arch.kernel_size": 2, "init_weights": False}}],
    }
    mine = S.with_arch(staged, "mixer")
    assert mine["overrides"] == {"arch": "mixer"} and mine["stages"][0]["overrides"] == {"init_weights": False}


SENTIMENT = {"_target_": "tasks.sentiment.Sentiment", "n_test": 1000}


def finetune(arch, seed, acc, pretrained, fraction=0.1, steps=150):
    return {
        "arch": arch,
        "seed": seed,
        "status": "completed",
        "task": "sentiment",
        "metrics": {"test/acc": acc},
        "config": {
            "task": {**SENTIMENT, "train_fraction": fraction},
            "seed": seed,
            "init_weights": pretrained,
            "trainer": {"max_steps": steps},
        },
        "init": {"from": "runs/mlm"},
        "task_info": {"chance": 0.5},
    }


def gains(arch, gain, n=6, scratch=0.6):
    runs = []
    for s in range(n):
        jitter = 0.004 * ((s % 3) - 1)
        runs += [finetune(arch, s, scratch + jitter, False), finetune(arch, s, scratch + gain - jitter, True)]
        runs += [finetune(arch, s, 0.8, False, 1.0), finetune(arch, s, 0.8, True, 1.0)]  # all the labels: not read
    return runs


def test_the_pretraining_row_compares_the_gains_at_the_fewest_labels():
    """C8: each arch's number is pre-trained − scratch at 10% of the labels (C8's own cells: a compute-matched
    scratch run is never scratch); the candidate's gain against a baseline's is their difference."""
    q = next(q for q in S.QUESTIONS if q.id == "pretraining")
    base = gains("transformer", 0.05) + gains("lstm", 0.10)
    base += [finetune("transformer", s, 0.95, False, steps=550) for s in range(5)]  # compute-matched: own cell
    good = S.row(q, "mine", gains("mine", 0.20), base)
    assert good["by_arch"]["transformer"]["value"] == pytest.approx(0.05)
    assert good["by_arch"]["mine"]["value"] == pytest.approx(0.20)
    t = good["comparisons"]["transformer"]
    assert t["outcome"] == S.BETTER and t["estimate"]["value"] == pytest.approx(0.15)
    assert good["comparisons"]["best"]["against"] == "lstm" and good["comparisons"]["best"]["outcome"] == S.BETTER
    assert good["control"]["passed"]  # its pre-trained fine-tune beats chance (0.5)
    bad = S.row(q, "mine", gains("mine", -0.05), base)
    assert bad["comparisons"]["transformer"]["outcome"] == S.WORSE
    assert bad["comparisons"]["transformer"]["estimate"]["value"] == pytest.approx(-0.10)
    lost = S.row(q, "mine", gains("mine", -0.08, scratch=0.5), base)
    assert not lost["control"]["passed"]  # pre-trained at 0.42: it learned nothing
    half = S.row(q, "mine", [r for r in gains("mine", 0.2) if not r["config"]["init_weights"]], base)
    assert "both arms" in half["why"] and not half["comparisons"]


def test_a_question_the_preset_lacks_says_so(tmp_path, monkeypatch):
    """A row whose sweep the preset does not have is written with "not in this preset", never run or decided."""
    monkeypatch.setattr(S, "sweeps_of", lambda preset: {"claims": {"sweeps": {}}, "replications": {}})
    argv = ["--arch", "transformer", "--preset", "smoke", "--only", "locality,recall", "--out", str(tmp_path)]
    assert S.main([*argv, "--baselines", str(tmp_path / "base")]) == 0
    doc = json.loads((tmp_path / "report" / "scorecard.json").read_text())
    assert [r["id"] for r in doc["rows"]] == ["locality", "recall"]
    assert all(r["why"].startswith("not in this preset") and not r["comparisons"] for r in doc["rows"])
    assert "not in this preset" in (tmp_path / "report" / "scorecard.md").read_text()
