"""The closing chapter's answer: every claim the book tests, grouped by the reader's question
it answers (`questions`), each group said in computed words (how many claims, their verdicts,
which hold and which do not, with the training behind each), and where the eVAE helps and
where it does not, by measure and by training length. Nothing here is typed: the words are
made from the judgements the chapters computed."""

from __future__ import annotations

from collections.abc import Sequence

from . import questions as Q
from .rules import (
    INCONCLUSIVE,
    NOT_SUPPORTED,
    NOT_TESTED,
    SUPPORTED,
    VERDICTS,
    Judgement,
)

SECOND = "second measure"  # in `where` of a claim's classifier-feature sibling
EVAE_QUESTIONS = (Q.UNITS, Q.GENERATION, Q.FIT)  # the eVAE for, against the VAE


def by_question(judgements: Sequence[Judgement]) -> dict[str, list[Judgement]]:
    """question -> its judgements, in `questions.QUESTIONS` order; a judgement without a
    question is an error naming its claim (every claim declares one)."""
    out: dict[str, list[Judgement]] = {q: [] for q in Q.QUESTIONS}
    for j in judgements:
        if j.question not in out:
            raise ValueError(f"claim {j.claim!r} (chapter {j.chapter}) names no question")
        out[j.question].append(j)
    return out


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def counts_words(js: Sequence[Judgement]) -> str:
    """'9 claims: 4 supported, 3 not supported, 2 inconclusive.' (verdicts with none left out)."""
    parts = [f"{sum(j.verdict == v for j in js)} {v}" for v in VERDICTS]
    parts = [p for p in parts if not p.startswith("0 ")]
    return f"{_plural(len(js), 'claim')}: {', '.join(parts) or 'none'}."


def _named(j: Judgement) -> str:
    return f"“{j.claim}” (chapter {j.chapter}; {j.budget})"


def verdict_words(js: Sequence[Judgement], verdict: str) -> str:
    """The claims that reached one verdict, named with their chapter and budget ('' if none)."""
    hit = [j for j in js if j.verdict == verdict]
    if not hit:
        return ""
    return f"{verdict.capitalize()}: " + "; ".join(_named(j) for j in hit) + "."


def measure_words(js: Sequence[Judgement]) -> str:
    """How the Parzen claims and their classifier-feature siblings fare, side by side ('' when
    no claim has a sibling)."""
    second = [j for j in js if SECOND in j.where]
    if not second:
        return ""
    first = [j for j in js if SECOND not in j.where]

    def share(group):
        tested = [j for j in group if j.verdict != NOT_TESTED]
        return f"{sum(j.verdict == SUPPORTED for j in tested)} of {len(tested)} tested"

    return (
        f"By the Parzen log-density and the paper's other measures, {share(first)} are "
        f"supported; by the Fréchet distance of a digit classifier's features, {share(second)}."
    )


def question_markdown(key: str, js: Sequence[Judgement]) -> str:
    """One question's section: its heading, the counts, the claims by verdict, the measures."""
    lines = [f"### {Q.QUESTIONS[key]}", "", counts_words(js)]
    for verdict in (SUPPORTED, NOT_SUPPORTED, INCONCLUSIVE, NOT_TESTED):
        said = verdict_words(js, verdict)
        if said:
            lines += ["", said]
    said = measure_words(js)
    if said:
        lines += ["", said]
    return "\n".join(lines)


def answer_markdown(judgements: Sequence[Judgement]) -> str:
    """Every question that has claims, in order."""
    groups = by_question(judgements)
    return "\n\n".join(question_markdown(k, js) for k, js in groups.items() if js)


def helps(judgements: Sequence[Judgement]) -> tuple[list[Judgement], list[Judgement]]:
    """The claims comparing the eVAE with the VAE (`EVAE_QUESTIONS`) that are supported, and
    those that are not supported: where the eVAE helps, and where it does not."""
    mine = [j for j in judgements if j.question in EVAE_QUESTIONS]
    return (
        [j for j in mine if j.verdict == SUPPORTED],
        [j for j in mine if j.verdict == NOT_SUPPORTED],
    )


def helps_markdown(judgements: Sequence[Judgement]) -> str:
    """Where the eVAE helps and where it does not, as two bulleted lists under bold heads."""
    yes, no = helps(judgements)
    out = []
    for head, js, none in (
        ("Where the eVAE helps (the supported claims)", yes, "no claim of this kind is supported"),
        ("Where it does not (the claims the measurements refute)", no, "none is refuted"),
    ):
        items = "\n".join(f"- {_named(j)}" for j in js) or f"- {none}"
        out.append(f"**{head}:**\n\n{items}")
    return "\n\n".join(out)


def helps_words(judgements: Sequence[Judgement]) -> dict[str, str]:
    """The glue of the answer: {'helps': ..., 'does_not': ..., 'undecided': ...}."""
    yes, no = helps(judgements)
    mine = [j for j in judgements if j.question in EVAE_QUESTIONS]
    open_ = [j for j in mine if j.verdict == INCONCLUSIVE]
    return {
        "helps": "; ".join(_named(j) for j in yes) or "no claim of this kind is supported",
        "does_not": "; ".join(_named(j) for j in no) or "no claim of this kind is refuted",
        "n_evae_claims": str(len(mine)),
        "n_helps": str(len(yes)),
        "n_does_not": str(len(no)),
        "n_undecided": str(len(open_)),
        "n_untested": str(sum(j.verdict == NOT_TESTED for j in mine)),
    }
