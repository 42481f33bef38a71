"""The measurements behind the claims of section 5 (chapters 9-12: Fig. 7, Tables 1-4), over
the seeds of the grids' rows of the table of scales, and their verdicts by the book's one
scheme (`rules`), each with the budget of its grid (`budgets`: MNIST in epochs, the faces
stand-in in minibatch steps). Each function sweeps its grid (from the results cache once the
chapter has run) and returns an `evidence.Evidence`; the chapters and the closing chapter
call them alike. Claims on generation on MNIST get a sibling judgement on the classifier's
features; a cell whose model is degenerate (`degenerate`) is not tested, with its reason.
"""

from __future__ import annotations

from ..runs import Spread
from ..runs import grids as E
from . import budgets
from . import paper as T
from . import questions as Q
from .evidence import (
    COUNT_SHARE,
    FD,
    FD_SHARE,
    PARZEN,
    SCORE_SHARE,
    Evidence,
    count_tolerance,
    no_trend,
)
from .intervals import slope
from .rules import (
    Budget,
    Cells,
    Comparable,
    Difference,
    FlatTrend,
    NotTested,
    NotWorse,
    Trend,
)

# A model that is not the one a claim is about: a VAE keeping at most this many active
# units (the mean over seeds) of more, or an eVAE (mVAE) whose validation images fall in at
# most this many of more epitomes (components).
DEGENERATE_UNITS = 2.0
DEGENERATE_GROUPS = 2.0
# "The VAE does not improve its log-likelihood as D grows": -L_k falls over the range of D by
# at most this share of the paper's own eVAE gain over that range (Table 2).
FLAT_NLL_SHARE = 0.5


def grid_rows(S, jobs, workers=None) -> list[T.Row]:
    """One Row per configuration of the grid, each the mean over its seeds."""
    from ..runs.sweep import sweep

    return T.seed_means(T.rows(jobs, sweep(jobs, workers=workers, progress=S.progress)))


def _scale(S, scale: str | None) -> str:
    return scale if scale is not None else S.scale.name


def _name(r: T.Row) -> str:
    k = f", K = {r.K}" if r.K else ""
    return f"{r.model} at (D, L, H) = ({r.D}, {r.L}, {r.H}){k}"


def degenerate(r: T.Row) -> str | None:
    """Why a row's model is not the one a claim is about, in numbers, or None."""
    seeds = f"the mean over {r.seeds} seed{'s' if r.seeds > 1 else ''}"
    if r.model == "VAE" and r.active is not None and r.active <= DEGENERATE_UNITS < r.D:
        return f"the {_name(r)} keeps {r.active:.1f} of {r.D} units active ({seeds})"
    if r.used is not None and r.groups and r.used <= DEGENERATE_GROUPS and r.used < r.groups:
        kind = "components" if r.model == "mVAE" else "epitomes"
        return (
            f"the {_name(r)} sends the validation images to {r.used:.1f} of its {r.groups} "
            f"{kind} ({seeds})"
        )
    return None


def _degenerate(*rows: T.Row) -> NotTested | None:
    why = [w for w in map(degenerate, rows) if w]
    return NotTested("degenerate", "; ".join(why)) if why else None


def _has_fd(rows) -> bool:
    return bool(rows) and all(r.fd is not None for r in rows)


def _fd_margin(r: T.Row) -> float:
    return FD_SHARE * abs(r.fd)


def epitome_size(S, rows: list[T.Row] | None = None, workers=None, scale=None) -> Evidence:
    """Chapter 9 (Fig. 7, section 5.2): Parzen against epitome size K at each D."""
    scale = _scale(S, scale)
    rows = rows or grid_rows(S, E.fig7_jobs(scale), workers)
    b = budgets.budget(scale, "grids")
    Ds = sorted({r.D for r in rows})
    ev = Evidence(min(r.seeds for r in rows))
    vae = {D: next(r for r in rows if r.D == D and r.model == "VAE") for D in Ds}
    best = T.best_over_K(rows)
    e_best = {D: best[D, "eVAE", 1, 500] for D in Ds}
    xs, d_txt = tuple(float(D) for D in Ds), ", ".join(map(str, Ds))
    fd = _has_fd(list(vae.values()) + list(e_best.values()))
    where, one = "section 5.2, Fig. 7", no_trend(xs, "D")

    v_p = tuple(vae[D].spread() for D in Ds)
    g = ev.add(
        (one or Trend(xs, v_p, "<", None, "D", f"VAE's {PARZEN}", "nats", ".2f")).judge(b),
        where,
        f"As D grows, the VAE's {PARZEN} drops (D = {d_txt})",
        Q.PRUNING,
    )
    if fd:
        ys = tuple(vae[D].spread("fd") for D in Ds)
        ev.add_sibling(
            g,
            (one or Trend(xs, ys, ">", None, "D", "VAE's Fréchet distance", "", ".3f")).judge(b),
            "section 5.2, second measure",
            f"As D grows, the VAE's samples get worse: its {FD} rises (D = {d_txt})",
        )
    cells = []
    for D in Ds:
        paper = T.PAPER_FIG7_VAE_ACTIVE.get(D)
        if paper is None:
            cells.append((f"D = {D}", NotTested("data", f"the paper gives no count at D = {D}")))
            continue
        tol = count_tolerance(paper)
        cells.append(
            (
                f"D = {D}",
                Comparable(
                    vae[D].spread("active"),
                    paper,
                    tol,
                    None,
                    "VAE's active units",
                    f"the paper's {paper}",
                    "units",
                ),
            )
        )
    paper_counts = ", ".join(
        str(T.PAPER_FIG7_VAE_ACTIVE[D]) for D in Ds if D in T.PAPER_FIG7_VAE_ACTIVE
    )
    ev.add(
        Cells(tuple(cells), "D").judge(b),
        "section 5.2",
        f"The VAE keeps {paper_counts} active units at D = {d_txt} (each within a tenth of the "
        "paper's count, at least one unit)",
        Q.PRUNING,
    )
    cells = []
    for D in Ds[1:]:
        active = vae[D].spread("active")
        inactive = Spread(D - active.mean, active.stderr, [D - a for a in active.values])
        paper = T.PAPER_FIG7_VAE_ACTIVE.get(D)
        cells.append(
            (
                f"D = {D}",
                Difference(
                    inactive,
                    0.0,
                    ">",
                    None if paper is None else float(D - paper),
                    "VAE's inactive units",
                    "none",
                    "units",
                ),
            )
        )
    ev.add(
        (Cells(tuple(cells), "D") if cells else no_trend(xs, "D")).judge(b),
        "section 5.2",
        f"The VAE's performance drops as D grows due to over-pruning: at every D past {Ds[0]} "
        f"(D = {', '.join(map(str, Ds[1:])) or '–'}) some of its units are inactive",
        Q.PRUNING,
    )
    e_p = tuple(e_best[D].spread() for D in Ds)
    g = ev.add(
        (one or Trend(xs, e_p, ">", None, "D", f"best eVAE's {PARZEN}", "nats", ".2f")).judge(b),
        where,
        f"As D grows, the best eVAE's {PARZEN} rises (K chosen on validation; D = {d_txt})",
        Q.GENERATION,
    )
    if fd:
        ys = tuple(e_best[D].spread("fd") for D in Ds)
        ev.add_sibling(
            g,
            (one or Trend(xs, ys, "<", None, "D", "best eVAE's Fréchet distance", "", ".3f")).judge(
                b
            ),
            "section 5.2, second measure",
            f"As D grows, the best eVAE's samples get better: its {FD} falls (D = {d_txt})",
        )

    def beats(D, quantity):
        e, v = e_best[D], vae[D]
        skip = _degenerate(e, v)
        if skip:
            return skip
        if quantity == "fd":
            return Difference(v.spread("fd"), e.spread("fd"), ">", None, "VAE", "best eVAE", "")
        pe, pv = T.PAPER_TABLE4.get((D, "eVAE", 1, 500)), T.PAPER_TABLE4.get((D, "VAE", 1, 500))
        paper = pe[0] - pv[0] if pe and pv and pe[0] > pv[0] else None
        return Difference(e.spread(), v.spread(), ">", paper, "best eVAE", "VAE", "nats", ".1f")

    label = {D: f"D = {D} (best K = {e_best[D].K})" for D in Ds}
    claim = "For each D the best epitome size is much smaller than D: the best eVAE beats the VAE"
    g = ev.add(
        Cells(tuple((label[D], beats(D, "parzen")) for D in Ds), "D").judge(b),
        "Fig. 7 caption",
        f"{claim} (K = D) by its {PARZEN}",
        Q.GENERATION,
    )
    if fd:
        ev.add_sibling(
            g,
            Cells(tuple((label[D], beats(D, "fd")) for D in Ds), "D").judge(b),
            "Fig. 7 caption, second measure",
            f"{claim} (K = D) by its {FD}",
        )
    pairs = [
        (r, m)
        for r in rows
        if r.model == "eVAE"
        for m in rows
        if m.model == "mVAE" and (m.D, m.K) == (r.D, r.K)
    ]

    def not_behind(r, m, quantity):
        skip = _degenerate(r, m)
        if skip:
            return skip
        if quantity == "fd":
            a, c, margin = r.spread("fd"), m.spread("fd"), _fd_margin(m)
            return NotWorse(a, c, "<", margin, "eVAE", "mVAE", "", ".2f")
        margin = SCORE_SHARE * abs(m.parzen)
        return NotWorse(r.spread(), m.spread(), ">", margin, "eVAE", "mVAE", "nats")

    claim = "The eVAE is comparable to or better than the mVAE at every epitome size"
    if pairs:
        cells = tuple((f"D = {r.D}, K = {r.K}", not_behind(r, m, "parzen")) for r, m in pairs)
        g = ev.add(
            Cells(cells, "(D, K)").judge(b),
            "section 5.2",
            f"{claim}: its {PARZEN} not below the mVAE's by more than {SCORE_SHARE:.0%} of it",
            Q.OTHERS,
        )
        if _has_fd([x for p in pairs for x in p]):
            cells = tuple((f"D = {r.D}, K = {r.K}", not_behind(r, m, "fd")) for r, m in pairs)
            ev.add_sibling(
                g,
                Cells(cells, "(D, K)").judge(b),
                "section 5.2, second measure",
                f"{claim}: its {FD} not above the mVAE's by more than {FD_SHARE:.0%} of it",
            )
    ev.values.update({f"vae_parzen_{D}": s for D, s in zip(Ds, v_p)})
    ev.values.update({f"vae_active_{D}": vae[D].spread("active") for D in Ds})
    ev.values.update({f"evae_best_{D}": s for D, s in zip(Ds, e_p)})
    return ev.of_chapter("9")


def _paper_falls(paper: dict, D: int, Ls: list[int], H: int) -> str | None:
    """Where the paper's own VAE counts at (D, H) do not fall with depth: the reason, else
    None (the paper makes the claim there, or prints no such cells)."""
    counts = [paper.get((D, "VAE", L, H)) for L in Ls]
    if any(c is None for c in counts):
        return None
    units = [c[1] for c in counts]
    if units[-1] < units[0]:
        return None
    return (
        f"the paper's own VAE keeps {', '.join(map(str, units))} units at L = "
        f"{', '.join(map(str, Ls))} (D = {D}, H = {H}): it shows no fall there"
    )


def _complexity(
    rows, big_D: int, dataset: str, where: str, budget: Budget, paper: dict, n: int = 0
) -> Evidence:
    """Section 5.3's claims on one grid (Table 4 on MNIST, Table 1 on the faces)."""
    ev = Evidence(n or min(r.seeds for r in rows))
    best = T.best_over_K(rows)
    cells = sorted({(D, L, H) for (D, m, L, H) in best if m == "VAE"})
    fd = _has_fd(list(best.values()))
    second = f"{where}, second measure"
    Ls = sorted({L for _, L, _ in cells})
    if len(Ls) > 1:
        fewer, better, better_fd = [], [], []
        for D, H in sorted({(D, H) for D, _, H in cells}):
            ls = [L for L in Ls if (D, "VAE", L, H) in best]
            if len(ls) < 2:  # one depth at this (D, H): nothing to compare
                continue
            vs = [best[D, "VAE", L, H] for L in ls]
            label, xs = f"D = {D}, H = {H}", tuple(float(L) for L in ls)
            skip = _degenerate(*vs)
            flat = _paper_falls(paper, D, ls, H)
            act = tuple(v.spread("active") for v in vs)
            units = Trend(xs, act, "<", None, "L", "VAE's active units", "units", ".1f")
            fewer.append((label, skip or (NotTested("data", flat) if flat else units)))
            score = Trend(xs, tuple(v.spread() for v in vs), ">", None, "L", PARZEN, "nats")
            better.append((label, skip or score))
            if fd:
                ys = tuple(v.spread("fd") for v in vs)
                sib = Trend(xs, ys, "<", None, "L", "Fréchet distance", "", ".3f")
                better_fd.append((label, skip or sib))
        if fewer:
            ev.add(
                Cells(tuple(fewer), "(D, H)").judge(budget),
                where,
                f"With more layers L ({dataset}), the VAE keeps fewer active units (where the "
                "paper's own counts fall)",
                Q.CAPACITY,
            )
            g = ev.add(
                Cells(tuple(better), "(D, H)").judge(budget),
                where,
                f"With more layers L ({dataset}), the VAE scores better: a higher {PARZEN}",
                Q.CAPACITY,
            )
            if fd:
                ev.add_sibling(
                    g,
                    Cells(tuple(better_fd), "(D, H)").judge(budget),
                    second,
                    f"With more layers L ({dataset}), the VAE scores better: a smaller {FD}",
                )
    Hs = sorted({H for _, _, H in cells})
    if len(Hs) > 1:
        score, units, score_fd = [], [], []
        lo, hi = Hs[0], Hs[-1]
        for D, L in sorted({(D, L) for D, L, _ in cells}):
            if not all((D, "VAE", L, H) in best for H in (lo, hi)):
                continue
            a, c = best[D, "VAE", L, lo], best[D, "VAE", L, hi]
            label, skip = f"D = {D}, L = {L}", _degenerate(a, c)
            tol = SCORE_SHARE * abs(a.parzen)
            names = (f"H = {hi}", f"H = {lo}")
            score.append(
                (label, skip or Comparable(c.spread(), a.spread(), tol, None, *names, "nats"))
            )
            act = Comparable(
                c.spread("active"), a.spread("active"), COUNT_SHARE * D, None, *names, "units"
            )
            units.append((label, skip or act))
            if fd:
                sib = Comparable(
                    c.spread("fd"), a.spread("fd"), _fd_margin(a), None, *names, "", ".2f"
                )
                score_fd.append((label, skip or sib))
        if score:
            wider = f"For the VAE ({dataset}), a wider network (H = {lo} to {hi}) changes"
            g = ev.add(
                Cells(tuple(score), "(D, L)").judge(budget),
                where,
                f"{wider} the {PARZEN} little (within {SCORE_SHARE:.0%} of the narrower's)",
                Q.CAPACITY,
            )
            if fd:
                ev.add_sibling(
                    g,
                    Cells(tuple(score_fd), "(D, L)").judge(budget),
                    second,
                    f"{wider} the {FD} little (within {FD_SHARE:.0%} of the narrower's)",
                )
            ev.add(
                Cells(tuple(units), "(D, L)").judge(budget),
                where,
                f"{wider} the active units little (within {COUNT_SHARE:.0%} of D)",
                Q.CAPACITY,
            )
    units, wins, wins_fd = [], [], []
    for D, L, H in cells:
        if (D, "eVAE", L, H) not in best or D < big_D:
            continue
        e, v = best[D, "eVAE", L, H], best[D, "VAE", L, H]
        label, skip = f"D = {D}, L = {L}, H = {H}", _degenerate(e, v)
        act = NotWorse(e.spread("active"), v.spread("active"), ">", 1.0, "eVAE", "VAE", "units")
        units.append((label, skip or act))
        pe, pv = paper.get((D, "eVAE", L, H)), paper.get((D, "VAE", L, H))
        gap = pe[0] - pv[0] if pe and pv and pe[0] > pv[0] else None
        win = Difference(e.spread(), v.spread(), ">", gap, "eVAE", "VAE", "nats", ".1f")
        wins.append((label, skip or win))
        if fd:
            sib = Difference(v.spread("fd"), e.spread("fd"), ">", None, "VAE", "eVAE", "", ".2f")
            wins_fd.append((label, skip or sib))
    if wins:
        every = f"For every configuration ({dataset}, D ≥ {big_D}), the eVAE"
        ev.add(
            Cells(tuple(units), "(D, L, H)").judge(budget),
            where,
            f"{every} keeps at least the VAE's active units (within one unit)",
            Q.UNITS,
        )
        g = ev.add(
            Cells(tuple(wins), "(D, L, H)").judge(budget),
            where,
            f"{every} outperforms the VAE: a higher {PARZEN}",
            Q.GENERATION,
        )
        if fd:
            ev.add_sibling(
                g,
                Cells(tuple(wins_fd), "(D, L, H)").judge(budget),
                second,
                f"{every} outperforms the VAE: a smaller {FD}",
            )
    return ev


def model_complexity(S, workers=None, scale=None) -> Evidence:
    """Chapter 10 (Tables 4 and 1, section 5.3)."""
    scale = _scale(S, scale)
    r4 = grid_rows(S, E.table4_jobs(scale), workers)
    r1 = grid_rows(S, E.table1_jobs(scale), workers)
    faces, mnist = budgets.budget(scale, "grids", "faces"), budgets.budget(scale, "grids")
    ev = _complexity(r1, 15, "faces", "section 5.3, Table 1", faces, T.PAPER_TABLE1)
    ev.extend(_complexity(r4, 24, "MNIST", "appendix 9.3, Table 4", mnist, T.PAPER_TABLE4))
    return ev.of_chapter("10")


def log_likelihood(S, workers=None, scale=None) -> Evidence:
    """Chapter 11 (Table 2, section 5.4): -L_k of the VAE and the eVAE as D grows, each trend
    judged by its slope over every D."""
    from ..runs import aggregate
    from ..runs.sweep import sweep

    scale = _scale(S, scale)
    jobs = E.table2_jobs(scale)
    results = sweep(jobs, workers=workers, progress=S.progress)
    by = {}
    for j, r in zip(jobs, results):
        by.setdefault((j.tag["model"], j.tag["D"]), []).append(r)
    agg = {k: aggregate(v) for k, v in by.items()}
    nll = {
        k: Spread(-a.iwae.mean, a.iwae.stderr, [-x for x in a.iwae.values]) for k, a in agg.items()
    }
    act = {k: a.active for k, a in agg.items()}
    ev = table2(nll, act, budgets.budget(scale, "likelihood"))
    return ev.of_chapter("11")


def table2(nll: dict, act: dict, budget: Budget) -> Evidence:
    """Table 2's claims from -L_k and the active units over seeds, per (model, D)."""
    Ds = sorted({D for _, D in nll})
    ev = Evidence(min(len(s.values) for s in nll.values()))
    xs, d_txt = tuple(float(D) for D in Ds), ", ".join(map(str, Ds))
    v, e = tuple(nll["VAE", D] for D in Ds), tuple(nll["eVAE", D] for D in Ds)
    paper_e = T.PAPER_TABLE2["eVAE"]
    pD = sorted(paper_e)
    paper_slope = slope(pD, [paper_e[D] for D in pD])
    lo, hi = max(min(Ds), pD[0]), min(max(Ds), pD[-1])
    if lo >= hi:
        lo, hi = pD[0], pD[-1]
    fall = FLAT_NLL_SHARE * abs(paper_slope) * (hi - lo)  # the paper's eVAE gain, halved
    span, one = (max(Ds) - min(Ds)) or 1, no_trend(xs, "D")
    flat = one or FlatTrend(xs, v, fall / span, "no fall", "D", "VAE's -L_k", "nats", ".4f")
    ev.add(
        flat.judge(budget),
        "section 5.4, Table 2",
        f"As D grows (D = {d_txt}), the VAE does not improve its log-likelihood: its -L_k falls "
        f"by at most {fall:.2f} nats over the range, {FLAT_NLL_SHARE:.0%} of the paper's eVAE "
        f"gain from D = {lo} to {hi}",
        Q.PRUNING,
    )
    ev.add(
        (one or Trend(xs, e, "<", paper_slope, "D", "eVAE's -L_k", "nats", ".4f")).judge(budget),
        "section 5.4, Table 2",
        f"As D grows (D = {d_txt}), the eVAE improves its log-likelihood: its -L_k falls",
        Q.FIT,
    )
    paper = T.PAPER_TABLE2_VAE_ACTIVE
    tol = count_tolerance(paper)
    cells = tuple(
        (
            f"D = {D}",
            Comparable(
                act["VAE", D], paper, tol, None, "VAE's active units", "the paper's", "units"
            ),
        )
        for D in Ds
    )
    ev.add(
        Cells(cells, "D").judge(budget),
        "section 5.4",
        f"The VAE has {paper} active units at every D (within {tol:g})",
        Q.PRUNING,
    )

    def gap(D):
        pv, pe = T.PAPER_TABLE2["VAE"].get(D), T.PAPER_TABLE2["eVAE"].get(D)
        paper = pe - pv if pv is not None and pe is not None and pe < pv else None
        return Difference(nll["eVAE", D], nll["VAE", D], "<", paper, "eVAE", "VAE", "nats", ".2f")

    ev.add(
        Cells(tuple((f"D = {D}", gap(D)) for D in Ds), "D").judge(budget),
        "Table 2",
        "At every D the eVAE's log-likelihood is better than the VAE's: a lower -L_k",
        Q.FIT,
    )
    for (m, D), s in nll.items():
        ev.values[f"nll_{m}_{D}"] = s
    return ev


def sample_quality(S, workers=None, scale=None) -> Evidence:
    """Chapter 12 (Table 3): the best model of each kind, chosen on validation Parzen."""
    scale = _scale(S, scale)
    ev = Evidence(0)
    for name, jobs, data, dataset in (
        ("MNIST", E.table4_jobs(scale), "Table 4", "mnist"),
        ("faces", E.table1_jobs(scale), "Table 1", "faces"),
    ):
        rows = grid_rows(S, jobs, workers)
        ev.extend(best_of_each(rows, name, data, budgets.budget(scale, "grids", dataset)))
    return ev.of_chapter("12")


def best_of_each(rows: list[T.Row], name: str, grid: str, budget: Budget) -> Evidence:
    """Table 3's claim on one grid: the best eVAE against the best VAE, each chosen over the
    grid on validation Parzen (and by the classifier's features where measured)."""
    ev = Evidence(min(r.seeds for r in rows))
    best = {
        m: max((r for r in rows if r.model == m), key=lambda r: r.val_parzen)
        for m in ("VAE", "eVAE")
    }
    e, v = best["eVAE"], best["VAE"]
    i = 0 if name == "MNIST" else 1
    paper3 = {m: (mn[0], tfd[0]) for m, mn, tfd in T.PAPER_TABLE3}
    gap = paper3["eVAE"][i] - paper3["VAE"][i]
    skip = _degenerate(e, v)
    rule = skip or Difference(
        e.spread(),
        v.spread(),
        ">",
        gap if gap > 0 else None,
        "best eVAE",
        "best VAE",
        "nats",
        ".0f",
    )
    claim = (
        f"The best eVAE is significantly better than the best VAE ({name}, each chosen over "
        f"{grid}'s grid on validation)"
    )
    g = ev.add(
        rule.judge(budget), "section 5.5, Table 3", f"{claim}: a higher {PARZEN}", Q.GENERATION
    )
    if _has_fd([e, v]):
        sib = skip or Difference(
            v.spread("fd"), e.spread("fd"), ">", None, "best VAE", "best eVAE", "", ".2f"
        )
        ev.add_sibling(
            g, sib.judge(budget), "section 5.5, second measure", f"{claim}: a smaller {FD}"
        )
    return ev
