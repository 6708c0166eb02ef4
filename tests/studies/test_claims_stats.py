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
        **{f"X{i}": S.decide(S.difference(*planted(0.0, 2, seed=i)), DELTA) for i in range(8)},
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


# -- seeds that did not vary: continuous decisions, floors in the value's units --------------------------------
def test_all_agreeing_seeds_decide_like_nearly_agreeing_ones():
    """[1,1,1] vs [0,0,0] and [1,1,0.999] vs [0,0,0.001] give the same outcome (the review's discontinuity: the
    old proportion floor made the first inconclusive and the second supported)."""
    exact = S.decide(S.difference([1.0] * 3, [0.0] * 3), DELTA)
    near = S.decide(S.difference([1.0, 1.0, 0.999], [0.0, 0.0, 0.001]), DELTA)
    assert exact.outcome == near.outcome == S.SUPPORTED, (exact.why, near.why)
    floor = S.proportion_floor([1.0] * 3, 512)
    assert 0 < floor < 1e-5
    with_floor = S.decide(S.difference([1.0] * 3, [0.0] * 3, floor=floor), DELTA)
    assert with_floor.outcome == S.SUPPORTED and with_floor.estimate.lo < 1.0 < with_floor.estimate.hi


def test_moving_one_seed_by_a_thousandth_never_flips_an_outcome():
    rng = np.random.default_rng(3)
    for _ in range(300):
        a, b = list(rng.choice([0.0, 0.5, 1.0], 3)), list(rng.choice([0.0, 0.5, 1.0], 3))
        base = S.decide(S.difference(a, b, floor=S.proportion_floor(a + b, 512)), DELTA).outcome
        moved = [min(1.0, a[0] + 0.001)] + a[1:] if a[0] < 1 else [a[0] - 0.001] + a[1:]
        out = S.decide(S.difference(moved, b, floor=S.proportion_floor(moved + b, 512)), DELTA).outcome
        # a flip may only happen where the estimate sits within 0.001 of a boundary (0 or δ)
        if out != base:
            d = np.mean(a) - np.mean(b)
            assert min(abs(d), abs(d - DELTA)) <= 0.001, (a, b, base, out)


def test_a_constant_baseline_loss_is_compared_without_a_proportion_floor():
    """The Arjovsky case: the baseline is the same float in every seed; the interval is the losses' own spread."""
    loss, base = [0.175, 0.172, 0.174], [0.1733] * 3
    est = S.difference(loss, base)
    plain = S.st.t.ppf(0.975, 2) * np.std(loss, ddof=1) / np.sqrt(3)
    assert est.hi - est.lo == pytest.approx(2 * plain)
    assert S.decide_close(est, 0.02).outcome == S.SUPPORTED


def test_constant_unbounded_seeds_give_a_zero_width_interval_and_say_so():
    est = S.difference([3.0, 3.0], [5.0, 5.0])
    assert est.lo == est.hi == -2.0 and est.se == 0 and est.note == S.CONSTANT
    assert S.decide(est, DELTA).outcome == S.NOT_SUPPORTED
    m = S.mean([3.0, 3.0, 3.0])
    assert m.lo == m.hi == 3.0 and S.decide(m, DELTA).outcome == S.SUPPORTED
    assert "note" not in S.difference(*planted(0.0, 5)).to_dict()


def test_a_floor_is_never_applied_to_values_that_are_not_proportions():
    assert S.proportion_floor([3.0, 3.0], 512) == 0.0
    assert S.proportion_floor([0.5, 0.5], None) == 0.0


def test_not_supported_has_a_p_value_and_is_corrected_too():
    a = [0.51, 0.53, 0.50, 0.52, 0.49]
    b = [0.50, 0.49, 0.51, 0.47, 0.50]
    d = S.decide(S.difference(a, b), DELTA)
    assert d.outcome == S.NOT_SUPPORTED and 0.005 < d.p < S.ALPHA
    # the p-value is that of "an effect ≥ δ": below α exactly when the upper end is below δ
    assert (d.estimate.hi < DELTA) == (d.p < S.ALPHA)
    fam = {"x": d, **{f"y{i}": S.decide(S.difference(*planted(0.0, 2, seed=i)), DELTA) for i in range(30)}}
    out = S.holm_correct(fam, "tests")
    assert out["x"].outcome == S.INCONCLUSIVE and "after correction" in out["x"].why


def test_holm_family_is_the_declared_size_even_when_tests_are_missing():
    assert S.holm({"a": 0.01}, family=5)["a"] == pytest.approx(0.05)
    d = S.decide(S.difference([1.0, 0.98, 0.99], [0.5, 0.52, 0.49]), DELTA)
    assert S.holm_correct({"a": d}, "tests", family=10)["a"].corrected == "Holm over 10 tests"


def test_close_and_threshold_reach_each_outcome():
    assert S.decide_close(S.difference([0.5, 0.51, 0.49], [0.5, 0.5, 0.51]), 0.05).outcome == S.SUPPORTED
    assert S.decide_close(S.difference([0.9, 0.91, 0.89], [0.5, 0.5, 0.51]), 0.05).outcome == S.NOT_SUPPORTED
    assert S.decide_close(S.difference([0.9, 0.5], [0.5, 0.6]), 0.05).outcome == S.INCONCLUSIVE
    assert S.decide_threshold(S.mean([0.95, 0.97, 0.96]), 0.9).outcome == S.SUPPORTED
    assert S.decide_threshold(S.mean([0.5, 0.52, 0.51]), 0.9).outcome == S.NOT_SUPPORTED
    assert S.decide_threshold(S.mean([0.5, 1.0, 0.95]), 0.9).outcome == S.INCONCLUSIVE


# -- censored outcomes: a seed that never reaches the target counts ---------------------------------------------
def never(t):
    return (t, True)


def reached(t):
    return (t, False)


def test_a_seed_that_never_reaches_the_target_counts_for_the_claim():
    """The lstm never reaches the target within 30 s (censored), the transformer does in 2–3 s: evidence *for*
    "the transformer is faster", decided at 5 seeds; at 3 seeds the exact rank test cannot go below p = 0.1."""
    lstm5, tr5 = [never(np.log(30))] * 5, [reached(np.log(t)) for t in (2.0, 2.2, 2.5, 2.1, 2.9)]
    d5 = S.decide_censored(lstm5, tr5, float(np.log1p(0.1)), "log time ratio")
    assert d5.outcome == S.SUPPORTED and d5.p < S.ALPHA, d5.why
    d3 = S.decide_censored(lstm5[:3], tr5[:3], float(np.log1p(0.1)))
    assert d3.outcome == S.INCONCLUSIVE and d3.p == pytest.approx(0.1)
    assert "censored seeds: 3 of 3" in d3.why


def test_censoring_on_the_favoured_side_cannot_make_a_claim_supported():
    # the transformer never reaches it either: its median is unbounded, so no lower bound on the gain
    d = S.decide_censored([never(3.4)] * 5, [never(3.4)] * 5, 0.1)
    assert d.outcome == S.INCONCLUSIVE


def test_censored_comparison_reaches_not_supported():
    # both reach it, the "slower" side is in fact faster: below δ by the rank test
    x = [reached(v) for v in (1.0, 1.1, 0.9, 1.05, 0.95)]
    y = [reached(v) for v in (2.0, 2.1, 1.9, 2.05, 1.95)]
    assert S.decide_censored(x, y, 0.1).outcome == S.NOT_SUPPORTED


def test_a_linear_contrast_of_independent_groups_is_welch_satterthwaite():
    """An interaction (a₁ − b₁) − (a₂ − b₂): its value, and for two groups exactly :func:`S.difference`."""
    a, b = [0.7, 0.72, 0.74], [0.6, 0.61, 0.59]
    two = S.contrast([(a, 1, 0.0), (b, -1, 0.0)])
    ref = S.difference(a, b)
    assert two.value == pytest.approx(ref.value) and two.lo == pytest.approx(ref.lo) and two.hi == pytest.approx(ref.hi)
    four = S.contrast([(a, 1, 0.0), (b, -1, 0.0), (b, -1, 0.0), (a, 1, 0.0)])
    assert four.value == pytest.approx(2 * ref.value) and four.hi - four.lo > two.hi - two.lo
    assert S.contrast([(a, 1, 0.0), ([], -1, 0.0)]) is None
    assert S.contrast([([0.5], 1, 0.0), (b, -1, 0.0)]).lo is None
    flat = S.contrast([([0.5, 0.5], 1, 0.01), ([0.4, 0.4], -1, 0.01)])
    assert flat.lo < 0.1 < flat.hi and flat.note == S.CONSTANT  # the floors give the interval its width
