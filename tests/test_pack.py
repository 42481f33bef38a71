"""The pack of pretrained results: written from a filled cache, served by a local HTTP server,
fetched on a cache miss in place of training, and refused, in one line, whenever it is not
exactly what the pinned manifest says or would run code when loaded."""

import hashlib
import io
import json
import os
import pickle
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import evae_lite.train as train_mod
from evae_lite import ModelConfig, TrainConfig
from evae_lite.pack import fetch
from evae_lite.pack.__main__ import _chapter_keys, _explorer_keys, main
from evae_lite.pack.write import write_pack
from evae_lite.runs import cache
from evae_lite.runs.cache import Entry, cached_train, model_key
from evae_lite.sealed import seal

CFG = ModelConfig("evae", D=4, K=2, H=16, x_dim=32)
TCFG = TrainConfig(epochs=2, batch_size=25)


def _x(seed=0):
    return torch.rand(100, 32, generator=torch.Generator().manual_seed(seed))


def _touch(path):
    """What the booby-trapped pickle below runs when unpickled."""
    Path(path).write_text("code ran")


class Trap:
    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (_touch, (self.marker,))


@pytest.fixture(autouse=True)
def _fresh_process_state():
    fetch._manifests.clear()
    fetch._said.clear()
    yield
    fetch._manifests.clear()
    fetch._said.clear()


def _use(monkeypatch, url, sha256, results):
    monkeypatch.setenv("EVAE_LITE_PRETRAINED", "1")
    monkeypatch.setenv("EVAE_LITE_PACK_URL", url + "manifest.json")
    monkeypatch.setenv("EVAE_LITE_PACK_SHA256", sha256)
    monkeypatch.setenv("EVAE_LITE_RESULTS", str(results))


def _count_training(monkeypatch) -> list:
    calls, real = [], train_mod.train

    def counting(*a, **k):
        calls.append(1)
        return real(*a, **k)

    monkeypatch.setattr(train_mod, "train", counting)
    return calls


def _no_training(monkeypatch):
    def boom(*a, **k):
        raise AssertionError("trained a model that the pack holds")

    monkeypatch.setattr(train_mod, "train", boom)


def _same_weights(a, b) -> bool:
    sa, sb = a.model.state_dict(), b.model.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(v, sb[k]) for k, v in sa.items())


def _one_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert err and "\n" not in err, f"expected one line on stderr, got {err!r}"
    return err


@pytest.fixture
def packed(tmp_path):
    """A cache holding one trained model, and its pack: (trained result, pack folder, key)."""
    res = cached_train(CFG, TCFG, _x(), progress=False, root=tmp_path / "filled")
    summary = write_pack("smoke", tmp_path / "pack", root=tmp_path / "filled")
    assert summary.entries == {"model": 1}
    key = model_key(CFG, TCFG, x_train=_x(), x_val=None)
    return res, tmp_path / "pack", key


def _sha(path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _replace(pack, key, name, blob) -> str:
    """Put `blob` in the pack as the entry's file, recorded in the manifest as it is (so only
    the content checks stand in its way); the new manifest's sha256."""
    (pack / f"{key}.{name}").write_bytes(blob)
    m = json.loads((pack / "manifest.json").read_text())
    m["entries"][key]["files"][name].update(sha256=hashlib.sha256(blob).hexdigest(), size=len(blob))
    (pack / "manifest.json").write_text(json.dumps(m))
    return _sha(pack / "manifest.json")


def test_a_served_pack_replaces_training_at_smoke_scale(data_dir, tmp_path, monkeypatch, serve):
    """A smoke-scale job run, packed, its cache wiped: run again with the pack served, it
    trains and measures nothing and returns the identical result and model."""
    import evae_lite.runs.job as job_mod
    from evae_lite.runs import Job, run, trained

    results = tmp_path / "results"
    monkeypatch.setenv("EVAE_LITE_RESULTS", str(results))
    # activity and Parzen: the classifier of the second measure trains on all of MNIST (a minute)
    job = Job.at(ModelConfig("vae", D=4, H=16), "smoke", "grids", measures=("units", "parzen"))
    first, model = run(job), trained(job)
    summary = write_pack("smoke", tmp_path / "pack", root=results)
    assert summary.entries == {"job": 1, "model": 1}
    shutil.rmtree(results)

    url, requested = serve(tmp_path / "pack")
    _use(monkeypatch, url, summary.manifest_sha256, results)
    _no_training(monkeypatch)

    def no_measuring(*a, **k):
        raise AssertionError("measured a job that the pack holds")

    monkeypatch.setattr(job_mod, "measure", no_measuring)
    assert run(job) == first
    assert _same_weights(trained(job), model)
    assert requested[0] == "/manifest.json" and len(requested) == 3  # manifest, result, model
    assert run(job) == first and len(requested) == 3  # now a local hit


def test_a_sweep_takes_from_the_pack_and_starts_no_worker(data_dir, tmp_path, monkeypatch, serve):
    import evae_lite.runs.sweep as sweep_mod
    from evae_lite.runs import Job, run

    results = tmp_path / "results"
    monkeypatch.setenv("EVAE_LITE_RESULTS", str(results))
    job = Job.at(ModelConfig("vae", D=4, H=16), "smoke", "grids", measures=("units",))
    first = run(job)
    summary = write_pack("smoke", tmp_path / "pack", root=results)
    shutil.rmtree(results)
    url, requested = serve(tmp_path / "pack")
    _use(monkeypatch, url, summary.manifest_sha256, results)

    def no_workers(*a, **k):
        raise AssertionError("started workers for a job that the pack holds")

    monkeypatch.setattr(sweep_mod, "ProcessPoolExecutor", no_workers)
    assert sweep_mod.sweep([job], progress=False) == [first]
    assert len(requested) == 2 and requested[1].endswith(".result.json")  # not the model


def test_a_pickle_that_would_run_code_is_refused(packed, tmp_path, monkeypatch, serve, capsys):
    res, pack, key = packed
    buf = io.BytesIO()
    torch.save({"model_cfg": {}, "model": Trap(tmp_path / "control")}, buf)
    torch.load(io.BytesIO(buf.getvalue()), weights_only=False)  # the trap is real:
    assert (tmp_path / "control").exists()  # loaded as a full pickle, it runs
    marker = tmp_path / "marker"
    buf = io.BytesIO()
    torch.save({"model_cfg": {}, "model": Trap(marker)}, buf)
    sha = _replace(pack, key, "checkpoint.pt", seal(buf.getvalue()))
    url, _ = serve(pack)
    _use(monkeypatch, url, sha, tmp_path / "results")
    calls = _count_training(monkeypatch)

    got = cached_train(CFG, TCFG, _x(), progress=False)
    line = _one_line(capsys)
    assert "refused" in line and "weights_only=True" in line and "_touch" in line, line
    assert not marker.exists()
    assert calls == [1] and _same_weights(got, res)  # computed here instead
    assert Entry(key).valid()


@pytest.mark.parametrize("kind", ["raw pickle", "JSON"])
def test_other_unsafe_files_are_refused(packed, tmp_path, monkeypatch, serve, capsys, kind):
    """A plain pickle as the checkpoint, or pickled bytes as a result's JSON."""
    res, pack, key = packed
    marker = tmp_path / "marker"
    blob = pickle.dumps({"model": Trap(marker)})
    if kind == "JSON":
        m = json.loads((pack / "manifest.json").read_text())
        m["entries"][key]["files"]["result.json"] = dict(
            path=f"{key}.result.json", sha256="", size=0
        )
        (pack / "manifest.json").write_text(json.dumps(m))
        sha = _replace(pack, key, "result.json", blob)
    else:
        sha = _replace(pack, key, "checkpoint.pt", blob)
    url, _ = serve(pack)
    _use(monkeypatch, url, sha, tmp_path / "results")
    calls = _count_training(monkeypatch)
    got = cached_train(CFG, TCFG, _x(), progress=False)
    assert "refused" in _one_line(capsys)
    assert not marker.exists() and calls == [1] and _same_weights(got, res)


def test_a_file_that_fails_its_hash_is_refused(packed, tmp_path, monkeypatch, serve, capsys):
    res, pack, key = packed
    f = pack / f"{key}.checkpoint.pt"
    data = bytearray(f.read_bytes())
    data[len(data) // 2] ^= 0xFF
    f.write_bytes(bytes(data))
    url, _ = serve(pack)
    _use(monkeypatch, url, _sha(pack / "manifest.json"), tmp_path / "results")
    calls = _count_training(monkeypatch)

    got = cached_train(CFG, TCFG, _x(), progress=False)
    line = _one_line(capsys)
    assert f"{key}/checkpoint.pt has sha256" in line and "refused" in line, line
    assert calls == [1] and _same_weights(got, res)
    assert Entry(key).valid()  # the model trained here, sealed


def test_a_manifest_other_than_the_pinned_one_is_refused(
    packed, tmp_path, monkeypatch, serve, capsys
):
    res, pack, key = packed
    url, requested = serve(pack)
    pinned = hashlib.sha256(b"another manifest").hexdigest()
    _use(monkeypatch, url, pinned, tmp_path / "results")
    calls = _count_training(monkeypatch)

    got = cached_train(CFG, TCFG, _x(), progress=False)
    line = _one_line(capsys)
    assert f"not the pinned {pinned}: refused" in line, line
    assert requested == ["/manifest.json"] and calls == [1] and _same_weights(got, res)
    cached_train(CFG, TCFG.replace(seed=1), _x(), progress=False)  # the refusal stands:
    assert requested == ["/manifest.json"] and not capsys.readouterr().err  # asked, said once


def test_pretrained_0_never_downloads(packed, tmp_path, monkeypatch, serve, capsys):
    res, pack, key = packed
    url, requested = serve(pack)
    _use(monkeypatch, url, _sha(pack / "manifest.json"), tmp_path / "results")
    monkeypatch.setenv("EVAE_LITE_PRETRAINED", "0")
    calls = _count_training(monkeypatch)
    got = cached_train(CFG, TCFG, _x(), progress=False)
    assert requested == [] and calls == [1] and _same_weights(got, res)
    assert not capsys.readouterr().err


def test_a_key_the_pack_lacks_is_computed_silently(packed, tmp_path, monkeypatch, serve, capsys):
    res, pack, key = packed
    url, requested = serve(pack)
    _use(monkeypatch, url, _sha(pack / "manifest.json"), tmp_path / "results")
    calls = _count_training(monkeypatch)
    cached_train(CFG, TCFG.replace(seed=1), _x(), progress=False)  # new settings: not packed
    assert calls == [1] and requested == ["/manifest.json"] and not capsys.readouterr().err
    _no_training(monkeypatch)
    assert _same_weights(cached_train(CFG, TCFG, _x(), progress=False), res)  # this one is


def test_a_path_outside_the_pack_is_refused(packed, tmp_path, monkeypatch, serve, capsys):
    res, pack, key = packed
    m = json.loads((pack / "manifest.json").read_text())
    m["entries"][key]["files"]["checkpoint.pt"]["path"] = "../secret.pt"
    (pack / "manifest.json").write_text(json.dumps(m))
    url, requested = serve(pack)
    _use(monkeypatch, url, _sha(pack / "manifest.json"), tmp_path / "results")
    calls = _count_training(monkeypatch)
    cached_train(CFG, TCFG, _x(), progress=False)
    assert "malformed: refused" in _one_line(capsys)
    assert requested == ["/manifest.json"] and calls == [1]


@pytest.mark.parametrize("case", ["held", "lacked", "down", "corrupt", "unconfigured"])
def test_pretrained_require_stops_where_the_pack_cannot_supply(
    packed, tmp_path, monkeypatch, serve, case
):
    """EVAE_LITE_PRETRAINED=require: a model the pack holds is fetched; a key it lacks, a
    server that does not answer, a file that fails its hash, or no pack at all stops with a
    PackError saying why, and nothing is trained."""
    res, pack, key = packed
    url, requested = serve(pack)
    sha = _sha(pack / "manifest.json")
    if case == "corrupt":
        blob = (pack / f"{key}.checkpoint.pt").read_bytes()
        (pack / f"{key}.checkpoint.pt").write_bytes(blob[:-1] + bytes([blob[-1] ^ 1]))
    if case == "down":
        url = "http://127.0.0.1:9/"  # the discard port: nothing answers there
    _use(monkeypatch, url, sha, tmp_path / "results")
    if case == "unconfigured":
        monkeypatch.delenv("EVAE_LITE_PACK_URL")
        monkeypatch.delenv("EVAE_LITE_PACK_SHA256")
    monkeypatch.setenv("EVAE_LITE_PRETRAINED", "require")
    _no_training(monkeypatch)
    tcfg = TCFG.replace(seed=1) if case == "lacked" else TCFG
    if case == "held":
        assert _same_weights(cached_train(CFG, tcfg, _x(), progress=False), res)
        return
    why = {
        "lacked": "does not hold model-",
        "down": "cannot download",
        "corrupt": "not the manifest's",
        "unconfigured": "no pack is configured",
    }[case]
    with pytest.raises(fetch.PackError) as err:
        cached_train(CFG, tcfg, _x(), progress=False)
    assert why in str(err.value) and "EVAE_LITE_PRETRAINED=require" in str(err.value)


@pytest.mark.parametrize("given", ["EVAE_LITE_PACK_URL", "EVAE_LITE_PACK_SHA256"])
def test_half_a_configuration_is_said_and_computes(tmp_path, monkeypatch, capsys, given):
    monkeypatch.setenv("EVAE_LITE_PRETRAINED", "1")
    monkeypatch.setenv(given, "http://127.0.0.1:9/manifest.json" if "URL" in given else "a" * 64)
    calls = _count_training(monkeypatch)
    cached_train(CFG, TCFG, _x(), progress=False, root=tmp_path)
    assert f"{given} is set without" in _one_line(capsys) and calls == [1]


def test_the_pack_written_records_every_file(packed, tmp_path):
    """Each file's sha256 and size as on disk, in one flat folder (a release's assets); the
    manifest's own sha256 and the pack's size as reported; the cache is only read (a corrupt
    entry is left out, none of its files written, and it is not moved aside)."""
    res, pack, key = packed
    m = json.loads((pack / "manifest.json").read_text())
    assert m["format"] == fetch.FORMAT and m["scale"] == "smoke"
    paths = [f["path"] for e in m["entries"].values() for f in e["files"].values()]
    assert sorted(p.name for p in pack.iterdir()) == sorted(["manifest.json", *paths])
    for k, e in m["entries"].items():
        for name, f in e["files"].items():
            assert f["path"] == f"{k}.{name}"
            assert (f["sha256"], f["size"]) == (
                _sha(pack / f["path"]),
                (pack / f["path"]).stat().st_size,
            )
    filled = tmp_path / "filled"
    bad = filled / key / "checkpoint.pt"
    bad.write_bytes(bad.read_bytes()[:-1])
    s = write_pack("smoke", tmp_path / "pack2", root=filled)
    assert s.entries == {} and len(s.left_out) == 1 and "does not match" in s.left_out[0]
    assert [p.name for p in (tmp_path / "pack2").iterdir()] == ["manifest.json"]
    assert sorted(p.name for p in (filled / key).iterdir()) == [
        ".lock",
        "checkpoint.pt",
        "manifest.json",
    ]
    assert s.bytes == sum(p.stat().st_size for p in (tmp_path / "pack2").rglob("*") if p.is_file())
    assert s.manifest_sha256 == _sha(tmp_path / "pack2" / "manifest.json")


def test_write_refuses_in_one_line(packed, tmp_path, capsys):
    res, pack, key = packed
    filled = str(tmp_path / "filled")
    assert main(["write", "--scale", "huge", "--out", str(tmp_path / "p"), "--cache", filled]) == 2
    assert "scale='huge' is not allowed" in _one_line(capsys)
    assert main(["write", "--scale", "smoke", "--out", str(pack), "--cache", filled]) == 2
    assert "is not an empty folder" in _one_line(capsys)
    keys = tmp_path / "keys.txt"
    keys.write_text("model-x\n")
    out = str(tmp_path / "p")
    assert (
        main(["write", "--scale", "smoke", "--out", out, "--cache", filled, "--keys", str(keys)])
        == 2
    )
    assert "'model-x' is not a cache key" in _one_line(capsys)


def test_the_command_writes_the_recorded_keys(tmp_path, monkeypatch, capsys):
    """What the cache serves under EVAE_LITE_PACK_RECORD is what --keys packs."""
    record = tmp_path / "keys.txt"
    monkeypatch.setenv(cache.RECORD_ENV, str(record))
    root = tmp_path / "filled"
    cached_train(CFG, TCFG, _x(), progress=False, root=root)
    cached_train(CFG, TCFG.replace(seed=1), _x(), progress=False, root=root)
    monkeypatch.delenv(cache.RECORD_ENV)
    cached_train(CFG, TCFG.replace(seed=2), _x(), progress=False, root=root)  # not recorded
    args = ["write", "--scale", "smoke", "--out", str(tmp_path / "p"), "--cache", str(root)]
    assert main([*args, "--keys", str(record)]) == 0
    out = capsys.readouterr().out
    assert (
        "2 model; 3 files" in out
        and "manifest sha256 " + _sha(tmp_path / "p" / "manifest.json") in out
    )


def test_the_pack_code_keys_nothing():
    """Editing evae_lite/pack re-keys no result, so a published pack outlives such edits."""
    for kind in ("model", "job"):
        assert not [f for f in cache.code_files(kind) if "pack" in f.parts]


def _pin_lines(out: str) -> str:
    """What `publish` says to put in source.py (the end of what it prints)."""
    return out.split("then put in evae_lite/pack/source.py:\n", 1)[1]


def _pin(out: str) -> dict:
    """The lines `publish` says to put in source.py, run as Python."""
    pinned = {}
    exec("from __future__ import annotations\n" + _pin_lines(out), {}, pinned)
    return {k: v for k, v in pinned.items() if k.startswith("PACK_")}


def test_the_pin_is_formatted_as_ruff_wants(packed, tmp_path, capsys):
    """Pasted into a module, the lines pass the project's ruff check and format."""
    res, pack, key = packed
    assert main(["publish", str(pack), "--tag", "pack-book-1"]) == 0
    f = tmp_path / "pinned.py"
    f.write_text(
        '"""Pinned."""\n\nfrom __future__ import annotations\n\n'
        + _pin_lines(capsys.readouterr().out)
    )
    config = Path(__file__).resolve().parent.parent / "pyproject.toml"
    for args in (["check"], ["format", "--check"]):
        done = subprocess.run(
            [sys.executable, "-m", "ruff", *args, "--config", str(config), str(f)],
            capture_output=True,
            text=True,
        )
        if "No module named ruff" in done.stderr:
            pytest.skip("ruff is not installed")
        assert done.returncode == 0, done.stdout + done.stderr


def test_publish_names_the_release_and_the_lines_that_pin_it(packed, capsys, monkeypatch):
    from evae_lite.pack.source import pack_source

    res, pack, key = packed
    assert main(["publish", str(pack), "--tag", "pack-smoke-1"]) == 0
    out = capsys.readouterr().out
    pinned = _pin(out)
    url = "https://github.com/evae-lite/evae-lite/releases/download/pack-smoke-1/manifest.json"
    assert pinned == {"PACK_URL": url, "PACK_MANIFEST_SHA256": _sha(pack / "manifest.json")}
    monkeypatch.setenv("EVAE_LITE_PRETRAINED", "1")
    monkeypatch.setenv("EVAE_LITE_PACK_URL", pinned["PACK_URL"])
    monkeypatch.setenv("EVAE_LITE_PACK_SHA256", pinned["PACK_MANIFEST_SHA256"])
    assert pack_source().url == url  # lines the package accepts
    create, upload = [line for line in out.splitlines() if line.startswith("gh release")]
    assert create.startswith("gh release create pack-smoke-1 --repo evae-lite/evae-lite")
    assert upload.split()[-2:] == ["manifest.json", f"{key}.checkpoint.pt"]


def test_publish_runs_gh_in_the_pack_s_folder(packed, tmp_path, capsys, monkeypatch):
    res, pack, key = packed
    log = tmp_path / "gh.log"
    gh = tmp_path / "bin" / "gh"
    gh.parent.mkdir()
    # a stand-in for the GitHub CLI: notes its arguments and folder; no release exists yet
    gh.write_text(f'#!/bin/sh\necho "$(pwd) $*" >> {log}\n[ "$2" = view ] && exit 1\nexit 0\n')
    gh.chmod(0o755)
    monkeypatch.setenv("PATH", f"{gh.parent}{os.pathsep}{os.environ['PATH']}")
    assert main(["publish", str(pack), "--tag", "pack-smoke-1", "--run", "--repo", "a/b"]) == 0
    calls = [line.split(" ", 4) for line in log.read_text().splitlines()]
    assert [c[:4] for c in calls] == [
        [str(pack), "release", v, "pack-smoke-1"] for v in ("view", "create", "upload")
    ]
    assert calls[2][4] == f"--repo a/b --clobber manifest.json {key}.checkpoint.pt"
    assert _pin(capsys.readouterr().out)["PACK_URL"].startswith("https://github.com/a/b/")
    gh.write_text("#!/bin/sh\nexit 3\n")
    assert main(["publish", str(pack), "--tag", "pack-smoke-1", "--run"]) == 1
    assert "gh release create pack-smoke-1" in capsys.readouterr().err


@pytest.mark.parametrize(
    "change, said",
    [
        ("tag", "tag 'v0.1.0' is not a pack's"),
        ("changed", "does not have the manifest's sha256"),
        ("missing", "is missing or not of"),
        ("nested", "is not flat"),
        ("no manifest", "is not the manifest of a pack"),
    ],
)
def test_publish_refuses_in_one_line(packed, capsys, change, said):
    res, pack, key = packed
    f = pack / f"{key}.checkpoint.pt"
    m = json.loads((pack / "manifest.json").read_text())
    if change == "changed":
        data = bytearray(f.read_bytes())
        data[-1] ^= 1
        f.write_bytes(bytes(data))
    elif change == "missing":
        f.unlink()
    elif change == "nested":
        m["entries"][key]["files"]["checkpoint.pt"]["path"] = f"{key}/checkpoint.pt"
        (pack / key).mkdir()
        shutil.copyfile(f, pack / key / "checkpoint.pt")
        (pack / "manifest.json").write_text(json.dumps(m))
    elif change == "no manifest":
        (pack / "manifest.json").unlink()
    tag = "v0.1.0" if change == "tag" else "pack-smoke-1"
    assert main(["publish", str(pack), "--tag", tag]) == 2
    assert said in _one_line(capsys)


def test_the_publishing_repository_is_the_book_s():
    import yaml

    from evae_lite.pack.publish import REPOSITORY

    root = Path(__file__).resolve().parent.parent
    url = yaml.safe_load((root / "_config.yml").read_text())["repository"]["url"]
    assert url == f"https://github.com/{REPOSITORY}"


# A model is packed without Adam's moments (evae_lite/pack/slim.py).


def _checkpoint(path) -> dict:
    from evae_lite.train import load_checkpoint

    return load_checkpoint(path)


def test_a_packed_checkpoint_lacks_adam_s_moments_and_nothing_else(packed, tmp_path):
    """The pack's checkpoint: optim's state emptied, its param_groups and every other value
    as in the cache, sealed as a checkpoint is; smaller by at least the moments' bytes; the
    manifest says what it lacks; and Adam takes its optim (the moments start afresh)."""
    from evae_lite.model import build_model
    from evae_lite.pack import slim

    res, pack, key = packed
    cached, packed_file = tmp_path / "filled" / key / "checkpoint.pt", pack / f"{key}.checkpoint.pt"
    full, thin = _checkpoint(cached), _checkpoint(packed_file)
    assert full["optim"]["state"] and thin["optim"]["state"] == {}
    assert slim.same(thin["optim"]["param_groups"], full["optim"]["param_groups"])
    assert list(thin) == list(full)
    for k in full:
        assert k == "optim" or slim.same(thin[k], full[k]), k
    moments = slim.moments_bytes(full)
    assert moments >= 2 * sum(p.numel() * 4 for p in res.model.parameters())
    assert cached.stat().st_size - packed_file.stat().st_size >= moments
    record = json.loads((pack / "manifest.json").read_text())["entries"][key]
    assert record["info"]["slim"] == {"checkpoint.pt": "optim.state"}
    assert (
        record["info"]["model"]
        == json.loads((cached.parent / "manifest.json").read_text())["info"]["model"]
    )
    opt = torch.optim.Adam(build_model(CFG).parameters())
    opt.load_state_dict(thin["optim"])
    assert opt.state_dict()["param_groups"] == full["optim"]["param_groups"]


def test_a_slim_model_fetched_loads_as_the_whole_one(packed, tmp_path, monkeypatch, serve):
    """Fetched into an empty cache, the slim entry is sealed there with its info saying so,
    and cached_train returns, without training, the weights, history and y* of the model
    trained whole."""
    res, pack, key = packed
    url, _ = serve(pack)
    results = tmp_path / "results"
    _use(monkeypatch, url, _sha(pack / "manifest.json"), results)
    _no_training(monkeypatch)
    got = cached_train(CFG, TCFG, _x(), progress=False)
    assert _same_weights(got, res) and torch.equal(got.y, res.y) and got.history == res.history
    info = json.loads((results / key / "manifest.json").read_text())["info"]
    assert (
        info["slim"] == {"checkpoint.pt": "optim.state"} and info["pack"] == url + "manifest.json"
    )
    assert (
        Entry(key).valid() and _checkpoint(results / key / "checkpoint.pt")["optim"]["state"] == {}
    )


def test_a_slim_model_measures_as_the_whole_one(data_dir, tmp_path, monkeypatch, serve):
    """A smoke job's model alone in the pack (its result is not): run on an empty cache, the
    job fetches the slim model, trains nothing, and measures exactly what it measured on the
    model trained whole."""
    from evae_lite.runs import Job, run, trained

    results = tmp_path / "results"
    monkeypatch.setenv("EVAE_LITE_RESULTS", str(results))
    job = Job.at(ModelConfig("vae", D=4, H=16), "smoke", "grids", measures=("units", "parzen"))
    first, model = run(job), trained(job)
    models = [p.name for p in results.iterdir() if p.name.startswith("model-")]
    summary = write_pack("smoke", tmp_path / "pack", root=results, keys=models)
    assert summary.entries == {"model": 1} and summary.slim == 1 and summary.dropped > 0
    full = (results / models[0] / "checkpoint.pt").stat().st_size
    thin = (tmp_path / "pack" / f"{models[0]}.checkpoint.pt").stat().st_size
    assert full - thin == summary.dropped
    shutil.rmtree(results)

    url, requested = serve(tmp_path / "pack")
    _use(monkeypatch, url, summary.manifest_sha256, results)
    _no_training(monkeypatch)
    assert run(job) == first
    assert _same_weights(trained(job), model)
    assert requested == ["/manifest.json", f"/{models[0]}.checkpoint.pt"]


def test_training_on_from_a_slim_checkpoint_would_not_give_the_same_weights(tmp_path):
    """Why a model that a longer run continues is packed whole: Adam's moments started afresh
    at the shorter run's end take training elsewhere than the uninterrupted run."""
    from evae_lite.pack import slim
    from evae_lite.train import train

    short, long = TCFG, TCFG.replace(epochs=4)
    whole = tmp_path / "whole.pt"
    train(CFG, short, _x(), checkpoint=whole, progress=False)
    thin = tmp_path / "thin.pt"
    thin.write_bytes(slim.slim_bytes(slim.load(whole.read_bytes(), "whole"), "thin"))
    at_once = train(CFG, long, _x(), progress=False)
    assert _same_weights(train(CFG, long, _x(), start_from=whole, progress=False), at_once)
    assert not _same_weights(train(CFG, long, _x(), start_from=thin, progress=False), at_once)


def test_a_model_a_longer_packed_one_continues_is_kept_whole(tmp_path, monkeypatch, serve, capsys):
    """The shorter of two runs of the same settings goes into the pack whole, the longer
    slim. Fetched, the shorter one is what the cache continues when the longer one is not
    fetched (here its download fails): the longer one is trained on from it to the weights
    of the uninterrupted run."""
    filled = tmp_path / "filled"
    short, long = TCFG, TCFG.replace(epochs=4)
    cached_train(CFG, short, _x(), progress=False, root=filled)
    want = cached_train(CFG, long, _x(), progress=False, root=filled)  # continues `short`
    other = cached_train(CFG, TCFG.replace(seed=1), _x(), progress=False, root=filled)
    summary = write_pack("smoke", tmp_path / "pack", root=filled)
    assert (summary.entries, summary.slim, summary.whole) == ({"model": 3}, 2, 1)
    assert "kept whole, as a longer model of the cache continues them: 1" in str(summary)
    keys = {
        n: model_key(CFG, c, x_train=_x(), x_val=None)
        for n, c in (("short", short), ("long", long), ("other", TCFG.replace(seed=1)))
    }
    m = json.loads((tmp_path / "pack" / "manifest.json").read_text())["entries"]
    assert "slim" not in m[keys["short"]]["info"]
    assert _sha(tmp_path / "pack" / f"{keys['short']}.checkpoint.pt") == _sha(
        filled / keys["short"] / "checkpoint.pt"
    )
    assert all(m[keys[n]]["info"]["slim"] for n in ("long", "other"))

    (tmp_path / "pack" / f"{keys['long']}.checkpoint.pt").unlink()  # its download fails
    url, _ = serve(tmp_path / "pack")
    _use(monkeypatch, url, summary.manifest_sha256, tmp_path / "results")
    assert _same_weights(cached_train(CFG, TCFG.replace(seed=1), _x(), progress=False), other)
    cached_train(CFG, short, _x(), progress=False)  # fetched, whole
    calls = _count_training(monkeypatch)
    got = cached_train(CFG, long, _x(), progress=False)
    assert "cannot download" in _one_line(capsys) and calls == [1]
    assert _same_weights(got, want) and got.history[:2] == want.history[:2]


def test_a_model_continued_by_an_unpacked_one_is_kept_whole(tmp_path):
    """The longer model need not be packed (a chapter may read only its measured result):
    that the cache holds it is enough to pack the shorter one whole."""
    filled = tmp_path / "filled"
    short, long = TCFG, TCFG.replace(epochs=4)
    for c in (short, long, TCFG.replace(seed=1)):
        cached_train(CFG, c, _x(), progress=False, root=filled)
    keys = [model_key(CFG, c, x_train=_x(), x_val=None) for c in (short, TCFG.replace(seed=1))]
    summary = write_pack("smoke", tmp_path / "pack", root=filled, keys=keys)
    assert (summary.entries, summary.slim, summary.whole) == ({"model": 2}, 1, 1)
    m = json.loads((tmp_path / "pack" / "manifest.json").read_text())["entries"]
    assert "slim" not in m[keys[0]]["info"] and m[keys[1]]["info"]["slim"]


def test_a_continued_model_without_moments_is_left_out(tmp_path, monkeypatch, serve):
    """A cache filled from packs may hold a model without moments that another model
    continues (here each came from a pack of its own, the shorter from a cache without the
    longer): packed again, it is left out (and said), never packed slim."""
    short, long = TCFG, TCFG.replace(epochs=4)
    keys = [model_key(CFG, c, x_train=_x(), x_val=None) for c in (short, long)]
    for name, configs in (("only-short", [short]), ("filled", [short, long])):
        for c in configs:
            cached_train(CFG, c, _x(), progress=False, root=tmp_path / name)
    _no_training(monkeypatch)
    results = tmp_path / "results"
    for key, c, cache_dir in zip(keys, (short, long), ("only-short", "filled")):
        s = write_pack("smoke", tmp_path / key, root=tmp_path / cache_dir, keys=[key])
        assert s.slim == 1
        fetch._manifests.clear()
        _use(monkeypatch, serve(tmp_path / key)[0], s.manifest_sha256, results)
        cached_train(CFG, c, _x(), progress=False)
    again = write_pack("smoke", tmp_path / "again", root=results)
    assert (again.entries, again.slim, again.whole) == ({"model": 1}, 1, 0)
    assert len(again.left_out) == 1 and again.left_out[0].startswith(keys[0])
    assert "no Adam's moments" in again.left_out[0]
    assert not list((tmp_path / "again").glob(f"{keys[0]}.*"))


def test_a_slim_model_in_the_cache_is_not_continued(tmp_path, monkeypatch, serve):
    """A reader's own longer run of a model the pack holds slim trains from the start (to the
    weights of the uninterrupted run), not on from the slim checkpoint."""
    filled = tmp_path / "filled"
    short, long = TCFG, TCFG.replace(epochs=4)
    cached_train(CFG, short, _x(), progress=False, root=filled)
    summary = write_pack("smoke", tmp_path / "pack", root=filled)
    assert summary.slim == 1  # nothing in that cache continues it
    url, _ = serve(tmp_path / "pack")
    _use(monkeypatch, url, summary.manifest_sha256, tmp_path / "results")
    from evae_lite.train import train

    cached_train(CFG, short, _x(), progress=False)  # fetched, slim
    want = train(CFG, long, _x(), progress=False)
    got = cached_train(CFG, long, _x(), progress=False)
    assert _same_weights(got, want) and len(got.history) == long.epochs


def test_the_site_build_takes_the_explorers_from_the_pack_and_announces_no_training(
    data_dir, tmp_path, monkeypatch, serve
):
    """The explorers' models in a served pack: the build fetches them, trains nothing, and
    does not say that it will train (it would, before the pack was asked)."""
    import evae_lite.runs.job as job_mod
    from evae_lite.site import explorers

    filled = tmp_path / "filled"
    monkeypatch.setenv("EVAE_LITE_RESULTS", str(filled))
    explorers.write_all(tmp_path / "first", "smoke", lambda s: None)
    summary = write_pack("smoke", tmp_path / "pack", root=filled)
    assert summary.entries == {"model": len(explorers.EXPLORERS), "job": 1}  # the VAE's units
    # what `write --chapters` adds to the chapters' entries: these very ones
    manifest = json.loads((tmp_path / "pack" / "manifest.json").read_text())
    assert _explorer_keys("smoke") == sorted(manifest["entries"])
    url, requested = serve(tmp_path / "pack")
    _use(monkeypatch, url, summary.manifest_sha256, tmp_path / "results")
    _no_training(monkeypatch)
    monkeypatch.setattr(job_mod, "measure", lambda *a, **k: pytest.fail("measured here"))
    said: list[str] = []
    explorers.write_all(tmp_path / "site", "smoke", said.append)
    assert not [s for s in said if "not trained yet" in s], said
    assert len(requested) == 1 + len(manifest["entries"])  # the manifest, each entry once


def test_explorers_the_cache_lacks_are_said_and_left_out(data_dir, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("EVAE_LITE_RESULTS", str(tmp_path / "empty"))
    assert _explorer_keys("smoke") == []
    assert "explorer ch07-evae: the cache lacks its model" in capsys.readouterr().out


def test_write_chapters_records_every_entry_a_chapter_reads(data_dir, tmp_path, monkeypatch):
    """`write --chapters`' keys: what the chapter's kernel used (here all it made in an empty
    cache), nothing else; explorers whose models the cache lacks are left out, not trained."""

    cache_root = tmp_path / "cache"
    monkeypatch.setenv("EVAE_LITE_RESULTS", str(cache_root))
    chapter = Path(__file__).resolve().parent.parent / "book" / "05_epitomic_vae.ipynb"
    keys = _chapter_keys([str(chapter)], "smoke")
    made = sorted(m.parent.name for m in cache_root.glob("*/manifest.json"))
    assert keys is not None and made and sorted(set(keys)) == made
    assert os.environ.get(cache.RECORD_ENV) is None  # the recording is over
