import multiprocessing as mp
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from genomic_files import write_fasta

import biotorch
from biotorch.data import (
    Batch,
    DataLoader,
    Dataset,
    FastaDataset,
    IterableDataset,
    collate_sequences,
    current_rng,
    get_worker_info,
)


class Draws(Dataset):
    """Sample i: (i, worker id, pid, a draw from the worker's stream)."""

    def __len__(self) -> int:
        return 12

    def __getitem__(self, i: int):
        info = get_worker_info()
        wid = -1 if info is None else info.id
        return np.array([i, wid, os.getpid(), current_rng().integers(2**31)])


class Failing(Dataset):
    def __len__(self) -> int:
        return 8

    def __getitem__(self, i: int):
        if i == 5:
            raise KeyError(f"no sample {i}")
        return np.zeros(2)


class Stream(IterableDataset):
    def __iter__(self):
        info = get_worker_info()
        shard = range(10) if info is None else range(info.id, 10, info.num_workers)
        return (np.array([i]) for i in shard)


def rows(loader):
    return [b.numpy().tolist() for b in loader]


@pytest.fixture
def fasta(tmp_path):
    rng = np.random.default_rng(0)
    records = {
        f"s{i} label={'ab'[i % 2]}": "".join(rng.choice(list("ACGTN"), int(rng.integers(3, 30))))
        for i in range(37)
    }
    return write_fasta(tmp_path / "seqs.fa", records)


def test_default_collate_gives_tensors_and_keeps_structure():
    class Pairs(Dataset):
        def __len__(self):
            return 5

        def __getitem__(self, i):
            return {"x": np.full(3, i, np.float32), "y": i, "name": f"r{i}"}

    batches = list(DataLoader(Pairs(), batch_size=2))
    assert len(batches) == 3
    first = batches[0]
    assert isinstance(first["x"], biotorch.Tensor) and first["x"].shape == (2, 3)
    assert first["y"].numpy().tolist() == [0, 1] and first["name"] == ["r0", "r1"]
    assert len(DataLoader(Pairs(), batch_size=2, drop_last=True)) == 2


def test_variable_lengths_need_a_padding_collate(fasta):
    ds = FastaDataset(fasta, label_from_header="label")
    with pytest.raises(ValueError, match="padding collate_fn"):
        list(DataLoader(ds, batch_size=8))
    batch = next(iter(DataLoader(ds, batch_size=8, collate_fn=collate_sequences, device="cpu")))
    assert isinstance(batch, Batch) and isinstance(batch.inputs, biotorch.Tensor)
    assert batch.inputs.shape[0] == 8 and batch.labels.numpy().tolist() == [0, 1] * 4


def test_shuffle_is_seeded_per_epoch():
    loader = DataLoader(Draws(), batch_size=4, shuffle=True, seed=5)
    epoch0, epoch1 = rows(loader), rows(loader)
    assert sorted(r[0] for b in epoch0 for r in b) == list(range(12))
    assert epoch0 != epoch1
    loader.set_epoch(0)
    assert rows(loader) == epoch0
    assert rows(DataLoader(Draws(), batch_size=4, shuffle=True, seed=5)) == epoch0


@pytest.mark.parametrize("shuffle", [False, True])
def test_multiprocess_returns_what_one_process_returns(fasta, shuffle):
    ds = FastaDataset(fasta, label_from_header="label")
    kw = dict(batch_size=5, shuffle=shuffle, seed=1, collate_fn=collate_sequences)
    single = [(b.inputs.numpy().tolist(), b.labels.numpy().tolist()) for b in DataLoader(ds, **kw)]
    multi = [
        (b.inputs.numpy().tolist(), b.labels.numpy().tolist())
        for b in DataLoader(ds, num_workers=2, prefetch_factor=1, **kw)
    ]
    assert multi == single and len(single) == 8


def test_worker_streams_differ_and_are_reproducible():
    def draws(**kw):
        out = np.concatenate(rows(DataLoader(Draws(), batch_size=3, seed=11, **kw)))
        return {int(w): out[out[:, 1] == w, 3].tolist() for w in np.unique(out[:, 1])}

    two = draws(num_workers=2)
    assert set(two) == {0, 1} and two[0] != two[1]
    assert draws(num_workers=2) == two
    pids = np.concatenate(rows(DataLoader(Draws(), batch_size=3, num_workers=2)))[:, 2]
    assert len(set(pids.tolist())) == 2 and os.getpid() not in pids
    # no workers draws the stream of worker 0
    assert draws()[-1][:3] == draws(num_workers=1)[0][:3]


def test_persistent_workers_advance_epochs():
    loader = DataLoader(Draws(), batch_size=6, num_workers=2, persistent_workers=True, seed=2)
    a, b = rows(loader), rows(loader)
    pool = loader._pool
    assert [r[2] for x in a for r in x] == [r[2] for x in b for r in x]  # same processes
    assert [r[3] for x in a for r in x] != [r[3] for x in b for r in x]  # new epoch, new draws
    loader.set_epoch(0)
    assert rows(loader) == a
    pool.shutdown()
    assert not any(p.is_alive() for p in pool.processes)


def test_worker_error_is_reraised_with_its_traceback():
    with pytest.raises(KeyError, match=r"(?s)worker process 1.*Traceback.*no sample 5"):
        list(DataLoader(Failing(), batch_size=1, num_workers=2))


def test_iterable_dataset_with_workers():
    assert sum(rows(DataLoader(Stream(), batch_size=3)), []) == [[i] for i in range(10)]
    multi = sum(rows(DataLoader(Stream(), batch_size=3, num_workers=2)), [])
    assert sorted(multi) == [[i] for i in range(10)]
    with pytest.raises(ValueError, match="shuffle=True is not allowed with an IterableDataset"):
        DataLoader(Stream(), shuffle=True)


def test_spawn_context(fasta):
    ds = FastaDataset(fasta)
    kw = dict(batch_size=10, collate_fn=collate_sequences)
    single = [b.inputs.numpy().tolist() for b in DataLoader(ds, **kw)]
    spawned = DataLoader(ds, num_workers=2, multiprocessing_context="spawn", **kw)
    assert [b.inputs.numpy().tolist() for b in spawned] == single


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(shuffle=True, sampler=[0, 1]), "sampler is mutually exclusive with shuffle"),
        (dict(batch_sampler=[[0]], batch_size=2), "batch_sampler is exclusive"),
        (dict(persistent_workers=True), "persistent_workers=True needs num_workers > 0"),
        (dict(num_workers=-1), "num_workers=-1"),
        (dict(prefetch_factor=2), "prefetch_factor=2"),
    ],
)
def test_argument_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        DataLoader(Draws(), **kwargs)


def test_batch_sampler_and_no_auto_batching():
    loader = DataLoader(Draws(), batch_sampler=[[3, 1], [0]])
    assert [b.numpy()[:, 0].tolist() for b in loader] == [[3, 1], [0]]
    single = list(DataLoader(Draws(), batch_size=None))
    assert len(single) == 12 and single[4].shape == (4,)


def test_bucketed_batches_follow_the_loader_epoch(fasta):
    from biotorch.data import BucketBatchSampler

    ds = FastaDataset(fasta, label_from_header="label")
    sampler = BucketBatchSampler(ds.lengths, batch_size=6, seed=0)
    kw = dict(batch_sampler=sampler, collate_fn=collate_sequences)
    single = DataLoader(ds, **kw)
    epochs = [[b.lengths.numpy().tolist() for b in single] for _ in range(2)]
    assert epochs[0] != epochs[1]  # the loader advanced the sampler's epoch
    multi = DataLoader(ds, num_workers=2, **kw)
    assert [[b.lengths.numpy().tolist() for b in multi] for _ in range(2)] == epochs
    seen = sorted(i for e in epochs[:1] for b in e for i in b)
    assert seen == sorted(ds.lengths.tolist())


class LegacyDraws(Dataset):
    def __len__(self) -> int:
        return 4

    def __getitem__(self, i: int):
        return np.array([get_worker_info().id, np.random.randint(10**6)])


def seed_legacy(worker_id: int) -> None:
    assert get_worker_info().id == worker_id
    np.random.seed(100 + worker_id)


def test_worker_init_fn_runs_after_seeding():
    out = np.concatenate(rows(DataLoader(LegacyDraws(), num_workers=2, worker_init_fn=seed_legacy)))
    for wid in (0, 1):
        expected = np.random.RandomState(100 + wid).randint(10**6, size=2)
        assert out[out[:, 0] == wid, 1].tolist() == expected.tolist()


# Reliability of the worker processes. Every test that starts workers runs bounded in time
# (``bounded`` or a subprocess timeout), so that a regression fails instead of hanging the suite.


def bounded(fn, seconds: float = 20.0):
    """``fn()`` run in a thread; fails if it has not returned after ``seconds``."""
    outcome = {}

    def run():
        try:
            outcome["value"] = fn()
        except BaseException as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"still running after {seconds} s (hung)"
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def feeder_threads() -> int:
    return sum(t.name == "QueueFeederThread" for t in threading.enumerate())


@pytest.fixture
def no_workers_left():
    """A check that no worker process or queue feeder thread is left beyond the test's start."""
    children, feeders = set(mp.active_children()), feeder_threads()

    def check() -> None:
        assert set(mp.active_children()) <= children
        deadline = time.monotonic() + 2.0  # a closed queue's feeder thread ends on its own
        while feeder_threads() > feeders and time.monotonic() < deadline:
            time.sleep(0.01)
        assert feeder_threads() <= feeders

    return check


class Wide(Dataset):
    """200 kB samples: a batch fills the result pipe, so workers block if nobody reads."""

    def __len__(self) -> int:
        return 64

    def __getitem__(self, i: int):
        return np.full(50_000, i, np.float32)


def test_leaving_a_loop_early_stops_workers_promptly(no_workers_left):
    def leave_early():  # seconds from leaving to the workers' end (their start not counted)
        for _ in DataLoader(Wide(), batch_size=8, num_workers=2):
            t0 = time.perf_counter()
            break
        after_break = time.perf_counter() - t0
        it = iter(DataLoader(Wide(), batch_size=8, num_workers=2))
        next(it)
        t0 = time.perf_counter()
        del it
        return after_break, time.perf_counter() - t0

    after_break, after_del = bounded(leave_early)
    # torch 2.13 takes ~0.05 s for either; an unread result queue used to stall ~5 s
    assert after_break < 1.0 and after_del < 1.0, (after_break, after_del)
    no_workers_left()


class Indices(Dataset):
    """Sample i is i; with ``kill`` every worker SIGKILLs itself on its first sample."""

    def __init__(self, kill: bool = False) -> None:
        self.kill = kill

    def __len__(self) -> int:
        return 1_000_000

    def __getitem__(self, i: int):
        if self.kill:
            os.kill(os.getpid(), signal.SIGKILL)
        return i


@pytest.mark.parametrize("kill", [False, True])
def test_large_index_lists_leave_no_feeder_threads(kill, no_workers_left):
    """Tasks of 20,000 indices fill the index pipes: unread ones must not block the feeders."""
    loader = DataLoader(Indices(kill), batch_size=20_000, num_workers=2, prefetch_factor=4)

    def leave_early():
        try:
            for _ in loader:
                break
        except RuntimeError as exc:
            assert kill and "exited unexpectedly with signal SIGKILL" in str(exc)

    bounded(leave_early)
    no_workers_left()


def test_deleting_a_persistent_loader_stops_its_workers(no_workers_left):
    def leave_early():
        loader = DataLoader(Wide(), batch_size=8, num_workers=2, persistent_workers=True)
        for _ in loader:
            break
        processes = loader._pool.processes
        t0 = time.perf_counter()
        del loader
        return time.perf_counter() - t0, processes

    seconds, processes = bounded(leave_early)
    assert seconds < 1.0 and not any(p.is_alive() for p in processes)
    no_workers_left()


class FailsInFirstEpoch(Dataset):
    def __len__(self) -> int:
        return 8

    def __getitem__(self, i: int):
        if i == 5 and get_worker_info().epoch == 0:
            raise KeyError(f"no sample {i} in epoch 0")
        return np.array([i, os.getpid()])


def test_worker_error_stops_persistent_workers_and_the_next_epoch_starts_fresh(no_workers_left):
    loader = DataLoader(FailsInFirstEpoch(), batch_size=1, num_workers=2, persistent_workers=True)

    def first_epoch():
        with pytest.raises(KeyError, match=r"(?s)worker process 1.*Traceback.*no sample 5"):
            rows(loader)
        return loader._pool.processes

    failed_pids = {p.pid for p in bounded(first_epoch)}
    no_workers_left()
    second = np.concatenate(bounded(lambda: rows(loader)))
    assert second[:, 0].tolist() == list(range(8))
    assert not failed_pids & set(second[:, 1].tolist())  # fresh workers
    loader._pool.shutdown()


class NeedsTwoArgs(Exception):
    """Cannot be rebuilt from its args: pickles, but fails to unpickle."""

    def __init__(self, code, detail):
        super().__init__(f"{code}: {detail}")


class HoldsALambda(Exception):
    def __init__(self, message):
        super().__init__(message)
        self.callback = lambda: None


class Misbehaves(Dataset):
    """Sample 3 (worker 1's second task with 2 workers) fails as ``how`` says."""

    def __init__(self, how: str) -> None:
        self.how = how

    def __len__(self) -> int:
        return 8

    def __getitem__(self, i: int):
        if i != 3:
            return np.zeros(2)
        if self.how == "needs two args":
            raise NeedsTwoArgs(1, "bad sample")
        if self.how == "holds a lambda":
            raise HoldsALambda("bad sample")
        if self.how == "local class":

            class LocalError(Exception):
                pass

            raise LocalError("bad sample")
        if self.how == "unpicklable sample":
            return lambda: None
        if self.how == "sample not unpicklable in main":
            return NeedsTwoArgs(1, "pickles, but cannot be rebuilt")
        if self.how == "os._exit":
            os._exit(3)
        if self.how == "SIGKILL":
            os.kill(os.getpid(), signal.SIGKILL)
        if self.how == "segfault":
            import ctypes
            import faulthandler

            faulthandler.disable()  # no traceback dump in the test output
            ctypes.string_at(0)
        raise AssertionError(self.how)


@pytest.mark.parametrize(
    "how, error, match",
    [
        ("needs two args", RuntimeError, r"(?s)Caught NeedsTwoArgs in .* process 1.*bad sample"),
        ("holds a lambda", HoldsALambda, r"(?s)Caught HoldsALambda.*Traceback.*bad sample"),
        ("local class", RuntimeError, r"(?s)Caught LocalError.*Traceback.*bad sample"),
        ("unpicklable sample", Exception, r"(?s)process 1.*result could not be pickled"),
        ("sample not unpicklable in main", RuntimeError, "cannot be unpickled in the main"),
        ("os._exit", RuntimeError, r"worker 1 \(pid \d+\) exited unexpectedly with exit code 3"),
        ("SIGKILL", RuntimeError, "worker 1 .* exited unexpectedly with signal SIGKILL"),
        ("segfault", RuntimeError, "worker 1 .* exited unexpectedly with signal SIGSEGV"),
    ],
)
def test_every_worker_failure_reaches_the_main_process(how, error, match, no_workers_left):
    loader = DataLoader(Misbehaves(how), batch_size=1, num_workers=2, collate_fn=list)

    def load():
        with pytest.raises(error, match=match):
            list(loader)

    t0 = time.perf_counter()
    bounded(load)
    assert time.perf_counter() - t0 < 5.0
    no_workers_left()


class Sleeps(Dataset):
    def __len__(self) -> int:
        return 2

    def __getitem__(self, i: int):
        time.sleep(10)
        return np.zeros(1)


@pytest.mark.parametrize("persistent", [False, True])
def test_timeout_raises_and_stops_the_workers(persistent, no_workers_left):
    loader = DataLoader(Sleeps(), num_workers=1, timeout=0.2, persistent_workers=persistent)

    def load():
        with pytest.raises(RuntimeError, match="timed out after 0.2 seconds"):
            list(loader)

    t0 = time.perf_counter()
    bounded(load)
    assert 0.2 <= time.perf_counter() - t0 < 3.0  # the 10 s sleep is not waited for
    no_workers_left()


def test_only_the_newest_iterator_of_a_persistent_loader_yields():
    loader = DataLoader(Draws(), batch_size=2, num_workers=2, persistent_workers=True, seed=0)

    def two_iterators():
        old = iter(loader)
        next(old)
        assert len(rows(loader)) == 6
        with pytest.raises(RuntimeError, match="superseded by a newer iter"):
            next(old)
        with pytest.raises(StopIteration):
            next(old)

    bounded(two_iterators)
    loader._pool.shutdown()


class Trickle(Dataset):
    def __len__(self) -> int:
        return 40

    def __getitem__(self, i: int):
        time.sleep(0.001)  # lets the threads interleave
        return np.array([i])


@pytest.mark.parametrize("num_workers", [0, 2])
def test_threads_sharing_one_iterator_get_each_batch_once(num_workers, no_workers_left):
    it = iter(DataLoader(Trickle(), batch_size=2, num_workers=num_workers))
    taken = [[], []]
    errors = []

    def consume(mine):
        try:
            for batch in it:
                mine.append(batch.numpy()[:, 0].tolist())
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=consume, args=(mine,), daemon=True) for mine in taken]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    assert not any(thread.is_alive() for thread in threads), "a consumer hung"
    assert errors == []
    assert sorted(taken[0] + taken[1]) == [[2 * k, 2 * k + 1] for k in range(20)]
    assert all(mine == sorted(mine) for mine in taken)  # each thread sees batches in order
    no_workers_left()


@pytest.mark.skipif(not os.path.exists("/proc/self/stat"), reason="reads /proc (Linux)")
def test_workers_exit_when_the_main_process_is_killed():
    script = textwrap.dedent(
        """
        import os, signal
        import numpy as np
        from biotorch.data import DataLoader, Dataset

        class Numbers(Dataset):
            def __len__(self):
                return 100

            def __getitem__(self, i):
                return np.array([i])

        loader = DataLoader(Numbers(), batch_size=1, num_workers=2, multiprocessing_context="fork")
        it = iter(loader)
        next(it)
        print(*[p.pid for p in it.inner.pool.processes], flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    env = {**os.environ, "PYTHONPATH": str(Path(biotorch.__file__).parents[1])}
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, env=env
    )
    assert done.returncode == -signal.SIGKILL, done.stderr
    pids = [int(pid) for pid in done.stdout.split()]
    assert len(pids) == 2

    def running(pid: int) -> bool:  # a zombie (state Z) has exited
        try:
            return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
        except (FileNotFoundError, ProcessLookupError):
            return False

    deadline = time.monotonic() + 5.0
    while any(map(running, pids)) and time.monotonic() < deadline:
        time.sleep(0.05)
    orphans = [pid for pid in pids if running(pid)]
    for pid in orphans:
        os.kill(pid, signal.SIGKILL)
    assert orphans == []
