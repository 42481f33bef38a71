"""The paper-scale grids are the paper's stated settings (section 5, appendix 9.3)."""

import pytest

from evae_lite.evaluate.parzen import DEFAULT_SIGMAS
from evae_lite.runs.grids import (
    fig7_jobs,
    table1_jobs,
    table2_jobs,
    table4_jobs,
)
from evae_lite.runs.scales import FACES_SIGMAS, describe


def _grid(jobs, *fields):
    return {tuple(getattr(j.model, f) for f in fields) for j in jobs}


def test_table4_paper_scale():
    jobs = table4_jobs("paper")
    # D x L x H x (VAE, mVAE K=3,4, eVAE K=3,4); at D=8 only K=4 tiles the units
    assert len(jobs) == 3 * 2 * (2 * 5 + 3) * 3  # three seeds of each
    assert [j.seed for j in jobs[:3]] == [0, 1, 2] and jobs[0].model == jobs[2].model
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
    assert len(jobs) == 3 * 2 * 2 * 3 * 3  # three seeds of each
    assert _grid(jobs, "D") == {(15,), (25,), (50,)} and _grid(jobs, "L") == {(2,), (3,)}
    for j in jobs:
        assert j.dataset == "faces" and j.train.epochs == 250
        assert j.parzen_sigmas == FACES_SIGMAS
        if j.model.model != "vae":
            assert (j.model.epitome_size, j.model.epitome_stride) == (5, 5)


def test_table2_paper_scale():
    jobs = table2_jobs("paper")
    assert _grid(jobs, "model", "D") == {(m, D) for m in ("vae", "evae") for D in (50, 100, 200)}
    for j in jobs:
        assert (j.model.L, j.model.H) == (2, 200)
        assert j.train.schedule == "burda" and j.train.total_epochs == 3280
        assert j.train.lr_at(3279) == pytest.approx(1e-3 * 10 ** (-7 / 7))
        assert (
            j.iwae_k == 5000
            and j.iwae_size is None
            and j.eval_size is None
            and "iwae" in j.measures
        )
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


def test_book_scale_is_what_the_chapters_say():
    """The chapters state these settings in prose; describe() prints them with every table."""
    t4 = table4_jobs("book")
    assert _grid(t4, "L") == {(1,), (2,), (3,)}
    assert _grid([j for j in t4 if j.model.model != "vae"], "H", "K") == {(500, 4)}
    assert _grid([j for j in t4 if j.model.H == 1000], "model", "L") == {("vae", 1), ("vae", 2)}
    assert _grid([j for j in t4 if j.model.model == "mvae"], "L") == {(1,)}
    assert len(t4) == (27 - 6 + 6) * 3  # three seeds of each
    for j in t4 + fig7_jobs("book"):
        assert (j.train.epochs, j.train_size, j.eval_size) == (10, None, 2000)
    t1 = table1_jobs("book")
    paper_t1 = table1_jobs("paper")
    assert [j.model for j in t1 if j.model.H == 500] == [
        j.model for j in paper_t1 if j.model.H == 500
    ]
    assert _grid([j for j in t1 if j.model.H == 1000], "model", "L") == {("vae", 2)}
    assert _grid([j for j in t1 if j.model.H == 1000], "D") == _grid(paper_t1, "D")
    assert len(t1) == (3 * 2 * 3 + 3) * 3
    for j in table2_jobs("book"):
        assert j.train.stages == 4 and j.train.total_epochs == 40
        assert (j.iwae_k, j.iwae_size, j.train_size) == (5000, 200, None)
    text = describe("book", "grids")
    assert "all 50,000 MNIST training images, 10 epochs" in text
    assert "the first 2,000 test images" in text and "10,000 samples" in text
    assert "300 epochs" in describe("book", "grids", "faces")
    assert "4 of the 8 stages" in describe("book", "likelihood")
    assert "L_5000 on the first 200 test images" in describe("book", "likelihood")
    with pytest.raises(ValueError, match="scale='tiny'"):
        describe("tiny")


def test_faces_bandwidth_grid_reaches_below_mnists():
    """The faces' grid is MNIST's extended down to 0.03 at about the same spacing; MNIST jobs
    keep the default grid."""
    assert FACES_SIGMAS[0] < 0.05 < min(DEFAULT_SIGMAS) and FACES_SIGMAS[-1] == 1.0
    ratios = [b / a for a, b in zip(FACES_SIGMAS, FACES_SIGMAS[1:])]
    mnist_ratio = DEFAULT_SIGMAS[1] / DEFAULT_SIGMAS[0]
    assert all(abs(r - ratios[0]) < 1e-4 for r in ratios) and ratios[0] < 1.2 * mnist_ratio
    assert all(j.parzen_sigmas is None for j in table4_jobs("book") + fig7_jobs("book"))


def test_every_grid_holds_each_model_once_per_seed_of_its_row(monkeypatch):
    import dataclasses

    from evae_lite.runs import grids as E
    from evae_lite.runs.scales import SCALES

    one = E.fig7_jobs("smoke")
    for key in [("smoke", "grids", "mnist"), ("smoke", "likelihood", "mnist")]:
        monkeypatch.setitem(SCALES, key, dataclasses.replace(SCALES[key], seeds=3))
    three = E.fig7_jobs("smoke")
    assert [j.seed for j in three] == [0, 1, 2] * len(one)
    assert [j.with_seed(0) for j in three[::3]] == one  # the seeds of one model side by side
    t2 = E.table2_jobs("smoke")
    assert len(t2) == 3 * len({j.with_seed(0) for j in t2}) == 3 * 6  # VAE, eVAE x 3 D
