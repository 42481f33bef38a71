"""Algorithm 1, lines 3-4: assign each example its best epitome y*, then balance minibatches."""

from __future__ import annotations

import torch

from ..memory import keep_freed_memory


@torch.no_grad()
def assign_epitomes(
    model,
    x: torch.Tensor,
    *,
    batch_size: int = 1000,
    n_samples: int = 0,
    generator: torch.Generator | None = None,
    max_rows: int = 4096,
) -> tuple[torch.Tensor, torch.Tensor]:
    """y* = argmin_y cost(x, y) for every row of x (N, P), all epitomes per batch at once.

    n_samples = 0 evaluates the cost at the posterior mean; n > 0 averages n reparameterized
    samples shared across epitomes. Returns y* (N,) long and the whole cost matrix (N, Y).
    An eVAE whose q(y|x) is learned assigns each example the mode of its q(y|x) instead: the
    epitome the model itself picks (the cost matrix is still returned).
    The batch is cut so that at most ~max_rows decoder rows (batch * Y * samples) are alive at
    once: small temporaries stay in cache and memory is bounded whatever Y is.
    """
    keep_freed_memory()
    rows_per_x = model.n_epitomes * max(n_samples, 1)
    batch_size = max(1, min(batch_size, max_rows // rows_per_x))
    was_training = model.training
    model.eval()
    costs = torch.cat(
        [
            model.epitome_costs(x[i : i + batch_size], n_samples=n_samples, generator=generator)
            for i in range(0, x.shape[0], batch_size)
        ]
    )  # (N, Y)
    if getattr(model, "learns_q_y", False):
        y = torch.cat(
            [model.q_y_logits(x[i : i + 1000]).argmax(-1) for i in range(0, x.shape[0], 1000)]
        )
        model.train(was_training)
        return y, costs
    model.train(was_training)
    return costs.argmin(dim=1), costs


def balanced_order(y: torch.Tensor, n_groups: int, generator: torch.Generator | None = None):
    """A random order of the examples in which every stretch holds each epitome's examples in
    proportion to its group size (Algorithm 1, line 4).

    Example i of group g (of size n_g), at random rank r within its group, gets the position
    (r + u) / n_g with u ~ U(0, 1); sorting by position spreads each group evenly over the
    epoch, so any minibatch of B consecutive examples holds about B * n_g / N of group g.
    """
    N = y.shape[0]
    device = y.device
    perm = torch.randperm(N, generator=generator, device=device)
    yp = y[perm]
    # rank of each example within its group, in the random order `perm`
    order = torch.argsort(yp, stable=True)
    sizes = torch.bincount(yp, minlength=n_groups)
    starts = torch.cumsum(sizes, 0) - sizes
    rank = torch.empty_like(order)
    rank[order] = torch.arange(N, device=device) - starts[yp[order]]
    u = torch.rand(N, generator=generator, device=device)
    pos = (rank.float() + u) / sizes[yp].float()
    return perm[torch.argsort(pos)]
