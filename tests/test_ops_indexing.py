"""Indexing ops: x[key], x[key] = v, gather/scatter and masks, against torch."""

import numpy as np
import pytest
from harness import (
    check_gpu_matches_cpu,
    check_gradcheck,
    check_torch_parity,
    needs_torch,
    random_inputs,
    torch,
)

import biotorch as bt
from biotorch.nn import functional as F

MASK1 = [True, False, True]
MASK2 = [[True, False, False, True], [False, False, True, True], [True, True, False, False]]

# Keys for an input of shape (3, 4, 5), built for either module (tensors need its constructor).
KEYS = [
    ("int", lambda m: 1),
    ("negative_int", lambda m: -1),
    ("ints", lambda m: (1, -2)),
    ("slice", lambda m: slice(1, 3)),
    ("step", lambda m: (slice(None, None, 2), 1)),
    ("none_ellipsis", lambda m: (None, 1, ..., None)),
    ("ellipsis_int", lambda m: (..., 2)),
    ("all_ints_0d", lambda m: (0, 1, 2)),
    ("list_repeated", lambda m: [0, 2, 2, -1]),
    ("tensor_pair", lambda m: (m.tensor([0, 2]), m.tensor([1, 3]))),
    ("broadcast_pair", lambda m: (m.tensor([[0], [2]]), m.tensor([1, 3, 3]))),
    ("slice_then_array", lambda m: (slice(None), [0, 0, 3])),
    ("int_first", lambda m: (0, slice(None), m.tensor([1, 2]))),
    ("separated", lambda m: ([0, 1], slice(None), [2, 3])),
    ("mask_dim0", lambda m: m.tensor(MASK1)),
    ("mask_2d", lambda m: m.tensor(MASK2)),
    ("slice_mask", lambda m: (slice(1, None), m.tensor([True, False, True, True]))),
    ("int_mask_array", lambda m: (0, m.tensor([True, False, True, True]), [0, 4, 4])),
    ("tensor_0d", lambda m: m.tensor(2)),
    ("true", lambda m: True),
    ("ellipsis_none", lambda m: (..., None)),
    ("empty_list", lambda m: []),
]
KEY_IDS = [k[0] for k in KEYS]


@needs_torch
@pytest.mark.parametrize("name, key", KEYS, ids=KEY_IDS)
def test_getitem_matches_torch(name, key):
    (x,) = random_inputs((3, 4, 5))
    check_torch_parity(lambda t: t[key(bt)], lambda t: t[key(torch)], x)


@pytest.mark.parametrize("name, key", KEYS[::3], ids=KEY_IDS[::3])
def test_getitem_gradcheck(name, key):
    check_gradcheck(lambda t: t[key(bt)], *random_inputs((3, 4, 5)))


# Values for x[key] = value on a (3, 4, 5) non-leaf: (id, key, value shape or None for a number)
SETS = [
    ("basic", lambda m: (1, slice(1, 3)), (2, 5)),
    ("basic_broadcast", lambda m: (slice(None), 0), (5,)),
    ("number", lambda m: (..., 2), None),
    ("advanced", lambda m: ([0, 2], slice(None), [1, 4]), (2, 4)),
    ("int_first", lambda m: (0, slice(None), m.tensor([1, 2])), (1, 2)),
    ("mask", lambda m: m.tensor(MASK2), (1, 5)),
    ("leading_ones", lambda m: 1, (1, 1, 4, 5)),
]


def _set_on_non_leaf(m, key, x, *value):
    """``(2x)[key] = value`` (or 3.5), squared, in module ``m``."""
    z = x * 2.0
    z[key(m)] = value[0] if value else 3.5
    return z * z


@needs_torch
@pytest.mark.parametrize("name, key, vshape", SETS, ids=[s[0] for s in SETS])
def test_setitem_on_non_leaf_matches_torch(name, key, vshape):
    arrays = random_inputs((3, 4, 5), *([vshape] if vshape else []))
    check_torch_parity(
        lambda *a: _set_on_non_leaf(bt, key, *a),
        lambda *a: _set_on_non_leaf(torch, key, *a),
        *arrays,
    )


@pytest.mark.parametrize("name, key, vshape", SETS, ids=[s[0] for s in SETS])
def test_setitem_on_non_leaf_gradcheck(name, key, vshape):
    arrays = random_inputs((3, 4, 5), *([vshape] if vshape else []))
    check_gradcheck(lambda *a: _set_on_non_leaf(bt, key, *a), *arrays)


def test_setitem_on_leaf_requiring_grad_raises():
    x = bt.zeros(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf tensor that requires grad"):
        x[0] = 1.0
    with bt.no_grad():
        x[0] = 1.0
    assert x.tolist() == [1.0, 0.0, 0.0] and x._version == 1


def test_setitem_value_gets_gradient_through_a_no_grad_tensor():
    x = bt.zeros(2, 3)
    v = bt.tensor([1.0, 2.0, 3.0], requires_grad=True)
    x[1] = v
    assert x.grad_fn is not None
    (x * bt.tensor([[1.0], [5.0]])).sum().backward()
    assert v.grad.tolist() == [5.0, 5.0, 5.0]


def test_setitem_reads_value_before_writing():
    x = bt.arange(5.0)
    x[1:] = x[:-1]
    assert x.tolist() == [0.0, 0.0, 1.0, 2.0, 3.0]


def test_setitem_casts_to_the_tensor_dtype():
    x = bt.zeros(3, dtype=bt.int64)
    x[0] = 2.7
    x[1:] = bt.tensor([1.9, -1.9])
    assert x.tolist() == [2, 1, -1]  # truncated toward zero, as torch's .long()


def test_basic_index_is_a_view_and_advanced_a_copy():
    x = bt.arange(12.0).reshape(3, 4)
    row, item, picked = x[1], x[1, 2], x[[1]]
    assert np.shares_memory(row._data, x._data) and np.shares_memory(item._data, x._data)
    assert not np.shares_memory(picked._data, x._data)
    row.mul_(10.0)
    assert x[1].tolist() == [40.0, 50.0, 60.0, 70.0] and item.item() == 60.0
    assert x._version == row._version == 1 and picked[0, 0].item() == 4.0


@needs_torch
def test_index_put_accumulate_matches_torch():
    x, v = random_inputs((4, 3), (5, 3))
    idx = [0, 2, 0, 0, 3]
    check_torch_parity(
        lambda a, b: bt.index_put(a, (bt.tensor(idx),), b, accumulate=True),
        lambda a, b: torch.index_put(a, (torch.tensor(idx),), b, accumulate=True),
        x,
        v,
    )


@pytest.mark.parametrize(
    "key, error, match",
    [
        (slice(None, None, -1), ValueError, "step must be greater than zero"),
        ((0, 7), IndexError, "index 7 is out of bounds for dimension 1 with size 4"),
        (
            (slice(None), [0, -5]),
            IndexError,
            "index -5 is out of bounds for dimension 1 with size 4",
        ),
        ((0, 0, 0), IndexError, "too many indices for a tensor of dimension 2"),
        ((..., 0, ...), IndexError, "single ellipsis"),
        ([True, False], IndexError, r"mask \[2\] at index 0 does not match .* \[3, 4\]"),
        ([1.0], IndexError, "must be integer or bool, got float"),
        ("a", IndexError, "got str"),
    ],
)
def test_index_errors(key, error, match):
    with pytest.raises(error, match=match):
        bt.zeros(3, 4)[key]


def test_setitem_shape_mismatch_names_both_shapes():
    x = bt.zeros(3)
    with pytest.raises(RuntimeError, match=r"value of shape \[3\] .* result of shape \[2\]"):
        x[[0, 1]] = bt.ones(3)


# -- gather and friends -----------------------------------------------------------------------
IDX = np.array([[0, 2, 2, 1], [1, 1, 0, 0], [2, 0, 1, 2]])


def _t(m, a):
    return m.tensor(a)


OPS = [
    ("gather", lambda m, x: m.gather(x, 1, _t(m, IDX[:, :3])), [(3, 4)]),
    ("gather_dim0", lambda m, x: x.gather(0, _t(m, IDX[:2])), [(3, 4)]),
    ("gather_larger_dim", lambda m, x: x.gather(1, _t(m, IDX[:2])), [(3, 3)]),
    ("scatter", lambda m, x, s: x.scatter(0, _t(m, [[2, 0, 1, 0]]), s), [(3, 4), (1, 4)]),
    ("scatter_value", lambda m, x: x.scatter(1, _t(m, [[0], [3], [1]]), 2.5), [(3, 4)]),
    ("scatter_add", lambda m, x, s: x.scatter_add(1, _t(m, IDX), s), [(3, 4), (3, 4)]),
    ("index_select", lambda m, x: x.index_select(1, _t(m, [3, 0, 3])), [(3, 4)]),
    ("index_select_0d", lambda m, x: m.index_select(x, 0, _t(m, 2)), [(3, 4)]),
    ("take_along_dim", lambda m, x: m.take_along_dim(x, _t(m, IDX), 1), [(3, 4)]),
    ("take_along_bcast", lambda m, x: m.take_along_dim(x, _t(m, [[1, -1]]), 1), [(3, 4)]),
    ("take_along_flat", lambda m, x: m.take_along_dim(x, _t(m, [5, 0, 5])), [(3, 4)]),
    ("masked_fill", lambda m, x: x.masked_fill(_t(m, MASK2[0]), -1.5), [(3, 4)]),
    ("masked_fill_bcast", lambda m, x: x.masked_fill(_t(m, MASK2), 2.0), [(4,)]),
    ("masked_fill_tensor", lambda m, x, v: x.masked_fill(_t(m, MASK2), v), [(3, 4), ()]),
    ("masked_select", lambda m, x: x.masked_select(_t(m, MASK2)), [(3, 4)]),
    ("masked_select_bcast", lambda m, x: m.masked_select(x, _t(m, MASK1)), [(2, 1)]),
]
OP_IDS = [o[0] for o in OPS]


@pytest.mark.parametrize("name, fn, shapes", OPS, ids=OP_IDS)
def test_op_gradcheck(name, fn, shapes):
    check_gradcheck(lambda *xs: fn(bt, *xs), *random_inputs(*shapes))


@needs_torch
@pytest.mark.parametrize("name, fn, shapes", OPS, ids=OP_IDS)
def test_op_torch_parity(name, fn, shapes):
    arrays = random_inputs(*shapes)
    check_torch_parity(lambda *xs: fn(bt, *xs), lambda *xs: fn(torch, *xs), *arrays)


@pytest.mark.parametrize("name", ["scatter", "scatter_add"])
def test_scatter_from_a_larger_src_gradcheck(name):
    """Only src's leading index-shaped block is read, and only it gets gradient (torch's own
    backward rejects a larger src, so gradients are checked by finite differences alone)."""
    index = [[0, 2], [1, 0]]
    op = getattr(bt, name)
    check_gradcheck(lambda x, s: op(x, 1, bt.tensor(index), s), *random_inputs((3, 4), (2, 5)))


@needs_torch
@pytest.mark.parametrize("name", ["scatter", "scatter_add"])
def test_scatter_from_a_larger_src(name):
    """Only src's leading index-shaped block is read, as torch."""
    index = [[0, 2], [1, 0]]
    ours = getattr(bt, name)(bt.zeros(2, 3), 1, bt.tensor(index), bt.arange(10.0).reshape(2, 5))
    ref = getattr(torch, name)(
        torch.zeros(2, 3), 1, torch.tensor(index), torch.arange(10.0).view(2, 5)
    )
    assert ours.tolist() == ref.tolist()


@pytest.mark.parametrize("device", ["cpu", pytest.param("cuda", marks=pytest.mark.gpu)])
def test_integer_scatter_add_and_accumulate_are_exact(device):
    """int64 has no CUDA atomicAdd: the GPU falls back to an exact host computation."""
    big = 2**53 + 1
    x = bt.full((2, 3), big, dtype=bt.int64).to(device)
    index = bt.tensor([[0, 0, 2], [1, 1, 1]]).to(device)
    src = bt.tensor([[1, 2, 3], [4, 5, 6]]).to(device)
    out = x.scatter_add(1, index, src).tolist()
    assert out == [[big + 3, big, big + 3], [big, big + 15, big]]
    acc = bt.index_put(x, (bt.tensor([1, 1]).to(device),), bt.tensor([[1], [2]]).to(device), True)
    assert acc.tolist()[1] == [big + 3] * 3


def test_masked_fill_inplace_and_integer_tensor():
    x = bt.zeros(2, 3, dtype=bt.int64)
    x.masked_fill_(bt.tensor([True, False, True]), 1.5)
    assert x.tolist() == [[1, 0, 1], [1, 0, 1]]  # the value cast to int64, as torch


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda x: x.gather(1, bt.tensor([[4]])), IndexError, "index 4 is out of bounds for dim"),
        (lambda x: x.gather(1, bt.tensor([[-1]])), IndexError, "index -1 is out of bounds"),
        (lambda x: x.gather(1, bt.tensor([0])), RuntimeError, "index has 1 dimensions but input"),
        (lambda x: x.gather(1, bt.tensor([[0.0]])), TypeError, "integer Tensor for 'index'"),
        (lambda x: x.gather(1, bt.tensor([[0]] * 4)), RuntimeError, "larger than input"),
        (
            lambda x: x.scatter(1, bt.tensor([[0]]), bt.ones(1, 1, dtype=bt.float64)),
            RuntimeError,
            "src has dtype float64 but input has float32",
        ),
        (
            lambda x: x.scatter(1, bt.tensor([[0, 1]]), bt.ones(1, 1)),
            RuntimeError,
            "larger than src",
        ),
        (lambda x: x.scatter(1, bt.tensor([[0]])), TypeError, "exactly one of 'src' and 'value'"),
        (lambda x: x.index_select(1, bt.tensor([[0]])), IndexError, "must be 1-d or 0-d"),
        (lambda x: x.index_select(0, bt.tensor([3])), IndexError, "index 3 is out of bounds"),
        (lambda x: x.masked_fill(bt.ones(4), 1.0), RuntimeError, "bool Tensor for 'mask'"),
        (
            lambda x: x.masked_fill(bt.ones(4, dtype=bt.bool), bt.ones(1)),
            RuntimeError,
            "0-d tensor",
        ),
        (lambda x: x.masked_select(bt.ones(4)), RuntimeError, "bool Tensor for 'mask'"),
        (
            lambda x: bt.take_along_dim(x, bt.tensor([0]), 1),
            RuntimeError,
            "same number of dimensions",
        ),
        (lambda x: bt.gather(x[0, 0], 0, bt.tensor(0)), RuntimeError, "at least one dimension"),
    ],
)
def test_gather_family_errors(call, error, match):
    with pytest.raises(error, match=match):
        call(bt.zeros(3, 4))


# -- integer outputs ---------------------------------------------------------------------------
@needs_torch
@pytest.mark.parametrize(
    "data", [np.array([[0, 1.5, 0], [2, 0, -1]]), np.array([0.0, 3.0]), np.array(5.0)]
)
@pytest.mark.parametrize("as_tuple", [False, True])
def test_nonzero_matches_torch(data, as_tuple):
    ours = bt.nonzero(bt.tensor(data), as_tuple=as_tuple)
    ref = torch.nonzero(torch.tensor(data), as_tuple=as_tuple)
    ours, ref = (ours, ref) if as_tuple else ((ours,), (ref,))
    for o, r in zip(ours, ref, strict=True):
        assert o.dtype == bt.int64 and o.shape == tuple(r.shape) and o.tolist() == r.tolist()


@needs_torch
@pytest.mark.parametrize("num_classes", [-1, 6])
def test_one_hot_matches_torch(num_classes):
    labels = [[0, 3], [2, 2]]
    ours = F.one_hot(bt.tensor(labels), num_classes)
    ref = torch.nn.functional.one_hot(torch.tensor(labels), num_classes)
    assert ours.dtype == bt.int64 and ours.tolist() == ref.tolist()


@pytest.mark.parametrize(
    "labels, num_classes, match",
    [
        ([1, 3], 3, r"class values must be in \[0, 3\), got 3"),
        ([1, -1], 3, "got -1"),
        ([], -1, "cannot infer num_classes"),
    ],
)
def test_one_hot_errors(labels, num_classes, match):
    with pytest.raises(RuntimeError, match=match):
        F.one_hot(bt.tensor(labels, dtype=bt.int64), num_classes)
    with pytest.raises(RuntimeError, match="int64"):
        F.one_hot(bt.tensor([1.0]))


# -- GPU ---------------------------------------------------------------------------------------
@pytest.mark.gpu
@pytest.mark.parametrize("name, key", KEYS, ids=KEY_IDS)
def test_getitem_gpu_matches_cpu(name, key):
    def fn(x):
        k = key(bt)
        k = (
            tuple(i.to(x.device) if isinstance(i, bt.Tensor) else i for i in k)
            if isinstance(k, tuple)
            else (k.to(x.device) if isinstance(k, bt.Tensor) else k)
        )
        return x[k]

    check_gpu_matches_cpu(fn, *random_inputs((3, 4, 5)))


def _on_device(fn):
    """Run ``fn(bt, *xs)`` with every tensor it builds moved to the inputs' device."""

    class Module:
        def __getattr__(self, name):
            return getattr(bt, name)

        def tensor(self, data):
            return bt.tensor(data).to(Module.device)

    def run(*xs):
        Module.device = xs[0].device
        return fn(Module(), *xs)

    return run


@pytest.mark.gpu
@pytest.mark.parametrize("name, fn, shapes", OPS, ids=OP_IDS)
def test_op_gpu_matches_cpu(name, fn, shapes):
    check_gpu_matches_cpu(_on_device(fn), *random_inputs(*shapes))


@pytest.mark.gpu
def test_setitem_accumulate_gpu_matches_cpu():
    def fn(x, v):
        idx = bt.tensor([0, 2, 0, 0, 3]).to(x.device)
        z = x * 1.0
        z[idx, 1:] = v
        return bt.index_put(z, (idx,), v, accumulate=True)

    check_gpu_matches_cpu(fn, *random_inputs((4, 3), (5, 2)))


@pytest.mark.gpu
def test_gpu_index_errors():
    x = bt.zeros(3, 4, device="cuda")
    with pytest.raises(IndexError, match="index 9 is out of bounds for dimension 1 with size 4"):
        x[:, bt.tensor([0, 9], device="cuda")]
    with pytest.raises(RuntimeError, match="index tensor is on cpu"):
        x[bt.tensor([0])]
