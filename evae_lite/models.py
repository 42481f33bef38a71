"""The models: VAE (with KL weight lambda), dropout VAE, epitomic VAE (eVAE) and mixture VAE.

All four share one interface, used by training and the measurements:

- ``n_epitomes`` Y (1 for the VAEs) and ``masks`` m_y, a (Y, D) 0/1 tensor;
- ``posterior(x, y)``: mean and log-variance of q(z | y, x) in the D-dim latent space;
  dimensions outside epitome y are exactly the prior N(0, 1) (eq. 6);
- ``loss_terms(x, y)``: the per-example terms of the cost (eqs. 4 and 7) with the point
  estimate q(y|x) = delta(y - y*): reconstruction, KL per unit, and KL[q(y|x) || p(y)];
- ``epitome_costs(x)``: the cost of every example under every epitome, (B, Y), at once;
- ``log_weights(x, k)``: importance log-weights log p(x, z | y) - log q(z | y, x) for k
  samples of z under every epitome, (k, B, Y), for the L_k estimator;
- ``sample(n)`` and ``decode(z, y)`` for generation: y uniform, z ~ N(0, I), x ~ p(x | m_y * z).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from .config import ModelConfig
from .epitomes import epitome_masks
from .nets import Decoder, Encoder, gaussian_kl, log_prob, mean_image, output_params


@dataclass
class LossTerms:
    """Per-example terms of the cost. rec: (B,), kl: (B, D), kl_y: (B,)."""

    rec: torch.Tensor
    kl: torch.Tensor
    kl_y: torch.Tensor
    kl_weight: float = 1.0

    @property
    def cost(self) -> torch.Tensor:
        """Per-example cost, (B,): rec + lambda * sum_d KL_d + KL_y (eq. 4, eq. 7)."""
        return self.rec + self.kl_weight * self.kl.sum(-1) + self.kl_y

    @property
    def bound(self) -> torch.Tensor:
        """Per-example negative ELBO with lambda = 1, (B,): the true bound, in nats."""
        return self.rec + self.kl.sum(-1) + self.kl_y


def _noise(shape, like: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    return torch.randn(shape, generator=generator, device=like.device, dtype=like.dtype)


def _log_normal_ratio(z: torch.Tensor, eps: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """log N(z; 0, 1) - log N(z; mu, exp(logvar)) per dim, with z = mu + exp(logvar/2) * eps."""
    return -0.5 * z.pow(2) + 0.5 * eps.pow(2) + 0.5 * logvar


class VAE(nn.Module):
    """The VAE of section 2, with the KL weight lambda (3.1) and optional dropout on z (3.2)."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        self.D = cfg.D
        self.encoder = Encoder(cfg.x_dim, cfg.H, cfg.L, cfg.D)
        self.decoder = Decoder(cfg.D, cfg.H, cfg.L, cfg.x_dim, cfg.likelihood, cfg.min_logvar)
        self.register_buffer("masks", torch.ones(1, cfg.D))  # one epitome: everything

    @property
    def n_epitomes(self) -> int:
        return self.masks.shape[0]

    @property
    def kl_y(self) -> float:
        """KL[delta(y - y*) || uniform(Y)] = log Y: the price of naming an epitome."""
        return math.log(self.n_epitomes)

    def posterior(self, x: torch.Tensor, y: torch.Tensor | None = None):
        """q(z|x): mean and log-variance, each (B, D). The VAE has no epitome: y is ignored."""
        return self.encoder(x)

    def decode(self, z: torch.Tensor, y: torch.Tensor | None = None):
        """Decoder parameters for latent z (..., D)."""
        return self.decoder(z)

    def loss_terms(self, x, y=None, *, generator=None, eps=None) -> LossTerms:
        """Per-example terms with one reparameterized sample z = mu + sigma * eps."""
        mu, logvar = self.encoder(x)  # (B, D)
        eps = _noise(mu.shape, mu, generator) if eps is None else eps
        z = mu + torch.exp(0.5 * logvar) * eps
        p = self.cfg.dropout
        if self.training and p > 0:  # inverted dropout on z (section 3.2)
            keep = torch.rand(z.shape, generator=generator, device=z.device) >= p
            z = z * keep / (1 - p)
        rec = -self.decoder.log_prob(x, self.decoder(z))
        return LossTerms(rec, gaussian_kl(mu, logvar), torch.zeros_like(rec), self.cfg.kl_weight)

    @torch.no_grad()
    def epitome_costs(self, x, *, n_samples: int = 0, generator=None) -> torch.Tensor:
        """Cost of each example under each epitome, (B, Y); n_samples = 0: z at the mean."""
        eps = None if n_samples else torch.zeros(x.shape[0], self.D, device=x.device)
        return self.loss_terms(x, eps=eps, generator=generator).cost[:, None]

    @torch.no_grad()
    def log_weights(self, x, k: int, *, generator=None) -> torch.Tensor:
        """log p(x|z) + log p(z) - log q(z|x) for k samples z ~ q(z|x): (k, B, 1)."""
        mu, logvar = self.encoder(x)
        eps = _noise((k, *mu.shape), mu, generator)
        z = mu + torch.exp(0.5 * logvar) * eps  # (k, B, D)
        log_w = self.decoder.log_prob(x, self.decoder(z)) + _log_normal_ratio(z, eps, logvar).sum(
            -1
        )
        return log_w[..., None]

    @torch.no_grad()
    def sample(self, n: int, *, generator=None, y: torch.Tensor | None = None) -> torch.Tensor:
        """n generated images as decoder means, (n, P): y ~ uniform, z ~ N(0, I)."""
        device = self.masks.device
        if y is None:
            y = torch.randint(self.n_epitomes, (n,), generator=generator, device=device)
        z = torch.randn(n, self.D, generator=generator, device=device)
        return mean_image(self.cfg.likelihood, self.decode(z, y))


class EpitomicVAE(VAE):
    """eVAE (section 4): epitome y selects K contiguous dims of z via the mask m_y.

    q(z|y, x) = N(m_y * mu(x), exp(m_y * logvar(x))), p(x|y, z) = p(x | f(m_y * z)).
    With D = K = stride there is one epitome, KL_y = log 1 = 0, and this is the VAE.
    """

    def __init__(self, cfg: ModelConfig):
        super().__init__(cfg)
        self.masks = epitome_masks(cfg.D, cfg.epitome_size, cfg.epitome_stride)

    def posterior(self, x, y=None):
        mu, logvar = self.encoder(x)
        m = self.masks[self._y(x, y)]  # (B, D)
        return m * mu, m * logvar

    def decode(self, z, y=None):
        return self.decoder(self.masks[self._y(z, y)] * z)

    def _y(self, x, y):
        if y is None:
            if self.n_epitomes > 1:
                raise ValueError(f"this eVAE has {self.n_epitomes} epitomes: pass y")
            return torch.zeros(x.shape[:-1], dtype=torch.long, device=x.device)
        return y

    def loss_terms(self, x, y=None, *, generator=None, eps=None) -> LossTerms:
        mu, logvar = self.posterior(x, y)  # (B, D), the prior outside epitome y
        eps = _noise(mu.shape, mu, generator) if eps is None else eps
        z = mu + torch.exp(0.5 * logvar) * eps
        rec = -self.decoder.log_prob(x, self.decode(z, y))
        kl_y = torch.full_like(rec, self.kl_y)
        return LossTerms(rec, gaussian_kl(mu, logvar), kl_y, self.cfg.kl_weight)

    @torch.no_grad()
    def epitome_costs(self, x, *, n_samples: int = 0, generator=None) -> torch.Tensor:
        """(B, Y) costs, all epitomes in one batched decoder pass (Algorithm 1, line 3)."""
        mu, logvar = self.encoder(x)  # (B, D)
        m = self.masks  # (Y, D)
        kl = gaussian_kl(mu, logvar) @ m.T  # (B, Y): only the K dims of epitome y pay KL
        if n_samples == 0:
            z = mu[None]  # (1, B, D)
        else:  # the same noise for every epitome: the comparison between epitomes is fair
            z = mu + torch.exp(0.5 * logvar) * _noise((n_samples, *mu.shape), mu, generator)
        zy = z[:, :, None, :] * m  # (S, B, Y, D)
        rec = -self.decoder.log_prob(x[:, None, :], self.decoder(zy)).mean(0)  # (B, Y)
        return rec + self.cfg.kl_weight * kl + self.kl_y

    @torch.no_grad()
    def log_weights(self, x, k: int, *, generator=None) -> torch.Tensor:
        """(k, B, Y): for every epitome y, z ~ q(z|y, x) on y's K dims (the others are the
        prior under both p and q, so they cancel exactly and are left at 0)."""
        mu, logvar = self.encoder(x)  # (B, D)
        m = self.masks  # (Y, D)
        eps = _noise((k, x.shape[0], 1, self.D), mu, generator) * m  # (k, B, Y, D)
        lv = m * logvar[:, None, :]  # (B, Y, D)
        z = m * mu[:, None, :] + torch.exp(0.5 * lv) * eps
        log_px = self.decoder.log_prob(x[:, None, :], self.decoder(z))  # (k, B, Y)
        return log_px + (m * _log_normal_ratio(z, eps, lv)).sum(-1)


class GroupedLinear(nn.Module):
    """G independent linear layers applied side by side: (G, N, in) -> (G, N, out).

    A (N, in) input is shared by all groups (the first encoder layer sees the same x).
    """

    def __init__(self, G: int, in_dim: int, out_dim: int):
        super().__init__()
        bound = 1 / math.sqrt(in_dim)  # nn.Linear's default initialisation
        self.weight = nn.Parameter(torch.empty(G, in_dim, out_dim).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(G, 1, out_dim).uniform_(-bound, bound))

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
        eps = _noise(mu.shape, mu, generator) if eps is None else eps
        z = mu + torch.exp(0.5 * logvar) * eps * self.masks[y]
        rec = -log_prob(self.cfg.likelihood, x, self.decode(z, y))
        kl_y = torch.full_like(rec, self.kl_y)
        return LossTerms(rec, gaussian_kl(mu, logvar), kl_y, self.cfg.kl_weight)

    @torch.no_grad()
    def epitome_costs(self, x, *, n_samples: int = 0, generator=None) -> torch.Tensor:
        mu, logvar = self._encode_all(x)  # (Y, B, K)
        kl = gaussian_kl(mu, logvar).sum(-1).T  # (B, Y)
        S = max(n_samples, 1)
        eps = _noise((S, *mu.shape), mu, generator) if n_samples else mu.new_zeros(1, *mu.shape)
        z = mu + torch.exp(0.5 * logvar) * eps  # (S, Y, B, K)
        params = self._decode_all(z.transpose(0, 1).reshape(mu.shape[0], -1, self.K))
        rec = -log_prob(self.cfg.likelihood, x.repeat(S, 1), params)  # (Y, S*B)
        rec = rec.view(-1, S, x.shape[0]).mean(1).T  # (B, Y)
        return rec + self.cfg.kl_weight * kl + self.kl_y

    @torch.no_grad()
    def log_weights(self, x, k: int, *, generator=None) -> torch.Tensor:
        mu, logvar = self._encode_all(x)  # (Y, B, K)
        eps = _noise((k, *mu.shape), mu, generator)  # (k, Y, B, K)
        z = mu + torch.exp(0.5 * logvar) * eps
        params = self._decode_all(z.transpose(0, 1).reshape(mu.shape[0], -1, self.K))
        log_px = log_prob(self.cfg.likelihood, x.repeat(k, 1), params)  # (Y, k*B)
        log_px = log_px.view(-1, k, x.shape[0]).permute(1, 2, 0)  # (k, B, Y)
        return log_px + _log_normal_ratio(z, eps, logvar).sum(-1).permute(0, 2, 1)

    sample = VAE.sample


MODEL_CLASSES = {"vae": VAE, "dropout_vae": VAE, "evae": EpitomicVAE, "mvae": MixtureVAE}


def build_model(cfg: ModelConfig) -> nn.Module:
    """The model named by cfg.model."""
    return MODEL_CLASSES[cfg.model](cfg)


def param_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
