"""Measure the regulatory task's baselines on its committed test split; writes ``baseline.json``.

Per target, test auROC of:
- ``clean_rule_labels``: the noise-free rule labels (regenerated with the default seed) as a
  binary score: about the best a model can do given the label noise;
- ``motif_oracle``: the rule applied softly to JASPAR log-odds scans of the generating motifs
  (site probability ``sigmoid(score - 0.6 * max score)``; AND = product, NOT = 1 - p,
  spacing and order rules as windowed maxima);
- ``kmer_logreg_k5``: logistic regression on 5-mer frequencies (a weight vector per target, one L2
  for all picked on mean validation auROC).

    python datasets/regulatory/baseline.py
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))
import dsgen  # noqa: E402
import make  # noqa: E402

from biotorch.data import SequenceTableDataset  # noqa: E402


def load(split: str) -> tuple[list[np.ndarray], np.ndarray]:
    cols = [f"target_{j}" for j in range(len(make.TARGETS))]
    ds = SequenceTableDataset(HERE / f"{split}.csv.gz", label_columns=cols, id_column="id")
    return [ds[i][0] for i in range(len(ds))], np.asarray(ds.targets)


def window_max(p: np.ndarray, lo: int, hi: int) -> np.ndarray:
    """``out[:, i] = max(p[:, i + lo : i + hi + 1])`` (zero outside the array)."""
    n, length = p.shape
    pad = np.zeros((n, length + 2 * (abs(lo) + abs(hi)) + 2), p.dtype)
    off = abs(lo) + abs(hi) + 1
    pad[:, off : off + length] = p
    win = np.lib.stride_tricks.sliding_window_view(pad, hi - lo + 1, axis=1)
    return win[:, off + lo : off + lo + length].max(-1)


def motif_oracle(seqs: np.ndarray) -> np.ndarray:
    """Soft versions of the target rules on motif scans: ``(n, 12)`` scores."""
    motifs = dsgen.load_motifs()
    tracks, width = {}, {}
    for m in make.MOTIFS:
        lo = motifs[m].log_odds()
        s = dsgen.scan(seqs, lo)
        tracks[m] = 1.0 / (1.0 + np.exp(-(s - 0.6 * lo.max(1).sum())))
        width[m] = motifs[m].width
    best = {m: t.max(-1) for m, t in tracks.items()}  # (n, positions): either strand
    has = {m: b.max(1) for m, b in best.items()}

    def second(m: str, reach: int) -> np.ndarray:
        """Best site not overlapping the top one and starting within ``reach`` of it."""
        b = best[m].copy()
        top = b.argmax(1)
        pos = np.arange(b.shape[1])[None]
        dist = np.abs(pos - top[:, None])
        b[(dist < width[m]) | (dist > reach)] = 0.0
        return b.max(1)

    def near(a: str, b: str, gap: int) -> np.ndarray:
        wa, wb = width[a], width[b]
        pb = np.pad(best[b], ((0, 0), (0, wb - 1)))[:, : best[a].shape[1]]
        return (best[a] * window_max(pb, -gap - wb, wa + gap)).max(1)

    ap1, ceb = best["FOS::JUN"], best["CEBPB"]
    pc = np.pad(ceb, ((0, 0), (0, 60)))[:, : ap1.shape[1]]
    then = (ap1 * window_max(pc, width["FOS::JUN"], width["FOS::JUN"] + 50)).max(1)
    g, s, c = has["GATA1"], has["SPI1"], has["CEBPB"]
    two_of = g * s + g * c + s * c - 2 * g * s * c
    central = best["CTCF"][:, 200 : 400 - width["CTCF"] + 1].max(1)
    return np.stack(
        [
            has["CTCF"],
            has["FOS::JUN"],
            g,
            near("GATA1", "SPI1", 20),
            tracks["FOXA1"][..., 1].max(1),
            has["FOXA1"] * has["HNF4A"],
            second("CEBPB", make.LENGTH),
            second("SP1", 100),
            then,
            s * (1 - g),
            two_of,
            central,
        ],
        1,
    )


def main() -> None:
    data = {s: load(s) for s in make.SPLITS}
    seqs, y = data["test"]
    gen = make.generate(np.random.default_rng(make.SEED))
    clean = gen["clean"][gen["split"] == "test"].astype(float)
    oracle = motif_oracle(np.stack(seqs))
    l2, kmer = dsgen.kmer_logistic_baseline(data["train"], data["validation"], data["test"], 5)
    rows = {}
    for j, name in enumerate(make.TARGETS):
        rows[f"target_{j}"] = {
            "name": name,
            "train_positive_rate": round(float(data["train"][1][:, j].mean()), 4),
            "clean_rule_labels": round(dsgen.auroc(y[:, j], clean[:, j]), 4),
            "motif_oracle": round(dsgen.auroc(y[:, j], oracle[:, j]), 4),
            "kmer_logreg_k5": round(float(kmer[j]), 4),
        }
    means = {
        k: round(float(np.mean([r[k] for r in rows.values()])), 4)
        for k in ("clean_rule_labels", "motif_oracle", "kmer_logreg_k5")
    }
    result = {"test_auroc": rows, "mean_test_auroc": means, "kmer_logreg_k5_l2": l2}
    text = json.dumps(result, indent=1)
    dsgen.write_atomic(HERE / "baseline.json", (text + "\n").encode())
    print(text)


if __name__ == "__main__":
    main()
