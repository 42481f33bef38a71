"""TrainConfig: how a model is trained (section 5, Table 2), validated at construction."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from ..model.config import choice, finite_number, plain_numbers, positive_int
from .objective import KL_SCHEDULES

SCHEDULES = ("constant", "burda")
MAX_EPOCHS = 10**6  # a ceiling that catches a typo, far above the paper's 3280
MAX_STAGES = max(n for n in range(1, 30) if sum(3**i for i in range(n)) <= MAX_EPOCHS)
ASSIGN_Z = ("mean", "sample")


@dataclass(frozen=True)
class TrainConfig:
    """How a model is trained (paper section 5: Adam, base learning rate 1e-3).

    schedule: constant (lr for `epochs` epochs) or burda (Table 2: stage i = 0..stages-1 runs
    3**i epochs at lr * 10**(-i/7); `epochs` is then derived). binarize: dynamic binarization
    of each minibatch (binary data only). assign_z: how the per-epoch assignment y* = argmin
    cost evaluates the expectation over z: at the posterior mean (deterministic) or with
    `assign_samples` reparameterized samples shared across epitomes.

    The remedies for over-pruning that came after the paper (train/objective.py):
    kl_schedule constant | warmup (the KL weight ramps 0 -> 1 over `kl_warmup_steps` optimizer
    steps) | cyclical (`kl_cycles` ramps, each over the first `kl_ramp` share of its cycle);
    free_bits: the floor, in nats, below which a unit's minibatch-mean KL is not charged.
    tau_start, tau_end: the Gumbel-softmax temperature of an eVAE whose q(y|x) is learned
    with it (ModelConfig.q_y), annealed geometrically from start to end over the run.
    """

    epochs: int = 200
    batch_size: int = 100
    lr: float = 1e-3
    schedule: str = "constant"
    stages: int = 8
    binarize: bool = True
    seed: int = 0
    assign_z: str = "mean"
    assign_samples: int = 1
    device: str = "auto"
    kl_schedule: str = "constant"
    kl_warmup_steps: int | None = None
    kl_cycles: int | None = None
    kl_ramp: float | None = None
    free_bits: float = 0.0
    tau_start: float = 1.0
    tau_end: float = 0.5

    def __post_init__(self):
        plain_numbers(self)
        choice("schedule", self.schedule, SCHEDULES)
        choice("assign_z", self.assign_z, ASSIGN_Z)
        for name in ("epochs", "batch_size", "stages", "assign_samples"):
            positive_int(name, getattr(self, name))
        burda = self.schedule == "burda"
        if (self.stages > MAX_STAGES) if burda else (self.epochs > MAX_EPOCHS):
            what = f"stages={self.stages}" if burda else f"epochs={self.epochs}"
            most = f"stages <= {MAX_STAGES}" if burda else f"epochs <= {MAX_EPOCHS}"
            raise ValueError(f"{what} is not allowed: at most {MAX_EPOCHS} epochs in all ({most})")
        if isinstance(self.lr, bool) or not (isinstance(self.lr, (int, float)) and 0 < self.lr < 1):
            raise ValueError(f"lr={self.lr!r} is not allowed: need 0 < lr < 1")
        if not isinstance(self.binarize, bool):
            raise ValueError(f"binarize={self.binarize!r} is not allowed: need True or False")
        if (
            not isinstance(self.seed, int)
            or isinstance(self.seed, bool)
            or not (0 <= self.seed < 2**63)
        ):
            raise ValueError(
                f"seed={self.seed!r} is not allowed: need an integer 0 <= seed < 2**63"
            )
        if not (self.device in ("auto", "cpu") or str(self.device).startswith(("cuda", "mps"))):
            raise ValueError(
                f"device={self.device!r} is not allowed: use auto, cpu, cuda or cuda:N"
            )
        self._check_remedies()

    def _check_remedies(self) -> None:
        choice("kl_schedule", self.kl_schedule, KL_SCHEDULES)
        own = {"warmup": ("kl_warmup_steps",), "cyclical": ("kl_cycles", "kl_ramp")}
        for schedule, names in own.items():
            for name in names:
                v = getattr(self, name)
                if self.kl_schedule == schedule and v is None:
                    raise ValueError(f"kl_schedule={schedule!r} needs {name}")
                if self.kl_schedule != schedule and v is not None:
                    raise ValueError(
                        f"{name}={v!r} is not allowed with kl_schedule={self.kl_schedule!r}: "
                        f"it belongs to kl_schedule={schedule!r}"
                    )
        if self.kl_warmup_steps is not None:
            positive_int("kl_warmup_steps", self.kl_warmup_steps)
        if self.kl_cycles is not None:
            positive_int("kl_cycles", self.kl_cycles)
        if self.kl_ramp is not None:
            finite_number("kl_ramp", self.kl_ramp)
            if not 0 < self.kl_ramp <= 1:
                raise ValueError(f"kl_ramp={self.kl_ramp} is not allowed: need 0 < kl_ramp <= 1")
        for name in ("tau_start", "tau_end"):
            v = getattr(self, name)
            finite_number(name, v)
            if v <= 0:
                raise ValueError(f"{name}={v} is not allowed: a temperature must be > 0")
        if self.tau_end > self.tau_start:
            raise ValueError(
                f"tau_end={self.tau_end} is above tau_start={self.tau_start}: the temperature "
                f"is annealed down, need tau_end <= tau_start"
            )
        finite_number("free_bits", self.free_bits)
        if self.free_bits < 0:
            raise ValueError(f"free_bits={self.free_bits} is not allowed: it must be >= 0 nats")

    @property
    def total_epochs(self) -> int:
        if self.schedule == "burda":
            return sum(3**i for i in range(self.stages))
        return self.epochs

    def lr_at(self, epoch: int) -> float:
        """Learning rate of 0-based `epoch`."""
        if self.schedule == "constant":
            return self.lr
        start = 0
        for i in range(self.stages):
            if epoch < start + 3**i:
                return self.lr * 10 ** (-i / 7)
            start += 3**i
        raise ValueError(f"epoch={epoch} is past the schedule's {self.total_epochs} epochs")

    def replace(self, **changes) -> TrainConfig:
        return dataclasses.replace(self, **changes)

    def continues(self, shorter: TrainConfig) -> bool:
        """True when a run of this config passes exactly through the end of a run of
        `shorter`: the same settings but fewer epochs, and nothing (learning rate, KL weight,
        temperature) that depends on how long the run is. Training `shorter`, then going on
        to this config's epochs, gives the same weights as training this config at once."""
        if shorter.epochs >= self.epochs or self.replace(epochs=shorter.epochs) != shorter:
            return False
        return (
            self.schedule == "constant"
            and self.kl_schedule in ("constant", "warmup")  # warm-up counts absolute steps
        )
