import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import biotorch
from biotorch.data import (
    DNA,
    PROTEIN,
    Batch,
    SequenceCollator,
    collate_sequences,
    encode,
    pad_sequences,
)


def rows(*lists):
    return [np.array(x, np.int8) for x in lists]


def test_pad_sequences_sides():
    seqs = rows([1, 2, 3], [4])
    tokens, lengths, mask = pad_sequences(seqs)
    assert tokens.tolist() == [[1, 2, 3], [4, 5, 5]] and tokens.dtype == np.int8
    assert lengths.tolist() == [3, 1]
    assert mask.tolist() == [[True] * 3, [True, False, False]]
    tokens, _, mask = pad_sequences(seqs, side="left")
    assert tokens.tolist() == [[1, 2, 3], [5, 5, 4]]
    assert mask[1].tolist() == [False, False, True]
    tokens, _, mask = pad_sequences(rows([1, 2]), side="center", length=5, value=0)
    assert tokens.tolist() == [[0, 1, 2, 0, 0]]
    assert pad_sequences(rows([0]), alphabet=PROTEIN)[0].tolist() == [[0]]
    assert pad_sequences(rows([0], []), alphabet=PROTEIN)[0].tolist() == [[0], [21]]


def test_pad_sequences_ragged_and_float_input():
    tokens, lengths, _ = pad_sequences(encode(["ACGT", "A"]), length=6)
    assert tokens.shape == (2, 6) and lengths.tolist() == [4, 1]
    values, _, _ = pad_sequences([np.array([0.5, 1.5]), np.array([2.0])], value=-1.0)
    assert values.dtype == np.float64 and values.tolist() == [[0.5, 1.5], [2.0, -1.0]]
    empty, lengths, mask = pad_sequences([])
    assert empty.shape == (0, 0) and lengths.shape == (0,) and mask.shape == (0, 0)


def test_pad_sequences_never_truncates_silently():
    seqs = rows([1, 2, 3, 4, 5], [6])
    with pytest.raises(ValueError, match=r"seqs\[0\] has length 5 > length=3"):
        pad_sequences(seqs, length=3)
    assert pad_sequences(seqs, length=3, truncate="right")[0].tolist() == [[1, 2, 3], [6, 5, 5]]
    assert pad_sequences(seqs, length=3, truncate="left")[0][0].tolist() == [3, 4, 5]
    tokens, lengths, _ = pad_sequences(seqs, length=3, truncate="center")
    assert tokens[0].tolist() == [2, 3, 4] and lengths.tolist() == [3, 1]


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"side": "top"}, "side='top'"),
        ({"truncate": "both"}, "truncate='both'"),
        ({"length": -1}, "length=-1"),
    ],
)
def test_pad_sequences_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        pad_sequences(rows([1]), **kwargs)


def test_pad_sequences_rejects_2d_rows():
    with pytest.raises(ValueError, match=r"seqs\[0\] has shape \(2, 2\)"):
        pad_sequences([np.zeros((2, 2))])


@given(
    st.lists(st.lists(st.integers(0, 3), max_size=12), max_size=6),
    st.sampled_from(["right", "left", "center"]),
    st.integers(0, 4),
)
@settings(max_examples=60)
def test_pad_sequences_keeps_every_token(seqs, side, extra):
    arrays = rows(*seqs) if seqs else []
    longest = max((len(s) for s in seqs), default=0)
    tokens, lengths, mask = pad_sequences(arrays, side=side, length=longest + extra)
    assert tokens.shape == (len(seqs), longest + extra)
    assert lengths.tolist() == [len(s) for s in seqs]
    for row, m, s in zip(tokens, mask, seqs, strict=True):
        assert row[m].tolist() == s
        assert (row[~m] == DNA.pad_token).all()
        positions = np.flatnonzero(m)
        assert positions.size == 0 or positions[-1] - positions[0] + 1 == len(s)


def test_batch_attribute_and_mapping_access():
    b = Batch(inputs=np.zeros((2, 3)), labels=np.array([1, 0]), ids=["a", "b"])
    assert b.batch_size == 2
    assert b.keys() == ["inputs", "labels", "ids"]
    assert b["labels"].tolist() == [1, 0] and "mask" not in b
    assert sorted(dict(b)) == ["ids", "inputs", "labels"]

    def model(inputs, labels, ids):
        return inputs.shape, ids

    assert model(**b) == ((2, 3), ["a", "b"])
    with pytest.raises(KeyError, match="no field 'mask'"):
        b["mask"]
    doubled = b.apply(lambda a: a * 2)
    assert doubled.labels.tolist() == [2, 0] and doubled.ids == ["a", "b"]


def test_batch_to_device_makes_tensors():
    if not hasattr(biotorch, "from_numpy"):
        pytest.skip("biotorch.from_numpy (tensor core) is not available yet")
    b = collate_sequences([("ACG", 1), ("A", 0)])
    moved = b.to("cpu")
    assert isinstance(moved.inputs, biotorch.Tensor)
    assert moved.inputs.shape == (2, 3)
    np.testing.assert_array_equal(moved.lengths.numpy(), [3, 1])


def test_collate_sample_forms():
    collate = SequenceCollator()
    b = collate([encode("ACG"), encode("A")])
    assert b.inputs.tolist() == [[0, 1, 2], [0, 5, 5]] and b.labels is None and b.ids is None
    b = collate([("ACG", 1, "r1"), ("A", 0, "r2")])
    assert b.labels.tolist() == [1, 0] and b.ids == ["r1", "r2"]
    assert b.mask.tolist() == [[True] * 3, [True, False, False]]
    b = collate(
        [{"inputs": "AC", "labels": np.array([1.0, 0.0])}, {"inputs": "G", "labels": [0, 1]}]
    )
    assert b.labels.shape == (2, 2)


def test_collate_one_hot():
    b = collate_sequences([("ACGT", 1), ("AC", 0)], one_hot=True, side="left")
    assert b.inputs.shape == (2, 4, 4) and b.inputs.dtype == np.float32
    np.testing.assert_array_equal(b.inputs[1, :, :2], 0)
    np.testing.assert_array_equal(b.inputs[1, :, 2:], np.eye(4)[:, :2])
    b = collate_sequences([("MKV",)], alphabet=PROTEIN, one_hot=True, channels_last=True)
    assert b.inputs.shape == (1, 3, 20)


def test_collate_errors():
    collate = SequenceCollator()
    with pytest.raises(ValueError, match="samples is empty"):
        collate([])
    with pytest.raises(ValueError, match="sample 1 has no labels"):
        collate([("AC", 1), ("A", None)])
    with pytest.raises(ValueError, match="sample keys"):
        collate([{"seq": "AC"}])
    with pytest.raises(ValueError, match="has 4 items"):
        collate([("AC", 1, "a", "extra")])
    with pytest.raises(ValueError, match="length 4 > length=2"):
        SequenceCollator(length=2)([("ACGT", 1)])


def test_loader_with_bucket_sampler_collator_and_random_transforms():
    from biotorch.data import BucketBatchSampler, DataLoader, Dataset, current_rng
    from biotorch.data.transforms import Compose, RandomMutation, RandomReverseComplement

    seqs = ["ACGT" * (i % 7 + 1) for i in range(50)]

    class Seqs(Dataset):
        def __init__(self):
            self.tokens = encode(seqs)
            self.transform = Compose([RandomReverseComplement(), RandomMutation(0.1)])

        def __len__(self):
            return len(seqs)

        def __getitem__(self, i):
            return self.transform(self.tokens[i], rng=current_rng()), i % 2, f"r{i}"

    sampler = BucketBatchSampler([len(s) for s in seqs], batch_size=8, seed=0)
    loader = DataLoader(Seqs(), batch_sampler=sampler, collate_fn=SequenceCollator(one_hot=True))
    batches = list(loader)
    assert len(batches) == len(sampler) == 7
    assert sorted(int(i[1:]) for b in batches for i in b.ids) == list(range(50))
    for b in batches:
        assert isinstance(b.inputs, biotorch.Tensor) and b.inputs.shape[1] == 4
        lengths = b.lengths.numpy()
        assert b.inputs.shape[2] == lengths.max()
        assert [len(seqs[int(i[1:])]) for i in b.ids] == lengths.tolist()
    again = list(DataLoader(Seqs(), batch_sampler=sampler, collate_fn=SequenceCollator()))
    assert [b.ids for b in again] == [b.ids for b in batches]
