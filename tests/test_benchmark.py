"""The benchmark's work counts and code paths (not its timings: speed is measured by running
`python benchmarks/run.py`, never in a test)."""

import importlib.util
import sys
from pathlib import Path

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from evae_lite import ModelConfig, build_model
from evae_lite.evaluate.iwae import log_likelihood

_PATH = Path(__file__).resolve().parent.parent / "benchmarks" / "run.py"
_spec = importlib.util.spec_from_file_location("evae_benchmark", _PATH)
bench = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = bench  # pythae's save pickles the benchmark's encoder by its module
_spec.loader.exec_module(bench)


def _matmul_flops(fn) -> int:
    with FlopCounterMode(display=False) as counter:
        fn()
    return counter.get_total_flops()


@pytest.mark.parametrize("model, D, kw", [("vae", 6, {}), ("evae", 6, dict(K=2, stride=2))])
def test_training_flops_equal_the_counted_matrix_products(model, D, kw):
    """Forward, weight gradients and every input gradient but the data's, as torch counts
    them in one training step of our model."""
    H, B = 32, 10
    m = build_model(ModelConfig(model, D=D, L=2, H=H, x_dim=bench.P, **kw))
    x = (torch.rand(B, bench.P) < 0.5).float()
    y = torch.zeros(B, dtype=torch.long)

    def step():
        m.loss_terms(x, y).cost.mean().backward()

    enc, dec = bench.mlp_sizes(bench.P, H, 2, 2 * D), bench.mlp_sizes(D, H, 2, bench.P)
    assert _matmul_flops(step) == bench.training_flops(enc, dec, B)


def test_lk_flops_equal_the_counted_matrix_products():
    """The encoder on B rows and the decoder on k * B rows (plus, in the fused form, one
    B x P x H product for the data term, left out of the count: under 0.1% at k = 5000)."""
    H, D, B, k = 24, 5, 4, 50
    m = build_model(ModelConfig("vae", D=D, L=2, H=H, x_dim=bench.P)).eval()
    x = (torch.rand(B, bench.P) < 0.5).float()
    enc, dec = bench.vae_nets(D, H)
    counted = bench.forward_flops(enc, B) + bench.forward_flops(dec, k * B)
    assert _matmul_flops(lambda: log_likelihood(m, x, k, fused=False)) == counted
    data_term = 2 * B * bench.P * H
    assert _matmul_flops(lambda: log_likelihood(m, x, k)) == counted + data_term


def test_benchmark_code_paths_run_on_tiny_sizes(monkeypatch):
    """Every part of the benchmark runs against the package as it is (it patches into
    evae_lite.train to time the assignment inside an epoch)."""
    monkeypatch.setattr(bench, "H", 16)
    monkeypatch.setattr(bench, "LK", 20)
    monkeypatch.setattr(bench, "LK_H", 8)
    rows: dict = {}
    ceiling = 1.0
    x = bench.random_binary(200, seed=0)
    epoch, assign = bench.our_train_epoch(x, ModelConfig("evae", D=8, K=4, stride=4, H=16))
    assert epoch > assign > 0
    vae = ModelConfig("vae", D=8, H=16)
    products, epoch = bench.products_in_epoch(x, vae)  # 0 if the profiler renamed them
    assert 0 < products < epoch
    assert bench.copy_rate(1) > 0
    assert bench.tutorial_train_epoch(x, 8) > 0
    bench.bench_parzen(300, ceiling, rows)
    bench.bench_lk(3, 8, "lk", ceiling, rows)
    bench.bench_lk(3, 8, "lk_plain", ceiling, rows, fused=False)
    assert rows["parzen_grid"]["ratio"] > 0 and rows["lk"]["seconds"] > 0
    assert "plain" in rows["lk_plain"]["name"]
    verdicts = bench.check_targets(
        {key: {"ratio": 1.0, "pct_ceiling": 50.0} for key, *_ in bench.TARGETS.values()}
    )
    assert set(verdicts) == set(bench.TARGETS)


def test_the_peer_and_grouped_rows_run_on_tiny_sizes(monkeypatch, tmp_path):
    """The pythae row runs when pythae is installed and says so when it is not; the grouped
    rows give a ratio per model."""
    monkeypatch.setattr(bench, "H", 16)
    monkeypatch.setattr(bench, "VAE_D", 4)
    monkeypatch.setattr(bench, "REPEATS", 1)
    rows: dict = {}
    bench.bench_peer(200, 1.0, rows, repeats=1)
    assert rows["vae_train_call"]["seconds"] > 0
    if bench.pythae_installed():
        assert rows["pythae_train"]["seconds"] > 0 and rows["vae_train_call"]["ratio"] > 0
    else:
        assert "not installed" in rows["pythae_train"]["skipped"]
    monkeypatch.setattr(bench, "pythae_installed", lambda: False)
    bench.bench_peer(200, 1.0, rows, repeats=1)
    assert (
        rows["pythae_train"]["seconds"] is None
        and "not installed" in rows["pythae_train"]["skipped"]
    )
    split = bench.bench_parts(200, rows)
    if bench.pythae_installed():
        for side in ("ours", "pythae"):
            parts = split[side]
            assert parts["matrix products"] > 0
            total = sum(parts[p] for p in bench.PARTS)
            assert total == pytest.approx(parts["profiled call"], rel=1e-6) or (
                parts["outside ops (Python)"] == 0 and total >= parts["profiled call"]
            )
        assert split["pythae"]["data loading"] > 0  # its DataLoader, which ours has none of
    else:
        assert "not installed" in split["skipped"]
    bench.bench_grouped(200, 1.0, rows, S=2)
    assert (
        rows["seeds_grouped_s"]["ratio"] > 0
        and "2 seeds grouped" in rows["seeds_grouped_s"]["name"]
    )
    verdicts = bench.check_targets(rows)  # rows the run did not measure: SKIP, never PASS
    assert verdicts["VAE training >= 1.5x pythae"]["pass"] is None
    assert verdicts["VAE training >= 65% of ceiling"]["skipped"]
    bench.print_table(rows)


def test_median_time_interleaves_and_takes_the_median():
    calls = []

    def f(name, times):
        it = iter(times)
        return lambda: calls.append(name) or next(it)

    med = bench.median_time([f("a", [9, 3, 1, 2]), f("b", [9, 5, 7, 6])], 3)
    assert med == [2, 6] and calls == ["a", "b"] * 4  # a warm-up call each, then in turn


def test_a_device_that_is_not_there_is_refused(capsys):
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(SystemExit):
        bench.main(["--device", "cuda", "--quick"])
    assert "torch sees no CUDA device" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        bench.main(["--device", "tpu"])
    assert "--device 'tpu' is not allowed" in capsys.readouterr().err


def test_ops_fall_into_their_parts():
    assert bench.op_part("aten::addmm") == "matrix products"
    assert bench.op_part("aten::_fused_adam_") == bench.op_part("Optimizer.step#Adam.step")
    assert bench.op_part("aten::_foreach_mul_") == "optimizer (Adam, zero_grad)"
    assert bench.op_part("aten::uniform_") == "random numbers"
    assert bench.op_part("enumerate(DataLoader)#_SingleProcessDataLoaderIter.__next__") == (
        "data loading"
    )
    assert bench.op_part("aten::softplus") == "other ops (element-wise, autograd)"
    # Adam as a loop over tensors: plain element-wise ops, found by the step they run in
    assert bench.op_part("aten::addcmul_", ("Optimizer.step#Adam.step",)) == bench.op_part(
        "aten::_fused_adam_"
    )
    assert bench.op_part("aten::stack", ("enumerate(DataLoader)#_Iter.__next__",)) == (
        "data loading"
    )
