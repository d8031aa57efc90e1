"""Train any registered biotorch model on labelled sequences (FASTA or a sequence table).

With no arguments it trains DeepBind on the embedded binding task (``datasets/binding``) on the
CPU. Each epoch reports the validation loss, auROC, auPRC and accuracy; the best epoch's
checkpoint, ``metrics.json`` and ``training_curve.png`` go to ``--output-dir``.

Data (``--data``, and optionally ``--val-data``/``--test-data`` in the same form):

- ``NAME=neg.fa,NAME=pos.fa``: one FASTA file per class (with two classes the second is the
  positive one);
- ``seqs.fa --labels labels.tsv``: one FASTA file, labels from a table keyed by record ``id``
  (``--label-column``; several comma-separated columns give multi-label 0/1 targets), or
  ``--label-from-header label`` for ``>seq1 label=bound`` headers;
- ``table.csv`` / ``table.tsv``: a sequence table (``--sequence-column``, ``--label-column``).

Without ``--val-data`` a stratified ``--val-fraction`` of the training data is held out (and
``--test-fraction`` without ``--test-data``). Models with a fixed input length get sequences
centre-padded or centre-cropped to it; models that take any length get length-bucketed batches
(``BucketBatchSampler`` + ``collate_sequences``), and those whose ``forward`` takes a ``batch``
get the whole padded :class:`~biotorch.data.Batch` (masks and lengths).

    python examples/train_fasta.py                                 # embedded binding task
    python examples/train_fasta.py --data neg=neg.fa,pos=pos.fa --model deepbind_hidden
    python examples/train_fasta.py --resume runs/train_fasta/last.safetensors --epochs 20
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from example_utils import (
    REPO,
    InputSpec,
    Task,
    alphabet_named,
    atomic_write_text,
    build_model,
    checkpoint_config,
    device_arg,
    input_spec_for,
    json_ready,
    load_data,
    progress,
    pyplot,
    run_cli,
    stratified_ranks,
)

import biotorch as bt
from biotorch import metrics
from biotorch.data import BucketBatchSampler, DataLoader, Dataset
from biotorch.data.datasets import current_rng
from biotorch.data.transforms import (
    Compose,
    RandomReverseComplement,
    RandomTranslate,
    apply_transform,
)
from biotorch.models.registry import get_model

BINDING = REPO / "datasets" / "binding"
MONITORS = {"loss": "min", "auroc": "max", "auprc": "max", "accuracy": "max"}


def default_data() -> dict[str, str]:
    """Train/val/test data specs of the embedded binding task (``datasets/binding/splits.json``:
    per split, one FASTA file per class; ``pos`` is the positive class)."""
    path = BINDING / "splits.json"
    if not path.is_file():
        raise SystemExit(f"the embedded binding task is missing ({path}); pass --data")
    splits = json.loads(path.read_text())
    names = {"train": "train", "validation": "val", "test": "test"}
    return {
        names[split]: ",".join(
            f"{c}={BINDING / files[c]}" for c in sorted(files, key=lambda c: c == "pos")
        )
        for split, files in splits.items()
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    d = p.add_argument_group("data")
    d.add_argument("--data", help="training data spec (default: the embedded binding task)")
    d.add_argument("--val-data", help="validation data spec")
    d.add_argument("--test-data", help="test data spec")
    d.add_argument("--labels", help="label table (id + label columns) for a single FASTA file")
    d.add_argument("--label-column", default="label", help="label column(s), comma-separated")
    d.add_argument("--sequence-column", default="sequence")
    d.add_argument("--label-from-header", help="take labels from FIELD=value in FASTA headers")
    d.add_argument("--multi-label", action="store_true", help="labels are 'a;b' class sets")
    d.add_argument("--alphabet", default="DNA", help="DNA, RNA or PROTEIN")
    d.add_argument("--iupac", default="n", choices=("n", "fractional", "error"))
    d.add_argument("--n-value", type=float, default=0.25, help="one-hot value of N channels")
    d.add_argument("--val-fraction", type=float, default=0.1)
    d.add_argument("--test-fraction", type=float, default=0.0)
    d.add_argument(
        "--reverse-complement",
        action="store_true",
        help="strand augmentation (only for labels that do not depend on the strand)",
    )
    d.add_argument(
        "--max-shift",
        type=int,
        default=0,
        help="shift augmentation: move each training sequence by up to this many positions "
        "(N fill; sites this close to an end can be cut)",
    )
    m = p.add_argument_group("model and training")
    m.add_argument("--model", default="deepbind", help="a name from biotorch.models.list_models()")
    m.add_argument(
        "--model-arg",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="builder keyword argument (VALUE parsed as JSON), repeatable",
    )
    add_training_arguments(m, epochs=12, patience=4)
    r = p.add_argument_group("run")
    r.add_argument("--device", default="cpu", type=device_arg, help="cpu or cuda[:N]")
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("--workers", type=int, default=0, help="data loader worker processes")
    r.add_argument("--output-dir", default="runs/train_fasta")
    r.add_argument("--resume", help="checkpoint to continue from (e.g. OUTPUT/last.safetensors)")
    r.add_argument("--quiet", action="store_true", help="no progress bars")
    return p.parse_args(argv)


def add_training_arguments(group: argparse._ArgumentGroup, epochs: int, patience: int) -> None:
    """The options of :func:`fit` (shared with ``train_genome.py``)."""
    group.add_argument("--epochs", type=int, default=epochs)
    group.add_argument("--batch-size", type=int, default=64)
    group.add_argument("--lr", type=float, default=3e-3)
    group.add_argument("--weight-decay", type=float, default=0.0)
    group.add_argument("--patience", type=int, default=patience, help="early stopping (epochs)")
    group.add_argument(
        "--lr-patience",
        type=int,
        default=1,
        help="halve the learning rate after this many epochs without a lower validation loss",
    )
    group.add_argument("--monitor", default="loss", choices=sorted(MONITORS))
    group.add_argument("--max-steps", type=int, help="stop each epoch after this many steps")
    group.add_argument(
        "--bootstrap",
        type=int,
        default=0,
        metavar="N",
        help="add a 95%% bootstrap interval (N resamples) to the final auROC",
    )


class Augmented(Dataset):
    """``dataset[indices]`` with a random transform on the sequence (training only)."""

    def __init__(self, dataset: Any, indices: np.ndarray, transform: Any = None) -> None:
        self.dataset, self.indices, self.transform = dataset, np.asarray(indices), transform
        self.lengths = dataset.lengths[self.indices]

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, i: int) -> Any:
        x, y = self.dataset[int(self.indices[i])]
        if self.transform is not None:
            x = apply_transform(self.transform, x, current_rng())
        return x, y


def split_data(args: argparse.Namespace) -> tuple[dict[str, Augmented], Task]:
    """Train/val(/test) datasets and the task, from the data specs or fractions."""
    specs = {"train": args.data, "val": args.val_data, "test": args.test_data}
    if args.data is None:
        if args.val_data or args.test_data or args.labels:
            raise SystemExit(
                "train_fasta: --val-data, --test-data and --labels describe your data; give "
                "--data too (without --data, all three splits are the embedded binding task)"
            )
        specs = default_data()
    alphabet = alphabet_named(args.alphabet)
    options = dict(
        alphabet=alphabet,
        labels=args.labels,
        label_column=args.label_column,
        sequence_column=args.sequence_column,
        label_from_header=args.label_from_header,
        multi_label=args.multi_label,
        iupac=args.iupac,
    )
    full = load_data(specs["train"], **options)
    columns = args.label_column.split(",")
    named_columns = full.targets.ndim == 2 and full.targets.shape[1] == len(columns)
    names = columns if named_columns and full.classes is None else full.classes
    task = Task.from_targets(full.targets, names)
    fold = np.zeros(len(full), dtype=np.int64)
    if specs["val"] is None or (specs["test"] is None and args.test_fraction > 0):
        ranks = stratified_ranks(full.targets, args.seed)
        cut_val = args.val_fraction if specs["val"] is None else 0.0
        cut_test = cut_val + (args.test_fraction if specs["test"] is None else 0.0)
        fold = np.where(ranks < cut_val, 1, np.where(ranks < cut_test, 2, 0))
    augments = []
    if args.max_shift:
        augments.append(RandomTranslate(args.max_shift, alphabet=alphabet))
    if args.reverse_complement:
        augments.append(RandomReverseComplement(alphabet=alphabet))
    augment = Compose(augments) if augments else None
    parts = {"train": Augmented(full, np.flatnonzero(fold == 0), augment)}
    for code, name in ((1, "val"), (2, "test")):
        if specs[name] is not None:
            extra = load_data(specs[name], classes=full.classes, **options)
            parts[name] = Augmented(extra, np.arange(len(extra)))
        elif (fold == code).any():
            parts[name] = Augmented(full, np.flatnonzero(fold == code))
    if "val" not in parts:
        raise SystemExit("train_fasta: no validation data; pass --val-data or --val-fraction > 0")
    return parts, task


def make_loader(
    ds: Augmented, inputs: InputSpec, args: argparse.Namespace, train: bool
) -> DataLoader:
    """Shuffled (train) or ordered batches; length buckets for models that take any length."""
    common = dict(collate_fn=inputs.collator(), num_workers=args.workers, device=args.device)
    size = args.batch_size if train else 2 * args.batch_size
    if inputs.input_length is None:
        sampler = BucketBatchSampler(ds.lengths, size, shuffle=train, seed=args.seed)
        return DataLoader(ds, batch_sampler=sampler, seed=args.seed, **common)
    return DataLoader(ds, batch_size=size, shuffle=train, seed=args.seed, **common)


def predict(model: Any, loader: DataLoader, task: Task, inputs: InputSpec) -> tuple:
    """(mean loss, labels, scores) over a loader, without gradients."""
    model.eval()
    losses, ys, ps, n = 0.0, [], [], 0
    with bt.no_grad():
        for batch in loader:
            logits = model(inputs.model_input(batch))
            losses += task.loss(logits, batch.labels).item() * batch.batch_size
            n += batch.batch_size
            ys.append(batch.labels.cpu().numpy())
            ps.append(task.probabilities(logits))
    return losses / n, np.concatenate(ys), np.concatenate(ps)


def plot_curves(history: list[dict], path: Path) -> None:
    """Loss and validation auROC/auPRC/accuracy per epoch, as a PNG (matplotlib, Agg)."""
    plt = pyplot()
    if plt is None:
        return
    epochs = [h["epoch"] for h in history]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.5))
    ax1.plot(epochs, [h["train_loss"] for h in history], "o-", label="train")
    ax1.plot(epochs, [h["val_loss"] for h in history], "o-", label="validation")
    ax1.set(xlabel="epoch", ylabel="loss", title="loss")
    ax1.legend()
    for key in ("auroc", "auprc", "accuracy"):
        ax2.plot(epochs, [h[f"val_{key}"] for h in history], "o-", label=key)
    ax2.set(xlabel="epoch", title="validation")
    ax2.legend()
    fig.tight_layout()
    tmp = path.with_name(path.stem + ".tmp.png")
    fig.savefig(tmp, dpi=100)
    plt.close(fig)
    tmp.replace(path)


def model_kwargs_from(args: argparse.Namespace) -> dict:
    out = {}
    for item in args.model_arg:
        key, sep, value = item.partition("=")
        if not sep:
            raise SystemExit(f"--model-arg {item!r}: expected KEY=VALUE")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


def run(args: argparse.Namespace) -> dict:
    """Train, validate each epoch, early-stop, evaluate the best checkpoint; returns metrics."""
    bt.manual_seed(args.seed)
    parts, task = split_data(args)
    alphabet = alphabet_named(args.alphabet)
    model, model_name, kwargs = model_for(args, task, alphabet, parts["train"].lengths)
    inputs = input_spec_for(model, alphabet, args.n_value, kwargs)
    loaders = {k: make_loader(v, inputs, args, train=k == "train") for k, v in parts.items()}
    return fit(model, model_name, kwargs, task, inputs, loaders, args)


def model_for(args: argparse.Namespace, task: Task, alphabet: Any, lengths: np.ndarray) -> tuple:
    """(model on ``args.device``, its name, its builder kwargs): from ``--resume``'s config, or
    ``--model``/``--model-arg`` sized for the task and the data."""
    if args.resume:
        config = bt.load(args.resume)["config"]
        model_name, kwargs = config["model"], config["model_kwargs"]
        model = get_model(model_name, **kwargs)
    else:
        model_name = args.model
        model, kwargs = build_model(model_name, model_kwargs_from(args), task, alphabet, lengths)
    return model.to(args.device), model_name, kwargs


def fit(
    model: Any,
    model_name: str,
    kwargs: dict,
    task: Task,
    inputs: InputSpec,
    loaders: dict[str, DataLoader],
    args: argparse.Namespace,
) -> dict:
    """The training loop shared by the example scripts: Adam + ReduceLROnPlateau, per-epoch
    validation metrics, early stopping on ``args.monitor``, ``best``/``last`` checkpoints,
    ``metrics.json`` and ``training_curve.png`` in ``args.output_dir``; ``args.resume``
    continues a run (model, optimizer, scheduler, RNG, history)."""
    out = Path(args.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    config = checkpoint_config(
        model_name,
        kwargs,
        task,
        inputs,
        args={k: v for k, v in vars(args).items() if k != "resume"},
        num_params=sum(p.numel() for p in model.parameters()),
    )
    optimizer = bt.optim.Adam(model.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    scheduler = bt.optim.lr_scheduler.ReduceLROnPlateau(
        optimizer, factor=0.5, patience=args.lr_patience
    )
    ckpt = bt.load(args.resume) if args.resume else None
    mode = MONITORS[args.monitor]
    state = {"epoch": 0, "history": [], "best": None, "best_epoch": 0, "bad_epochs": 0}
    if ckpt is not None:
        model.load_state_dict(ckpt["model"])
        optimizer.load_state_dict(ckpt["optimizer"])
        scheduler.load_state_dict(ckpt["scheduler"])
        bt.set_rng_state(ckpt["rng"])
        state = ckpt["state"]
    quiet = args.quiet or not sys.stderr.isatty()
    sizes = {k: len(v.dataset) for k, v in loaders.items()}
    print(
        f"{model_name}: {config['num_params']:,} parameters, task {task.kind} "
        f"({', '.join(task.names[:5])}), data {sizes}, device {args.device}"
    )
    start = time.perf_counter()
    for epoch in range(state["epoch"] + 1, args.epochs + 1):
        if state["bad_epochs"] >= args.patience:
            break
        tick = time.perf_counter()
        model.train()
        loader = loaders["train"]
        loader.set_epoch(epoch)
        total, seen = 0.0, 0
        bar = progress(loader, f"epoch {epoch}", quiet)
        for step, batch in enumerate(bar):
            if args.max_steps is not None and step >= args.max_steps:
                break
            loss = task.loss(model(inputs.model_input(batch)), batch.labels)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item() * batch.batch_size
            seen += batch.batch_size
            bar.set_postfix(loss=f"{total / seen:.4f}")
        val_loss, y, p = predict(model, loaders["val"], task, inputs)
        scores = task.evaluate(y, p)
        scheduler.step(val_loss)
        row = {
            "epoch": epoch,
            "train_loss": total / max(seen, 1),
            "val_loss": val_loss,
            **{f"val_{k}": scores[k] for k in ("auroc", "auprc", "accuracy")},
            "lr": optimizer.param_groups[0]["lr"],
            "seconds": time.perf_counter() - tick,
        }
        state["history"].append(row)
        state["epoch"] = epoch
        value = row[f"val_{args.monitor}"]
        best = state["best"]
        if best is None or (value < best if mode == "min" else value > best):
            state.update(best=value, best_epoch=epoch, bad_epochs=0)
            save_checkpoint(out / "best.safetensors", model, optimizer, scheduler, state, config)
        else:
            state["bad_epochs"] += 1
        save_checkpoint(out / "last.safetensors", model, optimizer, scheduler, state, config)
        print(
            f"epoch {epoch:3d}  train loss {row['train_loss']:.4f}  val loss {val_loss:.4f}  "
            f"auROC {row['val_auroc']:.4f}  auPRC {row['val_auprc']:.4f}  "
            f"accuracy {row['val_accuracy']:.4f}  ({row['seconds']:.1f} s)"
        )
        plot_curves(state["history"], out / "training_curve.png")
    best_ckpt = bt.load(out / "best.safetensors")
    model.load_state_dict(best_ckpt["model"])
    result = {
        "model": model_name,
        "num_params": config["num_params"],
        "task": task.kind,
        "targets": task.names,
        "best_epoch": state["best_epoch"],
        "monitor": args.monitor,
        "history": state["history"],
        "train_seconds": time.perf_counter() - start,
        "sizes": sizes,
    }
    for name in ("val", "test"):
        if name in loaders:
            loss, y, p = predict(model, loaders[name], task, inputs)
            result[name] = {"loss": loss, **task.evaluate(y, p)}
            if args.bootstrap:
                result[name]["auroc_ci95"] = auroc_interval(y, p, args.bootstrap, name)
    atomic_write_text(out / "metrics.json", json.dumps(json_ready(result), indent=1))
    final = result.get("test", result["val"])
    ci = final.get("auroc_ci95")
    interval = f" [{ci[0]:.4f}, {ci[1]:.4f}]" if ci else ""
    print(
        f"best epoch {state['best_epoch']}: {'test' if 'test' in result else 'val'} "
        f"auROC {final['auroc']:.4f}{interval}  auPRC {final['auprc']:.4f}  accuracy "
        f"{final['accuracy']:.4f}; wrote {out}/best.safetensors, metrics.json, "
        f"training_curve.png"
    )
    return result


def auroc_interval(y: np.ndarray, p: np.ndarray, resamples: int, split: str) -> list | None:
    """The 95% bootstrap interval of the (macro) auROC, or None (said on stderr) when too many
    resamples lack a class."""
    try:
        ci = metrics.bootstrap(metrics.roc_auc, y, p, n_resamples=resamples)
    except ValueError as err:
        print(f"train_fasta: no bootstrap interval on {split}: {err}", file=sys.stderr)
        return None
    return [ci.low, ci.high]


def save_checkpoint(
    path: Path, model: Any, optimizer: Any, scheduler: Any, state: dict, config: dict
) -> None:
    """Model, optimizer, scheduler, progress, RNG and config in one safetensors file."""
    bt.save(
        {
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            "epoch": state["epoch"],
            "state": state,
            "rng": bt.get_rng_state(),
            "config": config,
        },
        path,
    )


def main(argv: list[str] | None = None) -> dict:
    return run(parse_args(argv))


if __name__ == "__main__":
    run_cli(main)
