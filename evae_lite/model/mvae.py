"""The mixture VAE (section 5.2): Y independent VAEs, the ablation of the eVAE without
parameter sharing, with each component's width matched to the eVAE's parameter count."""

from __future__ import annotations

import math

import torch
from torch import nn

from .config import ModelConfig
from .epitomes import epitome_masks
from .nets import gaussian_kl, log_normal_ratio, log_prob, output_params, standard_normal
from .vae import VAE, LossTerms


class GroupedLinear(nn.Module):
    """G independent linear layers applied side by side: (G, N, in) -> (G, N, out).

    A (N, in) input is shared by all groups (the first encoder layer sees the same x).
    """

    def __init__(self, G: int, in_dim: int, out_dim: int):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(G, in_dim, out_dim))
        self.bias = nn.Parameter(torch.empty(G, 1, out_dim))
        self.reset_parameters()

    @torch.no_grad()
    def reset_parameters(self, generator: torch.Generator | None = None) -> None:
        """nn.Linear's default initialisation, from `generator` (None: the process-wide one)."""
        bound = 1 / math.sqrt(self.weight.shape[1])
        self.weight.uniform_(-bound, bound, generator=generator)
        self.bias.uniform_(-bound, bound, generator=generator)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        G, in_dim, out_dim = self.weight.shape
        if x.dim() == 2:  # shared input: one matmul against all groups' weights
            w = self.weight.transpose(0, 1).reshape(in_dim, G * out_dim)
            return (x @ w).view(x.shape[0], G, out_dim).transpose(0, 1) + self.bias
        return torch.baddbmm(self.bias, x, self.weight)


def grouped_mlp(G: int, in_dim: int, H: int, L: int, out_dim: int) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i in range(L):
        layers += [GroupedLinear(G, in_dim if i == 0 else H, H), nn.ReLU()]
    layers.append(GroupedLinear(G, H if L > 0 else in_dim, out_dim))
    return nn.Sequential(*layers)


def vae_param_count(x_dim: int, H: int, L: int, D: int, likelihood: str) -> int:
    """Parameters of an encoder-decoder pair with L hidden layers of H units and latent D."""

    def linear(i, o):
        return i * o + o

    def net(i, o):
        if L == 0:
            return linear(i, o)
        return linear(i, H) + (L - 1) * linear(H, H) + linear(H, o)

    n_out = x_dim if likelihood == "bernoulli" else 2 * x_dim
    return net(x_dim, 2 * D) + net(D, n_out)


def matched_component_H(cfg: ModelConfig) -> int:
    """Hidden width of each of Y mVAE components so that Y components have about as many
    parameters as the eVAE with the same (D, K, L, H) (section 5.2)."""
    target = vae_param_count(cfg.x_dim, cfg.H, cfg.L, cfg.D, cfg.likelihood)
    Y, K = cfg.n_epitomes, cfg.epitome_size
    return min(
        range(1, cfg.H + 1),
        key=lambda h: abs(Y * vae_param_count(cfg.x_dim, h, cfg.L, K, cfg.likelihood) - target),
    )


class MixtureVAE(nn.Module):
    """mVAE (section 5.2): Y independent VAEs with K latent dims each, trained like the eVAE.

    The ablation of the eVAE in which epitomes share no parameters. Its latent space is the
    concatenation of the components' (D = Y * K); the posterior of an example lives in the
    block of its component y*, the prior elsewhere. All components run side by side as
    grouped matmuls: since the components' parameters add up to about the eVAE's, a pass
    through all of them costs about as much as one eVAE pass.
    """

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        self.D, self.K = cfg.D, cfg.epitome_size
        Y = cfg.n_epitomes
        self.component_H = cfg.component_H or matched_component_H(cfg)
        Hc, L = self.component_H, cfg.L
        self.encoder = grouped_mlp(Y, cfg.x_dim, Hc, L, 2 * self.K)
        n_out = cfg.x_dim if cfg.likelihood == "bernoulli" else 2 * cfg.x_dim
        self.decoder_net = grouped_mlp(Y, self.K, Hc, L, n_out)
        self.register_buffer("masks", epitome_masks(cfg.D, self.K, self.K))

    n_epitomes = VAE.n_epitomes
    kl_y = VAE.kl_y

    def _encode_all(self, x):
        """x (B, P) -> mu, logvar of every component, each (Y, B, K)."""
        return self.encoder(x).chunk(2, dim=-1)

    def _decode_all(self, z):
        """z (Y, N, K) -> decoder parameters of every component, (Y, N, P)."""
        return output_params(self.cfg.likelihood, self.decoder_net(z), self.cfg.min_logvar)

    def _to_D(self, v: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Place component y's (B, K) block into the D-dim latent space, zeros elsewhere."""
        out = v.new_zeros(v.shape[0], self.n_epitomes, self.K)
        out[torch.arange(v.shape[0], device=v.device), y] = v
        return out.view(v.shape[0], self.D)

    def posterior(self, x, y):
        mu, logvar = self._encode_all(x)
        b = torch.arange(x.shape[0], device=x.device)
        return self._to_D(mu[y, b], y), self._to_D(logvar[y, b], y)

    def decode(self, z, y):
        """z (B, D) in the concatenated latent space, y (B,): component y decodes its block."""
        B = z.shape[0]
        zb = z.view(B, self.n_epitomes, self.K).transpose(0, 1)  # (Y, B, K)
        params = self._decode_all(zb)
        b = torch.arange(B, device=z.device)
        if self.cfg.likelihood == "bernoulli":
            return params[y, b]
        return params[0][y, b], params[1][y, b]

    def loss_terms(self, x, y, *, generator=None, eps=None) -> LossTerms:
        mu, logvar = self.posterior(x, y)  # (B, D)
        eps = standard_normal(mu.shape, mu, generator) if eps is None else eps
        z = mu + torch.exp(0.5 * logvar) * eps * self.masks[y]
        rec = -log_prob(self.cfg.likelihood, x, self.decode(z, y))
        kl_y = torch.full_like(rec, self.kl_y)
        return LossTerms(rec, gaussian_kl(mu, logvar), kl_y, self.cfg.kl_weight)

    @torch.no_grad()
    def epitome_costs(self, x, *, n_samples: int = 0, generator=None) -> torch.Tensor:
        mu, logvar = self._encode_all(x)  # (Y, B, K)
        kl = gaussian_kl(mu, logvar).sum(-1).T  # (B, Y)
        S = max(n_samples, 1)
        if n_samples:
            eps = standard_normal((S, *mu.shape), mu, generator)
        else:
            eps = mu.new_zeros(1, *mu.shape)
        z = mu + torch.exp(0.5 * logvar) * eps  # (S, Y, B, K)
        params = self._decode_all(z.transpose(0, 1).reshape(mu.shape[0], -1, self.K))
        rec = -log_prob(self.cfg.likelihood, x.repeat(S, 1), params)  # (Y, S*B)
        rec = rec.view(-1, S, x.shape[0]).mean(1).T  # (B, Y)
        return rec + self.cfg.kl_weight * kl + self.kl_y

    @torch.no_grad()
    def log_weights(self, x, k: int, *, generator=None) -> torch.Tensor:
        mu, logvar = self._encode_all(x)  # (Y, B, K)
        eps = standard_normal((k, *mu.shape), mu, generator)  # (k, Y, B, K)
        z = mu + torch.exp(0.5 * logvar) * eps
        params = self._decode_all(z.transpose(0, 1).reshape(mu.shape[0], -1, self.K))
        log_px = log_prob(self.cfg.likelihood, x.repeat(k, 1), params)  # (Y, k*B)
        log_px = log_px.view(-1, k, x.shape[0]).permute(1, 2, 0)  # (k, B, Y)
        return log_px + log_normal_ratio(z, eps, logvar).sum(-1).permute(0, 2, 1)

    sample = VAE.sample
