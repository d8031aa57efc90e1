"""Small FASTA/BED/CSV writers shared by the data-loading tests (files go to ``tmp_path``)."""

from __future__ import annotations

import gzip
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np


def write_fasta(
    path: Path, records: Mapping[str, str] | Iterable[tuple[str, str]], width: int = 7
) -> Path:
    """Write ``{header: sequence}`` as FASTA with ``width``-letter lines (gzip if ``.gz``)."""
    items = records.items() if isinstance(records, Mapping) else records
    lines = []
    for header, seq in items:
        lines.append(f">{header}")
        lines += [seq[i : i + width] for i in range(0, len(seq), width)]
    text = "\n".join(lines) + "\n"
    if path.suffix == ".gz":
        with gzip.open(path, "wt") as fh:
            fh.write(text)
    else:
        path.write_text(text)
    return path


def random_genome(seed: int, sizes: Mapping[str, int], n_runs: int = 2) -> dict[str, str]:
    """Random chromosomes with some lowercase stretches and ``n_runs`` N runs each."""
    rng = np.random.default_rng(seed)
    genome = {}
    for chrom, size in sizes.items():
        seq = np.array(list("ACGT"))[rng.integers(0, 4, size)]
        for _ in range(n_runs):
            a = int(rng.integers(0, size))
            seq[a : a + int(rng.integers(1, max(2, size // 10)))] = "N"
        a = int(rng.integers(0, size))
        seq[a : a + size // 8] = np.char.lower(seq[a : a + size // 8])
        genome[chrom] = "".join(seq)
    return genome


def write_bed(path: Path, rows: Iterable[Iterable[object]], header: str = "") -> Path:
    """Write tab-separated rows, after an optional header text."""
    body = "".join("\t".join(str(v) for v in row) + "\n" for row in rows)
    path.write_text(header + body)
    return path


def damage(path: Path, how: str) -> Path:
    """Damage a compressed file in place: cut it in half (``"truncated"``) or zero 64 bytes in
    its middle (``"corrupt"``)."""
    data = path.read_bytes()
    half = len(data) // 2
    if how == "truncated":
        path.write_bytes(data[:half])
    else:
        path.write_bytes(data[:half] + bytes(64) + data[half + 64 :])
    return path


def random_sequences(seed: int, n: int, length: int) -> dict[str, str]:
    """``n`` random DNA records ``s0 ... s{n-1}`` of ``length`` bp (enough to compress badly)."""
    rng = np.random.default_rng(seed)
    return {f"s{i}": "".join(rng.choice(list("ACGT"), length)) for i in range(n)}
