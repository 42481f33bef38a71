"""The paper's tables beside ours: the paper's printed numbers, and grid results as rows.

The PAPER_* dicts are transcribed from the paper (Tables 1-4 and section 5.2); a test checks
them against the paper's text. Everything else here turns grid results into table rows:
one `Row` per trained model, the best epitome size K of each cell chosen on the *validation*
Parzen score (the paper says only "the maximum over K"), and Markdown with the paper's
number and ours in adjacent columns, active units in parentheses as the paper prints them.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

# Table 4 (appendix 9.3, MNIST): (D, model, L, H) -> (Parzen nats, active units).
_T4_LH = [(1, 500), (2, 500), (3, 500), (1, 1000), (2, 1000), (3, 1000)]
_T4 = {
    (8, "VAE"): "283(8) 292(8) 325(8) 283(8) 290(8) 322(6)",
    (8, "mVAE"): "300(8) 328(8) 337(8) 309(8) 333(8) 335(8)",
    (8, "eVAE"): "300(8) 330(8) 337(8) 312(8) 331(8) 334(8)",
    (24, "VAE"): "213(22) 273(11) 305(8) 219(24) 270(12) 311(7)",
    (24, "mVAE"): "309(24) 330(24) 336(24) 313(24) 333(24) 338(24)",
    (24, "eVAE"): "311(24) 331(24) 336(24) 317(24) 332(24) 336(24)",
    (48, "VAE"): "213(24) 267(13) 308(8) 224(24) 273(12) 309(8)",
    (48, "mVAE"): "314(48) 334(48) 336(48) 315(48) 333(48) 337(48)",
    (48, "eVAE"): "319(48) 334(48) 337(48) 321(48) 334(48) 332(48)",
}
# Table 1 (TFD): (D, model, L, H) -> (Parzen nats, active units).
_T1_LH = [(2, 500), (3, 500), (2, 1000), (3, 1000)]
_T1 = {
    (15, "VAE"): "2173(15) 2180(15) 2149(15) 2116(15)",
    (15, "mVAE"): "2276(15) 2314(15) 2298(15) 2343(15)",
    (15, "eVAE"): "2298(15) 2353(15) 2278(15) 2367(15)",
    (25, "VAE"): "2067(25) 2085(25) 2037(25) 2101(25)",
    (25, "mVAE"): "2287(25) 2306(25) 2332(25) 2351(25)",
    (25, "eVAE"): "2309(25) 2371(25) 2297(25) 2371(25)",
    (50, "VAE"): "1920(50) 2062(29) 1886(50) 2066(30)",
    (50, "mVAE"): "2253(50) 2327(50) 2280(50) 2358(50)",
    (50, "eVAE"): "2314(50) 2359(50) 2302(50) 2365(50)",
}


def _parse(table: dict, lh: list) -> dict:
    out = {}
    for (D, model), cells in table.items():
        for (L, H), cell in zip(lh, cells.split(), strict=True):
            value, units = cell.rstrip(")").split("(")
            out[D, model, L, H] = (int(value), int(units))
    return out


PAPER_TABLE4 = _parse(_T4, _T4_LH)
PAPER_TABLE1 = _parse(_T1, _T1_LH)
# Table 2: D -> mean of -L_5000 in nats (the paper prints the negative log-likelihood).
PAPER_TABLE2 = {
    "VAE": {50: 86.76, 100: 86.91, 200: 87.09},
    "eVAE": {50: 86.13, 100: 85.73, 200: 85.53},
}
PAPER_TABLE2_VAE_ACTIVE = 20  # "The VAE model has 20 active units at all D"
# Section 5.2 (Fig. 7): the VAE's active units at D = 8, 24, 48 (one hidden layer of 500).
PAPER_FIG7_VAE_ACTIVE = {8: 8, 24: 22, 48: 24}
# Table 3: Parzen log-density (nats) +- stderr on MNIST and TFD, 10,000 samples.
PAPER_TABLE3 = [
    ("DBN (Hinton et al., 2006)", (138, 2), (1909, 66)),
    ("Deep CAE (Bengio et al., 2013)", (121, 1), (2110, 50)),
    ("Deep GSN (Thibodeau-Laufer et al., 2014)", (214, 1), (1890, 29)),
    ("GAN (Goodfellow et al., 2014)", (225, 2), (2057, 26)),
    ("GMMN + AE (Li et al., 2015)", (282, 2), (2204, 20)),
    ("Adversarial AE (Makhzani et al., 2015)", (340, 2), (2252, 16)),
    ("VAE", (325, 2), (2180, 20)),
    ("mVAE", (338, 2), (2358, 20)),
    ("eVAE", (337, 2), (2371, 20)),
]
# Table 3's models: the best (L, H, D) of each kind, as the paper states.
PAPER_TABLE3_BEST = {
    "mnist": {"VAE": (3, 500, 8), "mVAE": (3, 1000, 24), "eVAE": (3, 500, 48)},
    "faces": {"VAE": (3, 500, 15), "mVAE": (3, 1000, 50), "eVAE": (3, 500, 25)},
}


@dataclass(frozen=True)
class Row:
    """One trained model of a grid and its measurements, or (`seed_means`) one configuration
    over several seeds: then every number is the mean over seeds, and stderr is the standard
    error across seeds."""

    model: str  # "VAE" | "mVAE" | "eVAE"
    D: int
    L: int
    H: int
    K: int | None
    active: float | None  # units with activity > 0.02
    parzen: float  # test Parzen log-density, nats
    stderr: float  # one model: over test images; over seeds: across seeds
    val_parzen: float  # validation Parzen at the chosen bandwidth (used to pick K)
    n_params: int
    job: Any = field(default=None, repr=False, compare=False)  # the runs.Job that made it
    seeds: int = 1
    per_seed: tuple = field(default=(), repr=False, compare=False)  # the one-model Rows
    active_within: float | None = None  # eVAE, mVAE: units active within their epitomes
    # the second measure of samples (MNIST): Fréchet distance of the classifier's features
    # (lower is better), precision and recall
    fd: float | None = None
    precision: float | None = None
    recall: float | None = None
    # eVAE, mVAE: the epitomes (components) that hold a validation image, of `groups`
    used: float | None = None
    groups: int | None = None

    @property
    def cell(self) -> tuple:
        return self.D, self.model, self.L, self.H

    def spread(self, field: str = "parzen"):
        """A measurement over this row's seeds as a `runs.Spread` (one model: one value, no
        standard error across seeds)."""
        from ..runs import Spread

        return Spread.of(getattr(r, field) for r in (self.per_seed or (self,)))


def rows(jobs, results) -> list[Row]:
    """Rows of a grid from its jobs and their `runs.JobResult`s (in the same order)."""
    out = []
    for job, r in zip(jobs, results, strict=True):
        t = job.tag
        p = r.parzen
        out.append(
            Row(
                model=t["model"],
                D=t["D"],
                L=t["L"],
                H=t["H"],
                K=t.get("K"),
                active=r.units.active if r.units else None,
                parzen=p.mean,
                stderr=p.stderr,
                val_parzen=max(p.val_means),
                n_params=r.n_params,
                job=job,
                active_within=r.units.active_within if r.units and t["model"] != "VAE" else None,
                **_features(r),
                **_groups(job, r),
            )
        )
    return out


def _features(r) -> dict:
    f = r.features
    return {} if f is None else dict(fd=f.fd, precision=f.precision, recall=f.recall)


def _groups(job, r) -> dict:
    """How many of an eVAE's (mVAE's) epitomes hold a validation image: each unit's
    group_size counts the images whose epitome contains it, so with epitomes that do not
    overlap (stride = K) every K-th unit stands for its epitome."""
    m = job.model
    if m.model not in ("evae", "mvae") or r.units is None or r.units.group_size is None:
        return {}
    K, stride = m.epitome_size, m.epitome_stride
    if stride != K:
        return {}
    sizes = r.units.group_size[::K]
    return dict(used=float(sum(1 for n in sizes if n > 0)), groups=len(sizes))


def seed_means(rs: list[Row]) -> list[Row]:
    """One Row per configuration (model, D, L, H, K): the mean over its seeds' rows, with the
    standard error across seeds (one seed: its row, unchanged). The job is seed 0's."""
    from ..runs import Spread

    groups: dict[tuple, list[Row]] = {}
    for r in rs:
        groups.setdefault((r.model, r.D, r.L, r.H, r.K), []).append(r)
    out = []
    for group in groups.values():
        if len(group) == 1:
            out.append(group[0])
            continue
        seeds = [r.job.train.seed for r in group] if group[0].job is not None else []
        if len(set(seeds)) != len(seeds):
            raise ValueError(f"seeds {seeds} repeat in one configuration of the grid")
        p = Spread.of(r.parzen for r in group)
        act = None if group[0].active is None else Spread.of(r.active for r in group).mean
        within = None
        if all(r.active_within is not None for r in group):
            within = Spread.of(r.active_within for r in group).mean
        first = min(group, key=lambda r: r.job.train.seed if r.job is not None else 0)
        means = {
            name: sum(getattr(r, name) for r in group) / len(group)
            for name in ("fd", "precision", "recall", "used")
            if all(getattr(r, name) is not None for r in group)
        }
        out.append(
            dataclasses.replace(
                first,
                **means,
                active=act,
                active_within=within,
                parzen=p.mean,
                stderr=p.stderr,
                val_parzen=sum(r.val_parzen for r in group) / len(group),
                seeds=len(group),
                per_seed=tuple(group),
            )
        )
    return out


def best_over_K(rs: list[Row]) -> dict[tuple, Row]:
    """(D, model, L, H) -> the row with the best validation Parzen score among its Ks."""
    best: dict[tuple, Row] = {}
    for r in rs:
        if r.cell not in best or r.val_parzen > best[r.cell].val_parzen:
            best[r.cell] = r
    return best


def units_text(units: float) -> str:
    """An active-unit count: '8' for a whole number, '23.7' for a mean over seeds."""
    return f"{units:.0f}" if float(units).is_integer() else f"{units:.1f}"


def fmt(value: float | None, units: float | None = None, digits: int = 0) -> str:
    """'325(8)' as the paper prints a cell; '—' for a missing value."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    s = f"{value:.{digits}f}"
    return s if units is None else f"{s}({units_text(units)})"


def rank_text(scores: dict[str, float]) -> str:
    """The models from best to worst: 'eVAE > mVAE = VAE', a tie written as one."""
    values = sorted(set(scores.values()), reverse=True)
    return " > ".join(" = ".join(m for m in scores if scores[m] == v) for v in values)


def _decided(a, b) -> int:
    """+1 when a is above b beyond the interval of a - b across seeds (`intervals`), -1 when
    below, 0 when the interval holds zero or there is no spread to size it."""
    from .intervals import difference

    iv = difference(a, b)
    if iv.stderr is None:
        return 0
    return 1 if iv.lo > 0 else -1 if iv.hi < 0 else 0


def ranked_text(scores: dict) -> str:
    """The models by their mean over seeds, best first, each neighbour joined by '>' where the
    interval of its gap excludes zero and by '≈' where it does not: 'VAE ≈ eVAE > mVAE'.
    scores: name -> `runs.Spread`."""
    names = sorted(scores, key=lambda m: scores[m].mean, reverse=True)
    out = names[0]
    for a, b in zip(names, names[1:]):
        out += (" > " if _decided(scores[a], scores[b]) > 0 else " ≈ ") + b
    return out


SAME, AGAINST, OPEN = "same", "against", "open"


def _calls(paper: dict[str, float], ours: dict) -> dict[tuple[str, str], int]:
    pairs = [(a, b) for a in paper for b in paper if a in ours and b in ours if paper[a] > paper[b]]
    return {(a, b): _decided(ours[a], ours[b]) for a, b in pairs}


def order_call(paper: dict[str, float], ours: dict) -> str:
    """SAME when every pair the paper ranks (a tie ranks nothing) is ranked the same way beyond
    the interval of its gap across seeds, AGAINST when one is reversed beyond it, else OPEN.
    ours: name -> `runs.Spread`."""
    calls = _calls(paper, ours).values()
    return AGAINST if any(c < 0 for c in calls) else SAME if all(c > 0 for c in calls) else OPEN


def order_words(paper: dict[str, float], ours: dict) -> str:
    """`order_call` in words: "the paper's order", "against the paper's order (eVAE above
    VAE)", or how many of the paper's pairs the seeds cannot order."""
    calls = _calls(paper, ours)
    reversed_ = [f"{b} above {a}" for (a, b), c in calls.items() if c < 0]
    pairs = list(calls)
    if reversed_:
        return "against the paper's order (" + ", ".join(reversed_) + ")"
    open_ = sum(c == 0 for c in calls.values())
    if open_ == 0:
        return "the paper's order"
    return (
        f"neither the paper's order nor against it: the seeds cannot order {open_} of its "
        f"{len(pairs)} pairs"
    )


def grid_markdown(best: dict[tuple, Row], paper: dict, Ds, LHs, models=("VAE", "mVAE", "eVAE")):
    """A Markdown table: one row per (D, model), and for each (L, H) the paper's cell beside
    ours ('ours ± stderr (active)'; for the eVAE and mVAE also the units active within their
    epitomes, then K of the chosen epitome size). Over seeds, ours is the mean ± the standard
    error across seeds, and the active units their mean."""
    head = ["D", "model"]
    for L, H in LHs:
        head += [f"L={L} H={H}: paper", "ours"]
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for D in Ds:
        for m in models:
            cells = [str(D), m]
            for L, H in LHs:
                pv = paper.get((D, m, L, H))
                cells.append(fmt(*pv) if pv else "—")
                r = best.get((D, m, L, H))
                if r is None:
                    cells.append("—")
                else:
                    k = f", K={r.K}" if r.K else ""
                    w = "" if r.active_within is None else f"; {units_text(r.active_within)} within"
                    cells.append(f"{r.parzen:.0f} ± {r.stderr:.0f} ({units_text(r.active)}{w}{k})")
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
