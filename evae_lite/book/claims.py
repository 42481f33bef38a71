"""The paper's quantitative claims, each with what this book measured and a verdict.

A verdict is computed from results over seeds: `compare` says whether one quantity exceeds
another by more than two standard errors of their difference (across seeds), and a claim
tested with fewer than `MIN_SEEDS` seeds is "not tested at this scale", whatever the numbers
say, since the spread between retrainings is what a conclusion has to beat.

The chapters are moving to `rules` (issue 26: one verdict scheme, Student-t intervals with the
seeds' degrees of freedom); this module serves them until each has moved.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..runs import Spread

SUPPORTED, PARTLY, NOT_SUPPORTED, NOT_TESTED = (
    "supported",
    "partly",
    "not supported",
    "not tested at this scale",
)
VERDICTS = (SUPPORTED, PARTLY, NOT_SUPPORTED, NOT_TESTED)
MIN_SEEDS = 3  # fewer seeds than this: no verdict


@dataclass(frozen=True)
class Comparison:
    """a - b across seeds: the gap, the standard error of the gap, and its sign in words
    (">" or "<" when beyond two standard errors, "~" when within)."""

    gap: float
    stderr: float | None
    seeds: int

    @property
    def sign(self) -> str:
        if self.stderr is None:
            return "?"
        if self.gap > 2 * self.stderr:
            return ">"
        if self.gap < -2 * self.stderr:
            return "<"
        return "~"

    def __format__(self, spec: str) -> str:
        spec = spec or ".1f"
        if self.stderr is None:
            return f"{self.gap:+{spec}}"
        return f"{self.gap:+{spec}} ± {self.stderr:{spec}}"


def compare(a: Spread, b: Spread) -> Comparison:
    """a - b, with the standard error of the difference of two independent means (each
    configuration is trained on its own seeds); None for a single seed."""
    se = None
    if a.stderr is not None and b.stderr is not None:
        se = math.sqrt(a.stderr**2 + b.stderr**2)
    return Comparison(a.mean - b.mean, se, min(len(a.values), len(b.values)))


@dataclass(frozen=True)
class Verdict:
    """One claim of the paper: where it is made, what it says, what we measured (with seeds),
    the verdict (one of VERDICTS) and why."""

    where: str
    claim: str
    measured: str  # means over seeds, ± the standard error across them
    seeds: int
    verdict: str
    reason: str
    chapter: str = ""

    def __post_init__(self):
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict={self.verdict!r} is not one of {', '.join(VERDICTS)}")


def judge(
    where: str,
    claim: str,
    measured: str,
    seeds: int,
    verdict: str,
    reason: str,
    chapter: str = "",
) -> Verdict:
    """A Verdict, unless there are fewer than MIN_SEEDS seeds: then "not tested at this
    scale", with the measured value kept and the reason saying why."""
    if seeds < MIN_SEEDS:
        n = f"{seeds} seed{'s' if seeds != 1 else ''}"
        verdict, reason = NOT_TESTED, f"{n}: too few to tell a difference from retraining noise"
    return Verdict(where, claim, measured, seeds, verdict, reason, chapter)


def table_markdown(
    verdicts: list[Verdict], chapters: bool = False, claim_header: str = "the paper's claim"
) -> str:
    """The verdicts as a Markdown table (with a column for the chapter, if asked)."""
    head = ["where", claim_header, "measured here", "seeds", "verdict", "why"]
    if chapters:
        head.insert(0, "chapter")
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for v in verdicts:
        cells = [v.where, v.claim, v.measured, str(v.seeds), f"**{v.verdict}**", v.reason]
        if chapters:
            cells.insert(0, v.chapter)
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines)


def in_words(verdicts: list[Verdict]) -> str:
    """The verdicts as one sentence's worth of text: '"claim": verdict; ...'."""
    return "; ".join(f"“{v.claim}”: {v.verdict}" for v in verdicts)


def show(verdicts: list[Verdict], scale_name: str, caption: str = "") -> None:
    """Display a chapter's verdicts under a header naming the scale."""
    from IPython.display import Markdown, display

    text = (
        f"**The paper's claims tested in this chapter (scale={scale_name}).** Measured: the mean "
        f"over seeds ± the standard error across seeds. {caption}\n\n"
    )
    display(Markdown(text + table_markdown(verdicts)))
