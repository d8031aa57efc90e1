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
    mpiexec -n 2 python examples/train_fasta.py --distributed --batch-size 32

``--distributed`` trains data-parallel in every process that ``mpiexec`` starts: each rank
loads the same data and split, trains on its shard of every epoch (``DistributedSampler``, or
the length buckets' batches split between ranks) with gradients averaged by
``DistributedDataParallel``; ``--batch-size`` is per process, so ``-n 2 --batch-size 32``
takes the steps of one process with ``--batch-size 64``. Rank 0 alone validates (its numbers
drive the learning rate and early stopping on every rank), writes the checkpoints and files
and prints; ``--resume`` works the same (every rank loads the checkpoint). Every rank uses the
same ``--seed``, so dropout masks are the same on every rank.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

import numpy as np
from example_utils import (
    REPO,
    add_distributed_arguments,
    add_training_arguments,
    device_arg,
    init_distributed,
    model_for,
    run_cli,
    train_and_report,
)

import biotorch as bt
import biotorch.distributed as dist
from biotorch.data import BucketBatchSampler, DataLoader, DistributedSampler
from biotorch.data.transforms import Compose, RandomReverseComplement, RandomTranslate
from biotorch.train import (
    InputSpec,
    SplitBatchSampler,
    Task,
    TransformedSubset,
    alphabet_named,
    input_spec_for,
    load_data,
    stratified_split,
)

BINDING = REPO / "datasets" / "binding"


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
    add_distributed_arguments(p, "train")
    return p.parse_args(argv)


def split_data(args: argparse.Namespace) -> tuple[dict[str, TransformedSubset], Task]:
    """Train/val(/test) datasets and the task, from the data specs or fractions."""
    specs = {"train": args.data, "val": args.val_data, "test": args.test_data}
    if args.data is None:
        if args.val_data or args.test_data or args.labels:
            raise SystemExit(
                "train_fasta: --val-data, --test-data and --labels describe your data; give "
                "--data too (without --data, all three splits are the embedded binding task)"
            )
        specs = default_data()
    alphabet = alphabet_from(args)
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
        val = args.val_fraction if specs["val"] is None else 0.0
        test = args.test_fraction if specs["test"] is None else 0.0
        fold = stratified_split(full.targets, [val, test], args.seed)
    augments = []
    if args.max_shift:
        augments.append(RandomTranslate(args.max_shift, alphabet=alphabet))
    if args.reverse_complement:
        augments.append(RandomReverseComplement(alphabet=alphabet))
    augment = Compose(augments) if augments else None
    parts = {"train": TransformedSubset(full, np.flatnonzero(fold == 0), augment)}
    for code, name in ((1, "val"), (2, "test")):
        if specs[name] is not None:
            extra = load_data(specs[name], classes=full.classes, **options)
            parts[name] = TransformedSubset(extra, np.arange(len(extra)))
        elif (fold == code).any():
            parts[name] = TransformedSubset(full, np.flatnonzero(fold == code))
    if "val" not in parts:
        raise SystemExit("train_fasta: no validation data; pass --val-data or --val-fraction > 0")
    return parts, task


def make_loader(
    ds: TransformedSubset, inputs: InputSpec, args: argparse.Namespace, train: bool
) -> DataLoader:
    """Shuffled (train) or ordered batches; length buckets for models that take any length.

    With ``--distributed``, training batches are this rank's shares of the batches one
    process would train on with ``--batch-size`` times the number of ranks: rank ``r`` of
    ``N`` takes samples ``r, r + N, ...`` of the epoch's permutation (``DistributedSampler``)
    or of each length bucket's batch (``SplitBatchSampler``), so the ranks' steps together are
    the steps of one ``--distributed`` process with the global batch. Without it, fixed-length
    data is shuffled as before (``DataLoader(shuffle=True)``), so recorded runs reproduce.
    Augmentation draws from a stream seeded by ``--seed`` plus the rank. Evaluation batches are
    whole and alike on every rank (each rank scores its block of them)."""
    common = dict(collate_fn=inputs.collator(), num_workers=args.workers, device=args.device)
    rank, ranks = (dist.get_rank(), dist.get_world_size()) if dist.is_initialized() else (0, 1)
    seed = args.seed + rank
    if inputs.input_length is None:
        if train:
            whole = BucketBatchSampler(
                ds.lengths, ranks * args.batch_size, seed=args.seed, num_replicas=1, rank=0
            )
            sampler = SplitBatchSampler(whole)
        else:
            sampler = BucketBatchSampler(
                ds.lengths, 2 * args.batch_size, shuffle=False, num_replicas=1, rank=0
            )
        return DataLoader(ds, batch_sampler=sampler, seed=seed, **common)
    if train and dist.is_initialized():
        shard = DistributedSampler(ds, seed=args.seed)
        return DataLoader(ds, batch_size=args.batch_size, sampler=shard, seed=seed, **common)
    size = args.batch_size if train else 2 * args.batch_size
    return DataLoader(ds, batch_size=size, shuffle=train, seed=seed, **common)


def run(args: argparse.Namespace) -> dict | None:
    """Train, validate each epoch, early-stop, evaluate the best checkpoint; returns metrics
    (None on the ranks other than 0 of a distributed run)."""
    init_distributed(args)
    bt.manual_seed(args.seed)
    parts, task = split_data(args)
    alphabet = alphabet_from(args)
    model, model_name, kwargs = model_for(args, task, alphabet, parts["train"].lengths)
    inputs = input_spec_for(model, alphabet, args.n_value, kwargs)
    loaders = {k: make_loader(v, inputs, args, train=k == "train") for k, v in parts.items()}
    return train_and_report(model, model_name, kwargs, task, inputs, loaders, args)


def alphabet_from(args: argparse.Namespace) -> Any:
    """``--alphabet`` (DNA, RNA or PROTEIN, any case)."""
    try:
        return alphabet_named(args.alphabet)
    except ValueError as err:
        raise SystemExit(f"--{err}") from None


def main(argv: list[str] | None = None) -> dict | None:
    return run(parse_args(argv))


if __name__ == "__main__":
    run_cli(main)
