"""The measurements behind the claims of section 5 (chapters 9-12: Fig. 7, Tables 1-4), over
the seeds of the grids' rows of the table of scales, and their verdicts (`claims`). Each
function sweeps its grid (from the results cache once the chapter has run) and returns an
`evidence.Evidence`; the chapters and the closing chapter call them alike.
"""

from __future__ import annotations

from ..runs import Spread
from ..runs import grids as E
from . import paper as T
from .claims import NOT_SUPPORTED, PARTLY, SUPPORTED, compare, judge
from .evidence import Evidence, _near, _steps, _trend


def grid_rows(S, jobs, workers=None) -> list[T.Row]:
    """One Row per configuration of the grid, each the mean over its seeds."""
    from ..runs.sweep import sweep

    return T.seed_means(T.rows(jobs, sweep(jobs, workers=workers, progress=S.progress)))


def _share(flags: list[bool]) -> str:
    """supported if every case holds, partly if most do, else not supported."""
    if all(flags):
        return SUPPORTED
    return PARTLY if sum(flags) > len(flags) / 2 else NOT_SUPPORTED


def epitome_size(S, rows: list[T.Row] | None = None, workers=None) -> Evidence:
    """Chapter 9 (Fig. 7, section 5.2): Parzen against epitome size K at each D."""
    rows = rows or grid_rows(S, E.fig7_jobs(S.scale.name), workers)
    Ds = sorted({r.D for r in rows})
    n = min(r.seeds for r in rows)
    vae = {D: next(r for r in rows if r.D == D and r.model == "VAE") for D in Ds}
    best = T.best_over_K(rows)
    ev = Evidence(n)
    v_p = [vae[D].spread() for D in Ds]
    v_a = [vae[D].spread("active") for D in Ds]
    e_best = [best[D, "eVAE", 1, 500].spread() for D in Ds]
    d_txt = ", ".join(map(str, Ds))
    paper_active = [T.PAPER_FIG7_VAE_ACTIVE.get(D) for D in Ds]
    near = [_near(a, p) for a, p in zip(v_a, paper_active) if p is not None]
    ev.verdicts.append(
        judge(
            "section 5.2, Fig. 7",
            "As D grows, the VAE's Parzen log-density drops",
            f"VAE at D = {d_txt}: {_trend(v_p, '.0f')} nats",
            n,
            _steps(v_p, "<"),
            "each step compared across seeds, beyond two standard errors",
        )
    )
    ev.verdicts.append(
        judge(
            "section 5.2",
            "The VAE keeps "
            + ", ".join(str(p) for p in paper_active if p is not None)
            + f" active units at D = {d_txt}",
            f"{_trend(v_a)} active units",
            n,
            SUPPORTED
            if all(v == SUPPORTED for v in near)
            else NOT_SUPPORTED
            if all(v == NOT_SUPPORTED for v in near)
            else PARTLY,
            "each count within 10% of the paper's (or two standard errors) counts as agreeing",
        )
    )
    ev.verdicts.append(
        judge(
            "section 5.2, Fig. 7",
            "As D grows, the best eVAE's Parzen log-density rises",
            f"best eVAE (K chosen on validation) at D = {d_txt}: {_trend(e_best, '.0f')} nats",
            n,
            _steps(e_best, ">"),
            "each step compared across seeds, beyond two standard errors",
        )
    )
    wins = [compare(best[D, "eVAE", 1, 500].spread(), vae[D].spread()) for D in Ds]
    ks = [best[D, "eVAE", 1, 500].K for D in Ds]
    ev.verdicts.append(
        judge(
            "Fig. 7 caption",
            "For each D the best epitome size is much smaller than D (than the VAE's K = D)",
            "best K " + ", ".join(f"{k} of {D}" for k, D in zip(ks, Ds)) + "; best eVAE minus "
            "VAE: " + ", ".join(f"{w:.0f}" for w in wins) + " nats",
            n,
            _share([w.sign == ">" and k < D for w, k, D in zip(wins, ks, Ds)]),
            "at each D, the best K is below D and beats K = D beyond two standard errors",
        )
    )
    pairs = [
        (r, m)
        for r in rows
        if r.model == "eVAE"
        for m in rows
        if m.model == "mVAE" and (m.D, m.K) == (r.D, r.K)
    ]
    ok = [compare(r.spread(), m.spread()).sign in (">", "~") for r, m in pairs]
    ev.verdicts.append(
        judge(
            "section 5.2",
            "The eVAE is comparable to or better than the mVAE at every epitome size",
            f"eVAE not behind the mVAE by two standard errors at {sum(ok)} of {len(ok)} (D, K)",
            n,
            _share(ok),
            "every (D, K) holds: supported; most: partly",
        )
    )
    ev.values.update({f"vae_parzen_{D}": s for D, s in zip(Ds, v_p)})
    ev.values.update({f"vae_active_{D}": s for D, s in zip(Ds, v_a)})
    ev.values.update({f"evae_best_{D}": s for D, s in zip(Ds, e_best)})
    return ev.of_chapter("9")


def _complexity(rows, big_D: int, dataset: str, where: str, n: int) -> list:
    """Section 5.3's claims on one grid (Table 4 on MNIST, Table 1 on the faces)."""
    best = T.best_over_K(rows)
    cells = sorted({(D, L, H) for (D, m, L, H) in best if m == "VAE"})
    out = []
    Ls = sorted({L for _, L, _ in cells})
    if len(Ls) > 1:
        fewer, better = [], []
        for D, H in sorted({(D, H) for D, _, H in cells}):
            vs = [best[D, "VAE", L, H] for L in Ls if (D, "VAE", L, H) in best]
            if len(vs) < 2:  # one depth at this (D, H): nothing to compare
                continue
            fewer.append(_steps([v.spread("active") for v in vs], "<") != NOT_SUPPORTED)
            better.append(_steps([v.spread() for v in vs], ">") != NOT_SUPPORTED)
        out.append(
            judge(
                where,
                f"With more layers L ({dataset}), the VAE keeps fewer active units but scores "
                "better",
                f"fewer units with depth at {sum(fewer)} of {len(fewer)} (D, H); a better "
                f"score at {sum(better)} of {len(better)}",
                n,
                _share([a and b for a, b in zip(fewer, better)]),
                "at each (D, H), no step in L goes the other way beyond two standard errors",
            )
        )
    Hs = sorted({H for _, _, H in cells})
    if len(Hs) > 1:
        small = []
        for D, L in sorted({(D, L) for D, L, _ in cells}):
            if all((D, "VAE", L, H) in best for H in Hs):
                a, b = best[D, "VAE", L, Hs[0]], best[D, "VAE", L, Hs[-1]]
                gap = compare(b.spread(), a.spread())
                small.append(
                    (gap.sign == "~" or abs(gap.gap) <= 0.03 * abs(a.parzen))
                    and abs(b.active - a.active) <= 0.1 * D
                )
        out.append(
            judge(
                where,
                f"For the VAE ({dataset}), a wider network (H = {Hs[0]} to {Hs[-1]}) changes the "
                "active units and the score little",
                f"little change at {sum(small)} of {len(small)} (D, L)",
                n,
                _share(small),
                "little: the score within two standard errors or 3%, the active units within "
                "10% of D",
            )
        )
    wins = []
    for D, L, H in cells:
        if (D, "eVAE", L, H) in best and D >= big_D:
            e, v = best[D, "eVAE", L, H], best[D, "VAE", L, H]
            wins.append(compare(e.spread(), v.spread()).sign == ">" and e.active >= v.active)
    out.append(
        judge(
            where,
            f"For every configuration ({dataset}, D ≥ {big_D}), the eVAE keeps at least the "
            "VAE's active units and outperforms it",
            f"holds at {sum(wins)} of {len(wins)} (D, L, H)",
            n,
            _share(wins),
            "a win is beyond two standard errors across seeds",
        )
    )
    return out


def model_complexity(S, workers=None) -> Evidence:
    """Chapter 10 (Tables 4 and 1, section 5.3)."""
    r4 = grid_rows(S, E.table4_jobs(S.scale.name), workers)
    r1 = grid_rows(S, E.table1_jobs(S.scale.name), workers)
    n = min(r.seeds for r in r4 + r1)
    ev = Evidence(n)
    ev.verdicts += _complexity(r1, 15, "faces", "section 5.3, Table 1", n)
    ev.verdicts += _complexity(r4, 24, "MNIST", "appendix 9.3, Table 4", n)
    return ev.of_chapter("10")


def log_likelihood(S, workers=None) -> Evidence:
    """Chapter 11 (Table 2, section 5.4): -L_k of the VAE and the eVAE as D grows."""
    from ..runs import aggregate
    from ..runs.sweep import sweep

    jobs = E.table2_jobs(S.scale.name)
    results = sweep(jobs, workers=workers, progress=S.progress)
    by = {}
    for j, r in zip(jobs, results):
        by.setdefault((j.tag["model"], j.tag["D"]), []).append(r)
    agg = {k: aggregate(v) for k, v in by.items()}
    Ds = sorted({D for _, D in agg})
    n = min(len(a.seeds) for a in agg.values())
    nll = {
        k: Spread(-a.iwae.mean, a.iwae.stderr, [-x for x in a.iwae.values]) for k, a in agg.items()
    }
    act = {k: a.active for k, a in agg.items()}
    ev = Evidence(n)
    d_txt = ", ".join(map(str, Ds))
    v, e = [nll["VAE", D] for D in Ds], [nll["eVAE", D] for D in Ds]
    v_flat = _steps(v, "<") != SUPPORTED  # the VAE does not improve with D
    ev.verdicts += [
        judge(
            "section 5.4, Table 2",
            "As D grows, the VAE does not improve its log-likelihood; the eVAE does",
            f"-L_k at D = {d_txt}: VAE {_trend(v, '.2f')}, eVAE {_trend(e, '.2f')} nats",
            n,
            SUPPORTED
            if v_flat and _steps(e, "<") == SUPPORTED
            else PARTLY
            if v_flat or _steps(e, "<") != NOT_SUPPORTED
            else NOT_SUPPORTED,
            "the eVAE's -L_k falls at every step beyond two standard errors, the VAE's does not",
        ),
        judge(
            "section 5.4",
            f"The VAE has {T.PAPER_TABLE2_VAE_ACTIVE} active units at every D",
            f"{_trend([act['VAE', D] for D in Ds])} active units at D = {d_txt}",
            n,
            _share([_near(act["VAE", D], T.PAPER_TABLE2_VAE_ACTIVE) == SUPPORTED for D in Ds]),
            "each count within 10% of the paper's (or two standard errors)",
        ),
        judge(
            "Table 2",
            "At every D the eVAE's log-likelihood is better than the VAE's",
            "VAE minus eVAE -L_k: "
            + ", ".join(f"{compare(nll['VAE', D], nll['eVAE', D]):.2f}" for D in Ds)
            + " nats",
            n,
            _share([compare(nll["VAE", D], nll["eVAE", D]).sign == ">" for D in Ds]),
            "each gap beyond two standard errors across seeds",
        ),
    ]
    for (m, D), s in nll.items():
        ev.values[f"nll_{m}_{D}"] = s
    return ev.of_chapter("11")


def sample_quality(S, workers=None) -> Evidence:
    """Chapter 12 (Table 3): the best model of each kind, chosen on validation Parzen."""
    ev = Evidence(0)
    seeds = []
    for name, jobs, data in (
        ("MNIST", E.table4_jobs(S.scale.name), "Table 4"),
        ("faces", E.table1_jobs(S.scale.name), "Table 1"),
    ):
        rows = grid_rows(S, jobs, workers)
        seeds.append(min(r.seeds for r in rows))
        best = {
            m: max((r for r in rows if r.model == m), key=lambda r: r.val_parzen)
            for m in ("VAE", "eVAE")
        }
        gap = compare(best["eVAE"].spread(), best["VAE"].spread())
        ev.verdicts.append(
            judge(
                "section 5.5, Table 3",
                f"The best eVAE is significantly better than the best VAE ({name})",
                f"best eVAE {best['eVAE'].spread():.0f}, best VAE {best['VAE'].spread():.0f} "
                f"nats (each chosen over {data}'s grid on validation)",
                seeds[-1],
                SUPPORTED if gap.sign == ">" else NOT_SUPPORTED,
                f"difference {gap:.0f} nats",
            )
        )
    ev.seeds = min(seeds)
    return ev.of_chapter("12")
