"""Interactive figures: plotly with sliders for the static book, ipywidgets for live kernels."""

from __future__ import annotations

import base64
import io

import numpy as np
import torch

from .plotting import image_grid


def png_uri(grid: np.ndarray, ink: bool = True) -> str:
    """A grey image in [0, 1] as a PNG data URI: small enough to embed many frames in a
    static page (a few kB each, instead of a JSON array of every pixel). ink: draw 1 as black
    on white (digits, as the paper shows them); False: 1 is white (faces)."""
    from PIL import Image

    v = np.clip(grid, 0, 1)
    a = np.round((1 - v if ink else v) * 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(a, mode="L").save(buf, format="PNG", optimize=True)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def image_slider(
    frames: list[tuple[str, torch.Tensor]],
    image_shape: tuple[int, int],
    *,
    ncol: int = 10,
    title: str = "",
    slider_label: str = "",
    scale: int = 2,
    ink: bool = True,
):
    """A plotly figure showing one image grid per slider step (works with no kernel).

    frames: (label, images (n, H*W) in [0, 1]) for each step of the slider.
    """
    import plotly.graph_objects as go

    grids = [image_grid(imgs, image_shape, ncol) for _, imgs in frames]
    h, w = grids[0].shape
    fig = go.Figure(
        data=[go.Image(source=png_uri(grids[0], ink))],
        frames=[
            go.Frame(data=[go.Image(source=png_uri(g, ink))], name=str(i))
            for i, g in enumerate(grids)
        ],
    )
    steps = [
        dict(
            method="animate",
            label=label,
            args=[[str(i)], dict(mode="immediate", frame=dict(duration=0, redraw=True))],
        )
        for i, (label, _) in enumerate(frames)
    ]
    fig.update_layout(
        title=dict(text=title, font=dict(size=13)),
        sliders=[dict(active=0, steps=steps, currentvalue=dict(prefix=slider_label))],
        xaxis=dict(visible=False),
        yaxis=dict(visible=False),
        width=max(420, 40 + scale * w),
        height=170 + scale * h,
        margin=dict(l=20, r=20, t=50, b=20),
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
