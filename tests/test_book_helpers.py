import pytest
import torch

from evae_lite import ModelConfig, build_model
from evae_lite.book.figures import grid_figure, image_grid
from evae_lite.book.interactive import image_slider, latent_traversal_frames
from evae_lite.evaluate.activity import reconstruct, unit_correlation
from evae_lite.runs import SCALES, get_scale


def test_scale_from_argument_env_and_default(monkeypatch):
    monkeypatch.delenv("EVAE_LITE_SCALE", raising=False)
    assert get_scale().name == "book"
    monkeypatch.setenv("EVAE_LITE_SCALE", "smoke")
    assert get_scale().name == "smoke"
    assert get_scale("paper").name == "paper"  # the parameters cell wins over the env
    with pytest.raises(ValueError, match="scale='huge'.*smoke, book, paper"):
        get_scale("huge")


def test_paper_scale_is_the_papers_setting_everywhere():
    """Section 5: 200 epochs on MNIST, 250 on TFD, Parzen with 10,000 samples, all images;
    Table 2: all 8 stages and L_5000 on the whole test set."""
    for (name, kind, dataset), s in SCALES.items():
        if name != "paper":
            continue
        assert (s.train_size, s.eval_size, s.parzen_samples) == (None, None, 10_000)
        if kind == "likelihood":
            assert (s.stages, s.iwae_k, s.iwae_size) == (8, 5000, None)
            assert s.train_config().total_epochs == s.epochs == 3280
        else:
            assert s.epochs == {"mnist": 200, "faces": 250}[dataset]
            assert s.train_config().total_epochs == s.epochs


def test_every_scale_is_defined_for_every_experiment():
    from evae_lite.runs.scales import DATASETS, KINDS, SCALE_NAMES

    faces_kinds = ("best", "grids")  # the faces are used by Fig. 8 and Tables 1 and 3 only
    for name in SCALE_NAMES:
        for kind in KINDS:
            for d in DATASETS if kind in faces_kinds else ("mnist",):
                s = get_scale(name, kind, d)
                assert s.describe().startswith(f"scale={name}: ")
                assert f"{s.seeds} seed" in s.describe()
    assert len(SCALES) == len(SCALE_NAMES) * (len(KINDS) + len(faces_kinds))
    with pytest.raises(ValueError, match="kind='likelihood' is not defined for dataset='faces'"):
        get_scale("book", "likelihood", "faces")
    with pytest.raises(ValueError, match="kind='huge'"):
        get_scale("book", "huge")


def test_unit_correlation_finds_copies():
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(1000, 1, generator=g), torch.randn(1000, 1, generator=g)
    mu = torch.cat([a, -2 * a, b, torch.zeros(1000, 1)], 1)  # unit 1 copies unit 0
    c = unit_correlation(mu)
    assert c[0, 1] == pytest.approx(1.0, abs=1e-5) and c[0, 2] < 0.1
    assert torch.all(c[3] == 0)  # a dead unit correlates with nothing


def test_reconstruct_uses_the_assigned_epitome():
    torch.manual_seed(0)
    m = build_model(ModelConfig("evae", D=4, K=2, H=8, x_dim=6)).eval()
    x = torch.rand(5, 6)
    y = torch.tensor([0, 1, 0, 1, 1])
    r = reconstruct(m, x, y)
    mu, _ = m.posterior(x, y)
    torch.testing.assert_close(r, torch.sigmoid(m.decode(mu, y)))
    assert r.shape == (5, 6)


def test_image_grid_layout():
    imgs = torch.arange(6 * 4, dtype=torch.float32).reshape(6, 4) / 24
    g = image_grid(imgs, (2, 2), ncol=4, pad=1)
    assert g.shape == (2 * 3 - 1, 4 * 3 - 1)
    assert g[0, 0] == imgs[0, 0] and g[3, 0] == imgs[4, 0]  # 5th image starts row 2


def test_slider_figure_has_one_frame_per_step():
    torch.manual_seed(0)
    m = build_model(ModelConfig("vae", D=3, H=8, x_dim=16))
    frames = latent_traversal_frames(m, [0, 2], [-1.0, 0.0, 1.0])
    assert [f[0] for f in frames] == ["-1.0", "+0.0", "+1.0"]
    fig = image_slider(frames, (4, 4), ncol=2)
    assert len(fig.frames) == 3 and len(fig.layout.sliders[0].steps) == 3
    s0, s2 = fig.frames[0].data[0].source, fig.frames[2].data[0].source
    assert s0.startswith("data:image/png;base64,") and s0 != s2  # an active unit changes it


def test_setup_says_the_scale_and_optionally_what_it_means(monkeypatch, capsys):
    from evae_lite.book import setup

    setup("smoke")
    assert get_scale("smoke").describe() in capsys.readouterr().out
    setup("smoke", describe=False)  # grid chapters print the grid's own description
    out = capsys.readouterr().out
    assert out.startswith("scale=smoke\n") and "training images" not in out


@pytest.fixture
def no_pack_env(monkeypatch):
    for name in ("EVAE_LITE_PACK_URL", "EVAE_LITE_PACK_SHA256", "EVAE_LITE_PRETRAINED"):
        monkeypatch.delenv(name, raising=False)
    import evae_lite.pack.source as source

    monkeypatch.setattr(source, "PACK_URL", None)
    monkeypatch.setattr(source, "PACK_MANIFEST_SHA256", None)
    return monkeypatch


def test_on_a_cpu_setup_says_what_keeps_the_chapter_short(no_pack_env, capsys):
    from evae_lite.book import setup
    from evae_lite.book.session import cpu_note

    assert cpu_note("cuda", "book") is None  # the GPU is named, and used
    assert "scale=smoke keeps" in cpu_note("cpu", "smoke")
    line = cpu_note("cpu", "book")
    assert "no results pack (none is configured)" in line and 'scale="smoke"' in line
    url = "http://127.0.0.1:9/manifest.json"
    no_pack_env.setenv("EVAE_LITE_PACK_URL", url)
    assert "(EVAE_LITE_PACK_URL is set without EVAE_LITE_PACK_SHA256" in cpu_note("cpu", "book")
    no_pack_env.setenv("EVAE_LITE_PACK_SHA256", "a" * 64)
    line = cpu_note("cpu", "book")
    assert line.startswith(f"CPU: models that the results pack ({url}) holds are downloaded"), line
    no_pack_env.setenv("EVAE_LITE_PRETRAINED", "0")
    assert "no results pack (EVAE_LITE_PRETRAINED=0)" in cpu_note("cpu", "book")
    if not torch.cuda.is_available():
        no_pack_env.delenv("EVAE_LITE_BATCH", raising=False)
        setup("book", describe=False)
        lines = capsys.readouterr().out.splitlines()
        assert lines[1].startswith("device: CPU;") and lines[2] == cpu_note("cpu", "book")
        no_pack_env.setenv("EVAE_LITE_BATCH", "1")  # the book's pages: no such line
        setup("book", describe=False)
        assert len(capsys.readouterr().out.splitlines()) == 2


def test_printed_sources_name_files_not_the_machine_folders():
    from evae_lite.book.session import without_paths

    assert without_paths("EVAE_LITE_DATA=/work/x/data/mnist.npz (sha256 ok)") == (
        "EVAE_LITE_DATA=mnist.npz (sha256 ok)"
    )
    assert without_paths("cached in /root/.cache/evae_lite, and C:\\d\\tfd.mat") == (
        "cached in evae_lite, and tfd.mat"
    )
    url = "downloaded from https://example.org/a/b.npz (md5 ok)"
    assert without_paths(url) == url  # a public address stays whole
    assert without_paths("1/2 of a/b") == "1/2 of a/b"


def test_the_evae_diagram_lights_the_chosen_epitomes_units():
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.colors import to_rgba
    from matplotlib.patches import Rectangle

    from evae_lite.book.diagram import evae_diagram

    fig = evae_diagram(D=12, K=4, stride=4, y=2)
    black = [
        p
        for p in fig.axes[0].patches
        if isinstance(p, Rectangle) and p.get_facecolor()[:3] == to_rgba("black")[:3]
    ]
    assert sorted(round(p.get_x(), 3) for p in black) == sorted(
        round(3.8 + d * 0.5, 3) for d in range(8, 12)
    )  # the mask row lights units 9-12 (epitome 3 of 3) and no other
    with pytest.raises(ValueError, match="y=3 is not allowed: this eVAE has epitomes 0..2"):
        evae_diagram(D=12, K=4, stride=4, y=3)


def test_grid_figure_lays_panels_out_in_rows_and_draws_each_once():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [(f"p{i}", torch.full((20, 4), i / 4.0)) for i in range(3)]
    fig = grid_figure(panels, (2, 2), ncol=5, rows=2)
    axes = fig.axes
    assert len(axes) == 4  # 2 rows of 2; the fourth is left blank
    assert [a.get_title() for a in axes] == ["p0", "p1", "p2", ""]
    assert [len(a.images) for a in axes] == [1, 1, 1, 0]
    assert axes[0].get_position().y0 > axes[2].get_position().y0  # p2 under p0
    plt.close(fig)
    one_row = grid_figure(panels, (2, 2), ncol=5)
    assert [round(a.get_position().y0, 3) for a in one_row.axes].count(
        round(one_row.axes[0].get_position().y0, 3)
    ) == 3
    plt.close(one_row)
    with pytest.raises(ValueError, match="rows=4: need 1 <= rows <= the 3 panels"):
        grid_figure(panels, (2, 2), rows=4)
