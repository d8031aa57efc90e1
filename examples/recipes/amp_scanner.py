"""AMP Scanner v2 benchmark (Veltri, Kamath & Shehu, Bioinformatics 2018): antimicrobial
peptides vs non-AMP decoys, 11-183 aa. Trains a variable-length CNN with masked global pooling
(``masked_cnn``: token embedding, one convolution of width 15, masked max+mean pooling;
length-bucketed batches) with ``train_fasta.py`` on the published split: train on ``*.tr.fa``,
early-stop on ``*.eval.fa`` (auROC), report ``*.te.fa``. ``--seeds`` models (seeds 0, 1, ...)
are trained; the summary gives each one's test numbers, their mean, and those of the ensemble
(mean probability over the seeds).

The data are GPL-3.0 (github.com/dan-veltri/amp-scanner-v2, ``original-dataset/``); biotorch
ships this recipe and the metrics it measured, not weights trained on them.

    python examples/recipes/amp_scanner.py \
        --data-dir ../shared/data/amp_scanner_v2_veltri2018/original-dataset
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from example_utils import atomic_write_text, json_ready, load_scorer  # noqa: E402
from predict import score_fasta  # noqa: E402
from train_fasta import main as train  # noqa: E402

from biotorch.metrics import evaluate_binary  # noqa: E402

#: Test-set numbers of AMP Scanner v2 (CNN-LSTM) as quoted by Fu et al. 2020 (ACEP), Table 2.
PUBLISHED = {"accuracy": 0.9129, "auroc": 0.9630, "mcc": 0.8261}
MODEL_ARGS = [
    "embedding_dim=64",
    "channels=[128]",
    "kernel_size=15",
    'pooling="max_mean"',
    "dropout=0.5",
]


KEYS = ("accuracy", "auroc", "auprc", "mcc", "n_samples")


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data-dir", required=True, help="the original-dataset/ folder")
    p.add_argument("--epochs", type=int, default=40)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--seeds", type=int, default=5, help="train this many seeds (0, 1, ...)")
    p.add_argument("--output-dir", default="runs/amp_scanner")
    p.add_argument("--device", default="cpu")
    p.add_argument("--model", default="masked_cnn")
    p.add_argument("--model-arg", action="append", help="replaces the default model arguments")
    p.add_argument("--weight-decay", type=float, default=1e-3)
    p.add_argument("--patience", type=int, default=6)
    args = p.parse_args(argv)
    d, out = Path(args.data_dir), Path(args.output_dir)

    def spec(split: str) -> str:
        return f"DECOY={d / f'DECOY.{split}.fa'},AMP={d / f'AMP.{split}.fa'}"

    model_args = args.model_arg or MODEL_ARGS
    runs, scores = [], []
    for seed in range(args.seeds):
        argv_train = [
            *("--data", spec("tr"), "--val-data", spec("eval"), "--test-data", spec("te")),
            *("--alphabet", "PROTEIN", "--model", args.model, "--epochs", str(args.epochs)),
            *("--lr", str(args.lr), "--batch-size", "32", "--patience", str(args.patience)),
            *("--monitor", "auroc", "--seed", str(seed), "--device", args.device),
            *("--weight-decay", str(args.weight_decay), "--quiet"),
            *("--output-dir", str(out / f"seed{seed}")),
        ]
        for item in model_args:
            argv_train += ["--model-arg", item]
        result = train(argv_train)
        runs.append({"seed": seed, "best_epoch": result["best_epoch"]} | _pick(result["test"]))
        scores.append(_test_scores(out / f"seed{seed}" / "best.safetensors", d, args.device))
    y = np.concatenate([np.zeros(len(scores[0][0])), np.ones(len(scores[0][1]))])
    mean_score = np.mean([np.concatenate(s) for s in scores], axis=0)
    ensemble = _pick(evaluate_binary(y, mean_score))
    single = {k: float(np.mean([r[k] for r in runs])) for k in ("accuracy", "auroc", "mcc")}
    summary = {
        "data": str(d),
        "protocol": "train on tr, early stopping (auROC) on eval, report te (1424 peptides)",
        "model": args.model,
        "model_args": model_args,
        "num_params": result["num_params"],
        "runs": runs,
        "single_model_mean": single,
        "ensemble_of_seeds": ensemble if args.seeds > 1 else None,
        "published": PUBLISHED,
    }
    atomic_write_text(out / "summary.json", json.dumps(json_ready(summary), indent=1))
    print(
        f"AMP Scanner v2 test (published accuracy {PUBLISHED['accuracy']}, auROC "
        f"{PUBLISHED['auroc']}): single model mean accuracy {single['accuracy']:.4f}, auROC "
        f"{single['auroc']:.4f} over {args.seeds} seed(s)"
        + (
            f"; ensemble accuracy {ensemble['accuracy']:.4f}, auROC {ensemble['auroc']:.4f}, "
            f"MCC {ensemble['mcc']:.4f}"
            if args.seeds > 1
            else ""
        )
    )
    return summary


def _pick(metrics: dict) -> dict:
    return {k: metrics[k] for k in KEYS}


def _test_scores(checkpoint: Path, d: Path, device: str) -> tuple[np.ndarray, np.ndarray]:
    """Probabilities of the DECOY and AMP test peptides under one checkpoint."""
    scorer = load_scorer(str(checkpoint), device)
    return tuple(
        score_fasta(scorer, str(d / f"{cls}.te.fa"), None, 256, device)[2][:, 0]
        for cls in ("DECOY", "AMP")
    )


if __name__ == "__main__":
    main()
