"""The one verdict scheme (`rules`) on made-up numbers whose answers are known: the interval
against closed forms and scipy, Holm by hand, and the cases the old bar got wrong."""

import math
import random

import pytest
from scipy import stats

from evae_lite.book import rules as R
from evae_lite.runs import Spread

MNIST = R.Budget("MNIST", 10)
FACES = R.Budget("Olivetti, 280 faces, for TFD", 300, 250)


def spread(mean: float, se: float) -> Spread:
    """Three seeds at mean - d, mean, mean + d, whose standard error is `se`."""
    d = se * math.sqrt(3)
    return Spread.of([mean - d, mean, mean + d])


def test_the_t_interval_matches_closed_forms_and_scipy():
    # two-sided 95%: the upper 0.975 quantile. 1 df is Cauchy, tan(pi (q - 1/2)); 2 df has
    # the closed form (2q - 1) / sqrt(2 q (1 - q)).
    assert R.t_multiplier(1) == pytest.approx(math.tan(math.pi * 0.475), rel=1e-12)
    assert R.t_multiplier(2) == pytest.approx(0.95 / math.sqrt(2 * 0.975 * 0.025), rel=1e-12)
    assert R.t_multiplier(2) == pytest.approx(4.302652729911275)
    s = Spread.of([1.0, 2.0, 4.0, 7.0])
    iv = R.one_sample(s, 0.0)
    lo, hi = stats.t.interval(0.95, 3, loc=s.mean, scale=s.stderr)
    assert (iv.df, iv.lo, iv.hi) == (3, pytest.approx(lo), pytest.approx(hi))
    # p_beyond is the least 1 - level that excludes the value: at that level, the bound is it
    p = iv.p_beyond(1.0)
    assert R.one_sample(s, 0.0, level=1 - p).lo == pytest.approx(1.0)
    assert p == pytest.approx(stats.ttest_1samp(s.values, 1.0).pvalue)


def test_welch_degrees_of_freedom_by_hand_and_against_scipy():
    a, b = Spread.of([0.0, 2.0, 4.0]), Spread.of([1.0, 2.0, 3.0, 4.0, 5.0])
    # se² 4/3 and 1/2: (4/3 + 1/2)² / ((4/3)² / 2 + (1/2)² / 4) = (121/36) / (137/144) = 484/137
    assert R.welch_df(a, b) == pytest.approx(484 / 137, rel=1e-12)
    iv = R.difference(a, b)
    ref = stats.ttest_ind(a.values, b.values, equal_var=False)
    assert iv.df == pytest.approx(ref.df) and iv.p_beyond(0.0) == pytest.approx(ref.pvalue)
    assert iv.stderr == pytest.approx(math.sqrt(4 / 3 + 1 / 2))
    # one side without spread: the other's n - 1; both without: a zero-width interval
    assert R.welch_df(Spread.of([5.0, 5.0, 5.0]), b) == pytest.approx(4)
    flat = R.difference(Spread.of([8, 8, 8]), Spread.of([8, 8, 8]))
    assert (flat.lo, flat.hi, flat.p_beyond(0.0), flat.p_beyond(0.1)) == (0.0, 0.0, 1.0, 0.0)


def test_the_slope_interval_is_least_squares_through_every_seed():
    xs, ys = (8, 24, 48), (Spread.of([5, 6, 7]), Spread.of([3, 5, 4]), Spread.of([1, 2, 0.5]))
    iv = R.slope_interval(xs, ys)
    ref = stats.linregress([x for x in xs for _ in range(3)], [v for y in ys for v in y.values])
    assert (iv.estimate, iv.stderr, iv.df) == (
        pytest.approx(ref.slope),
        pytest.approx(ref.stderr),
        7,
    )
    assert iv.p_beyond(0.0) == pytest.approx(ref.pvalue)
    assert R.slope([8, 24, 48], [6, 4, 1]) == pytest.approx(ref.slope, rel=0.2)  # the means'


def test_holm_on_a_hand_worked_example():
    p = [0.01, 0.04, 0.03, 0.005]
    # sorted: 0.005 <= 0.05/4, 0.01 <= 0.05/3, 0.03 > 0.05/2: stop; 0.04 is not reached
    assert R.holm(p) == [True, False, False, True]
    # adjusted: 4(0.005) = 0.02, 3(0.01) = 0.03, 2(0.03) = 0.06, max(0.06, 1(0.04)) = 0.06
    assert R.holm_adjusted(p) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert R.holm(p, level=0.9) == [True, True, True, True]  # 0.03 <= 0.05, then 0.04 <= 0.1
    with pytest.raises(ValueError, match=r"\[1\.5\]"):
        R.holm([0.01, 1.5])


def test_a_tie_is_inconclusive_not_refuted():
    """Table 3 on the faces: best eVAE minus best VAE, -31 ± 142 nats; the paper's +191 lies
    inside the interval as well as 0."""
    j = R.Difference(
        spread(1883, 136), spread(1914, 40), ">", 2371 - 2180, "best eVAE", "best VAE", "nats"
    ).judge(FACES)
    gap = R.difference(spread(1883, 136), spread(1914, 40))
    assert f"{gap.estimate:.0f} ± {gap.stderr:.0f}" == "-31 ± 142"
    assert j.verdict == R.INCONCLUSIVE
    assert j.effect.lo < 0 < 191 < j.effect.hi
    for number in ("-31.0", "+191.0", "1883.0 ± 136.0", "1914.0 ± 40.0", "2.34 df"):
        assert number in j.why, j.why
    # MNIST's -3 ± 2 excludes the paper's +12 and holds 0: not supported
    m = R.Difference(spread(307, 1), spread(310, 1), ">", 12, "best eVAE", "best VAE", "nats")
    j = m.judge(MNIST)
    assert j.verdict == R.NOT_SUPPORTED and j.effect.lo < 0 < j.effect.hi < 12
    assert "-3.0" in j.why and "+12.0" in j.why and "excludes" in j.why


def test_without_the_papers_number_only_a_reversal_refutes():
    up, down = spread(10, 1), spread(0, 1)
    assert R.Difference(up, down, ">").judge(MNIST).verdict == R.SUPPORTED
    assert R.Difference(down, up, ">").judge(MNIST).verdict == R.NOT_SUPPORTED
    tie = R.Difference(spread(1, 1), spread(0, 1), ">").judge(MNIST)
    assert tie.verdict == R.INCONCLUSIVE and "effects in the paper's direction" in tie.why
    # an effect in the paper's direction but smaller than its number is still supported
    small = R.Difference(up, down, ">", 60.0).judge(MNIST)
    assert small.verdict == R.SUPPORTED and "short of the paper's +60.0" in small.why


def test_a_per_seed_quantity_is_tested_against_a_number():
    """Each seed's smallest KL of an active unit minus its largest of an inactive one: a
    one-sample t on the gaps, n - 1 degrees of freedom, the same as scipy's."""
    gaps = Spread.of([0.11, 0.09, 0.16])
    j = R.Difference(gaps, 0.0, ">", None, "KL gap", "0", "nats", ".3f").judge(MNIST)
    ref = stats.ttest_1samp(gaps.values, 0.0)
    assert j.verdict == R.SUPPORTED and j.effect.df == 2 and j.seeds == 3
    assert j.p_support == pytest.approx(ref.pvalue)
    assert j.why.startswith("KL gap: +0.120 [") and "; KL gap 0.120 ± 0.021; 3 seeds)" in j.why


def test_one_of_six_cells_reversed_is_reported_and_refutes_every():
    cells = tuple(
        (
            f"D = {D}, L = 2, H = 500",
            R.Difference(spread(92 if D == 24 else 110, 1), spread(100, 1), ">", 15, "eVAE", "VAE"),
        )
        for D in (8, 16, 24, 32, 48, 64)
    )
    every = R.Cells(cells, "(D, L, H)").judge(MNIST, 0.95)
    assert every.verdict == R.NOT_SUPPORTED
    assert "supported at 5 of 6 (D, L, H), tied at 0, reversed at 1" in every.why
    assert "D = 24, L = 2, H = 500, eVAE minus VAE: -8.0 [" in every.why
    assert [j.verdict for _, j in every.cells].count(R.SUPPORTED) == 5
    assert every.effect.estimate == pytest.approx(-8.0)  # the deciding cell
    pooled = R.Cells(cells, "(D, L, H)", mode="pooled").judge(MNIST)
    assert pooled.verdict == R.SUPPORTED and pooled.effect.estimate == pytest.approx(7.0)
    assert "reversed at 1 (D = 24, L = 2, H = 500" in pooled.why  # not hidden by the mean
    assert pooled.effect.stderr == pytest.approx(math.sqrt(6 * 2) / 6)
    # one tie among six supported cells: every cell cannot be claimed, nothing refutes it
    tied = tuple((k, R.Difference(spread(100.5, 1), spread(100, 1), ">", 2)) for k in "ab")
    j = R.Cells(cells[:1] + cells[3:] + tied).judge(MNIST)
    assert j.verdict == R.INCONCLUSIVE and "tied at 2, reversed at 0" in j.why
    lone = R.Difference(Spread.of([120.0]), spread(100, 1), ">")
    j = R.Cells(cells[:5] + (("D = 64", lone),)).judge(MNIST)
    assert j.verdict == R.NOT_SUPPORTED and "tied at 1, reversed at 1" in j.why
    assert "no spread across seeds at D = 64 (1 seed)" in j.why
    with pytest.raises(ValueError, match="mode='most'"):
        R.Cells(cells, mode="most").judge(MNIST)


def test_a_cell_short_of_the_paper_s_effect_still_supports_every():
    """A cell beyond zero in the paper's direction but well short of the paper's effect is
    supported, as one Difference is, and refutes nothing: beside a tie that cannot tell zero
    from the paper's effect the claim is inconclusive; beside a reversal, the reversal is
    named as what refutes it."""
    short = R.Difference(spread(178, 0.5), spread(100, 0.5), ">", 98.0, "eVAE", "VAE")
    assert short.judge(MNIST).verdict == R.SUPPORTED
    tie = R.Difference(spread(100.2, 1), spread(100, 1), ">", 3.0, "eVAE", "VAE")
    j = R.Cells((("D = 24", short), ("D = 8", tie)), "D").judge(MNIST)
    assert j.verdict == R.INCONCLUSIVE, j.why
    assert "supported at 1 of 2 D, tied at 1, reversed at 0" in j.why
    rev = R.Difference(spread(87, 1), spread(100, 1), ">", 17.0, "eVAE", "VAE")
    j = R.Cells((("D = 24", short), ("D = 8", rev)), "D").judge(MNIST)
    assert j.verdict == R.NOT_SUPPORTED, j.why
    assert "D = 8 refutes it at Holm-adjusted p" in j.why and "D = 24 refutes" not in j.why
    assert j.effect.estimate == pytest.approx(-13.0)  # the deciding cell


def test_a_flat_count_is_never_fewer():
    """8 active units at L = 2 and at L = 3 in every seed: "fewer with depth" is refuted,
    with a paper's number or without, as a difference, a trend and a cell."""
    eight = Spread.of([8, 8, 8])
    for paper in (None, -3.0):
        j = R.Difference(eight, eight, "<", paper, "L = 3", "L = 2", "units").judge(MNIST)
        assert j.verdict == R.NOT_SUPPORTED, j.why
        assert "8.0 ± 0.0" in j.why and "no change in any seed" in j.why
    trend = R.Trend((1, 2, 3), (eight, eight, eight), "<", None, "L", "active units")
    assert trend.judge(MNIST).verdict == R.NOT_SUPPORTED
    cells = R.Cells((("D = 15", R.Difference(eight, eight, "<")),), "(D, H)").judge(MNIST)
    assert cells.verdict == R.NOT_SUPPORTED and "supported at 0 of 1" in cells.why


def test_a_trend_is_the_slope_over_all_points_not_the_last_step():
    d = 0.6368  # three seeds at +-d: a standard error of 0.3677 each
    ys = tuple(Spread.of([m - d, m, m + d]) for m in (10.0, 6.0, 3.0, 3.25))
    last = R.difference(ys[3], ys[2])
    assert f"{last.estimate:+.2f} ± {last.stderr:.2f}" == "+0.25 ± 0.52"  # the last step: up
    step = R.Difference(ys[3], ys[2], "<", None, "100 epochs", "50 epochs").judge(MNIST)
    assert step.verdict == R.INCONCLUSIVE  # judged step by step, the last step decides nothing
    j = R.Trend((10, 25, 50, 100), ys, "<", None, "epochs", "error", "nats", ".3f").judge(MNIST)
    points = [(x, v) for x, y in zip((10, 25, 50, 100), ys) for v in y.values]
    ref = stats.linregress(*zip(*points))
    assert j.verdict == R.SUPPORTED and j.effect.hi < 0
    assert f"{ref.slope:+.3f}" in j.why and "10 df" in j.why and "12 seed values" in j.why
    assert "0.25" not in j.why and "0.52" not in j.why
    assert j.effect.estimate == pytest.approx(ref.slope)


def test_comparable_and_counts_near_the_papers():
    near = R.Comparable(spread(28.7, 0.3), 30, 3, a_name="active units", unit="units")
    j = near.judge(MNIST)
    assert j.verdict == R.SUPPORTED and "inside ±3.0 units" in j.why and "28.7 ± 0.3" in j.why
    far = R.Comparable(Spread.of([10, 10, 10]), 30, 3).judge(MNIST)
    assert far.verdict == R.NOT_SUPPORTED and "outside ±3.0" in far.why
    edge = R.Comparable(spread(27.5, 0.5), 30, 3).judge(MNIST)
    assert edge.verdict == R.INCONCLUSIVE and "straddles the edge of ±3.0" in edge.why
    same = R.Comparable(Spread.of([50] * 3), Spread.of([50] * 3), 5, None, "dropout", "eVAE")
    assert same.judge(MNIST).verdict == R.SUPPORTED
    with pytest.raises(ValueError, match="tolerance=-1"):
        R.Comparable(near.a, 30, -1).judge(MNIST)


def test_verdicts_are_exactly_where_the_interval_lies():
    """Brute force on random spreads: supported iff the interval is beyond 0 on the paper's
    side, not supported iff otherwise below the paper's effect; comparable iff inside."""
    rng = random.Random(0)
    for _ in range(300):
        a = Spread.of([rng.gauss(rng.uniform(-3, 3), rng.uniform(0.1, 3)) for _ in range(3)])
        b = Spread.of([rng.gauss(0, rng.uniform(0.1, 3)) for _ in range(rng.choice((2, 3, 5)))])
        direction, paper = rng.choice((">", "<")), rng.uniform(0.5, 4)
        sign = 1 if direction == ">" else -1
        j = R.Difference(a, b, direction, sign * paper).judge(MNIST)
        lo, hi = sorted((sign * j.effect.lo, sign * j.effect.hi))
        want = R.SUPPORTED if lo > 0 else R.NOT_SUPPORTED if hi < paper else R.INCONCLUSIVE
        assert j.verdict == want
        assert (j.p_support < 0.05) == (lo > 0)
        c = R.Comparable(a, b, paper).judge(MNIST)
        inside, outside = -paper <= c.effect.lo and c.effect.hi <= paper, c.effect.lo > paper
        outside = outside or c.effect.hi < -paper
        assert c.verdict == (
            R.SUPPORTED if inside else R.NOT_SUPPORTED if outside else R.INCONCLUSIVE
        )


def test_one_seed_is_inconclusive_and_says_so():
    one, three = Spread.of([12.0]), spread(0, 1)
    j = R.Difference(one, three, ">", 5.0, "eVAE", "VAE", "nats").judge(MNIST)
    assert j.verdict == R.INCONCLUSIVE and j.seeds == 1
    assert "eVAE has 1 seed" in j.why and "+12.0 nats" in j.why and j.effect.lo is None
    t = R.Trend((1, 2), (one, one), ">", x_name="D").judge(MNIST)
    assert t.verdict == R.INCONCLUSIVE and "D = 1 has 1 seed, D = 2 has 1 seed" in t.why
    c = R.Comparable(one, 12.0, 1.0, a_name="count").judge(MNIST)
    assert c.verdict == R.INCONCLUSIVE and "count has 1 seed" in c.why


def test_not_tested_names_its_reason_and_budgets_split_the_counts():
    nt = R.NotTested("degenerate", "one mixture component used by 2000 of 2000 images")
    j = nt.judge(FACES)
    assert j.verdict == R.NOT_TESTED and j.why.startswith("degenerate: one mixture component")
    with pytest.raises(ValueError, match="kind='time'"):
        R.NotTested("time", "x").judge(MNIST)
    ok = R.Difference(spread(10, 1), spread(0, 1), ">").judge(MNIST)
    c = R.counts([ok, ok, j])
    assert c["MNIST", "10/200 epochs (5%)"][R.SUPPORTED] == 2
    assert c["Olivetti, 280 faces, for TFD", "300/250 epochs (120%)"][R.NOT_TESTED] == 1
    table = R.counts_by_budget([ok, ok, j]).splitlines()
    assert table[2] == "| MNIST | 10/200 epochs (5%) | 2 | 0 | 0 | 0 |"
    assert table[-1] == "| all | | 2 | 0 | 0 | 1 |"


def test_the_table_shows_the_budget_on_every_row():
    j = R.Difference(spread(10, 1), spread(0, 1), ">", 12.0, "a | b", "c", "nats")
    row = R.table_markdown([j.judge(FACES).about("Table 1", "claim", "10")], chapters=True)
    head, _, line = row.splitlines()
    assert head == (
        "| chapter | where | the paper's claim | verdict | the evidence | the paper's "
        "| trained on |"
    )
    assert "| 10 | Table 1 | claim | **supported** | a \\| b minus c: +10.0 [" in line
    assert line.endswith("| +12.0 | Olivetti, 280 faces, for TFD, 300/250 epochs (120%); 3 seeds |")


def test_holm_over_claims_and_the_bar():
    strong = R.Difference(spread(10, 1), spread(0, 1), ">").judge(MNIST)
    weak = R.Difference(spread(2.3, 0.5), spread(0, 0.5), ">").judge(MNIST)
    assert weak.verdict == R.SUPPORTED and 0.05 / 3 < weak.p < 0.05
    out = R.after_holm([strong] + [weak] * 3)
    assert [j.verdict for j in out] == [R.SUPPORTED] + [R.INCONCLUSIVE] * 3
    assert f"Holm-adjusted p = {min(1, 3 * weak.p):.2g} over 4 claims" in out[1].why
    b = R.bar(30)
    assert b.expected == pytest.approx(0.75) and b.family_wise == pytest.approx(1 - 0.975**30)
    assert b.multipliers() == pytest.approx((R.t_multiplier(4), R.t_multiplier(2)))
    assert "2.78 standard errors" in str(b) and "over 30 comparisons about 0.75" in str(b)


def test_bad_inputs_name_the_value_and_what_is_allowed():
    with pytest.raises(ValueError, match="direction='up' is not one of >, <"):
        R.Difference(spread(1, 1), spread(0, 1), "up").judge(MNIST)
    with pytest.raises(ValueError, match="paper_effect=-3"):
        R.Difference(spread(1, 1), spread(0, 1), ">", -3).judge(MNIST)
    with pytest.raises(ValueError, match="level=1.5"):
        R.one_sample(spread(1, 1), 0.0, level=1.5)
    with pytest.raises(ValueError, match="verdict='partly'"):
        R.Judgement("partly", "x", None, "", None, "", MNIST, 3)
    with pytest.raises(ValueError, match="epochs=0"):
        R.Budget("MNIST", 0)


def test_a_budget_below_one_percent_keeps_a_digit():
    assert R.Budget("MNIST", 1, 200).training == "1/200 epochs (0.5%)"
    assert R.Budget("MNIST", 200, 200).training == "200/200 epochs (100%)"


def test_not_worse_reads_the_worse_end_against_the_margin():
    """eVAE against mVAE, higher is better, a margin of 5 nats: within it, beyond it, across
    it; and the same rule for "lower is better" (a Fréchet distance) and for a number."""
    mvae = spread(300, 0.5)
    ok = R.NotWorse(spread(298, 0.5), mvae, ">", 5, "eVAE", "mVAE", "nats").judge(MNIST)
    assert ok.verdict == R.SUPPORTED and ok.effect.lo > -5
    assert "its worse end" in ok.why and "stays within the margin -5.0 nats" in ok.why
    assert "higher is better, margin 5.0 nats" in ok.why
    bad = R.NotWorse(spread(280, 0.5), mvae, ">", 5, "eVAE", "mVAE", "nats").judge(MNIST)
    assert bad.verdict == R.NOT_SUPPORTED and bad.effect.hi < -5
    assert "wholly below the margin -5.0 nats" in bad.why
    edge = R.NotWorse(spread(295, 0.5), mvae, ">", 5).judge(MNIST)
    assert edge.verdict == R.INCONCLUSIVE and edge.effect.lo < -5 < edge.effect.hi
    assert "straddles the margin -5.0" in edge.why
    # lower is better: 12 against 10 with a margin of 1 is wholly above +1
    fd = R.NotWorse(spread(12, 0.2), spread(10, 0.2), "<", 1.0, unit="").judge(MNIST)
    assert fd.verdict == R.NOT_SUPPORTED and "wholly above the margin +1.0" in fd.why
    # "at least the VAE's units": equal counts with no spread are within any positive margin
    eight = Spread.of([8, 8, 8])
    assert R.NotWorse(eight, eight, ">", 1.0).judge(MNIST).verdict == R.SUPPORTED
    assert R.NotWorse(eight, 9.0, ">", 1.0).judge(MNIST).verdict == R.INCONCLUSIVE  # on it
    assert R.NotWorse(eight, 10.0, ">", 1.0).judge(MNIST).verdict == R.NOT_SUPPORTED
    # the interval's worse end is the two-sided interval's: at the level, the bound is -margin
    p = ok.p_support
    assert R.difference(spread(298, 0.5), mvae, level=1 - p).lo == pytest.approx(-5)
    with pytest.raises(ValueError, match="margin=-1"):
        R.NotWorse(mvae, mvae, ">", -1).judge(MNIST)


def test_not_worse_agrees_with_its_definition_on_random_spreads():
    rng = random.Random(1)
    for _ in range(200):
        a = Spread.of([rng.gauss(rng.uniform(-3, 3), rng.uniform(0.1, 2)) for _ in range(3)])
        b = Spread.of([rng.gauss(0, rng.uniform(0.1, 2)) for _ in range(3)])
        direction, margin = rng.choice((">", "<")), rng.uniform(0, 2)
        sign = 1 if direction == ">" else -1
        j = R.NotWorse(a, b, direction, margin).judge(MNIST)
        lo, hi = sorted((sign * j.effect.lo, sign * j.effect.hi))
        want = R.SUPPORTED if lo > -margin else R.NOT_SUPPORTED if hi < -margin else R.INCONCLUSIVE
        assert j.verdict == want


def test_a_flat_trend_is_a_slope_inside_a_tolerance():
    """Parzen scores over D = 5, 10, 20: flat within 0.2 nats per unit of D (3 nats over the
    range); one falling by 1 nat per unit of D is not flat and does fall; a rising one does not
    fall."""
    xs = (5, 10, 20)
    flat = tuple(spread(m, 0.3) for m in (250.0, 250.4, 249.8))
    j = R.FlatTrend(xs, flat, 0.2, "both", "D", "Parzen", "nats").judge(MNIST)
    ref = stats.linregress([x for x in xs for _ in range(3)], [v for y in flat for v in y.values])
    assert j.verdict == R.SUPPORTED and j.effect.estimate == pytest.approx(ref.slope)
    assert -0.2 < j.effect.lo < j.effect.hi < 0.2 and "inside ±0.200 nats" in j.why
    assert "±3.000 nats over D = 5 to 20" in j.why and "7 df" in j.why
    falling = tuple(spread(250.0 - (x - 5), 0.3) for x in xs)
    j = R.FlatTrend(xs, falling, 0.2, "both", "D", "Parzen", "nats").judge(MNIST)
    assert j.verdict == R.NOT_SUPPORTED and "outside ±0.200" in j.why
    j = R.FlatTrend(xs, falling, 0.2, "no fall", "D", "Parzen", "nats").judge(MNIST)
    assert j.verdict == R.NOT_SUPPORTED and "wholly below the margin -0.200" in j.why
    rising = tuple(spread(250.0 + (x - 5), 0.3) for x in xs)
    assert R.FlatTrend(xs, rising, 0.2, "no fall").judge(MNIST).verdict == R.SUPPORTED
    assert R.FlatTrend(xs, rising, 0.2, "no rise").judge(MNIST).verdict == R.NOT_SUPPORTED
    # a flat count in every seed: exactly zero slope, inside any band
    eight = Spread.of([8, 8, 8])
    assert R.FlatTrend(xs, (eight,) * 3, 0.0).judge(MNIST).verdict == R.SUPPORTED
    with pytest.raises(ValueError, match="side='down'"):
        R.FlatTrend(xs, flat, 0.2, "down").judge(MNIST)
    with pytest.raises(ValueError, match="tolerance=-0.1"):
        R.FlatTrend(xs, flat, -0.1).judge(MNIST)


def test_cells_leave_out_the_cells_that_cannot_be_tested():
    """A remedy against the VAE at D = 20, where the VAE keeps all 20 units (nothing can keep
    more), and at D = 50: only D = 50 is tested, and the why names the other and its reason."""
    more = R.Difference(spread(45, 0.5), spread(30, 0.5), ">", None, "free bits", "VAE")
    full = R.NotTested("ceiling", "the VAE keeps 20.0 of 20 units: no model can keep more")
    j = R.Cells((("D = 20", full), ("D = 50", more)), "D").judge(MNIST)
    assert j.verdict == R.SUPPORTED and "supported at 1 of 1 D" in j.why
    assert "not tested at 1: D = 20 (ceiling: the VAE keeps 20.0 of 20 units" in j.why
    assert [c.verdict for _, c in j.cells] == [R.NOT_TESTED, R.SUPPORTED]
    none = R.Cells((("D = 20", full),), "D").judge(MNIST)
    assert none.verdict == R.NOT_TESTED and none.why.startswith("not tested at any of 1 D")
    # not-worse cells: one beyond the margin is named and refutes "every"
    cells = tuple(
        (f"K = {k}", R.NotWorse(spread(m, 0.5), spread(300, 0.5), ">", 5, "eVAE", "mVAE"))
        for k, m in ((2, 301), (4, 299), (8, 280))
    )
    j = R.Cells(cells, "K").judge(MNIST)
    assert j.verdict == R.NOT_SUPPORTED
    assert "supported at 2 of 3 K, worse beyond the margin at 1, undecided at 0" in j.why
    assert "(K = 8, eVAE minus mVAE: -20.0 [" in j.why
    with pytest.raises(ValueError, match="pooled"):
        R.Cells(cells, "K", mode="pooled").judge(MNIST)


def test_words_and_a_disagreement_between_two_measures():
    up = R.Difference(spread(10, 1), spread(0, 1), ">").judge(MNIST).about("Fig. 6", "better")
    tie = R.Difference(spread(1, 1), spread(0, 1), ">").judge(MNIST).about("Fig. 6", "better")
    assert R.in_words([up, tie]) == "“better”: supported; “better”: inconclusive"
    said = R.disagreement(up, tie, "Parzen log-density", "Fréchet distance")
    assert said == (
        "On “better”, the two measures disagree: by the Parzen log-density it is supported, "
        "by the Fréchet distance inconclusive."
    )
    assert R.disagreement(up, up, "a", "b") == ""


def test_the_table_can_carry_the_verdicts_after_holm():
    strong = R.Difference(spread(10, 1), spread(0, 1), ">").judge(MNIST).about("x", "strong")
    weak = R.Difference(spread(2.3, 0.5), spread(0, 0.5), ">").judge(MNIST).about("x", "weak")
    rows = R.table_markdown([strong, weak, weak, weak], holm_column=True).splitlines()
    assert "| verdict | after Holm | the evidence |" in rows[0]
    assert "| **supported** | supported |" in rows[2]
    assert "| **supported** | inconclusive (Holm-adjusted p above the level) |" in rows[3]


def test_budgets_in_steps_print_their_thousands():
    b = R.Budget("Olivetti, 280 faces, for TFD", 900, 250_000, unit="minibatch steps")
    assert b.training == "900/250,000 minibatch steps (0.36%)"
    assert R.Budget("MNIST", 40, 3280, "epochs of the schedule").training == (
        "40/3,280 epochs of the schedule (1.2%)"
    )


def test_budgets_come_from_the_rows_of_the_table_of_scales():
    from evae_lite.book import budgets as B

    assert B.steps(280, 300, 100) == 900 and B.steps(50_000, 200, 100) == 100_000
    faces = B.budget("book", "grids", "faces")  # 300 epochs of 3 batches; TFD: 250 of 1,000
    assert (faces.dataset, faces.epochs, faces.paper_epochs) == (
        "Olivetti, 280 faces, for TFD",
        900,
        250 * B.TFD_TRAIN_IMAGES // 100,
    )
    assert faces.unit == "minibatch steps" and faces.share < 0.01
    assert str(B.budget("book", "grids")) == "MNIST, 10/200 epochs (5%)"
    lk = B.budget("book", "likelihood")  # 4 of the 8 stages: 1 + 3 + 9 + 27 epochs of 3,280
    assert (lk.epochs, lk.paper_epochs, lk.unit) == (40, 3280, B.SCHEDULE)
    small = B.budget("smoke", "figures")  # 2 epochs of the first 2,000 images
    assert small.dataset == "MNIST, first 2,000 images" and (small.epochs, small.paper_epochs) == (
        40,
        100_000,
    )
    with pytest.raises(ValueError, match="batch=0"):
        B.steps(280, 300, 0)
