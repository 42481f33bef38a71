"""The paper's quantitative experiments as grids of jobs: Fig. 7 and Tables 1, 2 and 4.

Each job's sizes come from the table of scales (`scales.py`, kinds `grids` and `likelihood`);
here is which models each grid holds. `book` also drops some cells of the paper's grids (each
function says which); a test checks the paper-scale grids against the paper's text. Every
grid holds each model once per seed of its row of the table (seeds 0, 1, ...), the seeds of
one model next to each other.
"""

from __future__ import annotations

from ..model import ModelConfig
from .job import Job, over_seeds
from .scales import get_scale


def _seeded(jobs: list[Job], kind: str = "grids") -> list[Job]:
    """Each job over the seeds of its row of the table of scales."""
    return [s for j in jobs for s in over_seeds(j, get_scale(j.scale, kind, j.dataset).seeds)]


def _job(cfg: ModelConfig, scale: str, dataset="mnist", **tag) -> Job:
    return Job.at(cfg, scale, "grids", dataset, tag=tag)


def _trio(D, L, H, Ks, scale, dataset="mnist"):
    """VAE, and mVAE and eVAE for each K, at one (D, L, H). Epitomes do not overlap, so a K
    that does not divide D is left out (Table 4's K = 3 at D = 8: the paper does not say how
    it tiled 8 units with 3-unit epitomes)."""
    jobs = [_job(ModelConfig("vae", D=D, L=L, H=H), scale, dataset, model="VAE", D=D, L=L, H=H)]
    for name, kind in (("mVAE", "mvae"), ("eVAE", "evae")):
        for K in (k for k in Ks if D % k == 0):
            cfg = ModelConfig(kind, D=D, K=K, stride=K, L=L, H=H)
            jobs.append(_job(cfg, scale, dataset, model=name, D=D, L=L, H=H, K=K))
    return jobs


def fig7_jobs(scale: str = "book") -> list[Job]:
    """Fig. 7: Parzen log-density against epitome size K (non-overlapping), one hidden layer
    of 500 units, D in {8, 24, 48}; VAE and mVAE references of the same D."""
    Ks = {8: [1, 2, 4], 24: [2, 3, 4, 6, 8, 12], 48: [2, 3, 4, 6, 8, 12, 16, 24]}
    if scale == "smoke":
        Ks = {8: [2, 4]}
    return _seeded([j for D, k in Ks.items() for j in _trio(D, 1, 500, k, scale)])


def table4_jobs(scale: str = "book") -> list[Job]:
    """Table 4 (MNIST): D in {8, 24, 48}, L in {1, 2, 3}, H in {500, 1000}; best of K in {3, 4}.
    book: H = 500 with K = 4, the VAE alone at H = 1000 for L in {1, 2}, and the mVAE at
    L = 1 only: section 5.3's claims about width and depth are the VAE's and the eVAE's, and
    the whole grid would not fit the book's budget (Fig. 7's grid has K = 3 and the mVAE at
    every K at L = 1)."""
    Ds, Ls, Hs, Ks = (8, 24, 48), (1, 2, 3), (500, 1000), (3, 4)
    extra = []
    if scale == "book":
        Hs, Ks = (500,), (4,)
        extra = [_trio(D, L, 1000, (), scale)[0] for D in Ds for L in (1, 2)]  # the VAEs
    if scale == "smoke":
        Ds, Ls, Hs = (8,), (1,), (500,)
    jobs = [j for D in Ds for L in Ls for H in Hs for j in _trio(D, L, H, Ks, scale)]
    if scale == "book":
        jobs = [j for j in jobs if j.model.model != "mvae" or j.model.L == 1]
    return _seeded(jobs + extra)


def table1_jobs(scale: str = "book") -> list[Job]:
    """Table 1 (TFD; here the Olivetti faces): D in {15, 25, 50}, K = 5, L in {2, 3},
    H in {500, 1000}, Gaussian decoder. book: as Table 4, H = 500 for every model and the
    VAE alone at H = 1000, at L = 2 (the width claim is about the VAE; the whole H = 1000
    column would double the grid's cost)."""
    Ds, Ls, Hs = (15, 25, 50), (2, 3), (500, 1000)
    if scale == "smoke":
        Ds, Ls, Hs = (15,), (2,), (500,)
    if scale == "book":
        jobs = [j for D in Ds for L in Ls for j in _trio(D, L, 500, (5,), scale, "faces")]
        jobs += [_trio(D, 2, 1000, (), scale, "faces")[0] for D in Ds]  # the VAEs
        return _seeded(jobs)
    return _seeded(
        [j for D in Ds for L in Ls for H in Hs for j in _trio(D, L, H, (5,), scale, "faces")]
    )


def table2_jobs(scale: str = "book") -> list[Job]:
    """Table 2: L_5000 of VAE and eVAE (K = 25), D in {50, 100, 200}, two hidden layers of 200
    units, the 8-stage schedule of Burda et al. (3**i epochs at 1e-3 * 10**(-i/7)).
    book: the first 4 stages (40 epochs, 20,000 steps); L_5000 on 200 test images (an eVAE
    with Y = 8 epitomes costs 8 x 5000 decoder passes per image); see the table of scales."""
    jobs = []
    for D in (50, 100, 200):
        for name, cfg in (
            ("VAE", ModelConfig("vae", D=D, L=2, H=200)),
            ("eVAE", ModelConfig("evae", D=D, K=25, stride=25, L=2, H=200)),
        ):
            jobs.append(
                Job.at(
                    cfg, scale, "likelihood", measures=("units", "iwae"), tag=dict(model=name, D=D)
                )
            )
    return _seeded(jobs, "likelihood")


def length_jobs(scale: str = "book") -> list[Job]:
    """Table 4's decisive pairs at the paper's 200 epochs: the VAE and the eVAE (K = 4) at
    D = 48, H = 500, L in {1, 3}, each measured after every epoch count of the row's
    `snapshots` (a job per count; the longer model continues the shorter one's run, and the
    10-epoch one is the grid's own model). Measured by activity, Parzen, L_k and the
    classifier-feature measure of samples."""
    s = get_scale(scale, "length")
    D, H = (8, 500) if scale == "smoke" else (48, 500)
    jobs = []
    for L in (1, 3):
        for name, cfg in (
            ("VAE", ModelConfig("vae", D=D, L=L, H=H)),
            ("eVAE", ModelConfig("evae", D=D, K=4, stride=4, L=L, H=H)),
        ):
            for epochs in s.snapshots:
                tag = dict(model=name, D=D, L=L, H=H, epochs=epochs)
                if name == "eVAE":
                    tag["K"] = 4
                job = Job.at(
                    cfg, scale, "length", measures=("units", "parzen", "iwae", "features"), tag=tag
                )
                jobs.append(job.training(epochs=epochs))
    return _seeded(jobs, "length")
