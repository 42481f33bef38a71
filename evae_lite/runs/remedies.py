"""The remedies for over-pruning that came after the paper, side by side with the paper's
models: every model at D in {20, 50} with one hidden layer of 500 units, each over the seeds
of its row of the table of scales (kind `remedies`).

- VAE: the plain bound.
- KL warm-up (Bowman et al. 2016; Sønderby et al. 2016) over the first WARMUP_SHARE of the
  steps.
- Cyclical annealing (Fu et al. 2019): CYCLES cycles, each ramping over its first RAMP.
- Free bits (Kingma et al. 2016): FREE_BITS nats per unit, per minibatch.
- Dropout VAE (section 3.2) and the eVAE with Algorithm 1's y* (section 4), K = K_EPITOME
  non-overlapping.
- The eVAE with a learned q(y|x) (section 4.2's future work): Gumbel-softmax relaxed and
  straight-through, and REINFORCE with a baseline.
"""

from __future__ import annotations

import math

from ..model import ModelConfig
from .job import Job, over_seeds
from .scales import get_scale

DS = (20, 50)
H = 500
WARMUP_SHARE = 0.2
CYCLES, RAMP = 4, 0.5  # Fu et al.'s M = 4, R = 0.5
FREE_BITS = 0.25  # nats per unit
DROPOUT = 0.5
K_EPITOME = 5
N_TRAIN = {"mnist": 50_000}  # the whole training split
MEASURES = ("units", "parzen", "iwae", "mi", "features")


def remedies(D: int, steps: int) -> list[tuple[str, ModelConfig, dict]]:
    """(name, model, training changes) of every model at latent size D, for a run of
    `steps` optimizer steps."""
    vae = ModelConfig("vae", D=D, H=H)
    evae = ModelConfig("evae", D=D, K=K_EPITOME, stride=K_EPITOME, H=H)
    warm = max(1, round(WARMUP_SHARE * steps))
    return [
        ("VAE", vae, {}),
        ("warm-up", vae, dict(kl_schedule="warmup", kl_warmup_steps=warm)),
        ("cyclical", vae, dict(kl_schedule="cyclical", kl_cycles=CYCLES, kl_ramp=RAMP)),
        ("free bits", vae, dict(free_bits=FREE_BITS)),
        ("dropout VAE", ModelConfig("dropout_vae", D=D, H=H, dropout=DROPOUT), {}),
        ("eVAE, y*", evae, {}),
        ("eVAE, Gumbel-softmax", evae.replace(q_y="gumbel"), {}),
        ("eVAE, straight-through", evae.replace(q_y="gumbel_st"), {}),
        ("eVAE, REINFORCE", evae.replace(q_y="reinforce"), {}),
    ]


def remedies_jobs(scale: str = "book", Ds=DS) -> list[Job]:
    """Every model of the comparison at every D, over the seeds of the row."""
    s = get_scale(scale, "remedies")
    n = s.train_size or N_TRAIN["mnist"]
    steps = s.epochs * math.ceil(n / 100)
    jobs = []
    for D in Ds:
        for name, cfg, changes in remedies(D, steps):
            job = Job.at(
                cfg, scale, "remedies", measures=MEASURES, tag=dict(model=name, D=D), **changes
            )
            jobs += over_seeds(job, s.seeds)
    return jobs
