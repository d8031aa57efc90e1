"""Shape ops: gradients, parity with torch, view semantics and error messages."""

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
from biotorch.ops.shape import _can_view


def _pad(m, *args, **kwargs):
    return m.nn.functional.pad(*args, **kwargs)


# (id, fn(module, *tensors) written once for biotorch and torch, input shapes)
CASES = [
    ("reshape", lambda m, x: x.reshape(4, -1), [(2, 3, 4)]),
    ("reshape_copy", lambda m, x: x.transpose(0, 1).reshape(-1), [(2, 3, 4)]),
    ("reshape_fn_0d", lambda m, x: m.reshape(x, (1, 1)), [()]),
    ("view", lambda m, x: x.view(6, 4), [(2, 3, 4)]),
    ("view_as", lambda m, x, y: x.view_as(y), [(2, 3), (6,)]),
    ("reshape_as", lambda m, x, y: x.t().reshape_as(y), [(2, 3), (6,)]),
    ("flatten", lambda m, x: x.flatten(1), [(2, 3, 5)]),
    ("flatten_0d", lambda m, x: x.flatten(), [()]),
    ("unflatten", lambda m, x: x.unflatten(1, (3, -1)), [(2, 15)]),
    ("squeeze_all", lambda m, x: x.squeeze(), [(1, 3, 1)]),
    ("squeeze_dims", lambda m, x: x.squeeze((0, 1)), [(1, 3, 1)]),
    ("unsqueeze", lambda m, x: x.unsqueeze(-1), [(2, 3)]),
    ("unsqueeze_0d", lambda m, x: x.unsqueeze(0), [()]),
    ("transpose", lambda m, x: x.transpose(0, -1), [(2, 3, 5)]),
    ("swapaxes", lambda m, x: m.swapaxes(x, 1, 2), [(2, 3, 5)]),
    ("permute", lambda m, x: x.permute(2, 0, 1), [(2, 3, 5)]),
    ("t", lambda m, x: x.t(), [(3, 2)]),
    ("t_1d", lambda m, x: x.t(), [(3,)]),
    ("movedim", lambda m, x: x.movedim((0, 1), (2, 0)), [(2, 3, 5)]),
    ("narrow", lambda m, x: x.narrow(1, -3, 2), [(2, 5)]),
    ("expand", lambda m, x: x.expand(2, 3, 4), [(3, 1)]),
    ("expand_keep", lambda m, x: x.expand(-1, 5), [(3, 1)]),
    ("expand_0d", lambda m, x: x.expand(3), [()]),
    ("expand_as", lambda m, x, y: x.expand_as(y), [(1, 3), (2, 3)]),
    ("repeat", lambda m, x: x.repeat(2, 1, 3), [(3, 2)]),
    ("repeat_0d", lambda m, x: x.repeat(2, 3), [()]),
    ("flip", lambda m, x: x.flip((0, 2)), [(2, 3, 5)]),
    ("roll_flat", lambda m, x: x.roll(4), [(2, 3)]),
    ("roll_dims", lambda m, x: x.roll((1, -2), (0, 2)), [(2, 3, 5)]),
    ("cat", lambda m, a, b, c: m.cat([a, b, c], 1), [(2, 3), (2, 1), (2, 4)]),
    ("concat_last", lambda m, a, b: m.concat((a, b), dim=-1), [(2, 3), (2, 2)]),
    ("stack", lambda m, a, b: m.stack([a, b], 1), [(2, 3), (2, 3)]),
    ("stack_0d", lambda m, a, b, c: m.stack([a, b, c]), [(), (), ()]),
    ("split_int", lambda m, x: x.split(2, 1), [(2, 5)]),
    ("split_sections", lambda m, x: m.split(x, [1, 3, 1], dim=1), [(2, 5)]),
    ("chunk", lambda m, x: x.chunk(3, 1), [(2, 5)]),
    ("tril", lambda m, x: x.tril(-1), [(3, 4)]),
    ("triu_batched", lambda m, x: m.triu(x, 1), [(2, 3, 4)]),
    ("pad_constant", lambda m, x: _pad(m, x, (1, 2), value=0.5), [(2, 3, 4)]),
    ("pad_constant_crop", lambda m, x: _pad(m, x, (1, 2, -1, 1, 0, 1)), [(2, 3, 4)]),
    ("pad_reflect", lambda m, x: _pad(m, x, (2, 1), mode="reflect"), [(2, 3, 5)]),
    ("pad_reflect_crop", lambda m, x: _pad(m, x, (-3, 3), mode="reflect"), [(2, 5)]),
    ("pad_reflect_2d", lambda m, x: _pad(m, x, (1, 2, 2, 1), mode="reflect"), [(2, 4, 5)]),
    ("pad_replicate", lambda m, x: _pad(m, x, (3, 1), mode="replicate"), [(2, 3, 4)]),
    (
        "pad_replicate_3d",
        lambda m, x: _pad(m, x, (1, 0, 0, 2, 1, 1), mode="replicate"),
        [(1, 2, 3, 3)],
    ),
    ("pad_circular", lambda m, x: _pad(m, x, (2, 3), mode="circular"), [(1, 2, 5)]),
]
IDS = [c[0] for c in CASES]


@pytest.mark.parametrize("name, fn, shapes", CASES, ids=IDS)
def test_gradcheck(name, fn, shapes):
    check_gradcheck(lambda *xs: fn(bt, *xs), *random_inputs(*shapes))


@needs_torch
@pytest.mark.parametrize("name, fn, shapes", CASES, ids=IDS)
def test_torch_parity(name, fn, shapes):
    check_torch_parity(lambda *xs: fn(bt, *xs), lambda *xs: fn(torch, *xs), *random_inputs(*shapes))


@pytest.mark.gpu
@pytest.mark.parametrize("name, fn, shapes", CASES, ids=IDS)
def test_gpu_matches_cpu(name, fn, shapes):
    check_gpu_matches_cpu(lambda *xs: fn(bt, *xs), *random_inputs(*shapes))


@pytest.mark.gpu
def test_cat_rejects_mixed_devices():
    with pytest.raises(RuntimeError, match="tensor 0 is on cpu and tensor 1 is on cuda:0"):
        bt.cat([bt.ones(2), bt.ones(2, device="cuda")])


# -- views -------------------------------------------------------------------------------------
def _shares(a, b) -> bool:
    return np.shares_memory(a._data, b._data)


@pytest.mark.parametrize(
    "fn",
    [
        lambda x: x.view(6, 4),
        lambda x: x.reshape(-1),
        lambda x: x.flatten(0, 1),
        lambda x: x.unflatten(2, (2, 2)),
        lambda x: x[None].squeeze(0),
        lambda x: x.unsqueeze(1),
        lambda x: x.transpose(0, 2),
        lambda x: x.permute(1, 2, 0),
        lambda x: x.movedim(0, -1),
        lambda x: x.narrow(2, 1, 2),
        lambda x: x[:, :1].expand(2, 5, 4),
        lambda x: x.split(1, 1)[2],
        lambda x: x.chunk(2, 2)[1],
    ],
)
def test_view_ops_share_storage_and_version(fn):
    x = bt.tensor(np.arange(24.0).reshape(2, 3, 4))
    y = fn(x)
    assert _shares(x, y)
    x.add_(1.0)
    assert y._version == x._version == 1


@pytest.mark.parametrize(
    "fn",
    [
        lambda x: x.flip(0),
        lambda x: x.roll(1, 0),
        lambda x: x.repeat(1, 1, 1),
        lambda x: x.tril(),
        lambda x: bt.cat([x]),
        lambda x: bt.stack([x]),
        lambda x: x.transpose(0, 1).reshape(-1),
    ],
)
def test_copying_ops_own_their_storage(fn):
    x = bt.tensor(np.arange(24.0).reshape(2, 3, 4))
    y = fn(x)
    assert not _shares(x, y) and y._base is None
    y.add_(1.0)
    assert x._version == 0 and x[0, 0, 0].item() == 0.0


def test_view_refuses_what_needs_a_copy():
    x = bt.randn(2, 3, 4)
    with pytest.raises(RuntimeError, match=r"view: shape \[24\] is not compatible.*reshape"):
        x.transpose(0, 1).view(-1)
    assert x.transpose(1, 2).view(2, 12 // 3, 3).shape == (2, 4, 3)  # merges nothing: allowed


def _view_cases():
    """(base, layout, target shape, whether _can_view allows the view): strided layouts of one
    (2, 3, 4, 5) array and the reshapes each can take."""
    base = np.arange(2 * 3 * 4 * 5.0).reshape(2, 3, 4, 5)
    layouts = [base, base.transpose(1, 0, 2, 3), base[:, ::2], base[..., 1:3], base[:, :1]]
    targets = [(-1,), (6, 20), (2, -1), (2, 3, 20), (1, 2, 1, -1), (-1, 5)]
    cases = []
    for a in layouts:
        for target in targets:
            try:
                shape = np.empty(a.shape).reshape(target).shape
            except ValueError:
                continue
            cases.append((base, a, shape, _can_view(a.shape, a.strides, shape)))
    assert len(cases) > 20
    return cases


def test_can_view_agrees_with_numpy():
    """Where the rule allows a view, NumPy's reshape gives one, and only there."""
    for _, a, shape, viewable in _view_cases():
        assert viewable == np.shares_memory(a, a.reshape(shape)), (a.strides, shape)


@needs_torch
def test_can_view_agrees_with_torch():
    """Where the rule refuses a view, torch's view refuses too, and only there."""
    for base, a, shape, viewable in _view_cases():
        strided = torch.from_numpy(np.ascontiguousarray(base)).as_strided(
            a.shape, [s // 8 for s in a.strides], (a.ctypes.data - base.ctypes.data) // 8
        )
        try:
            strided.view(shape)
        except RuntimeError:
            assert not viewable, (a.strides, shape)
        else:
            assert viewable, (a.strides, shape)


def test_reshape_errors():
    x = bt.zeros(2, 3)
    with pytest.raises(RuntimeError, match=r"reshape: shape \[4, -1\] is invalid for an input of"):
        x.reshape(4, -1)
    with pytest.raises(RuntimeError, match="only one dimension can be -1"):
        x.view(-1, -1)
    with pytest.raises(RuntimeError, match=r"unflatten \(dim 1\): shape \[2, 2\]"):
        x.unflatten(1, (2, 2))
    with pytest.raises(RuntimeError, match="start_dim 1 comes after end_dim 0"):
        x.flatten(1, 0)


# -- cat / stack -------------------------------------------------------------------------------
@needs_torch
@pytest.mark.parametrize(
    "dtypes",
    [("int64", "float32"), ("bool", "int32"), ("float32", "float64"), ("uint8", "int8")],
)
def test_cat_and_stack_promote_like_torch(dtypes):
    bts = [bt.ones(2, 3, dtype=d) for d in dtypes]
    ths = [torch.ones(2, 3, dtype=getattr(torch, d)) for d in dtypes]
    assert bt.cat(bts).dtype.name == str(torch.cat(ths).dtype).removeprefix("torch.")
    assert bt.stack(bts).dtype.name == str(torch.stack(ths).dtype).removeprefix("torch.")


def test_cat_promotion_keeps_gradients():
    a = bt.ones(2, dtype=bt.float32, requires_grad=True)
    b = bt.ones(3, dtype=bt.float64, requires_grad=True)
    out = bt.cat([a, b])
    assert out.dtype == bt.float64
    (out * bt.arange(5.0, dtype=bt.float64)).sum().backward()
    assert a.grad.dtype == bt.float32 and a.grad.tolist() == [0.0, 1.0]
    assert b.grad.tolist() == [2.0, 3.0, 4.0]


def test_cat_skips_empty_1d_like_torch():
    x = bt.randn(2, 3)
    out = bt.cat([bt.zeros(0, dtype=bt.float64), x])
    assert out.shape == (2, 3) and out.dtype == bt.float64


@pytest.mark.parametrize(
    "call, error, match",
    [
        (
            lambda: bt.cat([bt.zeros(2, 2), bt.zeros(2, 3)]),
            RuntimeError,
            "except in dimension 0: tensor 0 has size 2 in dimension 1 but tensor 1 has 3",
        ),
        (
            lambda: bt.cat([bt.zeros(2, 2), bt.zeros(2, 2, 1)]),
            RuntimeError,
            "tensor 0 has 2 and tensor 1 has 3",
        ),
        (lambda: bt.cat([bt.zeros(2), bt.zeros(())]), RuntimeError, "tensor 0 is 0-d|tensor 1"),
        (lambda: bt.cat([]), RuntimeError, "non-empty"),
        (lambda: bt.cat(bt.zeros(2)), TypeError, "sequence of Tensors"),
        (lambda: bt.cat([bt.zeros(2), [1.0]]), TypeError, r"tensors\[1\] is a list"),
        (lambda: bt.cat([bt.zeros(2)], dim=1), IndexError, "dim 1 is out of range"),
        (
            lambda: bt.stack([bt.zeros(2), bt.zeros(3)]),
            RuntimeError,
            r"got \[2\] at entry 0 and \[3\] at entry 1",
        ),
    ],
)
def test_cat_stack_errors(call, error, match):
    with pytest.raises(error, match=match):
        call()


# -- split / chunk -----------------------------------------------------------------------------
@needs_torch
@pytest.mark.parametrize("n", range(8))
def test_split_and_chunk_sizes_match_torch(n):
    x, tx = bt.zeros(n, 2), torch.zeros(n, 2)
    for k in range(1, 5):
        assert [p.shape for p in x.chunk(k)] == [tuple(p.shape) for p in tx.chunk(k)]
        if n:
            assert [p.shape for p in x.split(k)] == [tuple(p.shape) for p in tx.split(k)]


def test_split_gradient_with_unused_pieces():
    x = bt.randn(2, 5, requires_grad=True)
    a, _, c = x.split([2, 1, 2], dim=1)
    (a.sum() + 2 * c.sum()).backward()
    assert x.grad.tolist() == [[1.0, 1.0, 0.0, 2.0, 2.0]] * 2


def test_split_errors():
    with pytest.raises(RuntimeError, match=r"sections \[2, 2\] must be non-negative and add up"):
        bt.zeros(5).split([2, 2])
    with pytest.raises(RuntimeError, match="split_size must be positive"):
        bt.zeros(5).split(0)
    with pytest.raises(RuntimeError, match="chunks must be positive"):
        bt.zeros(5).chunk(0)


# -- argument errors ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda x: x.expand(2, 4), RuntimeError, "expanded size 4 must match the existing size 3"),
        (lambda x: x.expand(3), RuntimeError, "got 1 sizes"),
        (lambda x: x.expand(-1, 2, 3), RuntimeError, "size -1 is not allowed in new leading"),
        (lambda x: x.repeat(2), RuntimeError, "at least 2 non-negative repeat counts"),
        (lambda x: x.narrow(1, 2, 2), RuntimeError, r"start \(2\) \+ length \(2\) exceeds"),
        (lambda x: x.narrow(1, 4, 0), IndexError, "start 4 is out of range"),
        (lambda x: x.squeeze(2), IndexError, "squeeze: dimension 2 is out of range"),
        (lambda x: x.unsqueeze(3), IndexError, "unsqueeze: dim 3 is out of range"),
        (lambda x: x.transpose(0, 2), IndexError, "transpose: dim 2 is out of range"),
        (lambda x: x.permute(0, 0), RuntimeError, "not a permutation"),
        (lambda x: x.flip((0, -2)), RuntimeError, "appears more than once"),
        (lambda x: x.movedim((0, 1), (1, 1)), RuntimeError, r"repeated dim in destination"),
        (lambda x: x.roll((1, 2), 0), RuntimeError, "must have the same length"),
        (lambda x: x[0].tril(), RuntimeError, "tril: input must have at least 2 dimensions"),
        (lambda x: x[None].t(), RuntimeError, "t: expects a tensor with <= 2 dimensions"),
    ],
)
def test_shape_argument_errors(call, error, match):
    with pytest.raises(error, match=match):
        call(bt.zeros(2, 3))


PAD_ERRORS = [
    ((2, 3), (1,), {}, "even length"),
    ((2, 3), (1, 1, 1, 1, 1, 1), {}, "even length of at most 2 \\* 2"),
    ((2, 5), (-3, -3), {}, r"padding \(-3, -3\) is invalid for dimension 1 of size 5"),
    ((2, 3, 5), (5, 2), {"mode": "reflect"}, "in mode 'reflect' \\(at most 4\\)"),
    ((2, 3, 5), (6, 0), {"mode": "circular"}, "in mode 'circular' \\(at most 5\\)"),
    ((5,), (1, 1), {"mode": "replicate"}, "pads the last 1 to 3 dimensions"),
    ((2, 3, 5), (1, 1), {"mode": "reflect", "value": 1.0}, "doesn't take a value"),
]


@pytest.mark.parametrize("shape, pad, kwargs, match", PAD_ERRORS)
def test_pad_errors(shape, pad, kwargs, match):
    with pytest.raises(RuntimeError, match=match):
        bt.nn.functional.pad(bt.zeros(*shape), pad, **kwargs)


@needs_torch
@pytest.mark.parametrize("shape, pad, kwargs, match", PAD_ERRORS)
def test_pad_errors_are_torch_errors(shape, pad, kwargs, match):
    with pytest.raises((RuntimeError, NotImplementedError)):
        torch.nn.functional.pad(torch.zeros(*shape), pad, **kwargs)


def test_pad_unknown_mode():
    with pytest.raises(NotImplementedError, match="mode 'foo' is not supported"):
        bt.nn.functional.pad(bt.zeros(2, 3), (1, 1), mode="foo")


def test_pad_constant_keeps_integer_dtype():
    out = bt.nn.functional.pad(bt.arange(3), (1, 1), value=7)
    assert out.dtype == bt.int64 and out.tolist() == [7, 0, 1, 2, 7]
