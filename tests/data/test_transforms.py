import numpy as np
import pytest

import biotorch
from biotorch.data import DNA, encode, one_hot, reverse_complement
from biotorch.data.transforms import (
    CenterCrop,
    Compose,
    Encode,
    KmerTokenize,
    OneHot,
    PadTo,
    RandomCrop,
    RandomMutation,
    RandomReverseComplement,
    RandomShift,
    RandomTranslate,
    ToTensor,
    apply_transform,
)


def rng(seed=0):
    return np.random.default_rng(seed)


def test_compose_encode_onehot_kmer():
    pipeline = Compose([Encode(), OneHot(n_value=0.25)])
    x = pipeline("ACGN")
    assert x.shape == (4, 4) and x[0, 3] == 0.25
    assert KmerTokenize(2)("ACG").tolist() == [5, 10]
    assert "Encode(alphabet=" in repr(Compose([Encode()]))


def test_compose_passes_rng_only_to_callables_that_take_it():
    seen = []

    def plain(x):
        return x + 1

    def seeded(x, rng=None):
        seen.append(rng)
        return x

    r = rng()
    assert Compose([plain, seeded])(1, rng=r) == 2
    assert seen == [r]
    assert apply_transform(plain, 1, rng=r) == 2


def test_random_transforms_reproducible_from_rng():
    x = encode("ACGTACGTAACCGGTT")
    for t in [RandomReverseComplement(), RandomShift(2), RandomCrop(5), RandomMutation(0.3)]:
        a = [t(x, rng=rng(7)).tolist() for _ in range(2)]
        assert a[0] == a[1], t
    # different streams differ somewhere
    outs = {tuple(RandomCrop(5)(x, rng=rng(s)).tolist()) for s in range(20)}
    assert len(outs) > 1


def test_fallback_generator_is_seedable():
    x = encode("ACGTACGTAACCGGTT")
    a, b = RandomCrop(4, seed=1), RandomCrop(4, seed=1)
    assert [a(x).tolist() for _ in range(5)] == [b(x).tolist() for _ in range(5)]


def test_random_reverse_complement():
    x = encode("AACG")
    assert RandomReverseComplement(p=1.0)(x).tolist() == reverse_complement(x).tolist()
    assert RandomReverseComplement(p=0.0)(x) is x
    assert RandomReverseComplement(p=1.0)("AACG") == "CGTT"
    oh = one_hot(x, channels_last=True)
    out = RandomReverseComplement(p=1.0, channels_last=True)(oh)
    np.testing.assert_array_equal(out, one_hot(reverse_complement(x), channels_last=True))
    flips = [RandomReverseComplement()(x, rng=rng(s)).tolist() != x.tolist() for s in range(200)]
    assert 60 < sum(flips) < 140
    with pytest.raises(ValueError, match="p=1.5"):
        RandomReverseComplement(p=1.5)


def test_crops_and_shift():
    x = np.arange(10)
    assert CenterCrop(4)(x).tolist() == [3, 4, 5, 6]
    assert CenterCrop(3)("ABCDEFGHIJ") == "DEF"
    assert RandomShift(0)(x).tolist() == x.tolist()
    starts = {RandomShift(2)(x, rng=rng(s))[0] for s in range(60)}
    assert starts == {0, 1, 2, 3, 4}
    assert all(RandomShift(2)(x, rng=rng(s)).size == 6 for s in range(5))
    crop = RandomCrop(4)(x, rng=rng(0))
    assert crop.size == 4 and np.all(np.diff(crop) == 1)
    oh = one_hot(encode("ACGTACGT"))
    assert RandomCrop(5)(oh, rng=rng(0)).shape == (4, 5)
    assert RandomCrop(3)(x[:3]).tolist() == [0, 1, 2]
    with pytest.raises(ValueError, match="input has length 3, expected at least 4"):
        RandomCrop(4)(x[:3])
    with pytest.raises(ValueError, match="input has length 3"):
        CenterCrop(5)(x[:3])
    with pytest.raises(ValueError, match="input has length 3"):
        RandomShift(2)(x[:3])
    with pytest.raises(ValueError, match="max_shift=-1"):
        RandomShift(-1)


def test_random_translate_moves_tokens_and_fills_with_n():
    x = encode("ACGTACGTAC")
    n = DNA.unknown_token
    seen = {}
    for s in range(80):
        out = RandomTranslate(3)(x, rng=rng(s))
        assert out.shape == x.shape and out.dtype == x.dtype
        shift = int(np.flatnonzero(out != n)[0]) if out[0] == n else -int((out[-3:] == n).sum())
        seen[shift] = out
    assert set(seen) == {-3, -2, -1, 0, 1, 2, 3}
    assert seen[2].tolist() == [n, n, *x[:-2].tolist()]
    assert seen[-3].tolist() == [*x[3:].tolist(), n, n, n]
    batch = np.stack([x, x])
    assert RandomTranslate(20)(batch, rng=rng(1)).shape == (2, 10)
    assert RandomTranslate(0)(x).tolist() == x.tolist()
    with pytest.raises(TypeError, match="expected int tokens"):
        RandomTranslate(1)(one_hot(x))
    with pytest.raises(ValueError, match="max_shift=-2"):
        RandomTranslate(-2)


def test_pad_to():
    x = encode("ACG")
    assert PadTo(5)(x).tolist() == [0, 1, 2, 5, 5]
    assert PadTo(5, side="left")(x).tolist() == [5, 5, 0, 1, 2]
    assert PadTo(4, value=4)(x).tolist() == [0, 1, 2, 4]
    with pytest.raises(ValueError, match="at most length=2"):
        PadTo(2)(x)
    with pytest.raises(ValueError, match="side='up'"):
        PadTo(2, side="up")


def test_random_mutation():
    x = encode("ACGTN" * 200)
    out = RandomMutation(0.5)(x, rng=rng(0))
    changed = out != x
    assert not changed[x == DNA.unknown_token].any()
    assert 300 < changed.sum() < 500  # about half of the 800 letters
    assert (out[changed] < 4).all()
    assert RandomMutation(0.0)(x, rng=rng(0)).tolist() == x.tolist()
    assert (RandomMutation(1.0)(x[:4], rng=rng(0)) != x[:4]).all()
    with pytest.raises(TypeError, match="expected int tokens"):
        RandomMutation(0.1)(np.zeros(3))


def test_to_tensor():
    if not hasattr(biotorch, "from_numpy"):
        pytest.skip("biotorch.from_numpy (tensor core) is not available yet")
    t = Compose([Encode(), OneHot(), ToTensor()])("ACGT")
    assert isinstance(t, biotorch.Tensor) and t.shape == (4, 4)
    np.testing.assert_array_equal(t.numpy(), np.eye(4, dtype=np.float32))
