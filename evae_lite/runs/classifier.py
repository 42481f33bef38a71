"""The digit classifier whose feature space the second measure of samples uses
(evaluate/features.py): trained once per data set and kept in the results cache, its
weights stored as a plain state dict and read back with `weights_only=True`."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass

import torch

from ..evaluate.features import FeatureNet


@dataclass(frozen=True)
class ClassifierSpec:
    """How the classifier is trained: Adam, on the grey-level training images."""

    hidden: int = 512
    num_features: int = 128
    epochs: int = 5
    batch_size: int = 100
    lr: float = 1e-3
    seed: int = 0


@dataclass(frozen=True)
class Classifier:
    net: FeatureNet
    test_accuracy: float  # on all test images
    spec: ClassifierSpec

    def __str__(self) -> str:
        s = self.spec
        return (
            f"digit classifier ({s.hidden}-{s.num_features} ReLU MLP, {s.epochs} epochs): "
            f"test accuracy {100 * self.test_accuracy:.2f}%"
        )


def train_classifier(x, labels, x_test, test_labels, spec: ClassifierSpec, progress=False):
    """Train a FeatureNet on (x, labels); returns (net, test accuracy)."""
    from tqdm.auto import tqdm

    g = torch.Generator().manual_seed(spec.seed)
    torch.manual_seed(spec.seed)  # the layers' initial weights
    net = FeatureNet(x.shape[1], spec.hidden, spec.num_features, int(labels.max()) + 1)
    opt = torch.optim.Adam(net.parameters(), lr=spec.lr)
    steps = spec.epochs * -(-x.shape[0] // spec.batch_size)
    bar = tqdm(total=steps, desc="digit classifier", disable=not progress)
    for _ in range(spec.epochs):
        order = torch.randperm(x.shape[0], generator=g)
        for i in range(0, x.shape[0], spec.batch_size):
            idx = order[i : i + spec.batch_size]
            loss = torch.nn.functional.cross_entropy(net(x[idx]), labels[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            bar.update(1)
    bar.close()
    net.eval()
    with torch.no_grad():
        acc = float((net(x_test).argmax(1) == test_labels).double().mean())
    return net, acc


def classifier(dataset: str = "mnist", spec: ClassifierSpec | None = None, progress=False):
    """The cached classifier of `dataset` (trained here the first time)."""
    from ..data import load_dataset
    from .cache import Entry, from_pack, locked, make_key, served

    spec = spec or ClassifierSpec()
    d = load_dataset(dataset)
    if d.train_labels is None:
        raise ValueError(f"dataset={dataset!r} has no labels: the classifier needs digits' labels")
    x, y = d.train, d.train_labels.long()
    e = Entry(make_key("classifier", spec=spec, x=x, y=y, x_test=d.test))
    e.dir.mkdir(parents=True, exist_ok=True)
    with locked(e.dir / ".lock"):
        if not (e.valid() or from_pack(e, ("weights.pt", "info.json"))):
            net, acc = train_classifier(x, y, d.test, d.test_labels.long(), spec, progress)
            torch.save(net.state_dict(), e.dir / "weights.pt")
            (e.dir / "info.json").write_text(json.dumps({"test_accuracy": acc}))
            e.seal(["weights.pt", "info.json"], {"spec": dataclasses.asdict(spec)})
        state = torch.load(e.dir / "weights.pt", weights_only=True)
        acc = json.loads((e.dir / "info.json").read_text())["test_accuracy"]
    served(e)
    net = FeatureNet(x.shape[1], spec.hidden, spec.num_features, int(y.max()) + 1)
    net.load_state_dict(state)
    return Classifier(net.eval(), acc, spec)
