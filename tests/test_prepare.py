"""`python -m evae_lite.runs.prepare`: the grids named, in the order named, one seed's share of
each when asked, and a seed the grid lacks refused by name."""

import pytest

from evae_lite.runs import prepare as P


def test_grids_are_prepared_in_the_order_given_with_only_the_seeds_asked(monkeypatch, capsys):
    seen = []
    monkeypatch.setattr(P, "prepare", lambda jobs, threads: seen.append(jobs) or 0.0)
    assert P.main(["fig7", "remedies", "--scale", "smoke", "--seeds", "0"]) == 0
    fig7, remedies = seen
    from evae_lite.runs import grids
    from evae_lite.runs.remedies import remedies_jobs

    assert fig7 == [j for j in grids.fig7_jobs("smoke") if j.seed == 0]
    assert remedies == [j for j in remedies_jobs("smoke") if j.seed == 0]
    assert {j.seed for j in fig7 + remedies} == {0}
    out = capsys.readouterr().out
    assert out.index("fig7 at scale=smoke") < out.index("remedies at scale=smoke")


def test_a_seed_the_grid_lacks_is_refused_naming_the_grid(monkeypatch, capsys):
    monkeypatch.setattr(P, "prepare", lambda jobs, threads: 0.0)
    with pytest.raises(SystemExit):
        P.main(["table2", "--scale", "smoke", "--seeds", "7"])
    assert "--seeds [7] are not in the table2 grid at smoke" in capsys.readouterr().err
