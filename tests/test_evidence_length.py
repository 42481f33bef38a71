"""The training-length chapter's numbers on made-up measurements."""

import pytest

from evae_lite.book import evidence_length as EL
from evae_lite.runs import Aggregate, Spread


def test_settled_is_the_first_epoch_within_one_unit_of_the_end_for_good():
    assert EL.settled([48, 30, 25, 24, 24, 24]) == 3  # 25 is within one of 24
    assert EL.settled([48, 30, 24, 30, 24]) == 5  # a late excursion resets it
    assert EL.settled([8, 8, 8]) == 1
    assert EL.settled([10, 7, 9, 9], within=0) == 3


def test_regained_is_the_largest_rise_over_a_low_after_a_fall():
    assert EL.regained([48, 30, 24, 24]) == 0  # only falls
    assert EL.regained([48, 20, 26, 22, 25]) == 6  # 20 -> 26
    assert EL.regained([5, 9]) == 0  # a rise from the start, before any fall: not a regain


def _agg(parzen, iwae, active, fd=(1.0, 2.0), recall=None):
    return Aggregate(
        seeds=[0, 1],
        val_bound=Spread.of([100.0, 101.0]),
        active=Spread.of(active),
        parzen=Spread.of(parzen),
        iwae=Spread.of(iwae),
        fd=Spread.of(fd),
        recall=None if recall is None else Spread.of(recall),
    )


def _evidence():
    cells = {
        ("VAE", 1, 10): _agg([200.0, 210.0], [-100.0, -102.0], [24, 24]),
        ("eVAE", 1, 10): _agg([300.0, 320.0], [-110.0, -112.0], [48, 46]),
    }
    runs = {("VAE", 1): [[48, 30, 24], [48, 26, 25]], ("eVAE", 1): [[48, 48, 48], [48, 40, 46]]}
    return EL.LengthEvidence(48, 500, [1], [10], 2, cells, runs)


def test_gaps_are_evae_minus_vae_and_nll_is_minus_lk():
    ev = _evidence()
    assert ev.value("VAE", 1, 10, "nll").mean == pytest.approx(101.0)
    assert ev.gap(1, 10, "parzen").estimate == pytest.approx(105.0)
    assert ev.gap(1, 10, "nll").estimate == pytest.approx(10.0)  # the eVAE's -L_k: 10 nats worse
    # standard error of a difference of two independent means (5 and 10 nats here)
    assert ev.gap(1, 10, "parzen").stderr == pytest.approx((5.0**2 + 10.0**2) ** 0.5)
    with pytest.raises(ValueError, match="'recall' was not measured"):
        ev.value("VAE", 1, 10, "recall")


def test_the_paper_gap_is_table_4s_evae_minus_vae():
    ev = _evidence()
    assert ev.paper("VAE", 1) == (213, 24) and ev.paper("eVAE", 1) == (319, 48)
    assert ev.paper_gap(1, "parzen") == 106 and ev.paper_gap(1, "active") == 24
    assert ev.paper_gap(1, "fd") is None  # the paper reports no such measure


def test_active_by_epoch_and_the_sentence_carry_the_histories():
    ev = _evidence()
    a = ev.active_by_epoch["VAE", 1]
    assert [s.mean for s in a] == [48.0, 28.0, 24.5]
    words = EL.unit_history_words(ev)["units_words"]
    assert "The VAE at $L = 1$ ends with 24.5 ± 0.5 active units of 48" in words
    # the later of the two runs: [48, 30, 24] settles at epoch 3 ([48, 26, 25] at 2)
    assert (
        "VAE at $L = 1$ ends with 24.5 ± 0.5 active units of 48; every run stays within "
        "one unit of its final count from epoch 3 on" in words
    )
    assert "regains after a fall is 6" in words  # the eVAE's second run: 40 -> 46


def test_verdicts_are_judged_by_the_one_scheme_with_their_budget():
    from evae_lite.book import rules

    ev = _evidence()
    js = {(j.where, j.claim[-40:]): j for j in EL.verdicts(ev)}
    assert all(j.question and j.chapter == "14" for j in js.values())
    parzen = next(j for j in js.values() if "Parzen" in j.claim)
    # +105 over two seeds each (standard errors 5 and 10): above 0, the paper's +106 inside
    assert parzen.verdict == rules.SUPPORTED and parzen.paper_effect == 106
    assert parzen.budget.training == "10/200 epochs (5%)"
    fd = next(j for j in js.values() if "Fréchet" in j.claim)
    assert fd.verdict == rules.INCONCLUSIVE  # the same distances: a tie
    dead = next(j for j in js.values() if "never used again" in j.claim)
    assert dead.verdict == rules.SUPPORTED  # the VAE's runs only fall
    ev.active_runs["VAE", 1] = [[48, 20, 26], [48, 21, 27], [48, 19, 25]]
    dead = next(j for j in EL.verdicts(ev) if "never used again" in j.claim)
    assert dead.verdict == rules.NOT_SUPPORTED  # each run regains six units
    # the eVAE's -L_k is 10 nats worse (a larger -L_k) in both seeds: it does not generalize
    # better; its recall was not measured here: not tested
    better = next(j for j in js.values() if j.where == "abstract")
    assert better.verdict == rules.NOT_SUPPORTED and "VAE minus eVAE" in better.why
    diverse = next(j for j in js.values() if "more diverse" in j.claim)
    assert diverse.verdict == rules.NOT_TESTED


def test_recall_claim_reads_the_measured_recall():
    from evae_lite.book import rules

    ev = _evidence()
    ev.cells["VAE", 1, 10] = _agg([200.0, 210.0], [-100.0, -102.0], [24, 24], recall=[0.5, 0.52])
    ev.cells["eVAE", 1, 10] = _agg([300.0, 320.0], [-110.0, -112.0], [48, 46], recall=[0.3, 0.31])
    diverse = next(j for j in EL.verdicts(ev) if "more diverse" in j.claim)
    assert diverse.verdict == rules.NOT_SUPPORTED  # a lower recall, beyond its interval


@pytest.mark.parametrize(
    "runs, verdict",
    [
        # 20 epochs: the first tenth is 2 epochs; all the pruning is done by then
        ([[48, 25] + [24] * 18, [48, 24] + [24] * 18, [48, 24] + [24] * 18], "supported"),
        # half of the pruning comes after epoch 2, in every run
        ([[48, 36] + [24] * 18, [48, 37] + [25] * 18, [48, 36] + [24] * 18], "not supported"),
    ],
)
def test_units_die_early_reads_the_share_of_pruning_done_in_the_first_tenth(runs, verdict):
    ev = _evidence()
    ev.active_runs["VAE", 1] = runs
    early = next(j for j in EL.verdicts(ev) if "die early" in j.claim)
    assert early.verdict == verdict, early.why
    assert "by epoch 2 of 20" in early.claim or "(epoch 2 of 20)" in early.claim
    assert EL.pruned_by([48, 36, 24], 2, 48) == pytest.approx(0.5)
    assert EL.pruned_by([48, 48, 48], 2, 48) == 1.0  # nothing pruned: nothing left to do


def test_gap_words_carry_the_interval():
    words = EL.gap_words(_evidence(), "parzen")
    assert list(words) == ["parzen_gap_1_first", "parzen_gap_1_last"]  # one count: the same
    assert words["parzen_gap_1_first"].startswith("+105 [")


def test_change_words_name_the_verdicts_that_move():
    import dataclasses

    from evae_lite.book import rules

    j10 = EL.verdicts(_evidence())[0]
    j200 = dataclasses.replace(
        j10, verdict=rules.INCONCLUSIVE, budget=rules.Budget("MNIST", 200, 200)
    )
    words = EL.change_words([j10, j200])
    assert "is supported after 10 epochs and inconclusive after 200" in words
    assert EL.change_words([j10, j10]).startswith("No verdict")


def test_regained_counts_rises_after_a_fall_not_the_first_rise():
    assert EL.regained([20, 28, 40, 46]) == 0  # units becoming active for the first time
    assert EL.regained([22, 28, 11, 16, 6, 11, 7]) == 5  # after the fall from 28: 11 -> 16
    assert EL.regained([48, 40, 46, 47]) == 7
    assert EL.regained([48, 48, 48]) == 0
