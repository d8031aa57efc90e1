"""Train the reduced Basset on the embedded regulatory task in biotorch or in PyTorch, from the
same initial weights and on the same batches, and print per-target validation auROC by epoch.

It answers one question: is what biotorch's training shows on this task (which targets the
Basset learns, and how fast) the architecture's doing, or biotorch's? Run it once per library
(two cores: both at once) and compare the tables::

    python benchmarks/crosscheck_basset_regulatory.py --lib biotorch --epochs 12
    python benchmarks/crosscheck_basset_regulatory.py --lib torch --epochs 12

Setup, as ``train_fasta.py --model basset --model-arg conv_channels=[64,64,64] --model-arg
dense_units=128 --lr 5e-3 --max-shift 20``: Adam, batch 64, learning rate halved when the
validation loss has not improved for one epoch, one-hot with N = 0.25, each training sequence
moved by up to 20 bp (N fill). Initial weights come from ``biotorch.manual_seed(--seed)`` and are
copied into the torch model; batches and shifts come from a NumPy generator seeded the same.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
from bench_nn import basset as basset_layers

import biotorch
from biotorch.data import encode, one_hot
from biotorch.metrics import roc_auc
from biotorch.models import basset

DATA = Path(__file__).resolve().parent.parent / "datasets" / "regulatory"
TARGETS = list(json.loads((DATA / "targets.json").read_text()).values())


def load(split: str) -> tuple[np.ndarray, np.ndarray]:
    table = pd.read_csv(DATA / f"{split}.csv.gz")
    x = np.stack([one_hot(encode(s), n_value=0.25) for s in table["sequence"]])
    y = table[[f"target_{j}" for j in range(len(TARGETS))]].to_numpy(np.float32)
    return x.astype(np.float32), y


def shifted(x: np.ndarray, rng: np.random.Generator, max_shift: int) -> np.ndarray:
    """Each sequence moved by up to ``max_shift`` positions, vacated positions N (0.25)."""
    out, length = np.full_like(x, 0.25), x.shape[2]
    for i, s in enumerate(rng.integers(-max_shift, max_shift + 1, len(x))):
        out[i, :, max(s, 0) : length + min(s, 0)] = x[i, :, max(-s, 0) : length - max(s, 0)]
    return out


def model_for(lib: str, seed: int):
    """(model, library module): biotorch's seeded Basset, or its torch twin with its weights."""
    widths, dense = (64, 64, 64), 128
    biotorch.manual_seed(seed)
    model = basset(num_targets=len(TARGETS), conv_channels=widths, dense_units=dense)
    if lib == "biotorch":
        return model, biotorch
    import torch

    twin = basset_layers(torch.nn, widths, dense, len(TARGETS))
    twin.load_state_dict({k: torch.from_numpy(v.numpy()) for k, v in model.state_dict().items()})
    return twin, torch


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--lib", choices=("biotorch", "torch"), required=True)
    p.add_argument("--epochs", type=int, default=12)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    (x_train, y_train), (x_val, y_val) = load("train"), load("validation")
    model, lib = model_for(args.lib, args.seed)
    if args.lib == "torch":
        lib.set_num_threads(1)
    optimizer = lib.optim.Adam(model.parameters(), lr=5e-3)
    scheduler = lib.optim.lr_scheduler.ReduceLROnPlateau(optimizer, factor=0.5, patience=1)
    loss_fn = lib.nn.BCEWithLogitsLoss()
    rng = np.random.default_rng(args.seed)
    print(f"{args.lib}: epoch, seconds, val loss, mean auROC, then per target")
    print("  " + " ".join(f"{t['name'][:8]:>8}" for t in TARGETS))
    for epoch in range(1, args.epochs + 1):
        tick = time.perf_counter()
        model.train()
        order = rng.permutation(len(x_train))
        for start in range(0, len(order), 64):
            idx = order[start : start + 64]
            xb = lib.tensor(shifted(x_train[idx], rng, 20))
            loss = loss_fn(model(xb), lib.tensor(y_train[idx]))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        model.eval()
        with lib.no_grad():
            logits = [model(lib.tensor(x_val[i : i + 256])) for i in range(0, len(x_val), 256)]
            val_loss = float(loss_fn(lib.cat(logits), lib.tensor(y_val)))
            scores = np.concatenate([z.numpy() for z in logits])
        scheduler.step(val_loss)
        aurocs = roc_auc(y_val, scores, average=None)
        seconds = time.perf_counter() - tick
        print(
            f"{epoch:3d} {seconds:6.1f} s  loss {val_loss:.4f}  auROC {np.mean(aurocs):.4f}\n  "
            + " ".join(f"{a:8.3f}" for a in aurocs),
            flush=True,
        )


if __name__ == "__main__":
    main()
