"""Replications: every rule outcome on hand-made records, every replication's presets composing with the cells
its rule reads, and the report (json, markdown, self-contained page with a figure) over run folders."""

import json
import math

import pytest
import yaml
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from studies import replicate, sweeps
from studies.replications import rules as R
from studies.replications.__main__ import main as report_main
from studies.replications.build import build_replications
from tests.conftest import CONF


def rec(arch, seed, value, metric="test/acc", status="completed", **config):
    """A run record: ``config`` like ``arch__n_heads=8`` (dotted paths of the resolved config)."""
    r = {
        "arch": arch,
        "task": config.pop("task", "copy_long"),
        "seed": seed,
        "status": status,
        "speed": {},
        "metrics": {metric: value},
        "config": {},
        "task_info": {"directions": {"acc": "max", "loss": "min"}},
    }
    for key, v in config.items():
        put(r["config"], key.split("__"), v)
    return r


def put(node: dict, parts: list[str], value) -> None:
    for p in parts[:-1]:
        node = node.setdefault(p, {})
    node[parts[-1]] = value


def runs_of(values_a, values_b, metric="test/acc"):
    return [rec("transformer", s, v, metric) for s, v in enumerate(values_a)] + [
        rec("lstm", s, v, metric) for s, v in enumerate(values_b)
    ]


def comparison(expect, delta=0.1, metric="test/acc"):
    return {
        "label": "t − l",
        "metric": metric,
        "expect": expect,
        "delta": delta,
        "a": {"where": {"arch": "transformer"}},
        "b": {"where": {"arch": "lstm"}},
    }


@pytest.mark.parametrize(
    "a, b, outcome",
    [
        ([0.90, 0.92, 0.91], [0.30, 0.32, 0.31], R.REPRODUCED),  # clearly better, by more than δ
        ([0.31, 0.30, 0.32], [0.30, 0.32, 0.31], R.NOT_REPRODUCED),  # no advantage: the CI excludes δ
        ([0.20, 0.90, 0.50], [0.30, 0.32, 0.31], R.INCONCLUSIVE),  # too noisy to tell
        ([0.90, 0.92], [0.30, 0.32], R.INCONCLUSIVE),  # fewer than 3 seeds
    ],
)
def test_better_reaches_each_outcome(a, b, outcome):
    got = R.compare(runs_of(a, b), comparison("better"))
    assert got["outcome"] == outcome, got["why"]
    if len(a) < R.MIN_SEEDS:
        assert "fewer than 3 seeds" in got["why"]


def test_better_follows_a_metric_that_is_lower_is_better():
    runs = runs_of([0.5, 0.52, 0.51], [1.5, 1.52, 1.49], metric="test/loss")
    got = R.compare(runs, comparison("better", metric="test/loss"))
    assert got["outcome"] == R.REPRODUCED and got["difference"]["value"] == pytest.approx(0.99, abs=0.01)
    flipped = R.compare(
        runs_of([1.5, 1.52, 1.49], [0.5, 0.52, 0.51], metric="test/loss"), comparison("better", metric="test/loss")
    )
    assert flipped["outcome"] == R.NOT_REPRODUCED


@pytest.mark.parametrize(
    "a, b, outcome",
    [
        ([1.00, 1.01, 1.02], [1.01, 1.00, 1.02], R.REPRODUCED),  # within ±δ
        ([1.50, 1.51, 1.52], [1.00, 1.01, 1.02], R.NOT_REPRODUCED),  # wholly outside ±δ
        ([1.00, 1.30, 1.10], [1.00, 1.01, 1.02], R.INCONCLUSIVE),  # straddles δ
    ],
)
def test_close_reaches_each_outcome(a, b, outcome):
    got = R.compare(runs_of(a, b, "test/loss"), comparison("close", metric="test/loss"))
    assert got["outcome"] == outcome, got["why"]


def test_a_duplicate_seed_is_one_replicate_and_failed_runs_do_not_count():
    runs = runs_of([0.9, 0.91, 0.92], [0.3, 0.31, 0.32])
    runs += [rec("transformer", 0, 0.95), rec("lstm", 5, 0.99, status="failed")]
    got = R.compare(runs, comparison("better"))
    assert got["a"]["n"] == 3 and got["b"]["n"] == 3 and got["outcome"] == R.REPRODUCED


def test_at_most_keeps_the_runs_within_a_bound_and_a_side_may_read_another_metric():
    runs = [rec("lstm", s, 0.12) for s in range(3)] + [rec("lstm", s + 3, 0.9) for s in range(3)]
    for r in runs:
        r["metrics"].update(
            {"test/loss": 0.175 if r["metrics"]["test/acc"] < 0.5 else 0.01, "test/baseline_loss": 0.173}
        )
    c = {
        "metric": "test/loss",
        "expect": "close",
        "delta": 0.02,
        "a": {"where": {}, "at_most": {"test/acc": 0.3}},
        "b": {"where": {}, "at_most": {"test/acc": 0.3}, "metric": "test/baseline_loss"},
    }
    got = R.compare(runs, c)  # the three runs that learned are left out
    assert got["a"]["n"] == got["b"]["n"] == 3 and got["a"]["mean"] == pytest.approx(0.175)
    assert got["b"]["mean"] == pytest.approx(0.173) and got["outcome"] == R.REPRODUCED
    unlearned = [r for r in runs if r["metrics"]["test/acc"] < 0.5]
    for r, loss in zip(unlearned, (0.17, 0.25, 0.18)):
        r["metrics"]["test/loss"] = loss
    assert R.compare(runs, c)["outcome"] == R.INCONCLUSIVE
    for r, loss in zip(unlearned, (0.30, 0.31, 0.32)):
        r["metrics"]["test/loss"] = loss
    assert R.compare(runs, c)["outcome"] == R.NOT_REPRODUCED


def test_a_replication_combines_its_comparisons():
    runs = runs_of([0.9, 0.91, 0.92], [0.3, 0.31, 0.32])
    good, bad, unsure = comparison("better"), comparison("better", delta=0.9), comparison("close", delta=0.6)
    assert R.judge(runs, {"comparisons": [good, good]})["outcome"] == R.REPRODUCED
    assert R.judge(runs, {"comparisons": [good, bad]})["outcome"] == R.NOT_REPRODUCED
    assert R.judge(runs, {"comparisons": [good, unsure]})["outcome"] == R.INCONCLUSIVE
    with pytest.raises(ValueError, match="expect"):
        R.compare(runs, comparison("bigger"))


# -- the replications as configured ---------------------------------------------------------------------------
SPECS = replicate.load()


def test_every_replication_says_what_it_replicates():
    assert len(SPECS) >= 8
    for name, spec in SPECS.items():
        assert spec["paper"] and spec["published"]["result"] and spec["published"]["where"], name
        assert spec["setting"] and spec["differs"] and spec["rule"]["comparisons"], name
        assert set(spec["presets"]) == set(replicate.PRESETS), name
        assert len(str(spec["presets"]["quick"]["seeds"]).split(",")) >= R.MIN_SEEDS, name
        for c in spec["rule"]["comparisons"]:
            assert c["expect"] in R.EXPECTS and float(c["delta"]) > 0, name


@pytest.mark.parametrize("preset_name", ["smoke", "quick", "full"])
@pytest.mark.parametrize("name", sorted(SPECS))
def test_every_sweep_composes_before_it_sweeps(name, preset_name):
    """Hydra's multirun first composes the config without the swept (comma) settings: it must compose alone."""
    preset = replicate.sweeps_preset(SPECS[name], preset_name)
    for sweep in preset["sweeps"].values():
        fixed = [o for o in sweeps.overrides_of(preset, sweep) if "," not in o.split("=", 1)[1]]
        with initialize_config_dir(config_dir=CONF, version_base="1.3"):
            compose(config_name="config", overrides=[f"experiment={sweep['experiment']}", *fixed])


def composed(sweep: dict, preset: dict, pick: dict):
    """The config of one cell of the sweep: the first value of each swept setting, except those in ``pick``."""
    overrides = []
    for o in sweeps.overrides_of(preset, sweep):
        key, value = o.split("=", 1)
        choices = value.split(",")
        wanted = str(pick.get(key, choices[0])).lower()
        overrides.append(f"{key}={next((c for c in choices if c.lower() == wanted), None)}")
    if any(o.endswith("=None") for o in overrides):
        return None
    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        return compose(config_name="config", overrides=[f"experiment={sweep['experiment']}", *overrides])


@pytest.mark.parametrize("preset_name", ["smoke", "quick"])
@pytest.mark.parametrize("name", sorted(SPECS))
def test_every_side_of_every_rule_is_a_cell_of_the_preset(name, preset_name):
    """Each side's settings are a cell some sweep of the preset runs, and that cell composes."""
    preset = replicate.sweeps_preset(SPECS[name], preset_name)
    for c in SPECS[name]["rule"]["comparisons"]:
        for side in ("a", "b"):
            where = c[side].get("where") or {}
            found = False
            for sweep in preset["sweeps"].values():
                cfg = composed(sweep, preset, where)
                if cfg is None:
                    continue
                assert cfg.trainer.resume is True and cfg.trainer.threads == 1
                names = {"arch": cfg.arch.backbone.rsplit(".", 1)[-1].lower(), "task": cfg.task._target_.split(".")[1]}
                plain = {"c": OmegaConf.to_container(cfg)}
                found = found or all(
                    R.same(names[k] if k in names else R.get(plain, f"c.{k}"), v) for k, v in where.items()
                )
            assert found, f"{name} {preset_name}: no sweep runs {where}"


def test_an_unknown_replication_is_refused_in_one_line(capsys):
    assert replicate.main(["--preset", "smoke", "--only", "nope"]) == 2
    assert "no replication nope; use one of" in capsys.readouterr().err


# -- the report -----------------------------------------------------------------------------------------------
def write(folder, runs):
    for i, r in enumerate(runs):
        d = folder / f"run{i}"
        d.mkdir(parents=True)
        (d / "summary.json").write_text(json.dumps(r))


def test_report_writes_json_markdown_and_a_self_contained_page(tmp_path):
    conf = tmp_path / "conf"
    conf.mkdir()
    spec = {
        "paper": "Someone 2020",
        "published": {"result": "t beats l", "where": "Table 1"},
        "setting": "s",
        "differs": "scale",
        "rule": {"comparisons": [comparison("better")]},
        "figure": {"x": "task.delay", "series": "arch", "metric": "test/acc"},
    }
    (conf / "alpha.yaml").write_text(yaml.safe_dump(spec))
    (conf / "beta.yaml").write_text(yaml.safe_dump({**spec, "paper": "Other 2021"}))
    runs = runs_of([0.9, 0.91, 0.92], [0.3, 0.31, 0.32])
    for r in runs:
        r["config"]["task"] = {"delay": 10}
    write(tmp_path / "runs" / "alpha", runs)
    doc = build_replications(tmp_path / "runs", tmp_path / "out", conf=conf)
    by = {r["name"]: r for r in doc["replications"]}
    assert by["alpha"]["outcome"] == R.REPRODUCED and by["alpha"]["runs"] == 6
    assert by["beta"]["outcome"] == R.INCONCLUSIVE and "no runs" in by["beta"]["why"]
    assert (tmp_path / "out" / "alpha.png").stat().st_size > 1000 and by["beta"]["figures"] == []
    md = (tmp_path / "out" / "replications.md").read_text()
    assert "| alpha | Someone 2020 | t beats l (Table 1) | t − l: +0.6 [" in md and "reproduced in direction |" in md
    page = (tmp_path / "out" / "replications.html").read_text()
    assert "data:image/png;base64," in page and "<script" not in page and "scale" in page
    assert json.loads((tmp_path / "out" / "replications.json").read_text())["replications"][0]["name"] == "alpha"
    # a learning-rate pre-sweep's runs (<replication>/<sweep>/lr/, the tuning seed) are not evidence: a tuning run
    # that would add a fourth seed and turn the outcome is left out
    tuning = runs_of([0.0], [0.99])
    for r in tuning:
        r["seed"], r["config"]["task"] = 99, {"delay": 10}
    write(tmp_path / "runs" / "alpha" / "grid" / "lr", tuning)
    again = {r["name"]: r for r in build_replications(tmp_path / "runs", tmp_path / "out2", conf=conf)["replications"]}
    assert again["alpha"]["runs"] == 6 and again["alpha"]["outcome"] == R.REPRODUCED


def test_report_cli_refuses_a_missing_folder(tmp_path, capsys):
    assert report_main([str(tmp_path / "nope")]) == 2
    assert "is not a folder" in capsys.readouterr().err


# -- each configured rule reaches each outcome -----------------------------------------------------------------
DIRECTIONS = {
    "acc": "max",
    "loss": "min",
    "bleu": "max",
    "perplexity": "min",
    "baseline_loss": "min",
    "mse": "min",
    "baseline_mse": "min",
}
# goodness of side a over side b per seed, in units of δ, that should give each outcome
GAPS = {
    "better": {R.REPRODUCED: (3, 3, 3), R.NOT_REPRODUCED: (0, 0, 0), R.INCONCLUSIVE: (0, 3, 1.5)},
    "close": {R.REPRODUCED: (0, 0, 0), R.NOT_REPRODUCED: (3, 3, 3), R.INCONCLUSIVE: (0, 2, 1)},
}


def side_run(side: dict, seed: int, metrics: dict) -> dict:
    """A completed run that matches ``side`` (its where settings, within its at_most bounds)."""
    where = dict(side.get("where") or {})
    r = {
        "arch": where.pop("arch", "transformer"),
        "task": where.pop("task", "copy_long"),
        "seed": seed,
        "status": "completed",
        "speed": {},
        "config": {},
        "task_info": {"directions": DIRECTIONS},
        "metrics": {**(side.get("at_most") or {}), **metrics},
    }
    for key, v in where.items():
        put(r["config"], key.split("."), v)
    return r


def synthetic(c: dict, gaps) -> list[dict]:
    delta, metric = float(c["delta"]), c["metric"]
    sign = -1 if DIRECTIONS[metric.split("/", 1)[1]] == "min" else 1
    ma, mb = c["a"].get("metric", metric), c["b"].get("metric", metric)
    runs = []
    base = float(c["b"].get("value", 0.5))  # a published number as side b: the runs of a sit around it
    for seed, gap in enumerate(gaps):
        noise = 0.01 * delta * (seed - 1)
        a, b = base + sign * (gap * delta + noise), base - sign * noise
        if "value" in c["b"]:
            runs.append(side_run(c["a"], seed, {ma: a}))
        elif c["a"].get("where") == c["b"].get("where") and c["a"].get("at_most") == c["b"].get("at_most"):
            runs.append(side_run(c["a"], seed, {ma: a, mb: b}))  # both sides read the same runs
        else:
            runs += [side_run(c["a"], seed, {ma: a}), side_run(c["b"], seed, {mb: b})]
    return runs


@pytest.mark.parametrize("name", sorted(SPECS))
def test_every_configured_rule_reaches_each_outcome(name):
    for c in SPECS[name]["rule"]["comparisons"]:
        for outcome, gaps in GAPS[c["expect"]].items():
            got = R.compare(synthetic(c, gaps), c)
            assert got["a"]["n"] == got["b"]["n"] == 3, (name, c["label"])
            assert got["outcome"] == outcome, (name, c["label"], got["why"])


# -- the protocol: positive controls, the floor in the metric's units, Holm across replications ----------------
def test_two_arms_at_chance_never_make_not_reproduced():
    """Both sides at copy's chance (1/8): without a control 'not reproduced' (the transformer's advantage is
    excluded); with the declared positive control the replication is inconclusive and names the arm."""
    runs = runs_of([0.125, 0.126, 0.124, 0.125, 0.125], [0.125, 0.124, 0.126, 0.125, 0.125])
    rule = {"comparisons": [comparison("better")]}
    assert R.judge(runs, rule)["outcome"] == R.NOT_REPRODUCED
    rule["controls"] = [{"label": "transformer", "where": {"arch": "transformer"}, "margin": 0.05}]
    out = R.judge(runs, rule)
    assert out["outcome"] == R.INCONCLUSIVE and out["why"].startswith("positive control failed: transformer")
    assert out["controls"][0]["level"] == 0.125 and not out["controls"][0]["passed"]
    learned = runs_of([0.9, 0.92, 0.91], [0.5, 0.52, 0.49])
    assert R.judge(learned, rule)["outcome"] == R.REPRODUCED


def test_a_constant_baseline_loss_is_decided_without_a_proportion_floor():
    """Arjovsky's case: the baseline is the same float in every seed; the review measured a CI of ±1.19 nats
    from the old proportion floor against δ = 0.02. Now the losses' own spread decides."""
    runs = [rec("lstm", s, v, "test/loss") for s, v in enumerate((0.1740, 0.1731, 0.1736))]
    for r in runs:
        r["metrics"]["test/baseline_loss"] = 0.1733
    c = {
        "label": "loss − baseline",
        "metric": "test/loss",
        "expect": "close",
        "delta": 0.02,
        "a": {"where": {"arch": "lstm"}},
        "b": {"where": {"arch": "lstm"}, "metric": "test/baseline_loss"},
    }
    out = R.compare(runs, c)
    assert out["outcome"] == R.REPRODUCED and out["difference"]["ci95"][1] - out["difference"]["ci95"][0] < 0.01


def test_an_accuracy_side_gets_the_test_sets_binomial_floor():
    runs = runs_of([1.0, 1.0, 1.0], [0.0, 0.0, 0.0])
    for r in runs:
        r["config"]["task"] = {"n_test": 64}
    out = R.compare(runs, comparison("better"))
    lo, hi = out["difference"]["ci95"]
    assert out["outcome"] == R.REPRODUCED and lo < 1.0 < hi  # the floor widens the zero-width interval


def test_holm_across_replications_demotes_a_marginal_comparison():
    marginal = R.judge(
        runs_of([0.62, 0.75, 0.58, 0.7, 0.66], [0.5, 0.52, 0.48, 0.51, 0.49]), {"comparisons": [comparison("better")]}
    )
    assert marginal["outcome"] == R.REPRODUCED and 0.001 < marginal["comparisons"][0]["p"] < 0.05
    results = {"m": marginal}
    R.correct(results, family=20)
    c = results["m"]["comparisons"][0]
    assert c["outcome"] == R.INCONCLUSIVE and c["corrected"] == "Holm over 20 comparisons across the replications"
    assert results["m"]["outcome"] == R.INCONCLUSIVE


def test_each_replication_is_its_own_family_in_the_report():
    two = [0.62, 0.75, 0.58, 0.7, 0.66], [0.5, 0.52, 0.48, 0.51, 0.49]
    results = {n: R.judge(runs_of(*two), {"comparisons": [comparison("better")]}) for n in ("one", "other")}
    p = results["one"]["comparisons"][0]["p"]
    R.correct(results, family={"one": 1, "other": 3})
    one, other = results["one"]["comparisons"][0], results["other"]["comparisons"][0]
    # a replication's own single comparison keeps its p; the other's is corrected over its 3 declared comparisons
    assert one["p_holm"] == pytest.approx(p, rel=1e-3) and one["outcome"] == R.REPRODUCED
    assert other["p_holm"] == pytest.approx(min(1.0, 3 * p), rel=1e-3)
    assert one["corrected"] == "Holm over 1 comparison in this replication"
    assert (other["outcome"] == R.INCONCLUSIVE) == (3 * p >= 0.05)


def test_every_replication_is_a_protocol_declaration():
    from studies.protocol import Study
    from studies.replications.build import load_replications

    specs = load_replications()
    decls = {n: R.declaration(n, s) for n, s in specs.items()}
    assert all(isinstance(d, Study) and d.delta > 0 and d.anchor and d.question for d in decls.values())
    assert sum(d.tests for d in decls.values()) == sum(len(s["rule"]["comparisons"]) for s in specs.values())
    # every replication has a control but Arjovsky's (whose arms are, by design, the runs that did not learn) and
    # the adding problem's (each arm against the memoryless level measured on the same test set)
    assert {n for n, d in decls.items() if not d.controls} == {"arjovsky_baseline", "bai_adding", "hochreiter_adding"}


def test_leave_one_seed_out_says_whether_the_outcome_rests_on_one_seed():
    steady = R.compare(runs_of([0.9, 0.91, 0.92], [0.5, 0.51, 0.52]), comparison("better"))
    assert steady["stability"]["stable"] and set(steady["stability"]["left_out"]) == {"0", "1", "2"}
    # one lucky seed carries the mean over δ: without it the advantage falls below δ
    lucky = R.compare(runs_of([0.95, 0.52, 0.53], [0.5, 0.5, 0.5]), comparison("better"))
    assert lucky["stability"]["whole"] == "≥ δ" and not lucky["stability"]["stable"]
    assert lucky["stability"]["left_out"]["0"] == pytest.approx(0.025)


def warmup_comparison(diverged_as="uniform loss"):
    side = lambda w: {"where": {"trainer.warmup_steps": w}, "diverged_as": diverged_as}
    return {
        "label": "warm-up − none",
        "metric": "test/loss",
        "expect": "better",
        "delta": 0.1,
        "a": side(100),
        "b": side(0),
    }


def lm_run(seed, warmup, loss=None, vocab=2000):
    r = rec(
        "transformer",
        seed,
        loss,
        "test/loss",
        status="completed" if loss is not None else "diverged",
        task="lm",
        trainer__warmup_steps=warmup,
        task__vocab_size=vocab,
    )
    if loss is None:
        r["metrics"] = {}
    return r


def test_diverged_runs_count_at_their_level_instead_of_dropping_out():
    """Xiong's case: without warm-up the runs diverge. Dropped, no evidence is left (inconclusive) and a setting
    whose failures drop out would look as good as its survivors; counted at ln(vocab), warm-up is better and the
    count is reported."""
    warm = [lm_run(s, 100, 4.0 + 0.01 * s) for s in range(3)]
    runs = warm + [lm_run(s, 0) for s in range(3)]
    counted = R.compare(runs, warmup_comparison())
    assert counted["outcome"] == R.REPRODUCED and counted["b"]["diverged"] == 3 and "diverged" not in counted["a"]
    assert counted["b"]["mean"] == pytest.approx(math.log(2000), abs=1e-3)
    dropped = R.compare(runs, {**warmup_comparison(), "b": {"where": {"trainer.warmup_steps": 0}}})
    assert dropped["outcome"] == R.INCONCLUSIVE and dropped["b"]["n"] == 0
    one_survives = R.compare(warm + [lm_run(0, 0, 4.0), lm_run(1, 0), lm_run(2, 0)], warmup_comparison())
    assert one_survives["b"]["diverged"] == 2
    assert one_survives["b"]["mean"] == pytest.approx((4.0 + 2 * math.log(2000)) / 3, abs=1e-3)
    none_diverged = [lm_run(s, w, 4.0 + 0.01 * s) for s in range(3) for w in (0, 100)]
    assert R.compare(none_diverged, warmup_comparison())["outcome"] == R.NOT_REPRODUCED
    with pytest.raises(ValueError, match="diverged_as='chance'"):
        R.compare(runs, warmup_comparison("chance"))


@pytest.mark.parametrize(
    "accs, outcome",
    [
        ((0.76, 0.765, 0.755), R.REPRODUCED),
        ((0.60, 0.61, 0.605), R.NOT_REPRODUCED),
        ((0.70, 0.78, 0.74), R.INCONCLUSIVE),
    ],
)
def test_a_side_may_be_the_published_number(accs, outcome):
    runs = [rec("cnn", s, v) for s, v in enumerate(accs)]
    for r in runs:
        r["config"]["task"] = {"n_test": 1066}
    c = {**comparison("close", 0.05), "a": {"where": {"arch": "cnn"}}, "b": {"value": 0.761}}
    out = R.compare(runs, c)
    assert out["outcome"] == outcome, out["why"]
    assert out["b"] == {"n": 3, "mean": 0.761} and out["a"]["n"] == 3


def test_a_control_may_be_measured_against_another_arm():
    """Haviv's case: a language model must beat a model that sees only the last two tokens (trained alongside);
    two LMs that are no better than it make the 'close' outcome inconclusive, naming the arm."""
    control = {
        "label": "lm uses more than two tokens",
        "where": {"arch": "transformer"},
        "metric": "test/loss",
        "direction": "min",
        "margin": 0.02,
        "level": {"where": {"arch": "cnn"}, "metric": "test/loss"},
    }
    rule = {"controls": [control], "comparisons": [comparison("close", 0.1, "test/loss")]}
    lms = [rec("transformer", s, 4.0, "test/loss") for s in range(3)] + [
        rec("lstm", s, 4.01, "test/loss") for s in range(3)
    ]
    bar = lambda v: [rec("cnn", s, v, "test/loss") for s in range(3)]
    assert R.judge(lms + bar(4.5), rule)["outcome"] == R.REPRODUCED
    out = R.judge(lms + bar(4.0), rule)
    assert out["outcome"] == R.INCONCLUSIVE and out["why"].startswith("positive control failed: lm uses more")
    assert out["controls"][0]["level"] == 4.0
    assert R.judge(lms, rule)["controls"] == []  # no runs of the arm: no control to check (nor evidence of it)
    assert "the arm" in str(R.controls_of(rule)[0].level)  # the declaration names the arm


@pytest.mark.parametrize("preset_name", ["smoke", "quick", "full"])
def test_a_preset_that_tunes_the_lr_passes_its_grid_to_the_driver_and_tunes_outside_its_seeds(preset_name):
    tuned = 0
    for name, spec in SPECS.items():
        preset = replicate.sweeps_preset(spec, preset_name)
        declared = spec["presets"][preset_name]
        assert preset["lr_grid"] == list(declared.get("lr_grid") or []), name
        if preset["lr_grid"]:
            tuned += 1
            assert str(preset["tune_seed"]) not in preset["seeds"].split(","), name
            assert preset["lr_steps"] > 0 and any(sweeps.tuned(preset, s) for s in preset["sweeps"].values()), name
        else:
            assert not any(sweeps.tuned(preset, s) for s in preset["sweeps"].values()), name
    assert tuned == (0 if preset_name == "smoke" else 1)  # Zoology picks each model's lr, as the paper
