"""SeedGroup: S VAEs of one configuration as grouped layers, (S, B, ...) in and out."""

from __future__ import annotations

import torch
from torch import nn

from ..model.mvae import GroupedLinear
from ..model.nets import gaussian_kl, log_prob, output_params
from ..model.vae import VAE


def _stack(linears: list[nn.Linear]) -> GroupedLinear:
    """S nn.Linear layers of one shape as one GroupedLinear: weights (S, in, out)."""
    out_dim, in_dim = linears[0].weight.shape
    g = GroupedLinear(len(linears), in_dim, out_dim)
    with torch.no_grad():
        g.weight.copy_(torch.stack([m.weight.T for m in linears]))
        g.bias.copy_(torch.stack([m.bias[None, :] for m in linears]))
    return g


def _linears(net: nn.Module) -> list[nn.Linear]:
    return [m for m in net.modules() if isinstance(m, nn.Linear)]


class SeedGroup(nn.Module):
    """S VAEs (kinds vae and dropout_vae) of one config, their layers stacked seed by seed.

    loss_terms takes the S minibatches as x (S, B, P) with noise eps (S, B, D) and, for the
    dropout VAE, the keep masks (S, B, D), and returns rec (S, B) and kl (S, B, D): seed s
    sees exactly what model s would see alone.
    """

    def __init__(self, models: list[VAE]):
        super().__init__()
        cfgs = {m.cfg for m in models}
        if len(cfgs) != 1:
            raise ValueError(f"a SeedGroup holds models of one config; got {len(cfgs)} configs")
        self.cfg = models[0].cfg
        self.S = len(models)
        self.enc = nn.ModuleList(
            _stack(list(layer)) for layer in zip(*(_linears(m.encoder) for m in models))
        )
        self.dec = nn.ModuleList(
            _stack(list(layer)) for layer in zip(*(_linears(m.decoder) for m in models))
        )

    @staticmethod
    def _run(layers: nn.ModuleList, h: torch.Tensor) -> torch.Tensor:
        for i, layer in enumerate(layers):
            h = layer(h)
            if i < len(layers) - 1:
                h = torch.relu(h)
        return h

    def loss_terms(self, x, eps, keep=None):
        """x (S, B, P), eps (S, B, D), keep (S, B, D) or None -> rec (S, B), kl (S, B, D)."""
        mu, logvar = self._run(self.enc, x).chunk(2, dim=-1)
        z = mu + torch.exp(0.5 * logvar) * eps
        if keep is not None:  # inverted dropout on z, as VAE.loss_terms
            z = z * keep / (1 - self.cfg.dropout)
        params = output_params(self.cfg.likelihood, self._run(self.dec, z), self.cfg.min_logvar)
        return -log_prob(self.cfg.likelihood, x, params), gaussian_kl(mu, logvar)

    @torch.no_grad()
    def unstack(self, models: list[VAE]) -> list[VAE]:
        """Copy seed s's weights into models[s] (of the group's config) and return them."""
        for s, m in enumerate(models):
            for mine, g in zip(_linears(m.encoder) + _linears(m.decoder), [*self.enc, *self.dec]):
                mine.weight.copy_(g.weight[s].T)
                mine.bias.copy_(g.bias[s, 0])
        return models
