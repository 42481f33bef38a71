"""The paper's numbers as transcribed, and how grid results become table rows."""

import re
from pathlib import Path

import pytest

from evae_lite import ModelConfig, TrainConfig
from evae_lite.book import paper as T
from evae_lite.runs.sweep import Job

PAPER = Path(__file__).resolve().parents[2] / "shared" / "paper"


def paper_text() -> str:
    files = sorted(PAPER.glob("*.txt")) if PAPER.is_dir() else []
    if not files:
        pytest.skip(f"the paper's text is not at {PAPER}")
    return files[0].read_text()


def _cells_after(text: str, start: str, D: int, model: str) -> list[tuple[int, int]]:
    """The 'value(units)' cells of the line '$D = ..$ model ...' (or a continuation line
    'model ...') of the table that starts after `start`."""
    block = text[text.index(start) :]
    d_seen = False
    for line in block.splitlines():
        if re.match(rf"\$D\s*=\s*{D}\$", line.strip()):
            d_seen = True
        if d_seen and re.search(rf"(^|\s){model}\s", line):
            return [(int(a), int(b)) for a, b in re.findall(r"(\d+)\s*\((\d+)\)", line)]
    raise AssertionError(f"no row D={D} {model}")


@pytest.mark.parametrize(
    "paper, lh, start",
    [
        (T.PAPER_TABLE4, T._T4_LH, "$H = 500$\t\t\t$H = 1000$"),
        (T.PAPER_TABLE1, T._T1_LH, "$H=500$\t\t$H=1000$"),
    ],
)
def test_transcribed_grids_match_the_paper(paper, lh, start):
    text = paper_text()
    Ds = sorted({k[0] for k in paper})
    for D in Ds:
        for model in ("VAE", "mVAE", "eVAE"):
            want = _cells_after(text, start, D, model)
            got = [paper[D, model, L, H] for L, H in lh]
            assert got == want, (D, model)


def test_transcribed_table2_and_3_match_the_paper():
    text = paper_text()
    for D in (50, 100, 200):
        line = re.search(rf"^{D}\t([\d.]+)\t([\d.]+)$", text, re.M)
        assert line, D
        assert float(line[1]) == T.PAPER_TABLE2["VAE"][D]
        assert float(line[2]) == T.PAPER_TABLE2["eVAE"][D]
    for name, (m, ms), (t, ts) in T.PAPER_TABLE3:
        assert f"{name}\t{m} ± {ms}\t{t} ± {ts}" in text, name


def _result(test, val, active=5):
    from evae_lite.evaluate.parzen import ParzenResult
    from evae_lite.runs import JobResult, Units

    parzen = ParzenResult(0.2, test, 1.0, [0.1, 0.2], [val - 10, val], 100, 100)
    units = Units(active, active, [1.0] * 8, [1.0] * 8)
    return JobResult(0, 10, 1, 100.0, 8, units=units, parzen=parzen)


def _jobs():
    t = TrainConfig(epochs=1)
    tag = dict(model="eVAE", D=8, L=1, H=500)
    return [
        Job(ModelConfig("vae", D=8), t, tag=dict(tag, model="VAE")),
        Job(ModelConfig("evae", D=8, K=2, stride=2), t, tag=dict(tag, K=2)),
        Job(ModelConfig("evae", D=8, K=4, stride=4), t, tag=dict(tag, K=4)),
    ]


def test_best_over_K_chooses_on_validation_not_test():
    # K=2 has the better test score, K=4 the better validation score: K=4 must win.
    jobs = _jobs()
    rs = T.rows(jobs, [_result(200, 190), _result(250, 200), _result(240, 210)])
    best = T.best_over_K(rs)
    assert best[8, "eVAE", 1, 500].K == 4
    assert best[8, "eVAE", 1, 500].parzen == 240
    assert best[8, "VAE", 1, 500].K is None
    assert best[8, "eVAE", 1, 500].job is jobs[2]  # the row knows the job that made it
    with pytest.raises(ValueError):
        T.rows(_jobs(), [_result(1, 1)])  # results must pair with jobs


def test_grid_markdown_puts_paper_beside_ours():
    rs = T.rows(_jobs(), [_result(200.4, 190, 3), _result(250, 200, 8), _result(240, 210, 8)])
    md = T.grid_markdown(T.best_over_K(rs), T.PAPER_TABLE4, [8], [(1, 500), (2, 500)])
    lines = md.splitlines()
    assert lines[0].startswith("| D | model | L=1 H=500: paper | ours | L=2 H=500: paper |")
    assert "| 8 | VAE | 283(8) | 200 ± 1 (3) | 292(8) | — |" in lines
    assert "| 8 | eVAE | 300(8) | 240 ± 1 (8, K=4) | 330(8) | — |" in lines
    assert "| 8 | mVAE | 300(8) | — |" in md


def test_seed_means_average_each_configuration_over_its_seeds():
    import statistics

    jobs = [j.with_seed(s) for s in (2, 0, 1) for j in _jobs()]  # 3 configurations x 3 seeds
    tests, vals = [200, 250, 240, 203, 251, 230, 206, 255, 235], [190 + i for i in range(9)]
    results = [_result(t, v, active=4 + i % 2) for i, (t, v) in enumerate(zip(tests, vals))]
    rs = T.seed_means(T.rows(jobs, results))
    assert len(rs) == 3 and all(r.seeds == 3 for r in rs)
    vae = next(r for r in rs if r.model == "VAE")
    assert vae.parzen == pytest.approx(statistics.mean([200, 203, 206]))
    assert vae.stderr == pytest.approx(statistics.stdev([200, 203, 206]) / 3**0.5)
    assert vae.val_parzen == pytest.approx(statistics.mean([190, 193, 196]))
    assert vae.active == pytest.approx(statistics.mean([4, 5, 4]))
    assert vae.job.train.seed == 0 and len(vae.per_seed) == 3
    md = T.grid_markdown(T.best_over_K(rs), T.PAPER_TABLE4, [8], [(1, 500)])
    assert f"| 8 | VAE | 283(8) | 203 ± 2 ({vae.active:.1f}) |" in md
    one = T.rows(_jobs(), [_result(1, 1), _result(2, 2), _result(3, 3)])
    assert T.seed_means(one) == one  # one seed: the rows themselves
    with pytest.raises(ValueError, match="repeat"):
        T.seed_means(T.rows(_jobs() + _jobs(), [_result(1, 1)] * 6))


def test_a_rows_spread_is_over_its_seeds_only():
    jobs = [j.with_seed(s) for s in (0, 1, 2) for j in _jobs()]
    results = [_result(200 + i, 190, active=i) for i in range(9)]
    vae = next(r for r in T.seed_means(T.rows(jobs, results)) if r.model == "VAE")
    assert vae.spread().values == [200, 203, 206] and vae.spread().stderr == vae.stderr
    assert vae.spread("active").values == [0, 3, 6]
    one = T.rows(_jobs(), [_result(1, 1), _result(2, 2), _result(3, 3)])[0]
    assert one.spread().values == [1] and one.spread().stderr is None  # not over test images


def test_epitome_models_show_the_units_active_within_their_epitomes():
    import dataclasses

    def with_within(r, n):
        return dataclasses.replace(r, units=dataclasses.replace(r.units, active_within=n))

    jobs = [j.with_seed(s) for s in (0, 1) for j in _jobs()]
    results = [with_within(_result(200, 190 + i, active=8), 6 + i % 3 + (i >= 3)) for i in range(6)]
    rs = T.rows(jobs, results)
    assert [r.active_within for r in rs] == [None, 7, 8, None, 8, 9]  # never for the VAE
    means = T.seed_means(rs)
    assert next(r for r in means if r.K == 2).active_within == 7.5
    md = T.grid_markdown(T.best_over_K(means), T.PAPER_TABLE4, [8], [(1, 500)])
    assert "| 8 | VAE | 283(8) | 200 ± 0 (8) |" in md
    assert "(8; 8.5 within, K=4) |" in md


def test_rankings_write_ties_and_agree_only_with_what_the_paper_ranks():
    """The paper's Table 4 ties the mVAE and eVAE at D = 8, L = 1 (300 and 300): its ranking
    says 'mVAE = eVAE', and either order of ours agrees with it."""
    paper = {m: T.PAPER_TABLE4[8, m, 1, 500][0] for m in ("VAE", "mVAE", "eVAE")}
    assert paper["mVAE"] == paper["eVAE"]
    assert "mVAE = eVAE" in T.rank_text(paper)
    assert T.rank_text({"a": 3.0, "b": 1.0, "c": 2.0}) == "a > c > b"
    from evae_lite.runs import Spread

    def s(m):
        return Spread.of([m - 1, m, m + 1])

    below = min(paper.values()) - 100
    for m_score, e_score in ((290.0, 295.0), (295.0, 290.0)):
        ours = {"VAE": s(below), "mVAE": s(m_score), "eVAE": s(e_score)}
        # the VAE last, as in the paper; the paper's tie ranks nothing, so either order agrees
        assert T.order_call(paper, ours) == T.SAME
    assert T.order_call({"a": 2.0, "b": 1.0}, {"a": s(1.0), "b": s(9.0)}) == T.AGAINST
    assert T.order_call({"a": 2.0, "b": 1.0}, {"a": s(1.0), "b": s(1.0)}) == T.OPEN  # ours tied


def test_orders_are_judged_on_the_intervals_across_seeds():
    """Chapter 12's faces: means 311, 305, 290 with standard errors of 40 are no order at all."""
    from evae_lite.runs import Spread

    def s(m, spread):
        return Spread.of([m - spread, m, m + spread])

    wide = {"VAE": s(311, 70), "eVAE": s(305, 70), "mVAE": s(290, 70)}
    assert T.ranked_text(wide) == "VAE ≈ eVAE ≈ mVAE"
    paper = {"VAE": 1000.0, "mVAE": 1500.0, "eVAE": 2000.0}
    assert T.order_call(paper, wide) == T.OPEN
    assert T.order_words(paper, wide).endswith("the seeds cannot order 3 of its 3 pairs")
    tight = {"VAE": s(200, 1), "mVAE": s(300, 1), "eVAE": s(305, 1)}
    assert T.ranked_text(tight) == "eVAE > mVAE > VAE"
    assert (
        T.order_call(paper, tight) == T.SAME and T.order_words(paper, tight) == "the paper's order"
    )
    flipped = {"VAE": s(400, 1), "mVAE": s(300, 1), "eVAE": s(305, 1)}
    assert T.order_call(paper, flipped) == T.AGAINST
    assert T.order_words(paper, flipped) == (
        "against the paper's order (VAE above mVAE, VAE above eVAE)"
    )
    one_seed = {k: Spread.of([v]) for k, v in (("VAE", 1.0), ("eVAE", 9.0))}
    assert T.ranked_text(one_seed) == "eVAE ≈ VAE"  # no spread: nothing is decided
