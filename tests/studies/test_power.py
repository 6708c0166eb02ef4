"""Operating characteristics of every verdict rule, simulated at the quick preset's seeds (studies.power): under no
effect the claim's positive outcome (supported / reproduced in direction) comes out at most 5% of the time, plus
the Monte Carlo error of the simulation; with enough seeds and a clear effect it does come out (the rule can
reach it with data a real run could produce)."""

import dataclasses
import functools
import json
import math

import pytest

from studies import power as P
from studies.claims import registry, rules
from studies.replications import rules as RR

REPS = 200
MC = 2 * math.sqrt(0.05 * 0.95 / REPS)  # two Monte Carlo standard errors at a 5% rate


@pytest.mark.parametrize("cid", list(P.SCENARIOS))
def test_no_effect_gives_at_most_five_percent_supported_at_three_seeds(cid):
    rates = P.outcome_rates(P.SCENARIOS[cid], 0.0, 3, REPS)  # the rule alone, before the family's correction
    assert rates[rules.SUPPORTED] <= 0.05 + MC, rates


@pytest.mark.parametrize("cid", list(P.SCENARIOS))
def test_each_rule_can_come_out_supported_or_not_supported_from_simulated_runs(cid):
    """At twelve seeds (C10: twenty) each rule reaches its positive outcome at a strong effect and, where the
    literature found none, 'not supported' at no effect: neither outcome is unreachable by construction."""
    sc = P.SCENARIOS[cid]
    delta = registry.CLAIMS[cid].delta
    strong = max(4 * delta, sc.literature or 0.0)
    n = 20 if cid == "C10" else 12  # C10's effect is runs failing (scored at chance): a Bernoulli-sized spread
    if cid != "C3":  # C3: test_c3_reaches_either_outcome_with_a_transformer_away_from_delta
        assert P.outcome_rates(sc, strong, n, 40)[rules.SUPPORTED] >= 0.5, cid
    # time ratios, failure counts and trends need ≫ 12 seeds for 'not supported'; C9's scenario puts the alignment
    # on its threshold at no effect, so only its faithfulness part can be excluded (mixed, not 'not supported')
    # C2's measured spread (sd 0.11 at delay 50) needs about 40 seeds before a CI fits inside ±δ = 0.05
    if cid not in ("C1", "C10", "C3", "C9"):
        assert P.outcome_rates(sc, 0.0, 48 if cid == "C2" else 12, 40)[rules.NOT_SUPPORTED] >= 0.3, cid


def test_the_correction_over_the_presets_family_only_lowers_decisions():
    sc = P.SCENARIOS["C2"]
    alone = P.outcome_rates(sc, 0.85, 3, 60)
    family = P.outcome_rates(sc, 0.85, 3, 60, family=P.quick_family())
    assert family[rules.SUPPORTED] <= alone[rules.SUPPORTED] and P.quick_family() == 26


def test_the_replications_false_reproduced_rate_is_at_most_five_percent():
    for row in P.replications_table(3, REPS // 2):
        assert row["finding_false"][RR.REPRODUCED] <= 0.05 + 2 * MC, row


def test_the_tables_render():
    md = P.claims_markdown(P.claims_table(3, 20, family=22), 20)
    assert md.count("\n| C") == 10 and "after the correction over the preset's 22 tests" in md


def test_only_regenerates_the_named_claims_and_refuses_an_unknown_one(capsys):
    assert P.main(["--only", "C4,C9", "--reps", "5", "--json"]) == 0
    assert [r["claim"] for r in json.loads(capsys.readouterr().out)] == ["C4", "C9"]
    assert P.main(["--only", "C4,C99", "--reps", "5"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--only C99: no such claim" in err[0] and "C10" in err[0]


def test_each_claim_is_simulated_at_the_seeds_its_sweeps_run():
    """A preset may give a claim's sweeps their own seeds (C2, C5, C10: 5; C7: 8): the table uses the fewest each
    claim's sweeps run, and a preset that does not exist is one line and exit 2."""
    from studies.protocol import claim_seeds

    doc = P.registry.preset_doc("quick")
    assert claim_seeds(doc, "C5") == 5 and claim_seeds(doc, "C10") == 5 and claim_seeds(doc, "C7") == 8
    assert claim_seeds(doc, "C1") == 5 and claim_seeds(doc, "C2") == 5 and claim_seeds(doc, "C4") == 3
    assert claim_seeds(None, "C2") is None
    rows = P.claims_table({cid: 3 for cid in P.SCENARIOS} | {"C5": 5}, 20, family=P.quick_family())
    assert {r["claim"]: r["n"] for r in rows}["C5"] == 5
    assert P.main(["--preset", "nope"]) == 2


def test_a_comparison_against_a_published_number_simulates_one_arm():
    near = P.replication_rates(0.0, 0.01, 5, 50, "close", 0.05, "test/loss", published=True)
    far = P.replication_rates(0.2, 0.01, 5, 50, "close", 0.05, "test/loss", published=True)
    assert near[RR.REPRODUCED] > 0.9 and far[RR.NOT_REPRODUCED] > 0.9
    mse = P.replication_rates(0.2, 0.01, 3, 50, "better", 0.05, "test/mse")  # lower is better, as for a loss
    assert mse[RR.REPRODUCED] > 0.9


def test_c3_reaches_either_outcome_with_a_transformer_away_from_delta():
    """C3's scenario carries the transformer as measured (its gradient at step 50 growing +0.08 decades per decade
    against δ = 0.10: 'flat' needs ~50 seeds, docs/claims.md). Neither outcome is unreachable by construction: a
    transformer whose gradient stays constant gives 'supported' at 12 seeds, one whose gradient grows 0.3 decades
    per decade 'not supported' (exploding)."""
    sc = P.SCENARIOS["C3"]
    as_if = lambda early: dataclasses.replace(
        sc, make=functools.partial(P.c3_runs, transformer={"init": (0.0, 0.04, True), "early": (early, 0.08, False)})
    )
    assert P.outcome_rates(as_if(0.0), 2.0, 12, 40)[rules.SUPPORTED] >= 0.5
    assert P.outcome_rates(as_if(0.3), 2.0, 12, 40)[rules.NOT_SUPPORTED] >= 0.5
