"""Factories and random streams."""

import numpy as np
import pytest

import biotorch as bt


def test_filled_factories():
    assert bt.zeros(2, 3).tolist() == [[0.0] * 3] * 2
    assert bt.ones((2,)).dtype == bt.float32 and bt.ones([2, 2]).shape == (2, 2)
    assert bt.full((2,), 7).dtype == bt.int64 and bt.full((2,), 7.0).dtype == bt.float32
    assert bt.full((1,), True).dtype == bt.bool
    assert bt.empty(3, dtype=bt.int8).shape == (3,)
    x = bt.ones(2, 3, dtype=bt.float64)
    for f in (bt.zeros_like, bt.ones_like, bt.empty_like, bt.rand_like, bt.randn_like):
        y = f(x)
        assert y.shape == x.shape and y.dtype == bt.float64
    assert bt.full_like(x, 4).tolist() == [[4.0] * 3] * 2
    assert bt.zeros(2, requires_grad=True).requires_grad
    with pytest.raises(ValueError, match="non-negative"):
        bt.zeros(-1)


def test_ranges_and_eye():
    assert bt.arange(4).tolist() == [0, 1, 2, 3] and bt.arange(4).dtype == bt.int64
    assert (
        bt.arange(1, 2, 0.5).tolist() == [1.0, 1.5] and bt.arange(0.0, 1.0, 0.5).dtype == bt.float32
    )
    np.testing.assert_allclose(bt.linspace(0, 1, 5).numpy(), [0, 0.25, 0.5, 0.75, 1])
    assert bt.eye(2).tolist() == [[1.0, 0.0], [0.0, 1.0]] and bt.eye(2, 3).shape == (2, 3)
    with pytest.raises(ValueError, match="step"):
        bt.arange(0, 3, 0)


def test_random_factories_shapes_ranges_and_dtypes():
    u = bt.rand(1000)
    assert u.dtype == bt.float32 and 0 <= u.numpy().min() and u.numpy().max() < 1
    n = bt.randn(2000, dtype=bt.float64)
    assert abs(n.numpy().mean()) < 0.1 and abs(n.numpy().std() - 1) < 0.1
    r = bt.randint(3, 7, (500,))
    assert r.dtype == bt.int64 and set(r.tolist()) == {3, 4, 5, 6}
    assert bt.randint(5, (2, 2)).shape == (2, 2)
    assert sorted(bt.randperm(10).tolist()) == list(range(10))
    with pytest.raises(ValueError, match="low < high"):
        bt.randint(3, 3, (2,))
    with pytest.raises(TypeError, match="floating"):
        bt.rand(2, dtype=bt.int64)


def test_manual_seed_reproduces_streams():
    bt.manual_seed(123)
    a = (bt.rand(5).tolist(), bt.randn(3).tolist(), bt.randperm(6).tolist())
    bt.manual_seed(123)
    b = (bt.rand(5).tolist(), bt.randn(3).tolist(), bt.randperm(6).tolist())
    assert a == b
    bt.manual_seed(124)
    assert bt.rand(5).tolist() != a[0]


def test_generator_objects_are_independent_and_restorable():
    g = bt.Generator().manual_seed(7)
    first = bt.rand(4, generator=g).tolist()
    state = g.get_state()
    after = bt.rand(4, generator=g).tolist()
    g.set_state(state)
    assert bt.rand(4, generator=g).tolist() == after
    assert bt.rand(4, generator=bt.Generator().manual_seed(7)).tolist() == first
    assert g.initial_seed() == 7
    with pytest.raises(ValueError, match="generator state"):
        g.set_state(bt.tensor([1, 2, 3], dtype=bt.uint8))


def test_global_rng_state_round_trip():
    state = bt.get_rng_state()
    x = bt.randn(3).tolist()
    bt.set_rng_state(state)
    assert bt.randn(3).tolist() == x


def test_in_place_random_fills_use_the_generator():
    g = bt.Generator().manual_seed(1)
    x = bt.empty(1000).uniform_(-2, 3, generator=g)
    assert -2 <= x.numpy().min() and x.numpy().max() < 3
    y = bt.empty(2000, dtype=bt.float64).normal_(5.0, 0.5)
    assert abs(y.numpy().mean() - 5) < 0.1


@pytest.mark.gpu
def test_cuda_streams_are_reproducible():
    bt.manual_seed(3)
    a = bt.rand(5, device="cuda").tolist()
    bt.manual_seed(3)
    assert bt.rand(5, device="cuda").tolist() == a
    g = bt.Generator("cuda").manual_seed(9)
    state = g.get_state()
    x = bt.randn(4, device="cuda", generator=g).tolist()
    g.set_state(state)
    assert bt.randn(4, device="cuda", generator=g).tolist() == x
