import numpy as np
import pytest

from biotorch.data import ConcatDataset, Dataset, IterableDataset, Subset, random_split
from biotorch.data.datasets import worker_seed_sequence


class Range(Dataset):
    def __init__(self, n: int, offset: int = 0) -> None:
        self.n, self.offset = n, offset

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> int:
        if not 0 <= i < self.n:
            raise IndexError(i)
        return self.offset + i


def test_subset_and_concat():
    a, b = Range(3), Range(4, offset=10)
    cat = a + b
    assert isinstance(cat, ConcatDataset) and len(cat) == 7
    assert [cat[i] for i in range(7)] == [0, 1, 2, 10, 11, 12, 13]
    assert cat[-1] == 13 and cat[-7] == 0
    with pytest.raises(IndexError, match="out of range"):
        cat[7]
    assert [Subset(cat, [6, 0, 3])[i] for i in range(3)] == [13, 0, 10]


def test_concat_rejects_iterable_and_empty():
    class Stream(IterableDataset):
        def __iter__(self):
            return iter([1])

    with pytest.raises(TypeError, match=r"datasets\[1\] is an IterableDataset"):
        ConcatDataset([Range(2), Stream()])
    with pytest.raises(ValueError, match="empty"):
        ConcatDataset([])


@pytest.mark.parametrize("lengths", [[0.5, 0.3, 0.2], [5, 3, 2], [0.34, 0.33, 0.33]])
def test_random_split_partitions_and_is_reproducible(lengths):
    parts = random_split(Range(10), lengths, seed=3)
    items = [sorted(p[i] for i in range(len(p))) for p in parts]
    assert sorted(sum(items, [])) == list(range(10))
    assert sum(len(p) for p in parts) == 10
    again = random_split(Range(10), lengths, generator=np.random.default_rng(3))
    assert [p.indices for p in parts] == [p.indices for p in again]


def test_random_split_bad_lengths():
    with pytest.raises(ValueError, match="sum to 9, expected the dataset length 10"):
        random_split(Range(10), [5, 4])
    with pytest.raises(ValueError, match="fractions summing to 1"):
        random_split(Range(10), [0.5, 0.2])


def test_worker_seed_sequences_are_distinct():
    states = {
        tuple(worker_seed_sequence(7, e, w).generate_state(4)) for e in range(3) for w in range(4)
    }
    assert len(states) == 12
    assert (
        worker_seed_sequence(7, 1, 2).generate_state(4)
        == worker_seed_sequence(7, 1, 2).generate_state(4)
    ).all()
