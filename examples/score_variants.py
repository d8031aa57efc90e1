"""Predict variant effects: score the reference and the alternative sequence around each variant
of a VCF file with a checkpoint or a pretrained model -> TSV.

``MODEL`` is a checkpoint or a pretrained weights name, as for ``predict.py``. Each variant gets
two windows of the model's input length (``--length`` for models that record none), starting
``length // 2`` bp before its first REF base: the reference, and the same window with ALT in
place of REF (insertions push the right flank out, deletions pull more reference in; see
:class:`biotorch.data.VariantDataset`). REF must match the genome. The TSV has ``chrom, pos, id,
ref, alt`` and, per model output, the probability on each window (``<name>_ref``,
``<name>_alt``) and the logit difference ``<name>_diff`` = alt - ref. ``--both-strands
mean|max`` scores each window and its reverse complement (:class:`biotorch.models.StrandAverage`).

    python examples/score_variants.py motif_cnn_regulatory --genome hg38.fa --vcf gwas.vcf
    python examples/score_variants.py runs/train_genome/best.safetensors --genome g.fa \\
        --vcf v.vcf.gz --both-strands mean -o effects.tsv
    mpiexec -n 4 python examples/score_variants.py motif_cnn_regulatory --genome hg38.fa \\
        --vcf gwas.vcf --distributed -o effects.tsv

``--distributed``: every process of ``mpiexec`` scores a contiguous run of the batches one
process would form and rank 0 writes the TSV, byte for byte the single-process one.
"""

from __future__ import annotations

import argparse

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
from biotorch.data import Genome, VariantDataset
from biotorch.train import Scorer, load_scorer
from biotorch.train.parallel import gather_rows, rank_batches


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("model", help="checkpoint path or pretrained weights name")
    p.add_argument("--genome", required=True, help="reference FASTA (plain or bgzip)")
    p.add_argument("--vcf", required=True, help="variants (VCF, plain or gzip)")
    p.add_argument("--length", type=int, help="window length (default: the model's)")
    p.add_argument(
        "--skip-unscorable",
        action="store_true",
        help="drop symbolic alleles and REF mismatches with a warning instead of stopping",
    )
    add_scoring_arguments(p, batch_size=128)
    add_distributed_arguments(p, "score")
    return p.parse_args(argv)


def window_logits(
    scorer: Scorer, model: bt.nn.Module, windows: list[np.ndarray], device: str
) -> bt.Tensor:
    """The model's logits ``(len(windows), outputs)`` for equal-length token windows."""
    batch = scorer.inputs.collator()(windows).to(device)
    return model(scorer.inputs.model_input(batch)).reshape(len(windows), -1)


def score_variants(scorer: Scorer, ds: VariantDataset, args: argparse.Namespace) -> dict | None:
    """Reference and alternative probabilities and the logit differences, ``(variants,
    outputs)`` each; with ``--distributed`` each rank scores its run of the batches and rank 0
    returns all (the others None)."""
    model = scorer.strand_model(args.both_strands)
    size = args.batch_size
    batches = [range(i, min(i + size, len(ds))) for i in range(0, len(ds), size)]
    logits: dict[str, list[bt.Tensor]] = {"ref": [], "alt": []}
    with bt.no_grad():
        for batch in rank_batches(batches) if args.distributed else batches:
            pairs = [ds[i] for i in batch]
            for j, name in enumerate(("ref", "alt")):
                windows = [pair[j] for pair in pairs]
                logits[name].append(window_logits(scorer, model, windows, args.device))
    stacked = {k: scorer.stack_logits(v) for k, v in logits.items()}
    if args.distributed:
        stacked = {k: gather_rows(v) for k, v in stacked.items()}
        if stacked["ref"] is None:
            return None
    ref, alt = (bt.tensor(stacked[k], device=args.device) for k in ("ref", "alt"))
    return {
        "ref": scorer.scores(ref)[0],
        "alt": scorer.scores(alt)[0],
        "diff": (alt - ref).cpu().numpy(),
    }


def main(argv: list[str] | None = None) -> dict | None:
    args = parse_args(argv)
    if args.batch_size < 1:
        raise SystemExit(f"score_variants: --batch-size {args.batch_size}, expected >= 1")
    init_distributed(args)
    scorer = for_windows(load_scorer(args.model, args.device), args.length, "score_variants")
    length = scorer.inputs.input_length
    genome = Genome(args.genome)
    on_error = "skip" if args.skip_unscorable else "raise"
    ds = VariantDataset(args.vcf, genome, length, on_error)
    scores = score_variants(scorer, ds, args)
    if scores is None:  # not rank 0
        return None
    names = scorer.task.names
    columns = [f"{n}_{part}" for n in names for part in ("ref", "alt", "diff")]
    rows = []
    for i, row in enumerate(ds.variants.itertuples(index=False)):
        values = [scores[part][i, j] for j in range(len(names)) for part in ("ref", "alt", "diff")]
        fields = [row.chrom, str(row.pos), row.id, row.ref, row.alt]
        rows.append(fields + [f"{v:.6g}" for v in values])
    write_tsv(args.output, ["chrom", "pos", "id", "ref", "alt", *columns], rows, "score_variants")
    return scores


if __name__ == "__main__":
    run_cli(main)
