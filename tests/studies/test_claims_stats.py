"""The claims' statistics: three outcomes by a minimal effect δ, Holm, distinct seeds."""

import numpy as np
import pytest

from studies import stats as S

DELTA = 0.05
SD = 0.04


def planted(effect, n, seed=0):
    """Two groups of ``n`` seeds each whose true means differ by ``effect`` (noise sd SD)."""
    rng = np.random.default_rng(seed)
    return list(0.5 + effect + SD * rng.standard_normal(n)), list(0.5 + SD * rng.standard_normal(n))


def test_planted_effect_of_two_delta_with_five_seeds_is_supported():
    d = S.decide(S.difference(*planted(2 * DELTA, 5)), DELTA)
    assert d.outcome == S.SUPPORTED, d.why
    assert d.estimate.lo > 0 and d.estimate.value >= DELTA


def test_planted_zero_with_twenty_seeds_is_not_supported_and_with_two_inconclusive():
    d20 = S.decide(S.difference(*planted(0.0, 20)), DELTA)
    assert d20.outcome == S.NOT_SUPPORTED, d20.why
    assert d20.estimate.hi < DELTA
    d2 = S.decide(S.difference(*planted(0.0, 2)), DELTA)
    assert d2.outcome == S.INCONCLUSIVE, d2.why
    assert "underpowered" in d2.why and d2.mde is not None and d2.mde > DELTA
    assert f"{d2.mde:.3g}" in d2.why


def test_outcome_rates_over_many_planted_experiments():
    """Not one lucky draw: over 40 planted experiments each rule of thumb holds in most of them."""

    def rate(eff, n, want):
        return np.mean([S.decide(S.difference(*planted(eff, n, seed=k)), DELTA).outcome == want for k in range(40)])

    assert rate(2 * DELTA, 5, S.SUPPORTED) >= 0.7
    assert rate(0.0, 20, S.NOT_SUPPORTED) >= 0.9
    assert rate(0.0, 2, S.INCONCLUSIVE) >= 0.7
    assert rate(0.0, 20, S.SUPPORTED) <= 0.1


def test_inconclusive_without_an_interval_or_estimate():
    assert S.decide(S.difference([0.9], [0.1]), DELTA).outcome == S.INCONCLUSIVE
    assert S.decide(None, DELTA).outcome == S.INCONCLUSIVE
    with pytest.raises(ValueError):
        S.decide(S.difference([1, 2], [1, 2]), 0)


def test_real_but_smaller_than_delta_is_not_supported():
    a = [0.51, 0.511, 0.512, 0.509, 0.510]
    b = [0.50, 0.501, 0.499, 0.500, 0.500]
    d = S.decide(S.difference(a, b), DELTA)
    assert d.estimate.lo > 0 and d.outcome == S.NOT_SUPPORTED


def test_mde_shrinks_with_more_seeds():
    small = S.mde(S.difference(*planted(0.0, 3)))
    large = S.mde(S.difference(*planted(0.0, 30)))
    assert large < small


def test_holm_adjusts_step_down_and_keeps_monotone():
    q = S.holm({"a": 0.01, "b": 0.04, "c": 0.03, "d": None})
    assert q["a"] == pytest.approx(0.03)
    assert q["c"] == pytest.approx(0.06)
    assert q["b"] == pytest.approx(0.06)  # 1 × 0.04 raised to the running maximum
    assert q["d"] is None


def test_holm_correct_demotes_a_marginal_supported_and_says_which_family():
    strong = S.decide(S.difference(*planted(4 * DELTA, 5, seed=1)), DELTA)
    # a marginal effect: above 0 at 95% alone, not after correction over 10 tests
    a, b = [0.57, 0.66, 0.54, 0.69, 0.6], [0.5, 0.52, 0.48, 0.51, 0.49]
    weak = S.decide(S.difference(a, b), DELTA)
    assert weak.outcome == S.SUPPORTED and 0.005 < weak.p < 0.05
    fam = {
        "C1": strong,
        "C2": weak,
        **{f"X{i}": S.decide(S.difference(*planted(0.0, 20, seed=i)), DELTA) for i in range(8)},
    }
    out = S.holm_correct(fam, "primary tests")
    assert out["C1"].outcome == S.SUPPORTED
    assert out["C2"].outcome == S.INCONCLUSIVE and "Holm" in out["C2"].why
    assert all(d.corrected == "Holm over 10 primary tests" for d in out.values())


def test_duplicated_seeds_count_once_and_are_named_with_their_folders():
    runs = [
        {"seed": 0, "_dir": "r/a"},
        {"seed": 0, "_dir": "r/b"},
        {"seed": 0, "_dir": "r/c"},
        {"seed": 1, "_dir": "r/d"},
    ]
    kept, dup = S.distinct_seeds(runs)
    assert [r["seed"] for r in kept] == [0, 1]
    assert dup == {0: ["r/a", "r/b", "r/c"]}
    assert S.duplicates_text(dup) == ["seed 0 appears 3 times, counted once (r/a, r/b, r/c)"]
    # three copies of one seed give no interval: never "not supported with 3 seeds"
    vals = [0.5 for _ in kept if _["seed"] == 0]
    assert S.decide(S.difference(vals, [0.5]), DELTA).outcome == S.INCONCLUSIVE


def test_runs_of_different_presets_or_sources_are_never_merged():
    runs = [
        {"_preset": "quick", "_source": "heads"},
        {"_preset": "smoke", "_source": "heads"},
        {"_preset": "quick", "_source": "heads"},
    ]
    g = S.split_settings(runs)
    assert sorted(len(v) for v in g.values()) == [1, 2]


# -- seeds that did not vary: a floor on bounded data, no interval otherwise -----------------------------------
def test_three_perfect_seeds_against_three_failed_ones_are_inconclusive():
    """3 × 1.0 vs 3 × 0.0: no exact test rejects at α = 0.05 (minimum two-sided p = 0.1), so no "supported";
    plain Welch gave a zero-width interval and "supported"."""
    d = S.decide(S.difference([1.0] * 3, [0.0] * 3), DELTA)
    assert d.outcome == S.INCONCLUSIVE, d.why
    assert d.estimate.lo < 0 < d.estimate.hi and d.estimate.note == S.FLOORED
    assert "Agresti–Coull" in d.why and d.estimate.to_dict()["note"] == S.FLOORED
    same = S.decide(S.difference([1.0] * 3, [0.9] * 3), DELTA)
    assert same.outcome == S.INCONCLUSIVE, same.why


def test_five_perfect_seeds_against_five_failed_ones_are_supported():
    d = S.decide(S.difference([1.0] * 5, [0.0] * 5), DELTA)
    assert d.outcome == S.SUPPORTED, d.why
    assert d.estimate.lo > 0 and d.p < S.ALPHA and d.estimate.dof == pytest.approx(8)


def test_a_constant_side_against_a_varying_one_is_floored_wider_than_plain_welch():
    a, b = [1.0] * 3, [0.4, 0.5, 0.6]
    est = S.difference(a, b)
    welch = 2 * S.st.t.ppf(0.975, 2) * np.std(b, ddof=1) / np.sqrt(3)  # plain Welch: side a counted as exact
    assert est.note == S.FLOORED
    assert est.hi - est.lo > 2 * welch
    assert 2 <= est.dof <= 4  # Welch's dof with the floor plugged in


def test_constant_unbounded_seeds_give_no_interval_and_say_why():
    est = S.difference([3.0, 3.0], [5.0, 5.0])
    assert est.lo is None and est.hi is None and est.se is None
    d = S.decide(est, DELTA)
    assert d.outcome == S.INCONCLUSIVE and "variation" in d.why, d.why
    m = S.mean([3.0, 3.0, 3.0])
    assert m.lo is None and "variation" in S.decide(m, DELTA).why
    assert "note" not in S.difference(*planted(0.0, 5)).to_dict()


def test_mean_of_a_constant_bounded_sample_is_floored():
    m = S.mean([1.0, 1.0, 1.0])
    assert m.note == S.FLOORED and m.lo < 1.0 < m.hi and m.dof == 2
    p = (3 + 2) / 7
    assert m.se == pytest.approx(np.sqrt(p * (1 - p) / 3))
    assert S.decide(m, DELTA).outcome == S.INCONCLUSIVE  # the floored interval reaches below 0


def test_ratio_of_identical_positive_values_has_no_interval():
    """Logs are not rates: no floor there, even where log values happen to lie in [0, 1] (values in [1, e])."""
    r = S.ratio([2.0, 2.0, 2.0], [2.0, 2.0, 2.0])
    assert r.value == pytest.approx(1.0) and r.lo is None and "variation" in r.note
    assert S.decide(r, DELTA).outcome == S.INCONCLUSIVE
