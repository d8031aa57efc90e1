"""UCI splice junctions (primate, 60 nt, classes EI / IE / N): stratified k-fold
cross-validation with ``train_fasta.py`` (run as a separate process), per-class error against
the published backprop network, and (``--final``) the model trained on all the data that ships
as the pretrained ``splice_junction_cnn`` weights.

Data: ``splice.data`` of the UCI "Molecular Biology (Splice-junction Gene Sequences)" set
(Towell, Noordewier & Shavlik; UCI Machine Learning Repository, CC BY 4.0), e.g. the copy in
``../shared/data/uci_splice_junction``. Ambiguity codes (D, N, R, S in 15 sequences) are encoded
fractionally. The 185 exact duplicate sequences are dropped first (the first occurrence is kept)
so that no test sequence is also a training sequence; ``--no-dedup`` keeps them.

    python examples/recipes/splice_junction.py --data ../shared/data/uci_splice_junction/splice.data
    python examples/recipes/splice_junction.py --data .../splice.data --final
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from recipe_utils import run_cli, train_fasta

from biotorch._atomic import atomic_write_text
from biotorch.train import stratified_folds, tsv_text, write_json

CLASSES = ["EI", "IE", "N"]
#: Error rates (%) of the back-propagation network, UCI splice.names (Noordewier et al. 1991).
PUBLISHED_BACKPROP = {"N": 5.29, "EI": 5.74, "IE": 10.75}
MODEL_ARGS = [
    "channels=[48,48,48,48]",
    "kernel_size=9",
    "dilation=[1,2,4,8]",
    'pooling="max_mean"',
    "dropout=0.2",
]


def read_splice(path: Path, dedup: bool) -> tuple[list[str], list[str], list[str], int]:
    """(ids, sequences, labels, number of dropped duplicates) of ``splice.data``."""
    ids, seqs, labels, seen, dropped = [], [], [], set(), 0
    for line in Path(path).read_text().splitlines():
        if not line.strip():
            continue
        label, name, seq = (field.strip() for field in line.split(","))
        if dedup and seq in seen:
            dropped += 1
            continue
        seen.add(seq)
        ids.append(f"{name}#{len(ids)}")
        seqs.append(seq)
        labels.append(label)
    return ids, seqs, labels, dropped


def write_table(path: Path, rows: np.ndarray, ids, seqs, labels) -> None:
    table = [[ids[i], seqs[i], labels[i]] for i in rows]
    atomic_write_text(path, tsv_text(["id", "sequence", "label"], table))


def train_args(table: Path, args: argparse.Namespace, test: Path | None) -> list[str]:
    argv = [
        "--data",
        str(table),
        "--model",
        args.model,
        "--iupac",
        "fractional",
        "--epochs",
        str(args.epochs),
        "--lr",
        str(args.lr),
        "--batch-size",
        "64",
        "--patience",
        str(args.patience),
        "--seed",
        str(args.seed),
        "--quiet",
        "--val-fraction",
        "0.1",
        "--reverse-complement" if args.reverse_complement else "",
    ]
    for item in MODEL_ARGS:
        argv += ["--model-arg", item]
    if test is not None:
        argv += ["--test-data", str(test)]
    return [a for a in argv if a]


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", required=True, help="path of splice.data")
    p.add_argument("--folds", type=int, default=10)
    p.add_argument("--only-folds", type=int, help="run only the first N folds (quick check)")
    p.add_argument("--no-dedup", dest="dedup", action="store_false")
    p.add_argument("--model", default="masked_cnn")
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--patience", type=int, default=6)
    p.add_argument("--reverse-complement", action="store_true")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--final", action="store_true", help="also train on all data (the shipped model)"
    )
    p.add_argument("--output-dir", default="runs/splice_junction")
    args = p.parse_args(argv)
    out = Path(args.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    ids, seqs, labels, dropped = read_splice(Path(args.data), args.dedup)
    y = np.array([CLASSES.index(c) for c in labels])
    fold = stratified_folds(y, args.folds, args.seed)
    confusion = np.zeros((3, 3), dtype=np.int64)
    per_fold = []
    start = time.perf_counter()
    for k in range(args.only_folds or args.folds):
        train_t, test_t = out / f"fold{k}_train.tsv", out / f"fold{k}_test.tsv"
        write_table(train_t, np.flatnonzero(fold != k), ids, seqs, labels)
        write_table(test_t, np.flatnonzero(fold == k), ids, seqs, labels)
        result = train_fasta(train_args(train_t, args, test_t), out / f"fold{k}")
        test = result["test"]
        confusion += np.array(test["confusion"])
        per_fold.append(
            {"fold": k, "accuracy": test["accuracy"], "best_epoch": result["best_epoch"]}
        )
        print(f"fold {k}: test accuracy {test['accuracy']:.4f}", flush=True)
    total = confusion.sum()
    error = {c: 100.0 * (1 - confusion[i, i] / confusion[i].sum()) for i, c in enumerate(CLASSES)}
    summary = {
        "data": str(args.data),
        "n_sequences": len(seqs),
        "deduplicated": args.dedup,
        "duplicates_dropped": dropped,
        "folds": args.folds,
        "folds_run": len(per_fold),
        "seed": args.seed,
        "model": args.model,
        "model_args": MODEL_ARGS,
        "accuracy": float(np.trace(confusion) / total),
        "per_class_error_percent": error,
        "published_backprop_error_percent": PUBLISHED_BACKPROP,
        "confusion": {"classes": CLASSES, "rows_true": confusion.tolist()},
        "per_fold": per_fold,
        "seconds": time.perf_counter() - start,
    }
    if args.final:
        table = out / "all.tsv"
        write_table(table, np.arange(len(seqs)), ids, seqs, labels)
        summary["final"] = train_fasta(train_args(table, args, None), out / "final")["val"]
    write_json(out / "cv_summary.json", summary)
    print(
        f"{len(per_fold)}-fold CV accuracy {summary['accuracy']:.4f}; per-class error % "
        + ", ".join(f"{c} {error[c]:.2f} (backprop {PUBLISHED_BACKPROP[c]})" for c in CLASSES)
    )
    return summary


if __name__ == "__main__":
    run_cli(main)
