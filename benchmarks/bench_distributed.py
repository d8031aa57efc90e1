"""biotorch.distributed on one machine: allreduce bandwidth and 2-rank vs 1-rank training speed.

Run from the repository root (it starts its own ``mpiexec`` jobs)::

    python benchmarks/bench_distributed.py [--steps 30] [--rounds 3]

1. Allreduce of float32 buffers of 4 KB .. 64 MB between 2 ranks (MPI backend), median of
   repeated calls: biotorch's nonblocking request polled against the timeout (what DDP uses),
   ``all_reduce`` with its shape agreement check, and mpi4py's blocking ``Allreduce`` as the
   floor. Bus bandwidth = 2 (N - 1) / N * bytes / time (the ring allreduce's traffic per rank).
2. A training step, per rank a batch of 64 one-hot 101 bp sequences: conv 4->128 k15, ReLU,
   conv 128->128 k5, ReLU, global max-pool, linear 128->2, cross-entropy, Adam. One rank
   (plain model) vs two ranks (DistributedDataParallel, the global batch doubles): scaling
   efficiency = (2-rank samples/s) / (2 x 1-rank samples/s). Also the 2-rank step without
   DDP (no gradient exchange), which separates compute contention from communication.

Every rank runs with OMP_NUM_THREADS = OPENBLAS_NUM_THREADS = 1, so that 2 ranks use 2 cores
and 1 rank uses 1 (a fair comparison on a 2-core machine).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

SIZES = [4 << 10, 16 << 10, 64 << 10, 256 << 10, 1 << 20, 4 << 20, 16 << 20, 64 << 20]
ROOT = Path(__file__).resolve().parents[1]


# -- rank programs ---------------------------------------------------------------------------
def _median_time(run, repeats: int) -> float:
    import biotorch.distributed as dist

    times = []
    for _ in range(repeats):
        dist.barrier()
        t0 = time.perf_counter()
        run()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def worker_allreduce() -> list[dict]:
    from mpi4py import MPI

    import biotorch.distributed as dist
    from biotorch.distributed import process_group as pg

    group = pg._require("bench")
    rows = []
    for size in SIZES:
        buf = np.ones(size // 4, dtype=np.float32)
        repeats = max(5, min(200, (64 << 20) // size // 4))
        polled = _median_time(
            lambda buf=buf: pg.all_reduce_array(group, buf, "sum", "b").wait(), repeats
        )
        checked = _median_time(lambda buf=buf: dist.all_reduce(buf), repeats)
        floor = _median_time(lambda buf=buf: MPI.COMM_WORLD.Allreduce(MPI.IN_PLACE, buf), repeats)
        rows.append({"bytes": size, "polled": polled, "checked": checked, "mpi4py": floor})
    return rows


def make_model():
    import biotorch.nn as nn

    return nn.Sequential(
        nn.Conv1d(4, 128, 15),
        nn.ReLU(),
        nn.Conv1d(128, 128, 5),
        nn.ReLU(),
        nn.AdaptiveMaxPool1d(1),
        nn.Flatten(),
        nn.Linear(128, 2),
    )


def worker_step(steps: int, use_ddp: bool) -> dict:
    import biotorch as bt
    import biotorch.distributed as dist
    import biotorch.nn.functional as F
    from biotorch.nn.parallel import DistributedDataParallel

    rank = dist.get_rank()
    bt.manual_seed(0)
    model = make_model()
    if use_ddp:
        model = DistributedDataParallel(model)
    optimizer = bt.optim.Adam(model.parameters(), lr=1e-3)
    rng = np.random.default_rng(rank)
    x = np.eye(4, dtype=np.float32)[rng.integers(0, 4, (64, 101))].transpose(0, 2, 1).copy()
    x, y = bt.tensor(x), bt.tensor(rng.integers(0, 2, 64))

    def step() -> None:
        optimizer.zero_grad()
        F.cross_entropy(model(x), y).backward()
        optimizer.step()

    for _ in range(3):
        step()
    seconds = _median_time(step, steps)
    n_params = sum(p.numel() for p in model.parameters())
    return {"step": seconds, "params": n_params, "ranks": dist.get_world_size()}


def worker(mode: str, steps: int) -> None:
    import biotorch.distributed as dist

    dist.init_process_group()
    if mode == "allreduce":
        result = worker_allreduce()
    else:
        result = worker_step(steps, use_ddp=mode == "ddp")
    if dist.get_rank() == 0:
        print("RESULT " + json.dumps(result), flush=True)
    dist.destroy_process_group()


# -- driver ----------------------------------------------------------------------------------
def launch(ranks: int, mode: str, steps: int):
    mpiexec = shutil.which("mpiexec", path=os.path.dirname(sys.executable)) or shutil.which(
        "mpiexec"
    )
    if mpiexec is None:
        sys.exit('bench_distributed: no mpiexec; pip install "biotorch[distributed]"')
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    command = [mpiexec, "-n", str(ranks), sys.executable, __file__, "--worker", mode]
    done = subprocess.run(
        [*command, "--steps", str(steps)], env=env, capture_output=True, text=True, timeout=600
    )
    for line in done.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT ") :])
    sys.exit(f"bench_distributed: {mode} on {ranks} ranks failed:\n{done.stdout}{done.stderr}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30, help="timed training steps")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved jobs per run")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.steps)
        return
    import mpi4py

    print(f"bench_distributed: {os.cpu_count()} CPUs, mpi4py {mpi4py.__version__}, 1 thread/rank")
    print("\nAllreduce, 2 ranks, float32 (median time; bus bandwidth 2(N-1)/N * bytes / time)")
    print(f"{'bytes':>9} | {'polled us':>10} | {'GB/s':>6} | {'+check us':>10} | {'mpi4py us':>10}")
    for row in launch(2, "allreduce", args.steps):
        bus = row["bytes"] / row["polled"] / 1e9  # 2 (N - 1) / N = 1 for N = 2
        print(
            f"{row['bytes']:>9} | {row['polled'] * 1e6:>10.1f} | {bus:>6.2f} | "
            f"{row['checked'] * 1e6:>10.1f} | {row['mpi4py'] * 1e6:>10.1f}"
        )
    runs = {
        "1 rank": (1, "plain"),
        "2 ranks, no gradient sync": (2, "plain"),
        "2 ranks, DDP": (2, "ddp"),
    }
    times: dict = {name: [] for name in runs}
    for _ in range(args.rounds):  # interleaved, so that load on a shared machine hits all alike
        for name, (ranks, mode) in runs.items():
            r = launch(ranks, mode, args.steps)
            times[name].append(r["step"])
    params = r["params"]
    one = statistics.median(times["1 rank"])
    print(f"\nTraining step, batch 64 x 101 bp per rank, {params:,} parameters, Adam")
    print(
        f"(median over {args.rounds} interleaved jobs of each job's median of {args.steps} steps)"
    )
    print(f"{'run':<26} | {'step ms':>8} | {'samples/s':>9} | efficiency")
    for name, (ranks, _) in runs.items():
        step = statistics.median(times[name])
        rate = 64 * ranks / step
        print(f"{name:<26} | {step * 1e3:>8.2f} | {rate:>9.0f} | {rate / (ranks * 64 / one):.2f}")


if __name__ == "__main__":
    main()
