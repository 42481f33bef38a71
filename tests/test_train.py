import math

import pytest
import torch

from evae_lite import ModelConfig, TrainConfig
from evae_lite.model import EpitomicVAE
from evae_lite.train import (
    CheckpointError,
    NonFiniteLossError,
    load_checkpoint,
    model_from_checkpoint,
    train,
)


def _data(n=300, p=64, seed=0):
    """Grey-level 'images' with structure: two blobs of ink at random strengths."""
    g = torch.Generator().manual_seed(seed)
    a = torch.rand(n, 1, generator=g)
    left = torch.zeros(p)
    left[: p // 2] = 1
    return (a * left + (1 - a) * (1 - left)).clamp(0, 1) * 0.9


EVAE = ModelConfig("evae", D=6, K=2, stride=2, H=32, x_dim=64)
FAST = TrainConfig(epochs=3, batch_size=50, seed=7)


def _same_weights(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


@pytest.mark.parametrize(
    "cfg", [EVAE, ModelConfig("dropout_vae", D=4, H=16, x_dim=64, dropout=0.5)]
)
def test_seeded_runs_repeat_exactly(cfg):
    x = _data()
    a = train(cfg, FAST, x, x[:50], progress=False)
    b = train(cfg, FAST, x, x[:50], progress=False)
    assert _same_weights(a.model, b.model)
    assert [h.val_bound for h in a.history] == [h.val_bound for h in b.history]
    c = train(cfg, FAST.replace(seed=8), x, x[:50], progress=False)
    assert not _same_weights(a.model, c.model)


@pytest.mark.parametrize("pace", [0, 1e9])  # a write after every epoch; only the first
def test_killed_run_resumes_to_the_same_weights(tmp_path, monkeypatch, pace):
    """Killed after epoch 2, the run resumes from its last checkpoint (epoch 2 when every
    epoch is written, epoch 1 when writes are as rare as they can be) to the same weights."""
    import evae_lite.train.loop as loop

    monkeypatch.setattr(loop, "CHECKPOINT_PACE", pace)
    x = _data()
    full = train(EVAE, FAST, x, x[:50], progress=False)

    def kill_after_two(stats, model):
        if stats.epoch == 2:
            raise KeyboardInterrupt

    ckpt = tmp_path / "run" / "checkpoint.pt"
    with pytest.raises(KeyboardInterrupt):
        train(EVAE, FAST, x, x[:50], progress=False, checkpoint=ckpt, on_epoch_end=kill_after_two)
    assert load_checkpoint(ckpt)["epoch"] == (2 if pace == 0 else 1)
    resumed = train(EVAE, FAST, x, x[:50], progress=False, checkpoint=ckpt)
    assert [h.epoch for h in resumed.history] == [1, 2, 3]
    assert _same_weights(full.model, resumed.model)
    assert torch.equal(full.y, resumed.y)
    model, ck = model_from_checkpoint(ckpt)
    assert isinstance(model, EpitomicVAE) and ck["epoch"] == 3
    assert _same_weights(model, full.model)


def test_checkpoint_of_another_config_or_corrupt_is_refused(tmp_path):
    x = _data()
    ckpt = tmp_path / "c.pt"
    train(EVAE, FAST.replace(epochs=1), x, progress=False, checkpoint=ckpt)
    with pytest.raises(CheckpointError, match="other settings"):
        train(EVAE.replace(H=16), FAST.replace(epochs=1), x, progress=False, checkpoint=ckpt)
    ckpt.write_bytes(ckpt.read_bytes()[:100])  # truncated by a crash mid-copy
    with pytest.raises(CheckpointError, match="corrupt"):
        train(EVAE, FAST.replace(epochs=1), x, progress=False, checkpoint=ckpt)


def test_training_lowers_the_bound_and_balances_assignments():
    x = _data(600)
    r = train(EVAE, FAST.replace(epochs=6), x, x[:100], progress=False)
    bounds = [h.val_bound for h in r.history]
    assert bounds[-1] < bounds[0]
    assert all(math.isfinite(b) for b in bounds)
    assert r.history[0].changed is None and 0 <= r.history[-1].changed <= 1
    assert sum(r.history[-1].group_sizes) == 600 and len(r.history[-1].group_sizes) == 3
    assert torch.equal(
        torch.bincount(r.y, minlength=3).cpu(), torch.tensor(r.history[-1].group_sizes)
    )


def test_nan_loss_names_the_epoch_and_term(monkeypatch):
    orig = EpitomicVAE.loss_terms
    calls = {"n": 0}

    def poisoned(self, x, y=None, **kw):
        t = orig(self, x, y, **kw)
        calls["n"] += 1
        if calls["n"] > 8:  # 6 batches per epoch: poison the KL during epoch 2
            t.kl = t.kl * float("nan")
        return t

    monkeypatch.setattr(EpitomicVAE, "loss_terms", poisoned)
    with pytest.raises(NonFiniteLossError, match=r"epoch 2 .*KL=nan"):
        train(EVAE, FAST, _data(), progress=False, log_every=1)


def test_bad_data_shape():
    with pytest.raises(ValueError, match=r"shape \(10, 5\): expected \(N, 64\)"):
        train(EVAE, FAST, torch.rand(10, 5), progress=False)


def test_gaussian_decoder_trains_on_continuous_data():
    cfg = ModelConfig("evae", D=4, K=2, H=16, x_dim=64, likelihood="gaussian")
    r = train(cfg, FAST, _data(), _data(40, seed=1), binary=False, progress=False)
    assert r.history[-1].val_bound < r.history[0].val_bound


def test_checkpoint_pace_writes_first_last_and_when_due(monkeypatch):
    """After the first and the last epoch always; between, once CHECKPOINT_PACE times the
    last write's duration has passed since it ended."""
    import evae_lite.train.loop as loop

    now = [0.0]
    monkeypatch.setattr(loop.time, "perf_counter", lambda: now[0])
    pace = loop._CheckpointPace()
    assert pace.due(last_epoch=False)  # the first epoch
    with pace.timed():
        now[0] += 0.5  # a write of 0.5 s
    now[0] += loop.CHECKPOINT_PACE * 0.5 - 0.01
    assert not pace.due(last_epoch=False) and pace.due(last_epoch=True)
    now[0] += 0.01
    assert pace.due(last_epoch=False)


@pytest.mark.parametrize("cfg", [EVAE, ModelConfig("vae", D=4, H=16, x_dim=64)])
def test_a_longer_run_continues_a_shorter_one_exactly(tmp_path, cfg):
    """Training 2 epochs, then going on to 3 from the 2-epoch run's checkpoint, gives the
    weights and the history of training 3 epochs at once (constant rate: TrainConfig.continues)."""
    x = _data()
    full = train(cfg, FAST, x, x[:50], progress=False)
    short = tmp_path / "short.pt"
    train(cfg, FAST.replace(epochs=2), x, x[:50], progress=False, checkpoint=short)
    cont = train(cfg, FAST, x, x[:50], progress=False, start_from=short)
    assert _same_weights(full.model, cont.model)
    assert [h.val_bound for h in cont.history] == [h.val_bound for h in full.history]


def test_only_a_run_that_passes_through_the_shorter_one_continues_it(tmp_path):
    x = _data()
    short = tmp_path / "short.pt"
    train(EVAE, FAST.replace(epochs=2), x, x[:50], progress=False, checkpoint=short)
    assert FAST.continues(FAST.replace(epochs=2))
    assert not FAST.continues(FAST.replace(epochs=2, seed=1))  # another seed
    assert not FAST.continues(FAST.replace(epochs=3))  # not shorter
    burda = TrainConfig(schedule="burda", stages=2)
    assert not burda.continues(burda.replace(stages=1))  # the rate depends on the stage
    cyc = FAST.replace(kl_schedule="cyclical", kl_cycles=2, kl_ramp=0.5)
    assert not cyc.continues(cyc.replace(epochs=2))  # the cycles stretch with the run
    with pytest.raises(CheckpointError, match="not the start of this run"):
        train(EVAE, FAST.replace(seed=1), x, x[:50], progress=False, start_from=short)


def test_each_epoch_records_the_active_units_that_the_measurement_counts():
    """history[-1].active is unit_report's count on the same (fixed-binarized) images."""
    from evae_lite.evaluate import unit_report
    from evae_lite.train import fixed_binarization

    x = _data()
    cfg = FAST.replace(seed=0)
    res = train(EVAE, cfg, x, x[:80], progress=False)
    assert all(h.active is not None for h in res.history)
    report = unit_report(res.model, fixed_binarization(x[:80], 0))
    assert res.history[-1].active == report.n_active
    assert res.history[-1].activity == report.activity.tolist()


def test_a_resume_on_other_images_of_the_same_size_is_refused(tmp_path):
    x, other = _data(), _data(seed=1)
    ck = tmp_path / "c.pt"

    def stop(stats, model):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(EVAE, FAST, x, x[:50], progress=False, checkpoint=ck, on_epoch_end=stop)
    with pytest.raises(CheckpointError, match="data"):
        train(EVAE, FAST, other, x[:50], progress=False, checkpoint=ck)


def test_a_checkpoint_with_a_field_this_version_does_not_know_is_named(tmp_path):
    import io

    from evae_lite.sealed import FormatError, seal, unseal

    x = _data()
    ck = tmp_path / "c.pt"
    train(EVAE, FAST.replace(epochs=1), x, x[:50], progress=False, checkpoint=ck)
    state = torch.load(io.BytesIO(unseal(ck.read_bytes(), "c")), weights_only=False)
    state["model_cfg"]["future_option"] = 3
    state["version"] = "9.9.9"
    buf = io.BytesIO()
    torch.save(state, buf)
    ck.write_bytes(seal(buf.getvalue()))
    with pytest.raises(FormatError, match=r"'future_option'.*ModelConfig.*9\.9\.9") as err:
        model_from_checkpoint(ck)
    assert str(ck) in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(FormatError, match="future_option"):
        train(EVAE, FAST.replace(epochs=2), x, x[:50], progress=False, checkpoint=ck)
