from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from biotorch.data import (
    BatchSampler,
    BucketBatchSampler,
    DistributedBatchSampler,
    DistributedSampler,
    RandomSampler,
    SequentialSampler,
)
from biotorch.data.samplers import SubsetRandomSampler, WeightedRandomSampler


def test_sequential_random_and_batch_samplers():
    assert list(SequentialSampler(range(4))) == [0, 1, 2, 3]
    sampler = RandomSampler(range(10), generator=np.random.default_rng(0))
    first, second = list(sampler), list(sampler)
    assert sorted(first) == list(range(10)) and first != second and len(sampler) == 10
    again = RandomSampler(range(10), generator=0)
    assert list(again) == first
    draws = list(RandomSampler(range(3), replacement=True, num_samples=20, generator=1))
    assert len(draws) == 20 and set(draws) <= {0, 1, 2}
    assert list(BatchSampler(range(7), 3, drop_last=False)) == [[0, 1, 2], [3, 4, 5], [6]]
    assert list(BatchSampler(range(7), 3, drop_last=True)) == [[0, 1, 2], [3, 4, 5]]
    assert len(BatchSampler(range(7), 3, False)) == 3 and len(BatchSampler(range(7), 3, True)) == 2


def test_subset_and_weighted_samplers():
    subset = SubsetRandomSampler([5, 7, 9], generator=0)
    assert sorted(subset) == [5, 7, 9] and len(subset) == 3
    weighted = WeightedRandomSampler([0.0, 1.0, 3.0], num_samples=4000, generator=0)
    counts = Counter(weighted)
    assert counts[0] == 0 and 2700 < counts[2] < 3300 and len(weighted) == 4000
    distinct = list(WeightedRandomSampler([1, 1, 1, 0], 3, replacement=False, generator=1))
    assert sorted(distinct) == [0, 1, 2]
    with pytest.raises(ValueError, match="needs replacement=True"):
        WeightedRandomSampler([1, 0], 2, replacement=False)
    with pytest.raises(ValueError, match="positive sum"):
        WeightedRandomSampler([0, 0], 2)
    with pytest.raises(ValueError, match="finite values >= 0"):
        WeightedRandomSampler([1, -1], 2)


def test_sampler_argument_errors():
    with pytest.raises(ValueError, match="batch_size=0"):
        BatchSampler(range(3), 0, False)
    with pytest.raises(ValueError, match="needs replacement=True"):
        RandomSampler(range(3), num_samples=5)
    with pytest.raises(ValueError, match="neither"):
        BucketBatchSampler([1, 2])
    with pytest.raises(ValueError, match="rank=2"):
        BucketBatchSampler([1, 2], 1, num_replicas=2, rank=2)
    with pytest.raises(ValueError, match="sequence 1 has length 9 > max_tokens=5"):
        BucketBatchSampler([1, 9], max_tokens=5)
    with pytest.raises(ValueError, match="negative"):
        BucketBatchSampler([1, -2], 1)
    with pytest.raises(ValueError, match="1-D array of integers"):
        BucketBatchSampler([1.5, 2.0], 1)


def test_bucketing_groups_similar_lengths():
    lengths = [5, 50, 7, 48, 6, 52]  # sorted: 5 6 | 7 48 | 50 52
    sampler = BucketBatchSampler(lengths, batch_size=2, seed=1)
    assert sorted(sorted(b) for b in sampler) == [[0, 4], [1, 5], [2, 3]]
    assert len(sampler) == 3
    assert sampler.padding_efficiency() == pytest.approx(168 / 212)


def test_bucketing_beats_plain_batching_on_skewed_lengths():
    lengths = np.random.default_rng(0).lognormal(3.5, 0.6, size=2000).astype(int) + 1
    bucketed = BucketBatchSampler(lengths, batch_size=32)
    plain = BucketBatchSampler(lengths, batch_size=32, bucket_size_multiplier=1)
    assert bucketed.padding_efficiency() > 0.9 > plain.padding_efficiency()


def test_epochs_are_seeded_and_differ():
    lengths = np.arange(100) % 17 + 1
    a = BucketBatchSampler(lengths, batch_size=8, seed=3)
    b = BucketBatchSampler(lengths, batch_size=8, seed=3)
    assert list(a) == list(b)
    epoch0 = list(a)
    a.set_epoch(1)
    assert list(a) != epoch0
    b.set_epoch(1)
    assert list(a) == list(b)
    assert list(BucketBatchSampler(lengths, batch_size=8, seed=4)) != epoch0


def test_no_shuffle_is_deterministic_and_sorted_within_pools():
    lengths = [3, 1, 2, 9, 8, 7]
    sampler = BucketBatchSampler(lengths, batch_size=2, shuffle=False, bucket_size_multiplier=1)
    assert list(sampler) == [[1, 0], [2, 3], [5, 4]]
    sampler = BucketBatchSampler(lengths, batch_size=2, shuffle=False)
    assert list(sampler) == [[1, 2], [0, 5], [4, 3]]


def test_max_tokens_budget():
    lengths = [10] * 10 + [100] * 4
    sampler = BucketBatchSampler(lengths, max_tokens=200, seed=0)
    for batch in sampler:
        assert len(batch) * max(lengths[i] for i in batch) <= 200
    assert sorted(i for b in sampler for i in b) == list(range(14))
    capped = BucketBatchSampler(lengths, batch_size=3, max_tokens=200)
    assert max(len(b) for b in capped) <= 3


def test_drop_last_drops_short_batch():
    sampler = BucketBatchSampler([1] * 10, batch_size=4, drop_last=True)
    batches = list(sampler)
    assert len(batches) == 2 and all(len(b) == 4 for b in batches)


def test_replicas_get_same_number_of_batches_and_pad_like_distributed_sampler():
    lengths = np.arange(1, 11)
    ranks = [BucketBatchSampler(lengths, batch_size=3, num_replicas=3, rank=r) for r in range(3)]
    per_rank = [list(s) for s in ranks]
    assert {len(b) for b in per_rank} == {2}  # 4 batches padded to 6
    seen = Counter(i for batches in per_rank for b in batches for i in b)
    assert set(seen) == set(range(10))


@given(
    lengths=st.lists(st.integers(0, 60), max_size=80),
    batch_size=st.one_of(st.none(), st.integers(1, 9)),
    max_tokens=st.one_of(st.none(), st.integers(60, 300)),
    seed=st.integers(0, 2**32 - 1),
    epoch=st.integers(0, 3),
    num_replicas=st.integers(1, 4),
    shuffle=st.booleans(),
    multiplier=st.integers(1, 5),
)
@settings(max_examples=150, deadline=None)
def test_every_index_exactly_once_per_epoch(
    lengths, batch_size, max_tokens, seed, epoch, num_replicas, shuffle, multiplier
):
    if batch_size is None and max_tokens is None:
        batch_size = 4
    samplers = [
        BucketBatchSampler(
            lengths,
            batch_size=batch_size,
            max_tokens=max_tokens,
            shuffle=shuffle,
            seed=seed,
            num_replicas=num_replicas,
            rank=rank,
            bucket_size_multiplier=multiplier,
        )
        for rank in range(num_replicas)
    ]
    for s in samplers:
        s.set_epoch(epoch)
    per_rank = [list(s) for s in samplers]
    counts = {len(batches) for batches in per_rank}
    assert len(counts) == 1 and counts == {len(samplers[0])}
    # interleave the replicas back into the global batch order
    ordered = [b for rnd in zip(*per_rank, strict=True) for b in rnd]
    n_pad = _replica_padding(ordered, len(lengths), num_replicas)
    assert n_pad == 0 or len(lengths) > 0
    for batch in ordered:
        assert len(batch) > 0
        if batch_size is not None:
            assert len(batch) <= batch_size
        if max_tokens is not None:
            assert len(batch) * max(lengths[i] for i in batch) <= max_tokens


def _replica_padding(ordered, n, num_replicas):
    """Number of trailing batches that repeat the first ones; the rest cover range(n) once."""
    for pad in range(num_replicas):
        real = ordered[: len(ordered) - pad]
        if sorted(i for b in real for i in b) == list(range(n)) and (
            ordered[len(real) :] == ordered[:pad]
        ):
            return pad
    raise AssertionError(f"batches {ordered} do not cover range({n}) exactly once")


@given(
    lengths=st.lists(st.integers(0, 60), max_size=60),
    batch_size=st.integers(1, 9),
    seed=st.integers(0, 2**32 - 1),
    num_replicas=st.integers(1, 3),
)
@settings(max_examples=60, deadline=None)
def test_drop_last_never_repeats_and_keeps_full_batches(lengths, batch_size, seed, num_replicas):
    per_rank = [
        list(
            BucketBatchSampler(
                lengths, batch_size, drop_last=True, seed=seed, num_replicas=num_replicas, rank=r
            )
        )
        for r in range(num_replicas)
    ]
    assert len({len(b) for b in per_rank}) == 1
    flat = [i for batches in per_rank for b in batches for i in b]
    assert len(flat) == len(set(flat))
    assert all(len(b) == batch_size for batches in per_rank for b in batches)
    # at most one short batch and fewer than num_replicas whole batches are dropped
    assert len(lengths) - len(flat) < batch_size * num_replicas


@pytest.mark.parametrize("n,num_replicas,drop_last", [(10, 3, False), (10, 3, True), (2, 4, False)])
def test_distributed_sampler_matches_torch_order_and_pads(n, num_replicas, drop_last):
    shards = [
        list(DistributedSampler(range(n), num_replicas, r, shuffle=False, drop_last=drop_last))
        for r in range(num_replicas)
    ]
    assert len({len(s) for s in shards}) == 1  # equal step counts
    flat = sorted(i for s in shards for i in s)
    if drop_last:
        assert len(set(flat)) == len(flat) == n - n % num_replicas
    else:
        assert set(flat) == set(range(n)) and len(flat) == -(-n // num_replicas) * num_replicas
    torch = pytest.importorskip("torch")
    from torch.utils.data import DistributedSampler as TorchSampler

    for r in range(num_replicas):
        expected = list(TorchSampler(range(n), num_replicas, r, shuffle=False, drop_last=drop_last))
        assert shards[r] == expected
    del torch


def test_distributed_sampler_epochs_cover_everything_and_differ():
    samplers = [DistributedSampler(range(11), 2, r, seed=5) for r in range(2)]
    epochs = []
    for epoch in range(2):
        for s in samplers:
            s.set_epoch(epoch)
        shards = [list(s) for s in samplers]
        assert len(shards[0]) == len(shards[1]) == 6 and set(shards[0] + shards[1]) == set(
            range(11)
        )
        epochs.append(shards)
    assert epochs[0] != epochs[1]
    again = DistributedSampler(range(11), 2, 0, seed=5)
    assert list(again) == epochs[0][0]
    with pytest.raises(ValueError, match="rank=2, expected 0 <= rank < 2"):
        DistributedSampler(range(3), num_replicas=2, rank=2)
    with pytest.raises(ValueError, match="num_replicas=0"):
        DistributedSampler(range(3), num_replicas=0, rank=0)
    assert len(DistributedSampler(range(3))) == 3  # no process group: a world of one


@pytest.mark.parametrize("drop_last", [False, True])
def test_distributed_batch_sampler_equal_steps_and_coverage(drop_last):
    inner = BatchSampler(range(23), 4, drop_last=False)  # 6 batches, the last short
    shards = [list(DistributedBatchSampler(inner, 4, r, drop_last=drop_last)) for r in range(4)]
    steps = {len(s) for s in shards}
    assert steps == {1 if drop_last else 2}
    assert all(len(DistributedBatchSampler(inner, 4, r, drop_last)) in steps for r in range(4))
    seen = Counter(i for s in shards for b in s for i in b)
    if drop_last:
        assert sorted(seen) == list(range(16)) and set(seen.values()) == {1}
    else:  # 8 batches: the first two are repeated
        assert sorted(seen) == list(range(23))
        assert {i for i, c in seen.items() if c == 2} == set(range(8))


def test_bucket_batch_sampler_defaults_to_a_world_of_one():
    sampler = BucketBatchSampler(list(range(1, 30)), batch_size=4, seed=3)
    assert sampler.num_replicas == 1 and sampler.rank == 0
    assert sorted(i for b in sampler for i in b) == list(range(29))


def test_genome_window_sampler_shards_by_rank(tmp_path):
    from genomic_files import random_genome, write_fasta

    from biotorch.data import DataLoader, Genome, GenomeWindowSampler

    genome = Genome(write_fasta(tmp_path / "g.fa", random_genome(2, {"chr1": 3000, "chr2": 2000})))
    windows = {}
    for rank in range(2):  # two "ranks": separate dataset objects, as in separate processes
        dataset = GenomeWindowSampler(genome, 100, 25, seed=7)
        loader = DataLoader(dataset, batch_size=4, sampler=DistributedSampler(dataset, 2, rank))
        loader.set_epoch(1)
        batches = list(loader)
        windows[rank] = dataset.windows()
        assert len(batches) == 4  # 13 windows per rank (25 padded to 26), batches of 4
        windows[rank, "n"] = sum(len(b) for b in batches)  # no targets: a batch is x
    assert windows[0].equals(windows[1])  # both ranks drew the same epoch-1 windows
    assert windows[0, "n"] == windows[1, "n"] == 13
    shards = [list(DistributedSampler(range(25), 2, r)) for r in range(2)]
    assert sorted(set(shards[0]) | set(shards[1])) == list(range(25))
