"""Recurrent layers and packing utilities: parity with torch.nn (torch's weights loaded through
``load_state_dict``), float64 gradchecks through the fused recurrence, padding invariance of
packed batches, errors, and GPU vs CPU."""

import numpy as np
import pytest
from harness import check_gpu_matches_cpu, needs_torch, torch

import biotorch
from biotorch import nn
from biotorch.nn.utils import rnn as R

LAYERS = {"RNN": {}, "RNN_relu": {"nonlinearity": "relu"}, "LSTM": {}, "GRU": {}}


def _pair(kind, *args, **kwargs):
    """The same layer in torch and biotorch, biotorch holding torch's weights."""
    name = kind.split("_")[0]
    kwargs = {**LAYERS[kind], **kwargs}
    torch.manual_seed(0)
    tm = getattr(torch.nn, name)(*args, **kwargs)
    bm = getattr(nn, name)(*args, **kwargs)
    bm.load_state_dict({k: biotorch.tensor(v.detach().numpy()) for k, v in tm.state_dict().items()})
    return tm, bm


def _states(kind, shape, rng):
    """Random initial state(s) as NumPy arrays: ``[h0]`` or ``[h0, c0]``."""
    n = 2 if kind == "LSTM" else 1
    return [rng.standard_normal(shape).astype(np.float32) for _ in range(n)]


def _pack_hx(states, lib):
    tensors = [lib.tensor(s, requires_grad=True) for s in states]
    return tensors, (tuple(tensors) if len(tensors) == 2 else tensors[0])


def _flat(out):
    """Output and final state(s) of a recurrent layer as a flat list."""
    output, hx = out
    return [output, *(hx if isinstance(hx, tuple) else (hx,))]


def _compare(bt_outs, th_outs, bt_leaves, th_leaves, rtol=1e-4, atol=1e-5, seed=3):
    """Forward values, then the gradients of every leaf for random upstream gradients."""
    rng = np.random.default_rng(seed)
    upstream = []
    for b, t in zip(bt_outs, th_outs, strict=True):
        assert tuple(b.shape) == tuple(t.shape)
        np.testing.assert_allclose(b.detach().numpy(), t.detach().numpy(), rtol=rtol, atol=atol)
        upstream.append(rng.standard_normal(tuple(t.shape)).astype(np.float32))
    biotorch.autograd.backward(list(bt_outs), [biotorch.tensor(u) for u in upstream])
    torch.autograd.backward(list(th_outs), [torch.tensor(u) for u in upstream])
    for i, (b, t) in enumerate(zip(bt_leaves, th_leaves, strict=True)):
        assert b.grad is not None, f"leaf {i}: no gradient"
        np.testing.assert_allclose(
            b.grad.numpy(), t.grad.numpy(), rtol=rtol, atol=atol, err_msg=f"grad of leaf {i}"
        )


@needs_torch
@pytest.mark.parametrize("kind", list(LAYERS))
@pytest.mark.parametrize("num_layers", [1, 2])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("batch_first,with_state", [(False, False), (True, True)])
def test_layer_matches_torch(kind, num_layers, bidirectional, batch_first, with_state):
    tm, bm = _pair(kind, 5, 6, num_layers, batch_first=batch_first, bidirectional=bidirectional)
    bm.flatten_parameters()
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, 4, 5) if batch_first else (4, 3, 5)).astype(np.float32)
    bx, tx = biotorch.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    b_leaves, t_leaves = [bx], [tx]
    b_hx = t_hx = None
    if with_state:
        states = _states(kind, (num_layers * (1 + bidirectional), 3, 6), rng)
        b_st, b_hx = _pack_hx(states, biotorch)
        t_st, t_hx = _pack_hx(states, torch)
        b_leaves += b_st
        t_leaves += t_st
    b_leaves += list(bm.parameters())
    t_leaves += list(tm.parameters())
    _compare(_flat(bm(bx, b_hx)), _flat(tm(tx, t_hx)), b_leaves, t_leaves)


@needs_torch
def test_parameter_names_and_shapes_match_torch():
    tm = torch.nn.LSTM(5, 6, 2, bidirectional=True)
    bm = nn.LSTM(5, 6, 2, bidirectional=True)
    assert [(k, tuple(v.shape)) for k, v in bm.named_parameters()] == [
        (k, tuple(v.shape)) for k, v in tm.named_parameters()
    ]


def test_parameter_init_and_bias_free_names():
    bm = nn.LSTM(5, 6, 2, bidirectional=True)
    bound = 1 / np.sqrt(6)
    values = np.concatenate([p.detach().numpy().ravel() for p in bm.parameters()])
    assert np.abs(values).max() <= bound and np.abs(values).max() > 0.9 * bound
    assert [k for k, _ in nn.GRU(3, 4, bias=False).named_parameters()] == [
        "weight_ih_l0",
        "weight_hh_l0",
    ]


@needs_torch
@pytest.mark.parametrize(
    "kind,kwargs",
    [
        ("LSTM", {"num_layers": 2, "bidirectional": True, "dropout": 0.3}),
        ("GRU", {"num_layers": 1, "bias": False, "batch_first": True}),
        ("RNN_relu", {"bidirectional": True}),
    ],
)
def test_repr_matches_torch(kind, kwargs):
    tm, bm = _pair(kind, 5, 6, **kwargs)
    assert repr(bm) == repr(tm)


@needs_torch
@pytest.mark.parametrize("kind", ["LSTM", "GRU", "RNN"])
@pytest.mark.parametrize("enforce_sorted", [True, False])
@pytest.mark.parametrize("batch_first", [False, True])
def test_packed_bidirectional_two_layers_match_torch(kind, enforce_sorted, batch_first):
    lengths = [6, 4, 4, 2, 1] if enforce_sorted else [2, 6, 1, 4, 4]
    tm, bm = _pair(kind, 3, 5, 2, batch_first=batch_first, bidirectional=True)
    rng = np.random.default_rng(2)
    shape = (5, 6, 3) if batch_first else (6, 5, 3)
    x = rng.standard_normal(shape).astype(np.float32)
    states = _states(kind, (4, 5, 5), rng)
    bx, tx = biotorch.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    b_st, b_hx = _pack_hx(states, biotorch)
    t_st, t_hx = _pack_hx(states, torch)
    bp = R.pack_padded_sequence(bx, lengths, batch_first, enforce_sorted)
    tp = torch.nn.utils.rnn.pack_padded_sequence(
        tx, torch.tensor(lengths), batch_first, enforce_sorted
    )
    b_out, b_hn = bm(bp, b_hx)
    t_out, t_hn = tm(tp, t_hx)
    np.testing.assert_array_equal(b_out.batch_sizes.numpy(), t_out.batch_sizes.numpy())
    b_pad, b_len = R.pad_packed_sequence(b_out, batch_first)
    t_pad, t_len = torch.nn.utils.rnn.pad_packed_sequence(t_out, batch_first)
    np.testing.assert_array_equal(b_len.numpy(), t_len.numpy())
    b_leaves = [bx, *b_st, *bm.parameters()]
    t_leaves = [tx, *t_st, *tm.parameters()]
    _compare(_flat((b_pad, b_hn)), _flat((t_pad, t_hn)), b_leaves, t_leaves)


@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
def test_padding_never_influences_packed_results(kind):
    bm = getattr(nn, kind)(3, 4, 2, bidirectional=True)
    rng = np.random.default_rng(4)
    lengths = [5, 2, 3]
    x = rng.standard_normal((5, 3, 3)).astype(np.float32)
    results = []
    for fill in (0.0, 1e3):
        xf = x.copy()
        for j, n in enumerate(lengths):
            xf[n:, j] = fill
        bx = biotorch.tensor(xf, requires_grad=True)
        packed = R.pack_padded_sequence(bx, lengths, enforce_sorted=False)
        out, hx = bm(packed)
        flat = [R.pad_packed_sequence(out)[0], *(hx if isinstance(hx, tuple) else (hx,))]
        sum(o.sum() for o in flat).backward()
        results.append([o.detach().numpy() for o in flat] + [bx.grad.numpy()])
        for j, n in enumerate(lengths):
            assert not np.any(bx.grad.numpy()[n:, j])
            assert not np.any(flat[0].detach().numpy()[n:, j])
    for a, b in zip(*results, strict=True):
        np.testing.assert_array_equal(a, b)


@needs_torch
@pytest.mark.parametrize("kind", list(LAYERS))
def test_unbatched_input_matches_torch(kind):
    tm, bm = _pair(kind, 3, 4, 2, bidirectional=True)
    rng = np.random.default_rng(5)
    x = rng.standard_normal((5, 3)).astype(np.float32)
    states = _states(kind, (4, 4), rng)
    bx, tx = biotorch.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    b_st, b_hx = _pack_hx(states, biotorch)
    t_st, t_hx = _pack_hx(states, torch)
    _compare(_flat(bm(bx, b_hx)), _flat(tm(tx, t_hx)), [bx, *b_st], [tx, *t_st])


@needs_torch
@pytest.mark.parametrize("kind", ["RNNCell", "LSTMCell", "GRUCell"])
@pytest.mark.parametrize("batched,with_state", [(True, True), (True, False), (False, True)])
def test_cells_match_torch(kind, batched, with_state):
    torch.manual_seed(0)
    tm = getattr(torch.nn, kind)(3, 4)
    bm = getattr(nn, kind)(3, 4)
    bm.load_state_dict({k: biotorch.tensor(v.detach().numpy()) for k, v in tm.state_dict().items()})
    rng = np.random.default_rng(6)
    lead = (2,) if batched else ()
    x = rng.standard_normal((*lead, 3)).astype(np.float32)
    states = _states("LSTM" if kind == "LSTMCell" else kind, (*lead, 4), rng)
    bx, tx = biotorch.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    b_leaves, t_leaves, b_hx, t_hx = [bx], [tx], None, None
    if with_state:
        b_st, b_hx = _pack_hx(states, biotorch)
        t_st, t_hx = _pack_hx(states, torch)
        b_leaves += b_st
        t_leaves += t_st
    b_out, t_out = bm(bx, b_hx), tm(tx, t_hx)
    b_outs = list(b_out) if isinstance(b_out, tuple) else [b_out]
    t_outs = list(t_out) if isinstance(t_out, tuple) else [t_out]
    _compare(b_outs, t_outs, b_leaves + list(bm.parameters()), t_leaves + list(tm.parameters()))


@pytest.mark.parametrize("kind", list(LAYERS))
@pytest.mark.parametrize("packed", [False, True])
def test_gradcheck_float64(kind, packed):
    name = kind.split("_")[0]
    layer = getattr(nn, name)(2, 2, 2, bidirectional=True, dtype=biotorch.float64, **LAYERS[kind])
    rng = np.random.default_rng(7)
    lengths = [3, 1, 2]
    x = rng.standard_normal((3, 3, 2))
    states = [rng.standard_normal((4, 3, 2)) for _ in range(2 if kind == "LSTM" else 1)]
    params = list(layer.parameters())

    def fn(x, *rest):
        hx = tuple(rest[:2]) if kind == "LSTM" else rest[0]
        if packed:
            x = R.pack_padded_sequence(x, lengths, enforce_sorted=False)
        out, hx = layer(x, hx)
        if packed:
            out = R.pad_packed_sequence(out)[0]
        return [out, *(hx if isinstance(hx, tuple) else (hx,))]

    # The layer's parameters are passed so gradcheck perturbs and checks them too.
    tensors = [biotorch.tensor(a).requires_grad_() for a in (x, *states)]
    assert biotorch.autograd.gradcheck(fn, (*tensors, *params), atol=1e-5, rtol=1e-3)


def test_dropout_between_layers_only_in_training():
    bm = nn.LSTM(3, 4, 2, dropout=0.5)
    x = biotorch.randn(5, 2, 3)
    bm.eval()
    first, second = bm(x)[0].detach().numpy(), bm(x)[0].detach().numpy()
    np.testing.assert_array_equal(first, second)
    bm.train()
    assert not np.allclose(bm(x)[0].detach().numpy(), first)
    with pytest.warns(UserWarning, match="num_layers greater than 1"):
        nn.GRU(3, 4, dropout=0.2)


@pytest.mark.parametrize(
    "build,call,match",
    [
        (lambda: nn.LSTM(4, 3), lambda m: m(biotorch.randn(2, 1, 5)), "Expected 4, got 5"),
        (
            lambda: nn.GRU(4, 3, 2),
            lambda m: m(biotorch.randn(2, 5, 4), biotorch.zeros(1, 5, 3)),
            r"Expected hidden size \(2, 5, 3\), got \[1, 5, 3\]",
        ),
        (
            lambda: nn.LSTM(4, 3),
            lambda m: m(
                biotorch.randn(2, 5, 4), (biotorch.zeros(1, 5, 3), biotorch.zeros(1, 4, 3))
            ),
            r"Expected cell size \(1, 5, 3\), got \[1, 4, 3\]",
        ),
        (lambda: nn.RNN(4, 3), lambda m: m(biotorch.randn(2, 2, 5, 4)), "2D or 3D, got 4D"),
        (lambda: nn.LSTMCell(4, 3), lambda m: m(biotorch.randn(2, 5)), "got 5, expected 4"),
        (
            lambda: nn.GRU(4, 3),
            lambda m: m(biotorch.randn(2, 1, 4, dtype=biotorch.float64)),
            "input dtype .*float64 does not match the weights' dtype .*float32",
        ),
        (
            lambda: nn.GRUCell(4, 3),
            lambda m: m(biotorch.randn(2, 4, dtype=biotorch.float64)),
            "does not match the weights' dtype",
        ),
        (lambda: nn.LSTM(4, 3, proj_size=2), None, "proj_size"),
        (lambda: nn.RNN(4, 3, nonlinearity="gelu"), None, "gelu"),
        (lambda: nn.LSTM(4, 0), None, "hidden_size"),
    ],
)
def test_errors_name_expected_and_actual(build, call, match):
    with pytest.raises((RuntimeError, ValueError, NotImplementedError), match=match):
        call(build())


# -- packing utilities ---------------------------------------------------------------------------


def _seqs(lengths, lib, seed=8, requires_grad=False):
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal((n, 2, 3)).astype(np.float32) for n in lengths]
    return [lib.tensor(a, requires_grad=requires_grad) for a in arrays]


@needs_torch
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("padding_side", ["right", "left"])
def test_pad_sequence_matches_torch(batch_first, padding_side):
    b_seqs, t_seqs = (
        _seqs([2, 5, 1], biotorch, requires_grad=True),
        _seqs([2, 5, 1], torch, requires_grad=True),
    )
    b = R.pad_sequence(b_seqs, batch_first, -1.5, padding_side)
    t = torch.nn.utils.rnn.pad_sequence(t_seqs, batch_first, -1.5, padding_side)
    _compare([b], [t], b_seqs, t_seqs)


@needs_torch
@pytest.mark.parametrize("enforce_sorted", [True, False])
@pytest.mark.parametrize("batch_first", [False, True])
def test_pack_and_pad_round_trip_match_torch(enforce_sorted, batch_first):
    lengths = [5, 3, 3, 1] if enforce_sorted else [3, 5, 1, 3]
    rng = np.random.default_rng(9)
    x = rng.standard_normal((4, 5, 2) if batch_first else (5, 4, 2)).astype(np.float32)
    bx, tx = biotorch.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    bp = R.pack_padded_sequence(bx, biotorch.tensor(lengths), batch_first, enforce_sorted)
    tp = torch.nn.utils.rnn.pack_padded_sequence(tx, lengths, batch_first, enforce_sorted)
    for field in ("batch_sizes", "sorted_indices", "unsorted_indices"):
        b_val, t_val = getattr(bp, field), getattr(tp, field)
        assert (b_val is None) == (t_val is None)
        if t_val is not None:
            np.testing.assert_array_equal(b_val.numpy(), t_val.numpy())
    assert bp.batch_sizes.dtype == biotorch.int64
    b_pad, b_len = R.pad_packed_sequence(bp, batch_first, 2.0, total_length=7)
    t_pad, t_len = torch.nn.utils.rnn.pad_packed_sequence(tp, batch_first, 2.0, total_length=7)
    np.testing.assert_array_equal(b_len.numpy(), t_len.numpy())
    _compare([bp.data, b_pad], [tp.data, t_pad], [bx], [tx])


@needs_torch
def test_pack_sequence_matches_torch():
    b_seqs, t_seqs = _seqs([2, 4, 3], biotorch), _seqs([2, 4, 3], torch)
    bp = R.pack_sequence(b_seqs, enforce_sorted=False)
    tp = torch.nn.utils.rnn.pack_sequence(t_seqs, enforce_sorted=False)
    np.testing.assert_array_equal(bp.data.numpy(), tp.data.numpy())
    np.testing.assert_array_equal(bp.sorted_indices.numpy(), tp.sorted_indices.numpy())


def test_packed_sequence_is_a_tuple_that_moves():
    bp = R.pack_sequence(_seqs([2, 4, 3], biotorch), enforce_sorted=False)
    assert isinstance(bp, tuple) and bp.to("cpu").data.shape == bp.data.shape == (9, 2, 3)


@pytest.mark.parametrize(
    "call,match",
    [
        (lambda x: R.pack_padded_sequence(x, [1, 3]), "sorted in decreasing order"),
        (lambda x: R.pack_padded_sequence(x, [3, 0], enforce_sorted=False), "greater than 0"),
        (lambda x: R.pack_padded_sequence(x, [3, 2, 1]), r"got 3 \(batch_size=2\)"),
        (lambda x: R.pack_padded_sequence(x, [4, 2]), "exceeds"),
        (
            lambda x: R.pad_packed_sequence(R.pack_padded_sequence(x, [3, 2]), total_length=2),
            "total_length=2 and max sequence length being 3",
        ),
        (lambda x: R.pad_sequence([x[0], x[:, :, 0]]), "sequence 1"),
        (lambda x: R.pad_sequence([x], padding_side="up"), "padding_side"),
    ],
)
def test_packing_errors(call, match):
    with pytest.raises((RuntimeError, ValueError), match=match):
        call(biotorch.randn(3, 2, 4))


@pytest.mark.gpu
@pytest.mark.parametrize("kind", ["LSTM", "GRU", "RNN"])
def test_gpu_matches_cpu(kind):
    cpu = getattr(nn, kind)(3, 4, 2, bidirectional=True)
    gpu = getattr(nn, kind)(3, 4, 2, bidirectional=True).to("cuda")
    gpu.load_state_dict(cpu.state_dict())
    lengths = [4, 2, 3]

    def fn(x):
        layer = cpu if x.device.type == "cpu" else gpu
        out, _ = layer(R.pack_padded_sequence(x, lengths, enforce_sorted=False))
        return R.pad_packed_sequence(out)[0]

    x = np.random.default_rng(10).standard_normal((4, 3, 3))
    check_gpu_matches_cpu(fn, x)
