"""Fault injection: nothing lost, nothing silently wrong.

kill -9 at random points of a run; truncation and bit flips of every kind of file the package
trusts; property-based fuzzing (hypothesis) of every config field and command-line option.
Each asserts a clear error or a correct result: never a traceback, never a silent wrong value,
never a lost result. (Concurrent writers on one cache entry and on one run directory:
tests/test_cache.py and tests/test_cli.py.)
"""

from __future__ import annotations

import dataclasses
import json
import math
import types
import typing

import pytest
import torch
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from evae_lite import ModelConfig, TrainConfig
from evae_lite.runs import Job

# values a user might type or a script might pass: of the right type or not, in range or not
ANY_VALUE = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.integers(-3, 64),
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(-2, 2),
    st.text(max_size=8),
    st.sampled_from(["vae", "evae", "mvae", "dropout_vae", "burda", "constant", "cpu", "mean"]),
    st.lists(st.one_of(st.floats(), st.integers(-2, 2), st.sampled_from(["units", "iwae"]))).map(
        tuple
    ),
    st.lists(st.floats(0.01, 1.0), min_size=1, max_size=3).map(tuple),
)


def _accepted_as_declared(declared, v) -> bool:
    """A value a config may keep: of its declared type, no bools for numbers, finite floats."""
    union = typing.get_origin(declared) in (typing.Union, types.UnionType)
    args = typing.get_args(declared) if union else (declared,)
    for t in args:
        if t is type(None) and v is None:
            return True
        if t is bool and isinstance(v, bool):
            return True
        if t is int and isinstance(v, int) and not isinstance(v, bool):
            return True
        if t is float and isinstance(v, (int, float)) and not isinstance(v, bool):
            return math.isfinite(v)
        if t is str and isinstance(v, str):
            return True
        if typing.get_origin(t) is tuple and isinstance(v, tuple):
            (item, _) = typing.get_args(t)
            return all(_accepted_as_declared(item, x) for x in v)
    return False


def _fields(cls):
    hints = typing.get_type_hints(cls)
    return [(f.name, hints[f.name]) for f in dataclasses.fields(cls) if f.init]


BASES = [
    ModelConfig("vae", D=4, H=8),
    ModelConfig("evae", D=4, K=2, H=8),
    ModelConfig("mvae", D=4, K=2, H=8),
    ModelConfig("dropout_vae", D=4, H=8, dropout=0.5),
]


def _one_field_changed(make, name, v):
    """make(name=v) either fails with an error that names the field or the value (a value
    that conflicts with another field may name that one), or keeps v, which must then be a
    value of the field's declared type."""
    try:
        cfg = make(v)
    except (ValueError, TypeError) as e:
        msg = str(e)
        assert name in msg or str(v) in msg, f"{name}={v!r}: the error names neither: {msg}"
        return None
    assert getattr(cfg, name) == v or (v != v and getattr(cfg, name) != getattr(cfg, name))
    return cfg


@pytest.mark.parametrize("name,declared", _fields(ModelConfig))
@settings(max_examples=150, deadline=None)
@given(base=st.sampled_from(BASES), v=ANY_VALUE)
def test_every_model_config_field(name, declared, base, v):
    cfg = _one_field_changed(lambda v: base.replace(**{name: v}), name, v)
    if cfg is not None:
        assert _accepted_as_declared(declared, v), f"ModelConfig kept {name}={v!r}"


@pytest.mark.parametrize("name,declared", _fields(TrainConfig))
@settings(max_examples=150, deadline=None)
@given(v=ANY_VALUE)
def test_every_train_config_field(name, declared, v):
    cfg = _one_field_changed(lambda v: TrainConfig().replace(**{name: v}), name, v)
    if cfg is not None:
        assert _accepted_as_declared(declared, v), f"TrainConfig kept {name}={v!r}"


JOB_FIELDS = [(n, t) for n, t in _fields(Job) if n not in ("model", "train", "tag", "scale")]


@pytest.mark.parametrize("name,declared", JOB_FIELDS)
@settings(max_examples=150, deadline=None)
@given(v=ANY_VALUE)
def test_every_job_field(name, declared, v):
    base = Job(ModelConfig(), TrainConfig())
    job = _one_field_changed(lambda v: dataclasses.replace(base, **{name: v}), name, v)
    if job is not None:
        assert _accepted_as_declared(declared, v), f"Job kept {name}={v!r}"


# ---- every command-line option, fuzzed ------------------------------------------------------

TYPED = st.one_of(
    st.integers(-3, 40).map(str),
    st.floats(-2, 2).map(repr),
    st.sampled_from(
        [
            "",
            " ",
            "0",
            "-0",
            "1e3",
            "nan",
            "inf",
            "-inf",
            "3.5",
            "0x10",
            "1_0",
            " 7 ",
            "١٢",
            "99999999999999999999",
            "vae",
            "evae",
            "faces",
            "burda",
            "cpu",
            "cuda",
            "mps",
            "x",
        ]
    ),
)
SKIP = {"help", "run", "out", "no_progress"}  # paths: tests/test_cli.py


def fuzz_options(command: str, examples: int):
    """Run the test for every option of `command`, with `examples` values drawn by hypothesis
    and always these extremes too."""

    def wrap(test):
        for text in ("99999999999999999999", "-1", "0", "nan", "", "1_0"):
            test = example(text=text)(test)
        test = given(text=TYPED)(test)
        test = settings(
            max_examples=examples,
            deadline=None,
            suppress_health_check=[HealthCheck.function_scoped_fixture],
        )(test)
        options = _options(command)
        return pytest.mark.parametrize("flag,dest,kind", options, ids=lambda v: str(v))(test)

    return wrap


def _options(command: str):
    """(flag, dest, type) of every option of a subcommand, read from the parser itself."""
    from evae_lite.cli import build_parser

    sub = next(a for a in build_parser()._actions if a.dest == "command")
    return [
        (a.option_strings[0], a.dest, a.type)
        for a in sub.choices[command]._actions
        if a.option_strings and a.dest not in SKIP
    ]


def _expected(kind, text):
    """What argparse gives for `text`, or None when it refuses it."""
    try:
        return kind(text) if kind else text
    except Exception:
        return None


def _main(argv, capsys):
    from evae_lite.cli import main

    try:
        rc = main(argv)
    except BaseException as e:  # noqa: BLE001 - the property: never an exception
        raise AssertionError(f"{argv}: raised {e!r}") from e
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err, argv
    assert rc in (0, 2), (argv, rc, err)
    if rc == 2:
        assert "error: " in err and len(err.strip().splitlines()) == 1, (argv, err)
    return rc


TRAIN = ["train", "--D", "4", "--H", "8", "--epochs", "1", "--train-size", "100"]
TRAIN += ["--eval-size", "50", "--scale", "smoke", "--no-progress"]


@fuzz_options("train", examples=25)
def test_every_train_option(flag, dest, kind, text, tmp_path_factory, capsys, data_dir):

    from evae_lite.sealed import read_sealed_json

    out = tmp_path_factory.mktemp("run")
    rc = _main([*TRAIN, f"{flag}={text}", "--out", str(out)], capsys)
    if rc == 0:  # then the run used exactly the value given
        job = read_sealed_json(out / "job.json")
        want = _expected(kind, text)
        where = next((d for d in (job["model"], job["train"], job) if dest in d), {})
        got = where.get(dest, want)
        if dest == "kind":
            got = want  # a row of the table of scales, not a field: the sizes follow it
        assert got == want, (flag, text, got)
        assert json.loads((out / "summary.json").read_text())["epochs"] >= 1


def _train_once(tmp_path_factory, name):
    """A tiny CLI run in a fresh directory, for the tests of one module to share."""
    import os

    if not os.environ.get("EVAE_LITE_DATA"):
        pytest.skip("EVAE_LITE_DATA is not set")
    from evae_lite.cli import main

    run = tmp_path_factory.mktemp(name)
    assert main([*TRAIN, "--out", str(run)]) == 0
    return run


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    return _train_once(tmp_path_factory, "trained")


EVALUATE = ["--eval-size", "20", "--parzen-samples", "30", "--iwae-k", "2", "--iwae-size", "5"]


@fuzz_options("evaluate", examples=25)
def test_every_evaluate_option(flag, dest, kind, text, trained_run, capsys):
    ev = trained_run / "evaluation.json"
    ev.unlink(missing_ok=True)
    argv = ["evaluate", "--run", str(trained_run), *EVALUATE, f"{flag}={text}", "--no-progress"]
    if _main(argv, capsys) == 0:
        r = json.loads(ev.read_text())
        want = _expected(kind, text)
        if dest == "parzen_samples":
            assert (r["parzen"] is None) == (want == 0)
            want = want or r["job"]["parzen_samples"]  # 0 skips Parzen
        if dest == "iwae_size":
            assert r["iwae"]["n"] == want  # L_k over exactly the images asked for
        if dest == "iwae_k" and want:
            assert r["iwae"]["k"] == want
        elif dest == "iwae_k":
            assert r["iwae"] is None
        else:
            assert r["job"][dest] == want, (flag, text)
    else:
        assert not ev.exists()


def test_evaluate_measures_samples_twice_and_skips_the_second_measure_when_too_few(
    trained_run, capsys
):
    """Parzen and the classifier's features side by side; with as few samples as the
    features' k nearest neighbours, Parzen alone, and the output says why."""
    ev = trained_run / "evaluation.json"
    argv = ["evaluate", "--run", str(trained_run), *EVALUATE, "--no-progress"]
    assert _main(argv, capsys) == 0
    r = json.loads(ev.read_text())
    assert r["parzen"] is not None and r["features"]["n_samples"] == 30
    from evae_lite.cli import main

    assert main([*argv, "--parzen-samples=1"]) == 0
    assert "the classifier-feature measure is skipped" in capsys.readouterr().out
    r = json.loads(ev.read_text())
    assert r["parzen"]["n_samples"] == 1 and r["features"] is None


@fuzz_options("sample", examples=25)
def test_every_sample_option(flag, dest, kind, text, trained_run, capsys):
    png = trained_run / "samples.png"
    png.unlink(missing_ok=True)
    argv = ["sample", "--run", str(trained_run), "--n", "6", f"{flag}={text}"]
    assert (_main(argv, capsys) == 0) == png.exists()


# ---- kill -9 at random points ---------------------------------------------------------------

KILL_RUN = ["train", "--model", "evae", "--D", "6", "--K", "2", "--H", "16", "--epochs", "30"]
KILL_RUN += ["--train-size", "600", "--eval-size", "50", "--scale", "smoke", "--no-progress"]


def _cli(argv, **kw):
    import os
    import subprocess
    import sys

    env = {**os.environ, "OMP_NUM_THREADS": "1"}  # the same sums in every run
    return subprocess.Popen(
        [sys.executable, "-m", "evae_lite", *argv],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        **kw,
    )


def _weights(run):
    from evae_lite.train import load_checkpoint

    ck = load_checkpoint(run / "checkpoint.pt")
    return ck["model"], ck["y"], [h["val_bound"] for h in ck["history"]]


def test_kill_9_at_random_points_then_rerun_gives_the_uninterrupted_run(data_dir, tmp_path):
    import random
    import signal
    import time

    t0 = time.monotonic()
    ref = _cli([*KILL_RUN, "--out", str(tmp_path / "ref")])
    assert ref.wait(timeout=300) == 0, ref.stdout.read()
    span = time.monotonic() - t0
    want = _weights(tmp_path / "ref")
    rng = random.Random(0)
    for i in range(3):  # a few kills, bounded: at random moments of the run's life
        run = tmp_path / f"k{i}"
        p = _cli([*KILL_RUN, "--out", str(run)])
        time.sleep(rng.uniform(0.3, span))
        p.send_signal(signal.SIGKILL)
        p.wait(timeout=60)
        again = _cli([*KILL_RUN, "--out", str(run)])
        assert again.wait(timeout=300) == 0, again.stdout.read()
        state, y, bounds = _weights(run)
        assert bounds == want[2] and torch.equal(y, want[1])
        assert all(torch.equal(state[k], want[0][k]) for k in want[0])
        assert (run / "job.json").exists() and (run / "summary.json").exists()
        assert not list(run.glob("*.tmp")) and not list(run.glob(".*.tmp"))


# ---- truncation and bit flips of every kind of file the package trusts ---------------------

CORRUPTIONS = {
    "empty": lambda b, r: b"",
    "half": lambda b, r: b[: len(b) // 2],
    "last byte gone": lambda b, r: b.rstrip()[:-1],
    "one bit flipped": lambda b, r: _flip(b, r.randrange(len(b))),
    "a byte near the start": lambda b, r: _flip(b, r.randrange(min(64, len(b)))),
}


def _flip(b: bytes, at: int) -> bytes:
    a = bytearray(b)
    a[at] ^= 1 << (at % 8)
    return bytes(a)


def _corrupt(path, how, seed=0):
    import random

    path.write_bytes(CORRUPTIONS[how](path.read_bytes(), random.Random(seed)))


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    return _train_once(tmp_path_factory, "corrupt_me")


@pytest.mark.parametrize("how", CORRUPTIONS)
@pytest.mark.parametrize("name", ["checkpoint.pt", "job.json"])
def test_a_corrupt_run_directory_file_is_an_error_naming_it(name, how, run_dir, capsys):
    """A run directory holds the user's run: a damaged checkpoint is reported, never replaced
    by a retrained one nor measured. A damaged job record stops `evaluate`; `train` with the
    run's arguments writes it anew, once the checkpoint has shown the run is theirs."""
    from evae_lite.cli import main
    from evae_lite.sealed import read_sealed_json

    good = (run_dir / name).read_bytes()
    _corrupt(run_dir / name, how)
    bad = (run_dir / name).read_bytes()
    try:
        capsys.readouterr()
        ev = ["evaluate", "--run", str(run_dir), "--parzen-samples", "0", "--no-progress"]
        assert main(ev) == 2
        err = capsys.readouterr().err
        assert str(run_dir / name) in err and "Traceback" not in err, err
        assert (run_dir / name).read_bytes() == bad  # left as found, for a look
        if name == "checkpoint.pt":
            assert main([*TRAIN, "--out", str(run_dir)]) == 2
            assert str(run_dir / name) in capsys.readouterr().err
            assert (run_dir / name).read_bytes() == bad
        else:
            assert main([*TRAIN, "--out", str(run_dir)]) == 0
            assert read_sealed_json(run_dir / name) == json.loads(good)["value"]
    finally:
        (run_dir / name).write_bytes(good)


def _job():
    t = TrainConfig(epochs=2, batch_size=50)
    return Job(
        ModelConfig("evae", D=4, K=2, H=16), t, train_size=200, eval_size=100, parzen_samples=100
    )


@pytest.mark.parametrize("how", CORRUPTIONS)
@pytest.mark.parametrize(
    "kind,name",
    [
        ("model", "checkpoint.pt"),
        ("model", "manifest.json"),
        ("job", "result.json"),
        ("job", "manifest.json"),
    ],
)
def test_a_corrupt_cache_entry_is_recomputed_from_scratch(
    kind, name, how, data_dir, tmp_path, monkeypatch
):
    """A damaged cache entry is moved aside and recomputed when next asked for: the same
    result (or model) as before, bit for bit, and never the damaged one."""
    from evae_lite.runs import run, trained

    def ask():
        if kind == "job":
            return run(_job())
        res = trained(_job())
        bounds = [(h.epoch, h.train_cost, h.val_bound, h.group_sizes) for h in res.history]
        return {k: v.clone() for k, v in res.model.state_dict().items()}, bounds

    monkeypatch.setenv("EVAE_LITE_RESULTS", str(tmp_path))
    first = ask()
    (target,) = [p for p in tmp_path.glob(f"{kind}-*/{name}")]
    _corrupt(target, how)
    with pytest.warns(UserWarning, match="corrupt"):
        again = ask()
    if kind == "job":
        assert again == first
    else:
        assert again[1] == first[1]
        assert all(torch.equal(again[0][k], first[0][k]) for k in first[0])
    assert list(target.parent.glob(f"corrupt-*/{name}")) or name == "manifest.json"


@pytest.mark.parametrize("how", CORRUPTIONS)
def test_a_corrupt_data_file_is_an_error_naming_it(how, data_dir, tmp_path):
    import shutil

    from evae_lite.data import DataError, load_dataset

    for name in ("mnist.npz", "olivetti_faces.npz"):
        shutil.copy(f"{data_dir}/{name}", tmp_path / name)
    _corrupt(tmp_path / "mnist.npz", how)
    with pytest.raises(DataError, match="mnist.npz"):
        load_dataset("mnist", data_dir=tmp_path)


# ---- a run directory tells the truth -------------------------------------------------------

TINY = ["train", "--D", "4", "--H", "8", "--train-size", "100", "--eval-size", "50"]
TINY += ["--scale", "smoke", "--no-progress"]
EV = ["--eval-size", "20", "--parzen-samples", "30", "--no-progress"]


def _one_line_error(argv, capsys) -> str:
    from evae_lite.cli import main

    assert main(argv) == 2, argv
    err = capsys.readouterr().err
    assert err.startswith("error: ") and len(err.strip().splitlines()) == 1, err
    return err


def _interrupted_run(run, monkeypatch, capsys, epochs=3):
    """A train command stopped by Ctrl-C in its second epoch: one line, exit code 130."""
    import evae_lite.train.loop as loop
    from evae_lite.cli import main

    real, calls = loop._minibatches, []

    def ctrl_c_in_epoch_two(*a, **k):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*a, **k)

    monkeypatch.setattr(loop, "_minibatches", ctrl_c_in_epoch_two)
    argv = [*TINY, "--epochs", str(epochs), "--out", str(run)]
    assert main(argv) == 130
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("interrupted"), err
    monkeypatch.setattr(loop, "_minibatches", real)
    return argv


def test_evaluate_and_sample_never_train(tmp_path, capsys, data_dir):
    """Finding: a run directory without its checkpoint was silently retrained by evaluate."""
    from evae_lite.cli import main

    run = tmp_path / "run"
    assert main([*TINY, "--epochs", "1", "--out", str(run)]) == 0
    (run / "checkpoint.pt").unlink()
    for cmd in (["evaluate", "--run", str(run), *EV], ["sample", "--run", str(run)]):
        err = _one_line_error(cmd, capsys)
        assert "no checkpoint.pt" in err and "train" in err
        assert not (run / "checkpoint.pt").exists()


def test_outputs_of_a_model_that_is_gone_are_removed_saying_so(tmp_path, capsys, data_dir):
    """Finding: retrained with another configuration, the run kept the old evaluation.json and
    samples.png beside the new model."""
    from evae_lite.cli import main

    run = tmp_path / "run"
    assert main([*TINY, "--epochs", "1", "--out", str(run)]) == 0
    assert main(["evaluate", "--run", str(run), *EV]) == 0
    assert main(["sample", "--run", str(run), "--n", "4"]) == 0
    old = json.loads((run / "evaluation.json").read_text())
    assert old["checkpoint_sha256"] and not old["partial"]
    capsys.readouterr()
    (run / "checkpoint.pt").unlink()  # the checkpoint error's own advice
    assert main([*TINY, "--epochs", "1", "--H", "9", "--out", str(run)]) == 0
    out = capsys.readouterr().out
    for name in ("evaluation.json", "samples.png"):
        assert not (run / name).exists() and f"removed {run / name}" in out
    assert json.loads((run / "summary.json").read_text())["model_cfg"]["H"] == 9


def test_an_unfinished_run_is_refused_unless_asked_and_then_says_partial(
    tmp_path, capsys, monkeypatch, data_dir
):
    """Finding: sample on a run killed after its first checkpoint sampled the half-trained
    model without a word. Ctrl-C: one line, exit 130; the same command resumes."""
    from evae_lite.cli import main

    run = tmp_path / "run"
    argv = _interrupted_run(run, monkeypatch, capsys)
    for cmd in (["evaluate", "--run", str(run), *EV], ["sample", "--run", str(run), "--n", "4"]):
        err = _one_line_error(cmd, capsys)
        assert "unfinished: 1 of 3 epochs" in err and "--partial" in err
        assert main([*cmd, "--partial"]) == 0
        assert "PARTIAL" in capsys.readouterr().out or cmd[0] == "sample"
    assert json.loads((run / "evaluation.json").read_text())["partial"] is True
    assert main(argv) == 0  # resumes to the end; what described epoch 1 goes
    assert not (run / "evaluation.json").exists() and not (run / "samples.png").exists()
    assert json.loads((run / "summary.json").read_text())["epochs"] == 3


@pytest.mark.parametrize(
    "flags,needle",
    [
        (["--schedule", "burda", "--stages", "2", "--epochs", "2"], "--epochs=2 is not allowed"),
        (["--kind", "likelihood", "--epochs", "3"], "--epochs=3 is not allowed with the burda"),
        (["--stages", "2"], "--stages=2 is not allowed with the constant schedule"),
        (["--tau-start", "2"], "--tau-start=2.0 is not allowed with --q-y point"),
        (["--free-bits", "1e39"], "free_bits=1e+39 is not allowed: beyond what float32"),
        (["--kl-weight=-1e39"], "kl_weight=-1e+39 is not allowed: beyond what float32"),
        (["--model", "mvae", "--K", "2", "--component-H", "1000000000"], "does not fit in memory"),
    ],
)
def test_a_flag_that_cannot_apply_is_refused_naming_it(flags, needle, tmp_path, capsys, data_dir):
    """Findings: --epochs under the burda schedule trained the schedule's length and recorded
    the flag; --component-H escaped the memory check; --free-bits 1e39 overflowed float32."""
    err = _one_line_error([*TINY, *flags, "--out", str(tmp_path / "r")], capsys)
    assert needle in err, err
    assert not (tmp_path / "r" / "checkpoint.pt").exists()


def test_evaluate_refuses_what_it_would_ignore_or_not_fit(tmp_path, capsys, data_dir):
    from evae_lite.cli import main

    run = tmp_path / "run"
    assert main([*TINY, "--epochs", "1", "--out", str(run)]) == 0
    err = _one_line_error(["evaluate", "--run", str(run), "--iwae-size", "5"], capsys)
    assert "--iwae-size=5 is not allowed without --iwae-k" in err
    big = ["evaluate", "--run", str(run), "--parzen-samples", "10000000"]
    assert "does not fit in memory" in _one_line_error(big, capsys)


def test_a_sealed_file_from_another_version_is_named_with_its_field(tmp_path, capsys, data_dir):
    """Finding: a validly sealed job.json with a field this version does not know ended in a
    TypeError traceback."""
    from evae_lite.cli import main
    from evae_lite.sealed import read_sealed_json, write_sealed_json

    run = tmp_path / "run"
    assert main([*TINY, "--epochs", "1", "--out", str(run)]) == 0
    job = read_sealed_json(run / "job.json")
    write_sealed_json(run / "job.json", {**job, "version": "7.0", "new_thing": 1})
    err = _one_line_error(["evaluate", "--run", str(run), *EV], capsys)
    assert str(run / "job.json") in err and "'new_thing'" in err and "7.0" in err
    job["model"]["wings"] = 2
    write_sealed_json(run / "job.json", job)
    err = _one_line_error(["sample", "--run", str(run)], capsys)
    assert "'wings'" in err and "ModelConfig" in err


def test_a_job_checks_the_types_of_its_fields():
    """Finding: Job accepted a dict for `model` and failed deep inside training."""
    import numpy as np

    with pytest.raises(TypeError, match=r"model=\{.*need a ModelConfig \(e\.g\. ModelConfig"):
        Job({"model": "vae"}, TrainConfig())
    with pytest.raises(TypeError, match="train=.*need a TrainConfig"):
        Job(ModelConfig(), None)
    job = Job(ModelConfig(), TrainConfig(), eval_size=np.int64(5), parzen_samples=np.int32(7))
    assert job.eval_size == 5 and type(job.eval_size) is int and type(job.parzen_samples) is int


def test_ctrl_c_in_a_real_process_stops_with_one_line_and_resumes_exactly(data_dir, tmp_path):
    import signal
    import time

    argv = [*KILL_RUN, "--epochs", "6"]
    ref = _cli([*argv, "--out", str(tmp_path / "ref")])
    assert ref.wait(timeout=300) == 0, ref.stdout.read()
    run = tmp_path / "run"
    p = _cli([*argv, "--out", str(run)])
    while not (run / "checkpoint.pt").exists() and p.poll() is None:
        time.sleep(0.05)
    p.send_signal(signal.SIGINT)
    out = p.stdout.read()
    if p.wait(timeout=60) == 0:
        pytest.skip("the run ended before the signal arrived")
    assert p.returncode == 130, out
    assert out.strip().splitlines()[-1].startswith("interrupted") and "Traceback" not in out
    assert _cli([*argv, "--out", str(run)]).wait(timeout=300) == 0
    a, b = _weights(tmp_path / "ref"), _weights(run)
    assert all(torch.equal(a[0][k], b[0][k]) for k in a[0]) and torch.equal(a[1], b[1])


# ---- flags drawn together: conflicts between them are the fuzzer's to find -----------------


# for each option, values of its own kind, so that most draws run and options meet each other
def _plausible(dest, kind):
    from evae_lite.model.config import MODELS, Q_Y
    from evae_lite.runs.scales import KINDS, SCALE_NAMES
    from evae_lite.train.config import SCHEDULES
    from evae_lite.train.objective import KL_SCHEDULES

    words = dict(model=MODELS, q_y=Q_Y, schedule=SCHEDULES, kl_schedule=KL_SCHEDULES)
    words.update(dataset=("mnist", "faces"), device=("cpu", "auto"), kind=KINDS)
    words.update(scale=SCALE_NAMES)
    if dest in words:
        return st.sampled_from(list(words[dest]))
    if kind is float:
        return st.sampled_from(["0.5", "0.25", "0", "2", "1e-3"])
    return st.sampled_from(["1", "2", "3", "4", "8"])


def _drawn_option():
    return st.sampled_from(_options("train")).flatmap(
        lambda o: st.tuples(st.just(o), st.one_of(*[_plausible(o[1], o[2])] * 3, TYPED))
    )


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    drawn=st.lists(
        _drawn_option(),
        min_size=2,
        max_size=3,
        unique_by=lambda t: t[0][0],
    )
)
@example(drawn=[(("--schedule", "schedule", None), "burda"), (("--epochs", "epochs", None), "2")])
@example(drawn=[(("--kind", "kind", None), "likelihood"), (("--epochs", "epochs", None), "3")])
def test_flags_drawn_together_apply_or_are_refused(drawn, tmp_path_factory, capsys, data_dir):
    """Two or three options at once: the run either refuses them in one line, or records each
    value given and trains the length its schedule says, with every flag in effect."""
    from evae_lite.cli import build_parser
    from evae_lite.sealed import read_sealed_json

    out = tmp_path_factory.mktemp("combo")
    flags = [f"{flag}={text}" for (flag, _, _), text in drawn]
    if _main([*TINY, *flags, "--out", str(out)], capsys) != 0:
        return
    job = read_sealed_json(out / "job.json")
    parsed = build_parser().parse_args([*TINY, *flags])
    for (_, dest, _), _text in drawn:
        if dest == "kind":
            continue  # a row of the table of scales: the sizes follow it
        where = next(d for d in (job["model"], job["train"], job) if dest in d)
        assert where[dest] == getattr(parsed, dest), (flags, dest)
    t = TrainConfig(**job["train"])
    summary = json.loads((out / "summary.json").read_text())
    assert summary["epochs"] == t.total_epochs, flags
    given = {dest for (_, dest, _), _ in drawn}
    assert "epochs" not in given or t.schedule == "constant", flags
    assert "stages" not in given or t.schedule == "burda", flags
    q_y = job["model"]["q_y"]
    assert not given & {"tau_start", "tau_end"} or q_y in ("gumbel", "gumbel_st"), flags
