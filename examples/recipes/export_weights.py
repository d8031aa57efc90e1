"""Turn a ``train_fasta.py`` checkpoint into shipped pretrained weights: the model's state dict
as ``biotorch/models/weights/<name>.safetensors`` and its metadata (sha256, alphabet, N policy,
input length, targets, training data, licence, test metrics, builder config, task) as
``<name>.json``, which ``biotorch.models`` registers for ``load_pretrained(name)``.

    python examples/recipes/export_weights.py runs/train_fasta/best.safetensors \\
        --name deepbind_binding_task --metrics runs/train_fasta/metrics.json \\
        --training-data "datasets/binding (train split)" --license "CC0-1.0"
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from recipe_utils import run_cli

import biotorch as bt
from biotorch._atomic import atomic_output, atomic_write_text
from biotorch.models.registry import WEIGHTS_DIR, sha256_of
from biotorch.train import ALPHABETS, model_from_config

METRIC_KEYS = ("auroc", "auprc", "accuracy", "balanced_accuracy", "mcc", "n_samples")


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("checkpoint")
    p.add_argument("--name", required=True)
    p.add_argument("--description", default="")
    p.add_argument("--training-data", required=True)
    p.add_argument("--license", required=True)
    p.add_argument("--metrics", help="metrics.json of the run (its test, else val, numbers)")
    p.add_argument("--extra-metrics", help="JSON object of further metrics to record")
    p.add_argument("--targets", help="comma-separated output names (default: the run's)")
    p.add_argument("--recipe", default="", help="the command that trained the weights")
    p.add_argument("--attribution", default="", help="attribution the training data requires")
    p.add_argument(
        "--input-length", type=int, help="length the model was trained on (any-length models)"
    )
    args = p.parse_args(argv)
    ckpt = bt.load(args.checkpoint)
    config = ckpt["config"]
    model = model_from_config(config)
    model.load_state_dict(ckpt["model"])
    inputs, task = config["inputs"], config["task"]
    alphabet = ALPHABETS[inputs["alphabet"]]
    n_value = inputs["n_value"]
    inputs["input_length"] = inputs["input_length"] or args.input_length
    metrics = {}
    if args.metrics:
        run = json.loads(Path(args.metrics).read_text())
        split = "test" if "test" in run else "val"
        metrics = {f"{split}_{k}": run[split][k] for k in METRIC_KEYS if k in run[split]}
    if args.extra_metrics:
        metrics.update(json.loads(args.extra_metrics))
    WEIGHTS_DIR.mkdir(parents=True, exist_ok=True)
    path = WEIGHTS_DIR / f"{args.name}.safetensors"
    with atomic_output(path) as tmp, open(tmp, "wb") as f:
        bt.save(dict(model.state_dict()), f)
    weights = {
        "name": args.name,
        "model": config["model"],
        "file": path.name,
        "sha256": sha256_of(path),
        "num_params": sum(p.numel() for p in model.parameters()),
        "alphabet": alphabet.name,
        "channel_order": alphabet.letters,
        "n_policy": "zeros" if n_value == 0 else "uniform",
        "input_length": inputs["input_length"] or args.input_length,
        "targets": args.targets.split(",") if args.targets else task["names"],
        "training_data": args.training_data,
        "license": args.license,
        "metrics": metrics,
        "config": config["model_kwargs"],
        "description": args.description,
        "task": task["kind"],
    }
    meta = {
        "weights": weights,
        "inputs": inputs,
        "recipe": args.recipe,
        "attribution": args.attribution,
        "trained_epochs": ckpt["state"]["best_epoch"],
    }
    atomic_write_text(path.with_suffix(".json"), json.dumps(meta, indent=1) + "\n")
    print(f"wrote {path} ({path.stat().st_size:,} bytes) and {path.with_suffix('.json').name}")
    return meta


if __name__ == "__main__":
    run_cli(main)
