"""Grids on existing cluster engines, for real: a local Dask cluster and submitit's local
executor (the SLURM path's local twin) give the default process pool's results bit for bit,
and a worker killed mid-job loses only that job's unfinished epochs."""

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from evae_lite import ModelConfig, TrainConfig
from evae_lite.runs import Job, cached_result
from evae_lite.runs.sweep import sweep
from evae_lite.train import load_checkpoint


def _grid(epochs_of_first=1):
    kw = dict(train_size=200, eval_size=100, parzen_samples=100)
    t = TrainConfig(epochs=1, batch_size=50)
    return [
        Job(ModelConfig("evae", D=4, K=2, H=16), t.replace(epochs=epochs_of_first), **kw),
        Job(ModelConfig("vae", D=4, H=16), t, **kw),
        Job(ModelConfig("mvae", D=4, K=2, H=16), t, **kw, measures=("units",)),
    ]


@pytest.fixture
def one_thread(monkeypatch):
    # engine workers inherit the environment: one torch thread each on a small machine
    monkeypatch.setenv("OMP_NUM_THREADS", "1")


def test_dask_and_submitit_give_the_process_pool_results(
    data_dir, tmp_path, monkeypatch, one_thread
):
    import submitit
    from distributed import Client, LocalCluster

    jobs = _grid()
    monkeypatch.setenv("EVAE_LITE_RESULTS", str(tmp_path / "pool"))
    pool = sweep(jobs, workers=2, progress=False)

    monkeypatch.setenv("EVAE_LITE_RESULTS", str(tmp_path / "dask"))
    cluster = LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    )
    with cluster, Client(cluster) as client:
        on_dask = sweep(jobs, executor=client.get_executor(), progress=False)
    assert on_dask == pool

    monkeypatch.setenv("EVAE_LITE_RESULTS", str(tmp_path / "submitit"))
    ex = submitit.LocalExecutor(folder=tmp_path / "submitit_logs")
    ex.update_parameters(timeout_min=10)
    on_submitit = sweep(jobs, executor=ex, progress=False)
    assert on_submitit == pool


SWEEP_SCRIPT = """
import sys
from test_engines import _grid
from evae_lite.runs.sweep import sweep
try:
    sweep(_grid({epochs}), workers=2, progress=False)
except RuntimeError as e:  # the killed worker's job, and only it, failed
    print(e)
    sys.exit(3)
"""


class Only:
    """An executor that runs jobs in this process, at one thread as the pool's workers do
    (another thread count sums in another order), and records which jobs it was given."""

    def __init__(self):
        self.given = []

    def submit(self, fn, job, **kw):
        from concurrent.futures import Future

        import torch

        self.given.append(job)
        f = Future()
        threads = torch.get_num_threads()
        try:
            f.set_result(fn(job, threads=1))
        finally:
            torch.set_num_threads(threads)
        return f


def _unfinished_training(root: Path):
    """(entry, pid training it) for a model entry with a checkpoint but no seal yet."""
    for d in root.glob("model-*"):
        if (d / "checkpoint.pt").exists() and not (d / "manifest.json").exists():
            pid = (d / ".lock").read_text().strip()
            return (d, int(pid)) if pid else None
    return None


def test_a_worker_killed_mid_job_loses_only_that_job(data_dir, tmp_path, monkeypatch, one_thread):
    epochs = 400
    jobs = _grid(epochs)
    root = tmp_path / "results"
    monkeypatch.setenv("EVAE_LITE_RESULTS", str(root))
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parent)}
    script = textwrap.dedent(SWEEP_SCRIPT.format(epochs=epochs))
    proc = subprocess.Popen(
        [sys.executable, "-c", script],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    killed = None
    deadline = time.monotonic() + 300
    while proc.poll() is None and time.monotonic() < deadline:
        short_done = all(cached_result(j) is not None for j in jobs[1:])
        killed = _unfinished_training(root) if short_done else None
        if killed:
            os.kill(killed[1], signal.SIGKILL)
            break
        time.sleep(0.05)
    out, _ = proc.communicate(timeout=120)
    assert killed, f"the long job finished before it could be killed: {out}"
    assert proc.returncode == 3 and "1 of 3 jobs failed" in out, out
    # the others' results stayed in the cache; a rerun computes only the missing job, resuming
    # its training from the last checkpoint, and ends where an uninterrupted run ends
    assert cached_result(jobs[0]) is None
    assert 0 < load_checkpoint(killed[0] / "checkpoint.pt")["epoch"] < epochs
    ex = Only()
    again = sweep(jobs, executor=ex, progress=False)
    assert ex.given == [jobs[0]] and again[0].epochs == epochs
    monkeypatch.setenv("EVAE_LITE_RESULTS", str(tmp_path / "uninterrupted"))
    assert sweep(jobs[:1], executor=Only(), progress=False) == again[:1]
