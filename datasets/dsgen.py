"""Shared pieces of the dataset generators: motifs, backgrounds, shuffles, writers, baselines.

Sequences are int8/uint8 token arrays with A, C, G, T = 0, 1, 2, 3 (biotorch's DNA order), so
the complement of token ``t`` is ``3 - t``. Everything random takes a ``numpy.random.Generator``
made by the caller from a fixed seed, and every writer is byte-deterministic (gzip with
``mtime=0`` and no file name), so ``python datasets/<name>/make.py`` regenerates its files
exactly.
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import os
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent
LETTERS = np.frombuffer(b"ACGT", dtype=np.uint8)


def generator_main(
    doc: str, script: str, seed: int, generate: Callable, write: Callable, argv=None
) -> None:
    """The command line of every ``make.py``: ``write(generate(rng), out)`` with ``rng`` seeded
    by ``seed`` and ``--out`` defaulting to the script's own folder."""
    p = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    p.add_argument("--out", type=Path, default=Path(script).resolve().parent)
    args = p.parse_args(argv)
    write(generate(np.random.default_rng(seed)), args.out)


# --------------------------------------------------------------------------- motifs


@dataclass(frozen=True)
class Motif:
    """A JASPAR position frequency matrix (``counts``: positions x A, C, G, T)."""

    name: str
    matrix_id: str
    counts: np.ndarray

    @property
    def width(self) -> int:
        return len(self.counts)

    def probs(self, pseudocount: float = 1.0) -> np.ndarray:
        """Per-position base probabilities, with ``pseudocount`` spread evenly over the bases."""
        c = self.counts + pseudocount / 4.0
        return c / c.sum(1, keepdims=True)

    def log_odds(self, background: np.ndarray | None = None) -> np.ndarray:
        """Log2-odds matrix against ``background`` base frequencies (default uniform)."""
        bg = np.full(4, 0.25) if background is None else np.asarray(background)
        return np.log2(self.probs() / bg)

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """``n`` sites drawn position by position from the matrix: uint8 array ``(n, width)``."""
        cum = np.cumsum(self.probs(), axis=1)
        u = rng.random((n, self.width, 1))
        return (u > cum[None, :, :3]).sum(-1).astype(np.uint8)


def load_motifs() -> dict[str, Motif]:
    """The JASPAR matrices of ``motifs.json`` (written by ``fetch_motifs.py``), by TF name."""
    data = json.loads((ROOT / "motifs.json").read_text())
    return {
        name: Motif(name, m["matrix_id"], np.asarray(m["counts"], dtype=np.float64))
        for name, m in data["motifs"].items()
    }


def revcomp(tokens: np.ndarray) -> np.ndarray:
    """Reverse complement of tokens along the last axis."""
    return (3 - tokens[..., ::-1]).astype(tokens.dtype)


def plant(seqs: np.ndarray, rows: np.ndarray, starts: np.ndarray, sites: np.ndarray) -> None:
    """Write ``sites[i]`` into ``seqs[rows[i], starts[i]:starts[i] + width]`` (in place)."""
    cols = starts[:, None] + np.arange(sites.shape[1])
    seqs[rows[:, None], cols] = sites


def sample_stranded(
    rng: np.random.Generator, motif: Motif, n: int
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` sites of ``motif``, each reverse-complemented with probability 1/2; and the strands
    (``True`` = minus)."""
    sites = motif.sample(rng, n)
    minus = rng.random(n) < 0.5
    sites[minus] = revcomp(sites[minus])
    return sites, minus


# --------------------------------------------------------------------------- backgrounds

#: Approximate dinucleotide frequencies of the human genome (%, rows = first base A, C, G, T;
#: columns = second base), rounded as commonly reported for hg19. Note the CpG depletion (CG).
HUMAN_DINUCLEOTIDES = np.array(
    [
        [9.8, 5.0, 7.0, 7.6],
        [7.3, 5.2, 1.0, 7.0],
        [5.9, 4.3, 5.2, 5.0],
        [6.5, 5.9, 7.3, 9.8],
    ]
)
HUMAN_GC = 0.41


def markov_background(
    rng: np.random.Generator, n: int, length: int, gc: float | np.ndarray = HUMAN_GC
) -> np.ndarray:
    """``n`` sequences of ``length`` from a first-order Markov chain with human dinucleotide
    frequencies, G/C transitions tilted so each row's GC content is about ``gc``.

    Vectorised over sequences (one step per position), so use many short rows for long DNA.
    """
    gc = np.broadcast_to(np.asarray(gc, dtype=np.float64), (n,))
    odds = (gc / (1 - gc)) / (HUMAN_GC / (1 - HUMAN_GC))
    tilt = np.ones((n, 1, 4))
    tilt[:, 0, 1:3] = odds[:, None]
    trans = HUMAN_DINUCLEOTIDES[None] * tilt
    trans /= trans.sum(-1, keepdims=True)
    cum = np.cumsum(trans, -1)[..., :3]  # (n, from, to)
    start = HUMAN_DINUCLEOTIDES.sum(1) * tilt[:, 0]
    start /= start.sum(-1, keepdims=True)
    u = rng.random((n, length))
    out = np.empty((n, length), dtype=np.uint8)
    out[:, 0] = (u[:, :1] > np.cumsum(start, -1)[:, :3]).sum(-1)
    rows = np.arange(n)
    for i in range(1, length):
        out[:, i] = (u[:, i : i + 1] > cum[rows, out[:, i - 1]]).sum(-1)
    return out


def dinucleotide_counts(seq: np.ndarray) -> np.ndarray:
    """4 x 4 matrix of dinucleotide counts of a token sequence."""
    seq = np.asarray(seq, dtype=np.int64)
    return np.bincount(seq[:-1] * 4 + seq[1:], minlength=16).reshape(4, 4)


# --------------------------------------------------------------------------- writers


def encode(text: str) -> np.ndarray:
    """ACGT text (any case) as uint8 tokens; other letters become 255."""
    table = np.full(256, 255, np.uint8)
    for i, c in enumerate(b"ACGT"):
        table[c] = table[c | 0x20] = i
    return table[np.frombuffer(text.encode(), np.uint8)]


def to_text(tokens: np.ndarray) -> list[str]:
    """Rows of a 2-D token array (or a list of 1-D arrays) as ACGT strings."""
    return [LETTERS[np.asarray(t)].tobytes().decode() for t in tokens]


def gzip_bytes(data: bytes, level: int = 6) -> bytes:
    """Deterministic gzip of ``data`` (no file name, ``mtime=0``)."""
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, compresslevel=level, mtime=0) as gz:
        gz.write(data)
    return buf.getvalue()


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


def fasta_text(ids: Iterable[str], seqs: Iterable[str], width: int = 0) -> str:
    """FASTA text; sequences wrapped at ``width`` letters (0: one line per record)."""
    lines = []
    for rid, s in zip(ids, seqs, strict=True):
        lines.append(f">{rid}")
        step = width or max(len(s), 1)
        lines.extend(s[i : i + step] for i in range(0, len(s), step))
    return "\n".join(lines) + "\n"


def write_gz(path: Path, text: str) -> None:
    """Deterministic gzip of ``text`` written atomically to ``path``."""
    write_atomic(path, gzip_bytes(text.encode()))


def split_names(n: int, sizes: dict[str, int], rng: np.random.Generator) -> np.ndarray:
    """A random assignment of ``n`` items to splits of the given sizes (must sum to ``n``)."""
    assert sum(sizes.values()) == n, (sizes, n)
    names = np.repeat(list(sizes), list(sizes.values()))
    return names[rng.permutation(n)]


# --------------------------------------------------------------------------- baselines


def scan(tokens: np.ndarray, log_odds: np.ndarray) -> np.ndarray:
    """Log-odds scores of every window on both strands: ``(n, L - w + 1, 2)`` (plus, minus).

    Tokens outside 0-3 (padding, N) score -50 at every motif position.
    """
    w = len(log_odds)
    table = np.concatenate([log_odds, np.full((w, 1), -50.0)], 1)
    rc = np.concatenate([log_odds[::-1, ::-1], np.full((w, 1), -50.0)], 1)
    t = np.where(tokens < 4, tokens, 4).astype(np.intp)
    n_win = t.shape[1] - w + 1
    out = np.zeros((t.shape[0], n_win, 2), dtype=np.float32)
    for j in range(w):
        window = t[:, j : j + n_win]
        out[..., 0] += table[j][window]
        out[..., 1] += rc[j][window]
    return out


def auroc(y: np.ndarray, score: np.ndarray) -> float:
    """Area under the ROC curve (Mann-Whitney, ties counted half)."""
    y = np.asarray(y).astype(bool)
    ranks = _average_ranks(np.asarray(score, dtype=np.float64))
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def _average_ranks(x: np.ndarray) -> np.ndarray:
    order = np.argsort(x, kind="mergesort")
    xs = x[order]
    first = np.r_[True, xs[1:] != xs[:-1]]
    group = np.cumsum(first) - 1
    starts = np.flatnonzero(first)
    ends = np.r_[starts[1:], len(x)]
    avg = (starts + ends + 1) / 2.0  # 1-based average rank of each tie group
    ranks = np.empty(len(x))
    ranks[order] = avg[group]
    return ranks


def kmer_counts(seqs: Sequence[np.ndarray], k: int) -> np.ndarray:
    """Counts of every DNA k-mer per sequence, ``(n, 4**k)`` float32 (k-mers with N skipped)."""
    rows, codes = [], []
    for i, s in enumerate(seqs):
        s = np.asarray(s, dtype=np.int64)
        if len(s) < k:
            continue
        win = np.lib.stride_tricks.sliding_window_view(s, k)
        ok = (win < 4).all(1)
        codes.append(win[ok] @ (4 ** np.arange(k - 1, -1, -1)))
        rows.append(np.full(int(ok.sum()), i))
    flat = np.concatenate(rows) * 4**k + np.concatenate(codes)
    return np.bincount(flat, minlength=len(seqs) * 4**k).reshape(len(seqs), 4**k).astype("f4")


def fit_logistic(
    x: np.ndarray, y: np.ndarray, l2: float, steps: int = 300, lr: float = 0.05
) -> tuple[np.ndarray, np.ndarray]:
    """L2-penalised logistic regression (one column of ``y`` per target) by full-batch Adam.

    Returns ``(weights, bias)``; ``x`` should be standardised.
    """
    y = y.reshape(len(y), -1).astype(np.float32)
    w = np.zeros((x.shape[1], y.shape[1]), np.float32)
    b = np.zeros(y.shape[1], np.float32)
    m = [np.zeros_like(w), np.zeros_like(b)]
    v = [np.zeros_like(w), np.zeros_like(b)]
    for t in range(1, steps + 1):
        p = 0.5 + 0.5 * np.tanh(0.5 * (x @ w + b))  # sigmoid, without overflow
        g = [x.T @ (p - y) / len(x) + l2 * w, (p - y).mean(0)]
        for i, (param, grad) in enumerate(zip((w, b), g, strict=True)):
            m[i] = 0.9 * m[i] + 0.1 * grad
            v[i] = 0.999 * v[i] + 0.001 * grad**2
            param -= lr * (m[i] / (1 - 0.9**t)) / (np.sqrt(v[i] / (1 - 0.999**t)) + 1e-8)
    return w, b


def kmer_logistic_baseline(
    train: tuple[list[np.ndarray], np.ndarray],
    valid: tuple[list[np.ndarray], np.ndarray],
    test: tuple[list[np.ndarray], np.ndarray],
    k: int,
    l2_grid: Sequence[float] = (1e-3, 1e-2, 1e-1, 1.0),
) -> tuple[float, np.ndarray]:
    """Logistic regression on per-base k-mer frequencies; L2 picked by mean validation auROC.

    Returns the chosen L2 and the test auROC per target.
    """

    def features(seqs: list[np.ndarray]) -> np.ndarray:
        counts = kmer_counts(seqs, k)
        return counts / np.maximum(counts.sum(1, keepdims=True), 1.0)

    xs = [features(s) for s, _ in (train, valid, test)]
    mu, sd = xs[0].mean(0), xs[0].std(0) + 1e-6
    xs = [(x - mu) / sd for x in xs]
    ys = [y.reshape(len(y), -1) for _, y in (train, valid, test)]

    def aucs(x: np.ndarray, y: np.ndarray, w: np.ndarray, b: np.ndarray) -> np.ndarray:
        s = x @ w + b
        return np.array([auroc(y[:, j], s[:, j]) for j in range(y.shape[1])])

    fits = {l2: fit_logistic(xs[0], ys[0], l2) for l2 in l2_grid}
    best = max(fits, key=lambda l2: np.nanmean(aucs(xs[1], ys[1], *fits[l2])))
    return best, aucs(xs[2], ys[2], *fits[best])
