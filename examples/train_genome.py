"""Genome-wide multi-label training (DeepSEA-style): random windows of a genome FASTA, one
target per BED/narrowPeak file (1 when peaks cover half of the window's centre bin), whole
chromosomes held out for validation and test, per-target auROC/auPRC.

With no arguments it trains a motif CNN (``masked_cnn``: 128 filters of width 19, global max and
mean pooling; 4 outputs) on 300 bp windows of the embedded synthetic genome
(``datasets/genome``: 4.1 Mb, 4 peak sets, blacklist, chr4 validation / chr5 test): a short run
(about 4 min on 2 CPU cores). Without ``--model-arg``, ``--model masked_cnn`` and ``--model
basset`` get the sizes in ``DEFAULT_MODEL_ARGS`` (a reduced-width Basset: 32 channels, 64 dense
units). Windows are redrawn every epoch
(``GenomeWindowSampler``); the validation and test windows are drawn once. Checkpoints,
``metrics.json`` (with per-target numbers) and the training curve go to ``--output-dir`` as in
``train_fasta.py``, with the same training loop (:class:`biotorch.train.Trainer`).

    python examples/train_genome.py
    python examples/train_genome.py --genome hg38.fa --peaks CTCF=ctcf.bed,DNase=dnase.bed \\
        --blacklist blacklist.bed --val-chroms chr7 --test-chroms chr8,chr9 --length 1000
    mpiexec -n 2 python examples/train_genome.py --distributed --batch-size 32

``--distributed`` trains data-parallel as in ``train_fasta.py``: every rank draws the same
windows each epoch and takes its share of them (``DistributedSampler``); ``--batch-size`` is
per process; each rank scores its block of the validation windows, rank 0 alone computes
the metrics, writes and prints.
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
from biotorch.data import DNA, DataLoader, Dataset, DistributedSampler, Genome, GenomeWindowSampler
from biotorch.train import Task, input_spec_for

GENOME = REPO / "datasets" / "genome"
#: Builder arguments used when ``--model-arg`` is not given.
DEFAULT_MODEL_ARGS = {
    "masked_cnn": ["channels=[128]", "kernel_size=19", 'pooling="max_mean"'],
    "basset": ["conv_channels=[32,32,32]", "dense_units=64"],
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    d = p.add_argument_group("data")
    d.add_argument("--genome", help="FASTA or bgzip (default: the embedded synthetic genome)")
    d.add_argument(
        "--peaks", help="NAME=BED,... (needed with --genome; default: the embedded sets)"
    )
    d.add_argument("--blacklist", help="BED of regions to avoid (default: the embedded genome's)")
    d.add_argument("--val-chroms", help="comma-separated (needed with --genome)")
    d.add_argument("--test-chroms", help="comma-separated")
    d.add_argument("--length", type=int, default=300, help="window length (bp)")
    d.add_argument("--bin-size", type=int, default=200, help="centre bin for the targets")
    d.add_argument("--train-windows", type=int, default=20000, help="windows per epoch")
    d.add_argument("--eval-windows", type=int, default=2000)
    d.add_argument("--n-value", type=float, default=0.25)
    m = p.add_argument_group("model and training")
    m.add_argument("--model", default="masked_cnn")
    m.add_argument("--model-arg", action="append", default=None, metavar="KEY=VALUE")
    add_training_arguments(m, epochs=10, patience=3)
    r = p.add_argument_group("run")
    r.add_argument("--device", default="cpu", type=device_arg)
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("--workers", type=int, default=0)
    r.add_argument("--output-dir", default="runs/train_genome")
    r.add_argument("--resume")
    r.add_argument("--quiet", action="store_true")
    add_distributed_arguments(p, "train")
    args = p.parse_args(argv)
    if args.genome is None:  # the embedded genome, with its peaks, blacklist and holdout
        args.genome = str(GENOME / "genome.fa.gz")
        args.peaks = args.peaks or ",".join(
            f"{f.name.split('.')[0]}={f}" for f in sorted((GENOME / "peaks").glob("*"))
        )
        args.blacklist = args.blacklist or str(GENOME / "blacklist.bed")
        if not (args.val_chroms or args.test_chroms):
            split = json.loads((GENOME / "holdout.json").read_text())
            args.val_chroms, args.test_chroms = (",".join(split[k]) for k in ("validation", "test"))
    elif args.peaks is None or args.val_chroms is None:
        p.error("with your own --genome, give --peaks NAME=BED,... and --val-chroms CHROMS")
    if args.model_arg is None:
        args.model_arg = DEFAULT_MODEL_ARGS.get(args.model, [])
    return args


class FixedWindows(Dataset):
    """One draw of a GenomeWindowSampler that stays fixed (no ``set_epoch``): evaluation."""

    def __init__(self, sampler: GenomeWindowSampler) -> None:
        self.sampler = sampler

    def __len__(self) -> int:
        return len(self.sampler)

    def __getitem__(self, i: int) -> Any:
        return self.sampler[i]


def holdout(args: argparse.Namespace) -> dict[str, list[str]]:
    """The held-out chromosomes, by split."""
    out = {"validation": args.val_chroms, "test": args.test_chroms}
    return {k: v.split(",") for k, v in out.items() if v}


def run(args: argparse.Namespace) -> dict | None:
    init_distributed(args)
    bt.manual_seed(args.seed)
    genome = Genome(args.genome)
    peaks = dict(part.split("=", 1) for part in args.peaks.split(","))
    split = holdout(args)
    common = dict(
        genome=genome,
        length=args.length,
        blacklist=args.blacklist or None,
        target_beds=peaks,
        target_bin_size=args.bin_size,
        holdout=split,
    )
    data = {
        "train": GenomeWindowSampler(
            num_windows=args.train_windows, split="train", seed=args.seed, **common
        )
    }
    for name, key in (("val", "validation"), ("test", "test")):
        if key in split:
            data[name] = FixedWindows(
                GenomeWindowSampler(
                    num_windows=args.eval_windows, split=key, seed=args.seed + 1, **common
                )
            )
    task = Task("multilabel", list(peaks))
    model, name, kwargs = model_for(args, task, DNA, np.array([args.length]))
    inputs = input_spec_for(model, DNA, args.n_value, kwargs)
    if inputs.input_length not in (None, args.length):
        raise SystemExit(
            f"train_genome: the model takes {inputs.input_length} bp, windows are {args.length}"
        )
    collate = inputs.collator()
    sharded = dist.is_initialized()  # --distributed: DistributedSampler shards the windows
    loaders = {
        k: DataLoader(
            v,
            batch_size=args.batch_size * (1 if k == "train" else 2),
            sampler=DistributedSampler(v, seed=args.seed) if k == "train" and sharded else None,
            shuffle=k == "train" and not sharded,
            collate_fn=collate,
            num_workers=args.workers,
            device=args.device,
            seed=args.seed,
        )
        for k, v in data.items()
    }
    result = train_and_report(model, name, kwargs, task, inputs, loaders, args)
    if result is None:  # not rank 0
        return None
    final = result.get("test", result["val"])
    per = final["per_target"]
    print(f"per target ({'test' if 'test' in result else 'validation'} chromosomes):")
    for j, target in enumerate(per["names"]):
        auroc, auprc = per["auroc"][j], per["auprc"][j]
        shown = "skipped" if auroc is None else f"auROC {auroc:.4f}  auPRC {auprc:.4f}"
        print(f"  {target:12s} positives {per['n_pos'][j]:5d}  {shown}")
    return result


def main(argv: list[str] | None = None) -> dict | None:
    return run(parse_args(argv))


if __name__ == "__main__":
    run_cli(main)
