"""Samplers with ``torch.utils.data`` names, and a length-bucketing batch sampler.

:class:`BucketBatchSampler` groups sequences of similar length so that padded batches waste few
positions, shuffles within and across buckets, covers every index once per epoch, splits the
batches between data-parallel replicas and can cap the padded tokens of a batch.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence, Sized
from typing import Any

import numpy as np

__all__ = [
    "Sampler",
    "SequentialSampler",
    "RandomSampler",
    "SubsetRandomSampler",
    "WeightedRandomSampler",
    "BatchSampler",
    "BucketBatchSampler",
    "DistributedSampler",
    "DistributedBatchSampler",
]


def _replicas(num_replicas: Any, rank: Any, caller: str) -> tuple[int, int]:
    """``(num_replicas, rank)``: the given values, or the process group's (1 and 0 without)."""
    if num_replicas is None or rank is None:
        from biotorch.distributed import process_group as pg

        group = pg._group_or_none()
        num_replicas = (
            (1 if group is None else group.size) if num_replicas is None else num_replicas
        )
        rank = (0 if group is None else group.rank) if rank is None else rank
    _positive_int("num_replicas", num_replicas, caller)
    if isinstance(rank, bool) or not isinstance(rank, (int, np.integer)):
        raise ValueError(f"{caller}: rank={rank!r}, expected 0 <= rank < {num_replicas}")
    if not 0 <= rank < num_replicas:
        raise ValueError(f"{caller}: rank={rank!r}, expected 0 <= rank < {num_replicas}")
    return int(num_replicas), int(rank)


def _positive_int(name: str, value: Any, caller: str, allow_none: bool = False) -> None:
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{caller}: {name}={value!r}, expected a positive integer")


class Sampler:
    """Base class: an iterable over dataset indices (or batches of them) with a length."""

    def __iter__(self) -> Iterator[Any]:
        raise NotImplementedError(f"{type(self).__name__} must implement __iter__")

    def __len__(self) -> int:
        raise NotImplementedError(f"{type(self).__name__} must implement __len__")


class SequentialSampler(Sampler):
    """Indices ``0, 1, ..., len(data_source) - 1`` in order."""

    def __init__(self, data_source: Sized) -> None:
        self.data_source = data_source

    def __iter__(self) -> Iterator[int]:
        return iter(range(len(self.data_source)))

    def __len__(self) -> int:
        return len(self.data_source)


class RandomSampler(Sampler):
    """Random indices: a permutation per pass, or draws with ``replacement``.

    Parameters
    ----------
    data_source : sized
        The dataset.
    replacement : bool
        Draw ``num_samples`` indices with replacement instead of permuting.
    num_samples : int, optional
        Indices per pass; default ``len(data_source)``.
    generator : numpy.random.Generator or int, optional
        Random stream (or its seed). Each pass draws from it, so successive epochs differ and a
        seeded generator makes the whole sequence reproducible. Default: a fresh unseeded one.
    """

    def __init__(
        self,
        data_source: Sized,
        replacement: bool = False,
        num_samples: int | None = None,
        generator: np.random.Generator | int | None = None,
    ) -> None:
        _positive_int("num_samples", num_samples, "RandomSampler", allow_none=True)
        if not replacement and num_samples is not None and num_samples > len(data_source):
            raise ValueError(
                f"RandomSampler: num_samples={num_samples} > len(data_source)="
                f"{len(data_source)} needs replacement=True"
            )
        self.data_source = data_source
        self.replacement = replacement
        self._num_samples = num_samples
        self.generator = np.random.default_rng(generator)

    @property
    def num_samples(self) -> int:
        return len(self.data_source) if self._num_samples is None else self._num_samples

    def __iter__(self) -> Iterator[int]:
        n = len(self.data_source)
        if self.replacement:
            return iter(self.generator.integers(0, n, size=self.num_samples).tolist())
        return iter(self.generator.permutation(n)[: self.num_samples].tolist())

    def __len__(self) -> int:
        return self.num_samples


class SubsetRandomSampler(Sampler):
    """The given ``indices`` in a random order, a new one each pass.

    ``generator`` is a ``numpy.random.Generator`` or a seed, as in :class:`RandomSampler`.
    """

    def __init__(
        self, indices: Sequence[int], generator: np.random.Generator | int | None = None
    ) -> None:
        self.indices = list(indices)
        self.generator = np.random.default_rng(generator)

    def __iter__(self) -> Iterator[int]:
        return (self.indices[i] for i in self.generator.permutation(len(self.indices)))

    def __len__(self) -> int:
        return len(self.indices)


class WeightedRandomSampler(Sampler):
    """``num_samples`` indices drawn with probabilities proportional to ``weights``.

    Use it to rebalance classes: weight each sample by ``1 / count(its class)``.

    Parameters
    ----------
    weights : sequence of float
        Non-negative weight of each index (need not sum to 1), not all zero.
    num_samples : int
        Indices per pass.
    replacement : bool
        Draw with replacement (default); without, ``num_samples <= len(weights)`` and
        indices are distinct within a pass.
    generator : numpy.random.Generator or int, optional
        Random stream or seed, as in :class:`RandomSampler`.
    """

    def __init__(
        self,
        weights: Sequence[float],
        num_samples: int,
        replacement: bool = True,
        generator: np.random.Generator | int | None = None,
    ) -> None:
        name = "WeightedRandomSampler"
        weights = np.asarray(weights, dtype=np.float64)
        if weights.ndim != 1 or not np.isfinite(weights).all() or (weights < 0).any():
            raise ValueError(f"{name}: weights must be a 1-D array of finite values >= 0")
        if weights.sum() <= 0:
            raise ValueError(f"{name}: weights sum to {weights.sum()}, expected a positive sum")
        _positive_int("num_samples", num_samples, name)
        if not replacement and num_samples > np.count_nonzero(weights):
            raise ValueError(
                f"{name}: num_samples={num_samples} > {np.count_nonzero(weights)} indices with "
                "non-zero weight needs replacement=True"
            )
        self.weights = weights
        self.num_samples = int(num_samples)
        self.replacement = replacement
        self.generator = np.random.default_rng(generator)

    def __iter__(self) -> Iterator[int]:
        p = self.weights / self.weights.sum()
        draws = self.generator.choice(p.size, self.num_samples, self.replacement, p)
        return iter(draws.tolist())

    def __len__(self) -> int:
        return self.num_samples


class BatchSampler(Sampler):
    """Group the indices of ``sampler`` into lists of ``batch_size`` (the last may be short)."""

    def __init__(self, sampler: Iterable[int], batch_size: int, drop_last: bool) -> None:
        _positive_int("batch_size", batch_size, "BatchSampler")
        self.sampler = sampler
        self.batch_size = int(batch_size)
        self.drop_last = drop_last

    def __iter__(self) -> Iterator[list[int]]:
        batch: list[int] = []
        for index in self.sampler:
            batch.append(int(index))
            if len(batch) == self.batch_size:
                yield batch
                batch = []
        if batch and not self.drop_last:
            yield batch

    def __len__(self) -> int:
        n = len(self.sampler)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)


class BucketBatchSampler(Sampler):
    """Batches of indices of similar length, shuffled, each index once per epoch.

    Per epoch: the indices are shuffled (seeded by ``(seed, epoch)``), cut into pools of
    ``batch_size * bucket_size_multiplier`` indices, each pool is sorted by length, the pools are
    cut into batches (``batch_size`` indices, and/or at most ``max_tokens`` padded positions,
    i.e. ``len(batch) * max length in batch``), and the batch order is shuffled. Replica ``rank``
    of ``num_replicas`` takes every ``num_replicas``-th batch.

    Every index appears exactly once per epoch over all replicas, except that (as with
    ``torch.utils.data.DistributedSampler``) when the number of batches is not a multiple of
    ``num_replicas`` the first batches are repeated to make it one, so every replica runs the
    same number of steps (``drop_last=True`` drops the extra batches instead, and also the short
    last batch in ``batch_size`` mode).

    Parameters
    ----------
    lengths : array of int
        Length of every sequence of the dataset.
    batch_size : int, optional
        Sequences per batch (the last batch may be shorter).
    max_tokens : int, optional
        Cap on padded positions per batch; with it batches hold many short or few long
        sequences. One of ``batch_size``/``max_tokens`` is required; both may be given.
    shuffle : bool
        Shuffle indices before pooling and batches after. ``False``: pools in index order,
        batches in pool order.
    drop_last : bool
        See above.
    seed : int
        Base seed; the epoch's stream is derived from ``(seed, epoch)``, identical on every
        replica.
    num_replicas, rank : int, optional
        Data-parallel world size and this replica's rank; default: the
        :mod:`biotorch.distributed` process group's (1 and 0 without one).
    bucket_size_multiplier : int
        Pool size in batches; larger pools give tighter buckets but less random batches. In
        ``max_tokens``-only mode the pool holds ``bucket_size_multiplier * max_tokens`` tokens'
        worth of sequences of the mean length.

    Examples
    --------
    >>> sampler = BucketBatchSampler([5, 50, 7, 48, 6, 52], batch_size=2, seed=1)
    >>> sorted(len(set(b)) for b in sampler)
    [2, 2, 2]
    """

    def __init__(
        self,
        lengths: Any,
        batch_size: int | None = None,
        max_tokens: int | None = None,
        shuffle: bool = True,
        drop_last: bool = False,
        seed: int = 0,
        num_replicas: int | None = None,
        rank: int | None = None,
        bucket_size_multiplier: int = 100,
    ) -> None:
        name = "BucketBatchSampler"
        lengths = np.asarray(lengths)
        if lengths.ndim != 1 or (lengths.size and lengths.dtype.kind not in "iu"):
            raise ValueError(f"{name}: lengths must be a 1-D array of integers, got {lengths!r}")
        if lengths.size and lengths.min() < 0:
            raise ValueError(f"{name}: lengths has negative value {int(lengths.min())}")
        if batch_size is None and max_tokens is None:
            raise ValueError(f"{name}: give batch_size, max_tokens or both; got neither")
        _positive_int("batch_size", batch_size, name, allow_none=True)
        _positive_int("max_tokens", max_tokens, name, allow_none=True)
        num_replicas, rank = _replicas(num_replicas, rank, name)
        _positive_int("bucket_size_multiplier", bucket_size_multiplier, name)
        if max_tokens is not None and lengths.size and lengths.max() > max_tokens:
            i = int(np.argmax(lengths))
            raise ValueError(
                f"{name}: sequence {i} has length {int(lengths[i])} > max_tokens={max_tokens}; "
                "raise max_tokens or filter long sequences out"
            )
        self.lengths = lengths.astype(np.int64)
        self.batch_size = batch_size
        self.max_tokens = max_tokens
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.seed = seed
        self.num_replicas = int(num_replicas)
        self.rank = int(rank)
        self.bucket_size_multiplier = bucket_size_multiplier
        self.epoch = 0
        self._cache: tuple[int, list[np.ndarray]] | None = None

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch whose shuffle the next ``__iter__`` uses (call before each epoch)."""
        self.epoch = int(epoch)

    def _pool_size(self) -> int:
        if self.batch_size is not None:
            return self.batch_size * self.bucket_size_multiplier
        mean = max(float(self.lengths.mean()), 1.0) if self.lengths.size else 1.0
        return max(1, int(self.bucket_size_multiplier * self.max_tokens / mean))

    def _cut(self, order: np.ndarray) -> list[np.ndarray]:
        """Cut indices sorted by length (within pools) into batches."""
        if self.max_tokens is None:
            return [order[i : i + self.batch_size] for i in range(0, order.size, self.batch_size)]
        cap = self.batch_size or order.size
        lengths = self.lengths[order]
        batches, start, longest = [], 0, 0
        for i, n in enumerate(lengths.tolist()):
            longest = max(longest, n)
            if i - start == cap or (i - start + 1) * longest > self.max_tokens:
                batches.append(order[start:i])
                start, longest = i, n
        if start < order.size:
            batches.append(order[start:])
        return batches

    def _all_batches(self) -> list[np.ndarray]:
        """This epoch's batches for every replica, before the replica split."""
        rng = np.random.default_rng([self.seed, self.epoch])
        n = self.lengths.size
        order = rng.permutation(n) if self.shuffle else np.arange(n)
        pool = self._pool_size()
        pools = [order[i : i + pool] for i in range(0, n, pool)]
        order = np.concatenate(
            [p[np.argsort(self.lengths[p], kind="stable")] for p in pools] or [order]
        )
        batches = self._cut(order)
        if self.drop_last and self.max_tokens is None and batches:
            if batches[-1].size < self.batch_size:
                batches.pop()
        if self.shuffle:
            batches = [batches[i] for i in rng.permutation(len(batches))]
        return batches

    def _batches(self) -> list[np.ndarray]:
        if self._cache is None or self._cache[0] != self.epoch:
            batches = self._all_batches()
            extra = -len(batches) % self.num_replicas
            if self.drop_last:
                batches = batches[: len(batches) - (len(batches) % self.num_replicas)]
            elif batches:
                batches = batches + [batches[i % len(batches)] for i in range(extra)]
            self._cache = (self.epoch, batches[self.rank :: self.num_replicas])
        return self._cache[1]

    def __iter__(self) -> Iterator[list[int]]:
        return (batch.tolist() for batch in self._batches())

    def __len__(self) -> int:
        """Number of batches this replica yields in the current epoch."""
        return len(self._batches())

    def padding_efficiency(self) -> float:
        """Real tokens / padded positions over this replica's batches of the current epoch."""
        batches = self._batches()
        real = sum(int(self.lengths[b].sum()) for b in batches)
        padded = sum(b.size * int(self.lengths[b].max()) for b in batches if b.size)
        return real / padded if padded else 1.0


class DistributedSampler(Sampler):
    """This rank's share of the dataset's indices, as ``torch.utils.data.DistributedSampler``.

    Per epoch the indices are permuted (seeded by ``(seed, epoch)``, the same on every rank;
    call :meth:`set_epoch` before each epoch, or let the DataLoader do it), padded by repeating
    the first ones to a multiple of ``num_replicas`` (or, with ``drop_last``, cut down to one),
    and rank ``r`` takes positions ``r, r + num_replicas, ...``. Every rank gets
    ``len(self)`` indices, so every rank runs the same number of steps.

    Use it for map-style datasets, e.g. a :class:`~biotorch.data.GenomeWindowSampler` (whose
    windows depend only on its seed and epoch, hence agree across ranks).
    """

    def __init__(
        self,
        dataset: Sized,
        num_replicas: int | None = None,
        rank: int | None = None,
        shuffle: bool = True,
        seed: int = 0,
        drop_last: bool = False,
    ) -> None:
        self.num_replicas, self.rank = _replicas(num_replicas, rank, "DistributedSampler")
        self.dataset = dataset
        self.shuffle, self.seed, self.drop_last = shuffle, int(seed), drop_last
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch whose permutation the next ``__iter__`` uses."""
        self.epoch = int(epoch)

    @property
    def num_samples(self) -> int:
        n = len(self.dataset)
        return n // self.num_replicas if self.drop_last else -(-n // self.num_replicas)

    def __iter__(self) -> Iterator[int]:
        n = len(self.dataset)
        order = np.random.default_rng([self.seed, self.epoch]).permutation(n)
        order = order if self.shuffle else np.arange(n)
        total = self.num_samples * self.num_replicas
        order = np.resize(order, total) if n else order  # np.resize repeats from the start
        return iter(order[self.rank : total : self.num_replicas].tolist())

    def __len__(self) -> int:
        return self.num_samples


class DistributedBatchSampler(Sampler):
    """This rank's share of the batches of ``batch_sampler``, the same count on every rank.

    Rank ``r`` takes batches ``r, r + num_replicas, ...``; when the number of batches is not
    a multiple of ``num_replicas`` the first batches are repeated to make it one (``drop_last``
    drops the extra batches instead), so every rank runs ``len(self)`` steps: unequal counts
    would leave a rank waiting in an allreduce. ``batch_sampler`` must yield the same batches
    on every rank (seed it identically); ``set_epoch`` is passed on to it.
    :class:`BucketBatchSampler` shards itself through its ``num_replicas``/``rank``.
    """

    def __init__(
        self,
        batch_sampler: Any,
        num_replicas: int | None = None,
        rank: int | None = None,
        drop_last: bool = False,
    ) -> None:
        self.num_replicas, self.rank = _replicas(num_replicas, rank, "DistributedBatchSampler")
        self.batch_sampler, self.drop_last = batch_sampler, drop_last

    def set_epoch(self, epoch: int) -> None:
        if hasattr(self.batch_sampler, "set_epoch"):
            self.batch_sampler.set_epoch(epoch)

    def __iter__(self) -> Iterator[list[int]]:
        batches = [list(b) for b in self.batch_sampler]
        if self.drop_last:
            batches = batches[: len(batches) - len(batches) % self.num_replicas]
        elif batches:
            batches += [batches[i % len(batches)] for i in range(-len(batches) % self.num_replicas)]
        return iter(batches[self.rank :: self.num_replicas])

    def __len__(self) -> int:
        n = len(self.batch_sampler)
        return n // self.num_replicas if self.drop_last else -(-n // self.num_replicas)
