"""Scoring the records of a FASTA file with a :class:`~biotorch.train.Scorer`."""

from __future__ import annotations

import numpy as np

import biotorch as bt
from biotorch.data import DataLoader, FastaDataset
from biotorch.train.checkpoint import Scorer
from biotorch.train.data import ALPHABETS
from biotorch.train.parallel import gather_rows, rank_batches


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
    distributed: bool = False,
) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray] | None:
    """(ids, lengths, probabilities, logits) of every record of ``fasta``, in file order;
    ``both_strands`` is ``None``, ``"mean"`` or ``"max"`` (:meth:`Scorer.strand_model`).

    ``distributed``: every rank of the process group scores its contiguous block of the batches
    a single process would form (:func:`~biotorch.train.parallel.rank_batches`); rank 0 returns
    the results of all, identical to a single-process run, and the other ranks return None."""
    alphabet = ALPHABETS[scorer.inputs.alphabet]
    ds = FastaDataset(fasta, alphabet)
    model = scorer.strand_model(both_strands)
    batches = _batches(ds.lengths, batch_size, scorer)
    if distributed:
        batches = rank_batches(batches)
    loader = DataLoader(
        _Records(ds),
        batch_sampler=batches,
        collate_fn=scorer.inputs.collator(),
        device=device,
    )
    with bt.no_grad():
        outputs = [model(scorer.inputs.model_input(batch)) for batch in loader]
    records = np.array([i for batch in batches for i in batch], dtype=np.int64)
    logits = scorer.stack_logits(outputs)
    if distributed:
        logits, records = gather_rows(logits), gather_rows(records)
    if logits is None:
        return None
    in_file_order = bt.tensor(logits[np.argsort(records)], device=device)
    probs, logits = scorer.scores(in_file_order)
    return [str(i) for i in ds.ids], ds.lengths, probs, logits


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
