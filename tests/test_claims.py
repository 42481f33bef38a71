"""The chapters' claims judged by the one scheme (`rules`) on made-up grids whose answers are
known: every verdict a `rules.Judgement` with its budget, trends by their slope, counts near
the paper's within a stated tolerance, degenerate faces models not tested."""

import math
import statistics

import pytest
from scipy import stats

from evae_lite.book import budgets
from evae_lite.book import evidence_grids as G
from evae_lite.book import paper as T
from evae_lite.book import rules as R
from evae_lite.runs import Spread

MNIST = budgets.budget("book", "grids")
FACES = budgets.budget("book", "grids", "faces")


def test_spread_formats_mean_and_standard_error_across_seeds():
    s = Spread.of([29, 30, 31])
    assert s.stderr == pytest.approx(statistics.stdev([29, 30, 31]) / math.sqrt(3))
    assert f"{s:.1f}" == "30.0 ± 0.6" and str(s) == "30.0 ± 0.6 (3 seeds)"
    assert f"{Spread.of([2.5]):.2f}" == "2.50" and str(Spread.of([2.5])) == "2.5 (1 seed)"


def _row(model, D, L, H, K, parzens, actives, fd=None, used=None, groups=None):
    """A grid configuration over len(parzens) seeds, as paper.seed_means gives it."""
    n = len(parzens)
    actives = actives if isinstance(actives, (list, tuple)) else [actives] * n
    one = [
        T.Row(model, D, L, H, K, a, p, 1.0, p, 1000, fd=fd, used=used, groups=groups)
        for p, a in zip(parzens, actives)
    ]
    return T.seed_means(one)[0]


def _fig7_rows(vae_shift=0.0):
    rows = []
    for D, v, e in ((8, 280, 300), (24, 250, 310), (48, 220, 320)):
        vae_active = {8: 8, 24: 22, 48: 24}[D]
        rows.append(
            _row("VAE", D, 1, 500, None, [v + vae_shift * D + d for d in (-1, 0, 1)], vae_active)
        )
        for K in (2, 4):
            rows.append(_row("eVAE", D, 1, 500, K, [e - 5 * (K == 2) + d for d in (-1, 0, 1)], D))
            rows.append(_row("mVAE", D, 1, 500, K, [e - 8 + d for d in (-1, 0, 1)], D))
    return rows


def test_fig7_verdicts_follow_the_numbers_with_the_grids_budget():
    ev = G.epitome_size(None, _fig7_rows(), scale="book")
    assert ev.seeds == 3 and len(ev.verdicts) == 6  # no features measured: no siblings
    assert [j.verdict for j in ev.verdicts] == [R.SUPPORTED] * 6, [j.why for j in ev.verdicts]
    assert all(j.budget == MNIST and j.chapter == "9" for j in ev.verdicts)
    assert str(ev.verdicts[0].budget) == "MNIST, 10/200 epochs (5%)"
    drops = ev.verdicts[0]
    # three seeds at every D: the slope through the seeds is the slope through the means
    assert drops.rule == "trend"
    assert drops.effect.estimate == pytest.approx(R.slope((8, 24, 48), (280, 250, 220)))
    # the eVAE against the mVAE: not worse by more than 2% of the mVAE's score, at every (D, K)
    assert "supported at 6 of 6 (D, K)" in ev.verdicts[-1].why
    # a VAE that improves with D contradicts the first claim, and the best K's win over it
    flipped = G.epitome_size(None, _fig7_rows(vae_shift=3.0), scale="book").verdicts
    assert flipped[0].verdict == R.NOT_SUPPORTED
    assert [j.verdict for j in flipped[1:4]] == [R.SUPPORTED] * 3
    assert flipped[4].verdict == R.NOT_SUPPORTED and "reversed at 3" in flipped[4].why


def test_over_pruning_as_the_cause_needs_inactive_units_where_the_vae_degrades():
    """Section 5.2 blames the VAE's drop on over-pruning (22 of 24, 24 of 48 active). A VAE
    whose Parzen falls with every unit still active contradicts the cause, not the drop."""
    rows = [r for r in _fig7_rows() if r.model != "VAE"]
    for D, v in ((8, 280), (24, 250), (48, 220)):
        rows.append(_row("VAE", D, 1, 500, None, [v - 1, v, v + 1], D))  # all D active
    ev = G.epitome_size(None, rows, scale="book")
    cause = next(j for j in ev.verdicts if "due to over-pruning" in j.claim)
    drop = next(j for j in ev.verdicts if "drops" in j.claim)
    assert drop.verdict == R.SUPPORTED and cause.verdict == R.NOT_SUPPORTED, cause.why
    assert "D = 24, 48" in cause.claim
    pruned = next(
        j
        for j in G.epitome_size(None, _fig7_rows(), scale="book").verdicts
        if "due to over-pruning" in j.claim
    )
    assert pruned.verdict == R.SUPPORTED


def test_a_generation_claim_on_mnist_gets_its_sibling_on_the_classifiers_features():
    """The features say the opposite of Parzen: the sibling is judged on its own, and a
    computed sentence says that the measures disagree."""
    rows = []
    for D, v, e, fd_v, fd_e in (
        (8, 280, 300, 5.0, 6.0),
        (24, 250, 310, 6.0, 7.0),
        (48, 220, 320, 7.0, 8.0),
    ):
        rows.append(_row("VAE", D, 1, 500, None, [v - 1, v, v + 1], D // 2, fd=fd_v))
        rows.append(_row("eVAE", D, 1, 500, 4, [e - 1, e, e + 1], D, fd=fd_e))
        rows.append(_row("mVAE", D, 1, 500, 4, [e - 9, e - 8, e - 7], D, fd=fd_e))
    ev = G.epitome_size(None, rows, scale="book")
    beats = next(j for j in ev.verdicts if j.where == "Fig. 7 caption")
    sib = next(j for j in ev.verdicts if j.where == "Fig. 7 caption, second measure")
    assert beats.verdict == R.SUPPORTED and sib.verdict == R.NOT_SUPPORTED
    assert "Fréchet distance of the classifier's features" in sib.claim
    assert any(
        "the two measures disagree: by the Parzen log-density it is supported" in n
        for n in ev.notes
    )


def _seeds(model, D, L, H, parzen, active, K=None, used=None, groups=None):
    """Three seeds that differ by +-0.5 in both measures."""
    return _row(
        model,
        D,
        L,
        H,
        K,
        [parzen - 0.5, parzen, parzen + 0.5],
        [active - 0.5, active, active + 0.5],
        used=used,
        groups=groups,
    )


def test_depth_is_judged_only_where_there_are_two_depths_and_the_paper_shows_a_fall():
    """Table 1 at book has H = 1000 at one depth only: that (D, H) is left out. At D = 50 the
    paper's own VAE falls from 50 to 29 units with depth; at D = 15 it keeps 15 and 15, so a
    claim of fewer units is not the paper's there and is not tested."""
    rows = [
        _seeds("VAE", 50, 2, 500, 100.0, 10.0),
        _seeds("VAE", 50, 3, 500, 110.0, 8.0),
        _seeds("VAE", 50, 2, 1000, 101.0, 10.0),
        _seeds("VAE", 15, 2, 500, 100.0, 15.0),
        _seeds("VAE", 15, 3, 500, 110.0, 15.0),
    ]
    ev = G._complexity(rows, 15, "faces", "Table 1", FACES, T.PAPER_TABLE1)
    fewer = ev.verdicts[0]
    assert fewer.claim.startswith("With more layers L (faces), the VAE keeps fewer active units")
    assert fewer.verdict == R.SUPPORTED and "supported at 1 of 1 (D, H)" in fewer.why
    assert "D = 15, H = 500 (data: the paper's own VAE keeps 15, 15 units" in fewer.why
    assert fewer.budget.unit == "minibatch steps" and fewer.budget.training.startswith("900/")


def test_a_flat_count_is_never_fewer():
    """8 active units at L = 1, 2, 3 in every seed where the paper's counts fall (D = 48):
    'fewer with depth' is not supported there."""
    rows = [
        _row("VAE", 48, L, 500, None, [300.0 + L + d for d in (-1, 0, 1)], 8) for L in (1, 2, 3)
    ]
    fewer = G._complexity(rows, 24, "MNIST", "Table 4", MNIST, T.PAPER_TABLE4).verdicts[0]
    assert fewer.verdict == R.NOT_SUPPORTED
    assert "+0.0 [+0.0, +0.0], no change in any seed" in fewer.why
    assert "D = 48, H = 500 refutes it" in fewer.why


def test_a_reversal_in_one_of_six_cells_is_reported():
    rows = []
    for D in (24, 48):
        for L in (1, 2, 3):
            e = 280.0 if (D, L) == (48, 2) else 330.0
            rows.append(_seeds("VAE", D, L, 500, 300.0, D / 2))
            rows.append(_seeds("eVAE", D, L, 500, e, D, K=4))
    ev = G._complexity(rows, 24, "MNIST", "Table 4", MNIST, T.PAPER_TABLE4)
    wins = next(j for j in ev.verdicts if "outperforms" in j.claim)
    assert wins.verdict == R.NOT_SUPPORTED
    assert "supported at 5 of 6 (D, L, H), tied at 0, reversed at 1" in wins.why
    assert "(D = 48, L = 2, H = 500, eVAE minus VAE: -20.0 [" in wins.why
    units = next(j for j in ev.verdicts if "at least the VAE's active units" in j.claim)
    assert units.verdict == R.SUPPORTED  # all D against D / 2, within a margin of one unit


def test_degenerate_faces_models_are_not_tested_with_their_measured_reason():
    """An mVAE that sends every face to one of its ten components, and an L = 3 VAE keeping
    about one unit, are not the models the claims are about."""
    e = _seeds("eVAE", 50, 2, 500, 2000.0, 50.0, K=5, used=10.0, groups=10)
    v = _seeds("VAE", 50, 2, 500, 1900.0, 30.0)
    m = _seeds("mVAE", 50, 2, 500, 2100.0, 50.0, K=5, used=1.0, groups=10)
    assert G.degenerate(e) is None and G.degenerate(v) is None
    assert G.degenerate(m) == (
        "the mVAE at (D, L, H) = (50, 2, 500), K = 5 sends the validation images to 1.0 of its "
        "10 components (the mean over 3 seeds)"
    )
    v3 = _seeds("VAE", 50, 3, 500, 1950.0, 1.0)
    assert "keeps 1.0 of 50 units active" in G.degenerate(v3)
    ev = G._complexity(
        [v, v3, e, _seeds("eVAE", 50, 3, 500, 2050.0, 50.0, K=5)],
        15,
        "faces",
        "Table 1",
        FACES,
        T.PAPER_TABLE1,
    )
    fewer = ev.verdicts[0]
    assert (
        fewer.verdict == R.NOT_TESTED
        and "degenerate: the VAE at (D, L, H) = (50, 3, 500)" in fewer.why
    )
    wins = next(j for j in ev.verdicts if "outperforms" in j.claim)
    assert "not tested at 1: D = 50, L = 3, H = 500 (degenerate" in wins.why
    assert wins.verdict == R.SUPPORTED and "supported at 1 of 1" in wins.why


def test_the_faces_gap_of_table_3_is_a_tie_not_a_refutation():
    """Best eVAE 1883 ± 136 against best VAE 1914 ± 40 on the faces: -31 ± 142 nats holds 0
    and the paper's +191."""
    d136, d40 = 136 * math.sqrt(3), 40 * math.sqrt(3)
    rows = [
        _row("VAE", 15, 3, 500, None, [1914 - d40, 1914, 1914 + d40], 15),
        _row("eVAE", 25, 3, 500, 5, [1883 - d136, 1883, 1883 + d136], 25, used=5.0, groups=5),
    ]
    j = G.best_of_each(rows, "faces", "Table 1", FACES).verdicts[0]
    assert j.verdict == R.INCONCLUSIVE and j.paper_effect == 2371 - 2180
    assert j.effect.lo < 0 < 191 < j.effect.hi
    assert f"{j.effect.estimate:.0f} ± {j.effect.stderr:.0f}" == "-31 ± 142"
    assert j.budget == FACES


def test_table_2_trends_are_judged_by_their_slope_not_the_last_step():
    """The eVAE's -L_k at D = 50, 100, 200 (book: 91.34, 90.58, 90.33 with standard errors
    0.05, 0.18, 0.49): the last step, -0.25 ± 0.52, decides nothing; the slope through all nine
    seed values is what is judged."""

    def seeds(m, se):
        d = se * math.sqrt(3)
        return Spread.of([m - d, m, m + d])

    Ds = (50, 100, 200)
    nll = {
        ("eVAE", D): seeds(m, se) for D, m, se in zip(Ds, (91.34, 90.58, 90.33), (0.05, 0.18, 0.49))
    }
    nll |= {("VAE", D): seeds(m, 0.1) for D, m in zip(Ds, (92.4, 92.34, 92.23))}
    act = {("VAE", D): Spread.of([20, 20, 20]) for D in Ds}
    ev = G.table2(nll, act, budgets.budget("book", "likelihood"))
    vae_flat, evae_falls, count, every = ev.verdicts
    points = [(D, v) for D in Ds for v in nll["eVAE", D].values]
    ref = stats.linregress(*zip(*points))
    assert evae_falls.rule == "trend" and evae_falls.effect.estimate == pytest.approx(ref.slope)
    assert "0.25" not in evae_falls.why and "0.52" not in evae_falls.why
    assert evae_falls.paper_effect == pytest.approx(R.slope(Ds, [86.13, 85.73, 85.53]))
    lo, hi = evae_falls.effect.lo, evae_falls.effect.hi
    assert evae_falls.verdict == (R.SUPPORTED if hi < 0 else R.INCONCLUSIVE)
    assert vae_flat.rule == "flat trend (no fall)" and "does not improve" in vae_flat.claim
    assert count.verdict == R.SUPPORTED
    # at D = 200, -1.90 with a standard error of 0.50 on about 2 df: a tie, not a refutation
    assert every.verdict == R.INCONCLUSIVE and "the weakest, D = 200" in every.why
    assert str(count.budget) == "MNIST, 40/3,280 epochs of Burda et al.'s schedule (1.2%)"
    assert lo < ref.slope < hi


def test_grid_rows_carry_the_features_and_the_epitomes_used():
    """An eVAE with D = 8, K = 2 (four epitomes) whose validation images fall in two of them:
    every K-th unit's group size stands for its epitome. Seed means average both measures."""
    from evae_lite.evaluate.features import SampleFeatures
    from evae_lite.evaluate.parzen import ParzenResult
    from evae_lite.model import ModelConfig
    from evae_lite.runs import Job, JobResult, Units
    from evae_lite.train import TrainConfig

    def result(seed, fd, sizes):
        parzen = ParzenResult(0.2, 100.0 + seed, 1.0, [0.1, 0.2], [90, 99], 10, 10)
        group = [n for n in sizes for _ in range(2)]
        units = Units(8, 8, [1.0] * 8, [1.0] * 8, group_size=group)
        feats = SampleFeatures(fd, 0.5, 0.25, 0.5, 0.5, 10, 10, 5)
        return JobResult(seed, 10, 1, 100.0, 8, units=units, parzen=parzen, features=feats)

    job = Job(
        ModelConfig("evae", D=8, K=2, stride=2),
        TrainConfig(epochs=1),
        tag=dict(model="eVAE", D=8, L=1, H=500, K=2),
    )
    jobs = [job.with_seed(0), job.with_seed(1)]
    rows = T.rows(jobs, [result(0, 4.0, [30, 10, 0, 0]), result(1, 6.0, [40, 0, 0, 0])])
    assert (rows[0].fd, rows[0].used, rows[0].groups) == (4.0, 2.0, 4)
    (mean,) = T.seed_means(rows)
    assert (mean.fd, mean.used, mean.precision) == (5.0, 1.5, 0.5)
    assert mean.spread("fd").values == [4.0, 6.0]
    assert "sends the validation images to 1.5 of its 4 epitomes" in G.degenerate(mean)


def test_a_grid_with_one_D_tests_no_trend_along_D():
    """The smoke grid of Fig. 7 has D = 8 only: the trends are not tested, and say why."""
    rows = [r for r in _fig7_rows() if r.D == 8]
    ev = G.epitome_size(None, rows, scale="smoke")
    drops = ev.verdicts[0]
    assert drops.verdict == R.NOT_TESTED and drops.why == (
        "data: one D only (D = 8): no trend to fit"
    )
    assert ev.verdicts[1].verdict == R.SUPPORTED  # the count at D = 8 is still tested
    assert ev.verdicts[0].budget.dataset == "MNIST, first 1,000 images"
