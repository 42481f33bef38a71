"""Interactive figures: plotly with sliders for the static book, ipywidgets for live kernels."""

from __future__ import annotations

import numpy as np
import torch

from .plotting import image_grid


def _as_uint8(grid: np.ndarray) -> np.ndarray:
    """Ink-on-white 0..255 integers: small to embed in the page, and how the paper shows digits."""
    return np.round((1 - np.clip(grid, 0, 1)) * 255).astype(np.uint8)


def image_slider(
    frames: list[tuple[str, torch.Tensor]],
    image_shape: tuple[int, int],
    *,
    ncol: int = 10,
    title: str = "",
    slider_label: str = "",
):
    """A plotly figure showing one image grid per slider step (works with no kernel).

    frames: (label, images (n, H*W) in [0, 1]) for each step of the slider.
    """
    import plotly.graph_objects as go

    grids = [_as_uint8(image_grid(imgs, image_shape, ncol)) for _, imgs in frames]

    def heat(g):
        return go.Heatmap(z=g, colorscale="gray", zmin=0, zmax=255, showscale=False)

    fig = go.Figure(
        data=[heat(grids[0])],
        frames=[go.Frame(data=[heat(g)], name=str(i)) for i, g in enumerate(grids)],
    )
    steps = [
        dict(
            method="animate",
            label=label,
            args=[[str(i)], dict(mode="immediate", frame=dict(duration=0, redraw=True))],
        )
        for i, (label, _) in enumerate(frames)
    ]
    h, w = grids[0].shape
    fig.update_layout(
        title=title,
        sliders=[dict(active=0, steps=steps, currentvalue=dict(prefix=slider_label))],
        xaxis=dict(visible=False, scaleanchor="y", constrain="domain"),
        yaxis=dict(visible=False, autorange="reversed"),
        width=min(900, 60 + 2 * w),
        height=min(900, 160 + 2 * h),
        margin=dict(l=10, r=10, t=40, b=10),
    )
    return fig


@torch.no_grad()
def latent_traversal_frames(model, units, values, *, base=None, y=None):
    """Decoded images as each unit in `units` moves over `values` with the others at `base`.

    Returns [(f"z_u = v", images (len(units), P))] for each v: one row per unit.
    """
    from .nets import mean_image

    model.eval()
    D = model.D
    device = model.masks.device
    z0 = torch.zeros(D, device=device) if base is None else base.to(device)
    frames = []
    for v in values:
        z = z0.repeat(len(units), 1)
        z[torch.arange(len(units)), torch.as_tensor(units)] = float(v)
        yy = None if y is None else torch.full((len(units),), int(y), device=device)
        frames.append((f"{v:+.1f}", mean_image(model.cfg.likelihood, model.decode(z, yy))))
    return frames
