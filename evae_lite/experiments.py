"""The paper's quantitative experiments as grids of sweep jobs, at each scale.

`paper` is the paper's stated settings (section 5, appendix 9.3); `book` shrinks epochs, data
and grid so that every table runs overnight on a 2-core laptop (each chapter says how);
`smoke` runs in seconds. A test checks the paper-scale grids against the paper's text.
"""

from __future__ import annotations

from .config import ModelConfig, TrainConfig
from .sweep import Job

# Per scale: MNIST epochs, faces epochs, training images, evaluation images, Parzen samples.
# book: ~80 models must train on a 2-core laptop in a few hours, so MNIST models train for
# 10 epochs on all 50,000 images (5,000 steps of batch 100; the paper: 200 epochs), since
# over-pruning removes units gradually over thousands of steps. Parzen and activity use the
# first 2,000 validation/test images.
_SCALE = {
    "smoke": dict(epochs=1, faces_epochs=2, train_size=1000, eval_size=500, parzen=500),
    "book": dict(epochs=10, faces_epochs=300, train_size=None, eval_size=2000, parzen=10_000),
    "paper": dict(epochs=200, faces_epochs=250, train_size=None, eval_size=None, parzen=10_000),
}


def _s(scale: str) -> dict:
    if scale not in _SCALE:
        raise ValueError(f"scale={scale!r} is not allowed: choose one of {', '.join(_SCALE)}")
    return _SCALE[scale]


# Parzen bandwidths for the faces: 0.03 to 1, about as finely spaced as MNIST's 0.1 to 1.
# The faces' best bandwidth can sit at MNIST's lower edge (the book-scale eVAE with D = 15
# chose 0.1, with the validation score still rising), so their grid reaches lower.
FACES_SIGMAS = tuple(round(10 ** (-1.5 + 1.5 * i / 23), 6) for i in range(24))


def _job(cfg: ModelConfig, scale: str, dataset="mnist", **tag) -> Job:
    s = _s(scale)
    epochs = s["faces_epochs"] if dataset == "faces" else s["epochs"]
    return Job(
        cfg,
        TrainConfig(epochs=epochs, batch_size=100, lr=1e-3),
        dataset=dataset,
        train_size=s["train_size"],
        eval_size=s["eval_size"],
        parzen_samples=s["parzen"],
        parzen_sigmas=FACES_SIGMAS if dataset == "faces" else None,
        tag=tag,
    )


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
    return [j for D, k in Ks.items() for j in _trio(D, 1, 500, k, scale)]


def table4_jobs(scale: str = "book") -> list[Job]:
    """Table 4 (MNIST): D in {8, 24, 48}, L in {1, 2, 3}, H in {500, 1000}; best of K in {3, 4}.
    book: H = 500 and K = 4 only (the paper finds H changes little, and H = 1000 triples the
    cost; Fig. 7's grid has K = 3 at L = 1)."""
    Ds, Ls, Hs, Ks = (8, 24, 48), (1, 2, 3), (500, 1000), (3, 4)
    if scale == "book":
        Hs, Ks = (500,), (4,)
    if scale == "smoke":
        Ds, Ls, Hs = (8,), (1,), (500,)
    return [j for D in Ds for L in Ls for H in Hs for j in _trio(D, L, H, Ks, scale)]


def table1_jobs(scale: str = "book") -> list[Job]:
    """Table 1 (TFD; here the Olivetti faces): D in {15, 25, 50}, K = 5, L in {2, 3},
    H in {500, 1000}, Gaussian decoder. book: L = 2, H = 500 only."""
    Ds, Ls, Hs = (15, 25, 50), (2, 3), (500, 1000)
    if scale == "book":
        Ls, Hs = (2,), (500,)
    if scale == "smoke":
        Ds, Ls, Hs = (15,), (2,), (500,)
    return [j for D in Ds for L in Ls for H in Hs for j in _trio(D, L, H, (5,), scale, "faces")]


def table2_jobs(scale: str = "book") -> list[Job]:
    """Table 2: L_5000 of VAE and eVAE (K = 25), D in {50, 100, 200}, two hidden layers of 200
    units, the 8-stage schedule of Burda et al. (3**i epochs at 1e-3 * 10**(-i/7)).
    book: the first 4 stages (40 epochs, 20,000 steps); L_5000 on 200 test images (an eVAE
    with Y = 8 epitomes costs 8 x 5000 decoder passes per image)."""
    s = _s(scale)
    stages = {"smoke": 1, "book": 4, "paper": 8}[scale]
    k = {"smoke": 50, "book": 5000, "paper": 5000}[scale]
    n_test = {"smoke": 100, "book": 200, "paper": 10_000}[scale]
    jobs = []
    for D in (50, 100, 200):
        for name, cfg in (
            ("VAE", ModelConfig("vae", D=D, L=2, H=200)),
            ("eVAE", ModelConfig("evae", D=D, K=25, stride=25, L=2, H=200)),
        ):
            jobs.append(
                Job(
                    cfg,
                    TrainConfig(schedule="burda", stages=stages, batch_size=100, lr=1e-3),
                    train_size=s["train_size"],
                    eval_size=s["eval_size"],
                    measures=("units", "iwae"),
                    iwae_k=k,
                    iwae_size=n_test,
                    tag=dict(model=name, D=D),
                )
            )
    return jobs


def describe(scale: str, dataset: str = "mnist") -> str:
    """What a grid of this scale trains on and measures with: printed with every table."""
    s = _s(scale)
    if dataset == "faces":
        return (
            f"scale={scale}: faces stand-in (Olivetti, 280 training faces at 48x48, Gaussian "
            f"decoder), {s['faces_epochs']} epochs, Parzen with {s['parzen']:,} samples on the "
            f"80 test faces (bandwidth chosen on the 40 validation faces from "
            f"{len(FACES_SIGMAS)} values in [{FACES_SIGMAS[0]:.3g}, {FACES_SIGMAS[-1]:.3g}]); "
            f"1 seed, ± is the standard error over test images"
        )
    n = "all 50,000" if s["train_size"] is None else f"the first {s['train_size']:,}"
    ev = "all 10,000" if s["eval_size"] is None else f"the first {s['eval_size']:,}"
    return (
        f"scale={scale}: {n} MNIST training images, {s['epochs']} epoch(s), batch 100, Adam 1e-3; "
        f"Parzen with {s['parzen']:,} samples on {ev} test images (bandwidth chosen on {ev} "
        f"validation images), activity on those validation images; 1 seed, "
        f"± is the standard error over test images"
    )
