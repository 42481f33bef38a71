"""The book's training cost is read from each model's own checkpoint, never estimated."""

import pytest

from evae_lite.book import cost
from evae_lite.runs import grids as E
from evae_lite.runs import trained


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("EVAE_LITE_RESULTS", str(tmp_path / "cache"))


def test_a_trained_model_costs_its_epochs_seconds_and_a_missing_one_is_none(cache):
    job = next(j for j in E.fig7_jobs("smoke") if j.tag["model"] == "VAE")
    res = trained(job)
    costs = cost.grid_cost([job, job, job.with_seed(job.seed + 1)])
    assert [c.seed for c in costs] == [job.seed, job.seed + 1]  # the repeated job once
    assert costs[0].seconds == pytest.approx(sum(h.seconds for h in res.history))
    assert costs[0].seconds > 0 and costs[1].seconds is None
    seen: set = set()
    cost.grid_cost([job], seen)
    assert cost.grid_cost([job], seen) == []  # counted in the grid that had it first
    ((label, n, lo, mid, hi),) = cost.summary(costs)
    assert label == "VAE D=8 L=1 H=500" and n == 1 and lo == mid == hi == costs[0].seconds


def test_the_remedies_are_told_apart_by_their_tags_though_they_share_an_architecture(cache):
    from evae_lite.runs.remedies import remedies_jobs

    jobs = [j for j in remedies_jobs("smoke", Ds=(20,)) if j.tag["model"] in ("VAE", "warm-up")]
    assert len({cost._label(j) for j in jobs}) == 1  # the same VAE architecture at one D
    costs = cost.grid_cost(jobs, label=cost.remedy_label)
    assert [c.label for c in costs] == [f"{j.tag['model']} D={j.tag['D']}" for j in jobs]
    assert all(c.seconds is None for c in costs)  # none trained: missing, not estimated
