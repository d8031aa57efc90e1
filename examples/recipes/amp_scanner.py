"""AMP Scanner v2 benchmark (Veltri, Kamath & Shehu, Bioinformatics 2018): antimicrobial
peptides vs non-AMP decoys, 11-183 aa. Trains the paper's CNN-LSTM design with a bidirectional
LSTM (``cnn_lstm``: embedding 128, one convolution of 64 filters of width 17, max-pool 5, LSTM
100 per direction over each peptide's own length; length-bucketed batches) with
``train_fasta.py`` (run as a separate process) on the published split: train on ``*.tr.fa``,
early-stop on ``*.eval.fa`` (auROC), report ``*.te.fa``. ``--seeds`` models (seeds
``--first-seed``, ``--first-seed`` + 1, ...) are trained; the summary gives each one's test
numbers, their mean, and those of the ensemble (mean probability over the seeds), on the eval
and the test split.

The data are GPL-3.0 (github.com/dan-veltri/amp-scanner-v2, ``original-dataset/``); biotorch
ships this recipe and the metrics it measured, not weights trained on them.

    python examples/recipes/amp_scanner.py \
        --data-dir ../shared/data/amp_scanner_v2_veltri2018/original-dataset
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from recipe_utils import run_cli, train_fasta

from biotorch.metrics import evaluate_binary
from biotorch.train import load_scorer, score_fasta, write_json

#: Test-set numbers of AMP Scanner v2 (CNN-LSTM) as quoted by Fu et al. 2020 (ACEP), Table 2.
PUBLISHED = {"accuracy": 0.9129, "auroc": 0.9630, "mcc": 0.8261}
MODEL_ARGS = ["bidirectional=true", "dropout=0.1"]


KEYS = ("accuracy", "auroc", "auprc", "mcc", "n_samples")


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data-dir", required=True, help="the original-dataset/ folder")
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--seeds", type=int, default=5, help="train this many seeds")
    p.add_argument("--first-seed", type=int, default=0)
    p.add_argument("--output-dir", default="runs/amp_scanner")
    p.add_argument("--device", default="cpu", help="cpu or cuda[:N]")
    p.add_argument("--model", default="cnn_lstm")
    p.add_argument("--model-arg", action="append", help="replaces the default model arguments")
    p.add_argument("--weight-decay", type=float, default=1e-3)
    p.add_argument("--patience", type=int, default=6)
    args = p.parse_args(argv)
    d, out = Path(args.data_dir), Path(args.output_dir)

    def spec(split: str) -> str:
        return f"DECOY={d / f'DECOY.{split}.fa'},AMP={d / f'AMP.{split}.fa'}"

    model_args = args.model_arg or MODEL_ARGS
    seeds = range(args.first_seed, args.first_seed + args.seeds)
    runs, scores = [], {"eval": [], "te": []}
    for seed in seeds:
        argv_train = [
            *("--data", spec("tr"), "--val-data", spec("eval"), "--test-data", spec("te")),
            *("--alphabet", "PROTEIN", "--model", args.model, "--epochs", str(args.epochs)),
            *("--lr", str(args.lr), "--batch-size", "32", "--patience", str(args.patience)),
            *("--monitor", "auroc", "--seed", str(seed), "--device", args.device),
            *("--weight-decay", str(args.weight_decay), "--quiet"),
        ]
        for item in model_args:
            argv_train += ["--model-arg", item]
        result = train_fasta(argv_train, out / f"seed{seed}")
        runs.append({"seed": seed, "best_epoch": result["best_epoch"]} | _pick(result["test"]))
        for split, split_scores in scores.items():
            checkpoint = out / f"seed{seed}" / "best.safetensors"
            split_scores.append(_scores(checkpoint, d, split, args.device))
    ensemble = {
        split: _pick(evaluate_binary(s[0][0], np.mean([p for _, p in s], axis=0)))
        for split, s in scores.items()
    }
    single = {k: float(np.mean([r[k] for r in runs])) for k in ("accuracy", "auroc", "mcc")}
    summary = {
        "data": str(d),
        "protocol": "train on tr, early stopping (auROC) on eval, report te (1424 peptides)",
        "model": args.model,
        "model_args": model_args,
        "num_params": result["num_params"],
        "runs": runs,
        "single_model_mean": single,
        "ensemble_of_seeds": ensemble["te"] if args.seeds > 1 else None,
        "ensemble_of_seeds_on_eval": ensemble["eval"] if args.seeds > 1 else None,
        "published": PUBLISHED,
    }
    write_json(out / "summary.json", summary)
    print(
        f"AMP Scanner v2 test (published accuracy {PUBLISHED['accuracy']}, auROC "
        f"{PUBLISHED['auroc']}): single model mean accuracy {single['accuracy']:.4f}, auROC "
        f"{single['auroc']:.4f} over {args.seeds} seed(s)"
        + (
            f"; ensemble accuracy {ensemble['te']['accuracy']:.4f}, auROC "
            f"{ensemble['te']['auroc']:.4f}, MCC {ensemble['te']['mcc']:.4f} (eval auROC "
            f"{ensemble['eval']['auroc']:.4f})"
            if args.seeds > 1
            else ""
        )
    )
    return summary


def _pick(metrics: dict) -> dict:
    return {k: metrics[k] for k in KEYS}


def _scores(checkpoint: Path, d: Path, split: str, device: str) -> tuple[np.ndarray, np.ndarray]:
    """Labels (DECOY 0, AMP 1) and AMP probabilities of one split's peptides under a checkpoint."""
    scorer = load_scorer(str(checkpoint), device)
    probs = [
        score_fasta(scorer, str(d / f"{cls}.{split}.fa"), None, 256, device)[2][:, 0]
        for cls in ("DECOY", "AMP")
    ]
    labels = np.concatenate([np.zeros(len(probs[0])), np.ones(len(probs[1]))])
    return labels, np.concatenate(probs)


if __name__ == "__main__":
    run_cli(main)
