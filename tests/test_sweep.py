from concurrent.futures import ThreadPoolExecutor

import pytest

from evae_lite import ModelConfig, TrainConfig
from evae_lite.runs import Job, cached_result, executor_from_env, run, trained
from evae_lite.runs.sweep import sweep


def _jobs():
    t = TrainConfig(epochs=1, batch_size=50)
    kw = dict(train_size=200, eval_size=100, parzen_samples=100)
    return [
        Job(ModelConfig("vae", D=4, H=16), t, **kw),
        Job(ModelConfig("evae", D=4, K=2, H=16), t, **kw),
        Job(ModelConfig("mvae", D=4, K=2, H=16), t, **kw, measures=("units",)),
    ]


class Refuse:
    def submit(self, *a, **k):
        raise AssertionError("a cached job was run again")


def test_sweep_runs_missing_jobs_in_workers_then_reads_the_cache(data_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("EVAE_LITE_RESULTS", str(tmp_path))
    jobs = _jobs()
    assert all(cached_result(j) is None for j in jobs)
    res = sweep(jobs, workers=2, progress=False)
    assert [r.D for r in res] == [4, 4, 4]
    assert all(0 <= r.units.active <= 4 for r in res)
    assert res[0].parzen is not None and res[2].parzen is None
    assert res[2].component_H >= 1
    again = sweep(jobs, executor=Refuse(), progress=False)
    assert again == res


def test_sweep_through_another_executor(data_dir, tmp_path, monkeypatch):
    """Any concurrent.futures-style executor (submitit, a Ray pool) can run the grid."""
    monkeypatch.setenv("EVAE_LITE_RESULTS", str(tmp_path))
    jobs = _jobs()[:1]
    with ThreadPoolExecutor(1) as ex:
        (r,) = sweep(jobs, executor=ex, progress=False)
    assert cached_result(jobs[0]) == r
    # the job's model comes back from the cache, not retrained: the same weights and epochs
    import evae_lite.train

    monkeypatch.setattr(evae_lite.train, "train", Refuse().submit)
    res = trained(jobs[0])
    assert sum(p.numel() for p in res.model.parameters()) == r.n_params
    assert res.history[-1].epoch == r.epochs


def test_bad_measure():
    with pytest.raises(ValueError, match="fid"):
        Job(ModelConfig(), TrainConfig(), measures=("fid",))


def test_executor_named_in_the_environment(data_dir, tmp_path, monkeypatch):
    """EVAE_LITE_EXECUTOR hands a chapter's grid to a cluster without changing the chapter."""
    monkeypatch.setenv("EVAE_LITE_RESULTS", str(tmp_path / "results"))
    (tmp_path / "my_cluster.py").write_text(
        "from concurrent.futures import ThreadPoolExecutor\n"
        "made = []\n"
        "def executor():\n"
        "    made.append(ThreadPoolExecutor(1))\n"
        "    return made[-1]\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("EVAE_LITE_EXECUTOR", "my_cluster:executor")
    jobs = _jobs()[:1]
    (r,) = sweep(jobs, progress=False)
    import my_cluster

    assert len(my_cluster.made) == 1 and cached_result(jobs[0]) == r
    for bad in ("my_cluster", "my_cluster:nope", "no_such_module:f"):
        monkeypatch.setenv("EVAE_LITE_EXECUTOR", bad)
        with pytest.raises(ValueError, match="EVAE_LITE_EXECUTOR"):
            executor_from_env()


def test_a_job_keeps_L_k_of_every_test_image(data_dir, tmp_path, monkeypatch):
    """Per-image values let a chapter pair two models on the same images without
    recomputing L_k; they are log_likelihood's on the job's own model and images."""
    from evae_lite.data import load_dataset
    from evae_lite.evaluate.iwae import log_likelihood
    from evae_lite.train import fixed_binarization

    monkeypatch.setenv("EVAE_LITE_RESULTS", str(tmp_path))
    t = TrainConfig(epochs=1, batch_size=50)
    job = Job(
        ModelConfig("evae", D=4, K=2, H=16),
        t,
        train_size=200,
        eval_size=100,
        measures=("iwae",),
        iwae_k=3,
        iwae_size=7,
    )
    r = run(job).iwae
    assert len(r.per_image) == r.n == 7
    assert sum(r.per_image) / 7 == pytest.approx(r.mean)
    xt = fixed_binarization(load_dataset("mnist").test[:7], 0)
    ll = log_likelihood(trained(job).model, xt, 3)
    assert ll.tolist() == pytest.approx(r.per_image, abs=1e-6)


def test_a_failed_job_is_named_by_its_place_data_and_labels(monkeypatch):
    """The grid's error says which job failed: its position, data set, labels and seed."""
    import evae_lite.runs.sweep as S

    jobs = _jobs()
    jobs[1] = Job(ModelConfig("evae", D=4, K=2, H=16), TrainConfig(seed=3), tag={"model": "eVAE"})

    def run(job, threads=None):
        if job is jobs[1]:
            raise FloatingPointError("nan at epoch 1")
        return "ok"

    monkeypatch.setattr(S, "run", run)
    monkeypatch.setattr(S, "cached_result", lambda job: None)
    with ThreadPoolExecutor(1) as ex, pytest.raises(RuntimeError) as e:
        sweep(jobs, executor=ex, progress=False)
    msg = str(e.value)
    assert "1 of 3 jobs failed; first: job 1 of the grid (model=eVAE; mnist, evae D=4 K=2" in msg
    assert "seed 3" in msg and "nan at epoch 1" in msg


def test_a_sweep_on_threads_gives_the_serial_results(data_dir, tmp_path, monkeypatch):
    """Jobs running side by side in one process's threads draw from generators of their own:
    each gets the model and measurements it gets when run alone (finding: training seeded
    the process-wide generator, which threads share, and stored other models under the key)."""
    import threading

    import evae_lite.train.loop as loop

    jobs = [j.with_seed(s) for j in _jobs()[:2] for s in (0, 1)]
    monkeypatch.setenv("EVAE_LITE_RESULTS", str(tmp_path / "serial"))
    serial = [run(j) for j in jobs]
    # the four runs build their models at the same moment, so that any draw from a shared
    # generator interleaves
    together = threading.Barrier(len(jobs), timeout=60)
    build = loop.build_model

    def build_together(*a, **k):
        together.wait()
        return build(*a, **k)

    monkeypatch.setattr(loop, "build_model", build_together)
    monkeypatch.setenv("EVAE_LITE_RESULTS", str(tmp_path / "threads"))
    with ThreadPoolExecutor(len(jobs)) as ex:
        threaded = sweep(jobs, executor=ex, progress=False)
    assert threaded == serial


def test_the_default_number_of_workers_reads_the_environment(monkeypatch):
    from evae_lite.runs.sweep import WORKERS_ENV, default_workers

    monkeypatch.delenv(WORKERS_ENV, raising=False)
    assert default_workers(2) == 2
    monkeypatch.setenv(WORKERS_ENV, "1")
    assert default_workers(2) == 1
    for bad in ("0", "two", "-1"):
        monkeypatch.setenv(WORKERS_ENV, bad)
        with pytest.raises(ValueError, match=f"EVAE_LITE_WORKERS='{bad}' is not allowed"):
            default_workers(2)
