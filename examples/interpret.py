"""Explain a model's score for given sequences: in-silico mutagenesis (every single-letter
substitution) and gradient x input, as TSV tables and one PNG (logo + heat map) per sequence.

``MODEL`` is a checkpoint or a pretrained weights name, as for ``predict.py``. Scores are the
logits of output ``--target`` (a name or an index; default the first). Tables in
``--output-dir``:

- ``ism.tsv``: ``id, position, reference`` and, per letter, the change of the logit when the
  position is set to that letter (0 for the reference letter);
- ``attribution.tsv``: ``id, position, reference, input_x_gradient`` (the gradient at the observed
  letter, mean-centred over letters) and ``saliency`` (largest absolute gradient);
- ``<id>.png``: the gradient x input logo (letter heights) above the ISM heat map.

Fixed-length models see each sequence centre-padded/cropped to their input length; positions
are those of the model input. Token-embedding models (the Transformer) have no one-hot input to
differentiate and are refused.

    python examples/interpret.py deepbind_binding_task --sequence ACGT...  -o runs/interpret
    python examples/interpret.py runs/train_fasta/best.safetensors --fasta seqs.fa --max 5
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import numpy as np
from example_utils import ALPHABETS, Scorer, atomic_write_text, load_scorer

from biotorch.data import SequenceCollator, encode, read_fasta
from biotorch.interpret import in_silico_mutagenesis, input_x_gradient, saliency

COLORS = {"A": "#109648", "C": "#255C99", "G": "#F7B32B", "T": "#D62839", "U": "#D62839"}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("model", help="checkpoint path or pretrained weights name")
    p.add_argument("--sequence", action="append", default=[], help="a sequence (repeatable)")
    p.add_argument("--fasta", help="FASTA file of sequences")
    p.add_argument("--max", type=int, default=10, help="at most this many FASTA records")
    p.add_argument("--target", default="0", help="output name or index")
    p.add_argument("-o", "--output-dir", default="runs/interpret")
    p.add_argument("--device", default="cpu")
    return p.parse_args(argv)


def target_index(scorer: Scorer, target: str) -> int:
    names = scorer.task.names
    if target in names:
        return names.index(target)
    if target.lstrip("-").isdigit() and -len(names) <= int(target) < len(names):
        return int(target) % len(names)
    raise SystemExit(f"interpret: --target {target!r}, expected an index or one of {names}")


def explain(scorer: Scorer, sequence: str, target: int, device: str) -> dict:
    """ISM deltas ``(C, L)``, gradient x input and saliency ``(L,)`` of one sequence."""
    inputs = scorer.inputs
    if type(scorer.model).__name__ == "TransformerClassifier":
        raise SystemExit("interpret: token-embedding models (Transformer) are not supported")
    alphabet = ALPHABETS[inputs.alphabet]
    fixed = inputs.input_length
    collate = SequenceCollator(
        alphabet=alphabet,
        side="center" if fixed else "right",
        length=fixed,
        truncate="center" if fixed else None,
        one_hot=True,
        n_value=inputs.n_value,
    )
    batch = collate([encode(sequence, alphabet)])
    x = batch.inputs
    ism = in_silico_mutagenesis(scorer.model, x, alphabet, target=target, device=device)
    ixg = input_x_gradient(scorer.model, x, target=target, mean_centered=True, device=device)
    sal = saliency(scorer.model, x, target=target, device=device)
    tokens = np.where(batch.mask[0], np.argmax(x[0], axis=0), -1)
    return {
        "reference": "".join(alphabet.letters[t] if t >= 0 else "-" for t in tokens),
        "ism": ism.scores.cpu().numpy()[0].reshape(len(alphabet), -1),
        "logit": float(ism.reference.cpu().numpy().reshape(-1)[0]),
        "input_x_gradient": ixg.cpu().numpy()[0].sum(axis=0),
        "saliency": sal.cpu().numpy()[0].max(axis=0),
    }


def plot(result: dict, letters: str, title: str, path: Path) -> None:
    """Gradient x input logo over the ISM heat map (matplotlib, Agg)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.font_manager import FontProperties
    from matplotlib.patches import PathPatch
    from matplotlib.textpath import TextPath
    from matplotlib.transforms import Affine2D

    ref, ism, ixg = result["reference"], result["ism"], result["input_x_gradient"]
    length = len(ref)
    fig, (top, bottom) = plt.subplots(
        2, 1, figsize=(max(6, length * 0.12), 4.5), sharex=True, height_ratios=[1, 1.2]
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
        color = COLORS.get(letter, "grey")
        top.add_patch(PathPatch(transform.transform_path(glyph), color=color, lw=0))
    span = float(np.abs(ixg).max()) or 1.0
    top.set(ylim=(min(ixg.min(), 0) * 1.1 - 1e-6, max(ixg.max(), 0) * 1.1 + 1e-6))
    top.set(ylabel="grad x input", title=f"{title} (logit {result['logit']:.3f})")
    top.axhline(0, color="black", lw=0.5)
    limit = float(np.abs(ism).max()) or span
    image = bottom.imshow(
        ism, aspect="auto", cmap="RdBu_r", vmin=-limit, vmax=limit, interpolation="nearest"
    )
    bottom.set(yticks=range(len(letters)), yticklabels=list(letters), xlabel="position")
    bottom.set_ylabel("ISM: set to")
    fig.colorbar(image, ax=[top, bottom], shrink=0.6, label="change of logit")
    top.set_xlim(-0.5, length - 0.5)
    tmp = path.with_name(path.stem + ".tmp.png")
    fig.savefig(tmp, dpi=100)
    plt.close(fig)
    tmp.replace(path)


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    scorer = load_scorer(args.model, args.device)
    records = [(f"seq{i + 1}", s) for i, s in enumerate(args.sequence)]
    if args.fasta:
        records += [(r.id, r.sequence) for r in read_fasta(args.fasta)][: args.max]
    if not records:
        raise SystemExit("interpret: give --sequence SEQ (repeatable) or --fasta FILE")
    target = target_index(scorer, args.target)
    letters = ALPHABETS[scorer.inputs.alphabet].letters
    out = Path(args.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    ism_rows = ["\t".join(["id", "position", "reference", *letters])]
    attr_rows = ["id\tposition\treference\tinput_x_gradient\tsaliency"]
    results = {}
    for rid, seq in records:
        res = explain(scorer, seq, target, args.device)
        results[rid] = res
        for i, letter in enumerate(res["reference"]):
            deltas = "\t".join(f"{v:.5g}" for v in res["ism"][:, i])
            ism_rows.append(f"{rid}\t{i}\t{letter}\t{deltas}")
            attr_rows.append(
                f"{rid}\t{i}\t{letter}\t{res['input_x_gradient'][i]:.5g}\t{res['saliency'][i]:.5g}"
            )
        safe = re.sub(r"[^A-Za-z0-9_.-]", "_", rid)
        plot(res, letters, f"{rid}: {scorer.task.names[target]}", out / f"{safe}.png")
    atomic_write_text(out / "ism.tsv", "\n".join(ism_rows) + "\n")
    atomic_write_text(out / "attribution.tsv", "\n".join(attr_rows) + "\n")
    print(f"interpret: {len(records)} sequence(s) -> {out}/ism.tsv, attribution.tsv, *.png")
    return results


if __name__ == "__main__":
    main()
