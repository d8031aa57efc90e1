"""Labelled sequence data for training: data specs (FASTA per class, sequence tables, FASTA with
a label table) and subsets with training-time augmentation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from biotorch.data import DNA, PROTEIN, RNA, Alphabet, Dataset
from biotorch.data.datasets import current_rng
from biotorch.data.fasta import FastaDataset, SequenceTableDataset
from biotorch.data.transforms import apply_transform

#: Alphabets by name, as checkpoints record them.
ALPHABETS = {"DNA": DNA, "RNA": RNA, "PROTEIN": PROTEIN}
TABLE_SUFFIXES = (".csv", ".tsv", ".tab", ".txt")


def alphabet_named(name: str) -> Alphabet:
    """``DNA``, ``RNA`` or ``PROTEIN`` (any case)."""
    if name.upper() not in ALPHABETS:
        raise ValueError(f"alphabet {name!r}: expected one of {sorted(ALPHABETS)}")
    return ALPHABETS[name.upper()]


def load_data(
    spec: str,
    alphabet: Alphabet = DNA,
    labels: str | None = None,
    label_column: str = "label",
    sequence_column: str = "sequence",
    label_from_header: str | None = None,
    multi_label: bool = False,
    classes: list[str] | None = None,
    iupac: str = "n",
) -> FastaDataset | SequenceTableDataset:
    """A labelled dataset from a data spec.

    ``spec`` is one of: ``NAME=PATH[,NAME=PATH...]`` (one FASTA file per class; the target is the
    class index in the order given, so with two classes the second is the positive one), a
    CSV/TSV sequence table (``sequence_column``, ``label_column``; ``label_column`` may be
    comma-separated for several 0/1 targets), or one FASTA file with labels from the ``labels``
    table (``id``, ``label_column``) or from a ``label_from_header=value`` header field.
    """
    columns: str | list[str] = label_column.split(",") if "," in label_column else label_column
    if "=" in spec:
        files = dict(part.split("=", 1) for part in spec.split(","))
        return FastaDataset(files, alphabet, iupac=iupac)
    shared = dict(label_columns=columns, multi_label=multi_label, classes=classes, iupac=iupac)
    suffixes = [s.lower() for s in Path(spec).suffixes if s.lower() != ".gz"]
    if suffixes and suffixes[-1] in TABLE_SUFFIXES:
        return SequenceTableDataset(
            spec, sequence_column=sequence_column, alphabet=alphabet, **shared
        )
    if labels is None and label_from_header is None:
        raise ValueError(
            f"data {spec!r}: a single FASTA file needs --labels TABLE or --label-from-header "
            "FIELD (or give one file per class as NAME=PATH,NAME=PATH)"
        )
    return FastaDataset(
        spec, alphabet, labels=labels, label_from_header=label_from_header, **shared
    )


class TransformedSubset(Dataset):
    """``dataset[indices]``, with an optional random ``transform`` of each sequence drawn from
    the loader's per-epoch stream (training-time augmentation); ``lengths`` follow the subset
    (for length-bucketed batches)."""

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
