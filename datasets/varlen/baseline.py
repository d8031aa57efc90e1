"""Measure the variable-length task's baselines on its committed files; writes ``baseline.json``.

Test auROC of:
- ``length_only``: the sequence length as the score (near 0.5: length carries no label);
- ``motif_oracle``: ``p(TP53) * (1 - p(REST))`` from JASPAR log-odds scans of the whole
  sequence (site probability ``sigmoid(score - 0.6 * max score)``);
- ``motif_oracle_first_500bp``: the same oracle shown only the first 500 bp, what a model that
  crops long sequences can reach;
- ``kmer_logreg_k{4,6}``: logistic regression on k-mer frequencies (L2 picked on validation).

    python datasets/varlen/baseline.py
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
import dsgen  # noqa: E402

from biotorch.data import FastaDataset, pad_sequences  # noqa: E402


def load(files: dict[str, str]) -> tuple[list[np.ndarray], np.ndarray]:
    ds = FastaDataset({c: HERE / f for c, f in files.items()})
    return [ds[i][0] for i in range(len(ds))], np.asarray(ds.targets)


def oracle(seqs: list[np.ndarray], crop: int | None = None) -> np.ndarray:
    """``p(TP53 site) * (1 - p(REST site))`` over each sequence (or its first ``crop`` bp)."""
    motifs = dsgen.load_motifs()
    x, _, _ = pad_sequences([s[:crop] for s in seqs])  # pad tokens score -50 in ``scan``
    p = {}
    for m in ("TP53", "REST"):
        lo = motifs[m].log_odds()
        best = dsgen.scan(x, lo).max(axis=(1, 2))
        p[m] = 1.0 / (1.0 + np.exp(-(best - 0.6 * lo.max(1).sum())))
    return p["TP53"] * (1.0 - p["REST"])


def main() -> None:
    splits = json.loads((HERE / "splits.json").read_text())
    data = {s: load(f) for s, f in splits.items()}
    seqs, y = data["test"]
    lengths = np.array([len(s) for s in seqs])
    aucs = {
        "length_only": dsgen.auroc(y, lengths),
        "motif_oracle": dsgen.auroc(y, oracle(seqs)),
        "motif_oracle_first_500bp": dsgen.auroc(y, oracle(seqs, 500)),
    }
    result: dict = {}
    for k in (4, 6):
        l2, auc = dsgen.kmer_logistic_baseline(data["train"], data["validation"], data["test"], k)
        aucs[f"kmer_logreg_k{k}"] = float(auc[0])
        result[f"kmer_logreg_k{k}_l2"] = l2
    result = {"test_auroc": {k: round(v, 4) for k, v in aucs.items()}, **result}
    text = json.dumps(result, indent=1)
    dsgen.write_atomic(HERE / "baseline.json", (text + "\n").encode())
    print(text)


if __name__ == "__main__":
    main()
