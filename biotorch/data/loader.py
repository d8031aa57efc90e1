"""``DataLoader``: batches of biotorch Tensors from a dataset, in one or several processes.

Semantics follow ``torch.utils.data.DataLoader``. Differences worth knowing:

- Randomness is reproducible by default: the loader has a base ``seed`` (drawn once from
  ``generator`` or fresh entropy when neither is given). Epoch ``e`` shuffles with a stream
  derived from ``(seed, e)`` and worker ``w`` draws from ``(seed, e, w)`` (via
  ``numpy.random.SeedSequence``); datasets reach their stream through ``current_rng()``. Each
  new iteration advances the epoch by one; :meth:`DataLoader.set_epoch` sets it explicitly and is
  forwarded to the sampler, batch sampler and dataset when they have ``set_epoch``.
- Workers (``num_workers > 0``) are processes from ``multiprocessing_context`` (default: the
  platform default, ``fork`` on Linux before Python 3.14). The loader is spawn-safe: with
  ``"spawn"``/``"forkserver"`` the dataset, ``collate_fn`` and ``worker_init_fn`` must be picklable.
  Workers collate NumPy arrays; the main process turns them into Tensors, so batches come out in
  sampler order and equal what ``num_workers=0`` returns.
- Any worker failure (an exception, a worker that died, a ``timeout``) shuts every worker down,
  persistent or not, and ends the iteration; the next ``iter(loader)`` starts fresh workers.
  Exceptions that cannot be pickled, or rebuilt, still arrive (as ``RuntimeError`` with the
  worker's traceback). Leaving a loop early stops the workers at once.
- An iterator may be shared by threads: each batch goes to exactly one of them, in order. With
  ``persistent_workers=True`` only the newest iterator of a loader yields batches.
- ``pin_memory`` is accepted for PyTorch compatibility and has no effect.
"""

from __future__ import annotations

import dataclasses
import itertools
import multiprocessing as mp
import multiprocessing.queues
import os
import pickle
import queue
import random
import signal
import threading
import time
import traceback
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np

import biotorch
from biotorch.data.datasets import (
    IterableDataset,
    WorkerInfo,
    _set_worker_info,
    get_worker_info,
    worker_seed_sequence,
)
from biotorch.data.samplers import BatchSampler, RandomSampler, SequentialSampler

__all__ = ["DataLoader", "default_collate", "get_worker_info"]

_POLL_S = 0.1  # how often waits check worker liveness, timeouts and shutdown
_JOIN_S = 0.5  # how long shutdown waits for a worker before terminating it


def default_collate(batch: Sequence[Any]) -> Any:
    """Stack a list of samples into a batch of NumPy arrays, keeping the sample's structure.

    Arrays of equal shape are stacked on a new first axis; numbers become a 1-d array; strings
    and bytes stay a list; tuples, named tuples, lists and dicts are collated field by field.
    Variable-length arrays raise: pad them with a padding collate function instead.
    """
    elem = batch[0]
    if isinstance(elem, np.ndarray):
        shapes = sorted({a.shape for a in batch})
        if len(shapes) > 1:
            raise ValueError(
                f"default_collate: samples have different shapes {shapes[:4]}; variable-length "
                "sequences need a padding collate_fn (see biotorch.data.batching)"
            )
        return np.stack(batch)
    if isinstance(elem, (bool, int, float, np.generic)):
        return np.asarray(batch)
    if isinstance(elem, (str, bytes)) or elem is None:
        return list(batch)
    if isinstance(elem, Mapping):
        return type(elem)({k: default_collate([d[k] for d in batch]) for k in elem})
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):
        return type(elem)(*(default_collate(list(f)) for f in zip(*batch, strict=True)))
    if isinstance(elem, (tuple, list)):
        if len({len(s) for s in batch}) > 1:
            raise ValueError("default_collate: samples are sequences of different lengths")
        fields = [default_collate(list(f)) for f in zip(*batch, strict=True)]
        return tuple(fields) if isinstance(elem, tuple) else fields
    raise TypeError(
        f"default_collate: cannot collate samples of type {type(elem).__name__}; expected NumPy "
        "arrays, numbers, strings, or tuples/lists/dicts of them"
    )


def _to_tensors(obj: Any, device: Any) -> Any:
    """Turn every numeric NumPy array inside ``obj`` into a Tensor (on ``device`` if given)."""
    if isinstance(obj, np.ndarray):
        if obj.dtype.kind not in "biuf":
            return obj
        t = biotorch.from_numpy(np.ascontiguousarray(obj))
        return t.to(device) if device is not None else t
    if isinstance(obj, Mapping):
        return type(obj)({k: _to_tensors(v, device) for k, v in obj.items()})
    if isinstance(obj, tuple) and hasattr(obj, "_fields"):
        return type(obj)(*(_to_tensors(v, device) for v in obj))
    if isinstance(obj, (tuple, list)):
        return type(obj)(_to_tensors(v, device) for v in obj)
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        fields = {
            f.name: _to_tensors(getattr(obj, f.name), device) for f in dataclasses.fields(obj)
        }
        return dataclasses.replace(obj, **fields)
    return obj


class _Exhausted:
    """Sent by a worker whose iterable dataset has no more batches."""


class _KeyErrorMessage(str):
    """A KeyError's message shown as written (``str(KeyError)`` otherwise shows its repr)."""

    def __repr__(self) -> str:
        return str(self)


class _WorkerError:
    """A worker's exception as picklable text, so the main process always receives it.

    Carries the exception's type name, its formatted traceback and, when it can be pickled, the
    type itself (unpickled only in :meth:`exception`, so a type the main process cannot import
    costs nothing but the type). :meth:`exception` rebuilds the original type with the
    traceback text as message, or gives a ``RuntimeError`` carrying that text.
    """

    def __init__(self, exc: BaseException, note: str = "") -> None:
        self.type_name = type(exc).__name__
        self.note = note
        self.traceback = "".join(traceback.format_exception(exc))
        try:
            self.pickled_type: bytes | None = pickle.dumps(type(exc))
        except Exception:
            self.pickled_type = None

    def exception(self, worker_id: int) -> BaseException:
        message = (
            f"Caught {self.type_name} in DataLoader worker process {worker_id}.\n"
            f"{self.note}Original {self.traceback}"
        )
        if self.pickled_type is not None:
            try:
                exc_type = pickle.loads(self.pickled_type)
                return exc_type(_KeyErrorMessage(message) if exc_type is KeyError else message)
            except Exception:
                pass
        return RuntimeError(message)


class _ResultQueue(mp.queues.Queue):
    """Worker-to-main queue: a result that cannot be pickled is replaced by its error.

    ``multiprocessing.Queue`` pickles in a background thread, where a failure would only be
    printed and the main process would wait forever for the lost result.
    """

    def _on_queue_feeder_error(self, e: Exception, obj: Any) -> None:
        iteration, task, _ = obj
        note = "The worker's result could not be pickled to send it to the main process.\n"
        self.put((iteration, task, _WorkerError(e, note)))


class _Fetcher:
    """Turns a task (a list of indices, or "next batch" for iterable datasets) into a batch."""

    def __init__(
        self,
        dataset: Any,
        is_iterable: bool,
        auto_collation: bool,
        batch_size: int | None,
        drop_last: bool,
        collate_fn: Callable[[Any], Any],
    ) -> None:
        self.dataset = dataset
        self.is_iterable = is_iterable
        self.auto_collation = auto_collation
        self.batch_size = batch_size
        self.drop_last = drop_last
        self.collate_fn = collate_fn
        self._it: Iterator[Any] | None = None

    def reset(self) -> None:
        self._it = iter(self.dataset) if self.is_iterable else None

    def fetch(self, indices: Any) -> Any:
        """A collated batch; raises ``StopIteration`` when an iterable dataset is exhausted."""
        if not self.is_iterable:
            if not self.auto_collation:
                return self.collate_fn(self.dataset[indices])
            return self.collate_fn([self.dataset[i] for i in indices])
        if self.batch_size is None:
            return self.collate_fn(next(self._it))
        samples = list(itertools.islice(self._it, self.batch_size))
        if not samples or (self.drop_last and len(samples) < self.batch_size):
            raise StopIteration
        return self.collate_fn(samples)


def _enter_epoch(
    fetcher: _Fetcher, seed: int, epoch: int, worker_id: int, num_workers: int, in_worker: bool
) -> WorkerInfo:
    """Seed worker ``worker_id``'s streams for ``epoch`` and restart its dataset iterator."""
    ss = worker_seed_sequence(seed, epoch, worker_id)
    rng = np.random.Generator(np.random.PCG64(ss))
    if in_worker:
        legacy, py = ss.generate_state(2, dtype=np.uint32)
        np.random.seed(int(legacy))
        random.seed(int(py))
    info = WorkerInfo(worker_id, num_workers, seed, epoch, fetcher.dataset, rng)
    _set_worker_info(info, in_worker)
    if hasattr(fetcher.dataset, "set_epoch"):
        fetcher.dataset.set_epoch(epoch)
    fetcher.reset()
    return info


def _worker_loop(
    worker_id: int,
    num_workers: int,
    seed: int,
    first_epoch: int,
    first_iteration: int,
    fetcher: _Fetcher,
    worker_init_fn: Callable[[int], None] | None,
    index_queue: Any,
    result_queue: Any,
    done_event: Any,
) -> None:
    """Body of a worker process: fetch the batches named on ``index_queue``.

    Stops at ``None`` or when its parent process is gone. Once ``done_event`` is set it skips
    the work but still reads its queue up to the final ``None``, so that the main process's
    queue feeder thread can flush and exit. Streams are seeded for ``first_epoch`` before
    ``worker_init_fn`` runs, and re-seeded only when a later iteration (epoch) of a persistent
    pool starts.
    """
    parent = os.getppid()
    init_error = None
    try:
        _enter_epoch(fetcher, seed, first_epoch, worker_id, num_workers, in_worker=True)
        if worker_init_fn is not None:
            worker_init_fn(worker_id)
    except Exception as exc:
        init_error = _WorkerError(exc)
    current = first_iteration
    while os.getppid() == parent:
        try:
            msg = index_queue.get(timeout=_POLL_S)
        except (queue.Empty, KeyboardInterrupt):
            continue
        if msg is None:
            break
        if done_event.is_set():
            continue
        iteration, task, epoch, indices = msg
        if init_error is not None:
            result_queue.put((iteration, task, init_error))
            continue
        try:
            if iteration != current:
                current = iteration
                _enter_epoch(fetcher, seed, epoch, worker_id, num_workers, in_worker=True)
            result: Any = fetcher.fetch(indices)
        except StopIteration:
            result = _Exhausted()
        except Exception as exc:
            result = _WorkerError(exc)
        result_queue.put((iteration, task, result))
    # Results still buffered are unwanted now; do not wait for the main process to read them.
    result_queue.cancel_join_thread()


def _shutdown_workers(
    processes: list[Any], index_queues: list[Any], result_queue: Any, done_event: Any
) -> None:
    """Stop the workers promptly: signal, join briefly, then terminate (kill) stragglers."""
    done_event.set()
    for q in index_queues:
        try:
            q.put(None)
        except (OSError, ValueError):
            pass
    deadline = time.monotonic() + _JOIN_S
    for p in processes:
        p.join(timeout=max(0.0, deadline - time.monotonic()))
    for stop in ("terminate", "kill"):
        stragglers = [p for p in processes if p.is_alive()]
        for p in stragglers:
            getattr(p, stop)()
        for p in stragglers:
            p.join(timeout=_JOIN_S)
    for p, q in zip(processes, index_queues, strict=True):
        if p.exitcode != 0:  # stopped before reading up to its None: read the rest here
            _drain(q)
    for q in [*index_queues, result_queue]:
        q.cancel_join_thread()
        q.close()


def _drain(index_queue: Any) -> None:
    """Read ``index_queue`` up to the final ``None``, so that its feeder thread can exit."""
    try:
        while index_queue.get(timeout=_POLL_S) is not None:
            pass
    except (queue.Empty, OSError, ValueError):
        pass


def _exit_description(exitcode: int | None) -> str:
    """How a process ended: "exit code N" or "signal NAME"."""
    if exitcode is not None and exitcode < 0:
        try:
            return f"signal {signal.Signals(-exitcode).name}"
        except ValueError:
            return f"signal {-exitcode}"
    return f"exit code {exitcode}"


class _WorkerPool:
    """``num_workers`` worker processes with one index queue each and a shared result queue."""

    def __init__(self, loader: DataLoader, epoch: int, iteration: int) -> None:
        ctx = loader.multiprocessing_context
        if ctx is None or isinstance(ctx, str):
            ctx = mp.get_context(ctx)
        self.result_queue = _ResultQueue(ctx=ctx)
        self.index_queues = [ctx.Queue() for _ in range(loader.num_workers)]
        self.done_event = ctx.Event()
        self.owner = iteration  # the iteration allowed to read results (the newest)
        self.processes = []
        for wid, iq in enumerate(self.index_queues):
            p = ctx.Process(
                target=_worker_loop,
                args=(
                    wid,
                    loader.num_workers,
                    loader.seed,
                    epoch,
                    iteration,
                    loader._make_fetcher(),
                    loader.worker_init_fn,
                    iq,
                    self.result_queue,
                    self.done_event,
                ),
                daemon=True,
            )
            p.start()
            self.processes.append(p)
        self._finalizer = weakref.finalize(
            self,
            _shutdown_workers,
            self.processes,
            self.index_queues,
            self.result_queue,
            self.done_event,
        )

    def get(self, timeout: float) -> Any:
        """The next result; polls so that a dead worker or a ``timeout`` (> 0) is noticed."""
        start = time.monotonic()
        while True:
            wait = _POLL_S if timeout <= 0 else min(_POLL_S, timeout - (time.monotonic() - start))
            try:
                return self.result_queue.get(timeout=max(wait, 0.0))
            except queue.Empty:
                pass
            except Exception as exc:
                self.shutdown()
                raise RuntimeError(
                    "DataLoader: a worker sent a result that cannot be unpickled in the main "
                    f"process ({type(exc).__name__}: {exc})"
                ) from exc
            for wid, p in enumerate(self.processes):
                if not p.is_alive():
                    self.shutdown()
                    raise RuntimeError(
                        f"DataLoader worker {wid} (pid {p.pid}) exited unexpectedly with "
                        f"{_exit_description(p.exitcode)}"
                    )
            if timeout > 0 and time.monotonic() - start >= timeout:
                self.shutdown()
                raise RuntimeError(f"DataLoader timed out after {timeout} seconds")

    @property
    def alive(self) -> bool:
        """Whether the pool has not been shut down."""
        return self._finalizer.alive

    def shutdown(self) -> None:
        self._finalizer()


class _MultiProcessIter:
    """One epoch of batches from a worker pool, returned in task order.

    Any error (from a worker, a dead worker, a timeout) shuts the pool down, persistent or not,
    and ends the iteration: later calls raise ``StopIteration``.
    """

    def __init__(
        self,
        loader: DataLoader,
        pool: _WorkerPool,
        epoch: int,
        iteration: int,
        tasks: Iterator[Any] | None,
    ) -> None:
        self.loader = loader
        self.pool = pool
        self.epoch = epoch
        self.iteration = iteration
        self.tasks = tasks  # None: iterable dataset, every task is "next batch"
        self.active = list(range(loader.num_workers))
        self.worker_of: dict[int, int] = {}
        self.buffer: dict[int, Any] = {}
        self.sent = 0
        self.next_task = 0
        self.exhausted = False
        self.finished = False
        pool.owner = iteration
        for _ in range(loader.prefetch_factor * loader.num_workers):
            self._send()

    def _send(self) -> None:
        if self.exhausted or not self.active:
            return
        if self.tasks is None:
            indices = None
        else:
            try:
                indices = next(self.tasks)
            except StopIteration:
                self.exhausted = True
                return
        wid = self.active[self.sent % len(self.active)]
        self.worker_of[self.sent] = wid
        self.pool.index_queues[wid].put((self.iteration, self.sent, self.epoch, indices))
        self.sent += 1

    def __iter__(self) -> _MultiProcessIter:
        return self

    def __next__(self) -> Any:
        if self.finished:
            raise StopIteration
        if self.pool.owner != self.iteration:
            self.finished = True
            raise RuntimeError(
                "DataLoader: this iterator was superseded by a newer iter(loader); with "
                "persistent_workers=True only the newest iterator of a loader yields batches"
            )
        try:
            return self._next_batch()
        except StopIteration:
            raise
        except BaseException:
            self.finished = True
            self.pool.shutdown()
            raise

    def _next_batch(self) -> Any:
        while True:
            if self.next_task >= self.sent:
                self.finished = True
                self._finish()
                raise StopIteration
            while self.next_task not in self.buffer:
                iteration, task, result = self.pool.get(self.loader.timeout)
                if iteration == self.iteration:
                    self.buffer[task] = result
            result = self.buffer.pop(self.next_task)
            wid = self.worker_of.pop(self.next_task)
            self.next_task += 1
            if isinstance(result, _Exhausted):
                if wid in self.active:
                    self.active.remove(wid)
                continue
            if isinstance(result, _WorkerError):
                raise result.exception(wid)
            self._send()
            return _to_tensors(result, self.loader.device)

    def _finish(self) -> None:
        if not self.loader.persistent_workers:
            self.pool.shutdown()

    def __del__(self) -> None:
        self._finish()


class _Locked:
    """An iterator that several threads can share: each item goes to exactly one caller."""

    def __init__(self, inner: Iterator[Any]) -> None:
        self.inner = inner
        self._lock = threading.Lock()

    def __iter__(self) -> _Locked:
        return self

    def __next__(self) -> Any:
        with self._lock:
            return next(self.inner)


class DataLoader:
    """Batches of biotorch Tensors from a dataset (``torch.utils.data.DataLoader`` semantics).

    Parameters
    ----------
    dataset : Dataset or IterableDataset
        Where the samples come from.
    batch_size : int or None
        Samples per batch; ``None`` turns automatic batching off.
    shuffle : bool
        Shuffle the indices every epoch (map-style datasets only).
    sampler, batch_sampler : iterable, optional
        Custom order of indices, or of lists of indices (exclusive with batch_size/shuffle/
        sampler/drop_last).
    num_workers : int
        Worker processes; 0 loads in the main process.
    collate_fn : callable, optional
        Merges a list of samples into a batch of NumPy arrays; default :func:`default_collate`.
    pin_memory : bool
        Accepted for PyTorch compatibility; no effect.
    drop_last : bool
        Drop the last incomplete batch.
    timeout : float
        Seconds to wait for a batch from the workers (0: forever); then a ``RuntimeError`` is
        raised and the workers are stopped.
    worker_init_fn : callable, optional
        Called with the worker id in each worker after its streams are seeded.
    generator : numpy.random.Generator, optional
        Draws the base ``seed`` when ``seed`` is not given.
    prefetch_factor : int or None
        Batches loaded in advance per worker (default 2 with workers).
    persistent_workers : bool
        Keep the workers alive across epochs.
    device : str or Device, optional
        Move every batch there (``Tensor.to(device)``).
    seed : int, optional
        Base seed of shuffling and of the per-worker streams.
    multiprocessing_context : str or context, optional
        ``"fork"``, ``"spawn"`` or ``"forkserver"``; default the platform's.

    Examples
    --------
    >>> loader = DataLoader(ds, batch_size=64, shuffle=True, num_workers=2, seed=0)
    >>> for x, y in loader:
    ...     loss = model(x, y)
    """

    def __init__(
        self,
        dataset: Any,
        batch_size: int | None = 1,
        shuffle: bool = False,
        sampler: Iterable[int] | None = None,
        batch_sampler: Iterable[Sequence[int]] | None = None,
        num_workers: int = 0,
        collate_fn: Callable[[Any], Any] | None = None,
        pin_memory: bool = False,
        drop_last: bool = False,
        timeout: float = 0,
        worker_init_fn: Callable[[int], None] | None = None,
        generator: np.random.Generator | None = None,
        prefetch_factor: int | None = None,
        persistent_workers: bool = False,
        device: Any = None,
        seed: int | None = None,
        multiprocessing_context: Any = None,
    ) -> None:
        self._check_args(
            dataset, batch_size, shuffle, sampler, batch_sampler, num_workers, drop_last, timeout
        )
        if prefetch_factor is not None and (num_workers == 0 or prefetch_factor < 1):
            raise ValueError(
                f"DataLoader: prefetch_factor={prefetch_factor!r}, expected None or, with "
                "num_workers > 0, an int >= 1"
            )
        if persistent_workers and num_workers == 0:
            raise ValueError("DataLoader: persistent_workers=True needs num_workers > 0")
        self.dataset = dataset
        self.is_iterable = isinstance(dataset, IterableDataset)
        self.num_workers = num_workers
        self.prefetch_factor = 2 if prefetch_factor is None else prefetch_factor
        self.pin_memory = pin_memory
        self.timeout = timeout
        self.worker_init_fn = worker_init_fn
        self.persistent_workers = persistent_workers
        self.device = device
        self.multiprocessing_context = multiprocessing_context
        if seed is None:
            seed = int((generator or np.random.default_rng()).integers(2**63))
        self.seed = int(seed)
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.sampler = sampler
        if batch_sampler is not None:
            self.batch_size = None
            self.batch_sampler = batch_sampler
        else:
            self.batch_size = batch_size
            self.batch_sampler = None
        self.collate_fn = collate_fn or (default_collate if self._auto_collation else _identity)
        self._epoch = 0
        self._pool: _WorkerPool | None = None
        self._iteration_counter = itertools.count()

    @staticmethod
    def _check_args(
        dataset: Any,
        batch_size: int | None,
        shuffle: bool,
        sampler: Any,
        batch_sampler: Any,
        num_workers: int,
        drop_last: bool,
        timeout: float,
    ) -> None:
        def bad(msg: str) -> ValueError:
            return ValueError(f"DataLoader: {msg}")

        if not isinstance(num_workers, int) or num_workers < 0:
            raise bad(f"num_workers={num_workers!r}, expected an int >= 0")
        if timeout < 0:
            raise bad(f"timeout={timeout!r}, expected >= 0")
        if batch_size is not None and (not isinstance(batch_size, int) or batch_size < 1):
            raise bad(f"batch_size={batch_size!r}, expected a positive int or None")
        if isinstance(dataset, IterableDataset):
            named = {"shuffle": shuffle, "sampler": sampler, "batch_sampler": batch_sampler}
            for name, value in named.items():
                if value:
                    raise bad(f"{name}={value!r} is not allowed with an IterableDataset")
        if batch_sampler is not None and (
            batch_size != 1 or shuffle or sampler is not None or drop_last
        ):
            raise bad("batch_sampler is exclusive with batch_size, shuffle, sampler and drop_last")
        if sampler is not None and shuffle:
            raise bad("sampler is mutually exclusive with shuffle")
        if batch_size is None and drop_last:
            raise bad("drop_last=True needs a batch_size")

    @property
    def _auto_collation(self) -> bool:
        return self.batch_sampler is not None or self.batch_size is not None

    def set_epoch(self, epoch: int) -> None:
        """Use ``epoch`` for the next iteration (shuffle order and worker streams)."""
        self._epoch = int(epoch)

    def _make_fetcher(self) -> _Fetcher:
        return _Fetcher(
            self.dataset,
            self.is_iterable,
            self._auto_collation,
            self.batch_size,
            self.drop_last,
            self.collate_fn,
        )

    def _index_tasks(self, epoch: int) -> Iterator[Any]:
        """This epoch's tasks: lists of indices (auto-collation) or single indices."""
        for obj in (self.sampler, self.batch_sampler):
            if hasattr(obj, "set_epoch"):
                obj.set_epoch(epoch)
        if self.batch_sampler is not None:
            return iter(self.batch_sampler)
        sampler = self.sampler
        if sampler is None:
            if self.shuffle:
                ss = np.random.SeedSequence(entropy=self.seed, spawn_key=(epoch, 1))
                sampler = RandomSampler(self.dataset, generator=np.random.default_rng(ss))
            else:
                sampler = SequentialSampler(self.dataset)
        if self.batch_size is None:
            return iter(sampler)
        return iter(BatchSampler(sampler, self.batch_size, self.drop_last))

    def __iter__(self) -> Iterator[Any]:
        epoch = self._epoch
        self._epoch += 1
        tasks = None if self.is_iterable else self._index_tasks(epoch)
        if self.num_workers == 0:
            return _Locked(self._single_process_iter(epoch, tasks))
        iteration = next(self._iteration_counter)
        pool = self._pool
        if pool is None or not pool.alive:
            pool = _WorkerPool(self, epoch, iteration)
            if self.persistent_workers:
                self._pool = pool
        return _Locked(_MultiProcessIter(self, pool, epoch, iteration, tasks))

    def _single_process_iter(self, epoch: int, tasks: Iterator[Any] | None) -> Iterator[Any]:
        fetcher = self._make_fetcher()
        info = _enter_epoch(fetcher, self.seed, epoch, 0, 1, in_worker=False)
        _set_worker_info(None, in_worker=False)
        for indices in tasks if tasks is not None else itertools.repeat(None):
            _set_worker_info(info, in_worker=False)
            try:
                batch = fetcher.fetch(indices)
            except StopIteration:
                return
            finally:
                _set_worker_info(None, in_worker=False)
            yield _to_tensors(batch, self.device)

    def __len__(self) -> int:
        if self.is_iterable:
            raise TypeError("DataLoader: len() is undefined for an IterableDataset")
        if self.batch_sampler is not None:
            return len(self.batch_sampler)
        n = len(self.sampler) if self.sampler is not None else len(self.dataset)
        if self.batch_size is None:
            return n
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def __del__(self) -> None:
        if getattr(self, "_pool", None) is not None:
            self._pool.shutdown()


def _identity(x: Any) -> Any:
    return x
