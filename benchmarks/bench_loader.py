"""Genome window loading throughput: ``GenomeWindowSampler`` + ``DataLoader`` (vs torch's loader).

Run from the repository root::

    python benchmarks/bench_loader.py [--genome-mb 50] [--windows 20000] [--length 1000]

Writes a random genome of ``--genome-mb`` Mb (5 chromosomes, 60-letter lines, a few N runs) to a
temporary directory, indexes it, and reads ``--windows`` random 1 kb windows (int8 tokens,
batches of 128) with 0 and 2 workers. Each row gives windows/s for the first epoch (worker start
and window draw included) and for a second epoch with persistent workers, the rate per worker,
and, when torch is importable, the ratio to ``torch.utils.data.DataLoader`` reading the same
dataset with the same number of workers. Goal: >= 5,000 windows/s per worker. A last line gives
the seconds to leave a 2-worker loop after its first batch (``for batch in loader: break``),
worker start included, next to torch's.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np

from biotorch.data import DataLoader, Genome, GenomeWindowSampler


def write_genome(path: Path, total_mb: float, seed: int = 0) -> None:
    """Five equal random chromosomes with N runs, 60 letters per line."""
    rng = np.random.default_rng(seed)
    size = int(total_mb * 1e6 / 5) // 60 * 60
    letters = np.frombuffer(b"ACGT", np.uint8)
    with open(path, "wb") as fh:
        for c in range(1, 6):
            seq = letters[rng.integers(0, 4, size)]
            for start in rng.integers(0, size - 50_000, 4):
                seq[start : start + int(rng.integers(1_000, 50_000))] = ord("N")
            lines = np.concatenate([seq.reshape(-1, 60), np.full((size // 60, 1), 10, np.uint8)], 1)
            fh.write(f">chr{c}\n".encode())
            fh.write(lines.tobytes())


def epochs(loader, n_windows: int) -> tuple[float, float]:
    """windows/s of a first epoch and of a second one from the same loader."""
    rates = []
    for _ in range(2):
        t0 = time.perf_counter()
        count = sum(len(batch) for batch in loader)
        rates.append(count / (time.perf_counter() - t0))
        assert count == n_windows, (count, n_windows)
    return rates[0], rates[1]


def early_exit_seconds(loader) -> float:
    """Seconds to start the workers, take one batch and leave the loop (workers stopped)."""
    t0 = time.perf_counter()
    for _ in loader:
        break
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--genome-mb", type=float, default=50)
    parser.add_argument("--windows", type=int, default=20_000)
    parser.add_argument("--length", type=int, default=1000)
    parser.add_argument("--batch-size", type=int, default=128)
    args = parser.parse_args()
    try:
        import torch.utils.data as tud
    except ImportError:
        tud = None

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "genome.fa"
        t0 = time.perf_counter()
        write_genome(path, args.genome_mb)
        t1 = time.perf_counter()
        genome = Genome(path)
        t2 = time.perf_counter()
        sampler = GenomeWindowSampler(genome, args.length, args.windows, seed=0)
        sampler.windows()
        t3 = time.perf_counter()
        cpu = platform.processor() or platform.machine()
        print(f"# {platform.node()} {cpu}, {os.cpu_count()} cores, {datetime.date.today()}")
        print(
            f"# genome {sum(genome.chrom_sizes.values()) / 1e6:.1f} Mb: written {t1 - t0:.2f} s, "
            f".fai built {t2 - t1:.2f} s, N scan + first draw of {args.windows} windows "
            f"{t3 - t2:.2f} s"
        )
        print("| workers | epoch 1 windows/s | epoch 2 windows/s | per worker | vs torch loader |")
        print("|---|---|---|---|---|")
        for workers in (0, 2):
            kw = dict(batch_size=args.batch_size, num_workers=workers)
            extra = dict(persistent_workers=True) if workers else {}
            first, second = epochs(DataLoader(sampler, seed=0, **kw, **extra), args.windows)
            ratio = "n/a (no torch)"
            if tud is not None:
                _, ref = epochs(tud.DataLoader(sampler, **kw, **extra), args.windows)
                ratio = f"{second / ref:.2f}x ({ref:,.0f}/s)"
            per_worker = second / max(workers, 1)
            print(f"| {workers} | {first:,.0f} | {second:,.0f} | {per_worker:,.0f} | {ratio} |")
        kw = dict(batch_size=args.batch_size, num_workers=2)
        line = f"# early exit, 2 workers: {early_exit_seconds(DataLoader(sampler, **kw)):.3f} s"
        if tud is not None:
            line += f" (torch {early_exit_seconds(tud.DataLoader(sampler, **kw)):.3f} s)"
        print(line)


if __name__ == "__main__":
    main()
