"""Dataset base classes and combinators, with ``torch.utils.data`` names and semantics.

A map-style :class:`Dataset` implements ``__getitem__(index)`` and ``__len__``; an
:class:`IterableDataset` implements ``__iter__``. Datasets that draw random numbers (random
transforms, random windows) take them from :func:`current_rng`, which the
:class:`~biotorch.data.loader.DataLoader` seeds per worker from ``(seed, epoch, worker id)``.
"""

from __future__ import annotations

import bisect
import math
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "Dataset",
    "IterableDataset",
    "Subset",
    "ConcatDataset",
    "random_split",
    "WorkerInfo",
    "get_worker_info",
    "current_rng",
    "worker_seed_sequence",
]


@dataclass(frozen=True)
class WorkerInfo:
    """What a loader worker knows about itself (see :func:`get_worker_info`).

    Attributes
    ----------
    id : int
        Worker index in ``[0, num_workers)``.
    num_workers : int
        Number of workers of the loader.
    seed : int
        Base seed of the loader; the worker's stream is derived from ``(seed, epoch, id)``.
    epoch : int
        Epoch the worker is currently loading.
    dataset : Dataset
        This worker's copy of the dataset.
    rng : numpy.random.Generator
        The worker's random stream for this epoch.
    """

    id: int
    num_workers: int
    seed: int
    epoch: int
    dataset: Any
    rng: np.random.Generator


_state = threading.local()


def worker_seed_sequence(seed: int, epoch: int, worker_id: int) -> np.random.SeedSequence:
    """The seed sequence of worker ``worker_id`` in ``epoch`` for a loader seeded with ``seed``.

    Streams for different ``(epoch, worker_id)`` pairs are independent (``spawn_key``).
    """
    return np.random.SeedSequence(entropy=int(seed), spawn_key=(int(epoch), 0, int(worker_id)))


def get_worker_info() -> WorkerInfo | None:
    """Information about the current loader worker process, or ``None`` in the main process."""
    info = getattr(_state, "worker_info", None)
    return info if getattr(_state, "in_worker", False) else None


def _set_worker_info(info: WorkerInfo | None, in_worker: bool) -> None:
    _state.worker_info = info
    _state.in_worker = in_worker


def current_rng() -> np.random.Generator:
    """The random generator datasets should draw from.

    Inside a :class:`~biotorch.data.loader.DataLoader` worker this is the worker's stream for the
    current epoch; while a loader with ``num_workers=0`` iterates it is the stream of worker 0
    (so one worker and no workers draw the same numbers); elsewhere a fresh unseeded generator.
    """
    info = getattr(_state, "worker_info", None)
    return info.rng if info is not None else np.random.default_rng()


class Dataset:
    """A map-style dataset: implement ``__getitem__`` and ``__len__``.

    As in PyTorch, ``__len__`` is not defined here (samplers and the loader need it from the
    subclass), and :class:`IterableDataset` is a subclass.
    """

    def __getitem__(self, index: int) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must implement __getitem__")

    def __add__(self, other: Dataset) -> ConcatDataset:
        return ConcatDataset([self, other])


class IterableDataset(Dataset):
    """A dataset that is a stream of samples: implement ``__iter__``.

    With ``num_workers > 0`` every worker iterates its own copy; split the work with
    :func:`get_worker_info` (as in PyTorch), or each sample is produced once per worker.
    """

    def __iter__(self) -> Iterator[Any]:
        raise NotImplementedError(f"{type(self).__name__} must implement __iter__")


class Subset(Dataset):
    """The samples of ``dataset`` at ``indices``, in that order."""

    def __init__(self, dataset: Dataset, indices: Sequence[int]) -> None:
        self.dataset = dataset
        self.indices = [int(i) for i in indices]

    def __getitem__(self, index: int) -> Any:
        return self.dataset[self.indices[index]]

    def __len__(self) -> int:
        return len(self.indices)


class ConcatDataset(Dataset):
    """The concatenation of several map-style datasets."""

    def __init__(self, datasets: Sequence[Dataset]) -> None:
        self.datasets = list(datasets)
        if not self.datasets:
            raise ValueError("ConcatDataset: datasets is empty, expected at least one dataset")
        for i, d in enumerate(self.datasets):
            if isinstance(d, IterableDataset):
                raise TypeError(
                    f"ConcatDataset: datasets[{i}] is an IterableDataset, expected map-style"
                )
        self.cumulative_sizes = np.cumsum([len(d) for d in self.datasets]).tolist()

    def __len__(self) -> int:
        return self.cumulative_sizes[-1]

    def __getitem__(self, index: int) -> Any:
        n = len(self)
        if index < 0:
            if -index > n:
                raise IndexError(f"ConcatDataset: index {index} out of range for length {n}")
            index += n
        if index >= n:
            raise IndexError(f"ConcatDataset: index {index} out of range for length {n}")
        which = bisect.bisect_right(self.cumulative_sizes, index)
        offset = self.cumulative_sizes[which - 1] if which else 0
        return self.datasets[which][index - offset]


def _split_lengths(n: int, lengths: Sequence[float]) -> list[int]:
    """Turn ``lengths`` (counts, or fractions summing to 1) into counts summing to ``n``."""
    if all(isinstance(x, (int, np.integer)) for x in lengths):
        counts = [int(x) for x in lengths]
    elif math.isclose(sum(lengths), 1.0) and all(0 <= x <= 1 for x in lengths):
        counts = [int(math.floor(n * f)) for f in lengths]
        for i in range(n - sum(counts)):  # hand out the remainder round-robin, as torch does
            counts[i % len(counts)] += 1
    else:
        raise ValueError(
            f"random_split: lengths={list(lengths)}, expected integer counts or fractions "
            "summing to 1"
        )
    if any(c < 0 for c in counts) or sum(counts) != n:
        raise ValueError(
            f"random_split: lengths={list(lengths)} sum to {sum(counts)}, "
            f"expected the dataset length {n}"
        )
    return counts


def random_split(
    dataset: Dataset,
    lengths: Sequence[float],
    generator: np.random.Generator | None = None,
    seed: int | None = None,
) -> list[Subset]:
    """Split ``dataset`` at random into non-overlapping :class:`Subset` s.

    Parameters
    ----------
    dataset : Dataset
        A map-style dataset.
    lengths : sequence of int or float
        Sizes of the splits, or fractions of ``len(dataset)`` summing to 1.
    generator : numpy.random.Generator, optional
        Source of the permutation. Give this or ``seed`` for a reproducible split.
    seed : int, optional
        Seed used when ``generator`` is not given.

    Examples
    --------
    >>> train, val = random_split(dataset, [0.9, 0.1], seed=0)  # doctest: +SKIP
    """
    counts = _split_lengths(len(dataset), lengths)
    rng = generator if generator is not None else np.random.default_rng(seed)
    perm = rng.permutation(len(dataset))
    bounds = np.cumsum([0, *counts])
    return [
        Subset(dataset, perm[a:b].tolist()) for a, b in zip(bounds[:-1], bounds[1:], strict=True)
    ]
