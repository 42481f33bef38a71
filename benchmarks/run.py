"""Speed of evae_lite against the machine's matrix-product ceiling, a tutorial-style reference
and the library a user would pick instead (pythae).

    python benchmarks/run.py [--threads N] [--quick] [--json out.json]
                             [--clock wall|cpu] [--device cpu|cuda[:N]]

What is measured (issue 5), all in one run with torch.set_num_threads(N):

1. the ceiling: the best float32 rate of the forward matrix products these models use, each
   shape the best of several repeats into a preallocated output (so no page faults are
   counted), in both the plain (x @ W) and the nn.Linear (x @ W.T) layout. The ceiling is
   the fastest shape.
2. one training epoch of the MNIST VAE 784-500-500-50 and of the eVAE 784-500-500-48 with
   K = stride = 4 (12 epitomes), batch 100, on random binary data, through
   evae_lite.train.train (train/loop.py); for the eVAE the per-epoch assignment pass
   (assign_epitomes) and the training pass are timed separately.
   For the VAE, also the time its matrix products take inside an epoch (torch.profiler's
   time of their kernels): at the rate they reach there, the epoch could reach no more than
   that share of the ceiling, whatever the rest of the step cost.
3. the same work written the way a typical tutorial does it (the reference, below).
4. the Parzen window grid of 20 bandwidths (parzen_log_density) against one bare pass over
   the distance matrix, and L_5000 (iwae.log_likelihood) with its peak memory, for Table 2's
   model 784-200-200-50 (the target) and, for comparison, the same without the fused
   Bernoulli likelihood (fused=False: model.log_weights) and the 784-500-500-50 VAE.
5. the peer: the same VAE trained by pythae's BaseTrainer (`pip install -r
   benchmarks/requirements.txt`), a whole train() call of one epoch against ours,
   interleaved, the median of 3 each; without pythae the row says "not installed".
   5b: one more epoch of each under torch.profiler, its time split into parts (matrix
   products, optimizer, random numbers, data loading, other ops, Python between ops): where
   the peer's time goes that ours does not, and what is left of ours outside the products.
6. grouped seeds: the time per model-epoch of 1 and of 5 seeds trained one after another
   (train) and as one grouped model (evae_lite.grouped.train_grouped), in the same run.
7. a table and the project's targets (PASS/MISS; SKIP for a row that could not run), also
   written as JSON.

--device cuda runs every timed piece on the GPU (data resident there, each clock reading
waits for the queued kernels); a device that is not there is an error.

--quick: 5,000 training examples (1/10 epoch), 2,000 x 2,000 Parzen, L_5000 on 20 images.
--clock cpu: time this process's CPU time instead of wall time, where other work competes
for the cores.

The package's hot paths (train, assign_epitomes, parzen_log_density, log_likelihood) tell
glibc to keep freed memory (evae_lite.memory); the benchmark does so first of all, so that the
ceiling, our code and the references all run under the same allocator setting.

Work is counted analytically, matrix products only (2*m*n*k each): training is the forward
products, the weight gradients of every layer and the input gradients of every layer but the
first (the data need no gradient), i.e. 3x forward minus the first layer's input gradient.
The eVAE assignment counts the encoder on B rows and the decoder on B*Y rows; Parzen counts
the distance matrix product; L_k counts the encoder on B rows and the decoder on k*B rows.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import math
import os
import platform
import resource
import sys
import time
from pathlib import Path
from types import SimpleNamespace
from unittest import mock

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run from a checkout without installing the package

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402
from torch.utils.data import DataLoader, TensorDataset  # noqa: E402

import evae_lite.train.loop as train_module  # noqa: E402
from evae_lite import ModelConfig, TrainConfig  # noqa: E402
from evae_lite.evaluate.iwae import log_likelihood  # noqa: E402
from evae_lite.evaluate.parzen import DEFAULT_SIGMAS, needs_float64, parzen_log_density  # noqa: E402
from evae_lite.memory import keep_freed_memory  # noqa: E402
from evae_lite.model import build_model  # noqa: E402
from evae_lite.train.assignment import assign_epitomes  # noqa: E402
from evae_lite.train.device import resolve_device  # noqa: E402

P = 784  # MNIST pixels
H = 500  # hidden units of the paper's MNIST models
BATCH = 100
VAE_D = 50
EVAE_D, EVAE_K = 48, 4  # stride = K: 12 non-overlapping epitomes
EVAE_Y = EVAE_D // EVAE_K
ASSIGN_BATCH = 4096 // EVAE_Y  # assign_epitomes' batch: max_rows=4096 decoder rows
LK = 5000
LK_H = 200  # Table 2's model: 784-200-200-50
LK_MAX_ROWS = 1 << 12  # log_likelihood's default max_rows
REPEATS = 2  # training epochs and assignment passes: the best of REPEATS

TARGETS = {  # name: (row, field, comparison, threshold)
    "VAE training >= 65% of ceiling": ("vae_train", "pct_ceiling", ">=", 65.0),
    "VAE training >= 1.3x reference": ("vae_train", "ratio", ">=", 1.3),
    "eVAE assignment >= 70% of ceiling": ("evae_assign", "pct_ceiling", ">=", 70.0),
    "Parzen grid <= 1.5x one distance pass": ("parzen_grid", "ratio", "<=", 1.5),
    "L_5000 >= 60% of ceiling": ("lk_table2", "pct_ceiling", ">=", 60.0),
    "VAE training >= 1.5x pythae": ("vae_train_call", "ratio", ">=", 1.5),
    # the rule for adopting grouped seeds in the pipeline
    "grouped seeds (S=5) >= 1.3x separate": ("seeds_grouped_s", "ratio", ">=", 1.3),
}


# --------------------------------------------------------------------------------------------
# Work counts


def mlp_sizes(in_dim: int, hidden: int, layers: int, out_dim: int) -> list[int]:
    return [in_dim] + [hidden] * layers + [out_dim]


def forward_flops(sizes: list[int], rows: int) -> int:
    """2*m*n*k of every layer of an MLP with these layer sizes, on `rows` rows."""
    return sum(2 * rows * a * b for a, b in zip(sizes, sizes[1:]))


def training_flops(encoder: list[int], decoder: list[int], rows: int) -> int:
    """Forward + weight gradients + input gradients, except the data's input gradient."""
    fwd = forward_flops(encoder, rows) + forward_flops(decoder, rows)
    return 3 * fwd - 2 * rows * encoder[0] * encoder[1]


def vae_nets(D: int, hidden: int = H) -> tuple[list[int], list[int]]:
    """Layer sizes of the encoder (to mean and log-variance) and Bernoulli decoder, L = 2."""
    return mlp_sizes(P, hidden, 2, 2 * D), mlp_sizes(D, hidden, 2, P)


# --------------------------------------------------------------------------------------------
# Timing helpers

# The clock of every timing: wall time, or with --clock cpu this process's CPU time (for a
# machine where other work competes for the cores: time spent waiting for a core is not
# counted; at 1 thread only, since the CPU time of N threads adds up). On a GPU every reading
# waits for the device's queued work first, so a time covers the kernels, not their launch.
base_clock = time.perf_counter
DEVICE = torch.device("cpu")  # --device


def clock() -> float:
    if DEVICE.type == "cuda":
        torch.cuda.synchronize(DEVICE)
    return base_clock()


def median_time(fns: list, repeats: int) -> list[float]:
    """Median time of `repeats` calls of each fn, the fns called in turn (interleaved, so that
    each sees the same conditions), after one warm-up call of each. Each fn times itself."""
    for fn in fns:
        fn()
    times: list[list[float]] = [[] for _ in fns]
    for _ in range(repeats):
        for t, fn in zip(times, fns):
            t.append(fn())
    return [sorted(t)[len(t) // 2] for t in times]


def best_time(fn, repeats: int) -> float:
    """Best time of `repeats` calls of fn (after one warm-up call)."""
    fn()
    best = math.inf
    for _ in range(repeats):
        t0 = clock()
        fn()
        best = min(best, clock() - t0)
    return best


def copy_rate(mib: int = 64) -> float:
    """GB/s of copying `mib` MiB (read + write), best of 5: the memory side of the machine's
    state, which moves the memory-bound parts of training (Adam, elementwise ops)."""
    a = torch.ones(mib << 18, device=DEVICE)
    b = torch.empty_like(a)
    return 2 * a.numel() * 4 / best_time(lambda: b.copy_(a), 5) / 1e9


def random_binary(n: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(n, P, generator=g) < 0.5).float().to(DEVICE)


def rss_mib(field: str) -> float:
    """VmHWM (peak) or VmRSS (current) of this process, MiB."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return math.nan


def reset_peak_rss() -> bool:
    """Reset VmHWM to the current RSS (Linux); False where that is not allowed."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def device_name() -> str:
    if DEVICE.type == "cuda":
        return f"{DEVICE} ({torch.cuda.get_device_name(DEVICE)})"
    return str(DEVICE)


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


# --------------------------------------------------------------------------------------------
# 1. The ceiling


def matmul_shapes(n_parzen: int, lk_rows: int) -> list[tuple[str, str, int, int, int]]:
    """(workload, what, m, k, n) of the forward products of the benchmarked work."""
    enc, dec = vae_nets(EVAE_D)
    rows = ASSIGN_BATCH * EVAE_Y
    return [
        ("VAE training", "VAE enc 1", BATCH, P, H),
        ("VAE training", "VAE enc 2", BATCH, H, H),
        ("VAE training", "VAE enc head", BATCH, H, 2 * VAE_D),
        ("VAE training", "VAE dec 1", BATCH, VAE_D, H),
        ("VAE training", "VAE dec 2", BATCH, H, H),
        ("VAE training", "VAE dec head", BATCH, H, P),
        ("eVAE assignment", "assign enc 1", ASSIGN_BATCH, P, H),
        ("eVAE assignment", "assign enc 2", ASSIGN_BATCH, H, H),
        ("eVAE assignment", "assign enc head", ASSIGN_BATCH, H, enc[-1]),
        ("eVAE assignment", "assign dec 1", rows, dec[0], H),
        ("eVAE assignment", "assign dec 2", rows, H, H),
        ("eVAE assignment", "assign dec head", rows, H, P),
        ("Parzen", "Parzen distances", 500, P, n_parzen),
        ("L_5000 (Table 2)", "L_k dec 1 (Table 2)", lk_rows, VAE_D, LK_H),
        ("L_5000 (Table 2)", "L_k dec 2 (Table 2)", lk_rows, LK_H, LK_H),
        ("L_5000 (Table 2)", "L_k dec head (Table 2)", lk_rows, LK_H, P),
    ]


def matmul_rate(m: int, k: int, n: int, seconds: float) -> float:
    """Best GFLOP/s of (m, k) @ (k, n), float32, plain or nn.Linear layout, output reused."""
    a = torch.randn(m, k, device=DEVICE)
    b = torch.randn(k, n, device=DEVICE)
    w = torch.randn(n, k, device=DEVICE)
    out = torch.empty(m, n, device=DEVICE)
    flops = 2 * m * n * k
    calls = max(1, round(seconds * 80e9 / flops))  # about `seconds` per timing at 80 GFLOP/s

    def plain():
        for _ in range(calls):
            torch.mm(a, b, out=out)

    def linear():
        for _ in range(calls):
            torch.mm(a, w.T, out=out)

    t = min(best_time(plain, 5), best_time(linear, 5))
    return flops * calls / t / 1e9


def measure_ceiling(shapes, seconds: float) -> tuple[float, list[dict], dict]:
    """The ceiling (the fastest shape), every shape's rate, and for every workload the
    flop-weighted rate of its own shapes (the time its products would take at their rates)."""
    print("\n1. float32 matrix-product rate, forward shapes (best of 5, output reused)")
    rates = []
    for workload, what, m, k, n in shapes:
        rate = matmul_rate(m, k, n, seconds)
        flops = 2 * m * n * k
        rates.append(
            {
                "workload": workload,
                "what": what,
                "shape": f"{m}x{k} @ {k}x{n}",
                "mkn": [m, k, n],
                "gflop": flops / 1e9,
                "gflops": rate,
            }
        )
        print(f"   {what:24s} {m:6d}x{k:<4d} @ {k:4d}x{n:<6d} {rate:6.1f} GFLOP/s")
    best = max(rates, key=lambda r: r["gflops"])
    print(f"   ceiling = the fastest shape: {best['gflops']:.1f} GFLOP/s ({best['what']})")
    own = {}
    for workload in dict.fromkeys(r["workload"] for r in rates):
        mine = [r for r in rates if r["workload"] == workload]
        gflop = sum(r["gflop"] for r in mine)
        own[workload] = gflop / sum(r["gflop"] / r["gflops"] for r in mine)
    print("   for comparison, each workload's own shapes, flop-weighted:")
    for workload, rate in own.items():
        print(f"      {workload:20s} {rate:6.1f} GFLOP/s")
    return best["gflops"], rates, own


# --------------------------------------------------------------------------------------------
# 3. The reference: a VAE as a typical tutorial writes it (PyTorch's examples/vae, deeper).
# Like evae_lite's training it binarizes each minibatch afresh (torch.bernoulli), so that
# both do the same work.


class TutorialVAE(nn.Module):
    def __init__(self, D: int):
        super().__init__()
        self.fc1 = nn.Linear(P, H)
        self.fc2 = nn.Linear(H, H)
        self.fc_mu = nn.Linear(H, D)
        self.fc_logvar = nn.Linear(H, D)
        self.fc3 = nn.Linear(D, H)
        self.fc4 = nn.Linear(H, H)
        self.fc5 = nn.Linear(H, P)

    def encode(self, x):
        h = F.relu(self.fc2(F.relu(self.fc1(x))))
        return self.fc_mu(h), self.fc_logvar(h)

    def decode(self, z):
        return torch.sigmoid(self.fc5(F.relu(self.fc4(F.relu(self.fc3(z))))))

    def forward(self, x, mask=None):
        mu, logvar = self.encode(x)
        if mask is not None:  # eVAE: outside the epitome, q is the prior N(0, 1)
            mu, logvar = mu * mask, logvar * mask
        z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)
        return self.decode(z), mu, logvar


def tutorial_loss(recon, x, mu, logvar):
    bce = F.binary_cross_entropy(recon, x, reduction="sum")
    kld = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    return (bce + kld) / x.shape[0]


def tutorial_masks() -> torch.Tensor:
    return torch.eye(EVAE_Y).repeat_interleave(EVAE_K, dim=1)  # (Y, D)


def tutorial_train_epoch(x: torch.Tensor, D: int, y: torch.Tensor | None = None) -> float:
    """One epoch, tutorial style; y: epitome of every example (eVAE), or None (VAE)."""
    torch.manual_seed(0)
    model = TutorialVAE(D).to(DEVICE)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, foreach=False)
    x = x.cpu()  # a tutorial's data live on the host; each minibatch is moved to the device
    data = TensorDataset(x) if y is None else TensorDataset(x, y.cpu())
    loader = DataLoader(data, batch_size=BATCH, shuffle=True)
    masks = tutorial_masks().to(DEVICE)
    t0 = clock()
    model.train()
    train_loss = 0.0
    for batch in loader:
        xb = torch.bernoulli(batch[0].to(DEVICE))  # dynamic binarization, as ours
        mask = None if y is None else masks[batch[1].to(DEVICE)]
        opt.zero_grad()
        recon, mu, logvar = model(xb, mask)
        loss = tutorial_loss(recon, xb, mu, logvar)
        loss.backward()
        train_loss += loss.item()
        opt.step()
    return clock() - t0


@torch.no_grad()
def tutorial_assign(model: TutorialVAE, x: torch.Tensor) -> torch.Tensor:
    """y* = argmin_y cost, tutorial style: batches of 100, a Python loop over epitomes."""
    model.eval()
    ys = []
    for (xb,) in DataLoader(TensorDataset(x.cpu()), batch_size=BATCH):
        xb = xb.to(DEVICE)
        mu, logvar = model.encode(xb)
        kl = 0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar)
        costs = []
        for m in tutorial_masks().to(DEVICE):
            recon = model.decode(mu * m)
            rec = F.binary_cross_entropy(recon, xb, reduction="none").sum(1)
            costs.append(rec + (kl * m).sum(1))
        ys.append(torch.stack(costs, 1).argmin(1))
    return torch.cat(ys)


# --------------------------------------------------------------------------------------------
# 2. Ours: evae_lite.train.train, one epoch


def our_train_epoch(x: torch.Tensor, cfg: ModelConfig) -> tuple[float, float]:
    """Seconds of one epoch of evae_lite.train.train and of the assignment pass inside it."""
    assign_seconds = []

    def timed_assign(*args, **kwargs):
        t0 = clock()
        out = assign_epitomes(*args, **kwargs)
        assign_seconds.append(clock() - t0)
        return out

    train_cfg = TrainConfig(epochs=1, batch_size=BATCH, device=str(DEVICE))
    train_clock = SimpleNamespace(perf_counter=clock)  # the epoch's seconds on our clock
    with mock.patch.multiple(train_module, assign_epitomes=timed_assign):
        with mock.patch.object(train_module, "time", train_clock):
            result = train_module.train(cfg, train_cfg, x, progress=False)
    return result.history[0].seconds, sum(assign_seconds)


MATMUL_OPS = ("aten::mm", "aten::addmm", "aten::bmm", "aten::baddbmm")


def products_in_epoch(x: torch.Tensor, cfg: ModelConfig) -> tuple[float, float]:
    """Seconds that one epoch of evae_lite.train.train spends inside its matrix products, as
    torch.profiler measures their kernels in place (with the caches as the rest of the step,
    activations and Adam's state, leaves them, unlike the ceiling's back-to-back repeats),
    and the seconds of that profiled epoch (the profiler adds a cost per op, which the small
    ops feel and these, at 0.1-2 ms each, hardly do)."""
    from torch.profiler import ProfilerActivity, profile

    cuda = DEVICE.type == "cuda"
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if cuda else [])
    with profile(activities=activities) as prof:
        epoch = our_train_epoch(x, cfg)[0]
    if cuda:  # the kernels' time on the device (the attribute's name moved across versions)

        def own(e):
            return getattr(e, "self_device_time_total", getattr(e, "self_cuda_time_total", 0))
    else:

        def own(e):
            return e.self_cpu_time_total

    micros = sum(own(e) for e in prof.key_averages() if e.key in MATMUL_OPS)
    return micros / 1e6, epoch


def bench_training(n: int, ceiling: float, rows: dict) -> None:
    print(
        f"\n2-3. one training epoch on {n:,} random binary examples, batch {BATCH}, "
        f"best of {REPEATS} epochs"
    )
    x = random_binary(n, seed=1)
    warm = x[: 10 * BATCH]
    vae_cfg = ModelConfig(model="vae", D=VAE_D, L=2, H=H)
    evae_cfg = ModelConfig(model="evae", D=EVAE_D, K=EVAE_K, stride=EVAE_K, L=2, H=H)

    our_train_epoch(warm, vae_cfg)  # warm-up: allocator, MKL
    tutorial_train_epoch(warm, VAE_D)
    vae_s = ref_s = math.inf
    for _ in range(REPEATS):  # ours and the reference in turn: both see the same conditions
        vae_s = min(vae_s, our_train_epoch(x, vae_cfg)[0])
        ref_s = min(ref_s, tutorial_train_epoch(x, VAE_D))
    vae_flops = training_flops(*vae_nets(VAE_D), n)
    add_row(rows, "vae_train", "VAE 784-500-500-50 train epoch", vae_s, vae_flops, ceiling)
    add_row(rows, "vae_train_ref", "  reference (tutorial)", ref_s, vae_flops, ceiling)
    rows["vae_train"]["ratio"] = ref_s / vae_s
    rows["vae_train"]["ratio_of"] = "reference time / ours"
    # How fast the products themselves run inside the step: the bound on the row above.
    products_s, profiled_s = products_in_epoch(x, vae_cfg)
    name = "  its matrix products, inside the step"
    add_row(rows, "vae_train_products", name, products_s, vae_flops, ceiling)
    rows["vae_train_products"]["ratio"] = products_s / profiled_s
    rows["vae_train_products"]["ratio_of"] = "their time / the profiled epoch's"

    y = torch.randint(EVAE_Y, (n,), generator=torch.Generator().manual_seed(2)).to(DEVICE)
    torch.manual_seed(0)
    ref_model = TutorialVAE(EVAE_D).to(DEVICE)
    our_train_epoch(warm, evae_cfg)
    tutorial_train_epoch(warm, EVAE_D, y[: warm.shape[0]])
    tutorial_assign(ref_model, warm)
    train_s = assign_s = ref_train_s = ref_assign_s = math.inf
    for _ in range(REPEATS):
        epoch, assign = our_train_epoch(x, evae_cfg)
        train_s, assign_s = min(train_s, epoch - assign), min(assign_s, assign)
        ref_train_s = min(ref_train_s, tutorial_train_epoch(x, EVAE_D, y))
        t0 = clock()
        tutorial_assign(ref_model, x)
        ref_assign_s = min(ref_assign_s, clock() - t0)

    enc, dec = vae_nets(EVAE_D)
    train_flops = training_flops(enc, dec, n)
    assign_flops = forward_flops(enc, n) + forward_flops(dec, n * EVAE_Y)
    name = f"eVAE D={EVAE_D} K={EVAE_K} train pass"
    add_row(rows, "evae_train", name, train_s, train_flops, ceiling)
    add_row(rows, "evae_train_ref", "  reference (tutorial)", ref_train_s, train_flops, ceiling)
    rows["evae_train"]["ratio"] = ref_train_s / train_s
    rows["evae_train"]["ratio_of"] = "reference time / ours"
    name = f"eVAE assignment pass (Y={EVAE_Y})"
    add_row(rows, "evae_assign", name, assign_s, assign_flops, ceiling)
    name = "  reference (loop over y)"
    add_row(rows, "evae_assign_ref", name, ref_assign_s, assign_flops, ceiling)
    rows["evae_assign"]["ratio"] = ref_assign_s / assign_s
    rows["evae_assign"]["ratio_of"] = "reference time / ours"


# --------------------------------------------------------------------------------------------
# 4. Parzen window grid and L_5000


def distance_pass(x: torch.Tensor, samples: torch.Tensor, dtype: torch.dtype) -> float:
    """Best time of the distance matrix product alone: a bare addmm per chunk of 500 test
    points (parzen_log_density's chunk) into a reused output."""
    xs, ss = x.to(dtype), samples.to(dtype)
    s_sq = ss.pow(2).sum(1)
    out = torch.empty(min(500, xs.shape[0]), ss.shape[0], dtype=dtype, device=DEVICE)

    def run():
        for i in range(0, xs.shape[0], 500):
            xb = xs[i : i + 500]
            torch.addmm(s_sq[None, :], xb, ss.T, alpha=-2.0, out=out[: xb.shape[0]])

    return best_time(run, 2)


def bench_parzen(n: int, ceiling: float, rows: dict) -> None:
    sigmas = len(DEFAULT_SIGMAS)
    print(f"\n4. Parzen grid: {n:,} test points x {n:,} samples x {P}, {sigmas} sigmas")
    x = random_binary(n, seed=3)
    samples = torch.rand(n, P, generator=torch.Generator().manual_seed(4)).to(DEVICE)  # means
    dtype = torch.float64 if needs_float64(x, samples, min(DEFAULT_SIGMAS)) else torch.float32
    print(f"   parzen_log_density chooses {dtype} for these data (needs_float64)")

    pass_s = distance_pass(x, samples, dtype)
    t0 = clock()
    parzen_log_density(x, samples)
    grid_s = clock() - t0
    flops = 2 * n * n * P
    name = f"Parzen distance pass ({dtype_name(dtype)})"
    add_row(rows, "parzen_pass", name, pass_s, flops, ceiling)
    add_row(rows, "parzen_grid", f"Parzen grid, {sigmas} sigmas", grid_s, flops, ceiling)
    rows["parzen_grid"]["ratio"] = grid_s / pass_s
    rows["parzen_grid"]["ratio_of"] = "grid time / distance pass"

    if dtype != torch.float32:  # the same grid in float32, on a fifth of the test points
        x = x[: n // 5]
        pass_s = distance_pass(x, samples, torch.float32)
        t0 = clock()
        parzen_log_density(x, samples, dtype=torch.float32)
        grid_s = clock() - t0
        flops = 2 * x.shape[0] * n * P
        name = f"  same in f32, {x.shape[0]:,} test points"
        add_row(rows, "parzen_pass_f32", name, pass_s, flops, ceiling)
        add_row(rows, "parzen_grid_f32", "  grid, dtype=float32", grid_s, flops, ceiling)
        rows["parzen_grid_f32"]["ratio"] = grid_s / pass_s
        rows["parzen_grid_f32"]["ratio_of"] = "grid time / distance pass"


def bench_lk(n: int, hidden: int, key: str, ceiling: float, rows: dict, fused: bool = True) -> None:
    cfg = ModelConfig(model="vae", D=VAE_D, L=2, H=hidden)
    torch.manual_seed(0)
    model = build_model(cfg).to(DEVICE).eval()  # untrained: the work needs no trained weights
    x = random_binary(n, seed=5)
    enc, dec = vae_nets(VAE_D, hidden)
    flops = forward_flops(enc, n) + forward_flops(dec, n * LK)
    log_likelihood(model, x[:1], k=LK // 10, fused=fused)  # warm-up
    peak_reset = reset_peak_rss()
    rss0 = rss_mib("VmRSS")
    if DEVICE.type == "cuda":
        torch.cuda.reset_peak_memory_stats(DEVICE)
    t0 = clock()
    log_likelihood(model, x, k=LK, fused=fused)
    seconds = clock() - t0
    peak = (
        rss_mib("VmHWM")
        if peak_reset
        else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    )
    name = f"L_5000 784-{hidden}-{hidden}-50, {n} images" + ("" if fused else ", plain")
    add_row(rows, key, name, seconds, flops, ceiling)
    rows[key]["peak_rss_mib"] = peak
    rows[key]["peak_rss_above_start_mib"] = peak - rss0
    if DEVICE.type == "cuda":
        rows[key]["peak_device_mib"] = torch.cuda.max_memory_allocated(DEVICE) / 2**20
    how = "VmHWM reset before the run" if peak_reset else "ru_maxrss of the whole process"
    print(f"   {name}: peak RSS {peak:.0f} MiB, {peak - rss0:.0f} MiB above the start ({how})")


# --------------------------------------------------------------------------------------------
# 5. The peer and grouped seeds
#
# The peer: the library a user would pick instead, pythae's BaseTrainer, training the same
# VAE (784-500-500-50, Bernoulli decoder, Adam at 1e-3, batch 100) on the same images; a whole
# `train()` call of each, one epoch, interleaved, median of PEER_REPEATS. pythae trains on
# the images as given, ours binarizes each minibatch afresh: ours does a little more work.

PEER_REPEATS = 3
GROUP_S = 5  # seeds in the grouped rows


def pythae_installed() -> bool:
    import importlib.util

    return importlib.util.find_spec("pythae") is not None


def pythae_version() -> str | None:
    if not pythae_installed():
        return None
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("pythae")
    except PackageNotFoundError:
        return "unknown"


def pythae_train_epoch(x: torch.Tensor, D: int, workdir: str, around=None) -> float:
    """Seconds of pythae's BaseTrainer.train() for one epoch of the paper's MNIST VAE.
    around: a context manager entered around that call alone (a profiler)."""
    import logging

    from pythae.data.datasets import BaseDataset
    from pythae.models import VAE, VAEConfig
    from pythae.models.base.base_utils import ModelOutput
    from pythae.models.nn import BaseDecoder, BaseEncoder
    from pythae.trainers import BaseTrainer, BaseTrainerConfig

    for name in list(logging.root.manager.loggerDict):  # pythae's modules log at INFO
        if name.startswith("pythae"):
            logging.getLogger(name).setLevel(logging.WARNING)

    class Encoder(BaseEncoder):
        def __init__(self):
            super().__init__()
            self.net = nn.Sequential(nn.Linear(P, H), nn.ReLU(), nn.Linear(H, H), nn.ReLU())
            self.mu, self.logvar = nn.Linear(H, D), nn.Linear(H, D)

        def forward(self, x):
            h = self.net(x.reshape(x.shape[0], -1))
            return ModelOutput(embedding=self.mu(h), log_covariance=self.logvar(h))

    class Decoder(BaseDecoder):
        def __init__(self):
            super().__init__()
            self.net = nn.Sequential(
                nn.Linear(D, H), nn.ReLU(), nn.Linear(H, H), nn.ReLU(), nn.Linear(H, P)
            )

        def forward(self, z):
            return ModelOutput(reconstruction=torch.sigmoid(self.net(z)))

    torch.manual_seed(0)
    config = VAEConfig(input_dim=(P,), latent_dim=D, reconstruction_loss="bce")
    model = VAE(config, encoder=Encoder(), decoder=Decoder())
    train_config = BaseTrainerConfig(
        output_dir=workdir,
        num_epochs=1,
        learning_rate=1e-3,
        per_device_train_batch_size=BATCH,
        optimizer_cls="Adam",
        no_cuda=DEVICE.type != "cuda",
    )
    data = BaseDataset(x.cpu(), torch.zeros(x.shape[0]))  # what pythae's pipeline builds
    quiet = open(os.devnull, "w")  # its progress bar and banners, not the benchmark's table
    with contextlib.redirect_stdout(quiet), contextlib.redirect_stderr(quiet):
        trainer = BaseTrainer(model, data, training_config=train_config)
        with around or contextlib.nullcontext():
            t0 = clock()
            trainer.train()
            seconds = clock() - t0
    quiet.close()
    return seconds


def our_train_call(x: torch.Tensor, cfg: ModelConfig, around=None) -> float:
    """Seconds of one whole evae_lite.train.train call, one epoch (as the peer is timed).
    around: a context manager entered around that call alone (a profiler)."""
    with around or contextlib.nullcontext():
        t0 = clock()
        train_module.train(
            cfg, TrainConfig(epochs=1, batch_size=BATCH, device=str(DEVICE)), x, progress=False
        )
        return clock() - t0


def bench_peer(n: int, ceiling: float, rows: dict, repeats: int = PEER_REPEATS) -> None:
    import tempfile

    print(f"\n5. the peer: pythae's BaseTrainer, the same VAE, one epoch of {n:,} images")
    x = random_binary(n, seed=6)
    cfg = ModelConfig(model="vae", D=VAE_D, L=2, H=H)
    flops = training_flops(*vae_nets(VAE_D), n)
    if not pythae_installed():
        ours = median_time([lambda: our_train_call(x, cfg)], repeats)[0]
        add_row(rows, "vae_train_call", "VAE train() call, one epoch", ours, flops, ceiling)
        rows["pythae_train"] = skipped_row(
            "  pythae BaseTrainer", "pythae is not installed (benchmarks/requirements.txt)"
        )
        print(f"   {rows['pythae_train']['name']}: {rows['pythae_train']['skipped']}")
        return
    with tempfile.TemporaryDirectory() as workdir:
        ours, peer = median_time(
            [lambda: our_train_call(x, cfg), lambda: pythae_train_epoch(x, VAE_D, workdir)],
            repeats,
        )
    add_row(rows, "vae_train_call", "VAE train() call, one epoch", ours, flops, ceiling)
    add_row(rows, "pythae_train", "  pythae BaseTrainer (median of 3)", peer, flops, ceiling)
    rows["vae_train_call"]["ratio"] = peer / ours
    rows["vae_train_call"]["ratio_of"] = "pythae time / ours"


# Where one epoch's time goes, by torch.profiler's self time of each op, grouped: what the
# peer spends besides the products that ours does not (or the other way round).
RANDOM_OPS = ("aten::uniform_", "aten::normal_", "aten::bernoulli_", "aten::random_")
PARTS = (
    "matrix products",
    "optimizer (Adam, zero_grad)",
    "random numbers",
    "data loading",
    "other ops (element-wise, autograd)",
    "outside ops (Python)",
)


def op_part(name: str, context: tuple[str, ...] = ()) -> str:
    """The part of PARTS an op of the profile belongs to: by the calls it ran inside
    (`context`, its ancestors in the profile: the optimizer's step, a DataLoader's next batch),
    else by its own name. Adam written as a loop over tensors runs plain element-wise ops, so
    the name alone would not find it."""
    for outer in (name, *context):
        if outer.startswith(("Optimizer.", "aten::_fused_adam", "aten::_foreach_")):
            return PARTS[1]
        if "DataLoader" in outer or "collate" in outer:
            return PARTS[3]
    if name in MATMUL_OPS:
        return PARTS[0]
    if name in RANDOM_OPS:
        return PARTS[2]
    return PARTS[4]


def epoch_parts(run) -> dict[str, float]:
    """Seconds of one profiled train() call by part. run(around) makes the call with the
    profiler entered around it alone and returns its seconds; every op's self time goes to its
    part, and what the ops do not cover (the call's seconds minus all self times: the Python
    between ops) is the last part. The profiler adds a small cost per op, which lands in the
    small ops' parts."""
    from torch.profiler import ProfilerActivity, profile

    prof = profile(activities=[ProfilerActivity.CPU])
    wall = run(prof)
    parts = dict.fromkeys(PARTS, 0.0)
    for e in prof.events():
        context, up = [], e.cpu_parent
        while up is not None:
            context.append(up.name)
            up = up.cpu_parent
        parts[op_part(e.name, tuple(context))] += e.self_cpu_time_total / 1e6
    parts[PARTS[-1]] = max(0.0, wall - sum(parts.values()))
    parts["profiled call"] = wall
    return parts


def bench_parts(n: int, rows: dict) -> dict:
    """5b. One profiled epoch of ours and of pythae's, split into PARTS (CPU only: on a GPU
    the host's op times are launch times, not the work)."""
    import tempfile

    if DEVICE.type != "cpu":
        return {"skipped": "the split by op is measured on the CPU only"}
    if not pythae_installed():
        return {"skipped": "pythae is not installed (benchmarks/requirements.txt)"}
    print(f"\n5b. where one epoch goes (torch.profiler self time), {n:,} images")
    x = random_binary(n, seed=6)
    cfg = ModelConfig(model="vae", D=VAE_D, L=2, H=H)
    with tempfile.TemporaryDirectory() as workdir:
        ours = epoch_parts(lambda around: our_train_call(x, cfg, around))
        peer = epoch_parts(lambda around: pythae_train_epoch(x, VAE_D, workdir, around))
    print(f"   {'part':38s} {'ours':>8s} {'pythae':>8s}")
    for part in (*PARTS, "profiled call"):
        print(f"   {part:38s} {ours[part]:8.2f} {peer[part]:8.2f}")
    return {"ours": ours, "pythae": peer}


def bench_grouped(n: int, ceiling: float, rows: dict, S: int = GROUP_S) -> None:
    """Time per model-epoch of S seeds trained one after another (train) and as one grouped
    model (train_grouped), for one seed and for S, best of REPEATS, interleaved."""
    from evae_lite.grouped import train_grouped

    print(f"\n6. seeds: one epoch of {n:,} images per model, separate against grouped")
    x = random_binary(n, seed=7)
    cfg = ModelConfig(model="vae", D=VAE_D, L=2, H=H)
    tc = TrainConfig(epochs=1, batch_size=BATCH, device=str(DEVICE))
    flops = training_flops(*vae_nets(VAE_D), n)

    def separate(k):
        t0 = clock()
        for s in range(k):
            train_module.train(cfg, tc.replace(seed=s), x, progress=False)
        return (clock() - t0) / k

    def grouped(k):
        t0 = clock()
        train_grouped(cfg, tc, list(range(k)), x, progress=False)
        return (clock() - t0) / k

    fns = [lambda: separate(1), lambda: grouped(1), lambda: separate(S), lambda: grouped(S)]
    warm = x[: 10 * BATCH]
    train_module.train(cfg, tc, warm, progress=False)
    train_grouped(cfg, tc, list(range(S)), warm, progress=False)
    best = [math.inf] * len(fns)
    for _ in range(REPEATS):
        best = [min(b, fn()) for b, fn in zip(best, fns)]
    names = (
        "VAE, 1 seed alone",
        "  1 seed grouped",
        f"  {S} seeds one by one, per model",
        f"  {S} seeds grouped, per model",
    )
    keys = ("seeds_separate_1", "seeds_grouped_1", "seeds_separate_s", "seeds_grouped_s")
    for key, name, seconds in zip(keys, names, best):
        add_row(rows, key, name, seconds, flops, ceiling)
    for key, ref in (
        ("seeds_grouped_1", "seeds_separate_1"),
        ("seeds_grouped_s", "seeds_separate_s"),
    ):
        rows[key]["ratio"] = rows[ref]["seconds"] / rows[key]["seconds"]
        rows[key]["ratio_of"] = "separate time / grouped, per model"


# --------------------------------------------------------------------------------------------
# 7. Table and JSON


def dtype_name(dtype: torch.dtype) -> str:
    return str(dtype).replace("torch.float", "f")


def skipped_row(name: str, why: str) -> dict:
    """A row that was not measured, and why (never a made-up time)."""
    return {
        "name": name,
        "skipped": why,
        "seconds": None,
        "gflops": None,
        "pct_ceiling": None,
        "ratio": None,
        "ratio_of": None,
    }


def add_row(rows: dict, key: str, name: str, seconds: float, flops: int, ceiling: float) -> None:
    rate = flops / seconds / 1e9
    rows[key] = {
        "name": name,
        "seconds": seconds,
        "gflop": flops / 1e9,
        "gflops": rate,
        "pct_ceiling": 100 * rate / ceiling,
        "ratio": None,
        "ratio_of": None,
    }
    print(f"   {name:38s} {seconds:8.2f} s {rate:6.1f} GFLOP/s")


def print_table(rows: dict) -> None:
    print(f"\n{'name':38s} {'seconds':>8s} {'GFLOP/s':>8s} {'% ceil':>7s}  ratio")
    for row in rows.values():
        if row.get("skipped"):
            print(f"{row['name']:38s} not measured: {row['skipped']}")
            continue
        ratio = ""
        if row["ratio"] is not None:
            ratio = f"{row['ratio']:.2f}  ({row['ratio_of']})"
        print(
            f"{row['name']:38s} {row['seconds']:8.2f} {row['gflops']:8.1f} "
            f"{row['pct_ceiling']:6.1f}%  {ratio}"
        )


def check_targets(rows: dict) -> dict:
    print("\ntargets (set by the project for 1 thread):")
    verdicts = {}
    for target, (key, field, op, threshold) in TARGETS.items():
        value = rows.get(key, {}).get(field)
        if value is None:
            why = rows.get(key, {}).get("skipped", "not measured in this run")
            verdicts[target] = {"value": None, "pass": None, "skipped": why}
            print(f"   SKIP  {target:40s} {why}")
            continue
        ok = value >= threshold if op == ">=" else value <= threshold
        verdicts[target] = {"value": value, "pass": ok}
        print(f"   {'PASS' if ok else 'MISS'}  {target:40s} measured {value:.2f}")
    return verdicts


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.add_argument("--quick", action="store_true", help="smaller sizes, under a minute")
    parser.add_argument("--json", default=str(ROOT / "benchmarks" / "results.json"))
    parser.add_argument(
        "--clock",
        choices=("wall", "cpu"),
        default="wall",
        help="wall time (default), or this process's CPU time where other work competes "
        "for the cores (1 thread only)",
    )
    parser.add_argument(
        "--device",
        default="cpu",
        help="cpu (default) or cuda[:N]: where every timed piece runs; a device that is not "
        "there is an error, never a fallback to the CPU",
    )
    args = parser.parse_args(argv)

    global base_clock, DEVICE
    base_clock = time.process_time if args.clock == "cpu" else time.perf_counter
    if args.clock == "cpu" and args.threads != 1:
        parser.error("--clock cpu adds up the CPU time of all threads: use it with --threads 1")
    if not (args.device == "cpu" or args.device.startswith("cuda")):
        parser.error(f"--device {args.device!r} is not allowed: use cpu, cuda or cuda:N")
    try:
        DEVICE = resolve_device(args.device)
    except RuntimeError as e:
        parser.error(str(e))
    if DEVICE.type == "cuda" and args.clock == "cpu":
        parser.error("--clock cpu does not see the GPU's time: use --clock wall with --device")
    malloc_kept = keep_freed_memory()
    torch.set_num_threads(args.threads)
    if args.quick:  # rates, not totals, are what is compared: smaller sizes suffice
        n_train, n_parzen, n_lk, n_lk500, mm_seconds = 5_000, 2_000, 20, 4, 0.03
    else:
        n_train, n_parzen, n_lk, n_lk500, mm_seconds = 50_000, 10_000, 1_000, 100, 0.1
    lk_rows = LK_MAX_ROWS // BATCH * BATCH  # rows per decoder pass in log_likelihood
    print(
        f"evae_lite benchmarks: torch {torch.__version__}, {torch.get_num_threads()} thread(s), "
        f"{cpu_model()}, device {device_name()}{', --quick' if args.quick else ''}"
    )
    print(
        f"training: one whole epoch of {n_train:,} examples"
        + (" (1/10 of MNIST's 50,000: seconds are for that)" if args.quick else "")
    )
    print(f"clock: {args.clock} time" + (", glibc keeps freed memory" if malloc_kept else ""))

    wall_start, cpu_start = time.perf_counter(), time.process_time()
    copy_start = copy_rate()
    ceiling, shape_rates, own_rates = measure_ceiling(matmul_shapes(n_parzen, lk_rows), mm_seconds)
    rows: dict = {}
    bench_training(n_train, ceiling, rows)
    bench_parzen(n_parzen, ceiling, rows)
    print(f"\n4. L_{LK} (iwae.log_likelihood, k={LK}) of an untrained VAE on random binary images")
    bench_lk(n_lk, LK_H, "lk_table2", ceiling, rows)  # Table 2's model: the target
    # for comparison: without the fused Bernoulli likelihood (model.log_weights), and the
    # 500-unit model
    bench_lk(n_lk500, LK_H, "lk_table2_plain", ceiling, rows, fused=False)
    rows["lk_table2"]["ratio"] = rows["lk_table2_plain"]["seconds"] / (
        rows["lk_table2"]["seconds"] * n_lk500 / n_lk
    )
    rows["lk_table2"]["ratio_of"] = "plain time / ours, per image"
    bench_lk(n_lk500, H, "lk_h500", ceiling, rows)
    bench_peer(n_train, ceiling, rows)
    epoch_split = bench_parts(n_train, rows)
    bench_grouped(n_train, ceiling, rows)

    # The machine's state at the end against the start: the same fastest shape and copy.
    fastest = max(shape_rates, key=lambda r: r["gflops"])
    m, k, n = fastest["mkn"]
    machine = {
        "copy_gbps_start": copy_start,
        "copy_gbps_end": copy_rate(),
        "ceiling_gflops_end": matmul_rate(m, k, n, mm_seconds),
    }
    print(
        f"\nceiling {ceiling:.1f} GFLOP/s, {machine['ceiling_gflops_end']:.1f} at the end of the "
        f"run; memory copy {machine['copy_gbps_start']:.1f} GB/s at the start, "
        f"{machine['copy_gbps_end']:.1f} at the end"
    )
    drift = max(
        abs(machine["ceiling_gflops_end"] / ceiling - 1),
        abs(machine["copy_gbps_end"] / machine["copy_gbps_start"] - 1),
    )
    if drift > 0.05:
        print(
            f"   the machine's state moved by {100 * drift:.0f}% during the run: compare with care"
        )
    print_table(rows)
    verdicts = check_targets(rows)
    wall = time.perf_counter() - wall_start
    cpu = time.process_time() - cpu_start
    print(f"\ntotal {wall:.0f} s wall, {cpu:.0f} s CPU ({100 * cpu / wall:.0f}% of a core)")
    if args.clock == "wall" and args.threads == 1 and cpu < 0.9 * wall:
        print("   other work competed for the core: wall-clock rates are low; try --clock cpu")

    report = {
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "cpu": cpu_model(),
        "device": device_name(),
        "pythae": pythae_version(),
        "quick": args.quick,
        "clock": args.clock,
        "keep_freed_memory": malloc_kept,
        "sizes": {
            "train_examples": n_train,
            "parzen_points": n_parzen,
            "parzen_samples": n_parzen,
            "lk_images_table2": n_lk,
            "lk_images_h500": n_lk500,
            "k": LK,
        },
        "ceiling_gflops": ceiling,
        "matmul_rates": shape_rates,
        "own_shapes_gflops": own_rates,
        "machine": machine,
        "rows": rows,
        "epoch_parts": epoch_split,
        "targets": verdicts,
        "wall_seconds": wall,
        "cpu_seconds": cpu,
    }
    path = Path(args.json)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
