"""One verdict scheme for every chapter: four verdicts read off one interval by a few typed
rules, each judgement carrying its budget.

Verdicts. A claim of the paper says an effect has a direction (a > b, a rising trend) or a
size (a count near the paper's, two models comparable). The verdict is read off the Student-t
interval of the effect across seeds (`intervals`: the seeds' degrees of freedom, LEVEL):

- SUPPORTED: the interval excludes zero on the paper's side (a "comparable" claim: the
  interval lies inside the tolerance band).
- NOT_SUPPORTED: the interval excludes the paper's own effect and is consistent with zero or
  reversed (comparable: it lies outside the band). Where the paper gives a direction but no
  number, its effect is "any amount that way": only an interval at or beyond zero on the
  other side excludes that.
- INCONCLUSIVE: neither: a tie consistent with both zero and the paper's effect, or too few
  seeds (fewer than MIN_SEEDS) for a spread to size the interval with.
- NOT_TESTED: the data or budget cannot test the claim; the reason says which.

Rules: `Difference`, `Trend` (a least-squares slope over every point, never step by step),
`Comparable` (counts near the paper's too), `NotWorse` (one-sided: "comparable or better",
"does not improve"), `FlatTrend` (a slope inside a tolerance: "changes little as D grows"),
`Cells` (one claim over several configurations, some perhaps not testable) and `NotTested`.
Each judges to a `Judgement`: the verdict, the effect and its interval, the paper's effect,
the rule, the p-values of its two tests, the budget (`Budget`: data set and
training as a share of the paper's), and a why made from the numbers that decided it.
`table_markdown`, `in_words` and `counts_by_budget` show judgements, `disagreement` says where
two measures of one claim part; `after_holm` keeps the verdicts that survive Holm's correction
over all of them; `bar` says what the level costs.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

from scipy import stats

from ..runs import Spread
from .intervals import (
    LEVEL,
    MIN_SEEDS,
    Bar,
    Interval,
    bar,
    difference,
    holm,
    holm_adjusted,
    one_sample,
    percent,
    pooled_mean,
    slope,
    slope_interval,
    t_multiplier,
    welch_df,
)

__all__ = [
    "SUPPORTED",
    "NOT_SUPPORTED",
    "INCONCLUSIVE",
    "NOT_TESTED",
    "VERDICTS",
    "LEVEL",
    "MIN_SEEDS",
    "Interval",
    "t_multiplier",
    "welch_df",
    "difference",
    "one_sample",
    "pooled_mean",
    "percent",
    "slope",
    "slope_interval",
    "holm",
    "holm_adjusted",
    "Bar",
    "bar",
    "Budget",
    "Judgement",
    "Difference",
    "Trend",
    "Comparable",
    "NotWorse",
    "FlatTrend",
    "Cells",
    "NotTested",
    "after_holm",
    "table_markdown",
    "in_words",
    "disagreement",
    "counts",
    "counts_by_budget",
]

SUPPORTED, NOT_SUPPORTED, INCONCLUSIVE, NOT_TESTED = (
    "supported",
    "not supported",
    "inconclusive",
    "not tested",
)
VERDICTS = (SUPPORTED, NOT_SUPPORTED, INCONCLUSIVE, NOT_TESTED)
DIRECTIONS = (">", "<")  # the paper says a > b (rising) or a < b (falling)
NOT_TESTED_KINDS = ("budget", "data", "degenerate", "ceiling")


def _sign(direction: str) -> int:
    if direction not in DIRECTIONS:
        raise ValueError(f"direction={direction!r} is not one of {', '.join(DIRECTIONS)}")
    return 1 if direction == ">" else -1


def _amount(x: float) -> str:
    """A count with thousands separators ('250,000'), any other number as it is ('2.5')."""
    return f"{x:,.0f}" if float(x).is_integer() else f"{x:,g}"


@dataclass(frozen=True)
class Budget:
    """What a verdict was measured with: the data set (a stand-in named as one, e.g.
    "Olivetti, 280 faces, for TFD") and the training against the paper's."""

    dataset: str
    epochs: float  # in `unit`: epochs, or minibatch steps where an epoch is not the paper's
    paper_epochs: float = 200
    unit: str = "epochs"

    def __post_init__(self):
        if not (self.epochs > 0 and self.paper_epochs > 0):
            raise ValueError(
                f"epochs={self.epochs!r}, paper_epochs={self.paper_epochs!r}: both must be > 0"
            )

    @property
    def share(self) -> float:
        """Training as a share of the paper's (1.0: the paper's own length)."""
        return self.epochs / self.paper_epochs

    @property
    def training(self) -> str:
        """'10/200 epochs (5%)', '900/250,000 minibatch steps (0.36%)': the share to two
        significant digits below 10%."""
        pct = 100 * self.share
        share = f"{pct:.0f}%" if pct >= 10 else f"{pct:.2g}%"
        return f"{_amount(self.epochs)}/{_amount(self.paper_epochs)} {self.unit} ({share})"

    def __str__(self) -> str:
        return f"{self.dataset}, {self.training}"


@dataclass(frozen=True)
class Judgement:
    """A verdict and what decided it: the effect measured (a - b, a slope, value - target) as
    an Interval, the paper's value of that effect (None: a direction only), the rule, a why
    made from the numbers, the budget, the seeds (the fewest of any input), the p-values of
    the two tests (supported; not supported), and for `Cells` each cell's own Judgement.
    `about` adds where the paper says it and the claim's words, for the tables."""

    verdict: str
    rule: str
    effect: Interval | None
    effect_name: str
    paper_effect: float | None
    why: str
    budget: Budget
    seeds: int
    p_support: float = 1.0
    p_against: float = 1.0
    unit: str = ""
    spec: str = ".1f"
    cells: tuple[tuple[str, Judgement], ...] = ()
    where: str = ""
    claim: str = ""
    chapter: str = ""
    question: str = ""  # the reader's question it answers (`questions.QUESTIONS`)

    def __post_init__(self):
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict={self.verdict!r} is not one of {', '.join(VERDICTS)}")

    def about(self, where: str, claim: str, chapter: str = "", question: str = "") -> Judgement:
        from .questions import check

        question = check(question) if question else self.question
        return dataclasses.replace(
            self, where=where, claim=claim, chapter=chapter, question=question
        )

    @property
    def p(self) -> float:
        """The p-value of the verdict reached (the smaller of the two when inconclusive)."""
        if self.verdict == SUPPORTED:
            return self.p_support
        if self.verdict == NOT_SUPPORTED:
            return self.p_against
        return min(self.p_support, self.p_against)

    @property
    def measured(self) -> str:
        """'eVAE minus VAE: +12.0 [+10.1, +13.9] nats (95%)'."""
        if self.effect is None:
            return "—"
        unit = f" {self.unit}" if self.unit else ""
        level = f" ({percent(self.effect.level)})" if self.effect.stderr is not None else ""
        return f"{self.effect_name}: {self.effect:{self.spec}}{unit}{level}"


def _seeds(*spreads: Spread) -> int:
    return min(len(s.values) for s in spreads)


def _df(iv: Interval) -> str:
    if iv.stderr == 0:
        return "zero spread across seeds"
    return f"{iv.df:.3g} df"


def _directional(iv: Interval, sign: int, paper: float | None) -> tuple[str, float, float]:
    """The verdict and the p-values (supported, not supported) of a directional effect."""
    if paper is not None and sign * paper <= 0:
        raise ValueError(
            f"paper_effect={paper!r} is not in the claim's direction ({'>' if sign > 0 else '<'}"
            " 0): give the paper's value of the effect, or None for a direction only"
        )
    o = iv.oriented(sign)
    if o.stderr is None:
        return INCONCLUSIVE, 1.0, 1.0
    p_for = o.p_beyond(0.0) if o.estimate > 0 else 1.0
    target = 0.0 if paper is None else sign * paper  # None: any amount in the direction
    if paper is None and o.stderr == 0:
        p_against = 0.0 if o.estimate <= 0 else 1.0
    else:
        p_against = o.p_beyond(target) if o.estimate < target else 1.0
    alpha = 1 - iv.level
    if p_for < alpha:  # supported comes first: short of the paper's effect refutes nothing
        return SUPPORTED, p_for, 1.0
    verdict = NOT_SUPPORTED if p_against < alpha else INCONCLUSIVE
    return verdict, p_for, p_against


def _directional_why(
    verdict: str, iv: Interval, sign: int, paper: float | None, spec: str, unit: str
) -> str:
    """Where the interval lies against 0 and the paper's effect, in numbers."""
    u = f" {unit}" if unit else ""
    p_txt = "" if paper is None else f"the paper's {paper:+{spec}}"
    if iv.stderr is None:
        return ""
    if verdict == SUPPORTED:
        side = "above" if sign > 0 else "below"
        out = f"{side} 0"
        o = iv.oriented(sign)
        if paper is not None and o.p_beyond(sign * paper) < 1 - iv.level:
            out += f", {'short of' if o.estimate < sign * paper else 'beyond'} {p_txt}{u}"
        return out
    if verdict == NOT_SUPPORTED:
        if (sign > 0 and iv.hi < 0) or (sign < 0 and iv.lo > 0):
            return (
                "reversed: "
                + ("below" if sign > 0 else "above")
                + " 0"
                + (f", far from {p_txt}{u}" if paper is not None else "")
            )
        if iv.stderr == 0:
            return "no change in any seed" + (f", against {p_txt}{u}" if paper is not None else "")
        return f"contains 0 and excludes {p_txt}{u}"
    if paper is None:
        return "contains both 0 and effects in the paper's direction"
    return f"contains both 0 and {p_txt}{u}"


def _band(iv: Interval, tol: float, spec: str, unit: str) -> tuple[str, float, float, str]:
    """A two-sided tolerance: the verdict, the p-values (inside the band; outside it) and
    where the interval lies against ±tol, in numbers."""
    inside = outside = 1.0
    off = abs(iv.estimate)
    if iv.stderr == 0:
        inside, outside = (0.0, 1.0) if off <= tol else (1.0, 0.0)
    elif iv.stderr is not None:
        inside = float(2 * stats.t.sf((tol - off) / iv.stderr, iv.df)) if off < tol else 1.0
        outside = float(2 * stats.t.sf((off - tol) / iv.stderr, iv.df)) if off > tol else 1.0
    alpha = 1 - iv.level
    verdict = SUPPORTED if inside < alpha else NOT_SUPPORTED if outside < alpha else INCONCLUSIVE
    band = f"±{tol:{spec}}{f' {unit}' if unit else ''}"
    phrase = (
        ""
        if iv.stderr is None
        else {
            SUPPORTED: f"inside {band}",
            NOT_SUPPORTED: f"outside {band}",
            INCONCLUSIVE: f"straddles the edge of {band}",
        }[verdict]
    )
    return verdict, inside, outside, phrase


def _not_worse(
    iv: Interval, sign: int, margin: float, spec: str, unit: str
) -> tuple[str, float, float, str]:
    """A one-sided tolerance: the effect is not worse than -margin on the worse side (sign +1:
    higher is better). The verdict, the p-values (within the margin; beyond it) and where the
    interval's worse end lies against the margin, in numbers."""
    if not margin >= 0:
        raise ValueError(
            f"margin={margin!r} must be >= 0 (how much worse still counts, in the unit)"
        )
    o = iv.oriented(sign)
    if o.stderr is None:
        return INCONCLUSIVE, 1.0, 1.0, ""
    p_for = o.p_beyond(-margin) if o.estimate > -margin else 1.0
    p_against = o.p_beyond(-margin) if o.estimate < -margin else 1.0
    alpha = 1 - iv.level
    verdict = SUPPORTED if p_for < alpha else NOT_SUPPORTED if p_against < alpha else INCONCLUSIVE
    edge, u = -sign * margin, f" {unit}" if unit else ""
    worse_end, other_end = (iv.lo, iv.hi) if sign > 0 else (iv.hi, iv.lo)
    side = "below" if sign > 0 else "above"
    phrase = {
        SUPPORTED: f"its worse end {worse_end:+{spec}} stays within the margin {edge:+{spec}}{u}",
        NOT_SUPPORTED: f"wholly {side} the margin {edge:+{spec}}{u} (its better end "
        f"{other_end:+{spec}})",
        INCONCLUSIVE: f"straddles the margin {edge:+{spec}}{u}",
    }[verdict]
    return verdict, p_for, p_against, phrase


@dataclass(frozen=True)
class _Test:
    """A rule's test before words: effect, verdict, p-values, seeds and the cell's phrase."""

    effect: Interval
    verdict: str
    p_support: float
    p_against: float
    seeds: int
    effect_name: str
    paper_effect: float | None
    sign: int  # +1 / -1: the paper's direction (the better side, for "not worse"); 0: a band
    phrase: str  # where the interval lies, in numbers
    shape: str = "direction"  # "direction" (Difference, Trend), "band", "not worse"


def _judgement(rule: str, t: _Test, budget: Budget, head: str, unit: str, spec: str) -> Judgement:
    return Judgement(
        t.verdict,
        rule,
        t.effect,
        t.effect_name,
        t.paper_effect,
        head + (f": {t.phrase}" if t.phrase else ""),
        budget,
        t.seeds,
        t.p_support,
        t.p_against,
        unit,
        spec,
    )


def _no_spread(names: dict[str, Spread]) -> str:
    few = [f"{k} has {len(s.values)} seed" for k, s in names.items() if s.stderr is None]
    return ", ".join(few) + ": no spread across seeds to size an interval with"


def _gap(a: Spread, b, level: float) -> tuple[Interval, int]:
    """The interval of a - b across seeds (b a Spread: two independent means; b a number:
    a against it alone) and the seeds behind it."""
    if isinstance(b, Spread):
        return difference(a, b, level), _seeds(a, b)
    return one_sample(a, b, level), len(a.values)


def _against_zero(b) -> bool:
    return not isinstance(b, Spread) and b == 0


def _minus(a_name: str, b, b_name: str) -> str:
    """The effect's name: 'a minus b', or a alone where b is the number zero."""
    return a_name if _against_zero(b) else f"{a_name} minus {b_name}"


def _pair_head(t: _Test, level: float, a_name: str, a, b_name: str, b, s: str, u: str, tail=""):
    """The head of a judgement of a against b (a Spread, or a number): the effect with its
    interval, the level and degrees of freedom, both values, then `tail`; without a spread
    to size an interval, the effect and which input lacks one."""
    iv = t.effect
    if iv.stderr is None:
        few = {a_name: a, **({b_name: b} if isinstance(b, Spread) else {})}
        return f"{t.effect_name}: {iv.estimate:+{s}}{u}, but " + _no_spread(few)
    values = f"{a_name} {a:{s}}" if _against_zero(b) else f"{a_name} {a:{s}}, {b_name} {b:{s}}"
    return f"{t.effect_name}: {iv:{s}}{u} ({percent(level)}, {_df(iv)}; {values}{tail})"


@dataclass(frozen=True)
class Difference:
    """The paper says a > b (direction ">") or a < b ("<"), each a mean over its own seeds;
    paper_effect is the paper's a - b (None: the paper gives a direction only). b may be a
    number: then a is tested against it alone (n - 1 degrees of freedom), which is also how
    a per-seed quantity is judged, e.g. each seed's gap between two of its own measures."""

    a: Spread
    b: Spread | float
    direction: str
    paper_effect: float | None = None
    a_name: str = "a"
    b_name: str = "b"
    unit: str = ""
    spec: str = ".1f"

    def test(self, level: float = LEVEL) -> _Test:
        sign = _sign(self.direction)
        iv, seeds = _gap(self.a, self.b, level)
        verdict, p_for, p_against = _directional(iv, sign, self.paper_effect)
        name = _minus(self.a_name, self.b, self.b_name)
        return _Test(
            iv,
            verdict,
            p_for,
            p_against,
            seeds,
            name,
            self.paper_effect,
            sign,
            _directional_why(verdict, iv, sign, self.paper_effect, self.spec, self.unit),
        )

    def judge(self, budget: Budget, level: float = LEVEL) -> Judgement:
        t, s, u = self.test(level), self.spec, f" {self.unit}" if self.unit else ""
        b = self.b if isinstance(self.b, Spread) else None
        n = f"{len(self.a.values)} and {len(b.values)}" if b else f"{len(self.a.values)}"
        head = _pair_head(t, level, self.a_name, self.a, self.b_name, self.b, s, u, f"; {n} seeds")
        return _judgement("difference", t, budget, head, self.unit, s)


@dataclass(frozen=True)
class Trend:
    """The paper says y rises (">") or falls ("<") along an ordered x (D, epochs): the
    least-squares slope through every seed's value at every point (`slope_interval`), judged
    like a difference, never step by step. paper_effect: the paper's slope in the same units
    (`slope` of its numbers), or None."""

    xs: tuple[float, ...]
    ys: tuple[Spread, ...]
    direction: str
    paper_effect: float | None = None
    x_name: str = "x"
    y_name: str = "y"
    unit: str = ""
    spec: str = ".2f"

    def test(self, level: float = LEVEL) -> _Test:
        sign = _sign(self.direction)
        iv = slope_interval(self.xs, self.ys, level)
        verdict, p_for, p_against = _directional(iv, sign, self.paper_effect)
        name = f"slope of {self.y_name} per unit of {self.x_name}"
        return _Test(
            iv,
            verdict,
            p_for,
            p_against,
            _seeds(*self.ys),
            name,
            self.paper_effect,
            sign,
            _directional_why(verdict, iv, sign, self.paper_effect, self.spec, self.unit),
        )

    def judge(self, budget: Budget, level: float = LEVEL) -> Judgement:
        t, s, u = self.test(level), self.spec, f" {self.unit}" if self.unit else ""
        iv, n = t.effect, sum(len(y.values) for y in self.ys)
        xs = ", ".join(f"{x:g}" for x in self.xs)
        means = " → ".join(f"{y.mean:{s}}" for y in self.ys)
        if iv.stderr is None:
            few = {f"{self.x_name} = {x:g}": y for x, y in zip(self.xs, self.ys)}
            head = f"{t.effect_name}: {iv.estimate:+{s}}{u}, but " + _no_spread(few)
        else:
            head = (
                f"{t.effect_name}: {iv:{s}}{u} ({percent(level)}, least squares through {n} seed "
                f"values at {self.x_name} = {xs}, means {means}; {_df(iv)})"
            )
        return _judgement("trend", t, budget, head, self.unit, s)


@dataclass(frozen=True)
class Comparable:
    """The paper says a is comparable to a target (another model's Spread, or a number such as
    the paper's own count) within ±tolerance: supported when the interval of a - target lies
    inside the band, not supported when it lies outside, else inconclusive. paper_effect: the
    paper's own a - target, if it reports both."""

    a: Spread
    target: Spread | float
    tolerance: float
    paper_effect: float | None = None
    a_name: str = "a"
    target_name: str = "the paper's"
    unit: str = ""
    spec: str = ".1f"

    def test(self, level: float = LEVEL) -> _Test:
        tol = self.tolerance
        if not tol >= 0:
            raise ValueError(f"tolerance={tol!r} must be >= 0 (a half-width, in the unit)")
        iv, seeds = _gap(self.a, self.target, level)
        verdict, inside, outside, phrase = _band(iv, tol, self.spec, self.unit)
        name = _minus(self.a_name, self.target, self.target_name)
        return _Test(
            iv, verdict, inside, outside, seeds, name, self.paper_effect, 0, phrase, "band"
        )

    def judge(self, budget: Budget, level: float = LEVEL) -> Judgement:
        t, s, u = self.test(level), self.spec, f" {self.unit}" if self.unit else ""
        head = _pair_head(t, level, self.a_name, self.a, self.target_name, self.target, s, u)
        return _judgement("comparable", t, budget, head, self.unit, s)


@dataclass(frozen=True)
class NotWorse:
    """The paper says a is not worse than b (another model's Spread, or a number): "comparable
    to or better", "keeps its quality", "at least the VAE's units". direction: which way is
    better (">": higher). Supported when the interval of a - b ends, on the worse side, within
    the margin (turned so that better is positive: lo > -margin); not supported when it lies
    wholly beyond it (hi < -margin); else inconclusive. "Does not improve" is the same rule
    with a and b swapped: the later model is not better than the earlier by more than the
    margin."""

    a: Spread
    b: Spread | float
    direction: str
    margin: float
    a_name: str = "a"
    b_name: str = "b"
    unit: str = ""
    spec: str = ".1f"

    def test(self, level: float = LEVEL) -> _Test:
        sign = _sign(self.direction)
        iv, seeds = _gap(self.a, self.b, level)
        verdict, p_for, p_against, phrase = _not_worse(iv, sign, self.margin, self.spec, self.unit)
        name = _minus(self.a_name, self.b, self.b_name)
        return _Test(iv, verdict, p_for, p_against, seeds, name, None, sign, phrase, "not worse")

    def judge(self, budget: Budget, level: float = LEVEL) -> Judgement:
        t, s, u = self.test(level), self.spec, f" {self.unit}" if self.unit else ""
        better = "higher" if self.direction == ">" else "lower"
        tail = f"; {better} is better, margin {self.margin:{s}}{u}"
        head = _pair_head(t, level, self.a_name, self.a, self.b_name, self.b, s, u, tail)
        return _judgement("not worse", t, budget, head, self.unit, s)


SIDES = ("both", "no rise", "no fall")


@dataclass(frozen=True)
class FlatTrend:
    """The paper says y changes little along an ordered x (side "both": the least-squares
    slope through every seed's value within ±tolerance per unit of x, judged like
    `Comparable`), or does not rise ("no rise": the slope not above +tolerance) or fall ("no
    fall": not below -tolerance), judged like `NotWorse`: "keeps its quality as D grows",
    "does not improve as D grows". tolerance is per unit of x; the why also gives it over the
    whole range of x."""

    xs: tuple[float, ...]
    ys: tuple[Spread, ...]
    tolerance: float
    side: str = "both"
    x_name: str = "x"
    y_name: str = "y"
    unit: str = ""
    spec: str = ".3f"

    def test(self, level: float = LEVEL) -> _Test:
        if self.side not in SIDES:
            raise ValueError(f"side={self.side!r} is not one of {', '.join(SIDES)}")
        tol = self.tolerance
        if not tol >= 0:
            raise ValueError(f"tolerance={tol!r} must be >= 0 (a slope per unit of x)")
        iv = slope_interval(self.xs, self.ys, level)
        if self.side == "both":
            verdict, p_for, p_against, phrase = _band(iv, tol, self.spec, self.unit)
            sign, shape = 0, "band"
        else:
            sign = 1 if self.side == "no fall" else -1
            verdict, p_for, p_against, phrase = _not_worse(iv, sign, tol, self.spec, self.unit)
            shape = "not worse"
        name = f"slope of {self.y_name} per unit of {self.x_name}"
        return _Test(
            iv, verdict, p_for, p_against, _seeds(*self.ys), name, None, sign, phrase, shape
        )

    def judge(self, budget: Budget, level: float = LEVEL) -> Judgement:
        t, s, u = self.test(level), self.spec, f" {self.unit}" if self.unit else ""
        iv, n = t.effect, sum(len(y.values) for y in self.ys)
        xs = ", ".join(f"{x:g}" for x in self.xs)
        means = " → ".join(f"{y.mean:{s}}" for y in self.ys)
        span = max(self.xs) - min(self.xs)
        mark = {"both": "±", "no rise": "+", "no fall": "-"}[self.side]
        tol, over = f"{mark}{self.tolerance:{s}}", f"{mark}{self.tolerance * span:{s}}"
        if iv.stderr is None:
            few = {f"{self.x_name} = {x:g}": y for x, y in zip(self.xs, self.ys)}
            head = f"{t.effect_name}: {iv.estimate:+{s}}{u}, but " + _no_spread(few)
        else:
            head = (
                f"{t.effect_name}: {iv:{s}}{u} ({percent(level)}, least squares through {n} seed "
                f"values at {self.x_name} = {xs}, means {means}; {_df(iv)}; tolerance {tol}{u} "
                f"per unit of {self.x_name}, {over}{u} over {self.x_name} = {min(self.xs):g} to "
                f"{max(self.xs):g})"
            )
        return _judgement(f"flat trend ({self.side})", t, budget, head, self.unit, s)


CELLS_MODES = ("every", "pooled")


@dataclass(frozen=True)
class Cells:
    """One claim tested on several cells (configurations), each cell a (label, rule) pair; a
    cell whose rule is `NotTested` (e.g. the D where the VAE keeps all its units, so no model
    can keep more) is left out of the test and named with its reason.

    mode "every" (the paper says it holds at every cell): supported when every tested cell is
    supported (an intersection-union test: its level needs no correction); not supported when
    the test against the paper's effect of some cell that is not itself supported survives
    Holm's correction over the cells (a cell in the paper's direction but short of its
    effect supports the claim, as one Difference would);
    else inconclusive. mode "pooled" (it holds on the whole): the mean over cells of the
    effects, each turned to its cell's direction, with the Welch-Satterthwaite degrees of
    freedom, judged like a difference against the mean paper effect (directional rules only).
    Either way the why counts the cells supported, tied and against (reversed, outside the
    band, worse beyond the margin) and names each cell against. No cell tested: not tested.
    """

    cells: tuple[
        tuple[str, Difference | Trend | Comparable | NotWorse | FlatTrend | NotTested], ...
    ]
    over: str = "cells"  # what a cell is, e.g. "(D, L, H)"
    mode: str = "every"

    def judge(self, budget: Budget, level: float = LEVEL) -> Judgement:
        if self.mode not in CELLS_MODES:
            raise ValueError(f"mode={self.mode!r} is not one of {', '.join(CELLS_MODES)}")
        if not self.cells:
            raise ValueError("cells is empty: give one (label, rule) pair per cell")
        judged = tuple((label, rule.judge(budget, level)) for label, rule in self.cells)
        untested = [(label, r) for label, r in self.cells if isinstance(r, NotTested)]
        live = [(label, r) for label, r in self.cells if not isinstance(r, NotTested)]
        skipped = "; ".join(f"{label} ({r.kind}: {r.reason})" for label, r in untested)
        if not live:
            why = f"not tested at any of {len(self.cells)} {self.over}: {skipped}"
            rule = f"cells ({self.mode})"
            return Judgement(NOT_TESTED, rule, None, "", None, why, budget, 0, cells=judged)
        labels = [label for label, _ in live]
        tests = [rule.test(level) for _, rule in live]
        m, alpha = len(tests), 1 - level
        first = next(j for _, j in judged if j.verdict != NOT_TESTED)
        spec, unit = first.spec, first.unit

        def cell(k: int) -> str:  # 'D = 24, eVAE minus VAE: -8.0 [-11.9, -4.1]'
            return f"{labels[k]}, {tests[k].effect_name}: {tests[k].effect:{spec}}"

        kinds = [_cell_kind(t) for t in tests]
        against = [k for k in range(m) if kinds[k] in ("reversed", "outside", "worse")]
        lone = [k for k in range(m) if kinds[k] == "lone"]
        tied = kinds.count("tied") + len(lone)
        head = f"supported at {kinds.count(SUPPORTED)} of {m} {self.over}, "
        shapes = {t.shape for t in tests}
        if "direction" in shapes:
            head += f"tied at {tied}, reversed at {kinds.count('reversed')}"
        elif "not worse" in shapes:
            head += f"worse beyond the margin at {kinds.count('worse')}, undecided at {tied}"
        else:
            head += f"outside the band at {kinds.count('outside')}, undecided at {tied}"
        if against:
            head += " (" + "; ".join(cell(k) for k in against) + ")"
        if lone:
            head += "; no spread across seeds at " + ", ".join(
                f"{labels[k]} ({tests[k].seeds} seed)" for k in lone
            )
        if untested:
            head += f"; not tested at {len(untested)}: {skipped}"
        if self.mode == "every":
            adj = holm_adjusted([t.p_against for t in tests])
            p_for, p_against = max(t.p_support for t in tests), min(adj)
            refuted = any(holm([t.p_against for t in tests], level))
            verdict = SUPPORTED if p_for < alpha else NOT_SUPPORTED if refuted else INCONCLUSIVE
            weakest = max(range(m), key=lambda i: tests[i].p_support)
            nearest = min(range(m), key=lambda i: adj[i])
            k = nearest if verdict == NOT_SUPPORTED else weakest
            if verdict == NOT_SUPPORTED:
                tail = f"{labels[k]} refutes it at Holm-adjusted p = {adj[k]:.2g} over {m} cells"
                tail += "" if k in against else f" ({cell(k)}, {tests[k].phrase})"
            else:
                tail = f"the weakest, {cell(k)}" + (
                    f", {tests[k].phrase}" if tests[k].phrase else ", no spread across seeds"
                )
            effect, paper = tests[k].effect, tests[k].paper_effect
            name = f"{labels[k]}, {tests[k].effect_name}"
        else:
            if shapes != {"direction"}:
                raise ValueError("mode='pooled' needs directional cells (Difference, Trend)")
            effect = pooled_mean([t.effect.oriented(t.sign) for t in tests], level)
            papers = [t.sign * t.paper_effect for t in tests if t.paper_effect is not None]
            paper = sum(papers) / m if len(papers) == m else None
            verdict, p_for, p_against = _directional(effect, 1, paper)
            name = f"mean over {m} {self.over}, each in the paper's direction"
            phrase = _directional_why(verdict, effect, 1, paper, spec, unit)
            tail = f"{name}: {effect:{spec}}" + (f", {phrase}" if phrase else "")
        seeds = min(t.seeds for t in tests)
        return Judgement(
            verdict,
            f"cells ({self.mode})",
            effect,
            name,
            paper,
            f"{head}; {tail}",
            budget,
            seeds,
            p_for,
            p_against,
            unit,
            spec,
            judged,
        )


def _cell_kind(t: _Test) -> str:
    """supported, reversed (directional, the interval beyond 0 the other way), outside (a
    band, the interval outside it), worse (not worse, the interval beyond the margin), lone
    (no spread across seeds: a tie in the counts) or tied."""
    if t.effect.stderr is None:
        return "lone"
    if t.verdict == SUPPORTED:
        return SUPPORTED
    if t.shape == "direction" and t.effect.oriented(t.sign).hi < 0:
        return "reversed"
    if t.shape == "band" and t.verdict == NOT_SUPPORTED:
        return "outside"
    if t.shape == "not worse" and t.verdict == NOT_SUPPORTED:
        return "worse"
    return "tied"


@dataclass(frozen=True)
class NotTested:
    """A claim this book cannot test: kind "budget" (training or measurement too short),
    "data" (a stand-in data set, or nothing of the kind to measure), "degenerate" (the model
    measured is not the one the claim is about, e.g. one mixture component used), or "ceiling"
    (the reference is at the measure's limit: no model can keep more than all its units);
    `reason` says which, in numbers."""

    kind: str
    reason: str

    def judge(self, budget: Budget, level: float = LEVEL) -> Judgement:
        if self.kind not in NOT_TESTED_KINDS:
            raise ValueError(f"kind={self.kind!r} is not one of {', '.join(NOT_TESTED_KINDS)}")
        if not self.reason.strip():
            raise ValueError("reason is empty: say what rules the test out, with its numbers")
        why = f"{self.kind}: {self.reason}"
        return Judgement(NOT_TESTED, f"not tested ({self.kind})", None, "", None, why, budget, 0)


def after_holm(judgements: Sequence[Judgement], level: float = LEVEL) -> list[Judgement]:
    """The judgements again, each supported or not-supported verdict kept only if its p-value
    survives Holm's correction over every tested judgement (not-tested ones are no test);
    one that does not becomes inconclusive, its why saying its adjusted p-value."""
    tested = [i for i, j in enumerate(judgements) if j.verdict != NOT_TESTED]
    adj = dict(zip(tested, holm_adjusted([judgements[i].p for i in tested])))
    out = []
    for i, j in enumerate(judgements):
        if j.verdict in (SUPPORTED, NOT_SUPPORTED) and adj[i] > 1 - level:
            why = (
                f"{j.why}; {j.verdict} alone (p = {j.p:.2g}), but Holm-adjusted p = "
                f"{adj[i]:.2g} over {len(tested)} claims"
            )
            j = dataclasses.replace(j, verdict=INCONCLUSIVE, why=why)
        out.append(j)
    return out


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def table_markdown(
    judgements: Sequence[Judgement],
    chapters: bool = False,
    holm_column: bool = False,
    claim_header: str = "the paper's claim",
) -> str:
    """The judgements as a Markdown table a page can hold: where, the claim, the verdict, the
    evidence that decided it (the effect with its interval and the numbers behind it: `why`),
    the paper's own effect, and what it was trained on (data set, training against the
    paper's, seeds); the chapter first, if asked, and, if asked, each verdict after Holm's
    correction over every tested judgement of the table (`after_holm`) beside the verdict."""
    head = ["where", claim_header, "verdict", "the evidence", "the paper's", "trained on"]
    if chapters:
        head.insert(0, "chapter")
    if holm_column:
        head.insert(head.index("verdict") + 1, "after Holm")
        held = after_holm(judgements)
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for i, j in enumerate(judgements):
        paper = "—" if j.paper_effect is None else f"{j.paper_effect:+{j.spec}}"
        seeds = f"; {j.seeds} seed{'s' if j.seeds != 1 else ''}" if j.seeds else ""
        cells = [j.where, j.claim, f"**{j.verdict}**", j.why, paper, f"{j.budget}{seeds}"]
        if chapters:
            cells.insert(0, j.chapter)
        if holm_column:
            h = held[i]
            adjusted = "" if h.verdict == j.verdict else " (Holm-adjusted p above the level)"
            cells.insert(cells.index(f"**{j.verdict}**") + 1, h.verdict + adjusted)
        lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    return "\n".join(lines)


def in_words(judgements: Sequence[Judgement]) -> str:
    """The verdicts as one sentence's worth of text: '“claim”: verdict; ...'."""
    return "; ".join(f"“{j.claim}”: {j.verdict}" for j in judgements)


def disagreement(first: Judgement, second: Judgement, first_name: str, second_name: str) -> str:
    """A sentence saying that two measures of one claim give different verdicts (e.g. the
    Parzen log-density and the Fréchet distance of a classifier's features), or ''."""
    if first.verdict == second.verdict:
        return ""
    return (
        f"On “{first.claim}”, the two measures disagree: by the {first_name} it is "
        f"{first.verdict}, by the {second_name} {second.verdict}."
    )


def counts(judgements: Sequence[Judgement]) -> dict[tuple[str, str], dict[str, int]]:
    """(data set, training) -> verdict -> how many judgements, in first-seen order."""
    out: dict[tuple[str, str], dict[str, int]] = {}
    for j in judgements:
        row = out.setdefault((j.budget.dataset, j.budget.training), dict.fromkeys(VERDICTS, 0))
        row[j.verdict] += 1
    return out


def counts_by_budget(judgements: Sequence[Judgement]) -> str:
    """A Markdown table of the verdicts' counts for each budget, and the total."""
    rows = counts(judgements)
    lines = ["| data | training | " + " | ".join(VERDICTS) + " |", "|" + " --- |" * 6]
    for (data, training), c in rows.items():
        lines.append(f"| {_cell(data)} | {training} | " + " | ".join(str(c[v]) for v in VERDICTS))
    total = [sum(c[v] for c in rows.values()) for v in VERDICTS]
    lines.append("| all | | " + " | ".join(map(str, total)))
    return "\n".join(line if line.endswith("|") else line + " |" for line in lines)
