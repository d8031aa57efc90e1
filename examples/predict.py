"""Score the sequences of a FASTA file with a trained checkpoint or a pretrained model -> TSV.

``MODEL`` is a checkpoint written by ``train_fasta.py``/``train_genome.py`` (``best.safetensors``)
or the name of shipped pretrained weights (``biotorch.models.list_weights()``). The TSV has one
row per record: ``id``, ``length`` and one probability column per output (sigmoid for binary and
multi-label models, softmax over the classes for multi-class ones; ``--logits`` adds the raw
logits). Fixed-length models get each sequence centre-padded/cropped to their input length (the
count is reported). ``--both-strands mean|max`` scores each sequence and its reverse complement
with :class:`biotorch.models.StrandAverage` (DNA/RNA models).

With ``--bed BED --genome FASTA`` instead of a FASTA file, it scores genome windows of the
model's input length (``--length`` for models that record none) centred on each interval
(reverse-complemented for ``-`` strand intervals); the TSV starts with the interval's
``chrom, start, end`` (and ``name``, when the BED has one).

    python examples/predict.py deepbind_binding_task seqs.fa -o scores.tsv
    python examples/predict.py runs/train_fasta/best.safetensors seqs.fa --both-strands mean
    python examples/predict.py motif_cnn_regulatory --bed peaks.bed --genome hg38.fa
    mpiexec -n 4 python examples/predict.py deepbind_binding_task seqs.fa --distributed -o s.tsv

``--distributed``: every process of ``mpiexec`` scores a contiguous run of the batches one
process would form and rank 0 writes the TSV, byte for byte the single-process one.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

import numpy as np
from example_utils import (
    add_distributed_arguments,
    add_scoring_arguments,
    for_windows,
    init_distributed,
    run_cli,
    write_tsv,
)

import biotorch as bt
from biotorch.data import DataLoader, Genome, IntervalDataset, read_bed
from biotorch.train import Scorer, load_scorer, score_fasta
from biotorch.train.parallel import gather_rows, rank_batches


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("model", help="checkpoint path or pretrained weights name")
    p.add_argument("fasta", nargs="?", help="FASTA file to score (plain or gzip)")
    p.add_argument("--bed", help="score genome windows centred on these intervals instead")
    p.add_argument("--genome", help="reference FASTA for --bed (plain or bgzip)")
    p.add_argument("--length", type=int, help="--bed window length (default: the model's)")
    p.add_argument("--logits", action="store_true", help="also write the raw logits")
    add_scoring_arguments(p, batch_size=256)
    add_distributed_arguments(p, "score")
    return p.parse_args(argv)


def score_intervals(
    scorer: Scorer, table: Any, genome: Genome, args: argparse.Namespace
) -> tuple[np.ndarray, np.ndarray] | None:
    """(probabilities, logits) of the genome windows centred on the intervals of ``table``
    (``scorer`` set up by ``for_windows``); with ``--distributed`` each rank scores its run of
    the batches and rank 0 returns all (the others None)."""
    ds = IntervalDataset(table, genome, scorer.inputs.input_length)
    batches = [
        range(i, min(i + args.batch_size, len(ds))) for i in range(0, len(ds), args.batch_size)
    ]
    loader = DataLoader(
        ds,
        batch_sampler=rank_batches(batches) if args.distributed else batches,
        collate_fn=scorer.inputs.collator(),
        device=args.device,
    )
    model = scorer.strand_model(args.both_strands)
    with bt.no_grad():
        logits = scorer.stack_logits([model(scorer.inputs.model_input(b)) for b in loader])
    if args.distributed:
        logits = gather_rows(logits)
    return None if logits is None else scorer.scores(bt.tensor(logits, device=args.device))


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if (args.fasta is None) == (args.bed is None) or (args.bed is None) != (args.genome is None):
        raise SystemExit("predict: give a FASTA file, or --bed BED with --genome FASTA")
    if args.batch_size < 1:
        raise SystemExit(f"predict: --batch-size {args.batch_size}, expected >= 1")
    init_distributed(args)
    scorer = load_scorer(args.model, args.device)
    names = scorer.task.names
    logit_names = [f"logit_{n}" for n in names] if args.logits else []
    if args.bed:
        scorer = for_windows(scorer, args.length, "predict")
        genome = Genome(args.genome)
        table = read_bed(args.bed, genome)
        scores = score_intervals(scorer, table, genome, args)
        if scores is None:  # not rank 0
            return
        probs, logits = scores
        keys = ["chrom", "start", "end"] + ["name"] * ("name" in table.columns)
        rows = table[keys].astype(str).to_numpy().tolist()
    else:
        scores = score_fasta(
            scorer, args.fasta, args.both_strands, args.batch_size, args.device, args.distributed
        )
        if scores is None:  # not rank 0
            return
        ids, lengths, probs, logits = scores
        fixed = scorer.inputs.input_length
        if fixed is not None and (lengths != fixed).any():
            print(
                f"predict: {int((lengths != fixed).sum())} of {len(ids)} sequences were centre-"
                f"padded or cropped to the model's input length {fixed}",
                file=sys.stderr,
            )
        keys = ["id", "length"]
        rows = [[rid, str(int(n))] for rid, n in zip(ids, lengths, strict=True)]
    table = []
    for i, fields in enumerate(rows):
        values = list(probs[i]) + (list(logits[i]) if args.logits else [])
        table.append(fields + [f"{v:.6g}" for v in values])
    write_tsv(args.output, keys + names + logit_names, table, "predict")


if __name__ == "__main__":
    run_cli(main)
