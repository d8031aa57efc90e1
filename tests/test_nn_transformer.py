"""MultiheadAttention, TransformerEncoderLayer and TransformerEncoder: parity with torch.nn
(torch's weights loaded through ``load_state_dict``; outputs, attention weights, input and
parameter gradients) with padding and attention masks, float64 gradchecks, errors, GPU."""

import numpy as np
import pytest
from harness import check_gpu_matches_cpu, needs_torch, torch

import biotorch
from biotorch import nn


def _load(tm, bm):
    bm.load_state_dict({k: biotorch.tensor(v.detach().numpy()) for k, v in tm.state_dict().items()})
    return tm, bm


def _params(module):
    return [p for _, p in sorted(module.named_parameters())]


def _check(bt_outs, th_outs, bt_leaves, th_leaves, rtol=1e-4, atol=2e-5):
    """Forward values, then the gradients of every leaf for random upstream gradients."""
    rng = np.random.default_rng(0)
    pairs = [(b, t) for b, t in zip(bt_outs, th_outs, strict=True) if t is not None]
    for b, t in pairs:
        np.testing.assert_allclose(b.detach().numpy(), t.detach().numpy(), rtol=rtol, atol=atol)
    upstream = [rng.standard_normal(tuple(t.shape)).astype(np.float32) for _, t in pairs]
    biotorch.autograd.backward([b for b, _ in pairs], [biotorch.tensor(u) for u in upstream])
    torch.autograd.backward([t for _, t in pairs], [torch.tensor(u) for u in upstream])
    for i, (b, t) in enumerate(zip(bt_leaves, th_leaves, strict=True)):
        assert b.grad is not None, f"leaf {i}: no gradient"
        np.testing.assert_allclose(
            b.grad.numpy(), t.grad.numpy(), rtol=rtol, atol=atol, err_msg=f"grad of leaf {i}"
        )


def _masks(kind, n, heads, length, source, rng):
    """(key_padding_mask, attn_mask) as NumPy arrays (None where absent)."""
    kpm = np.zeros((n, source), bool)
    kpm[0, source - 2 :] = True
    causal = np.triu(np.ones((length, source), bool), 1)
    float3d = rng.standard_normal((n * heads, length, source)).astype(np.float32)
    return {
        "none": (None, None),
        "kpm_bool": (kpm, None),
        "attn_bool": (None, causal),
        "both_float": (np.where(kpm, -1e9, 0.0).astype(np.float32), float3d),
    }[kind]


def _tensors(lib, *arrays):
    return [None if a is None else lib.tensor(a) for a in arrays]


@needs_torch
@pytest.mark.parametrize("masks", ["none", "kpm_bool", "attn_bool", "both_float"])
@pytest.mark.parametrize(
    "kwargs,call",
    [
        ({}, {}),
        ({"batch_first": True, "bias": False}, {"average_attn_weights": False}),
        ({"kdim": 3, "vdim": 5}, {}),
        ({"add_bias_kv": True, "add_zero_attn": True}, {"need_weights": False}),
        ({"batch_first": True}, {"need_weights": False}),
    ],
)
def test_multihead_attention_matches_torch(masks, kwargs, call):
    if kwargs.get("add_bias_kv") and masks != "none":
        pytest.skip("torch pads the masks the same way; covered by the unmasked case")
    torch.manual_seed(0)
    tm, bm = _load(
        torch.nn.MultiheadAttention(8, 2, **kwargs), nn.MultiheadAttention(8, 2, **kwargs)
    )
    rng = np.random.default_rng(1)
    n, length, source = 3, 4, 5
    cross = "kdim" in kwargs
    q = rng.standard_normal((n, length, 8)).astype(np.float32)
    k = rng.standard_normal((n, source, kwargs.get("kdim", 8))).astype(np.float32)
    v = rng.standard_normal((n, source, kwargs.get("vdim", 8))).astype(np.float32)
    if not cross:  # self-attention: one input used three times
        source, k, v = length, None, None
    if not kwargs.get("batch_first"):
        q, k, v = (None if a is None else a.swapaxes(0, 1).copy() for a in (q, k, v))
    kpm, am = _masks(masks, n, 2, length, source, rng)
    outs, leaves = [], []
    for lib, module in ((biotorch, bm), (torch, tm)):
        inputs = [lib.tensor(a, requires_grad=True) for a in (q, k, v) if a is not None]
        args = inputs if cross else inputs * 3
        b_kpm, b_am = _tensors(lib, kpm, am)
        outs.append(module(*args, key_padding_mask=b_kpm, attn_mask=b_am, **call))
        leaves.append(inputs + _params(module))
    _check(*outs, *leaves)


@needs_torch
def test_multihead_attention_unbatched_and_parameters_match_torch():
    torch.manual_seed(0)
    tm, bm = _load(torch.nn.MultiheadAttention(6, 3), nn.MultiheadAttention(6, 3))
    assert [k for k, _ in bm.named_parameters()] == [k for k, _ in tm.named_parameters()]
    x = np.random.default_rng(2).standard_normal((4, 6)).astype(np.float32)
    kpm = np.array([False, False, True, False])
    outs, leaves = [], []
    for lib, module in ((biotorch, bm), (torch, tm)):
        t = lib.tensor(x, requires_grad=True)
        outs.append(module(t, t, t, key_padding_mask=lib.tensor(kpm)))
        leaves.append([t, *_params(module)])
    _check(*outs, *leaves)


def test_multihead_attention_init():
    fresh = nn.MultiheadAttention(6, 3)
    assert not np.any(fresh.in_proj_bias.detach().numpy())
    bound = np.sqrt(6 / (6 + 18))
    assert np.abs(fresh.in_proj_weight.detach().numpy()).max() <= bound


@needs_torch
@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"norm_first": True, "activation": "gelu", "batch_first": True},
        {"norm_first": True, "bias": False},
        {"activation": "gelu_function", "layer_norm_eps": 1e-3},
    ],
)
@pytest.mark.parametrize("masks", ["none", "kpm_bool", "both_float"])
def test_encoder_layer_matches_torch(kwargs, masks):
    torch.manual_seed(0)
    b_kwargs, t_kwargs = dict(kwargs), dict(kwargs)
    if kwargs.get("activation") == "gelu_function":  # each library's gelu, passed as a callable
        b_kwargs["activation"] = biotorch.nn.functional.gelu
        t_kwargs["activation"] = torch.nn.functional.gelu
    tm = torch.nn.TransformerEncoderLayer(8, 2, 16, dropout=0.1, **t_kwargs).eval()
    bm = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.1, **b_kwargs).eval()
    _load(tm, bm)
    rng = np.random.default_rng(3)
    n, length = 3, 5
    shape = (n, length, 8) if kwargs.get("batch_first") else (length, n, 8)
    x = rng.standard_normal(shape).astype(np.float32)
    kpm, am = _masks(masks, n, 2, length, length, rng)
    outs, leaves = [], []
    for lib, module in ((biotorch, bm), (torch, tm)):
        t = lib.tensor(x, requires_grad=True)
        b_kpm, b_am = _tensors(lib, kpm, am)
        outs.append([module(t, src_mask=b_am, src_key_padding_mask=b_kpm)])
        leaves.append([t, *_params(module)])
    _check(*outs, *leaves)


@needs_torch
@pytest.mark.parametrize("with_norm", [False, True])
def test_encoder_stack_matches_torch(with_norm):
    torch.manual_seed(0)
    t_layer = torch.nn.TransformerEncoderLayer(8, 2, 12, dropout=0.0, batch_first=True)
    b_layer = nn.TransformerEncoderLayer(8, 2, 12, dropout=0.0, batch_first=True)
    tm = torch.nn.TransformerEncoder(
        t_layer, 2, torch.nn.LayerNorm(8) if with_norm else None, enable_nested_tensor=False
    )
    bm = nn.TransformerEncoder(b_layer, 2, nn.LayerNorm(8) if with_norm else None)
    torch.nn.init.normal_(tm.layers[1].linear1.weight)  # the copies must stay independent
    _load(tm, bm)
    assert sorted(bm.state_dict()) == sorted(tm.state_dict())
    rng = np.random.default_rng(4)
    x = rng.standard_normal((3, 5, 8)).astype(np.float32)
    causal = np.triu(np.ones((5, 5), bool), 1)
    kpm = np.zeros((3, 5), bool)
    kpm[1, 3:] = True
    outs, leaves = [], []
    for lib, module in ((biotorch, bm), (torch, tm)):
        t = lib.tensor(x, requires_grad=True)
        out = module(t, lib.tensor(causal), lib.tensor(kpm), is_causal=True)
        outs.append([out])
        leaves.append([t, *_params(module)])
    _check(*outs, *leaves)


def test_gradcheck_float64():
    layer = nn.TransformerEncoderLayer(
        4, 2, 6, dropout=0.0, norm_first=True, dtype=biotorch.float64
    )
    rng = np.random.default_rng(5)
    x = biotorch.tensor(rng.standard_normal((3, 2, 4)), requires_grad=True)
    kpm = biotorch.tensor(np.array([[False, False, True], [False, False, False]]))
    mask = biotorch.tensor(rng.standard_normal((3, 3)), requires_grad=True)

    def fn(x, mask, *params):
        return layer(x, src_mask=mask, src_key_padding_mask=kpm)

    assert biotorch.autograd.gradcheck(fn, (x, mask, *layer.parameters()))
    attn = nn.MultiheadAttention(4, 2, kdim=3, dtype=biotorch.float64)
    k = biotorch.tensor(rng.standard_normal((2, 2, 3)), requires_grad=True)
    assert biotorch.autograd.gradcheck(lambda q, k: attn(q, k, q[:2] * 1.0)[0], (x, k))


def test_dropout_only_in_training():
    layer = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.5)
    x = biotorch.randn(4, 2, 8)
    a, b = layer(x), layer(x)
    assert not np.allclose(a.detach().numpy(), b.detach().numpy())
    layer.eval()
    np.testing.assert_array_equal(layer(x).detach().numpy(), layer(x).detach().numpy())


@pytest.mark.parametrize(
    "call,match",
    [
        (lambda: nn.MultiheadAttention(6, 4), "divisible by num_heads"),
        (lambda: nn.TransformerEncoderLayer(8, 2, activation="tanh"), "relu/gelu"),
        (
            lambda: nn.MultiheadAttention(8, 2)(*[biotorch.randn(3, 2, 6)] * 3),
            "embedding dimension of 8 for query, but got 6",
        ),
        (
            lambda: nn.MultiheadAttention(8, 2)(
                *[biotorch.randn(3, 2, 8)] * 3, attn_mask=biotorch.zeros(4, 3)
            ),
            r"2D attn_mask is \(4, 3\), but should be \(3, 3\)",
        ),
        (
            lambda: nn.MultiheadAttention(8, 2)(
                *[biotorch.randn(3, 2, 8)] * 3, key_padding_mask=biotorch.zeros(2, 4)
            ),
            r"key_padding_mask shape of \(2, 3\), but got \(2, 4\)",
        ),
        (
            lambda: nn.MultiheadAttention(8, 2)(*[biotorch.randn(3, 2, 8)] * 3, is_causal=True),
            "Need attn_mask",
        ),
        (
            lambda: nn.MultiheadAttention(8, 2)(
                *[biotorch.randn(3, 2, 8)] * 3, attn_mask=biotorch.zeros(3, 3, dtype="float64")
            ),
            "attn_mask must be bool",
        ),
    ],
)
def test_errors(call, match):
    with pytest.raises((RuntimeError, ValueError, TypeError), match=match):
        call()


@pytest.mark.gpu
def test_gpu_matches_cpu():
    cpu = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0)
    gpu = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0).to("cuda")
    gpu.load_state_dict(cpu.state_dict())
    kpm = np.zeros((3, 5), bool)
    kpm[0, 3:] = True

    def fn(x):
        layer = cpu if x.device.type == "cpu" else gpu
        return layer(x, src_key_padding_mask=biotorch.tensor(kpm, device=x.device))

    check_gpu_matches_cpu(fn, np.random.default_rng(6).standard_normal((5, 3, 8)))
