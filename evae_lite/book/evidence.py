"""The measurements behind the claims of chapters 2-8, over the seeds of the scale's row, and
their verdicts by the book's one scheme (`rules`): each claim a `rules.Judgement` with the
budget of the row that trained its models (`budgets`). A chapter calls its function for the
numbers it prints and the table of verdicts it shows; the closing chapter calls them all.
Where a claim is on generation on MNIST, a sibling judgement reads the classifier-feature
measure of the same samples, and `Evidence.notes` says where the two measures disagree.
Models and measurements come from the results cache, so calling again costs only the
reconstruction errors.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import torch

from ..model import ModelConfig
from ..runs import Spread
from . import budgets
from . import questions as Q
from .rules import (
    LEVEL,
    Cells,
    Comparable,
    Difference,
    FlatTrend,
    Judgement,
    NotTested,
    NotWorse,
    Trend,
    disagreement,
    percent,
)

REC_IMAGES = 2000  # validation images for the reconstruction error
# The tolerances of the claims that say "about", "similar", "little" or "not worse": the paper
# gives none, so the book states its own, once, here, and every claim quotes the one it uses.
COUNT_SHARE = 0.1  # a count near another: within a tenth of it (at least one unit)
SCORE_SHARE = 0.02  # a Parzen log-density as good, or changed little: within 2% of the reference
FD_SHARE = 0.1  # a Fréchet distance as good, or changed little: within a tenth of the reference
NLL_SHARE = 0.01  # -L_k as good: within 1% of the reference
ALL_MARGIN = 0.5  # "all D units active": the mean count within half a unit of D
REC_SHARE = 0.1  # a reconstruction error as good: within a tenth of the reference's
PAPER_FIG2_ACTIVE = 30  # the 50-d VAE's active units, Fig. 2's caption
PARZEN = "Parzen log-density"
FD = "Fréchet distance of the classifier's features"


def no_trend(xs, x_name: str) -> NotTested | None:
    """A trend along fewer than two distinct x (a scale whose grid has one D) is not tested."""
    if len(set(xs)) >= 2:
        return None
    at = ", ".join(f"{x:g}" for x in sorted(set(xs)))
    return NotTested("data", f"one {x_name} only ({x_name} = {at}): no trend to fit")


def count_tolerance(reference: float) -> float:
    """COUNT_SHARE of a count, at least one unit."""
    return max(1.0, COUNT_SHARE * abs(reference))


@dataclass
class Evidence:
    """A chapter's numbers over seeds (name -> Spread), the judgements they give, and the
    computed sentences that say where two measures of one claim disagree."""

    seeds: int
    values: dict[str, Spread] = field(default_factory=dict)
    verdicts: list[Judgement] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, judgement: Judgement, where: str, claim: str, question: str) -> Judgement:
        """The judgement of a claim: where the paper makes it, its words, and the reader's
        question it answers (`questions`)."""
        j = judgement.about(where, claim, question=question)
        self.verdicts.append(j)
        return j

    def add_sibling(self, parzen: Judgement, features: Judgement, where: str, claim: str):
        """The classifier-feature judgement of a claim judged by Parzen (already added, whose
        question it shares), and a note where their verdicts differ."""
        j = self.add(features, where, claim, parzen.question)
        said = disagreement(parzen, j, PARZEN, FD)
        if said:
            self.notes.append(said)
        return j

    def extend(self, other: Evidence) -> Evidence:
        """This evidence with another's judgements and notes after its own (the fewest seeds
        of either)."""
        self.seeds = min(self.seeds, other.seeds) if self.verdicts else other.seeds
        self.verdicts += other.verdicts
        self.notes += other.notes
        return self

    def of_chapter(self, chapter: str) -> Evidence:
        """The same, with every judgement naming its chapter (for the closing table)."""
        self.verdicts = [dataclasses.replace(j, chapter=chapter) for j in self.verdicts]
        return self


def caption(scale_name: str) -> str:
    """The header over a chapter's table of judgements."""
    return (
        f"**The paper's claims tested in this chapter (scale={scale_name}).** Each verdict "
        f"reads the two-sided {percent(LEVEL)} Student-t interval of the effect across seeds "
        "(the closing chapter gives the rule); each row names its data and its training "
        "against the paper's.\n\n"
    )


def notes_markdown(ev: Evidence) -> str:
    """The disagreements between measures, as a paragraph under the table ('' if none)."""
    return "\n\n" + " ".join(ev.notes) if ev.notes else ""


def rec_error(S, run) -> float:
    """Mean -log p(x|z) of one z ~ q(z|y*, x) per image on the first REC_IMAGES validation
    images (a fixed draw; y* assigned by the trained model), in nats."""
    from ..train.assignment import assign_epitomes

    x = S.x_eval("val")[:REC_IMAGES]
    y = assign_epitomes(run.model, x)[0] if run.model.n_epitomes > 1 else None
    g = torch.Generator(S.device).manual_seed(0)
    return run.model.loss_terms(x, y, generator=g).rec.mean().item()


def over_pruning(S, D: int = 50, H: int = 500, L: int = 1) -> Evidence:
    """Chapter 2: the 50-d VAE's active units, and the KL of its inactive and active units."""
    runs = S.train_seeds(ModelConfig("vae", D=D, L=L, H=H))
    reps = [S.units(r) for r in runs]
    ev, b = Evidence(len(runs)), budgets.budget(S.scale.name, "figures")
    act = Spread.of(r.n_active for r in reps)
    kl_in = Spread.of(r.kl[~r.active].max().item() if (~r.active).any() else 0.0 for r in reps)
    kl_act = Spread.of(r.kl[r.active].min().item() for r in reps)
    ev.values.update(active=act, kl_inactive_max=kl_in, kl_active_min=kl_act)
    tol = count_tolerance(PAPER_FIG2_ACTIVE)
    near = Comparable(act, PAPER_FIG2_ACTIVE, tol, None, "active units", "the paper's", "units")
    ev.add(
        near.judge(b),
        "Fig. 2 caption",
        f"A VAE with D = {D} and one hidden layer of {H} units has only about "
        f"{PAPER_FIG2_ACTIVE} active units (within {tol:g})",
        Q.PRUNING,
    )
    pruned = [r for r in reps if (~r.active).any()]
    if pruned:
        gaps = Spread.of(r.kl[r.active].min().item() - r.kl[~r.active].max().item() for r in pruned)
        name = "smallest KL of an active unit minus largest of an inactive one"
        rule = Difference(gaps, 0.0, ">", None, name, "0", "nats", ".3f")
    else:
        rule = NotTested("data", f"no seed has an inactive unit ({act:.1f} of {D} active)")
    ev.add(
        rule.judge(b),
        "section 3, Fig. 1",
        "Inactive units have collapsed to the prior and active units are far from it: in each "
        "seed every active unit pays more KL than every inactive one",
        Q.PRUNING,
    )
    return ev.of_chapter("2")


def kl_weighting(S, lambdas=(1.0, 0.5, 0.2), D: int = 50, H: int = 500) -> Evidence:
    """Chapter 3: active units, reconstruction error and the two measures of samples (Parzen,
    the classifier's features) as lambda falls, each judged by its slope over every lambda."""
    act, rec, pz, fd = [], [], [], []
    n = 0
    for lam in lambdas:
        runs = S.train_seeds(ModelConfig("vae", D=D, H=H, kl_weight=lam))
        n = len(runs)
        act.append(Spread.of(S.units(r).n_active for r in runs))
        rec.append(Spread.of(rec_error(S, r) for r in runs))
        pz.append(Spread.of(S.parzen(r).mean for r in runs))
        fd.append(Spread.of(S.features(r).fd for r in runs))
    ev, b = Evidence(n), budgets.budget(S.scale.name, "figures")
    for lam, a, r, p, f in zip(lambdas, act, rec, pz, fd):
        ev.values.update(
            {f"active_{lam:g}": a, f"rec_{lam:g}": r, f"parzen_{lam:g}": p, f"fd_{lam:g}": f}
        )
    xs = tuple(float(lam) for lam in lambdas)
    one = no_trend(xs, "λ")
    ev.add(
        (one or Trend(xs, tuple(act), "<", None, "λ", "active units", "units", ".1f")).judge(b),
        "section 3.1, Fig. 2",
        "As λ is decreased, more units are active",
        Q.OTHERS,
    )
    ev.add(
        (one or Trend(xs, tuple(rec), ">", None, "λ", "reconstruction error", "nats", ".1f")).judge(
            b
        ),
        "appendix 9.1, Fig. 9",
        "Reconstructions improve as λ is decreased",
        Q.OTHERS,
    )
    top, span = xs.index(max(xs)), max(xs) - min(xs) or 1.0
    lo_text = f"{min(xs):g}"
    gain = SCORE_SHARE * abs(pz[top].mean)
    gen = FlatTrend(xs, tuple(pz), gain / span, "no fall", "λ", PARZEN, "nats", ".1f")
    claim = (
        f"Generation does not improve as λ is decreased: the {PARZEN} gains at most "
        f"{SCORE_SHARE:.0%} of the λ = {max(xs):g} model's ({gain:.1f} nats) down to λ = {lo_text}"
    )
    g = ev.add((one or gen).judge(b), "section 3.1, Fig. 2", claim, Q.OTHERS)
    gain_fd = FD_SHARE * abs(fd[top].mean)
    sib = FlatTrend(xs, tuple(fd), gain_fd / span, "no rise", "λ", "Fréchet distance", "", ".2f")
    ev.add_sibling(
        g,
        (one or sib).judge(b),
        "section 3.1, second measure",
        f"Generation does not improve as λ is decreased: the {FD} falls by at most "
        f"{FD_SHARE:.0%} of the λ = {max(xs):g} model's ({gain_fd:.2f}) down to λ = {lo_text}",
    )
    return ev.of_chapter("3")


def dropout(S, p: float = 0.5, D: int = 50, H: int = 500) -> Evidence:
    """Chapter 4: the dropout VAE's active units and reconstruction error against the VAE's."""
    vae = S.train_seeds(ModelConfig("vae", D=D, H=H))
    drop = S.train_seeds(ModelConfig("dropout_vae", D=D, H=H, dropout=p))
    ev, b = Evidence(min(len(vae), len(drop))), budgets.budget(S.scale.name, "figures")
    a_v = Spread.of(S.units(r).n_active for r in vae)
    a_d = Spread.of(S.units(r).n_active for r in drop)
    r_v = Spread.of(rec_error(S, r) for r in vae)
    r_d = Spread.of(rec_error(S, r) for r in drop)
    p_v = Spread.of(S.parzen(r).mean for r in vae)
    p_d = Spread.of(S.parzen(r).mean for r in drop)
    f_v = Spread.of(S.features(r).fd for r in vae)
    f_d = Spread.of(S.features(r).fd for r in drop)
    ev.values.update(active_vae=a_v, active_dropout=a_d, rec_vae=r_v, rec_dropout=r_d)
    ev.values.update(parzen_vae=p_v, parzen_dropout=p_d, fd_vae=f_v, fd_dropout=f_d)
    ev.add(
        Difference(a_d, a_v, ">", None, "dropout VAE", "VAE", "units").judge(b),
        "section 3.2, Fig. 3",
        f"Dropout on z (rate {p:g}) increases the number of active units",
        Q.OTHERS,
    )
    ev.add(
        Difference(r_d, r_v, ">", None, "dropout VAE", "VAE", "nats").judge(b),
        "section 3.2, Fig. 4",
        "The dropout VAE's reconstructions are blurry: its extra units carry redundancy, not "
        "information (a higher reconstruction error than the VAE's)",
        Q.OTHERS,
    )
    poor = "The dropout VAE generalizes poorly: on the test images"
    g = ev.add(
        Difference(p_v, p_d, ">", None, "VAE", "dropout VAE", "nats").judge(b),
        "section 3.2",
        f"{poor}, its {PARZEN} is below the VAE's",
        Q.OTHERS,
    )
    ev.add_sibling(
        g,
        Difference(f_d, f_v, ">", None, "dropout VAE", "VAE", "", ".2f").judge(b),
        "section 3.2, second measure",
        f"{poor}, its {FD} is above the VAE's",
    )
    return ev.of_chapter("4")


def evae_activity(S, D: int = 50, K: int = 5, stride: int = 5, H: int = 500) -> Evidence:
    """Chapter 6: the eVAE's active units (the paper's measure and within its epitomes)
    against all D, and against the dropout VAE's."""
    evae = S.train_seeds(ModelConfig("evae", D=D, K=K, stride=stride, H=H))
    drop = S.train_seeds(ModelConfig("dropout_vae", D=D, H=H, dropout=0.5))
    reps = [S.units(r) for r in evae]
    ev, b = Evidence(min(len(evae), len(drop))), budgets.budget(S.scale.name, "figures")
    a_e = Spread.of(r.n_active for r in reps)
    a_w = Spread.of(int((r.parts.within_activity > r.threshold).sum()) for r in reps)
    a_d = Spread.of(S.units(r).n_active for r in drop)
    ev.values.update(active_evae=a_e, active_within=a_w, active_dropout=a_d)
    every = f"all {D}"
    cells = (
        ("by A_u", NotWorse(a_e, float(D), ">", ALL_MARGIN, "eVAE's active units", every, "units")),
        (
            "within their epitomes",
            NotWorse(a_w, float(D), ">", ALL_MARGIN, "eVAE's units active within", every, "units"),
        ),
    )
    ev.add(
        Cells(cells, "measures").judge(b),
        "section 3.2, Fig. 3",
        f"The eVAE uses its full latent capacity, all {D} units active (by A_u and within their "
        f"epitomes, the mean within {ALL_MARGIN:g} of a unit)",
        Q.UNITS,
    )
    tol = COUNT_SHARE * D
    same = Comparable(a_d, a_e, tol, None, "dropout VAE's active units", "eVAE's", "units")
    ev.add(
        same.judge(b),
        "section 4.1",
        f"The dropout VAE has an activity profile similar to the eVAE's (active units within "
        f"{tol:g}, a tenth of D)",
        Q.OTHERS,
    )
    return ev.of_chapter("6")


def generation_vs_D(S, Ds=(2, 5, 10, 20), K: int = 2, stride: int = 1, H: int = 500) -> Evidence:
    """Chapter 8 (Figs. 6 and 10): the two measures of samples (Parzen, the classifier's
    features) and the reconstruction errors of the VAE and the eVAE with K-unit epitomes as D
    grows, each judged by its slope over every D."""
    pz, fd, recall, rec, act = {}, {}, {}, {}, {}
    n = 0
    for D in Ds:
        cfgs = {
            "VAE": ModelConfig("vae", D=D, H=H),
            "eVAE": ModelConfig("evae", D=D, K=min(K, D), stride=stride, H=H),
        }
        for name, cfg in cfgs.items():
            runs = S.train_seeds(cfg)
            n = len(runs)
            pz[name, D] = Spread.of(S.parzen(r).mean for r in runs)
            fd[name, D] = Spread.of(S.features(r).fd for r in runs)
            recall[name, D] = Spread.of(S.features(r).recall for r in runs)
            rec[name, D] = Spread.of(rec_error(S, r) for r in runs)
            act[name, D] = Spread.of(S.units(r).n_active for r in runs)
    ev, b = Evidence(n), budgets.budget(S.scale.name, "figures")
    for (name, D), v in pz.items():
        ev.values.update(
            {
                f"parzen_{name}_{D}": v,
                f"fd_{name}_{D}": fd[name, D],
                f"rec_{name}_{D}": rec[name, D],
                f"active_{name}_{D}": act[name, D],
                f"recall_{name}_{D}": recall[name, D],
            }
        )
    later = tuple(D for D in Ds if D >= 5) or tuple(Ds)  # the paper: degradation from D = 5
    d_txt = ", ".join(map(str, later))
    xs = tuple(float(D) for D in later)

    one = no_trend(xs, "D")

    def trend(name, values, direction, what, unit, spec):
        if one:
            return one
        ys = tuple(values[name, D] for D in later)
        return Trend(xs, ys, direction, None, "D", f"{name}'s {what}", unit, spec)

    where = "section 5.1, Fig. 6"
    g = ev.add(
        trend("VAE", pz, "<", PARZEN, "nats", ".2f").judge(b),
        where,
        f"VAE samples degrade as D grows past 5 (D = {d_txt}): the {PARZEN} falls",
        Q.PRUNING,
    )
    ev.add_sibling(
        g,
        trend("VAE", fd, ">", "Fréchet distance", "", ".3f").judge(b),
        "section 5.1, second measure",
        f"VAE samples degrade as D grows past 5 (D = {d_txt}): the {FD} rises",
    )
    if one:
        keep = keep_fd = one
        gain = gain_fd = 0.0
    else:
        span = max(xs) - min(xs)
        gain = SCORE_SHARE * abs(pz["eVAE", later[0]].mean)
        gain_fd = FD_SHARE * abs(fd["eVAE", later[0]].mean)
        ys, ys_fd = (tuple(v["eVAE", D] for D in later) for v in (pz, fd))
        keep = FlatTrend(xs, ys, gain / span, "no fall", "D", f"eVAE's {PARZEN}", "nats", ".3f")
        keep_fd = FlatTrend(xs, ys_fd, gain_fd / span, "no rise", "D", "eVAE's Fréchet distance")
    g = ev.add(
        keep.judge(b),
        where,
        f"eVAE samples (K = {K}) keep their quality as D grows (D = {d_txt}): the {PARZEN} "
        f"loses at most {SCORE_SHARE:.0%} of its value at D = {later[0]} ({gain:.1f} nats)",
        Q.GENERATION,
    )
    ev.add_sibling(
        g,
        keep_fd.judge(b),
        "section 5.1, second measure",
        f"eVAE samples (K = {K}) keep their quality as D grows (D = {d_txt}): the {FD} rises by "
        f"at most {FD_SHARE:.0%} of its value at D = {later[0]} ({gain_fd:.2f})",
    )
    top = Ds[-1]
    better = Difference(pz["eVAE", top], pz["VAE", top], ">", None, "eVAE", "VAE", "nats")
    g = ev.add(
        better.judge(b),
        "Fig. 6 caption",
        f"At D = {top} the eVAE generates better than the VAE: a higher {PARZEN}",
        Q.GENERATION,
    )
    better_fd = Difference(fd["VAE", top], fd["eVAE", top], ">", None, "VAE", "eVAE", "", ".2f")
    ev.add_sibling(
        g,
        better_fd.judge(b),
        "Fig. 6 caption, second measure",
        f"At D = {top} the eVAE generates better than the VAE: a smaller {FD}",
    )
    all_D = tuple(float(D) for D in Ds)
    for name in ("VAE", "eVAE"):
        r = tuple(rec[name, D] for D in Ds)
        what = f"{name}'s reconstruction error"
        rule = no_trend(all_D, "D") or Trend(all_D, r, "<", None, "D", what, "nats", ".2f")
        ev.add(
            rule.judge(b),
            "section 5.1, Fig. 10",
            f"{name} reconstructions improve as D grows (D = {', '.join(map(str, Ds))})",
            Q.FIT if name == "eVAE" else Q.PRUNING,
        )
    r_v, r_e = rec["VAE", top], rec["eVAE", top]
    margin = REC_SHARE * abs(r_v.mean)
    ev.add(
        NotWorse(r_e, r_v, "<", margin, "eVAE", "VAE", "nats").judge(b),
        "appendix 9.2, Fig. 10",
        f"The eVAE achieves both good reconstruction and generation: at D = {top} its "
        f"reconstruction error is within {REC_SHARE:.0%} of the VAE's ({margin:.1f} nats)",
        Q.FIT,
    )
    diverse = Difference(
        recall["eVAE", top], recall["VAE", top], ">", None, "eVAE", "VAE", "", ".3f"
    )
    ev.add(
        diverse.judge(b),
        "Fig. 5 caption",
        f"Epitomes make the samples more diverse at a large D: at D = {top} the eVAE's samples "
        "cover more of the test images (a higher recall in the classifier's features)",
        Q.GENERATION,
    )
    return ev.of_chapter("8")


SHUFFLES = 5  # label permutations behind the share a random split of the examples holds


def class_purity(y: torch.Tensor, labels: torch.Tensor) -> float:
    """The median, over the epitomes that claim any example, of the share of its examples that
    are its most common class; y (N,) the epitome of each example, labels (N,) its digit."""
    tops = []
    for k in torch.unique(y):
        c = torch.bincount(labels[y == k], minlength=10)
        tops.append((c.max() / c.sum()).item())
    return float(torch.tensor(tops).median())


def shuffled_purity(y: torch.Tensor, labels: torch.Tensor, seed: int = 0) -> float:
    """class_purity of the same epitome sizes with the labels shuffled (the mean over SHUFFLES
    permutations): what a split with no regard to the digit gives, small epitomes included,
    whose most common class holds more than the data's largest share by chance alone."""
    g = torch.Generator().manual_seed(seed)
    return (
        sum(
            class_purity(y, labels[torch.randperm(len(labels), generator=g)])
            for _ in range(SHUFFLES)
        )
        / SHUFFLES
    )


def epitome_classes(S, D: int = 20, K: int = 2, stride: int = 1, H: int = 500) -> Evidence:
    """Chapter 7 (Fig. 5): how far the examples an epitome claims are one digit class: per
    seed `class_purity` of y*, against the same with the labels shuffled."""
    runs = S.train_seeds(ModelConfig("evae", D=D, K=K, stride=stride, H=H))
    labels = S.data().train_labels
    pure, shuffled = [], []
    for run in runs:
        y = run.y.cpu()
        pure.append(class_purity(y, labels[: len(y)]))
        shuffled.append(shuffled_purity(y, labels[: len(y)], seed=len(pure)))
    ev, b = Evidence(len(runs)), budgets.budget(S.scale.name, "figures")
    purity, chance = Spread.of(pure), Spread.of(shuffled)
    ev.values.update(purity=purity, shuffled=chance)
    name = "median share of an epitome's most common class"
    ev.add(
        Difference(purity, chance, ">", None, name, "with shuffled labels", "", ".3f").judge(b),
        "Fig. 5 caption",
        "Each epitome specializes on a coherent subset of examples: the most common digit "
        "class of the examples it claims holds a larger share than it does when the digit "
        "labels are shuffled",
        Q.EPITOMES,
    )
    return ev.of_chapter("7")


def all_claims(S) -> Evidence:
    """Every judgement of chapters 2-8 and their notes, in the book's order (for the closing
    chapter)."""
    out = Evidence(0)
    chapters = (over_pruning, kl_weighting, dropout, evae_activity, epitome_classes)
    for chapter in (*chapters, generation_vs_D):
        out.extend(chapter(S))
    return out
