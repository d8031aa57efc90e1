"""Explain a model's score for given sequences: in-silico mutagenesis (every single-letter
substitution) and a gradient attribution, as TSV tables and one PNG (logo + heat map) per
sequence.

``MODEL`` is a checkpoint or a pretrained weights name, as for ``predict.py``. Scores are the
logits of output ``--target`` (a name or an index; default the first). Tables in
``--output-dir``:

- ``ism.tsv``: ``id, position, reference`` and, per letter, the change of the logit when the
  position is set to that letter (0 for the reference letter);
- ``attribution.tsv``: ``id, position, reference``, the attribution and ``saliency``. Models
  that take one-hot input get ``input_x_gradient`` (the gradient at the observed letter,
  mean-centred over letters) or, with ``--attribution integrated_gradients``, integrated
  gradients from dinucleotide-shuffled baselines (``--baselines`` of them, averaged; each
  sequence's attributions sum to its logit minus the shuffles' mean logit), and the largest
  absolute gradient over letters; models that embed
  tokens (the Transformer, the CNN-LSTM, ``masked_cnn`` with ``embedding_dim``) get
  ``embedding_x_gradient`` (gradient x embedding, summed over the embedding dimension) and the
  L2 norm of the gradient at the embedding;
- ``<id>.png``: the attribution logo (letter heights) above the ISM heat map.

Fixed-length models see each sequence centre-padded/cropped to their input length; positions
are those of the model input. Variable-length models see the sequence alone (cropped to the
training length that pretrained weights record), without padding.

    python examples/interpret.py deepbind_binding_task --sequence ACGT...  -o runs/interpret
    python examples/interpret.py runs/train_fasta/best.safetensors --fasta seqs.fa --max 5
    python examples/interpret.py motif_cnn_regulatory --bed peaks.bed --genome hg38.fa --max 3

``--bed BED --genome FASTA`` explains the genome windows of the model's input length (``--length``
for models that record none) centred on the intervals, named by the BED name column.

``--distributed`` (under ``mpiexec -n N``): each process explains a contiguous block of the
sequences and draws their PNGs; rank 0 writes the two tables, the same bytes as one process.
"""

from __future__ import annotations

import argparse
import re
from dataclasses import replace
from pathlib import Path

import numpy as np
from example_utils import (
    add_distributed_arguments,
    device_arg,
    for_windows,
    init_distributed,
    pyplot,
    run_cli,
    save_figure,
)

import biotorch.distributed as dist
from biotorch import nn
from biotorch._atomic import atomic_write_text
from biotorch.data import Genome, dinucleotide_shuffle, encode, one_hot, read_bed, read_fasta
from biotorch.interpret import (
    embedding_saliency,
    embedding_x_gradient,
    in_silico_mutagenesis,
    input_x_gradient,
    integrated_gradients,
    saliency,
)
from biotorch.train import ALPHABETS, Scorer, load_scorer, tsv_text
from biotorch.train.parallel import gather_rows

NUCLEOTIDE_COLORS = {"A": "#109648", "C": "#255C99", "G": "#F7B32B", "T": "#D62839", "U": "#D62839"}
# Amino acids by chemistry (WebLogo's scheme): polar, amide, basic, acidic, hydrophobic.
PROTEIN_COLORS = {
    **dict.fromkeys("GSTYC", "#109648"),
    **dict.fromkeys("NQ", "#8E44AD"),
    **dict.fromkeys("KRH", "#255C99"),
    **dict.fromkeys("DE", "#D62839"),
    **dict.fromkeys("AVLIPWFM", "#222222"),
}
COLORS = {"DNA": NUCLEOTIDE_COLORS, "RNA": NUCLEOTIDE_COLORS, "PROTEIN": PROTEIN_COLORS}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("model", help="checkpoint path or pretrained weights name")
    p.add_argument("--sequence", action="append", default=[], help="a sequence (repeatable)")
    p.add_argument("--fasta", help="FASTA file of sequences")
    p.add_argument("--bed", help="BED intervals: explain the genome windows centred on them")
    p.add_argument("--genome", help="reference FASTA for --bed (plain or bgzip)")
    p.add_argument("--length", type=int, help="--bed window length (default: the model's)")
    p.add_argument("--max", type=int, default=10, help="at most this many FASTA/BED records")
    p.add_argument("--target", default="0", help="output name or index")
    p.add_argument("-o", "--output-dir", default="runs/interpret")
    p.add_argument(
        "--attribution",
        choices=("input_x_gradient", "integrated_gradients"),
        default="input_x_gradient",
        help="for one-hot models (token-embedding models always get embedding_x_gradient)",
    )
    p.add_argument(
        "--baselines",
        type=int,
        default=10,
        help="integrated gradients: average over this many dinucleotide-shuffled baselines",
    )
    p.add_argument("--steps", type=int, default=32, help="integrated gradients: path steps")
    p.add_argument("--device", default="cpu", type=device_arg)
    add_distributed_arguments(p, "explain")
    return p.parse_args(argv)


def target_index(scorer: Scorer, target: str) -> int:
    names = scorer.task.names
    if target in names:
        return names.index(target)
    if target.lstrip("-").isdigit() and -len(names) <= int(target) < len(names):
        return int(target) % len(names)
    raise SystemExit(f"interpret: --target {target!r}, expected an index or one of {names}")


def explain(scorer: Scorer, sequence: str, target: int, args: argparse.Namespace) -> dict:
    """ISM deltas ``(C, L)``, the attribution and saliency ``(L,)`` of one sequence."""
    device = args.device
    inputs, model = scorer.inputs, scorer.model
    alphabet = ALPHABETS[inputs.alphabet]
    batch = replace(inputs, one_hot=False).collator()([encode(sequence, alphabet)])
    tokens = batch.inputs
    if inputs.takes_batch:  # variable-length models ignore padding: drop it
        tokens = tokens[:, batch.mask[0]]
    method = attribution_name(scorer, args)
    embedded = method == "embedding_x_gradient"
    x = tokens if embedded else one_hot(tokens, alphabet, n_value=inputs.n_value)
    ism = in_silico_mutagenesis(model, x, alphabet, target=target, device=device)
    if embedded:
        attribution = embedding_x_gradient(model, x, target, device=device)[0]
        sal = embedding_saliency(model, x, target, device=device)[0]
    elif method == "integrated_gradients":
        baselines = shuffled_baselines(tokens, batch.mask, alphabet, inputs.n_value, args)
        repeated = np.repeat(x, len(baselines), axis=0)
        attribution = integrated_gradients(
            model, repeated, target, baselines, args.steps, device=device
        )
        attribution = attribution.sum(dim=1).mean(dim=0)
        sal = saliency(model, x, target, device=device)[0].amax(dim=0)
    else:
        attribution = input_x_gradient(model, x, target, mean_centered=True, device=device)
        attribution = attribution[0].sum(dim=0)
        sal = saliency(model, x, target, device=device)[0].amax(dim=0)
    symbols = alphabet.letters + alphabet.unknown + "-"  # tokens up to PAD (iupac="n")
    return {
        "reference": "".join(symbols[t] for t in tokens[0]),
        "ism": ism.scores.cpu().numpy()[0].reshape(len(alphabet), -1),
        "logit": float(ism.reference.cpu().numpy().reshape(-1)[0]),
        "method": method,
        "attribution": attribution.cpu().numpy(),
        "saliency": sal.cpu().numpy(),
    }


def attribution_name(scorer: Scorer, args: argparse.Namespace) -> str:
    """The attribution method for this model: token models with an embedding layer are explained
    at it; the others (one-hot models, and token models that one-hot encode their tokens, which
    take one-hot input too) at one-hot, with ``--attribution``."""
    model = scorer.model
    if not scorer.inputs.one_hot and any(isinstance(m, nn.Embedding) for m in model.modules()):
        return "embedding_x_gradient"
    return args.attribution


def shuffled_baselines(tokens, mask, alphabet, n_value: float, args) -> np.ndarray:
    """``args.baselines`` one-hot copies of the sequence, each dinucleotide-shuffled within its
    real (unpadded) positions; seeded, so runs repeat."""
    if args.baselines < 1 or args.steps < 1:
        raise SystemExit("interpret: --baselines and --steps must be positive")
    tokens, real = np.asarray(tokens)[0], np.asarray(mask)[0]
    if len(real) != len(tokens):  # variable-length models: padding was dropped
        real = np.ones(len(tokens), bool)
    rng = np.random.default_rng(0)
    out = np.repeat(tokens[None], args.baselines, axis=0)
    for row in out:
        row[real] = dinucleotide_shuffle(tokens[real], rng)
    return one_hot(out, alphabet, n_value=n_value)


def plot(result: dict, alphabet: str, title: str, path: Path) -> None:
    """Attribution logo over the ISM heat map (matplotlib, Agg)."""
    plt = pyplot()
    if plt is None:
        return
    from matplotlib.font_manager import FontProperties
    from matplotlib.patches import PathPatch
    from matplotlib.textpath import TextPath
    from matplotlib.transforms import Affine2D

    ref, ism, ixg = result["reference"], result["ism"], result["attribution"]
    letters, colors = ALPHABETS[alphabet].letters, COLORS.get(alphabet, {})
    length = len(ref)
    fig, (top, bottom) = plt.subplots(
        2,
        1,
        figsize=(max(6, length * 0.12), 4.1 + 0.1 * len(letters)),
        sharex=True,
        height_ratios=[1, max(1.2, len(letters) / 8)],
    )
    font = FontProperties(family="DejaVu Sans", weight="bold")
    for i, (letter, h) in enumerate(zip(ref, ixg, strict=True)):
        if letter == "-" or h == 0:
            continue
        glyph = TextPath((0, 0), letter, size=1, prop=font)
        box = glyph.get_extents()
        transform = (
            Affine2D()
            .translate(-box.x0, -box.y0)
            .scale(0.9 / box.width, abs(h) / box.height)
            .translate(i - 0.45, min(h, 0.0))
        )
        color = colors.get(letter, "grey")
        top.add_patch(PathPatch(transform.transform_path(glyph), color=color, lw=0))
    span = float(np.abs(ixg).max()) or 1.0
    top.set(ylim=(min(ixg.min(), 0) * 1.1 - 1e-6, max(ixg.max(), 0) * 1.1 + 1e-6))
    top.set(
        ylabel=result["method"].replace("_", " "), title=f"{title} (logit {result['logit']:.3f})"
    )
    top.axhline(0, color="black", lw=0.5)
    limit = float(np.abs(ism).max()) or span
    image = bottom.imshow(
        ism, aspect="auto", cmap="RdBu_r", vmin=-limit, vmax=limit, interpolation="nearest"
    )
    bottom.set(yticks=range(len(letters)), yticklabels=list(letters), xlabel="position")
    bottom.set_ylabel("ISM: set to")
    fig.colorbar(image, ax=[top, bottom], shrink=0.6, label="change of logit")
    top.set_xlim(-0.5, length - 0.5)
    save_figure(plt, fig, path)


def genome_windows(bed: str, genome: Genome, length: int) -> list[tuple[str, str]]:
    """``(id, sequence)`` of the ``length``-bp windows centred on the intervals of ``bed``
    (reverse-complemented on the ``-`` strand); ids are the BED names, else ``chrom:start-end``."""
    table = read_bed(bed, genome)
    records = []
    for row in table.itertuples(index=False):
        start = (row.start + row.end) // 2 - length // 2
        strand = getattr(row, "strand", "+")
        name = getattr(row, "name", None) or f"{row.chrom}:{row.start}-{row.end}"
        records.append((str(name), genome.fetch(row.chrom, start, start + length, strand)))
    return records


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    init_distributed(args)
    scorer = load_scorer(args.model, args.device)
    records = [(f"seq{i + 1}", s) for i, s in enumerate(args.sequence)]
    if args.fasta:
        records += [(r.id, r.sequence) for r in read_fasta(args.fasta)][: args.max]
    if args.bed:
        if args.genome is None:
            raise SystemExit("interpret: --bed needs --genome FASTA")
        scorer = for_windows(scorer, args.length, "interpret")
        records += genome_windows(args.bed, Genome(args.genome), scorer.inputs.input_length)[
            : args.max
        ]
    if not records:
        raise SystemExit(
            "interpret: give --sequence SEQ (repeatable), --fasta FILE or --bed BED --genome FASTA"
        )
    target = target_index(scorer, args.target)
    alphabet = scorer.inputs.alphabet
    out = Path(args.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    ism_rows, attr_rows = [], []
    results = {}
    mine = dist.shard_indices(len(records)) if args.distributed else range(len(records))
    for rid, seq in (records[i] for i in mine):
        res = explain(scorer, seq, target, args)
        results[rid] = res
        for i, letter in enumerate(res["reference"]):
            ism_rows.append([rid, str(i), letter, *(f"{v:.5g}" for v in res["ism"][:, i])])
            values = (res["attribution"][i], res["saliency"][i])
            attr_rows.append([rid, str(i), letter, *(f"{v:.5g}" for v in values)])
        safe = re.sub(r"[^A-Za-z0-9_.-]", "_", rid)
        plot(res, alphabet, f"{rid}: {scorer.task.names[target]}", out / f"{safe}.png")
    letters = ALPHABETS[alphabet].letters
    if args.distributed:  # rows in rank order are the rows in record order
        ism_rows = gather_rows(np.array(ism_rows, dtype=str).reshape(-1, 3 + len(letters)))
        attr_rows = gather_rows(np.array(attr_rows, dtype=str).reshape(-1, 5))
        if ism_rows is None:
            return results
        ism_rows, attr_rows = ism_rows.tolist(), attr_rows.tolist()
    ism = tsv_text(["id", "position", "reference", *letters], ism_rows)
    attr = tsv_text(
        ["id", "position", "reference", attribution_name(scorer, args), "saliency"], attr_rows
    )
    atomic_write_text(out / "ism.tsv", ism)
    atomic_write_text(out / "attribution.tsv", attr)
    print(f"interpret: {len(records)} sequence(s) -> {out}/ism.tsv, attribution.tsv, *.png")
    return results


if __name__ == "__main__":
    run_cli(main)
