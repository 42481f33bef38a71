"""The interval behind every verdict (`rules`), and what its level costs over many claims.

Seeds are few (3 at `book` scale), so the normal bar of two standard errors is too narrow: a
95% interval from 3 seeds a side reaches 2.78 standard errors of a difference at equal
spreads, 4.30 where one side has none. Every interval is therefore Student-t
(scipy.stats.t) at a stated level (LEVEL), with the seeds' degrees of freedom: n - 1 for one
mean over n seeds; Welch-Satterthwaite for the difference of two independent means (each
configuration is trained on its own seeds, and their spreads differ: a dropout VAE at 50 of 50
units has none); n - 2 for a least-squares slope through n seed values. Few seeds give few
degrees of freedom and a wide interval, rather than a seed threshold of its own.

An interval's p-value for a value is the least 1 - level at which it excludes that value, so
a verdict's p-value is below 1 - level exactly when its interval decides; `holm` and
`holm_adjusted` correct many of them at once, and `bar` states what the level costs in false
verdicts over N comparisons.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass

from scipy import stats

from ..runs import Spread

LEVEL = 0.95  # the two-sided level of every interval
MIN_SEEDS = 2  # fewer: no spread across seeds, so no interval


def percent(level: float) -> str:
    """'95%' for 0.95."""
    return f"{100 * level:g}%"


def _check_level(level: float) -> float:
    if not 0 < level < 1:
        raise ValueError(f"level={level!r} must lie strictly between 0 and 1 (e.g. 0.95)")
    return level


def t_multiplier(df: float, level: float = LEVEL) -> float:
    """How many standard errors the two-sided interval at `level` reaches with `df` degrees of
    freedom (scipy.stats.t): 4.30 at 2 df, 2.78 at 4, 1.96 as df grows without bound."""
    if not df > 0:
        raise ValueError(f"df={df!r} must be positive")
    return float(stats.t.ppf(0.5 + _check_level(level) / 2, df))


def welch_df(a: Spread, b: Spread) -> float:
    """Welch-Satterthwaite degrees of freedom of a.mean - b.mean, each a mean over its own
    seeds: (sa² + sb²)² / (sa⁴ / (na - 1) + sb⁴ / (nb - 1)), s the standard errors. Both spreads
    zero: na + nb - 2 (the interval has zero width whatever it is)."""
    for s in (a, b):
        if s.stderr is None:
            raise ValueError(f"a Spread of {len(s.values)} seed(s) has no spread: need 2 or more")
    va, vb = a.stderr**2, b.stderr**2
    den = va**2 / (len(a.values) - 1) + vb**2 / (len(b.values) - 1)
    return (va + vb) ** 2 / den if den > 0 else float(len(a.values) + len(b.values) - 2)


@dataclass(frozen=True)
class Interval:
    """An estimate, its standard error and degrees of freedom, and the Student-t interval at
    `level`; stderr None when there is no spread (one seed): then no bounds."""

    estimate: float
    stderr: float | None
    df: float | None
    level: float = LEVEL

    def __post_init__(self):
        _check_level(self.level)
        if self.stderr is not None and not (self.stderr >= 0 and self.df and self.df > 0):
            raise ValueError(f"stderr={self.stderr!r}, df={self.df!r}: need stderr >= 0 and df > 0")

    @property
    def half(self) -> float | None:
        """Half the interval's width: t_multiplier(df, level) standard errors."""
        if self.stderr is None:
            return None
        return t_multiplier(self.df, self.level) * self.stderr if self.stderr else 0.0

    @property
    def lo(self) -> float | None:
        return None if self.stderr is None else self.estimate - self.half

    @property
    def hi(self) -> float | None:
        return None if self.stderr is None else self.estimate + self.half

    def p_beyond(self, value: float) -> float:
        """Two-sided p-value of `value`: the least 1 - level at which the interval excludes it
        (a zero-width interval excludes every other value at every level)."""
        if self.stderr is None:
            return 1.0
        gap = abs(self.estimate - value)
        if self.stderr == 0:
            return 0.0 if gap > 0 else 1.0
        return float(2 * stats.t.sf(gap / self.stderr, self.df))

    def oriented(self, sign: int) -> Interval:
        """The same interval times `sign` (+1 or -1): the paper's direction made positive."""
        return dataclasses.replace(self, estimate=sign * self.estimate)

    def __format__(self, spec: str) -> str:
        """'+12.0 [+10.1, +13.9]' in `spec` (default '.1f'); no bounds without a spread."""
        spec = spec or ".1f"
        if self.stderr is None:
            return f"{self.estimate:+{spec}}"
        return f"{self.estimate:+{spec}} [{self.lo:+{spec}}, {self.hi:+{spec}}]"


def difference(a: Spread, b: Spread, level: float = LEVEL) -> Interval:
    """a.mean - b.mean, two independent means over their own seeds: standard error
    sqrt(sa² + sb²), Welch-Satterthwaite degrees of freedom. Not paired: seed i of two
    configurations shares a number, not a training run."""
    if a.stderr is None or b.stderr is None:
        return Interval(a.mean - b.mean, None, None, level)
    return Interval(a.mean - b.mean, math.hypot(a.stderr, b.stderr), welch_df(a, b), level)


def one_sample(a: Spread, target: float, level: float = LEVEL) -> Interval:
    """a.mean - target, with a's standard error and n - 1 degrees of freedom."""
    n = len(a.values)
    return Interval(a.mean - target, a.stderr, n - 1 if a.stderr is not None else None, level)


def slope(xs: Sequence[float], ys: Sequence[float]) -> float:
    """The least-squares slope of ys on xs (for the paper's own numbers, e.g. a table row)."""
    if len(xs) != len(ys) or len(set(xs)) < 2:
        raise ValueError(f"xs={list(xs)!r}, ys={list(ys)!r}: need equal lengths, 2+ distinct xs")
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)


def slope_interval(xs: Sequence[float], ys: Sequence[Spread], level: float = LEVEL) -> Interval:
    """The least-squares slope through every seed's value (xs[i] repeated for each seed of
    ys[i]), its standard error from the residuals, n - 2 degrees of freedom (n values).

    Every seed's value, not the means weighted by their standard errors: the seeds of
    different points are independent trainings, the residuals then hold both the seeds' spread
    and any departure from a line (a curved trend widens the interval instead of hiding), and
    no weight is infinite where a count has no spread (8 of 8 units in every seed). The price:
    one spread is assumed for every point."""
    if len(xs) != len(ys) or len(set(xs)) < 2:
        raise ValueError(f"xs={list(xs)!r} for {len(ys)} spreads: one x per point, 2+ distinct")
    px = [x for x, s in zip(xs, ys) for _ in s.values]
    py = [v for s in ys for v in s.values]
    b = slope(px, py)
    n, mx, my = len(px), sum(px) / len(px), sum(py) / len(py)
    if min(len(s.values) for s in ys) < MIN_SEEDS or n < 3:
        return Interval(b, None, None, level)
    ssr = sum((y - my - b * (x - mx)) ** 2 for x, y in zip(px, py))
    sxx = sum((x - mx) ** 2 for x in px)
    return Interval(b, math.sqrt(ssr / (n - 2) / sxx), n - 2, level)


def _check_ps(pvalues: Sequence[float]) -> Sequence[float]:
    bad = [p for p in pvalues if not 0 <= p <= 1]
    if bad:
        raise ValueError(f"p-values {bad!r} are not in [0, 1]")
    return pvalues


def holm(pvalues: Sequence[float], level: float = LEVEL) -> list[bool]:
    """Holm's step-down: the hypotheses rejected at family-wise error 1 - level, in the input
    order. Sorted ascending, p_(i) is rejected while p_(j) <= alpha / (m - j + 1) for every
    j <= i."""
    alpha, m = 1 - _check_level(level), len(_check_ps(pvalues))
    out = [False] * m
    for rank, i in enumerate(sorted(range(m), key=lambda i: pvalues[i])):
        if pvalues[i] > alpha / (m - rank):
            break
        out[i] = True
    return out


def holm_adjusted(pvalues: Sequence[float]) -> list[float]:
    """Holm-adjusted p-values in the input order (the running maximum of (m - j + 1) p_(j),
    capped at 1): `holm` rejects exactly those at most 1 - level."""
    m, out, run = len(_check_ps(pvalues)), [1.0] * len(pvalues), 0.0
    for rank, i in enumerate(sorted(range(m), key=lambda i: pvalues[i])):
        run = max(run, min(1.0, (m - rank) * pvalues[i]))
        out[i] = run
    return out


def pooled_mean(ivs: Sequence[Interval], level: float = LEVEL) -> Interval:
    """The mean of independent estimates: standard error sqrt(sum s²) / m, Welch-Satterthwaite
    degrees of freedom (sum s²)² / sum(s⁴ / df); no spread if any has none."""
    m = len(ivs)
    est = sum(iv.estimate for iv in ivs) / m
    if any(iv.stderr is None for iv in ivs):
        return Interval(est, None, None, level)
    v = [iv.stderr**2 for iv in ivs]
    den = sum(vi**2 / iv.df for vi, iv in zip(v, ivs))
    df = sum(v) ** 2 / den if den > 0 else sum(iv.df for iv in ivs)
    return Interval(est, math.sqrt(sum(v)) / m, df, level)


@dataclass(frozen=True)
class Bar:
    """What the level costs over `comparisons` verdicts. A false "supported" needs the
    interval to exclude a true zero effect on the paper's side: one tail, at most (1 -
    level) / 2 per comparison; a false "not supported" needs it to exclude a true paper-sized
    effect from below: the same. `expected` is comparisons times that; `family_wise` the chance
    of at least one, for independent comparisons (Bonferroni's bound: min(1, expected)).
    `seeds` (a side) sizes the multipliers that the sentence quotes."""

    comparisons: int
    level: float = LEVEL
    seeds: int = 3

    @property
    def per_comparison(self) -> float:
        return (1 - self.level) / 2

    @property
    def expected(self) -> float:
        return self.comparisons * self.per_comparison

    @property
    def family_wise(self) -> float:
        return 1 - (1 - self.per_comparison) ** self.comparisons

    def multipliers(self) -> tuple[float, float]:
        """Standard errors of a difference that the interval reaches with `seeds` a side: at
        equal spreads (2 (seeds - 1) df) and where one side has none (seeds - 1 df)."""
        return (
            t_multiplier(2 * (self.seeds - 1), self.level),
            t_multiplier(self.seeds - 1, self.level),
        )

    def __str__(self) -> str:
        n, lv, (equal, one) = self.comparisons, percent(self.level), self.multipliers()
        return (
            f"Each verdict reads a two-sided {lv} Student-t interval across seeds: with "
            f"{self.seeds} seeds a side it reaches {equal:.2f} standard errors of a difference at "
            f"equal spreads ({2 * (self.seeds - 1)} df), {one:.2f} where one side has none "
            f"({self.seeds - 1} df). Where an effect is truly zero, a comparison comes out "
            f"supported by chance at most {self.per_comparison:.1%} of the time (and not "
            f"supported, where it is truly the paper's, as often): over {n} comparisons about "
            f"{self.expected:.2g} of each by chance, and at least one with probability "
            f"{self.family_wise:.0%} if independent (Bonferroni: at most "
            f"{min(1.0, self.expected):.0%}). Holm's correction over the {n} keeps the chance "
            f"of any false verdict within {1 - self.level:.0%}."
        )


def bar(comparisons: int, level: float = LEVEL, seeds: int = 3) -> Bar:
    """The bar at `level` and its false verdicts over `comparisons` (see Bar)."""
    if comparisons < 1:
        raise ValueError(f"comparisons={comparisons!r} must be a positive count")
    if seeds < MIN_SEEDS:
        raise ValueError(f"seeds={seeds!r}: an interval needs {MIN_SEEDS} or more a side")
    return Bar(comparisons, _check_level(level), seeds)
