"""Generate the multi-label regulatory task: 600 bp sequences, 12 targets from motif grammar.

Each sequence is a first-order Markov background (human dinucleotide frequencies, GC content
drawn per sequence) into which a Poisson number of "events" is planted at free positions:
single JASPAR motif sites, or composite events (a GATA1-SPI1 pair a few bp apart, AP-1 then
CEBPB downstream, FOXA1 with HNF4A, clusters of SP1 or CEBPB sites). The 12 targets are rules
over the planted sites (see ``TARGETS``), so some targets share motifs and some need spacing,
order, strand, count, position or absence. Labels then get noise: each positive is dropped
with probability ``P_DROP`` and each negative turned positive with probability ``P_SPURIOUS``.

    python datasets/regulatory/make.py [--out DIR]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import dsgen  # noqa: E402

SEED = 20240502
LENGTH = 600
SPLITS = {"train": 16000, "validation": 2000, "test": 2000}
MOTIFS = ["CTCF", "FOS::JUN", "GATA1", "SPI1", "FOXA1", "CEBPB", "SP1", "HNF4A"]
EVENTS_PER_SEQUENCE = 2.0  # Poisson mean
P_DROP, P_SPURIOUS = 0.05, 0.005

# An event is a list of (motif, offset from the previous site's end: (low, high)) plus a
# weight; ``None`` strand means random, "pair order random" is expressed by two entries.
EVENTS = [
    *[([(m, (0, 0))], 1.0) for m in MOTIFS],
    ([("GATA1", (0, 0)), ("SPI1", (0, 15))], 0.35),
    ([("SPI1", (0, 0)), ("GATA1", (0, 15))], 0.35),
    ([("FOS::JUN", (0, 0)), ("CEBPB", (2, 45))], 0.6),
    ([("FOXA1", (0, 0)), ("HNF4A", (5, 300))], 0.25),
    ([("HNF4A", (0, 0)), ("FOXA1", (5, 300))], 0.25),
    ([("SP1", (0, 0)), ("SP1", (2, 60))], 0.4),
    ([("SP1", (0, 0)), ("SP1", (2, 30)), ("SP1", (2, 30))], 0.2),
    ([("CEBPB", (0, 0)), ("CEBPB", (5, 200))], 0.3),
]

# Target rules over a sequence's sites, each site a (motif, start, end, minus) tuple.
TARGETS = {
    "CTCF": "a CTCF site",
    "AP1": "a FOS::JUN site",
    "GATA1": "a GATA1 site",
    "GATA1_SPI1_near": "a GATA1 site and a SPI1 site at most 20 bp apart (edge to edge)",
    "FOXA1_minus": "a FOXA1 site on the minus strand",
    "FOXA1_and_HNF4A": "a FOXA1 site and an HNF4A site anywhere",
    "CEBPB_pair": "two or more CEBPB sites",
    "SP1_cluster": "two SP1 sites whose starts are at most 100 bp apart",
    "AP1_then_CEBPB": "a CEBPB site starting 0-50 bp after the end of a FOS::JUN site",
    "SPI1_not_GATA1": "a SPI1 site and no GATA1 site",
    "two_of_GATA1_SPI1_CEBPB": "sites of at least two of GATA1, SPI1 and CEBPB",
    "CTCF_central": "a CTCF site inside the central 200 bp [200, 400)",
}


def rule_labels(sites: list[tuple[str, int, int, bool]]) -> list[bool]:
    """The clean label of every target of ``TARGETS`` for one sequence's sites."""
    by = {m: [s for s in sites if s[0] == m] for m in MOTIFS}
    has = {m: bool(v) for m, v in by.items()}

    def gap(a: tuple, b: tuple) -> int:
        return max(b[1] - a[2], a[1] - b[2])

    sp1 = sorted(s[1] for s in by["SP1"])
    return [
        has["CTCF"],
        has["FOS::JUN"],
        has["GATA1"],
        any(gap(g, s) <= 20 for g in by["GATA1"] for s in by["SPI1"]),
        any(s[3] for s in by["FOXA1"]),
        has["FOXA1"] and has["HNF4A"],
        len(by["CEBPB"]) >= 2,
        any(b - a <= 100 for a, b in zip(sp1, sp1[1:], strict=False)),
        any(0 <= c[1] - a[2] <= 50 for a in by["FOS::JUN"] for c in by["CEBPB"]),
        has["SPI1"] and not has["GATA1"],
        has["GATA1"] + has["SPI1"] + has["CEBPB"] >= 2,
        any(s[1] >= 200 and s[2] <= 400 for s in by["CTCF"]),
    ]


def place_events(rng: np.random.Generator, n: int, widths: dict[str, int]) -> list[list[tuple]]:
    """Per sequence, the planted sites ``(motif, start, end, minus)``, never overlapping."""
    weights = np.array([w for _, w in EVENTS])
    counts = rng.poisson(EVENTS_PER_SEQUENCE, n)
    all_sites = []
    for count in counts:
        free = np.ones(LENGTH, bool)
        sites: list[tuple] = []
        for e in rng.choice(len(EVENTS), count, p=weights / weights.sum()):
            parts, span, offsets = EVENTS[e][0], 0, []
            for motif, (lo, hi) in parts:
                span += int(rng.integers(lo, hi + 1)) if offsets else 0
                offsets.append(span)
                span += widths[motif]
            for _ in range(20):  # a few tries at a free stretch, else the event is dropped
                start = int(rng.integers(0, LENGTH - span + 1))
                if free[start : start + span].all():
                    free[start : start + span] = False
                    for (motif, _), off in zip(parts, offsets, strict=True):
                        s = start + off
                        sites.append((motif, s, s + widths[motif], bool(rng.random() < 0.5)))
                    break
        all_sites.append(sites)
    return all_sites


def generate(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Sequences, clean and noisy labels, and splits."""
    n = sum(SPLITS.values())
    motifs = dsgen.load_motifs()
    gc = np.clip(rng.normal(0.42, 0.05, n), 0.3, 0.62)
    seqs = dsgen.markov_background(rng, n, LENGTH, gc)
    sites = place_events(rng, n, {m: motifs[m].width for m in MOTIFS})
    for m in MOTIFS:
        rows = [(i, s[1], s[3]) for i, ss in enumerate(sites) for s in ss if s[0] == m]
        row, start, minus = (np.array(c) for c in zip(*rows, strict=True))
        drawn = motifs[m].sample(rng, len(row))
        drawn[minus] = dsgen.revcomp(drawn[minus])
        dsgen.plant(seqs, row, start, drawn)
    clean = np.array([rule_labels(s) for s in sites], dtype=bool)
    u = rng.random(clean.shape)
    noisy = np.where(clean, u >= P_DROP, u < P_SPURIOUS)
    split = dsgen.split_names(n, SPLITS, rng)
    return {"seqs": seqs, "clean": clean, "labels": noisy, "split": split, "sites": sites}


def write(data: dict, out: Path) -> None:
    """``{split}.csv.gz`` tables (id, sequence, target_0..target_11, split) and
    ``targets.json`` (column -> name and rule)."""
    header = ",".join(["id", "sequence", *(f"target_{j}" for j in range(len(TARGETS))), "split"])
    text = dsgen.to_text(data["seqs"])
    for split in SPLITS:
        idx = np.flatnonzero(data["split"] == split)
        lines = [header]
        for k, i in enumerate(idx):
            labels = ",".join("1" if v else "0" for v in data["labels"][i])
            lines.append(f"{split}_{k:05d},{text[i]},{labels},{split}")
        dsgen.write_gz(out / f"{split}.csv.gz", "\n".join(lines) + "\n")
    targets = {f"target_{j}": {"name": k, "rule": v} for j, (k, v) in enumerate(TARGETS.items())}
    dsgen.write_atomic(out / "targets.json", (json.dumps(targets, indent=1) + "\n").encode())


def main(argv: list[str] | None = None) -> None:
    dsgen.generator_main(__doc__, __file__, SEED, generate, write, argv)


if __name__ == "__main__":
    main()
