"""Measure the binding task's baselines on its committed files; writes ``baseline.json``.

- ``pwm_oracle``: the best CTCF MA0139.1 log-odds score over both strands (the generating
  matrix itself, so a practical ceiling for a one-motif model).
- ``kmer_logreg_k{K}``: logistic regression on k-mer frequencies (L2 picked on validation).

    python datasets/binding/baseline.py
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
import dsgen  # noqa: E402

from biotorch.data import FastaDataset  # noqa: E402


def load(split: str, files: dict[str, str]) -> tuple[list[np.ndarray], np.ndarray]:
    ds = FastaDataset({c: HERE / f for c, f in files.items()})
    return [ds[i][0] for i in range(len(ds))], np.asarray(ds.targets)


def main() -> None:
    splits = json.loads((HERE / "splits.json").read_text())
    data = {s: load(s, f) for s, f in splits.items()}
    seqs, y = data["test"]
    motif = dsgen.load_motifs()["CTCF"]
    oracle = dsgen.scan(np.stack(seqs), motif.log_odds()).max(axis=(1, 2))
    result = {"test_auroc": {"pwm_oracle": round(dsgen.auroc(y, oracle), 4)}}
    for k in (4, 6):
        l2, auc = dsgen.kmer_logistic_baseline(data["train"], data["validation"], data["test"], k)
        result["test_auroc"][f"kmer_logreg_k{k}"] = round(float(auc[0]), 4)
        result[f"kmer_logreg_k{k}_l2"] = l2
    text = json.dumps(result, indent=1)
    dsgen.write_atomic(HERE / "baseline.json", (text + "\n").encode())
    print(text)


if __name__ == "__main__":
    main()
