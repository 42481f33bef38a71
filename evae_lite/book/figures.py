"""Pictures: image grids of samples and reconstructions, and the unit-activity plot (Fig. 1)."""

from __future__ import annotations

import numpy as np
import torch


def image_grid(images: torch.Tensor, image_shape: tuple[int, int], ncol: int = 10, pad: int = 1):
    """Tile (n, H*W) images in [0, 1] into one (rows*(H+pad)-pad, ncol*(W+pad)-pad) array;
    the padding is background (0), shown white since the book draws ink black on white."""
    x = images.detach().float().cpu().clamp(0, 1).numpy().reshape(-1, *image_shape)
    n, h, w = x.shape
    ncol = min(ncol, n)
    nrow = -(-n // ncol)
    grid = np.zeros((nrow * (h + pad) - pad, ncol * (w + pad) - pad), dtype=np.float32)
    for i in range(n):
        r, c = divmod(i, ncol)
        grid[r * (h + pad) : r * (h + pad) + h, c * (w + pad) : c * (w + pad) + w] = x[i]
    return grid


def save_grid(
    path, images, image_shape, ncol: int = 10, title: str | None = None, metadata=None
) -> None:
    """Write an image grid as a PNG (black ink on white is how the paper shows digits);
    metadata: text fields stored in the PNG."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    grid = image_grid(images, image_shape, ncol)
    fig, ax = plt.subplots(figsize=(grid.shape[1] / 40 + 0.5, grid.shape[0] / 40 + 0.8))
    ax.imshow(grid, cmap="gray_r", vmin=0, vmax=1)
    ax.axis("off")
    if title:
        ax.set_title(title, fontsize=9)
    fig.savefig(path, dpi=100, bbox_inches="tight", metadata=metadata)
    plt.close(fig)


def plot_units(report, ax=None, title: str | None = None):
    """Fig. 1: activity (bars) and KL to the prior (line) per unit, sorted by activity."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(7, 3))
    order = report.order
    units = np.arange(len(order))
    ax.bar(units, report.activity[order].numpy(), color="tab:blue", label="activity $A_u$")
    ax.axhline(report.threshold, color="tab:blue", ls=":", lw=1)
    ax.set_xlabel("latent unit (sorted by activity)")
    ax.set_ylabel("activity", color="tab:blue")
    ax2 = ax.twinx()
    ax2.plot(units, report.kl[order].numpy(), color="tab:red", marker=".", label="KL")
    ax2.set_ylabel("KL to prior (nats)", color="tab:red")
    if title:
        ax.set_title(title)
    return ax


def grid_figure(
    panels,
    image_shape,
    ncol: int = 10,
    width: float = 4.0,
    ink: bool = True,
    title=None,
    rows: int = 1,
):
    """Image grids side by side, in `rows` rows: panels = [(title, images (n, H*W))] or, for
    originals above reconstructions, [(title, images, n_top)], which draws a line under the
    first n_top images; returns the figure.
    ink: 1 drawn black on white (digits); False: 1 is white (faces). title: above them all."""
    import matplotlib.pyplot as plt

    if not 1 <= rows <= len(panels):
        raise ValueError(f"rows={rows}: need 1 <= rows <= the {len(panels)} panels")
    grids = [image_grid(p[1], image_shape, ncol) for p in panels]
    ratio = max(g.shape[0] / g.shape[1] for g in grids)  # as tall as the tallest grid, no more
    cols = -(-len(panels) // rows)
    size = (width * cols, (width * ratio + 0.6) * rows)
    fig, axes = plt.subplots(rows, cols, figsize=size, squeeze=False)
    axes = axes.ravel()
    for ax in axes[len(panels) :]:
        ax.axis("off")
    for ax, grid, (panel_title, images, *top) in zip(axes, grids, panels):
        ax.imshow(grid, cmap="gray_r" if ink else "gray", vmin=0, vmax=1)
        if top:
            rows = -(-top[0] // min(ncol, len(images)))  # rows holding the first n_top images
            y = rows * (image_shape[0] + 1) - 1  # the padding row below them
            ax.axhline(y, color="tab:red", lw=1.5)
        ax.set_title(panel_title, fontsize=10)
        ax.axis("off")
    # Leave a strip at the top for a title over all panels (fig.suptitle(..., y=1.0,
    # va="bottom") or `title`), clear of the panels' own titles.
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.07 / rows))  # the strip one row's height needs
    if title:
        fig.suptitle(title, y=1.0, va="bottom")
    return fig


def plot_activity_curves(reports: dict, ax=None, title: str | None = None):
    """Figs. 2 and 3: each model's unit activities sorted in decreasing order; for an eVAE or
    mVAE (a report with between-epitome activity) also, dashed, its within-epitome activity."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.2))
    for label, rep in reports.items():
        (line,) = ax.plot(np.sort(rep.activity.numpy())[::-1], marker=".", label=label)
        parts = rep.parts
        if parts is not None and float(parts.between.abs().max()) > 0:  # epitomes or components
            ax.plot(
                np.sort(parts.within_activity.numpy())[::-1],
                ls="--",
                color=line.get_color(),
                label=f"{label.split(' (')[0]}: within its epitomes",
            )
    threshold = next(iter(reports.values())).threshold
    ax.axhline(threshold, color="gray", ls=":", lw=1, label=f"threshold {threshold}")
    # Linear below 1e-3 so that collapsed units (activity ~0) show; activities are >= 0, so
    # the axis starts at 0 instead of spending room on negative values.
    ax.set_yscale("symlog", linthresh=1e-3)
    ax.set_ylim(bottom=0)
    ax.set_xlabel("unit (sorted by activity)")
    ax.set_ylabel("activity $A_u$")
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title)
    return ax
