"""The measurements of the chapter after the paper: every remedy for over-pruning against the
VAE, over the seeds of the `remedies` row of the table of scales, and the judgements (the
book's one scheme, `rules`) on which remedies keep units active, which improve L_k, and
whether the eVAE stays ahead of them, each over every D as `rules.Cells` (a D where the VAE
already keeps all its units cannot test "keeps more units" and is left out, with its reason).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch

from ..runs import Spread, trained
from ..runs.remedies import remedies_jobs
from . import budgets
from . import questions as Q
from .evidence import FD, NLL_SHARE, PARZEN, Evidence, rec_error
from .rules import SUPPORTED, Budget, Cells, Difference, Judgement, NotTested, NotWorse

QUANTITIES = {  # name -> (words, higher is better)
    "active": ("active units (A_u > 0.02)", True),
    "active_within": ("active within their epitomes", True),
    "mi": ("I(x; z), nats", True),
    "nll": ("-L_k, nats", False),
    "parzen": ("Parzen log-density, nats", True),
    "rec": ("reconstruction error, nats", False),
    "fd": ("Fréchet distance of the classifier's features", False),
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
    answers: dict[tuple[str, str], Judgement] = field(default_factory=dict)  # (model, question)
    budget: Budget | None = None  # the remedies row's training against the paper's

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
                (name, D, "fd"): Spread.of(r.features.fd for r in rs),
            }
        )
        out.unit_kl[name, D] = rs[0].units.kl
        if name in LEARNED or name == "eVAE, y*":
            out.q_y[name, D] = _q_y_behaviour(S, *pairs[0][:1], runs[0])
    out.budget = budgets.budget(S.scale.name, "remedies")
    out.evidence = _verdicts(out)
    return out


def supported(R: Remedies, question: str) -> list[str]:
    """The models whose answer to `question` ("active", "nll", "like y*") is supported."""
    return with_verdict(R, question, SUPPORTED)


def with_verdict(R: Remedies, question: str, verdict: str) -> list[str]:
    """The models whose answer to `question` has `verdict`."""
    return [n for (n, q), v in R.answers.items() if q == question and v.verdict == verdict]


def at_some(R: Remedies, question: str) -> list[str]:
    """The models whose answer to `question` is supported at some D but not as a whole."""
    return [
        n
        for (n, q), v in R.answers.items()
        if q == question
        and v.verdict != SUPPORTED
        and any(c.verdict == SUPPORTED for _, c in v.cells)
    ]


def _ahead(R: Remedies, q: str, others: list[str]) -> Cells:
    """The eVAE with y* against every model in `others` on quantity `q` at every D, one cell
    per (D, model): ahead means higher where higher is better (QUANTITIES), else lower."""
    direction = ">" if QUANTITIES[q][1] else "<"
    unit = "" if q == "fd" else "nats"
    cells = tuple(
        (
            f"D = {D}, {n}",
            Difference(R["eVAE, y*", D, q], R[n, D, q], direction, None, "eVAE (y*)", n, unit),
        )
        for D in R.Ds
        for n in others
    )
    return Cells(cells, "(D, remedy)")


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
    b = R.budget or budgets.budget(None, "remedies")  # None: $EVAE_LITE_SCALE's row
    where = "after the paper"
    for name in R.names[1:]:
        active = []
        for D in R.Ds:
            vae = R["VAE", D, "active"]
            if vae.mean >= D:
                reason = f"the VAE keeps {vae.mean:.1f} of {D} units: no model can keep more"
                active.append((f"D = {D}", NotTested("ceiling", reason)))
                continue
            rule = Difference(R[name, D, "active"], vae, ">", None, name, "VAE", "units")
            active.append((f"D = {D}", rule))
        nll = tuple(
            (
                f"D = {D}",
                Difference(R[name, D, "nll"], R["VAE", D, "nll"], "<", None, name, "VAE", "nats"),
            )
            for D in R.Ds
        )
        R.answers[name, "active"] = ev.add(
            Cells(tuple(active), "D").judge(b),
            where,
            f"{name} keeps more units active than the VAE",
            Q.OTHERS,
        )
        R.answers[name, "nll"] = ev.add(
            Cells(nll, "D").judge(b), where, f"{name} reaches a better L_k than the VAE", Q.OTHERS
        )
    others = [n for n in R.names if not n.startswith("eVAE")]
    every = "The eVAE (y*) reaches a better {} than every remedy without epitomes"
    R.answers["eVAE, y*", "ahead nll"] = ev.add(
        _ahead(R, "nll", others).judge(b), where, every.format("L_k"), Q.OTHERS
    )
    g = ev.add(_ahead(R, "parzen", others).judge(b), where, every.format(PARZEN), Q.OTHERS)
    R.answers["eVAE, y*", "ahead parzen"] = g
    if all((n, D, "fd") in R.values for n in R.names for D in R.Ds):
        R.answers["eVAE, y*", "ahead fd"] = ev.add_sibling(
            g, _ahead(R, "fd", others).judge(b), f"{where}, second measure", every.format(FD)
        )
    for name in LEARNED:
        cells = []
        for D in R.Ds:
            ref = R["eVAE, y*", D, "nll"]
            margin = NLL_SHARE * abs(ref.mean)
            rule = NotWorse(R[name, D, "nll"], ref, "<", margin, name, "eVAE, y*", "nats", ".2f")
            cells.append((f"D = {D}", rule))
        R.answers[name, "like y*"] = ev.add(
            Cells(tuple(cells), "D").judge(b),
            "section 4.2 (future work)",
            f"A q(y|x) learned by {name.split(', ')[1]} does as well as y*: its -L_k not above "
            f"y*'s by more than {NLL_SHARE:.0%} of it",
            Q.EPITOMES,
        )
    return ev.of_chapter("14")
