import os
import time

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


class Slow(Dataset):
    def __len__(self) -> int:
        return 2

    def __getitem__(self, i: int):
        time.sleep(2)
        return np.zeros(1)


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


def test_workers_stop_when_iteration_is_abandoned():
    it = iter(DataLoader(Draws(), batch_size=2, num_workers=2))
    next(it)
    processes = it.pool.processes
    del it
    for p in processes:
        p.join(timeout=10)
    assert not any(p.is_alive() for p in processes)


def test_timeout():
    with pytest.raises(RuntimeError, match="timed out after 0.5 seconds"):
        list(DataLoader(Slow(), num_workers=1, timeout=0.5))


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
