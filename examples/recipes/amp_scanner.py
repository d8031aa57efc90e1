"""AMP Scanner v2 benchmark (Veltri, Kamath & Shehu, Bioinformatics 2018): antimicrobial
peptides vs non-AMP decoys, 11-183 aa. Trains a variable-length CNN with masked global pooling
(``masked_cnn``, length-bucketed batches) with ``train_fasta.py`` on the published split: train
on ``*.tr.fa``, early-stop on ``*.eval.fa``, report ``*.te.fa``.

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

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from example_utils import atomic_write_text, json_ready  # noqa: E402
from train_fasta import main as train  # noqa: E402

#: Test-set numbers of AMP Scanner v2 (CNN-LSTM) as quoted by Fu et al. 2020 (ACEP), Table 2.
PUBLISHED = {"accuracy": 0.9129, "auroc": 0.9630, "mcc": 0.8261}
MODEL_ARGS = [
    "embedding_dim=32",
    "channels=[128,128]",
    "kernel_size=7",
    'pooling="max_mean"',
    "dropout=0.3",
]


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data-dir", required=True, help="the original-dataset/ folder")
    p.add_argument("--epochs", type=int, default=40)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--output-dir", default="runs/amp_scanner")
    p.add_argument("--device", default="cpu")
    p.add_argument("--model-arg", action="append", help="replaces the default model arguments")
    p.add_argument("--weight-decay", type=float, default=1e-4)
    p.add_argument("--patience", type=int, default=6)
    args = p.parse_args(argv)
    d = Path(args.data_dir)

    def spec(split: str) -> str:
        return f"DECOY={d / f'DECOY.{split}.fa'},AMP={d / f'AMP.{split}.fa'}"

    argv_train = [
        "--data",
        spec("tr"),
        "--val-data",
        spec("eval"),
        "--test-data",
        spec("te"),
        "--alphabet",
        "PROTEIN",
        "--model",
        "masked_cnn",
        "--epochs",
        str(args.epochs),
        "--lr",
        str(args.lr),
        "--batch-size",
        "32",
        "--patience",
        str(args.patience),
        "--monitor",
        "auroc",
        "--seed",
        str(args.seed),
        "--output-dir",
        args.output_dir,
        "--device",
        args.device,
        "--weight-decay",
        str(args.weight_decay),
        "--quiet",
    ]
    model_args = args.model_arg or MODEL_ARGS
    for item in model_args:
        argv_train += ["--model-arg", item]
    result = train(argv_train)
    test = result["test"]
    summary = {
        "data": str(d),
        "protocol": "train on tr, early stopping (auROC) on eval, report te",
        "model": "masked_cnn",
        "model_args": model_args,
        "num_params": result["num_params"],
        "best_epoch": result["best_epoch"],
        "seed": args.seed,
        "test": {k: test[k] for k in ("accuracy", "auroc", "auprc", "mcc", "n_samples")},
        "published": PUBLISHED,
        "train_seconds": result["train_seconds"],
    }
    atomic_write_text(
        Path(args.output_dir) / "summary.json", json.dumps(json_ready(summary), indent=1)
    )
    print(
        f"AMP Scanner v2 test: accuracy {test['accuracy']:.4f} "
        f"(published {PUBLISHED['accuracy']}), "
        f"auROC {test['auroc']:.4f} (published {PUBLISHED['auroc']}), MCC {test['mcc']:.4f}"
    )
    return summary


if __name__ == "__main__":
    main()
