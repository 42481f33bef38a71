"""The chapter after the paper's judgements, on made-up measurements whose answers are known."""

from evae_lite.book import budgets
from evae_lite.book import evidence_remedies as ER
from evae_lite.book import rules as R
from evae_lite.runs import Spread

NAMES = ["VAE", "free bits", "dropout VAE", "eVAE, y*", *ER.LEARNED]
DS = [20, 50]


def _remedies(values: dict, vae_active_20: float = 15.0) -> ER.Remedies:
    """Every (model, D) at 3 seeds of spread 0.1 around `values[model, D, q]` (default: the
    VAE's)."""
    base = {
        "active": {20: vae_active_20, 50: 30.0},
        "nll": {20: 95.0, 50: 94.0},
        "parzen": {20: 190.0, 50: 180.0},
        "fd": {20: 10.0, 50: 12.0},
    }
    R_ = ER.Remedies(NAMES, DS, 3, budget=budgets.budget("book", "remedies"))
    for n in NAMES:
        for D in DS:
            for q in base:
                m = values.get((n, D, q), base[q][D])
                R_.values[n, D, q] = Spread.of([m - 0.1, m, m + 0.1])
    return R_


def test_each_remedy_is_judged_against_the_vae_at_every_D():
    Rm = _remedies(
        {
            ("free bits", 50, "active"): 50.0,  # more units at D = 50, a tie at D = 20
            ("free bits", 20, "nll"): 90.0,  # better L_k at both D: supported
            ("free bits", 50, "nll"): 93.0,
            ("dropout VAE", 20, "active"): 15.0,
            ("dropout VAE", 50, "active"): 20.0,  # fewer units at D = 50: not supported
        }
    )
    ev = ER._verdicts(Rm)
    assert all(j.budget.training == "10/200 epochs (5%)" and j.chapter == "14" for j in ev.verdicts)
    free = Rm.answers["free bits", "active"]
    assert free.verdict == R.INCONCLUSIVE and "supported at 1 of 2 D, tied at 1" in free.why
    assert Rm.answers["free bits", "nll"].verdict == R.SUPPORTED
    drop = Rm.answers["dropout VAE", "active"]
    assert (
        drop.verdict == R.NOT_SUPPORTED
        and "reversed at 1 (D = 50, dropout VAE minus VAE" in drop.why
    )
    assert ER.supported(Rm, "nll") == ["free bits"]
    assert ER.at_some(Rm, "active") == ["free bits"]
    assert ER.with_verdict(Rm, "active", R.NOT_SUPPORTED) == ["dropout VAE"]


def test_a_D_where_the_vae_keeps_every_unit_is_not_tested_for_more_units():
    Rm = _remedies({("free bits", 50, "active"): 50.0}, vae_active_20=20.0)
    ER._verdicts(Rm)
    free = Rm.answers["free bits", "active"]
    assert free.verdict == R.SUPPORTED and "supported at 1 of 1 D" in free.why
    assert "not tested at 1: D = 20 (ceiling: the VAE keeps 20.0 of 20 units" in free.why


def test_the_evae_is_ahead_only_if_it_beats_every_remedy_at_every_D():
    Rm = _remedies(
        {
            ("eVAE, y*", 20, "parzen"): 260.0,
            ("eVAE, y*", 50, "parzen"): 270.0,
            ("dropout VAE", 20, "parzen"): 250.0,  # the strongest at D = 20, still behind
            ("eVAE, y*", 20, "nll"): 90.0,  # ahead at D = 20, behind free bits at D = 50
            ("eVAE, y*", 50, "nll"): 99.0,
            ("free bits", 50, "nll"): 92.0,
            ("eVAE, y*", 20, "fd"): 11.0,  # the features see it behind the VAE's 10 at D = 20
        }
    )
    ev = ER._verdicts(Rm)
    parzen, nll = Rm.answers["eVAE, y*", "ahead parzen"], Rm.answers["eVAE, y*", "ahead nll"]
    assert parzen.verdict == R.SUPPORTED and "supported at 6 of 6 (D, remedy)" in parzen.why
    assert parzen.measured.startswith("D = 20, dropout VAE, eVAE (y*) minus dropout VAE: +10.0 [")
    assert nll.verdict == R.NOT_SUPPORTED
    assert "reversed at 3 (D = 50, VAE, eVAE (y*) minus VAE: +5.0 [" in nll.why
    assert "D = 50, free bits refutes it" in nll.why  # the furthest behind: +7.0 nats
    fd = Rm.answers["eVAE, y*", "ahead fd"]
    assert fd.verdict == R.NOT_SUPPORTED and "second measure" in fd.where
    assert any("the two measures disagree" in n for n in ev.notes)


def test_a_learned_q_is_like_y_star_when_its_L_k_is_no_worse_and_collapse_is_one_group():
    Rm = _remedies({(n, D, "nll"): 100.0 for n in ER.LEARNED[1:] for D in DS})
    Rm.q_y = {
        (ER.LEARNED[0], 20): {"group_sizes": [0, 2000, 0, 0]},  # every image in one epitome
        (ER.LEARNED[1], 20): {"group_sizes": [1, 1999, 0, 0]},
        ("eVAE, y*", 20): {"group_sizes": [0, 5, 0, 0]},  # only learned ones are asked
    }
    ER._verdicts(Rm)
    same = Rm.answers[ER.LEARNED[0], "like y*"]
    assert same.verdict == R.SUPPORTED and "worse beyond the margin at 0" in same.why  # y*'s L_k
    worse = Rm.answers[ER.LEARNED[1], "like y*"]
    assert worse.verdict == R.NOT_SUPPORTED and "worse beyond the margin at 2" in worse.why
    cells = dict(worse.cells)
    assert "lower is better, margin 0.95 nats" in cells["D = 20"].why  # 1% of y*'s 95
    assert "wholly above the margin +0.94 nats" in cells["D = 50"].why
    assert ER.collapsed(Rm) == [(ER.LEARNED[0], 20)]
