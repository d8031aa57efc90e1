"""Encoding and batching throughput: biotorch.data vs a per-character dict encoder (and torch).

Run from the repository root::

    python benchmarks/bench_encoding.py [--seqs 10000] [--length 1000] [--repeats 7]

Prints one table: encode throughput (Mbp/s) for 10,000 x 1 kb DNA sequences, one-hot float32
throughput, reverse complement, each with its ratio to a naive per-character Python dict encoder
(and to ``torch.nn.functional.one_hot`` when torch is importable), then the padding efficiency
(real tokens / padded positions) of plain random batches vs length-bucketed batches on the real
length distribution of the AMP Scanner v2 peptides (Veltri et al. 2018), read from
``../shared/data/amp_scanner_v2_veltri2018`` when it is there.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import time
from pathlib import Path

import numpy as np

from biotorch.data import (
    PROTEIN,
    BatchSampler,
    BucketBatchSampler,
    RandomSampler,
    encode,
    one_hot,
    reverse_complement,
)

AMP_DIR = (
    Path(__file__).resolve().parents[2] / "shared/data/amp_scanner_v2_veltri2018/original-dataset"
)


def timed(fn, repeats: int) -> tuple[float, float]:
    """(median, best) wall seconds of ``fn()`` over ``repeats`` runs after one warm-up."""
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), min(times)


def naive_encode(seqs: list[str]) -> list[np.ndarray]:
    """The reference: a per-character dict lookup, as many genomics scripts do."""
    table = {c: i for i, c in enumerate("ACGT")}
    table.update({c.lower(): i for c, i in table.items()})
    return [np.array([table.get(c, 4) for c in s], dtype=np.int8) for s in seqs]


def naive_one_hot(seqs: list[str]) -> np.ndarray:
    """Per-character one-hot, channels first."""
    table = {"A": 0, "C": 1, "G": 2, "T": 3}
    out = np.zeros((len(seqs), 4, len(seqs[0])), dtype=np.float32)
    for b, s in enumerate(seqs):
        for j, c in enumerate(s.upper()):
            if c in table:
                out[b, table[c], j] = 1.0
    return out


def random_dna(n: int, length: int, seed: int = 0) -> list[str]:
    """Random sequences with ~0.5% N and ~10% soft-masked (lowercase) runs."""
    rng = np.random.default_rng(seed)
    codes = np.frombuffer(b"ACGTN", np.uint8)[
        rng.choice(5, size=(n, length), p=[0.24875] * 4 + [0.005])
    ]
    lower = rng.random((n, length)) < 0.1
    codes = np.where(lower, codes + 32, codes).astype(np.uint8)
    return [row.tobytes().decode("ascii") for row in codes]


def read_fasta_lengths(directory: Path) -> np.ndarray:
    """Sequence lengths of every record in the ``*.fa`` files of ``directory``."""
    lengths = []
    for path in sorted(directory.glob("*.fa")):
        records = path.read_text().split(">")[1:]
        for record in records:
            seq = "".join(record.splitlines()[1:])
            encode(seq, PROTEIN)  # every peptide must encode
            lengths.append(len(seq))
    return np.array(lengths)


def plain_efficiency(lengths: np.ndarray, batch_size: int, seed: int) -> float:
    batches = BatchSampler(RandomSampler(range(len(lengths)), generator=seed), batch_size, False)
    real = padded = 0
    for b in batches:
        real += int(lengths[b].sum())
        padded += len(b) * int(lengths[b].max())
    return real / padded


def torch_one_hot_rate(tokens: np.ndarray, mbp: float, repeats: int) -> float | None:
    """Mbp/s of ``torch.nn.functional.one_hot`` to a (B, 4, L) float32 tensor, if torch imports."""
    try:
        import torch
    except ImportError:
        return None
    t_tokens = torch.from_numpy(tokens.astype(np.int64)).clamp(max=4)

    def run() -> object:
        hot = torch.nn.functional.one_hot(t_tokens, 5)[..., :4]
        return hot.permute(0, 2, 1).to(torch.float32).contiguous()

    return mbp / timed(run, repeats)[0]


def cpu_model() -> str:
    """The CPU model name (Linux), else the platform's processor string."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seqs", type=int, default=10_000)
    parser.add_argument("--length", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--naive-seqs", type=int, default=300, help="sequences for the naive loop")
    args = parser.parse_args()

    seqs = random_dna(args.seqs, args.length)
    mbp = args.seqs * args.length / 1e6
    small = seqs[: args.naive_seqs]
    small_mbp = len(small) * args.length / 1e6
    tokens = encode(seqs)
    rows: list[tuple[str, float, float, str]] = []

    naive_tok = small_mbp / timed(lambda: naive_encode(small), 3)[0]
    naive_oh = small_mbp / timed(lambda: naive_one_hot(small), 3)[0]

    def row(name: str, fn, *references: tuple[float, str]) -> None:
        median, best = timed(fn, args.repeats)
        rate = mbp / median
        ratios = ", ".join(f"{rate / ref:,.0f}x {ref_name}" for ref, ref_name in references if ref)
        rows.append((name, rate, mbp / best, ratios))

    rows.append(("naive dict encode (reference)", naive_tok, naive_tok, "1x"))
    row("encode str -> int8 tokens", lambda: encode(seqs), (naive_tok, "naive"))
    as_bytes = [s.encode("ascii") for s in seqs]
    row("encode bytes -> int8 tokens", lambda: encode(as_bytes), (naive_tok, "naive"))
    row("encode + soft mask", lambda: encode(seqs, return_soft_mask=True), (naive_tok, "naive"))
    rows.append(("naive dict one-hot (reference)", naive_oh, naive_oh, "1x"))
    row("one_hot str -> float32 (B,4,L)", lambda: one_hot(encode(seqs)), (naive_oh, "naive"))
    row("reverse_complement int8 tokens", lambda: reverse_complement(tokens), (naive_tok, "naive"))
    # torch last: its thread pool keeps spinning after it runs and would slow what follows
    one_hot_median, one_hot_best = timed(lambda: one_hot(tokens), args.repeats)
    torch_oh = torch_one_hot_rate(tokens, mbp, args.repeats)
    if torch_oh:
        rows.append(("torch F.one_hot int64 -> (B,4,L) float32", torch_oh, torch_oh, "1x"))
    rate = mbp / one_hot_median
    ratios = f"{rate / naive_oh:,.0f}x naive" + (
        f", {rate / torch_oh:,.1f}x torch" if torch_oh else ""
    )
    rows.append(("one_hot int8 tokens -> float32 (B,4,L)", rate, mbp / one_hot_best, ratios))

    today = datetime.date.today().isoformat()
    print(
        f"# encoding: {args.seqs} x {args.length} bp; {cpu_model()}, {os.cpu_count()} cores; ",
        end="",
    )
    print(f"Python {platform.python_version()}, numpy {np.__version__}; {today}")
    print(f"| {'operation':40} | {'Mbp/s (median)':>14} | {'Mbp/s (best)':>12} | ratio |")
    print(f"|{'-' * 42}|{'-' * 16}:|{'-' * 14}:|------:|")
    for name, rate, best, ratio in rows:
        print(f"| {name:40} | {rate:14,.1f} | {best:12,.1f} | {ratio} |")

    if not AMP_DIR.is_dir():
        print(f"\n(padding efficiency skipped: {AMP_DIR} not found)")
        return
    lengths = read_fasta_lengths(AMP_DIR)
    print(
        f"\n# padding efficiency: AMP Scanner v2 peptides, {lengths.size} sequences, length "
        f"{lengths.min()}-{lengths.max()} (mean {lengths.mean():.1f})"
    )
    print("| batching | batches | real / padded tokens |")
    print("|---|---:|---:|")
    print(f"| pad all to 200 (authors' setup) | - | {lengths.mean() / 200:.3f} |")
    for batch_size in (32, 128):
        plain = plain_efficiency(lengths, batch_size, seed=0)
        n = -(-lengths.size // batch_size)
        print(f"| random batches of {batch_size} | {n} | {plain:.3f} |")
        bucket = BucketBatchSampler(lengths, batch_size=batch_size, seed=0)
        print(f"| BucketBatchSampler(batch_size={batch_size}) | {len(bucket)} | ", end="")
        print(f"{bucket.padding_efficiency():.3f} |")
    tokens_budget = BucketBatchSampler(lengths, max_tokens=4096, seed=0)
    print(f"| BucketBatchSampler(max_tokens=4096) | {len(tokens_budget)} | ", end="")
    print(f"{tokens_budget.padding_efficiency():.3f} |")


if __name__ == "__main__":
    main()
