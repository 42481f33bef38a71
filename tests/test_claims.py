"""Verdicts on the paper's claims: the comparison across seeds, the seed rule, the tables."""

import math
import statistics

import pytest

from evae_lite.book.claims import (
    MIN_SEEDS,
    NOT_SUPPORTED,
    NOT_TESTED,
    PARTLY,
    SUPPORTED,
    Verdict,
    compare,
    judge,
    table_markdown,
)
from evae_lite.book.evidence import _near, _steps
from evae_lite.runs import Spread


def test_spread_formats_mean_and_standard_error_across_seeds():
    s = Spread.of([29, 30, 31])
    assert s.stderr == pytest.approx(statistics.stdev([29, 30, 31]) / math.sqrt(3))
    assert f"{s:.1f}" == "30.0 ± 0.6" and str(s) == "30.0 ± 0.6 (3 seeds)"
    assert f"{Spread.of([2.5]):.2f}" == "2.50" and str(Spread.of([2.5])) == "2.5 (1 seed)"


def test_compare_is_the_difference_of_two_independent_means():
    a, b = Spread.of([10.0, 11.0, 12.0]), Spread.of([5.0, 5.5, 6.0])
    c = compare(a, b)
    assert c.gap == pytest.approx(5.5)
    assert c.stderr == pytest.approx(math.sqrt(a.stderr**2 + b.stderr**2))
    assert c.sign == ">" and compare(b, a).sign == "<"
    # a gap inside two standard errors is a tie; one seed has no standard error at all
    assert compare(Spread.of([1.0, 3.0, 5.0]), Spread.of([2.0, 3.0, 4.0])).sign == "~"
    assert compare(Spread.of([1.0]), Spread.of([0.0])).sign == "?"


def test_a_claim_with_too_few_seeds_gets_no_verdict():
    for seeds in range(MIN_SEEDS):
        v = judge("Fig. 1", "claim", "measured", seeds, SUPPORTED, "why")
        assert v.verdict == NOT_TESTED and f"{seeds} seed" in v.reason
        assert v.measured == "measured"  # what was measured is still shown
    assert judge("Fig. 1", "claim", "m", MIN_SEEDS, PARTLY, "why").verdict == PARTLY
    with pytest.raises(ValueError, match="verdict='maybe'"):
        Verdict("Fig. 1", "claim", "m", 3, "maybe", "why")


def test_steps_and_near():
    up = [Spread.of([1.0, 1.1, 0.9]), Spread.of([5.0, 5.1, 4.9]), Spread.of([9.0, 9.2, 8.8])]
    assert _steps(up, ">") == SUPPORTED and _steps(up[::-1], ">") == NOT_SUPPORTED
    flat = [up[0], Spread.of([1.0, 1.2, 0.8]), up[2]]  # one step is a tie
    assert _steps(flat, ">") == PARTLY
    assert _near(Spread.of([29, 29, 29]), 30) == SUPPORTED  # within 10% (no spread at all)
    assert _near(Spread.of([24, 24, 24]), 30) == PARTLY
    assert _near(Spread.of([10, 10, 10]), 30) == NOT_SUPPORTED


def test_table_escapes_pipes_and_names_chapters():
    v = Verdict("Fig. 2", "a | b", "m", 5, SUPPORTED, "r", chapter="3")
    text = table_markdown([v], chapters=True)
    assert "| 3 | Fig. 2 | a \\| b | m | 5 | **supported** | r |" in text
    assert text.splitlines()[0].startswith("| chapter |")


def _seeded_rows(model, D, K, parzens, active):
    """A grid configuration over len(parzens) seeds, as paper.seed_means gives it."""
    from evae_lite.book import paper as T

    one = [T.Row(model, D, 1, 500, K, active, p, 1.0, p, 1000) for p in parzens]
    return T.seed_means(one)


def _fig7_rows(vae_shift=0.0):
    rows = []
    for D, v, e in ((8, 280, 300), (24, 250, 310), (48, 220, 320)):
        vae_active = {8: 8, 24: 22, 48: 24}[D]
        rows += _seeded_rows(
            "VAE", D, None, [v + vae_shift * D + d for d in (-1, 0, 1)], vae_active
        )
        for K in (2, 4):
            rows += _seeded_rows("eVAE", D, K, [e - 5 * (K == 2) + d for d in (-1, 0, 1)], D)
            rows += _seeded_rows("mVAE", D, K, [e - 8 + d for d in (-1, 0, 1)], D)
    return rows


def test_fig7_verdicts_follow_the_numbers():
    from evae_lite.book.evidence_grids import epitome_size

    ev = epitome_size(None, _fig7_rows())
    assert ev.seeds == 3
    assert [v.verdict for v in ev.verdicts] == [SUPPORTED] * 5, ev.verdicts
    # a VAE that improves with D contradicts the first claim, and only that one
    flipped = epitome_size(None, _fig7_rows(vae_shift=3.0)).verdicts
    assert flipped[0].verdict == NOT_SUPPORTED
    assert [v.verdict for v in flipped[1:3]] == [SUPPORTED, SUPPORTED]


def test_depth_claim_compares_only_where_there_are_two_depths():
    """Table 1 at book has H = 1000 at one depth only: that (D, H) has no step in L to judge,
    so it is left out of the count instead of counting as agreeing."""
    from evae_lite.book import paper as T
    from evae_lite.book.evidence_grids import _complexity

    def seeds(L, H, parzen, active):
        """A VAE configuration over three seeds that differ by +-0.5 in both measures."""
        one = tuple(
            T.Row("VAE", 15, L, H, None, active + d, parzen + d, 1.0, parzen, 1)
            for d in (-0.5, 0.0, 0.5)
        )
        return T.Row("VAE", 15, L, H, None, active, parzen, 0.3, parzen, 1, seeds=3, per_seed=one)

    rows = [seeds(2, 500, 100.0, 10.0), seeds(3, 500, 110.0, 8.0), seeds(2, 1000, 101.0, 10.0)]
    depth = _complexity(rows, 15, "faces", "Table 1", 3)[0]
    assert "at 1 of 1 (D, H)" in depth.measured and depth.verdict == "supported"
