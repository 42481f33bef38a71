"""The paper-scale grids are the paper's stated settings (section 5, appendix 9.3)."""

import pytest

from evae_lite.experiments import fig7_jobs, table1_jobs, table2_jobs, table4_jobs


def _grid(jobs, *fields):
    return {tuple(getattr(j.model, f) for f in fields) for j in jobs}


def test_table4_paper_scale():
    jobs = table4_jobs("paper")
    # D x L x H x (VAE, mVAE K=3,4, eVAE K=3,4); at D=8 only K=4 tiles the units
    assert len(jobs) == 3 * 2 * (2 * 5 + 3)
    assert {j.model.epitome_size for j in jobs if j.model.D == 8 and j.model.model != "vae"} == {4}
    assert _grid(jobs, "D") == {(8,), (24,), (48,)}
    assert _grid(jobs, "L") == {(1,), (2,), (3,)} and _grid(jobs, "H") == {(500,), (1000,)}
    for j in jobs:
        assert j.dataset == "mnist" and j.train_size is None and j.parzen_samples == 10_000
        t = j.train
        assert (t.epochs, t.lr, t.batch_size, t.schedule) == (200, 1e-3, 100, "constant")
        if j.model.model != "vae":
            assert j.model.epitome_size in (3, 4)
            assert j.model.epitome_stride == j.model.epitome_size  # non-overlapping


def test_table1_paper_scale():
    jobs = table1_jobs("paper")
    assert len(jobs) == 3 * 2 * 2 * 3
    assert _grid(jobs, "D") == {(15,), (25,), (50,)} and _grid(jobs, "L") == {(2,), (3,)}
    for j in jobs:
        assert j.dataset == "faces" and j.train.epochs == 250
        if j.model.model != "vae":
            assert (j.model.epitome_size, j.model.epitome_stride) == (5, 5)


def test_table2_paper_scale():
    jobs = table2_jobs("paper")
    assert _grid(jobs, "model", "D") == {(m, D) for m in ("vae", "evae") for D in (50, 100, 200)}
    for j in jobs:
        assert (j.model.L, j.model.H) == (2, 200)
        assert j.train.schedule == "burda" and j.train.total_epochs == 3280
        assert j.train.lr_at(3279) == pytest.approx(1e-3 * 10 ** (-7 / 7))
        assert j.iwae_k == 5000 and j.iwae_size == 10_000 and "iwae" in j.measures
        if j.model.model == "evae":
            assert j.model.epitome_size == 25


def test_fig7_paper_scale():
    jobs = fig7_jobs("paper")
    assert {(j.model.L, j.model.H) for j in jobs} == {(1, 500)}
    assert _grid(jobs, "D") == {(8,), (24,), (48,)}
    for j in jobs:
        if j.model.model != "vae":
            assert j.model.D % j.model.epitome_size == 0
            assert j.model.epitome_stride == j.model.epitome_size


def test_unknown_scale():
    with pytest.raises(ValueError, match="scale='huge'"):
        table4_jobs("huge")
