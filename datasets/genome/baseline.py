"""Measure the genome task's baselines; writes ``baseline.json``.

Windows of 1,000 bp are drawn with ``GenomeWindowSampler`` (blacklist excluded, at most 10 % N,
targets = a factor's peaks covering >= 50 % of the central 200 bp bin; train on chr1-3,
validation chr4, test chr5). Per factor, test auROC of:
- ``motif_oracle``: the best log-odds score of the factor's JASPAR matrix in the central
  400 bp (both strands);
- ``kmer_logreg_k4``: logistic regression on 4-mer frequencies of the whole window.

    python datasets/genome/baseline.py   # decompresses nothing: genome.fa.gz is BGZF
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))
import dsgen  # noqa: E402
import make  # noqa: E402

from biotorch.data import Genome, GenomeWindowSampler  # noqa: E402

WINDOWS = {"train": 20000, "validation": 4000, "test": 8000}


def windows(genome: Genome, split: str) -> tuple[list[np.ndarray], np.ndarray]:
    beds = {f: HERE / "peaks" / f"{f.replace('::', '_')}.narrowPeak.gz" for f in make.FACTORS}
    sampler = GenomeWindowSampler(
        genome,
        1000,
        WINDOWS[split],
        blacklist=HERE / "blacklist.bed",
        target_beds=beds,
        holdout=make.HOLDOUT,
        split=split,
        seed=1,
    )
    pairs = [sampler[i] for i in range(len(sampler))]
    return [np.asarray(x) for x, _ in pairs], np.stack([np.asarray(y) for _, y in pairs])


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:  # pyfaidx writes its index next to the FASTA
        shutil.copy(HERE / "genome.fa.gz", tmp)
        genome = Genome(Path(tmp) / "genome.fa.gz")
        data = {s: windows(genome, s) for s in WINDOWS}
    seqs, y = data["test"]
    centre = np.stack(seqs)[:, 300:700]
    motifs = dsgen.load_motifs()
    l2, kmer = dsgen.kmer_logistic_baseline(data["train"], data["validation"], data["test"], 4)
    rows = {}
    for j, factor in enumerate(make.FACTORS):
        oracle = dsgen.scan(centre, motifs[factor].log_odds()).max(axis=(1, 2))
        rows[factor] = {
            "train_positive_rate": round(float(data["train"][1][:, j].mean()), 4),
            "test_positive_rate": round(float(y[:, j].mean()), 4),
            "motif_oracle": round(dsgen.auroc(y[:, j], oracle), 4),
            "kmer_logreg_k4": round(float(kmer[j]), 4),
        }
    result = {"windows": WINDOWS, "test_auroc": rows, "kmer_logreg_k4_l2": l2}
    text = json.dumps(result, indent=1)
    dsgen.write_atomic(HERE / "baseline.json", (text + "\n").encode())
    print(text)


if __name__ == "__main__":
    main()
