"""``SequenceStore``: many named sequences in one contiguous token buffer plus offsets.

Worker processes receive (or inherit) a few NumPy arrays instead of millions of Python strings,
so pickling a dataset for ``spawn`` is one memory copy and ``fork`` shares the pages.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from biotorch.data.encoding import RaggedArray

__all__ = ["SequenceStore"]


class SequenceStore:
    """Named sequences of int8 tokens: a :class:`~biotorch.data.encoding.RaggedArray` plus ids.

    Parameters
    ----------
    sequences : RaggedArray
        All sequences in one flat buffer with ``int64`` offsets.
    ids : sequence of str
        One id per sequence (held as one NumPy string array).

    Examples
    --------
    >>> store = SequenceStore(encode(["ACGT", "GG"]), ["a", "b"])
    >>> store[1], store.lengths
    (array([2, 2], dtype=int8), array([4, 2]))
    """

    def __init__(self, sequences: RaggedArray, ids: Sequence[str]) -> None:
        self.sequences = sequences
        self.ids = np.asarray(ids, dtype=str)
        if len(self.ids) != len(sequences):
            raise ValueError(
                f"SequenceStore: {len(self.ids)} ids for {len(sequences)} sequences, "
                "expected one id per sequence"
            )

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, index: int) -> np.ndarray:
        """Sequence ``index`` as a read-only view into the buffer."""
        view = self.sequences[index]
        view.flags.writeable = False
        return view

    @property
    def lengths(self) -> np.ndarray:
        """Length of every sequence (int64)."""
        return self.sequences.lengths

    @property
    def nbytes(self) -> int:
        """Memory held by the token buffer and offsets."""
        return self.sequences.data.nbytes + self.sequences.offsets.nbytes
