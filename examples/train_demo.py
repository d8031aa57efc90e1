"""Train a small motif-detector CNN with the biotorch core, from scratch, on the CPU.

The data are made here, deterministically: random 100 bp DNA sequences, half of which carry an
AP-1 site (TGA[CG]TCA) at a random position and strand. The model is DeepBind-shaped: 16
convolutional motif scanners of width 12, ReLU, global max pooling over the sequence, and a
linear read-out, trained with binary cross-entropy and a hand-written Adam step (nn modules
and optimizers come in biotorch.nn / biotorch.optim).

    python examples/train_demo.py [--epochs 6] [--seed 0] [--device cpu]
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np

import biotorch as bt
import biotorch.nn.functional as F
from biotorch.data import decode, encode, one_hot, reverse_complement

MOTIFS = ("TGACTCA", "TGAGTCA")


def make_dataset(n: int, length: int, rng: np.random.Generator) -> tuple[list[str], np.ndarray]:
    """Random sequences; label 1 rows carry a motif on a random strand and position."""
    tokens = rng.integers(0, 4, size=(n, length), dtype=np.int8)
    labels = (np.arange(n) % 2).astype(np.float32)
    rng.shuffle(labels)
    for i in np.flatnonzero(labels):
        motif = MOTIFS[rng.integers(len(MOTIFS))]
        site = encode(reverse_complement(motif) if rng.random() < 0.5 else motif)
        start = rng.integers(0, length - site.size + 1)
        tokens[i, start : start + site.size] = site
    return decode(tokens), labels


def init_params(filters: int, width: int, rng: np.random.Generator, device) -> dict:
    """PyTorch's default (Kaiming-uniform-like) initialisation for conv and linear layers."""

    def uniform(shape, fan_in):
        bound = 1.0 / math.sqrt(fan_in)
        values = rng.uniform(-bound, bound, size=shape).astype(np.float32)
        return bt.tensor(values, device=device, requires_grad=True)

    return {
        "conv_w": uniform((filters, 4, width), 4 * width),
        "conv_b": uniform((filters,), 4 * width),
        "out_w": uniform((1, filters), filters),
        "out_b": uniform((1,), filters),
    }


def forward(params: dict, x: bt.Tensor) -> bt.Tensor:
    h = F.relu(F.conv1d(x, params["conv_w"], params["conv_b"], padding="same"))
    pooled = h.amax(dim=2)
    return F.linear(pooled, params["out_w"], params["out_b"]).squeeze(1)


def adam_step(params: dict, state: dict, lr: float, betas=(0.9, 0.999), eps=1e-8) -> None:
    state["t"] += 1
    t = state["t"]
    with bt.no_grad():
        for name, p in params.items():
            m, v = state.setdefault(name, (bt.zeros_like(p), bt.zeros_like(p)))
            m.mul_(betas[0]).add_(p.grad, alpha=1 - betas[0])
            v.mul_(betas[1]).add_(p.grad * p.grad, alpha=1 - betas[1])
            m_hat = m / (1 - betas[0] ** t)
            v_hat = v / (1 - betas[1] ** t)
            p.sub_(lr * m_hat / (v_hat.sqrt() + eps))
            p.grad = None


def accuracy(params: dict, x: bt.Tensor, y: bt.Tensor) -> float:
    with bt.no_grad():
        predicted = forward(params, x) > 0
    return float((predicted == (y > 0.5)).float().mean().item())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=0.01)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()

    rng = np.random.default_rng(args.seed)
    bt.manual_seed(args.seed)
    seqs, labels = make_dataset(4000, 100, rng)
    x = bt.tensor(one_hot(encode(seqs)), device=args.device)
    y = bt.tensor(labels, device=args.device)
    n_train = 3200
    x_train, y_train, x_test, y_test = x[:n_train], y[:n_train], x[n_train:], y[n_train:]
    params = init_params(16, 12, rng, args.device)
    state = {"t": 0}

    start = time.perf_counter()
    for epoch in range(1, args.epochs + 1):
        order = bt.randperm(n_train).tolist()
        total = 0.0
        for i in range(0, n_train, args.batch_size):
            idx = bt.tensor(order[i : i + args.batch_size], device=args.device)
            logits = forward(params, x_train[idx])
            loss = F.binary_cross_entropy_with_logits(logits, y_train[idx])
            loss.backward()
            adam_step(params, state, args.lr)
            total += loss.item() * idx.shape[0]
        print(
            f"epoch {epoch}: train loss {total / n_train:.4f}  "
            f"train acc {accuracy(params, x_train, y_train):.3f}  "
            f"test acc {accuracy(params, x_test, y_test):.3f}"
        )
    print(f"trained in {time.perf_counter() - start:.1f} s on {args.device}")


if __name__ == "__main__":
    main()
