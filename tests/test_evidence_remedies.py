"""The chapter after the paper's verdicts, on made-up measurements whose answers are known."""

from evae_lite.book import evidence_remedies as ER
from evae_lite.book.claims import NOT_SUPPORTED, PARTLY, SUPPORTED
from evae_lite.runs import Spread

NAMES = ["VAE", "free bits", "dropout VAE", "eVAE, y*", *ER.LEARNED]
DS = [20, 50]


def _remedies(values: dict) -> ER.Remedies:
    """Every (model, D) at 3 seeds of spread 0.1 around `values[model, D, q]` (default: the
    VAE's)."""
    base = {
        "active": {20: 20.0, 50: 30.0},
        "nll": {20: 95.0, 50: 94.0},
        "parzen": {20: 190.0, 50: 180.0},
    }
    R = ER.Remedies(NAMES, DS, 3)
    for n in NAMES:
        for D in DS:
            for q in base:
                m = values.get((n, D, q), base[q][D])
                R.values[n, D, q] = Spread.of([m - 0.1, m, m + 0.1])
    return R


def test_each_remedy_is_judged_against_the_vae_at_every_D():
    R = _remedies(
        {
            ("free bits", 50, "active"): 50.0,  # more units at D = 50 only: partly
            ("free bits", 20, "nll"): 90.0,  # better L_k at both D: supported
            ("free bits", 50, "nll"): 93.0,
            ("dropout VAE", 20, "active"): 20.0,
            ("dropout VAE", 50, "active"): 20.0,  # fewer units: not supported
        }
    )
    ER._verdicts(R)
    assert R.answers["free bits", "active"].verdict == PARTLY
    assert "at D = 20 the VAE keeps all its units" in R.answers["free bits", "active"].reason
    assert R.answers["free bits", "nll"].verdict == SUPPORTED
    assert R.answers["dropout VAE", "active"].verdict == NOT_SUPPORTED
    assert ER.supported(R, "nll") == ["free bits"]
    assert ER.with_verdict(R, "active", PARTLY) == ["free bits"]


def test_the_evae_is_ahead_only_if_it_beats_the_strongest_remedy_at_every_D():
    R = _remedies(
        {
            ("eVAE, y*", 20, "parzen"): 260.0,
            ("eVAE, y*", 50, "parzen"): 270.0,
            ("dropout VAE", 20, "parzen"): 250.0,  # the strongest at D = 20, still behind
            ("eVAE, y*", 20, "nll"): 90.0,  # ahead at D = 20, behind free bits at D = 50
            ("eVAE, y*", 50, "nll"): 99.0,
            ("free bits", 50, "nll"): 92.0,
        }
    )
    ER._verdicts(R)
    parzen, nll = R.answers["eVAE, y*", "ahead parzen"], R.answers["eVAE, y*", "ahead nll"]
    assert parzen.verdict == SUPPORTED
    assert "D = 20: against the strongest, dropout VAE, +10.0" in parzen.measured
    assert "D = 50: against the strongest, VAE, +90.0" in parzen.measured
    assert nll.verdict == PARTLY
    assert "D = 50: against the strongest, free bits, +7.0" in nll.measured


def test_a_learned_q_is_like_y_star_when_its_L_k_is_no_worse_and_collapse_is_one_group():
    R = _remedies({(n, D, "nll"): 100.0 for n in ER.LEARNED[1:] for D in DS})
    R.q_y = {
        (ER.LEARNED[0], 20): {"group_sizes": [0, 2000, 0, 0]},  # every image in one epitome
        (ER.LEARNED[1], 20): {"group_sizes": [1, 1999, 0, 0]},
        ("eVAE, y*", 20): {"group_sizes": [0, 5, 0, 0]},  # only learned ones are asked
    }
    ER._verdicts(R)
    assert R.answers[ER.LEARNED[0], "like y*"].verdict == SUPPORTED  # the same L_k as y*
    assert R.answers[ER.LEARNED[1], "like y*"].verdict == NOT_SUPPORTED
    assert ER.collapsed(R) == [(ER.LEARNED[0], 20)]
