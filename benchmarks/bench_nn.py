"""nn and optim speed against PyTorch CPU, measured in the same run: DanQ's BiLSTM, an Adam
step over 50M parameters, a DeepSEA training step.

Run from the repository root::

    python benchmarks/bench_nn.py [--repeats 5]

Rows (float32, median of ``--repeats`` after one warm-up, biotorch and torch alternating
within each repeat so that load on a shared machine hits both alike; ratio = biotorch / torch):

1. BiLSTM forward + backward, DanQ's shape: ``LSTM(320, 320, bidirectional=True,
   batch_first=True)`` on a (64, 75, 320) input that requires grad; goal <= 1.5x.
2. ``Adam.step()`` over 50M parameters (ten 5M tensors with gradients set); goal <= 1.2x.
3. A DeepSEA training step, batch 16 of one-hot 1000 bp: conv 4->320 k8, ReLU, max-pool 4,
   dropout 0.2, conv 320->480 k8, ReLU, max-pool 4, dropout 0.2, conv 480->960 k8, ReLU,
   dropout 0.5, linear 50880->925, ReLU, linear 925->919, BCE-with-logits on random 0/1
   targets; ``zero_grad``, forward, backward and an SGD (momentum 0.9) step; goal <= 1.2x.
4. A reduced Basset training step (the shipped ``basset_small_regulatory``'s shape), batch 64
   of one-hot 600 bp: conv 64/64/64 (widths 19/11/7) each with batch norm, ReLU and max-pool
   3/4/4, dense 128/128 with batch norm, ReLU and dropout 0.3, 12 outputs, BCE-with-logits,
   ``zero_grad``, forward, backward and an Adam step; goal <= 1.2x.
5. The small model users actually train: a masked two-layer CNN, batch 64 of one-hot 101 bp
   with lengths 50-101: conv 4->128 k15 and 128->128 k5 (``padding="same"``, as
   ``models.MaskedCNNClassifier``), each with ReLU, masked global max pooling (padding positions
   set to -inf before the max: ``models.varlen.masked_pool``, and the same in torch), linear
   128->1, BCE-with-logits, ``zero_grad``, forward, backward and an Adam step; goal <= 1.0x.

Before timing, one 30 MB array is allocated and freed (``--cold-allocator`` skips it). glibc
then keeps freed heap memory for reuse, as in any process that has once held an array of that
size (a data set, a big batch); without it, glibc returns the freed pages to the OS after every
step and the next step's first touch of each page is a page fault (both libraries pay it; the
masked CNN row ran ~40% slower in biotorch and ~15% in torch that way, single-threaded).

``--only WORD`` runs the rows whose name contains WORD. The ratio is of the medians; "min
ratio" is of the fastest repeats (less sensitive to load on a shared machine).
torch gets as many threads as NumPy's BLAS has (the header says how many).
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
from collections import OrderedDict

import numpy as np
from bench_core import blas_threads, timed

import biotorch

BLAS_ENV = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
GOALS = {"BiLSTM": 1.5, "Adam": 1.2, "DeepSEA": 1.2, "Basset": 1.2, "masked CNN": 1.0}


def lstm_case(lib, rng):
    lstm = lib.nn.LSTM(320, 320, bidirectional=True, batch_first=True)
    x = lib.tensor(rng.standard_normal((64, 75, 320)).astype(np.float32), requires_grad=True)

    def run():
        x.grad = None
        for p in lstm.parameters():
            p.grad = None
        out, _ = lstm(x)
        out.sum().backward()

    return run


def adam_case(lib, rng):
    params = [
        lib.nn.Parameter(lib.tensor(rng.standard_normal(5_000_000).astype(np.float32)))
        for _ in range(10)
    ]
    for p in params:
        p.grad = lib.tensor(rng.standard_normal(p.shape).astype(np.float32))
    opt = lib.optim.Adam(params, lr=1e-3)
    return opt.step


def deepsea(nn):
    return nn.Sequential(
        nn.Conv1d(4, 320, 8),
        nn.ReLU(),
        nn.MaxPool1d(4, 4),
        nn.Dropout(0.2),
        nn.Conv1d(320, 480, 8),
        nn.ReLU(),
        nn.MaxPool1d(4, 4),
        nn.Dropout(0.2),
        nn.Conv1d(480, 960, 8),
        nn.ReLU(),
        nn.Dropout(0.5),
        nn.Flatten(),
        nn.Linear(960 * 53, 925),
        nn.ReLU(),
        nn.Linear(925, 919),
    )


def training_step(lib, model, optimizer, rng, shape: tuple[int, int, int], positive_rate: float):
    """One ``zero_grad``/forward/BCE-with-logits/backward/``step`` on random one-hot DNA and
    random 0/1 targets; ``shape`` is (batch, length, targets)."""
    batch, length, targets = shape
    tokens = rng.integers(0, 4, (batch, length))
    x = lib.tensor(np.eye(4, dtype=np.float32)[tokens].transpose(0, 2, 1).copy())
    y = lib.tensor((rng.random((batch, targets)) < positive_rate).astype(np.float32))
    loss_fn = lib.nn.BCEWithLogitsLoss()

    def run():
        optimizer.zero_grad()
        loss_fn(model(x), y).backward()
        optimizer.step()

    return run


def deepsea_case(lib, rng):
    model = deepsea(lib.nn)
    optimizer = lib.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    return training_step(lib, model, optimizer, rng, (16, 1000, 919), 0.05)


def basset(nn, widths=(64, 64, 64), dense=128, num_targets=12, length=600):
    """Basset (reduced widths by default) from ``nn`` layers, laid out as biotorch's
    ``models.Basset`` (the same state-dict keys)."""

    def conv(i, o, k, p):
        return [nn.Conv1d(i, o, k), nn.BatchNorm1d(o), nn.ReLU(), nn.MaxPool1d(p, p)]

    def linear(i, o):
        return [nn.Linear(i, o), nn.BatchNorm1d(o), nn.ReLU(), nn.Dropout(0.3)]

    (a, b, c) = widths
    for kernel, pool in ((19, 3), (11, 4), (7, 4)):
        length = (length - kernel + 1) // pool
    return nn.Sequential(
        OrderedDict(
            features=nn.Sequential(*conv(4, a, 19, 3), *conv(a, b, 11, 4), *conv(b, c, 7, 4)),
            classifier=nn.Sequential(
                nn.Flatten(),
                *linear(c * length, dense),
                *linear(dense, dense),
                nn.Linear(dense, num_targets),
            ),  # fmt: skip
        )
    )


def basset_case(lib, rng):
    model = basset(lib.nn)
    optimizer = lib.optim.Adam(model.parameters(), lr=1e-3)
    return training_step(lib, model, optimizer, rng, (64, 600, 12), 0.15)


def masked_cnn_case(lib, rng, batch=64, length=101):
    features = lib.nn.Sequential(
        lib.nn.Conv1d(4, 128, 15, padding="same"),
        lib.nn.ReLU(),
        lib.nn.Conv1d(128, 128, 5, padding="same"),
        lib.nn.ReLU(),
    )
    head = lib.nn.Linear(128, 1)
    lengths = rng.integers(50, length + 1, batch)
    mask = lib.tensor(np.arange(length)[None, :] < lengths[:, None])
    if lib is biotorch:
        from biotorch.models.varlen import masked_pool
    else:

        def masked_pool(x, mask):
            return x.masked_fill(~mask[:, None, :], float("-inf")).amax(dim=-1)

    def model(x):
        return head(masked_pool(features(x), mask))

    optimizer = lib.optim.Adam([*features.parameters(), *head.parameters()], lr=1e-3)
    return training_step(lib, model, optimizer, rng, (batch, length, 1), 0.5)


CASES = {
    "BiLSTM fwd+bwd (64, 75, 320) -> 2x320": lstm_case,
    "Adam step, 50M parameters": adam_case,
    "DeepSEA training step, batch 16 x 1000 bp": deepsea_case,
    "Basset-small training step, 64 x 600 bp": basset_case,
    "masked CNN training step, 64 x 101 bp": masked_cnn_case,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--only", default="", help="run only rows whose name contains this")
    parser.add_argument(
        "--cold-allocator", action="store_true", help="skip the 30 MB allocator warm-up"
    )
    args = parser.parse_args()
    import torch

    if not args.cold_allocator:
        np.ones(7_500_000, dtype=np.float32)  # allocated and freed at once (see the docstring)

    threads, source = blas_threads()
    torch.set_num_threads(threads)
    print(
        f"biotorch nn benchmark, {datetime.date.today()}, {platform.machine()}, "
        f"{os.cpu_count()} CPUs, numpy {np.__version__}, torch {torch.__version__} (CPU)"
    )
    env = ", ".join(f"{v}={os.environ.get(v, 'unset')}" for v in BLAS_ENV)
    print(f"NumPy BLAS threads: {threads} ({source}); torch.set_num_threads({threads}); {env}")
    allocator = "cold (no warm-up)" if args.cold_allocator else "warmed up with a 30 MB array"
    print(f"median of {args.repeats} repeats after one warm-up; allocator {allocator}\n")
    print(f"| {'benchmark':<42} | biotorch ms | torch ms | ratio | min ratio | goal |")
    print(f"|{'-' * 44}|------------:|---------:|------:|----------:|------|")
    no_sync = lambda: None  # noqa: E731
    for name, case in CASES.items():
        if args.only not in name:
            continue
        biotorch.manual_seed(0)
        torch.manual_seed(0)
        bt_run = case(biotorch, np.random.default_rng(0))
        th_run = case(torch, np.random.default_rng(0))
        bt_run(), th_run()
        bt_times, th_times = [], []
        for _ in range(args.repeats):
            bt_times.append(timed(bt_run, no_sync))
            th_times.append(timed(th_run, no_sync))
        bt_ms, th_ms = (1e3 * statistics.median(t) for t in (bt_times, th_times))
        ratio, min_ratio = bt_ms / th_ms, min(bt_times) / min(th_times)
        goal = next(g for key, g in GOALS.items() if name.startswith(key))
        verdict = f"<= {goal}x {'met' if ratio <= goal else 'MISSED'}"
        print(
            f"| {name:<42} | {bt_ms:11.1f} | {th_ms:8.1f} | {ratio:5.2f} | {min_ratio:9.2f} "
            f"| {verdict} |"
        )
        del bt_run, th_run


if __name__ == "__main__":
    main()
