"""ModelConfig: one model of the paper, validated at construction so bad values fail at once."""

from __future__ import annotations

import dataclasses
import math
import numbers
from dataclasses import dataclass

from .epitomes import check_epitomes

MODELS = ("vae", "dropout_vae", "evae", "mvae")
# q(y|x) of the eVAE: Algorithm 1's point estimate y*, or learned by an inference network
# (section 4.2's future work) with the Gumbel-softmax relaxation (relaxed or straight-through)
# or with REINFORCE and a baseline
Q_Y = ("point", "gumbel", "gumbel_st", "reinforce")
LIKELIHOODS = ("bernoulli", "gaussian")


def positive_int(name: str, v) -> None:
    if not isinstance(v, int) or isinstance(v, bool) or v < 1:
        raise ValueError(f"{name}={v!r} is not allowed: it must be a positive integer")


def nonnegative_int(name: str, v) -> None:
    if not isinstance(v, int) or isinstance(v, bool) or v < 0:
        raise ValueError(f"{name}={v!r} is not allowed: it must be an integer >= 0")


FLOAT32_MAX = 3.4028234663852886e38  # the largest float a float32 tensor holds


def finite_number(name: str, v) -> None:
    """A finite number that float32, the precision the models compute in, can hold."""
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise ValueError(f"{name}={v!r} is not allowed: it must be a finite number")
    if abs(v) > FLOAT32_MAX:
        raise ValueError(
            f"{name}={v!r} is not allowed: beyond what float32 holds (|{name}| <= 3.4e38)"
        )


def plain_numbers(config) -> None:
    """Turn numpy scalars in a frozen dataclass's fields into Python's int, float and bool,
    so that `numpy.int64(50)` is accepted wherever 50 is and the config stays JSON-able."""
    for f in dataclasses.fields(config):
        v = getattr(config, f.name)
        if type(v) in (int, float, bool, str) or v is None:
            continue
        if type(v).__module__ == "numpy" and type(v).__name__ in ("bool", "bool_"):
            plain = bool(v)
        elif isinstance(v, numbers.Integral) and not isinstance(v, bool):
            plain = int(v)
        elif isinstance(v, numbers.Real):
            plain = float(v)
        else:
            continue
        object.__setattr__(config, f.name, plain)


def choice(name: str, v, allowed) -> None:
    if not isinstance(v, str) or v not in allowed:
        raise ValueError(f"{name}={v!r} is not allowed: choose one of {', '.join(allowed)}")


@dataclass(frozen=True)
class ModelConfig:
    """One model of the paper.

    model: vae | dropout_vae | evae | mvae. D: latent size. K, stride: epitome size and stride
    (evae, mvae; default K = D, stride = K). L, H: hidden layers and units of encoder and
    decoder. kl_weight: the lambda of section 3.1 (1 is the true bound). dropout: rate p on z
    (dropout_vae only). component_H: hidden units of each mVAE component (default: chosen so
    the mVAE has about as many parameters as the eVAE with the same D, K, L, H).
    q_y: the eVAE's q(y|x), one of Q_Y (point: y* of Algorithm 1).
    """

    model: str = "vae"
    D: int = 50
    K: int | None = None
    stride: int | None = None
    L: int = 1
    H: int = 500
    x_dim: int = 784
    likelihood: str = "bernoulli"
    kl_weight: float = 1.0
    dropout: float = 0.0
    component_H: int | None = None
    min_logvar: float = -9.0
    q_y: str = "point"

    def __post_init__(self):
        plain_numbers(self)
        choice("model", self.model, MODELS)
        choice("likelihood", self.likelihood, LIKELIHOODS)
        for name in ("D", "H", "x_dim"):
            positive_int(name, getattr(self, name))
        nonnegative_int("L", self.L)
        for name in ("kl_weight", "dropout", "min_logvar"):
            finite_number(name, getattr(self, name))
        if self.kl_weight < 0:
            raise ValueError(f"kl_weight={self.kl_weight} is not allowed: it must be >= 0")
        if self.model == "dropout_vae":
            if not 0 < self.dropout < 1:
                raise ValueError(
                    f"dropout={self.dropout} is not allowed for dropout_vae: need 0 < p < 1"
                )
        elif self.dropout != 0:
            raise ValueError(
                f"dropout={self.dropout} is not allowed for model={self.model!r}: "
                f"dropout on z is the dropout_vae model"
            )
        if self.model in ("vae", "dropout_vae"):
            for name in ("K", "stride"):
                v = getattr(self, name)
                if v is not None and v != self.D:
                    raise ValueError(
                        f"{name}={v} is not allowed for model={self.model!r}: a VAE has one "
                        f"epitome of size D={self.D}; use model='evae' for epitomes"
                    )
        check_epitomes(self.D, self.epitome_size, self.epitome_stride)
        if self.model == "mvae" and self.epitome_stride != self.epitome_size:
            raise ValueError(
                f"stride={self.epitome_stride} is not allowed for mvae: its components are "
                f"independent VAEs, so epitomes cannot overlap; need stride = K = {self.K}"
            )
        choice("q_y", self.q_y, Q_Y)
        if self.q_y != "point" and (self.model != "evae" or self.n_epitomes < 2):
            raise ValueError(
                f"q_y={self.q_y!r} is not allowed for model={self.model!r} with "
                f"{self.n_epitomes} epitome(s): a learned q(y|x) needs an eVAE with 2 or more"
            )
        if self.component_H is not None:
            if self.model != "mvae":
                raise ValueError("component_H is only allowed for model='mvae'")
            positive_int("component_H", self.component_H)

    @property
    def epitome_size(self) -> int:
        """K (D for the plain VAE)."""
        return self.D if self.K is None else self.K

    @property
    def epitome_stride(self) -> int:
        """s (default K: non-overlapping)."""
        return self.epitome_size if self.stride is None else self.stride

    @property
    def n_epitomes(self) -> int:
        return (self.D - self.epitome_size) // self.epitome_stride + 1

    def replace(self, **changes) -> ModelConfig:
        return dataclasses.replace(self, **changes)
