"""The paper's training length (the chapter on training length): Table 4's decisive pairs at
D = 48, the VAE against the eVAE (K = 4) at L = 1 and L = 3, measured after 10, 25, 50, 100
and 200 epochs of one run per seed (`runs.grids.length_jobs`), so that a verdict decided
after the grids' short training can be set beside the same comparison at the paper's length.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from ..runs import Aggregate, Spread, aggregate, trained
from ..runs import grids as E
from . import paper as T
from . import questions as Q
from .intervals import Interval, difference

MODELS = ("VAE", "eVAE")
# quantity -> (Aggregate field, words, the direction that is better for the eVAE)
QUANTITIES = {
    "parzen": ("parzen", "Parzen log-density (nats)", +1),
    "nll": ("iwae", "$-\\mathcal{L}_k$ (nats)", -1),
    "fd": ("fd", "Fréchet distance of the classifier's features", -1),
    "precision": ("precision", "precision of the samples", +1),
    "recall": ("recall", "recall of the samples", +1),
    "active": ("active", "active units ($A_u > 0.02$)", +1),
}


@dataclass
class LengthEvidence:
    """Every (model, L, epochs) cell over its seeds, and the active units after every epoch of
    the longest runs (from their training histories), per (model, L)."""

    D: int
    H: int
    Ls: list[int]
    epochs: list[int]
    seeds: int
    cells: dict[tuple[str, int, int], Aggregate]
    active_runs: dict[tuple[str, int], list[list[int]]] = field(default_factory=dict)

    @property
    def active_by_epoch(self) -> dict[tuple[str, int], list[Spread]]:
        """Active units after each epoch over the seeds' runs, per (model, L)."""
        return {
            k: [Spread.of(epoch) for epoch in zip(*runs)] for k, runs in self.active_runs.items()
        }

    def value(self, model: str, L: int, epochs: int, quantity: str) -> Spread:
        """One quantity of one cell over seeds (-L_k as a positive number of nats)."""
        name = QUANTITIES[quantity][0]
        s = getattr(self.cells[model, L, epochs], name)
        if s is None:
            raise ValueError(f"{quantity!r} was not measured at {model}, L={L}, {epochs} epochs")
        if quantity == "nll":
            return Spread(-s.mean, s.stderr, [-v for v in s.values])
        return s

    def gap(self, L: int, epochs: int, quantity: str) -> Interval:
        """eVAE minus VAE in one quantity: its Student-t interval across seeds (`intervals`)."""
        return difference(
            self.value("eVAE", L, epochs, quantity), self.value("VAE", L, epochs, quantity)
        )

    def paper(self, model: str, L: int) -> tuple[int, int] | None:
        """The paper's Table 4 cell (Parzen nats, active units) after its 200 epochs."""
        return T.PAPER_TABLE4.get((self.D, model, L, self.H))

    def paper_gap(self, L: int, quantity: str) -> float | None:
        """The paper's eVAE minus VAE in Parzen or active units (it reports no other)."""
        i = {"parzen": 0, "active": 1}.get(quantity)
        e, v = self.paper("eVAE", L), self.paper("VAE", L)
        return None if i is None or e is None or v is None else e[i] - v[i]


def settled(counts: list[int], within: int = 1) -> int:
    """The first epoch (1-based) from which every count stays within `within` of the last."""
    last = counts[-1]
    e = len(counts)
    while e > 1 and abs(counts[e - 2] - last) <= within:
        e -= 1
    return e


def pruned_by(counts: list[int], epoch: int, D: int) -> float:
    """The share of a run's pruning (D minus its last count) done after `epoch` epochs (1 when
    it prunes nothing)."""
    total = D - counts[-1]
    if total <= 0:
        return 1.0
    return (D - counts[min(epoch, len(counts)) - 1]) / total


def regained(counts: list[int]) -> int:
    """The most units a run gains back after a fall: the largest rise over a low reached after
    the count first fell. The rise of a run's first epochs, before any fall, is units becoming
    active for the first time, not coming back, and does not count."""
    peak, low, most = counts[0], None, 0
    for c in counts:
        if low is None:
            if c >= peak:
                peak = c
                continue
            low = c
        low = min(low, c)
        most = max(most, c - low)
    return most


def unit_history_words(ev: LengthEvidence) -> dict[str, str]:
    """What the training histories say about when units die, one sentence per (model, L)."""
    out = []
    for (model, L), runs in sorted(ev.active_runs.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        final = Spread.of(r[-1] for r in runs)
        late = max(settled(r) for r in runs)
        back = max(regained(r) for r in runs)
        out.append(
            f"The {model} at $L = {L}$ ends with {final:.1f} active units of {ev.D}; every "
            f"run stays within one unit of its final count from epoch {late} on (the latest of "
            f"the {len(runs)} runs), and the most units any run regains after a fall is {back}."
        )
    return {"units_words": " ".join(out)}


def length(S, workers=None) -> LengthEvidence:
    """Measure every snapshot of the length grid over its seeds (from the results cache once
    trained), and read the longest runs' training histories."""
    from ..runs.sweep import sweep

    jobs = E.length_jobs(S.scale.name)
    results = sweep(jobs, workers=workers, progress=S.progress)
    groups: dict[tuple[str, int, int], list] = {}
    for job, res in zip(jobs, results):
        t = job.tag
        groups.setdefault((t["model"], t["L"], t["epochs"]), []).append(res)
    cells = {k: aggregate(v) for k, v in groups.items()}
    epochs = sorted({k[2] for k in cells})
    Ls = sorted({k[1] for k in cells})
    longest = {}
    for job in jobs:
        if job.tag["epochs"] == epochs[-1]:
            longest.setdefault((job.tag["model"], job.tag["L"]), []).append(job)
    active = {k: [[h.active for h in trained(j).history] for j in v] for k, v in longest.items()}
    first = jobs[0].tag
    seeds = min(len(a.seeds) for a in cells.values())
    return LengthEvidence(first["D"], first["H"], Ls, epochs, seeds, cells, active)


MNIST = "MNIST"
CHAPTER = "14"  # the chapter on training length
EARLY_SHARE = 0.1  # "early in training": within the first tenth of the epochs


def _budget(ev: LengthEvidence, epochs: int):
    from ..runs import get_scale
    from .rules import Budget

    # section 5: the paper trains its MNIST models for 200 epochs (the paper row of the grids)
    return Budget(MNIST, epochs, get_scale("paper", "grids").epochs)


# The claims that the eVAE beats the VAE in one quantity, judged by its eVAE-minus-VAE gap:
# (quantity, where the paper says it, its words, the reader's question, unit, format)
GAP_CLAIMS = (
    ("parzen", "Table 4", "At {cfg}, the eVAE's Parzen log-density is above the VAE's",
     Q.GENERATION, "nats", ".0f"),
    ("fd", "Table 4, second measure", "At {cfg}, the eVAE's samples are better than the "
     "VAE's: a smaller Fréchet distance in the classifier's features", Q.GENERATION, "", ".1f"),
    ("nll", "abstract", "At {cfg}, the eVAE generalizes better than the VAE: a smaller -L_k "
     "(the importance-weighted bound) on test images", Q.FIT, "nats", ".1f"),
    ("recall", "Fig. 5 caption", "At {cfg}, the eVAE's samples are more diverse than the "
     "VAE's: a higher recall in the classifier's features", Q.GENERATION, "", ".3f"),
)  # fmt: skip


def _favours_evae(ev: LengthEvidence, L: int, epochs: int, quantity: str, unit: str, spec: str):
    """The rule for "the eVAE is better in `quantity`": the gap between the two models, turned
    so that the eVAE's advantage is positive, above zero (the paper's gap where it gives one);
    not tested where the quantity was not measured."""
    from .rules import Difference, NotTested

    if any(getattr(ev.cells[m, L, epochs], QUANTITIES[quantity][0]) is None for m in MODELS):
        return NotTested("data", f"the {QUANTITIES[quantity][1]} was not measured")
    first, second = ("eVAE", "VAE") if QUANTITIES[quantity][2] > 0 else ("VAE", "eVAE")
    a, b = ev.value(first, L, epochs, quantity), ev.value(second, L, epochs, quantity)
    paper = ev.paper_gap(L, quantity)
    return Difference(a, b, ">", paper, first, second, unit, spec)


def verdicts(ev: LengthEvidence) -> list:
    """The claims this grid decides, each judged after the first and the last number of
    epochs (the grids' length and the paper's), by the book's one scheme (`rules`)."""
    from .evidence import COUNT_SHARE
    from .rules import Comparable, NotWorse

    out = []
    for L in ev.Ls:
        cfg = f"D = {ev.D}, L = {L}, H = {ev.H}"
        for e in (ev.epochs[0], ev.epochs[-1]):
            b = _budget(ev, e)
            for quantity, where, claim, question, unit, spec in GAP_CLAIMS:
                out.append(
                    _favours_evae(ev, L, e, quantity, unit, spec)
                    .judge(b)
                    .about(where, claim.format(cfg=cfg), question=question)
                )
            for model in MODELS:  # the paper's count: the eVAE's all D, within one unit
                paper = ev.paper(model, L)
                if paper is None:
                    continue
                tol = 1.0 if model == "eVAE" else max(1.0, 0.1 * paper[1])
                act = Comparable(
                    ev.value(model, L, e, "active"),
                    paper[1],
                    tol,
                    a_name=f"{model}'s active units",
                    target_name="the paper's",
                    unit="units",
                ).judge(b)
                out.append(
                    act.about(
                        "Table 4",
                        f"At {cfg}, the {model} keeps {paper[1]} active units (within {tol:g})",
                        question=Q.UNITS if model == "eVAE" else Q.PRUNING,
                    )
                )
        runs = ev.active_runs.get(("VAE", L))
        if runs:
            n = len(runs[0])
            early = max(1, round(EARLY_SHARE * n))
            share = Spread.of(pruned_by(r, early, ev.D) for r in runs)
            j = NotWorse(
                share,
                1.0,
                ">",
                COUNT_SHARE,
                f"share of the pruning done by epoch {early}",
                "all of it",
                "",
                ".2f",
            ).judge(_budget(ev, n))
            out.append(
                j.about(
                    "section 3",
                    f"At {cfg}, the VAE's units die early: at least {1 - COUNT_SHARE:.0%} of its "
                    f"pruning is done within the first {EARLY_SHARE:.0%} of training "
                    f"(epoch {early} of {n})",
                    question=Q.PRUNING,
                )
            )
            back = Spread.of(regained(r) for r in runs)
            j = Comparable(
                back, 0.0, 1.0, a_name="units regained per run", target_name="0", unit="units"
            ).judge(_budget(ev, len(runs[0])))
            out.append(
                j.about(
                    "section 3",
                    f"At {cfg}, the VAE's inactive units are never used again: no run regains "
                    "more than one unit after a fall",
                    question=Q.PRUNING,
                )
            )
    return [dataclasses.replace(j, chapter=CHAPTER) for j in out]


def gap_words(ev: LengthEvidence, quantity: str, spec: str = ".0f") -> dict[str, str]:
    """The eVAE-minus-VAE interval of one quantity at each L after the first and the last
    number of epochs, as text for the prose: {'<quantity>_gap_<L>_first': '+12 [+3, +21]', ...}."""
    out = {}
    for L in ev.Ls:
        for when, e in (("first", ev.epochs[0]), ("last", ev.epochs[-1])):
            iv = difference(ev.value("eVAE", L, e, quantity), ev.value("VAE", L, e, quantity))
            out[f"{quantity}_gap_{L}_{when}"] = f"{iv:{spec}}"
    return out


def change_words(judgements: list) -> str:
    """Which verdicts differ between the shortest and the longest training, in words."""
    by_claim: dict[tuple[str, str], list] = {}
    for j in judgements:
        by_claim.setdefault((j.where, j.claim), []).append(j)
    changed = []
    for (_, claim), js in by_claim.items():
        js = sorted(js, key=lambda j: j.budget.epochs)
        if len(js) > 1 and js[0].verdict != js[-1].verdict:
            first, last = js[0], js[-1]
            changed.append(
                f"“{claim}” is {first.verdict} after {first.budget.epochs:g} epochs and "
                f"{last.verdict} after {last.budget.epochs:g}"
            )
    if not changed:
        return "No verdict of this grid changes between its shortest and its longest training."
    return "Verdicts that change with training length: " + "; ".join(changed) + "."
