"""Generate the variable-length task: 50-2,000 bp DNA, label = TP53 site present and no REST site.

Lengths follow a log-normal (median ~400 bp) truncated to [50, 2000] by redrawing, like
transcript or protein lengths. Each sequence is a first-order Markov background (human
dinucleotide frequencies, GC drawn per sequence). Half the sequences are positive: one or two
JASPAR TP53 (MA0106.3) sites and no REST (MA0138.2) site. Negatives are, in equal parts, plain
background, REST only, or TP53 and REST (the repressor site vetoes). Sites go anywhere in the
sequence, on either strand, so a model has to scan the whole length; lengths are drawn
independently of the label.

    python datasets/varlen/make.py [--out DIR]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import dsgen  # noqa: E402

SEED = 20240503
SPLITS = {"train": 8000, "validation": 1000, "test": 1000}
MIN_LEN, MAX_LEN = 50, 2000
LOG_MEDIAN, LOG_SIGMA = np.log(400.0), 0.8
ACTIVATOR, REPRESSOR = "TP53", "REST"


def draw_lengths(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` log-normal lengths truncated to ``[MIN_LEN, MAX_LEN]`` by redrawing."""
    out = np.empty(0, np.int64)
    while len(out) < n:
        x = np.rint(rng.lognormal(LOG_MEDIAN, LOG_SIGMA, 2 * n)).astype(np.int64)
        out = np.concatenate([out, x[(x >= MIN_LEN) & (x <= MAX_LEN)]])
    return out[:n]


def place(rng: np.random.Generator, length: int, widths: list[int]) -> list[int]:
    """Random non-overlapping starts for sites of ``widths`` in a sequence of ``length``."""
    free = np.ones(length, bool)
    starts = []
    for w in widths:
        ok = np.flatnonzero(np.lib.stride_tricks.sliding_window_view(free, w).all(1))
        s = int(rng.choice(ok))
        free[s : s + w] = False
        starts.append(s)
    return starts


def generate(rng: np.random.Generator) -> dict:
    """Sequences (list of token arrays), labels, planted sites and splits."""
    n = sum(SPLITS.values())
    motifs = dsgen.load_motifs()
    act, rep = motifs[ACTIVATOR], motifs[REPRESSOR]
    lengths = draw_lengths(rng, n)
    gc = np.clip(rng.normal(0.45, 0.06, n), 0.3, 0.65)
    background = dsgen.markov_background(rng, n, MAX_LEN, gc)
    label = rng.random(n) < 0.5
    kind = np.where(label, 0, rng.integers(1, 4, n))  # 0 pos, 1 none, 2 REST, 3 TP53 + REST
    long = lengths >= 200
    n_act = np.where((kind == 0) | (kind == 3), 1 + (long & (rng.random(n) < 0.3)), 0)
    n_rep = np.where(kind >= 2, 1 + (long & (rng.random(n) < 0.3)), 0)
    seqs, sites = [], []
    for i in range(n):
        names = [ACTIVATOR] * n_act[i] + [REPRESSOR] * n_rep[i]
        widths = [motifs[m].width for m in names]
        s = background[i, : lengths[i]].copy()
        row = []
        for m, start in zip(names, place(rng, int(lengths[i]), widths), strict=True):
            site, minus = dsgen.sample_stranded(rng, act if m == ACTIVATOR else rep, 1)
            s[start : start + site.shape[1]] = site[0]
            row.append(f"{m}:{start}{'-' if minus[0] else '+'}")
        seqs.append(s)
        sites.append(row)
    split = dsgen.split_names(n, SPLITS, rng)
    return {"seqs": seqs, "label": label, "sites": sites, "split": split, "lengths": lengths}


def write(data: dict, out: Path) -> None:
    """Per-split, per-class gzipped FASTA files (one line per record) and ``splits.json``."""
    files: dict[str, dict[str, str]] = {}
    for split in SPLITS:
        for cls, want in (("neg", False), ("pos", True)):
            idx = np.flatnonzero((data["split"] == split) & (data["label"] == want))
            heads = [
                f"{split}_{cls}_{k:05d} length={data['lengths'][i]} "
                f"sites={','.join(data['sites'][i]) or 'none'}"
                for k, i in enumerate(idx)
            ]
            name = f"{split}_{cls}.fa.gz"
            text = dsgen.to_text([data["seqs"][i] for i in idx])
            dsgen.write_gz(out / name, dsgen.fasta_text(heads, text))
            files.setdefault(split, {})[cls] = name
    dsgen.write_atomic(out / "splits.json", (json.dumps(files, indent=1) + "\n").encode())


def main(argv: list[str] | None = None) -> None:
    dsgen.generator_main(__doc__, __file__, SEED, generate, write, argv)


if __name__ == "__main__":
    main()
