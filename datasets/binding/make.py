"""Generate the DeepBind-style binding task: CTCF sites in ~human background vs. shuffles.

Each positive is a 101 bp first-order Markov sequence with human dinucleotide frequencies
(GC jittered per sequence) carrying one or two non-overlapping sites sampled from JASPAR's
CTCF matrix MA0139.1, each at a random position and strand. Its negative is an
Altschul-Erickson dinucleotide shuffle of the positive, so dinucleotide composition does not
tell the classes apart. Positive/negative pairs stay in the same split.

    python datasets/binding/make.py [--out DIR]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import dsgen  # noqa: E402

from biotorch.data import dinucleotide_shuffle  # noqa: E402

SEED = 20240501
LENGTH = 101
MOTIF = "CTCF"
SPLITS = {"train": 4000, "validation": 500, "test": 500}  # positive/negative pairs
P_TWO_SITES = 0.3


def generate(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Positives, their shuffled negatives and the planted sites (one row per pair)."""
    n = sum(SPLITS.values())
    motif = dsgen.load_motifs()[MOTIF]
    w = motif.width
    gc = np.clip(rng.normal(dsgen.HUMAN_GC, 0.04, n), 0.3, 0.6)
    pos = dsgen.markov_background(rng, n, LENGTH, gc)
    n_sites = 1 + (rng.random(n) < P_TWO_SITES)
    # two sorted starts in [0, L - 2w], the second moved right by w: never overlapping
    starts = np.sort(rng.integers(0, LENGTH - 2 * w + 1, (n, 2)), axis=1) + [0, w]
    one = n_sites == 1
    starts[one, 0] = rng.integers(0, LENGTH - w + 1, int(one.sum()))
    starts[one, 1] = -1
    rows, cols = np.nonzero(starts >= 0)
    sites, minus = dsgen.sample_stranded(rng, motif, len(rows))
    dsgen.plant(pos, rows, starts[rows, cols], sites)
    strands = np.full((n, 2), "", dtype=object)
    strands[rows, cols] = np.where(minus, "-", "+")
    neg = np.stack([dinucleotide_shuffle(s, rng) for s in pos])
    split = dsgen.split_names(n, SPLITS, rng)
    return {"pos": pos, "neg": neg, "starts": starts, "strands": strands, "split": split}


def write(data: dict[str, np.ndarray], out: Path) -> None:
    """Per-split, per-class gzipped FASTA files and ``splits.json``."""
    files = {}
    for split in SPLITS:
        idx = np.flatnonzero(data["split"] == split)
        pos_ids = [f"{split}_pos_{i:05d}" for i in range(len(idx))]
        starts, strands = data["starts"][idx], data["strands"][idx]
        sites = [
            ",".join(f"{s}{st}" for s, st in zip(a, b, strict=True) if s >= 0)
            for a, b in zip(starts, strands, strict=True)
        ]
        pos_head = [f"{rid} sites={s}" for rid, s in zip(pos_ids, sites, strict=True)]
        neg_head = [f"{split}_neg_{j:05d} shuffle_of={rid}" for j, rid in enumerate(pos_ids)]
        for cls, heads in (("neg", neg_head), ("pos", pos_head)):
            name = f"{split}_{cls}.fa.gz"
            dsgen.write_gz(out / name, dsgen.fasta_text(heads, dsgen.to_text(data[cls][idx])))
            files.setdefault(split, {})[cls] = name
    dsgen.write_atomic(out / "splits.json", (json.dumps(files, indent=1) + "\n").encode())


def main(argv: list[str] | None = None) -> None:
    dsgen.generator_main(__doc__, __file__, SEED, generate, write, argv)


if __name__ == "__main__":
    main()
