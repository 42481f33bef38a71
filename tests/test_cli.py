import json
import subprocess
import sys

import pytest

from evae_lite.cli import main
from evae_lite.sealed import read_sealed_json


@pytest.mark.parametrize("cmd", ["train", "evaluate", "sample"])
def test_help(cmd):
    r = subprocess.run(
        [sys.executable, "-m", "evae_lite", cmd, "--help"], capture_output=True, text=True
    )
    assert r.returncode == 0 and "usage" in r.stdout and "--" in r.stdout


@pytest.mark.parametrize(
    "args,needle",
    [
        (["--model", "evae", "--D", "8", "--K", "9"], "K=9 is larger than the latent size D=8"),
        (["--model", "evae", "--D", "8", "--K", "3"], "leaves dimensions 6..7 of D=8 uncovered"),
        (["--model", "transformer"], "model='transformer' is not allowed"),
        (["--H", "0"], "argument --H: '0' is not allowed"),
        (["--epochs", "-1"], "argument --epochs: '-1' is not allowed"),
        (["--dataset", "cifar"], "dataset='cifar' is not allowed: choose one of mnist, faces"),
        (["--scale", "huge"], "argument --scale: invalid choice: 'huge'"),
        (["--kl-schedule", "warmup"], "kl_schedule='warmup' needs kl_warmup_steps"),
        (["--free-bits", "-1"], "free_bits=-1.0 is not allowed"),
        (["--q-y", "gumbel"], "q_y='gumbel' is not allowed for model='vae'"),
        (["--model", "evae", "--D", "8", "--K", "2", "--tau-end", "3"], "tau_end=3.0 is above"),
    ],
)
def test_bad_values_fail_at_once(args, needle, capsys, data_dir, tmp_path):
    assert main(["train", *args, "--out", str(tmp_path)]) == 2
    assert needle in capsys.readouterr().err


def test_train_evaluate_sample_end_to_end(capsys, data_dir, tmp_path):
    run = tmp_path / "run"
    argv = ["train", "--model", "evae", "--D", "6", "--K", "2", "--H", "16", "--epochs", "1"]
    argv += ["--train-size", "500", "--out", str(run), "--no-progress"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    for needle in ("active units:", "of 6 (A_u > 0.02)", "per-unit KL:", "validation bound:"):
        assert needle in out
    summary = json.loads((run / "summary.json").read_text())
    assert summary["n_train"] == 500 and len(summary["unit_kl_sorted_by_activity"]) == 6
    assert main(["train", *argv[1:]]) == 0  # finished run: resumes at its end, retrains nothing
    argv = ["evaluate", "--run", str(run), "--eval-size", "100", "--parzen-samples", "300"]
    assert main([*argv, "--iwae-k", "3", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "Parzen log-density" in out and "L_3:" in out
    ev = json.loads((run / "evaluation.json").read_text())
    assert ev["parzen"]["n_samples"] == 300 and ev["iwae"]["k"] == 3
    assert ev["features"] is not None
    # too few samples for the classifier features' nearest neighbours: said, and not measured
    assert main([*argv[:5], "--parzen-samples", "3", "--no-progress"]) == 0
    assert "the classifier-feature measure is skipped" in capsys.readouterr().out
    assert json.loads((run / "evaluation.json").read_text())["features"] is None
    assert main(["sample", "--run", str(run), "--n", "20"]) == 0
    assert (run / "samples.png").read_bytes()[:4] == b"\x89PNG"


def test_mvae_prints_both_parameter_counts(capsys, data_dir, tmp_path):
    argv = ["train", "--model", "mvae", "--D", "8", "--K", "4", "--H", "64", "--epochs", "1"]
    assert main([*argv, "--train-size", "200", "--out", str(tmp_path), "--no-progress"]) == 0
    assert "eVAE of the same D, K, L, H" in capsys.readouterr().out


def test_faces_use_the_gaussian_decoder(capsys, data_dir, tmp_path):
    argv = ["train", "--dataset", "faces", "--model", "evae", "--D", "10", "--K", "5"]
    argv += ["--H", "32", "--epochs", "1", "--out", str(tmp_path), "--no-progress"]
    assert main(argv) == 0
    s = json.loads((tmp_path / "summary.json").read_text())
    assert s["model_cfg"]["likelihood"] == "gaussian" and s["model_cfg"]["x_dim"] == 48 * 48


def test_another_run_in_the_same_directory_is_refused_by_name(capsys, data_dir, tmp_path):
    argv = ["train", "--model", "vae", "--D", "4", "--H", "16", "--epochs", "1"]
    argv += ["--train-size", "200", "--out", str(tmp_path), "--no-progress"]
    assert main(argv) == 0
    job = (tmp_path / "job.json").read_text()
    assert main([*argv, "--H", "17"]) == 2
    err = capsys.readouterr().err
    assert "model.H: run 16, now 17" in err
    assert (tmp_path / "job.json").read_text() == job  # the run's record is untouched


@pytest.mark.parametrize(
    "argv,needle",
    [
        (["train", "--epochs", "0"], "argument --epochs: '0' is not allowed"),
        (["train", "--train-size", "-3"], "argument --train-size: '-3' is not allowed"),
        (["train", "--eval-size", "ten"], "argument --eval-size: 'ten' is not allowed"),
        (["evaluate", "--run", "r", "--parzen-samples", "-1"], "'-1' is not allowed"),
        (["evaluate", "--run", "r", "--iwae-k", "-5"], "need an integer >= 0"),
        (["sample", "--run", "r", "--n", "-5"], "argument --n: '-5' is not allowed"),
        (["sample", "--run", "r", "--ncol", "0"], "argument --ncol: '0' is not allowed"),
    ],
)
def test_bad_counts_fail_where_they_are_parsed(argv, needle, capsys):
    """Sizes are checked by argparse, before anything runs: never a Python slice of -3."""
    assert main(argv) == 2
    assert needle in capsys.readouterr().err


def _user_mistake(argv, capsys) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "Traceback" not in err
    return err


def test_bad_paths_devices_and_sizes_are_one_line_errors(capsys, data_dir, tmp_path):
    tiny = ["train", "--D", "4", "--H", "8", "--epochs", "1", "--train-size", "100"]
    f = tmp_path / "a_file"
    f.write_text("x")
    assert "is a file" in _user_mistake([*tiny, "--out", str(f)], capsys)
    assert "--train-size=60000 is not allowed for mnist: need 1..50000" in _user_mistake(
        ["train", "--train-size", "60000", "--out", str(tmp_path / "r")], capsys
    )
    if not __import__("torch").cuda.is_available():
        err = _user_mistake([*tiny, "--device", "cuda", "--out", str(tmp_path / "c")], capsys)
        assert "--device='cuda' is not allowed here" in err
    err = _user_mistake([*tiny, "--H", "10000000", "--out", str(tmp_path / "h")], capsys)
    assert "H=10000000" in err and "GiB" in err
    assert "has no job.json" in _user_mistake(["evaluate", "--run", str(tmp_path)], capsys)
    run = tmp_path / "run"
    assert main([*tiny, "--out", str(run), "--no-progress"]) == 0
    capsys.readouterr()
    err = _user_mistake(["sample", "--run", str(run), "--out", str(tmp_path)], capsys)
    assert "name a PNG file" in err
    err = _user_mistake(["sample", "--run", str(run), "--out", str(tmp_path / "no/x.png")], capsys)
    assert "name a PNG file" in err


def test_train_takes_its_sizes_from_the_table_of_scales(capsys, data_dir, tmp_path):
    """--scale names a row of the table of scales; flags given on top of it win."""
    from evae_lite.runs import get_scale

    s = get_scale("smoke")
    argv = ["train", "--D", "4", "--H", "8", "--scale", "smoke", "--no-progress"]
    assert main([*argv, "--out", str(tmp_path / "a")]) == 0
    summary = json.loads((tmp_path / "a" / "summary.json").read_text())
    assert (summary["n_train"], summary["epochs"]) == (s.train_size, s.epochs)
    job = read_sealed_json(tmp_path / "a" / "job.json")
    assert (job["eval_size"], job["parzen_samples"], job["scale"]) == (s.eval_size, 1000, "smoke")
    assert main([*argv, "--epochs", "1", "--train-size", "300", "--out", str(tmp_path / "b")]) == 0
    summary = json.loads((tmp_path / "b" / "summary.json").read_text())
    assert (summary["n_train"], summary["epochs"]) == (300, 1)


def test_two_train_commands_on_one_run_directory(data_dir, tmp_path):
    """Started together on one directory, both finish (the second waits for the first and
    resumes at its end) and leave the checkpoint a single run makes."""
    import os

    import torch

    from evae_lite.train import load_checkpoint

    argv = [sys.executable, "-m", "evae_lite", "train", "--D", "4", "--H", "8", "--epochs", "4"]
    argv += ["--train-size", "200", "--eval-size", "50", "--no-progress"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    alone = tmp_path / "alone"
    subprocess.run([*argv, "--out", str(alone)], check=True, capture_output=True, env=env)
    for pair in range(2):
        d = tmp_path / f"pair{pair}"
        procs = [
            subprocess.Popen(
                [*argv, "--out", str(d)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env
            )
            for _ in range(2)
        ]
        for p in procs:
            out, err = p.communicate(timeout=300)
            assert p.returncode == 0, err.decode()[-2000:]
        a, b = load_checkpoint(alone / "checkpoint.pt"), load_checkpoint(d / "checkpoint.pt")
        assert a["epoch"] == b["epoch"] == 4
        assert all(torch.equal(v, b["model"][k]) for k, v in a["model"].items())


def test_a_corrupt_run_directory_is_refused_not_measured(capsys, data_dir, tmp_path):
    """One flipped byte in a run's checkpoint or job record is an error naming the file
    (finding: it loaded, printed L_10: nan and wrote NaN into evaluation.json)."""
    run = tmp_path / "run"
    tiny = ["train", "--D", "4", "--H", "8", "--epochs", "1", "--train-size", "100"]
    assert main([*tiny, "--out", str(run), "--no-progress"]) == 0
    ev = ["evaluate", "--run", str(run), "--eval-size", "20", "--parzen-samples", "0"]
    ev += ["--iwae-k", "10", "--iwae-size", "5", "--no-progress"]
    ckpt, record = run / "checkpoint.pt", run / "job.json"
    good = ckpt.read_bytes()
    capsys.readouterr()
    for at in (len(good) // 3, len(good) - 5):  # inside the weights; near the end
        bad = bytearray(good)
        bad[at] ^= 0x10
        ckpt.write_bytes(bytes(bad))
        err = _user_mistake(ev, capsys)
        assert str(ckpt) in err and "corrupt" in err
        assert not (run / "evaluation.json").exists()
    ckpt.write_bytes(good)
    text = record.read_text()
    record.write_text(text.replace('"eval_size": ', '"eval_size": 1', 1))
    err = _user_mistake(ev, capsys)
    assert str(record) in err and "corrupt" in err
    record.write_text(text)
    assert main(ev) == 0
    assert json.loads((run / "evaluation.json").read_text())["iwae"]["k"] == 10


@pytest.mark.parametrize(
    "flags",
    [
        ["--kl-schedule", "cyclical", "--kl-cycles", "2", "--kl-ramp", "0.5"],
        ["--free-bits", "0.25"],
        ["--model", "evae", "--K", "2", "--q-y", "gumbel_st", "--tau-start", "2"],
    ],
    ids=["cyclical", "free-bits", "learned-q"],
)
def test_the_remedies_train_from_the_command_line(flags, capsys, data_dir, tmp_path):
    argv = ["train", "--D", "6", "--H", "16", "--epochs", "1", "--train-size", "300"]
    assert main([*argv, *flags, "--out", str(tmp_path), "--no-progress"]) == 0
    assert "validation bound:" in capsys.readouterr().out
