"""The measurements of the chapter after the paper: every remedy for over-pruning against the
VAE, over the seeds of the `remedies` row of the table of scales, and the verdicts on which
remedies keep units active, which improve L_k, and whether the eVAE stays ahead of them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch

from ..runs import Spread, trained
from ..runs.remedies import remedies_jobs
from .claims import NOT_SUPPORTED, PARTLY, SUPPORTED, Verdict, compare, judge
from .evidence import Evidence, rec_error

QUANTITIES = {  # name -> (words, higher is better)
    "active": ("active units (A_u > 0.02)", True),
    "active_within": ("active within their epitomes", True),
    "mi": ("I(x; z), nats", True),
    "nll": ("-L_k, nats", False),
    "parzen": ("Parzen log-density, nats", True),
    "rec": ("reconstruction error, nats", False),
}
LEARNED = ("eVAE, Gumbel-softmax", "eVAE, straight-through", "eVAE, REINFORCE")


@dataclass
class Remedies:
    """Every (model, D)'s quantities over seeds, the learned q(y|x)'s behaviour, verdicts."""

    names: list[str]
    Ds: list[int]
    seeds: int
    values: dict[tuple[str, int, str], Spread] = field(default_factory=dict)
    q_y: dict[tuple[str, int], dict] = field(default_factory=dict)
    unit_kl: dict[tuple[str, int], list[float]] = field(default_factory=dict)  # seed 0's
    evidence: Evidence | None = None
    answers: dict[tuple[str, str], Verdict] = field(default_factory=dict)  # (model, question)

    def __getitem__(self, key) -> Spread:
        return self.values[key]


def _q_y_behaviour(S, job, res) -> dict:
    """Seed 0's q(y|x) (or y*): its mean entropy on the validation images, the share of the
    training examples' y that changed at each epoch, and how the trained model shares the
    validation images among its epitomes."""
    from ..train.assignment import assign_epitomes

    model = res.model
    x = S.x_eval("val")[:2000]
    y, _ = assign_epitomes(model, x)  # y* or the mode of the learned q(y|x)
    with torch.no_grad():
        if getattr(model, "learns_q_y", False):
            q = model.q_y_probs(x)
            entropy = float(-(q * q.clamp_min(1e-30).log()).sum(-1).mean())
        else:
            entropy = 0.0  # a point estimate
    return {
        "entropy": entropy,
        "log_Y": math.log(model.n_epitomes),
        "changed": [h.changed for h in res.history],
        "group_sizes": torch.bincount(y, minlength=model.n_epitomes).tolist(),
    }


def remedies(S, workers=None, Ds=None) -> Remedies:
    """Sweep the grid (from the cache once trained) and measure every model over seeds."""
    from ..runs.sweep import sweep

    jobs = remedies_jobs(S.scale.name, **({"Ds": Ds} if Ds else {}))
    results = sweep(jobs, workers=workers, progress=S.progress)
    by: dict[tuple[str, int], list] = {}
    for j, r in zip(jobs, results):
        by.setdefault((j.tag["model"], j.tag["D"]), []).append((j, r))
    names = list(dict.fromkeys(j.tag["model"] for j in jobs))
    out = Remedies(names, sorted({j.tag["D"] for j in jobs}), min(len(v) for v in by.values()))
    for (name, D), pairs in by.items():
        rs = [r for _, r in pairs]
        runs = [trained(j) for j, _ in pairs]
        out.values.update(
            {
                (name, D, "active"): Spread.of(r.units.active for r in rs),
                (name, D, "active_within"): Spread.of(r.units.active_within for r in rs),
                (name, D, "mi"): Spread.of(r.mi for r in rs),
                (name, D, "nll"): Spread.of(-r.iwae.mean for r in rs),
                (name, D, "parzen"): Spread.of(r.parzen.mean for r in rs),
                (name, D, "rec"): Spread.of(rec_error(S, run) for run in runs),
            }
        )
        out.unit_kl[name, D] = rs[0].units.kl
        if name in LEARNED or name == "eVAE, y*":
            out.q_y[name, D] = _q_y_behaviour(S, *pairs[0][:1], runs[0])
    out.evidence = _verdicts(out)
    return out


def supported(R: Remedies, question: str) -> list[str]:
    """The models whose answer to `question` ("active", "nll", "like y*") is supported."""
    return [n for (n, q), v in R.answers.items() if q == question and v.verdict == SUPPORTED]


def _both(signs: list[str], want: str) -> str:
    if all(s == want for s in signs):
        return SUPPORTED
    return PARTLY if any(s == want for s in signs) else NOT_SUPPORTED


def _verdicts(R: Remedies) -> Evidence:
    ev = Evidence(R.seeds)
    d_txt = " and ".join(f"D = {D}" for D in R.Ds)
    for name in R.names[1:]:
        for q, what in (("active", "keeps more units active"), ("nll", "reaches a better L_k")):
            want = "<" if q == "nll" else ">"
            cmp = [compare(R[name, D, q], R["VAE", D, q]) for D in R.Ds]
            R.answers[name, q] = judge(
                "after the paper",
                f"{name} {what} than the VAE",
                "; ".join(f"D = {D}: {c:.1f}" for D, c in zip(R.Ds, cmp))
                + (" (difference in -L_k)" if q == "nll" else " units"),
                R.seeds,
                _both([c.sign for c in cmp], want),
                f"supported if beyond two standard errors across seeds at {d_txt}, "
                "partly if at one",
            )
            ev.verdicts.append(R.answers[name, q])
    others = [n for n in R.names if not n.startswith("eVAE")]
    gaps = {D: {n: compare(R["eVAE, y*", D, "nll"], R[n, D, "nll"]) for n in others} for D in R.Ds}
    ahead = [all(c.sign == "<" for c in g.values()) for g in gaps.values()]
    behind = [any(c.sign == ">" for c in g.values()) for g in gaps.values()]
    R.answers["eVAE, y*", "ahead"] = judge(
        "after the paper",
        "The eVAE (y*) reaches a better L_k than every remedy without epitomes",
        "; ".join(
            f"D = {D}: closest {min(g, key=lambda n: -g[n].gap)} "
            f"({min(g.values(), key=lambda c: -c.gap):.1f})"
            for D, g in gaps.items()
        ),
        R.seeds,
        SUPPORTED if all(ahead) else NOT_SUPPORTED if all(behind) else PARTLY,
        f"the eVAE's -L_k against each of {', '.join(others)}, beyond two standard errors",
    )
    ev.verdicts.append(R.answers["eVAE, y*", "ahead"])
    for name in LEARNED:
        cmp = [compare(R[name, D, "nll"], R["eVAE, y*", D, "nll"]) for D in R.Ds]
        R.answers[name, "like y*"] = judge(
            "section 4.2 (future work)",
            f"A q(y|x) learned by {name.split(', ')[1]} does as well as y*",
            "; ".join(f"D = {D}: {c:.1f} in -L_k" for D, c in zip(R.Ds, cmp)),
            R.seeds,
            SUPPORTED
            if all(c.sign in ("~", "<") for c in cmp)
            else NOT_SUPPORTED
            if all(c.sign == ">" for c in cmp)
            else PARTLY,
            "supported where its -L_k is no worse than y*'s beyond two standard errors",
        )
        ev.verdicts.append(R.answers[name, "like y*"])
    return ev.of_chapter("14")
