"""Tensor-core speed against PyTorch, measured in the same run: per-op overhead, conv1d, matmul.

Run from the repository root::

    python benchmarks/bench_core.py [--device cpu|cuda] [--repeats 7]

Each row times forward + backward in biotorch and in torch on the same float32 data, warm-up
first, and prints the medians and their ratio (biotorch / torch); the two libraries alternate
within each repeat so that load on a shared machine hits both alike. Rows:

1. per-op overhead: ``a * b`` on (64, 320) tensors that require grad, backward with a given
   gradient (mostly Python and graph bookkeeping);
2. conv1d at DeepSEA's second layer: batch 64, 320 -> 480 channels, kernel 8, length 248,
   input, weight and bias all requiring grad;
3. conv1d at Basset's first layer (one-hot DNA): batch 64, 4 -> 300 channels, kernel 19,
   length 600 (the stacked-taps path);
4. matmul 2048 x 2048, both operands requiring grad;
5. an elementwise chain: 400 small ops on (64, 64) tensors (products and sums with tensors and
   with Python numbers, sub, div, exp, tanh, sigmoid; five leaves require grad), then backward
   (the Python cost per op and per graph node, and what each node saves).

Goals: per-op <= 2x torch, conv1d and matmul <= 1.2x torch, the elementwise chain <= 1x torch.
On the CPU, torch gets as many threads as NumPy's BLAS has (the table says how many).
``--device cuda`` compares CuPy with torch-CUDA (or prints biotorch's times alone when torch
has no CUDA). ``--only WORD`` runs the rows whose name contains WORD. The ratio is of the
medians; "min ratio" is of the fastest repeats (less sensitive to load on a shared machine).
"""

from __future__ import annotations

import argparse
import ctypes
import datetime
import os
import platform
import statistics
import time

import numpy as np

import biotorch


def blas_threads() -> tuple[int, str]:
    """NumPy's BLAS thread count, asked from the loaded OpenBLAS, else from the environment."""
    with open("/proc/self/maps") as maps:
        paths = {line.split()[-1] for line in maps if "openblas" in line.lower()}
    for path in paths:
        lib = ctypes.CDLL(path)
        for symbol in (
            "scipy_openblas_get_num_threads64_",
            "openblas_get_num_threads64_",
            "openblas_get_num_threads",
        ):
            if hasattr(lib, symbol):
                return int(getattr(lib, symbol)()), "OpenBLAS"
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        if os.environ.get(var, "").isdigit():
            return int(os.environ[var]), var
    return os.cpu_count() or 1, "cpu count (BLAS not identified)"


def cases(lib, device, rng):
    """name -> (setup-free step function) for one library (``biotorch`` or ``torch``)."""
    f = lib.nn.functional

    def tensors(*shapes, positive=False):
        arrays = [rng.standard_normal(s).astype(np.float32) for s in shapes]
        return [
            lib.tensor(1 + np.abs(a) if positive else a, device=device).requires_grad_()
            for a in arrays
        ]

    def step(fn, inputs, number=1):
        out = fn(*inputs)
        grad = lib.ones_like(out)

        def run():
            for _ in range(number):
                for t in inputs:
                    t.grad = None
                fn(*inputs).backward(grad)

        return run, number

    return {
        "per-op overhead: mul (64, 320)": step(
            lambda a, b: a * b, tensors((64, 320), (64, 320)), number=200
        ),
        "conv1d (64, 320, 248) -> 480, k=8": step(
            f.conv1d, tensors((64, 320, 248), (480, 320, 8), (480,))
        ),
        "conv1d (64, 4, 600) -> 300, k=19": step(
            f.conv1d, tensors((64, 4, 600), (300, 4, 19), (300,))
        ),
        "matmul 2048 x 2048": step(lambda a, b: a @ b, tensors((2048, 2048), (2048, 2048))),
        "elementwise chain: 400 ops (64, 64)": step(
            elementwise_chain,
            tensors(*[(64, 64)] * 4) + tensors((64, 64), positive=True),
            number=10,
        ),
    }


def elementwise_chain(x, w, b, c, d):
    """400 small elementwise ops, ten per round: tensor and scalar products and sums, sub, div
    (by ``d`` >= 1), tanh, sigmoid, exp; the values stay within a few units of zero."""
    h = x
    for _ in range(40):
        h = h * w + b
        h = h * 0.5 - c
        h = (h.tanh() + 1.0) / d
        h = h.sigmoid().exp() - 1.5
    return h


GOALS = {"per-op": 2.0, "conv1d": 1.2, "matmul": 1.2, "elementwise": 1.0}


def timed(run, sync) -> float:
    t0 = time.perf_counter()
    run()
    sync()
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--only", default="", help="run only rows whose name contains this")
    args = parser.parse_args()

    try:
        import torch
    except ImportError:
        torch = None
    threads, source = blas_threads()
    bt_sync = biotorch.cuda.synchronize if args.device == "cuda" else lambda: None
    th_ok = torch is not None and (args.device == "cpu" or torch.cuda.is_available())
    if torch is not None:
        torch.set_num_threads(threads)
    th_sync = torch.cuda.synchronize if th_ok and args.device == "cuda" else lambda: None

    print(
        f"biotorch core benchmark, {datetime.date.today()}, {platform.machine()}, "
        f"{os.cpu_count()} CPUs, numpy {np.__version__}, "
        f"torch {torch.__version__ if torch is not None else 'missing'}, device {args.device}"
    )
    env = {v: os.environ.get(v, "unset") for v in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")}
    print(
        f"NumPy BLAS threads: {threads} ({source}); torch.set_num_threads({threads}); "
        + ", ".join(f"{k}={v}" for k, v in env.items())
    )
    print(
        f"median of {args.repeats} repeats after one warm-up; forward + backward; "
        f"per-op row: ms per op, from loops of 200; elementwise chain: ms per chain, loops of 10\n"
    )

    rng = np.random.default_rng(0)
    bt_cases = cases(biotorch, args.device, rng)
    th_cases = cases(torch, args.device, np.random.default_rng(0)) if th_ok else {}
    print(f"| {'benchmark':<36} | biotorch ms | torch ms | ratio | min ratio | goal |")
    print(f"|{'-' * 38}|------------:|---------:|------:|----------:|------|")
    for name, (bt_run, number) in bt_cases.items():
        if args.only not in name:
            continue
        th_run = th_cases.get(name, (None,))[0]
        bt_run(), bt_sync()
        if th_run:
            th_run(), th_sync()
        bt_times, th_times = [], []
        for _ in range(args.repeats):
            bt_times.append(timed(bt_run, bt_sync))
            if th_run:
                th_times.append(timed(th_run, th_sync))
        bt_ms = 1e3 * statistics.median(bt_times) / number
        goal = next(g for key, g in GOALS.items() if name.startswith(key))
        if th_run:
            th_ms = 1e3 * statistics.median(th_times) / number
            ratio, min_ratio = bt_ms / th_ms, min(bt_times) / min(th_times)
            verdict = f"<= {goal}x {'met' if ratio <= goal else 'MISSED'}"
            print(
                f"| {name:<36} | {bt_ms:11.2f} | {th_ms:8.2f} | {ratio:5.2f} | {min_ratio:9.2f} "
                f"| {verdict} |"
            )
        else:
            missing = f"{'n/a':>8} | {'n/a':>5} | {'n/a':>9}"
            print(f"| {name:<36} | {bt_ms:11.2f} | {missing} | <= {goal}x |")


if __name__ == "__main__":
    main()
