"""The minibatch objective and the remedies for over-pruning that change it during training.

- KL warm-up (Bowman et al. 2016; Sønderby et al. 2016): the KL term's weight ramps
  linearly from 0 to 1 over the first `kl_warmup_steps` steps, then stays at 1.
- Cyclical annealing (Fu et al. 2019): the run is cut into `kl_cycles` cycles; in each, the
  weight ramps linearly from 0 to 1 over the first `kl_ramp` share of the cycle, then stays
  at 1.
- Free bits (Kingma et al. 2016): each unit's KL, averaged over the minibatch, is charged
  only above a floor of `free_bits` nats: sum_j max(free_bits, mean_b KL_bj).

With the constant schedule and no floor the objective is the mean of the per-example cost of
`LossTerms.cost` (eq. 4, eq. 7), as before these remedies.
"""

from __future__ import annotations

import math

import torch

KL_SCHEDULES = ("constant", "warmup", "cyclical")


def kl_scale(train_cfg, step: int, total_steps: int) -> float:
    """The KL term's weight at 0-based optimizer `step` of `total_steps`, in [0, 1]; it
    multiplies the model's own kl_weight."""
    s = train_cfg.kl_schedule
    if s == "constant":
        return 1.0
    if s == "warmup":
        return min(1.0, step / train_cfg.kl_warmup_steps)
    period = total_steps / train_cfg.kl_cycles
    tau = (step % math.ceil(period)) / period  # position in the cycle, [0, 1)
    return min(1.0, tau / train_cfg.kl_ramp)


def temperature(train_cfg, step: int, total_steps: int) -> float:
    """The Gumbel-softmax temperature at 0-based `step`: from tau_start to tau_end
    geometrically over the run (Jang et al. 2017 anneal it exponentially)."""
    start, end = train_cfg.tau_start, train_cfg.tau_end
    return start * (end / start) ** (step / max(total_steps - 1, 1))


def minibatch_cost(terms, scale: float = 1.0, free_bits: float = 0.0) -> torch.Tensor:
    """The scalar that one Adam step minimizes. terms: LossTerms of B examples."""
    if scale == 1.0 and free_bits == 0.0:
        c = terms.cost.mean()  # the paper's objective, exactly as written in eq. 4 / 7
        return c if terms.score is None else c + terms.score.mean()
    score = 0.0 if terms.score is None else terms.score.mean()
    kl_units = terms.kl.mean(0)  # (D,): each unit's KL over the minibatch
    if free_bits > 0:
        kl_units = kl_units.clamp(min=free_bits)
    kl = terms.kl_weight * scale * kl_units.sum()
    return (terms.rec + terms.kl_y).mean() + kl + score
