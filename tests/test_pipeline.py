"""One pipeline: the command line, a chapter's Session and a sweep run the same job to the
same result; a job expands over seeds and its results aggregate across them."""

import json
import math
import statistics

import pytest
import torch

from evae_lite import ModelConfig, TrainConfig
from evae_lite.book import Session
from evae_lite.cli import main
from evae_lite.runs import Job, JobResult, aggregate, get_scale, over_seeds, run
from evae_lite.runs.sweep import sweep

CFG = ModelConfig("evae", D=4, K=2, H=16)


def _same(a: JobResult, b: JobResult) -> None:
    assert (a.seed, a.n_params, a.epochs, a.D) == (b.seed, b.n_params, b.epochs, b.D)
    assert a.val_bound == b.val_bound
    assert a.units == b.units
    assert (a.parzen.mean, a.parzen.stderr, a.parzen.sigma) == (
        b.parzen.mean,
        b.parzen.stderr,
        b.parzen.sigma,
    )
    assert a.parzen.val_means == b.parzen.val_means


def test_cli_session_and_sweep_give_the_same_result(data_dir, tmp_path, monkeypatch, capsys):
    """Each computes the job afresh (its own cache or run directory) at the smoke row of the
    table of scales, and all three agree to the last bit."""
    s = get_scale("smoke")  # single models: kind "figures", MNIST
    monkeypatch.setenv("EVAE_LITE_RESULTS", str(tmp_path / "session"))
    session = Session("smoke", torch.device("cpu"), progress=False)
    job = session.job(CFG)
    by_session = run(job)
    assert session.units(session.train(CFG)).n_active == by_session.units.active

    monkeypatch.setenv("EVAE_LITE_RESULTS", str(tmp_path / "sweep"))
    (by_sweep,) = sweep([job], workers=1, progress=False)

    out = tmp_path / "run"
    common = ["--eval-size", str(s.eval_size), "--no-progress"]
    argv = ["train", "--model", "evae", "--D", "4", "--K", "2", "--H", "16"]
    argv += ["--epochs", str(s.epochs), "--train-size", str(s.train_size), "--out", str(out)]
    assert main([*argv, *common]) == 0
    argv = ["evaluate", "--run", str(out), "--parzen-samples", str(s.parzen_samples)]
    assert main([*argv, *common]) == 0
    capsys.readouterr()
    ev = json.loads((out / "evaluation.json").read_text())
    by_cli = JobResult.from_json({k: ev[k] for k in JobResult.__dataclass_fields__})

    _same(by_session, by_sweep)
    _same(by_session, by_cli)
    assert Job.from_json(ev["job"]).key_parts() == job.key_parts()


def _tiny(**kw) -> Job:
    t = TrainConfig(epochs=1, batch_size=50)
    return Job(CFG, t, train_size=200, eval_size=100, parzen_samples=100, **kw)


def test_a_job_over_three_seeds_aggregates_to_its_per_seed_results(data_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("EVAE_LITE_RESULTS", str(tmp_path))
    jobs = over_seeds(_tiny(), 3)
    assert [j.seed for j in jobs] == [0, 1, 2] and all(j.train.seed == j.seed for j in jobs)
    results = [run(j) for j in jobs]
    assert [r.seed for r in results] == [0, 1, 2]
    assert len({r.val_bound for r in results}) == 3  # the seeds make different models
    agg = aggregate(results)
    assert agg.seeds == [0, 1, 2]
    for spread, values in (
        (agg.val_bound, [r.val_bound for r in results]),
        (agg.parzen, [r.parzen.mean for r in results]),
        (agg.active, [r.units.active for r in results]),
    ):
        assert spread.values == values
        assert spread.mean == pytest.approx(statistics.mean(values), rel=1e-12)
        assert spread.stderr == pytest.approx(statistics.stdev(values) / math.sqrt(3), rel=1e-9)
    assert agg.parzen_images == pytest.approx(statistics.mean(r.parzen.stderr for r in results))
    assert agg.iwae is None  # not measured
    # seed 0 of the expansion is the job itself: the same cache entry, the same result
    assert run(_tiny()) == results[0]


def test_aggregate_of_one_seed_has_no_spread_and_repeats_are_refused(
    data_dir, tmp_path, monkeypatch
):
    monkeypatch.setenv("EVAE_LITE_RESULTS", str(tmp_path))
    r = run(_tiny(measures=("units",)))
    one = aggregate([r])
    assert one.val_bound.stderr is None and one.val_bound.values == [r.val_bound]
    assert "1 seed" in str(one.val_bound) and one.parzen is None
    with pytest.raises(ValueError, match="repeat"):
        aggregate([r, r])
    with pytest.raises(ValueError, match="seeds is empty"):
        over_seeds(_tiny(), [])


def test_a_job_reads_its_sizes_from_the_table_of_scales():
    for kind, dataset in (("figures", "mnist"), ("grids", "faces"), ("likelihood", "mnist")):
        s = get_scale("book", kind, dataset)
        j = Job.at(CFG, "book", kind, dataset, seed=2)
        assert (j.train_size, j.eval_size, j.parzen_samples) == (
            s.train_size,
            s.eval_size,
            s.parzen_samples,
        )
        assert j.train.total_epochs == s.epochs and j.seed == 2 and j.scale == "book"
        assert Job.from_json(json.loads(json.dumps(j.to_json()))) == j


def test_bad_job_values_name_the_value():
    for kw, needle in (
        (dict(train_size=0), "train_size=0"),
        (dict(eval_size=-5), "eval_size=-5"),
        (dict(eval_size=1), "eval_size=1 .* variances"),  # one image has no variance
        (dict(parzen_samples=0), "parzen_samples=0"),
        (dict(measures=("fid",)), "fid"),
    ):
        with pytest.raises(ValueError, match=needle):
            Job(CFG, TrainConfig(), **kw)
