"""Interactive figures: plotly with sliders for the static book, ipywidgets for live kernels."""

from __future__ import annotations

import base64
import io

import numpy as np
import torch

from .figures import image_grid


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
    from ..model.nets import mean_image

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


def manifold_grid_z(n: int = 8, lim: float = 0.95) -> torch.Tensor:
    """n coordinates spread by the prior: Gaussian quantiles of evenly spaced probabilities."""
    p = torch.linspace(1 - lim, lim, n, dtype=torch.float64)
    return (torch.erfinv(2 * p - 1) * 2**0.5).float()


@torch.no_grad()
def epitome_manifold(model, y: int, n: int = 8, dims: tuple[int, int] | None = None):
    """Decoded images over an n x n grid of two latent units of epitome y (the first two by
    default), the others at 0: (n*n, P), row-major with the first unit along rows."""
    from ..model.nets import mean_image

    m = model.masks[y].nonzero()[:, 0].tolist()
    a, b = dims or (m[0], m[1])
    g = manifold_grid_z(n).to(model.masks.device)
    z = torch.zeros(n * n, model.D, device=model.masks.device)
    z[:, a] = g.repeat_interleave(n)
    z[:, b] = g.repeat(n)
    yy = torch.full((n * n,), y, device=z.device)
    return mean_image(model.cfg.likelihood, model.decode(z, yy))


def class_histogram_figure(y_star, labels, n_epitomes: int, title: str = ""):
    """Bar chart of the digit classes an epitome claims, one slider step per epitome."""
    import plotly.graph_objects as go

    y_star, labels = torch.as_tensor(y_star).cpu(), torch.as_tensor(labels).cpu()
    n_cls = int(labels.max()) + 1
    counts = [
        torch.bincount(labels[y_star == y], minlength=n_cls).tolist() for y in range(n_epitomes)
    ]
    cls = [str(c) for c in range(n_cls)]

    def bar(c):
        return go.Bar(x=cls, y=c, marker_color="steelblue")

    fig = go.Figure(
        data=[bar(counts[0])],
        frames=[go.Frame(data=[bar(c)], name=str(y)) for y, c in enumerate(counts)],
    )
    steps = [
        dict(
            method="animate",
            label=f"{y + 1}",
            args=[[str(y)], dict(mode="immediate", frame=dict(duration=0, redraw=True))],
        )
        for y in range(n_epitomes)
    ]
    fig.update_layout(
        title=dict(text=title, font=dict(size=13)),
        sliders=[dict(active=0, steps=steps, currentvalue=dict(prefix="epitome y = "))],
        xaxis_title="digit class",
        yaxis_title="training examples",
        yaxis=dict(range=[0, max(max(c) for c in counts) * 1.05]),
        width=600,
        height=380,
        margin=dict(l=50, r=20, t=50, b=40),
    )
    return fig


def manifold_explorer(model, x_train, y_star, labels, image_shape=(28, 28), n_near: int = 8):
    """Live explorer (ipywidgets; needs a running kernel): choose an epitome, drag its two
    coordinates, see the decoded image at once, the training examples nearest to that point
    among those the epitome claims, and the digit classes of its group."""
    import ipywidgets as W
    import matplotlib.pyplot as plt

    from ..evaluate.activity import posterior_stats

    y_star = torch.as_tensor(y_star).to(model.masks.device)
    mu, _ = posterior_stats(model, x_train, y_star)  # (N, D): the claimed examples' codes
    labels = torch.as_tensor(labels).cpu()
    sizes = torch.bincount(y_star, minlength=model.n_epitomes).tolist()
    options = [(f"y={y + 1} ({sizes[y]} examples)", y) for y in range(model.n_epitomes)]
    pick = W.Dropdown(
        options=options, value=int(torch.tensor(sizes).argmax()), description="epitome"
    )
    z1 = W.FloatSlider(value=0, min=-3, max=3, step=0.05, description="z_a")
    z2 = W.FloatSlider(value=0, min=-3, max=3, step=0.05, description="z_b")
    out = W.Output()

    def draw(*_):
        y = pick.value
        a, b = model.masks[y].nonzero()[:2, 0].tolist()
        z1.description, z2.description = f"z_{a + 1}", f"z_{b + 1}"
        z = torch.zeros(1, model.D, device=model.masks.device)
        z[0, a], z[0, b] = z1.value, z2.value
        with torch.no_grad():
            from ..model.nets import mean_image

            img = mean_image(
                model.cfg.likelihood, model.decode(z, torch.tensor([y], device=z.device))
            )
        mine = (y_star == y).nonzero()[:, 0]
        with out:
            out.clear_output(wait=True)
            fig = plt.figure(figsize=(9, 3.2))
            ax = fig.add_subplot(1, 3, 1)
            ax.imshow(img[0].cpu().reshape(image_shape), cmap="gray_r", vmin=0, vmax=1)
            ax.set_title(f"decoded at ({z1.value:+.2f}, {z2.value:+.2f})")
            ax.axis("off")
            ax = fig.add_subplot(1, 3, 2)
            if len(mine):
                d = (mu[mine][:, [a, b]] - z[0, [a, b]]).pow(2).sum(1)
                near = mine[d.argsort()[:n_near]].cpu()
                ax.imshow(image_grid(x_train[near].cpu(), image_shape, 4), cmap="gray_r")
            ax.set_title(f"nearest of its {len(mine)} examples")
            ax.axis("off")
            ax = fig.add_subplot(1, 3, 3)
            ax.bar(range(10), torch.bincount(labels[mine.cpu()], minlength=10).tolist())
            ax.set_xticks(range(10))
            ax.set_title("digit classes of its group")
            plt.tight_layout()
            plt.show()

    for w in (pick, z1, z2):
        w.observe(draw, names="value")
    draw()
    return W.VBox([W.HBox([pick]), W.HBox([z1, z2]), out])


EXPLORER_ELSEWHERE = (
    "The live explorer runs in the book's pages, served from a web server; here it does not "
    "start. The sliders above show the same manifolds from pre-rendered frames."
)


def browser_explorer(name: str) -> None:
    """The explorer of `evae_lite.site.explorers` named `name`, which decodes in the reader's
    browser: in the built book, its trained decoder runs in onnxruntime-web beside the page;
    where nothing serves it (a live notebook), its line says that it does not start there
    (explorer.js replaces the line when it starts)."""
    from IPython.display import HTML, display

    from ..site.explorers import by_name

    by_name(name)  # a clear error for an unknown name
    display(
        HTML(
            f'<div class="evae-explorer" data-name="{name}" data-base="../_static/">'
            f'<p class="evae-explorer-status">{EXPLORER_ELSEWHERE}</p></div>\n'
            '<script type="module" src="../_static/vendor/explorer/explorer.js"></script>'
        )
    )
