"""The closing chapter's answer is made from the judgements alone: grouped by question,
counted, named with their chapter and budget, and split into where the eVAE helps and where it
does not."""

import pytest

from evae_lite.book import answer as A
from evae_lite.book import questions as Q
from evae_lite.book import rules as R
from evae_lite.runs import Spread

BUDGET = R.Budget("MNIST", 10, 200)


def _j(a, b, claim, question, where="Fig. 6", chapter="8"):
    """A difference judged from made-up seeds: a - b over three seeds each."""
    rule = R.Difference(Spread.of([a - 1, a, a + 1]), Spread.of([b - 1, b, b + 1]), ">")
    return rule.judge(BUDGET).about(where, claim, chapter, question)


def _table():
    return [
        _j(10, 0, "the eVAE generates better at D = 20", Q.GENERATION),
        _j(10, 0, "the eVAE generates better at D = 20", Q.GENERATION, "Fig. 6, second measure"),
        _j(0, 10, "the eVAE generates better at D = 48", Q.GENERATION),
        _j(0, 10, "the eVAE generates better at D = 48", Q.GENERATION, "Fig. 6, second measure"),
        _j(0.5, 0, "the eVAE reconstructs as well", Q.FIT, chapter="9"),
        _j(10, 0, "the VAE prunes units", Q.PRUNING, chapter="2"),
    ]


def test_the_verdicts_are_what_the_numbers_say():
    v = [j.verdict for j in _table()]
    assert v == [
        R.SUPPORTED,
        R.SUPPORTED,
        R.NOT_SUPPORTED,
        R.NOT_SUPPORTED,
        R.INCONCLUSIVE,
        R.SUPPORTED,
    ]


def test_claims_are_grouped_by_question_in_the_questions_order():
    groups = A.by_question(_table())
    assert list(groups) == list(Q.QUESTIONS)
    assert [len(groups[k]) for k in (Q.PRUNING, Q.GENERATION, Q.FIT, Q.UNITS)] == [1, 4, 1, 0]
    md = A.answer_markdown(_table())
    # only the questions that have claims, each under its own heading, in order
    heads = [line for line in md.splitlines() if line.startswith("### ")]
    assert heads == [f"### {Q.QUESTIONS[k]}" for k in (Q.PRUNING, Q.GENERATION, Q.FIT)]


def test_a_claim_without_a_question_is_refused_by_name():
    j = _j(1, 0, "an orphan", Q.FIT)
    orphan = R.Judgement(**{**j.__dict__, "question": ""})
    with pytest.raises(ValueError, match="'an orphan'.*names no question"):
        A.by_question([orphan])
    with pytest.raises(ValueError, match="question='why' is not one of pruning"):
        j.about("x", "y", question="why")


def test_words_count_and_name_the_claims_with_their_chapter_and_budget():
    gen = A.by_question(_table())[Q.GENERATION]
    assert A.counts_words(gen) == "4 claims: 2 supported, 2 not supported."
    said = A.verdict_words(gen, R.NOT_SUPPORTED)
    assert said.startswith("Not supported: “the eVAE generates better at D = 48” (chapter 8; ")
    assert "MNIST, 10/200 epochs (5%)" in said
    assert A.verdict_words(gen, R.INCONCLUSIVE) == ""
    # Parzen and the classifier's features, each over its own claims
    assert A.measure_words(gen) == (
        "By the Parzen log-density and the paper's other measures, 1 of 2 tested are "
        "supported; by the Fréchet distance of a digit classifier's features, 1 of 2 tested."
    )
    assert A.measure_words(A.by_question(_table())[Q.FIT]) == ""


def test_helps_splits_the_evae_claims_by_verdict_and_leaves_the_vae_alone():
    yes, no = A.helps(_table())
    assert [j.claim for j in yes] == ["the eVAE generates better at D = 20"] * 2
    assert [j.claim for j in no] == ["the eVAE generates better at D = 48"] * 2
    words = A.helps_words(_table())
    assert words["n_evae_claims"] == "5" and words["n_undecided"] == "1"
    assert "the VAE prunes units" not in words["helps"]
    assert A.helps_words(_table()[-1:])["helps"] == "no claim of this kind is supported"


def test_helps_markdown_lists_each_side_as_bullets():
    md = A.helps_markdown(_table())
    helps, does_not = md.split("\n\n**Where it does not")
    assert helps.count("\n- “the eVAE generates better at D = 20”") == 2
    assert does_not.count("\n- “the eVAE generates better at D = 48”") == 2
    assert "- none is refuted" in A.helps_markdown(_table()[:2])
