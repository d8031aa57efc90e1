"""nn layers: parity with torch.nn given torch's weights (outputs, parameter and input gradients,
buffers; train and eval), float64 gradchecks, default initialisation, repr, errors."""

import math

import numpy as np
import pytest
from harness import check_gpu_matches_cpu, random_inputs

import biotorch as bt
from biotorch import nn
from biotorch.autograd import gradcheck

# (id, constructor taking the nn namespace, input shapes); an int shape entry ("int", shape, n)
# is an index tensor with values below n.
LAYERS = [
    ("linear", lambda m: m.Linear(5, 3), [(2, 4, 5)]),
    ("linear-nobias", lambda m: m.Linear(5, 3, bias=False), [(7, 5)]),
    ("bilinear", lambda m: m.Bilinear(3, 4, 2), [(5, 3), (5, 4)]),
    ("conv", lambda m: m.Conv1d(4, 6, 3), [(2, 4, 11)]),
    ("conv-unbatched", lambda m: m.Conv1d(4, 6, 3, padding=1), [(4, 9)]),
    (
        "conv-strided-groups",
        lambda m: m.Conv1d(4, 6, 5, stride=2, padding=2, dilation=2, groups=2),
        [(2, 4, 13)],
    ),
    ("conv-same", lambda m: m.Conv1d(4, 5, 4, padding="same", dilation=2), [(2, 4, 10)]),
    ("conv-valid", lambda m: m.Conv1d(4, 5, 4, padding="valid", bias=False), [(2, 4, 10)]),
    (
        "conv-reflect",
        lambda m: m.Conv1d(3, 4, 4, padding="same", padding_mode="reflect"),
        [(2, 3, 9)],
    ),
    (
        "conv-replicate",
        lambda m: m.Conv1d(3, 4, 3, padding=2, padding_mode="replicate"),
        [(2, 3, 8)],
    ),
    ("conv-circular", lambda m: m.Conv1d(3, 4, 3, padding=1, padding_mode="circular"), [(2, 3, 8)]),
    ("maxpool", lambda m: m.MaxPool1d(3, stride=2, padding=1), [(2, 3, 10)]),
    ("maxpool-ceil", lambda m: m.MaxPool1d(2, ceil_mode=True, return_indices=True), [(2, 3, 9)]),
    ("avgpool", lambda m: m.AvgPool1d(3, 2, 1, count_include_pad=False), [(2, 3, 10)]),
    ("adaptive-max", lambda m: m.AdaptiveMaxPool1d(4), [(2, 3, 10)]),
    ("adaptive-avg", lambda m: m.AdaptiveAvgPool1d(3), [(3, 10)]),
    ("batchnorm-2d", lambda m: m.BatchNorm1d(4), [(6, 4)]),
    ("batchnorm-3d", lambda m: m.BatchNorm1d(4, momentum=0.3), [(3, 4, 7)]),
    ("batchnorm-cumulative", lambda m: m.BatchNorm1d(4, momentum=None), [(3, 4, 5)]),
    ("batchnorm-noaffine", lambda m: m.BatchNorm1d(4, affine=False), [(3, 4, 5)]),
    ("batchnorm-untracked", lambda m: m.BatchNorm1d(4, track_running_stats=False), [(3, 4, 5)]),
    ("layernorm", lambda m: m.LayerNorm(7), [(2, 3, 7)]),
    ("layernorm-2d", lambda m: m.LayerNorm((3, 7), elementwise_affine=False), [(2, 3, 7)]),
    ("layernorm-nobias", lambda m: m.LayerNorm(7, bias=False), [(4, 7)]),
    ("embedding", lambda m: m.Embedding(10, 4, padding_idx=0), [("int", (3, 5), 10)]),
    ("embedding-maxnorm", lambda m: m.Embedding(10, 4, max_norm=1.0), [("int", (6,), 10)]),
    ("dropout", lambda m: m.Dropout(0.0), [(3, 4)]),
    ("relu", lambda m: m.ReLU(), [(3, 5)]),
    ("relu6", lambda m: m.ReLU6(), [(3, 5)]),
    ("gelu", lambda m: m.GELU(), [(3, 5)]),
    ("gelu-tanh", lambda m: m.GELU("tanh"), [(3, 5)]),
    ("sigmoid", lambda m: m.Sigmoid(), [(3, 5)]),
    ("tanh", lambda m: m.Tanh(), [(3, 5)]),
    ("softplus", lambda m: m.Softplus(beta=2.0, threshold=1.0), [(3, 5)]),
    ("silu", lambda m: m.SiLU(), [(3, 5)]),
    ("leaky-relu", lambda m: m.LeakyReLU(0.2), [(3, 5)]),
    ("elu", lambda m: m.ELU(0.5), [(3, 5)]),
    ("hardtanh", lambda m: m.Hardtanh(-0.5, 0.8), [(3, 5)]),
    ("softmax", lambda m: m.Softmax(dim=1), [(3, 5)]),
    ("log-softmax", lambda m: m.LogSoftmax(dim=-1), [(2, 3, 5)]),
]


def _arrays(shapes, seed: int, dtype=np.float32) -> list:
    rng = np.random.default_rng(seed)
    out = []
    for shape in shapes:
        if shape[0] == "int":
            out.append(rng.integers(0, shape[2], shape[1]))
        else:
            out.append(random_inputs(shape, seed=seed, dtype=dtype)[0] * 1.5)
    return out


def _outputs(out) -> tuple:
    return tuple(out) if isinstance(out, tuple) else (out,)


def _load_torch_weights(ours, theirs) -> None:
    ours.load_state_dict({k: bt.tensor(v.detach().numpy()) for k, v in theirs.state_dict().items()})


@pytest.mark.parametrize(("make", "shapes"), [pytest.param(*c[1:], id=c[0]) for c in LAYERS])
def test_torch_parity(make, shapes):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    theirs = make(torch.nn)
    ours = make(nn)
    _load_torch_weights(ours, theirs)
    for step, training in enumerate((True, True, False)):
        theirs.train(training)
        ours.train(training)
        arrays = _arrays(shapes, seed=step)
        floats = [a.dtype.kind == "f" for a in arrays]
        t_in = [torch.tensor(a, requires_grad=f) for a, f in zip(arrays, floats, strict=True)]
        b_in = [bt.tensor(a).requires_grad_(f) for a, f in zip(arrays, floats, strict=True)]
        t_out, b_out = _outputs(theirs(*t_in)), _outputs(ours(*b_in))
        for t, b in zip(t_out, b_out, strict=True):
            assert tuple(b.shape) == tuple(t.shape)
            np.testing.assert_allclose(b.detach().numpy(), t.detach().numpy(), rtol=1e-4, atol=1e-5)
        rng = np.random.default_rng(10 + step)
        upstream = rng.standard_normal(tuple(t_out[0].shape)).astype(np.float32)
        t_out[0].backward(torch.tensor(upstream))
        b_out[0].backward(bt.tensor(upstream))
        for i, (t, b) in enumerate(zip(t_in, b_in, strict=True)):
            if t.requires_grad:
                np.testing.assert_allclose(
                    b.grad.numpy(), t.grad.numpy(), rtol=1e-4, atol=1e-5, err_msg=f"input {i}"
                )
        ours_params = dict(ours.named_parameters())
        for name, t in theirs.named_parameters():
            np.testing.assert_allclose(
                ours_params[name].grad.numpy(), t.grad.numpy(), rtol=1e-4, atol=1e-5, err_msg=name
            )
        ours_state = ours.state_dict()
        for name, t in theirs.state_dict().items():  # running stats, max_norm-renormed rows
            assert ours_state[name].dtype.name == str(t.dtype).removeprefix("torch."), name
            np.testing.assert_allclose(ours_state[name].numpy(), t.numpy(), rtol=1e-5, atol=1e-6)
        theirs.zero_grad()
        ours.zero_grad()


# padding_idx rows get no gradient and max_norm rescales in place: not true derivatives.
NOT_DERIVATIVES = {"embedding", "embedding-maxnorm"}


@pytest.mark.parametrize(
    ("make", "shapes"),
    [pytest.param(*c[1:], id=c[0]) for c in LAYERS if c[0] not in NOT_DERIVATIVES],
)
def test_gradcheck(make, shapes):
    module = make(nn).double()
    arrays = _arrays(shapes, seed=3, dtype=np.float64)
    inputs = [bt.tensor(a).requires_grad_(a.dtype.kind == "f") for a in arrays] + list(
        module.parameters()
    )

    def fn(*args):
        return _outputs(module(*args[: len(arrays)]))[0]

    if not any(t.requires_grad for t in inputs):
        pytest.skip("nothing differentiable")
    assert gradcheck(fn, inputs, atol=1e-5, rtol=1e-3)


STATE_DICT_KEYS = [
    (lambda m: m.Linear(3, 2), ["weight", "bias"]),
    (lambda m: m.Conv1d(3, 2, 3, bias=False), ["weight"]),
    (
        lambda m: m.BatchNorm1d(3),
        ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"],
    ),
    (lambda m: m.BatchNorm1d(3, affine=False, track_running_stats=False), []),
    (lambda m: m.LayerNorm(3, bias=False), ["weight"]),
    (lambda m: m.Embedding(4, 2), ["weight"]),
    (lambda m: m.CrossEntropyLoss(weight=bt.ones(3)), ["weight"]),
]


@pytest.mark.parametrize(("make", "expected_keys"), STATE_DICT_KEYS)
def test_state_dict_keys(make, expected_keys):
    assert list(make(nn).state_dict()) == expected_keys


# The last case passes a biotorch weight, which torch's loss cannot take.
@pytest.mark.parametrize(("make", "expected_keys"), STATE_DICT_KEYS[:-1])
def test_state_dict_keys_match_torch(make, expected_keys):
    torch = pytest.importorskip("torch")
    assert list(make(torch.nn).state_dict()) == expected_keys


REPRS = [
    lambda m: m.Linear(3, 2, bias=False),
    lambda m: m.Bilinear(3, 4, 2),
    lambda m: m.Conv1d(4, 8, 5, stride=2, padding=2, dilation=3, groups=2, bias=False),
    lambda m: m.Conv1d(4, 8, 5, padding="same", padding_mode="circular"),
    lambda m: m.Conv1d(4, 8, (3,)),
    lambda m: m.MaxPool1d(3, padding=1, ceil_mode=True),
    lambda m: m.AvgPool1d(4),
    lambda m: m.AdaptiveMaxPool1d(5),
    lambda m: m.BatchNorm1d(8, momentum=None, affine=False),
    lambda m: m.LayerNorm((3, 4), eps=1e-6, bias=False),
    lambda m: m.Dropout(0.25, inplace=True),
    lambda m: m.Dropout1d(0.1),
    lambda m: m.Embedding(10, 3, padding_idx=-1, max_norm=2.0, norm_type=1.0),
    lambda m: m.Embedding(10, 3, scale_grad_by_freq=True),
    lambda m: m.GELU("tanh"),
    lambda m: m.LeakyReLU(0.3, inplace=True),
    lambda m: m.ELU(),
    lambda m: m.ReLU6(inplace=True),
    lambda m: m.Hardtanh(-2.0, 3.0),
    lambda m: m.Softplus(),
    lambda m: m.Softmax(dim=-1),
    lambda m: m.CrossEntropyLoss(label_smoothing=0.1),
    lambda m: m.Sequential(
        m.Conv1d(4, 16, 8), m.ReLU(), m.MaxPool1d(4), m.Flatten(), m.Linear(16, 1), m.Sigmoid()
    ),
]


@pytest.mark.parametrize("make", REPRS)
def test_repr_matches_torch(make):
    torch = pytest.importorskip("torch")
    assert repr(make(nn)) == repr(make(torch.nn))


@pytest.mark.parametrize(
    ("make", "fan_in"),
    [
        (lambda: nn.Linear(200, 300), 200),
        (lambda: nn.Conv1d(16, 320, 8, groups=2), 64),
        (lambda: nn.Bilinear(50, 7, 400), 50),
    ],
)
def test_default_init_bounds(make, fan_in):
    layer = make()
    bound = 1 / math.sqrt(fan_in)
    for tensor in (layer.weight, layer.bias):
        values = tensor.detach().numpy()
        assert np.abs(values).max() <= bound
        assert np.abs(values).max() > 0.95 * bound
        # uniform(-b, b) has std b / sqrt(3)
        assert abs(values.std() - bound / math.sqrt(3)) < 0.1 * bound


def test_default_init_norms_and_embedding():
    bn, ln = nn.BatchNorm1d(5), nn.LayerNorm(5)
    for layer in (bn, ln):
        assert np.all(layer.weight.detach().numpy() == 1)
        assert np.all(layer.bias.detach().numpy() == 0)
    assert np.all(bn.running_mean.numpy() == 0) and np.all(bn.running_var.numpy() == 1)
    assert bn.num_batches_tracked.dtype == bt.int64 and bn.num_batches_tracked.ndim == 0
    emb = nn.Embedding(400, 50, padding_idx=3)
    w = emb.weight.detach().numpy()
    assert np.all(w[3] == 0)
    assert abs(w.std() - 1) < 0.03 and abs(w.mean()) < 0.03


def test_init_reproducible_and_follows_dtype():
    bt.manual_seed(7)
    a = nn.Conv1d(4, 8, 3)
    bt.manual_seed(7)
    b = nn.Conv1d(4, 8, 3)
    for x, y in zip(a.parameters(), b.parameters(), strict=True):
        np.testing.assert_array_equal(x.detach().numpy(), y.detach().numpy())
    c = nn.Linear(3, 2, dtype=bt.float64)
    assert c.weight.dtype == bt.float64 and c.bias.dtype == bt.float64
    assert nn.Linear(3, 2).weight.dtype == bt.float32
    assert all(p.requires_grad and isinstance(p, nn.Parameter) for p in c.parameters())


def test_batchnorm_buffers_and_modes():
    bn = nn.BatchNorm1d(3, momentum=None)
    x = [bt.randn(8, 3, 4) for _ in range(3)]
    for batch in x:
        bn(batch)
    assert bn.num_batches_tracked.item() == 3
    stacked = np.stack([b.numpy() for b in x])  # cumulative average of the batch means
    np.testing.assert_allclose(bn.running_mean.numpy(), stacked.mean(axis=(0, 1, 3)), atol=1e-6)
    bn.eval()
    before = bn.running_mean.numpy().copy()
    y = bn(x[0])
    np.testing.assert_array_equal(bn.running_mean.numpy(), before)
    assert bn.num_batches_tracked.item() == 3
    expected = (x[0].numpy() - before[:, None]) / np.sqrt(bn.running_var.numpy()[:, None] + 1e-5)
    np.testing.assert_allclose(y.detach().numpy(), expected, rtol=1e-5, atol=1e-5)
    bn.reset_running_stats()
    assert bn.num_batches_tracked.item() == 0 and np.all(bn.running_var.numpy() == 1)


def test_dropout_train_and_eval():
    drop = nn.Dropout(0.5)
    x = bt.ones(4000)
    y = drop(x).numpy()
    assert set(np.unique(y)) <= {0.0, 2.0} and 0.45 < (y == 0).mean() < 0.55
    drop.eval()
    assert drop(x) is x or np.array_equal(drop(x).numpy(), x.numpy())
    channels = nn.Dropout1d(0.5)(bt.ones(2, 300, 5)).numpy()
    assert np.all(channels.min(axis=-1) == channels.max(axis=-1))  # whole channels dropped


def test_embedding_from_pretrained_and_padding_grad():
    table = bt.randn(5, 3)
    emb = nn.Embedding.from_pretrained(table, padding_idx=4)
    assert not emb.weight.requires_grad
    np.testing.assert_array_equal(emb(bt.tensor([1, 4])).numpy(), table.numpy()[[1, 4]])
    trainable = nn.Embedding(5, 3, padding_idx=4)
    trainable(bt.tensor([[4, 1, 4]], dtype=bt.int8)).sum().backward()
    grad = trainable.weight.grad.numpy()  # grads never require grad
    assert np.all(grad[4] == 0) and np.all(grad[1] == 1) and np.all(grad[0] == 0)


def test_conv_padding_modes_equal_explicit_pad():
    conv = nn.Conv1d(2, 3, 4, padding="same", padding_mode="reflect", dilation=2)
    x = bt.randn(1, 2, 9)
    padded = nn.functional.pad(x, (3, 3), mode="reflect")
    expected = nn.functional.conv1d(padded, conv.weight, conv.bias, dilation=2)
    np.testing.assert_allclose(conv(x).detach().numpy(), expected.detach().numpy(), rtol=1e-6)
    assert conv(x).shape == x.shape[:1] + (3, 9)


@pytest.mark.parametrize(
    ("make", "error", "match"),
    [
        (lambda: nn.Conv1d(4, 6, 3, groups=4), ValueError, "out_channels=6 must be divisible"),
        (lambda: nn.Conv1d(4, 6, 3, groups=0), ValueError, "groups must be a positive"),
        (lambda: nn.Conv1d(4, 6, 3, padding="full"), ValueError, "invalid padding string"),
        (lambda: nn.Conv1d(4, 6, 3, stride=2, padding="same"), ValueError, "strided"),
        (lambda: nn.Conv1d(4, 6, 3, padding_mode="mirror"), ValueError, "padding_mode"),
        (lambda: nn.Conv1d(4, 6, (3, 3)), ValueError, "kernel_size"),
        (lambda: nn.Dropout(1.5), ValueError, "between 0 and 1, but got 1.5"),
        (lambda: nn.Embedding(4, 2, padding_idx=4), ValueError, "padding_idx=4"),
        (lambda: nn.Embedding(4, 2, _weight=bt.zeros(3, 2)), ValueError, r"\(4, 2\)"),
        (lambda: nn.Hardtanh(1.0, -1.0), ValueError, "max_val"),
        (lambda: nn.BatchNorm1d(3)(bt.randn(2, 3, 4, 5)), ValueError, "expected 2D or 3D input"),
        (lambda: nn.Linear(3, 2)(bt.randn(4, 5)), RuntimeError, "has 5 features"),
        (lambda: nn.MSELoss(reduction="avg"), ValueError, "'avg' is not a valid"),
    ],
)
def test_errors(make, error, match):
    with pytest.raises(error, match=match):
        make()


@pytest.mark.gpu
@pytest.mark.parametrize(
    ("make", "shapes"),
    [pytest.param(*c[1:], id=c[0]) for c in LAYERS if all(s[0] != "int" for s in c[2])],
)
def test_gpu_matches_cpu(make, shapes):
    module = make(nn)

    def run(*inputs):
        return _outputs(module.to(inputs[0].device)(*inputs))[0]

    check_gpu_matches_cpu(run, *_arrays(shapes, seed=5))


@pytest.mark.gpu
def test_embedding_gpu_matches_cpu():
    emb = nn.Embedding(10, 4, padding_idx=0)
    tokens = np.array([[0, 3, 3], [9, 0, 1]])
    expected = emb(bt.tensor(tokens))
    expected.sum().backward()
    cpu_grad = emb.weight.grad.numpy().copy()
    emb.zero_grad()
    emb.cuda()
    out = emb(bt.tensor(tokens, device="cuda"))
    out.sum().backward()
    assert out.device.type == "cuda"
    np.testing.assert_allclose(out.detach().cpu().numpy(), expected.detach().numpy())
    np.testing.assert_allclose(emb.weight.grad.cpu().numpy(), cpu_grad)
