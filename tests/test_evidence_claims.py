"""The chapters' claims that the paper makes and the book's measurements speak against or for
(chapters 4, 7 and 8), judged on a made-up session whose numbers are known: each claim reads the
measurement it names, and flips when the numbers do."""

from dataclasses import dataclass, field

import pytest
import torch

from evae_lite.book import evidence as EV
from evae_lite.book import rules as R
from evae_lite.model import ModelConfig


@dataclass
class _Run:
    cfg: ModelConfig
    seed: int
    y: torch.Tensor | None = None


@dataclass
class _Units:
    n_active: int


@dataclass
class _Score:
    mean: float


@dataclass
class _Features:
    fd: float
    recall: float


@dataclass
class _Scale:
    name: str = "book"


@dataclass
class _Data:
    train_labels: torch.Tensor


@dataclass
class FakeSession:
    """Three seeds per configuration; every measure a function of (model, D, seed)."""

    parzen_of: dict = field(default_factory=dict)  # model -> f(D, seed)
    fd_of: dict = field(default_factory=dict)
    recall_of: dict = field(default_factory=dict)
    rec_of: dict = field(default_factory=dict)
    y_of: object = None  # seed -> y* over the training labels
    labels: torch.Tensor | None = None
    scale: _Scale = field(default_factory=_Scale)

    def train_seeds(self, cfg):
        return [_Run(cfg, s, None if self.y_of is None else self.y_of(s)) for s in range(3)]

    def units(self, run):
        return _Units(run.cfg.D)

    def parzen(self, run):
        return _Score(self.parzen_of[run.cfg.model](run.cfg.D, run.seed))

    def features(self, run):
        m = run.cfg.model
        return _Features(self.fd_of[m](run.cfg.D, run.seed), self.recall_of[m](run.cfg.D, run.seed))

    def data(self):
        return _Data(self.labels)


@pytest.fixture
def rec(monkeypatch):
    """rec_error read from the fake session instead of a model."""
    monkeypatch.setattr(
        EV, "rec_error", lambda S, run: S.rec_of[run.cfg.model](run.cfg.D, run.seed)
    )


def _claim(ev, words):
    return next(j for j in ev.verdicts if words in j.claim)


@pytest.mark.parametrize("worse", [True, False])
def test_the_dropout_vae_generalizes_poorly_reads_parzen_and_features(rec, worse):
    sign = 1 if worse else -1
    S = FakeSession(
        parzen_of={
            "vae": lambda D, s: 200.0 + s,
            "dropout_vae": lambda D, s: 200 - sign * 20.0 + s,
        },
        fd_of={
            "vae": lambda D, s: 5.0 + 0.1 * s,
            "dropout_vae": lambda D, s: 5 + sign * 3 + 0.1 * s,
        },
        recall_of={"vae": lambda D, s: 0.5, "dropout_vae": lambda D, s: 0.5},
        rec_of={"vae": lambda D, s: 90.0 + s, "dropout_vae": lambda D, s: 100.0 + s},
    )
    ev = EV.dropout(S)
    poor = [j for j in ev.verdicts if "generalizes poorly" in j.claim]
    assert [j.where for j in poor] == ["section 3.2", "section 3.2, second measure"]
    want = R.SUPPORTED if worse else R.NOT_SUPPORTED
    assert [j.verdict for j in poor] == [want, want], [j.why for j in poor]
    assert ev.values["parzen_dropout"].mean == pytest.approx(200 - sign * 20 + 1)
    assert all(j.question == "others" for j in poor)  # the sibling shares the question


def _generation_session(evae_rec):
    return FakeSession(
        parzen_of={"vae": lambda D, s: 250 - D + s, "evae": lambda D, s: 250.0 + s},
        fd_of={"vae": lambda D, s: 5 + 0.1 * D + 0.01 * s, "evae": lambda D, s: 5 + 0.01 * s},
        recall_of={"vae": lambda D, s: 0.6 + 0.01 * s, "evae": lambda D, s: 0.4 + 0.01 * s},
        rec_of={"vae": lambda D, s: 80.0 + s, "evae": lambda D, s: evae_rec + s},
    )


def test_both_good_reconstruction_and_generation_is_judged_against_a_tenth_of_the_vaes(rec):
    far = EV.generation_vs_D(_generation_session(evae_rec=120.0))
    both = _claim(far, "both good reconstruction")
    assert both.verdict == R.NOT_SUPPORTED and "D = 20" in both.claim
    assert "within 10% of the VAE's (8.1 nats)" in both.claim  # a tenth of 81
    near = EV.generation_vs_D(_generation_session(evae_rec=82.0))
    assert _claim(near, "both good reconstruction").verdict == R.SUPPORTED
    # the eVAE's samples cover less of the test set (recall 0.41 against 0.61): not more diverse
    assert _claim(far, "more diverse").verdict == R.NOT_SUPPORTED


def test_epitomes_specialize_against_the_same_split_with_shuffled_labels():
    labels = torch.arange(10).repeat(100)  # ten classes of 100
    pure = FakeSession(labels=labels, y_of=lambda s: labels.clone())  # epitome y = class y
    ev = EV.epitome_classes(pure)
    j = ev.verdicts[0]
    assert ev.values["purity"].mean == 1.0 and j.verdict == R.SUPPORTED and j.chapter == "7"

    def scattered(s):  # every epitome a random tenth of the data
        return torch.randperm(1000, generator=torch.Generator().manual_seed(s)) % 10

    ev = EV.epitome_classes(FakeSession(labels=labels, y_of=scattered))
    # a random hundred's most common class holds more than a tenth by chance alone: the
    # shuffled baseline holds as much, so the claim is not supported by such a split
    assert ev.values["purity"].mean > 0.12 and ev.values["shuffled"].mean > 0.12
    assert ev.verdicts[0].verdict != R.SUPPORTED, ev.verdicts[0].why


def test_class_purity_is_the_median_top_share_over_nonempty_epitomes():
    y = torch.tensor([0, 0, 0, 0, 2, 2, 5])
    labels = torch.tensor([1, 1, 1, 3, 4, 7, 9])
    # epitome 0: 3 of 4; epitome 2: 1 of 2; epitome 5: 1 of 1 (1 and 3-5 claim nothing)
    assert EV.class_purity(y, labels) == pytest.approx(0.75)
    assert EV.shuffled_purity(y, labels) == EV.shuffled_purity(y, labels)  # seeded
