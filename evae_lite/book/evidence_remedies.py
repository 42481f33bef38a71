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
    return with_verdict(R, question, SUPPORTED)


def with_verdict(R: Remedies, question: str, verdict: str) -> list[str]:
    """The models whose answer to `question` has `verdict`."""
    return [n for (n, q), v in R.answers.items() if q == question and v.verdict == verdict]


def _both(signs: list[str], want: str) -> str:
    if all(s == want for s in signs):
        return SUPPORTED
    return PARTLY if any(s == want for s in signs) else NOT_SUPPORTED


def _ahead(R: Remedies, q: str, what: str, want: str, others: list[str]) -> Verdict:
    """Whether the eVAE with y* beats every model in `others` on quantity `q` (`want` is the
    sign of eVAE minus the other when the eVAE is better), at every D; the measured column
    names the strongest of them at each D."""
    best = max if want == ">" else min
    parts, signs = [], []
    for D in R.Ds:
        gaps = {n: compare(R["eVAE, y*", D, q], R[n, D, q]) for n in others}
        strongest = best(others, key=lambda n: R[n, D, q].mean)
        parts.append(f"D = {D}: against the strongest, {strongest}, {gaps[strongest]:.1f}")
        signs.append([c.sign for c in gaps.values()])
    ahead = [all(s == want for s in ss) for ss in signs]
    behind = [any(s == ("<" if want == ">" else ">") for s in ss) for ss in signs]
    return judge(
        "after the paper",
        f"The eVAE (y*) reaches a better {what} than every remedy without epitomes",
        "; ".join(parts) + (" (difference in -L_k)" if q == "nll" else " nats"),
        R.seeds,
        SUPPORTED if all(ahead) else NOT_SUPPORTED if all(behind) else PARTLY,
        f"the eVAE's {'-L_k' if q == 'nll' else 'Parzen log-density'} against each of "
        f"{', '.join(others)}, beyond two standard errors",
    )


def collapsed(R: Remedies) -> list[tuple[str, int]]:
    """The (learned q(y|x), D) whose seed-0 model sends every validation image it is shown to
    one and the same epitome: the categorical code collapsed, not committed per example."""
    return [
        (n, D)
        for (n, D), b in R.q_y.items()
        if n in LEARNED and max(b["group_sizes"]) == sum(b["group_sizes"])
    ]


def _verdicts(R: Remedies) -> Evidence:
    ev = Evidence(R.seeds)
    d_txt = " and ".join(f"D = {D}" for D in R.Ds)
    full = [D for D in R.Ds if R["VAE", D, "active"].mean == D]  # no room to keep more
    full_txt = (
        f"; at {' and '.join(f'D = {D}' for D in full)} the VAE keeps all its units, so no "
        "model can keep more"
        if full
        else ""
    )
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
                "partly if at one" + (full_txt if q == "active" else ""),
            )
            ev.verdicts.append(R.answers[name, q])
    others = [n for n in R.names if not n.startswith("eVAE")]
    for q, what, want in (("nll", "L_k", "<"), ("parzen", "Parzen score", ">")):
        R.answers["eVAE, y*", f"ahead {q}"] = _ahead(R, q, what, want, others)
        ev.verdicts.append(R.answers["eVAE, y*", f"ahead {q}"])
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
