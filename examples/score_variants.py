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
"""

from __future__ import annotations

import argparse

import numpy as np
from example_utils import add_scoring_arguments, for_windows, run_cli, write_tsv

import biotorch as bt
from biotorch.data import Genome, VariantDataset
from biotorch.train import Scorer, load_scorer


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
    return p.parse_args(argv)


def window_logits(
    scorer: Scorer, model: bt.nn.Module, windows: list[np.ndarray], device: str
) -> bt.Tensor:
    """The model's logits ``(len(windows), outputs)`` for equal-length token windows."""
    batch = scorer.inputs.collator()(windows).to(device)
    return model(scorer.inputs.model_input(batch)).reshape(len(windows), -1)


def score_variants(scorer: Scorer, ds: VariantDataset, args: argparse.Namespace) -> dict:
    """Reference and alternative probabilities and the logit differences, ``(variants,
    outputs)`` each."""
    model = scorer.strand_model(args.both_strands)
    parts: dict[str, list[np.ndarray]] = {"ref": [], "alt": [], "diff": []}
    with bt.no_grad():
        for start in range(0, len(ds), args.batch_size):
            pairs = [ds[i] for i in range(start, min(start + args.batch_size, len(ds)))]
            ref = window_logits(scorer, model, [r for r, _ in pairs], args.device)
            alt = window_logits(scorer, model, [a for _, a in pairs], args.device)
            for name, logits in (("ref", ref), ("alt", alt)):
                parts[name].append(scorer.scores(logits)[0])
            parts["diff"].append((alt - ref).cpu().numpy())
    width = len(scorer.task.names)
    return {k: np.concatenate(v) if v else np.zeros((0, width)) for k, v in parts.items()}


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    if args.batch_size < 1:
        raise SystemExit(f"score_variants: --batch-size {args.batch_size}, expected >= 1")
    scorer = for_windows(load_scorer(args.model, args.device), args.length, "score_variants")
    length = scorer.inputs.input_length
    genome = Genome(args.genome)
    on_error = "skip" if args.skip_unscorable else "raise"
    ds = VariantDataset(args.vcf, genome, length, on_error)
    scores = score_variants(scorer, ds, args)
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
