"""The eVAE's architecture drawn from a model's own sizes (the paper's Fig. 5, left): the
encoder's mean and log-variance over D units, the mask of one epitome, the sample z, and the
decoder that sees only the epitome's units."""

from __future__ import annotations


def _units(ax, x0, y0, values, w, label, colour, on=None):
    """A row of D unit cells at (x0, y0); cells where `on` is False are drawn empty."""
    from matplotlib.patches import Rectangle

    for d, v in enumerate(values):
        lit = on is None or on[d]
        ax.add_patch(
            Rectangle(
                (x0 + d * w, y0),
                w,
                w,
                facecolor=colour if lit else "white",
                edgecolor="black",
                lw=0.6,
                alpha=0.25 + 0.75 * v if lit else 1.0,
            )
        )
    ax.text(x0 - 0.15, y0 + w / 2, label, ha="right", va="center", fontsize=9)


def _box(ax, x, y, text, w=2.2, h=0.7, colour="#dde7f3"):
    from matplotlib.patches import FancyBboxPatch

    ax.add_patch(
        FancyBboxPatch(
            (x - w / 2, y - h / 2), w, h, boxstyle="round,pad=0.05", fc=colour, ec="black", lw=0.8
        )
    )
    ax.text(x, y, text, ha="center", va="center", fontsize=9)


def _arrow(ax, a, b, text=""):
    ax.annotate("", xy=b, xytext=a, arrowprops=dict(arrowstyle="->", lw=1.0))
    if text:
        ax.text((a[0] + b[0]) / 2 + 0.1, (a[1] + b[1]) / 2, text, fontsize=8, va="center")


def evae_diagram(D: int, K: int, stride: int, y: int, H: int = 500, P: int = 784):
    """A matplotlib figure of the eVAE with D units and epitomes of K units every `stride`,
    epitome y (0-based) chosen: x -> encoder -> (mu, phi) -> m_y -> z -> m_y z -> decoder."""
    import matplotlib.pyplot as plt
    import numpy as np

    from ..model.epitomes import epitome_masks

    masks = epitome_masks(D, K, stride)
    Y = masks.shape[0]
    if not 0 <= y < Y:
        raise ValueError(f"y={y} is not allowed: this eVAE has epitomes 0..{Y - 1}")
    m = masks[y].bool().tolist()
    rng = np.random.default_rng(0)
    w = min(0.5, 7.0 / D)
    x0 = 3.8
    fig, ax = plt.subplots(figsize=(8.5, 5.2))
    _box(ax, 1.0, 4.6, f"image $\\mathbf{{x}}$\n({P} pixels)", colour="#f3f3f3")
    _box(ax, 1.0, 3.3, f"encoder\n({H} ReLU units)")
    _arrow(ax, (1.0, 4.2), (1.0, 3.7))
    mu, phi = rng.uniform(0.2, 1.0, D), rng.uniform(0.2, 1.0, D)
    _units(ax, x0, 3.75, mu, w, "$\\mu(\\mathbf{x})$", "tab:blue")
    _units(ax, x0, 3.0, phi, w, "$\\phi(\\mathbf{x})$", "tab:blue")
    _arrow(ax, (2.15, 3.3), (x0 - 0.85, 3.45))
    mid = x0 + D * w / 2
    _arrow(
        ax,
        (mid, 3.0),
        (mid, 2.1 + w + 0.02),
        "masked: $\\mathbf{m}_y \\odot \\mu$, $\\mathbf{m}_y \\odot \\phi$",
    )
    _arrow(ax, (mid, 2.1), (mid, 1.2 + w + 0.02), "sample, then mask")
    _units(ax, x0, 2.1, [1.0] * D, w, f"$\\mathbf{{m}}_{{y}}$, $y = {y + 1}$", "black", m)
    _units(
        ax,
        x0,
        1.2,
        rng.uniform(0.2, 1.0, D),
        w,
        "$\\mathbf{m}_y \\odot \\mathbf{z}$",
        "tab:green",
        m,
    )
    right = x0 + D * w
    ax.text(
        right + 0.2,
        2.1 + w / 2,
        f"epitome {y + 1} of {Y}: units {y * stride + 1}-{y * stride + K}",
        fontsize=8,
        va="center",
    )
    ax.text(
        right + 0.2,
        1.2 + w / 2,
        "$\\mathbf{z} = \\mathbf{m}_y \\odot \\mu + \\sigma \\odot \\epsilon$: outside the\n"
        "epitome, prior noise that the mask removes",
        fontsize=8,
        va="center",
    )
    _box(ax, 1.0, 0.35, f"decoder\n({H} ReLU units)")
    _arrow(ax, (x0 - 1.3, 1.2 + w / 2), (1.6, 0.7))
    _box(ax, 4.4, 0.35, "$p(\\mathbf{x} \\mid y, \\mathbf{z})$, Bernoulli", w=2.6, colour="#f3f3f3")
    _arrow(ax, (2.1, 0.35), (3.1, 0.35))
    _box(
        ax,
        8.4,
        4.6,
        "$y^* = \\arg\\min_y \\mathcal{C}(\\mathbf{x}, y)$\n(Algorithm 1)",
        w=2.8,
        colour="#fbe9d0",
    )
    _arrow(ax, (9.2, 4.2), (right + 0.1, 2.1 + w))
    ax.set_xlim(-0.5, 11.0)
    ax.set_ylim(-0.2, 5.2)
    ax.axis("off")
    return fig
