"""One pipeline: a `Job` (model, training, data, sizes, seed, measurements) and `run(job)`,
which trains through the results cache (or a run directory) and returns a typed `JobResult`.

The command line, the chapters (`evae_lite.book.Session`) and the sweeps all call `run`, so a
result does not depend on which of them asked for it. Seeds are part of a job (its training
config's seed); `over_seeds` expands a job into replicates and `aggregate` summarises their
results across seeds.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import torch

from ..evaluate.features import SampleFeatures
from ..evaluate.parzen import ParzenResult
from ..model import ModelConfig, param_count
from ..model.config import choice, plain_numbers
from ..sealed import from_fields
from ..train import TrainConfig, TrainResult, fixed_binarization
from .scales import get_scale

# features: the second measure of samples (Fréchet distance, precision and recall in a digit
# classifier's feature space, evaluate/features.py), on the same samples as Parzen
MEASURES = ("units", "parzen", "iwae", "mi", "features")
# Evaluation images get one fixed binarization, the same for every seed and model, so that
# results can be compared image by image.
EVAL_BINARIZATION_SEED = 0


def too_few_for_features(parzen_samples, eval_size) -> dict[str, int]:
    """The sizes that leave the classifier-feature measure no more samples (Parzen's) or test
    images than its k nearest neighbours: name -> value ({} when both suffice)."""
    from ..evaluate.features import NEAREST_K

    sizes = {"parzen_samples": parzen_samples, "eval_size": eval_size}
    return {k: v for k, v in sizes.items() if isinstance(v, int) and v <= NEAREST_K}


def default_measures(dataset: str, parzen_samples=None, eval_size=None) -> tuple[str, ...]:
    """Activity and Parzen; and the second measure of samples where the data set has the
    labels its classifier needs (MNIST) and the sizes given suffice (`too_few_for_features`)."""
    if dataset == "mnist" and not too_few_for_features(parzen_samples, eval_size):
        return ("units", "parzen", "features")
    return ("units", "parzen")


def _positive_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and 0 < v < math.inf


# ceilings that catch a typo, far above the paper's 10,000 samples and k = 5000
MAX_PARZEN_SAMPLES = 10**7
MAX_IWAE_K = 10**6


@dataclass(frozen=True)
class Job:
    """One trained model and what to measure on it."""

    model: ModelConfig
    train: TrainConfig
    dataset: str = "mnist"
    train_size: int | None = None  # first N training images (None: all)
    eval_size: int | None = None  # first N validation/test images for the measurements
    measures: tuple[str, ...] = ("units", "parzen")
    parzen_samples: int = 10_000
    parzen_sigmas: tuple[float, ...] | None = None  # bandwidth grid (None: the default)
    iwae_k: int = 5000
    iwae_size: int | None = None  # first N test images for L_k (None: all eval images)
    scale: str | None = field(default=None, compare=False)  # label for printing, not in the key
    tag: dict = field(default_factory=dict, compare=False)  # labels for tables, not in the key

    def __post_init__(self):
        from ..data import DATASETS

        plain_numbers(self)
        for name, kind in (("model", ModelConfig), ("train", TrainConfig), ("tag", dict)):
            v = getattr(self, name)
            if not isinstance(v, kind):
                raise TypeError(
                    f"{name}={v!r} is not allowed: need a {kind.__name__}"
                    + (f" (e.g. {kind.__name__}(**{name}))" if isinstance(v, dict) else "")
                )
        if self.scale is not None and not isinstance(self.scale, str):
            raise TypeError(f"scale={self.scale!r} is not allowed: need a scale's name or None")
        choice("dataset", self.dataset, DATASETS)
        if not isinstance(self.measures, tuple):
            raise ValueError(f"measures={self.measures!r} is not allowed: need a tuple")
        bad = [m for m in self.measures if m not in MEASURES]
        if bad:
            raise ValueError(f"measures {bad} are not allowed: choose from {', '.join(MEASURES)}")
        for name in ("train_size", "eval_size", "iwae_size"):
            v = getattr(self, name)
            if v is not None and (not isinstance(v, int) or isinstance(v, bool) or v < 1):
                raise ValueError(f"{name}={v!r} is not allowed: need a positive integer or None")
        if self.eval_size == 1:  # A_u, its parts and every standard error are variances
            raise ValueError(
                "eval_size=1 is not allowed: activity and standard errors are variances over "
                "the evaluation images; need at least 2"
            )
        if "features" in self.measures:
            from ..evaluate.features import NEAREST_K

            few = too_few_for_features(self.parzen_samples, self.eval_size)
            if few:
                raise ValueError(
                    "measures 'features' is not allowed with "
                    + ", ".join(f"{k}={v}" for k, v in few.items())
                    + f": precision and recall need more than k={NEAREST_K} samples and test "
                    "images (the samples are Parzen's)"
                )
        if self.iwae_size and self.eval_size and self.iwae_size > self.eval_size:
            raise ValueError(
                f"iwae_size={self.iwae_size} is not allowed with eval_size={self.eval_size}: "
                f"L_k uses the first iwae_size of the eval_size test images"
            )
        sig = self.parzen_sigmas
        if sig is not None and not (
            isinstance(sig, tuple) and sig and all(_positive_number(v) for v in sig)
        ):
            raise ValueError(
                f"parzen_sigmas={sig!r} is not allowed: need None or a tuple of positive numbers"
            )
        for name, most in (("parzen_samples", MAX_PARZEN_SAMPLES), ("iwae_k", MAX_IWAE_K)):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or not 1 <= v <= most:
                raise ValueError(f"{name}={v!r} is not allowed: need an integer 1..{most}")

    @classmethod
    def at(
        cls,
        model: ModelConfig,
        scale: str | None = None,
        kind: str = "figures",
        dataset: str = "mnist",
        *,
        seed: int = 0,
        measures: tuple[str, ...] | None = None,
        tag: dict | None = None,
        **train_changes,
    ) -> Job:
        """The job for `model` with the sizes of one row of the table of scales. Measured by
        default as every generation result is: activity and Parzen, and on a data set with
        labels the classifier-feature measure of samples beside Parzen."""
        s = get_scale(scale, kind, dataset)
        if measures is None:
            measures = default_measures(dataset)
        return cls(
            model,
            s.train_config(seed, **train_changes),
            dataset=dataset,
            train_size=s.train_size,
            eval_size=s.eval_size,
            measures=measures,
            parzen_samples=s.parzen_samples,
            parzen_sigmas=s.parzen_sigmas if dataset != "mnist" else None,
            iwae_k=s.iwae_k or 5000,
            iwae_size=s.iwae_size,
            scale=s.name,
            tag=tag or {},
        )

    @property
    def seed(self) -> int:
        return self.train.seed

    def with_seed(self, seed: int) -> Job:
        return dataclasses.replace(self, train=self.train.replace(seed=seed))

    def training(self, **changes) -> Job:
        """The job with its training config changed (e.g. epochs=25)."""
        return dataclasses.replace(self, train=self.train.replace(**changes))

    def measuring(self, *measures: str) -> Job:
        return dataclasses.replace(self, measures=tuple(measures))

    def key_parts(self) -> dict:
        d = dataclasses.asdict(self)
        d.pop("tag")
        d.pop("scale")
        return d

    def to_json(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, d: dict, where: str = "a job", version: str | None = None) -> Job:
        """The job of `to_json`; a field this version does not know (or lacks) is a
        sealed.FormatError naming `where` and the `version` that wrote it."""
        d = dict(d)
        for name, kind in (("model", ModelConfig), ("train", TrainConfig)):
            if isinstance(d.get(name), dict):
                d[name] = from_fields(kind, d[name], where, version)
        for name in ("measures", "parzen_sigmas"):
            if isinstance(d.get(name), list):
                d[name] = tuple(d[name])
        return from_fields(cls, d, where, version)


@dataclass(frozen=True)
class Units:
    """Activity A_u and mean KL of every unit over the validation images (Fig. 1)."""

    active: int  # A_u > 0.02 (the paper's threshold)
    active_burda: int  # A_u > 0.01 (Burda et al.'s code)
    activity: list[float]
    kl: list[float]  # nats
    # A_u = within + between (evaluate.ActivityParts); within_activity: the variance of u's
    # posterior mean over the examples whose epitome contains u; active_within counts it > 0.02
    within: list[float] | None = None
    between: list[float] | None = None
    within_activity: list[float] | None = None
    group_size: list[int] | None = None
    active_within: int | None = None

    def report(self):
        """The `evaluate.UnitReport` of these numbers (with A_u's parts), for plots."""
        from ..evaluate.activity import THRESHOLD_PAPER, ActivityParts, UnitReport

        activity = torch.tensor(self.activity)
        parts = None
        if self.within is not None:
            parts = ActivityParts(
                activity,
                torch.tensor(self.within),
                torch.tensor(self.between),
                torch.tensor(self.within_activity),
                torch.tensor(self.group_size),
            )
        return UnitReport(activity, torch.tensor(self.kl), THRESHOLD_PAPER, parts)


@dataclass(frozen=True)
class Lk:
    """L_k on test images: mean, standard error over images, and every image's value."""

    k: int
    mean: float
    stderr: float
    n: int
    per_image: list[float]  # for paired comparisons between models


@dataclass(frozen=True)
class JobResult:
    seed: int
    n_params: int
    epochs: int
    val_bound: float  # negative ELBO on the validation images after the last epoch, nats
    D: int
    component_H: int | None = None  # mVAE only
    units: Units | None = None
    parzen: ParzenResult | None = None
    iwae: Lk | None = None
    mi: float | None = None  # I(x; z) under the encoder on the validation images, nats
    features: SampleFeatures | None = None  # the second measure of samples

    def to_json(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, d: dict, where: str = "a result") -> JobResult:
        d = dict(d)
        kinds = (("units", Units), ("parzen", ParzenResult), ("iwae", Lk))
        for name, kind in (*kinds, ("features", SampleFeatures)):
            d[name] = from_fields(kind, d[name], where) if d.get(name) else None
        return from_fields(cls, d, where)


@dataclass(frozen=True)
class Inputs:
    """A job's data set, its model config completed for it, and the images it uses."""

    data: object  # data.Splits
    model: ModelConfig
    x_train: torch.Tensor
    x_val: torch.Tensor
    x_test: torch.Tensor


def inputs(job: Job) -> Inputs:
    from ..data import load_dataset

    data = load_dataset(job.dataset)
    m = job.model.replace(
        x_dim=data.train.shape[1], likelihood="bernoulli" if data.binary else "gaussian"
    )
    x_train = data.train if job.train_size is None else data.train[: job.train_size]
    n = job.eval_size
    x_val, x_test = (data.val, data.test) if n is None else (data.val[:n], data.test[:n])
    return Inputs(data, m, x_train, x_val, x_test)


def eval_images(x: torch.Tensor, binary: bool) -> torch.Tensor:
    """Evaluation images as the measurements see them: binary data sets fixed-binarized."""
    return fixed_binarization(x, EVAL_BINARIZATION_SEED) if binary else x


def is_trained(job: Job, given=None) -> bool:
    """Whether the results cache already holds the job's trained model (a valid entry)."""
    from .cache import model_entry

    i = given or inputs(job)
    return model_entry(i.model, job.train, i.x_train, i.x_val).valid()


def trained(
    job: Job, *, run_dir: str | Path | None = None, progress: bool = False, given=None
) -> TrainResult:
    """The job's trained model: from the results cache (trained there when missing), or, with
    run_dir, trained in that directory's checkpoint (resumed when it exists).
    given: `inputs(job)`, when the caller has it already."""
    from ..train import train
    from .cache import cached_train

    i = given or inputs(job)
    if run_dir is None:
        return cached_train(
            i.model, job.train, i.x_train, i.x_val, binary=i.data.binary, progress=progress
        )
    from ..sealed import remove_temporaries
    from .cache import locked

    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    with locked(run_dir / ".lock"):  # a second command on this directory waits, then resumes
        remove_temporaries(run_dir / "checkpoint.pt")
        return train(
            i.model,
            job.train,
            i.x_train,
            i.x_val,
            binary=i.data.binary,
            checkpoint=run_dir / "checkpoint.pt",
            progress=progress,
        )


def measure(job: Job, res: TrainResult, given: Inputs, *, progress: bool = False) -> JobResult:
    """The job's measurements of a trained model (progress: bars over the long passes)."""
    model, i = res.model, given
    dev = next(model.parameters()).device
    units = parzen = lk = mi = features = None
    xv = i.x_val.to(dev)
    if "units" in job.measures:
        from ..evaluate.activity import THRESHOLD_BURDA_CODE, unit_report

        rep = unit_report(model, eval_images(xv, i.data.binary))
        parts = rep.parts
        units = Units(
            rep.n_active,
            rep.n_active_at(THRESHOLD_BURDA_CODE),
            rep.activity.tolist(),
            rep.kl.tolist(),
            within=parts.within.tolist(),
            between=parts.between.tolist(),
            within_activity=parts.within_activity.tolist(),
            group_size=parts.group_size.tolist(),
            active_within=int((parts.within_activity > rep.threshold).sum()),
        )
    if "parzen" in job.measures:
        from ..evaluate.parzen import DEFAULT_SIGMAS, parzen_score

        parzen = parzen_score(
            model,
            xv,
            i.x_test.to(dev),
            n_samples=job.parzen_samples,
            sigmas=job.parzen_sigmas or DEFAULT_SIGMAS,
            seed=job.seed,
            progress=progress,
        )
    if "features" in job.measures:
        from ..evaluate.features import sample_features
        from ..evaluate.parzen import generate
        from .classifier import classifier

        if i.data.train_labels is None:
            raise ValueError(f"measures 'features' is not allowed for {job.dataset}: no labels")
        net = classifier(job.dataset, progress=progress).net.to(dev)
        samples = generate(model, job.parzen_samples, job.seed)  # Parzen's own samples
        features = sample_features(samples, i.x_test.to(dev), net)
    if "iwae" in job.measures:
        from ..evaluate.iwae import log_likelihood

        xt = i.x_test if job.iwae_size is None else i.x_test[: job.iwae_size]
        xt = eval_images(xt.to(dev), i.data.binary)
        ll = log_likelihood(model, xt, job.iwae_k, seed=job.seed, progress=progress)
        lk = Lk(job.iwae_k, float(ll.mean()), _stderr(ll), len(ll), ll.tolist())
    if "mi" in job.measures:
        from ..evaluate.mutual_info import mutual_information

        g = torch.Generator(device=dev).manual_seed(job.seed)
        mi = mutual_information(model, eval_images(xv, i.data.binary), generator=g)
    last = res.history[-1]
    return JobResult(
        seed=job.seed,
        n_params=param_count(model),
        epochs=last.epoch,
        val_bound=last.val_bound,
        D=i.model.D,
        component_H=getattr(model, "component_H", None),
        units=units,
        parzen=parzen,
        iwae=lk,
        mi=mi,
        features=features,
    )


def _stderr(v: torch.Tensor) -> float:
    return float(v.std() / len(v) ** 0.5) if len(v) > 1 else 0.0


def run(
    job: Job,
    *,
    run_dir: str | Path | None = None,
    progress: bool = False,
    threads: int | None = None,
) -> JobResult:
    """Train (cached) and measure one job. Its result is a cache entry of its own, so asking
    again costs nothing; with run_dir, the model lives in that directory and nothing is cached.
    threads: torch's thread count for this process (sweep workers set it)."""
    from .cache import cached_json

    if threads:
        torch.set_num_threads(threads)
    given = inputs(job)

    def compute() -> dict:
        res = trained(job, run_dir=run_dir, progress=progress, given=given)
        return measure(job, res, given, progress=progress).to_json()

    if run_dir is not None:
        return JobResult.from_json(compute())
    return JobResult.from_json(cached_json("job", compute, **job.key_parts()))


def over_seeds(job: Job, seeds: int | Iterable[int]) -> list[Job]:
    """The job repeated with seeds 0..seeds-1 (or the given seeds)."""
    seeds = range(seeds) if isinstance(seeds, int) else list(seeds)
    if not seeds:
        raise ValueError("seeds is empty: give a positive count or a list of seeds")
    return [job.with_seed(s) for s in seeds]


@dataclass(frozen=True)
class Spread:
    """A quantity over seeds: its mean, the standard error of that mean across seeds (None
    for one seed), and every seed's value."""

    mean: float
    stderr: float | None
    values: list[float]

    @classmethod
    def of(cls, values: Iterable[float]) -> Spread:
        v = [float(x) for x in values]
        n = len(v)
        m = sum(v) / n
        se = math.sqrt(sum((x - m) ** 2 for x in v) / (n - 1) / n) if n > 1 else None
        return cls(m, se, v)

    def __format__(self, spec: str) -> str:
        """'29.3 ± 0.3', the numbers in `spec` (default '.1f'); one seed has no ±."""
        spec = spec or ".1f"
        if self.stderr is None:
            return f"{self.mean:{spec}}"
        return f"{self.mean:{spec}} ± {self.stderr:{spec}}"

    def __str__(self) -> str:
        n = len(self.values)
        return f"{self:.1f} ({n} seed{'s' if n > 1 else ''})"


@dataclass(frozen=True)
class Aggregate:
    """Results of one configuration over seeds. Each Spread is across seeds; the *_images
    fields are the mean over seeds of each seed's standard error over test images."""

    seeds: list[int]
    val_bound: Spread
    active: Spread | None = None
    parzen: Spread | None = None
    parzen_images: float | None = None
    iwae: Spread | None = None
    iwae_images: float | None = None
    fd: Spread | None = None  # the Fréchet distance of the classifier's features
    precision: Spread | None = None
    recall: Spread | None = None


def aggregate(results: list[JobResult]) -> Aggregate:
    """Mean, standard error across seeds and per-seed values of every measured quantity."""
    if not results:
        raise ValueError("aggregate needs at least one result")
    seeds = [r.seed for r in results]
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds {seeds} repeat: aggregate replicates with distinct seeds")

    def mean(v):
        return sum(v) / len(v)

    out = dict(seeds=seeds, val_bound=Spread.of(r.val_bound for r in results))
    if all(r.units for r in results):
        out["active"] = Spread.of(r.units.active for r in results)
    if all(r.parzen for r in results):
        out["parzen"] = Spread.of(r.parzen.mean for r in results)
        out["parzen_images"] = mean([r.parzen.stderr for r in results])
    if all(r.iwae for r in results):
        out["iwae"] = Spread.of(r.iwae.mean for r in results)
        out["iwae_images"] = mean([r.iwae.stderr for r in results])
    if all(r.features for r in results):
        for name in ("fd", "precision", "recall"):
            out[name] = Spread.of(getattr(r.features, name) for r in results)
    return Aggregate(**out)
