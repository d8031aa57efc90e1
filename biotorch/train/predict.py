"""Scoring the records of a FASTA file with a :class:`~biotorch.train.Scorer`."""

from __future__ import annotations

import numpy as np

import biotorch as bt
from biotorch.data import DataLoader, FastaDataset
from biotorch.train.checkpoint import Scorer
from biotorch.train.data import ALPHABETS


class _Records:
    """``(tokens, None, id)`` samples of a FastaDataset, for collation with ids."""

    def __init__(self, ds: FastaDataset) -> None:
        self.ds = ds

    def __len__(self) -> int:
        return len(self.ds)

    def __getitem__(self, i: int):
        return self.ds[i], None, str(self.ds.ids[i])


def score_fasta(
    scorer: Scorer,
    fasta: str,
    both_strands: str | None = None,
    batch_size: int = 256,
    device: str = "cpu",
) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray]:
    """(ids, lengths, probabilities, logits) of every record of ``fasta``, in file order;
    ``both_strands`` is ``None``, ``"mean"`` or ``"max"`` (:meth:`Scorer.strand_model`)."""
    alphabet = ALPHABETS[scorer.inputs.alphabet]
    ds = FastaDataset(fasta, alphabet)
    model = scorer.strand_model(both_strands)
    loader = DataLoader(
        _Records(ds),
        batch_sampler=_batches(ds.lengths, batch_size, scorer),
        collate_fn=scorer.inputs.collator(),
        device=device,
    )
    ids, logits = [], []
    with bt.no_grad():
        for batch in loader:
            logits.append(model(scorer.inputs.model_input(batch)))
            ids += batch.ids
    position = {rid: i for i, rid in enumerate(ds.ids)}
    order = np.argsort([position[rid] for rid in ids])
    ids = [ids[i] for i in order]
    out = bt.cat(logits) if len(logits) > 1 else logits[0]
    probs, out = scorer.scores(out[bt.tensor(order, device=out.device)])
    return ids, ds.lengths, probs, out


def _batches(lengths: np.ndarray, batch_size: int, scorer: Scorer) -> list[list[int]]:
    """Batches in file order, except for models that take any length without a mask: those get
    batches of equal-length sequences, so no padding reaches them."""
    if scorer.inputs.input_length is not None or scorer.inputs.takes_batch:
        return [
            list(range(i, min(i + batch_size, len(lengths))))
            for i in range(0, len(lengths), batch_size)
        ]
    order = np.argsort(lengths, kind="stable")
    out: list[list[int]] = []
    for i in order.tolist():
        if not out or len(out[-1]) == batch_size or lengths[out[-1][0]] != lengths[i]:
            out.append([])
        out[-1].append(i)
    return out
