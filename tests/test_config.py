import dataclasses

import pytest

from evae_lite import ModelConfig, TrainConfig


@pytest.mark.parametrize(
    "kw,needle",
    [
        (dict(model="gan"), "model='gan'.*vae, dropout_vae, evae, mvae"),
        (dict(H=0), "H=0"),
        (dict(D=-3), "D=-3"),
        (dict(likelihood="poisson"), "likelihood='poisson'"),
        (dict(kl_weight=-1.0), "kl_weight=-1.0"),
        (dict(model="dropout_vae", dropout=1.0), "dropout=1.0"),
        (dict(model="vae", dropout=0.5), "dropout=0.5"),
        (dict(model="vae", K=5), "K=5"),
        (dict(model="mvae", D=20, K=2, stride=1), "stride=1"),
        (dict(model="evae", D=10, K=20), "K=20"),
    ],
)
def test_bad_model_config(kw, needle):
    with pytest.raises(ValueError, match=needle):
        ModelConfig(**kw)


@pytest.mark.parametrize(
    "kw,needle",
    [
        (dict(epochs=0), "epochs=0"),
        (dict(batch_size=-5), "batch_size=-5"),
        (dict(lr=0.0), "lr=0.0"),
        (dict(schedule="cosine"), "schedule='cosine'"),
        (dict(device="tpu"), "device='tpu'"),
    ],
)
def test_bad_train_config(kw, needle):
    with pytest.raises(ValueError, match=needle):
        TrainConfig(**kw)


def test_defaults():
    c = ModelConfig("evae", D=48, K=4)
    assert (c.epitome_size, c.epitome_stride, c.n_epitomes) == (4, 4, 12)
    assert ModelConfig("vae", D=50).n_epitomes == 1


def test_burda_schedule_table2():
    """Stage i runs 3**i epochs at 1e-3 * 10**(-i/7), i = 0..7 (3280 epochs)."""
    t = TrainConfig(schedule="burda")
    assert t.total_epochs == 3280
    assert t.lr_at(0) == pytest.approx(1e-3)
    assert t.lr_at(1) == pytest.approx(1e-3 * 10 ** (-1 / 7))  # stage 1: epochs 1..3
    assert t.lr_at(3) == pytest.approx(1e-3 * 10 ** (-1 / 7))
    assert t.lr_at(4) == pytest.approx(1e-3 * 10 ** (-2 / 7))  # stage 2 starts at 1+3
    assert t.lr_at(3279) == pytest.approx(1e-4)
    with pytest.raises(ValueError, match="epoch=3280"):
        t.lr_at(3280)
    assert TrainConfig(schedule="burda", stages=3).total_epochs == 13


def test_numpy_scalars_are_accepted_as_python_numbers():
    import json

    import numpy as np

    m = ModelConfig("evae", D=np.int64(8), K=np.int32(2), kl_weight=np.float32(0.5))
    t = TrainConfig(epochs=np.int64(3), lr=np.float64(1e-3), binarize=np.bool_(True))
    assert m == ModelConfig("evae", D=8, K=2, kl_weight=0.5)
    assert type(m.D) is int and type(m.kl_weight) is float and type(t.binarize) is bool
    json.dumps([dataclasses.asdict(m), dataclasses.asdict(t)])  # JSON-able as before


@pytest.mark.parametrize(
    "make",
    [
        lambda: TrainConfig(free_bits=1e39),
        lambda: ModelConfig(kl_weight=1e39),
        lambda: ModelConfig(min_logvar=-1e39),
    ],
)
def test_a_float_beyond_float32_is_refused_by_name(make):
    with pytest.raises(ValueError, match="float32"):
        make()


def test_default_measures_drop_the_feature_measure_where_the_sizes_are_too_few():
    from evae_lite.evaluate.features import NEAREST_K
    from evae_lite.runs.job import default_measures, too_few_for_features

    assert default_measures("mnist") == ("units", "parzen", "features")
    assert default_measures("faces") == ("units", "parzen")  # no labels for a classifier
    assert default_measures("mnist", NEAREST_K + 1, None) == ("units", "parzen", "features")
    assert default_measures("mnist", 1000, NEAREST_K) == ("units", "parzen")
    assert too_few_for_features(NEAREST_K, 2) == {"parzen_samples": NEAREST_K, "eval_size": 2}
    assert too_few_for_features(None, None) == {}
