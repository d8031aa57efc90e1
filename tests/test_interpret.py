"""biotorch.interpret: ISM against a naive loop, chunking invariance, gradients vs finite
differences and closed forms, token-embedding models (ISM on tokens, embedding x gradient,
padding), errors."""

import numpy as np
import pytest

import biotorch
import biotorch.nn.functional as F
from biotorch import nn
from biotorch.data import DNA, PROTEIN, dinucleotide_shuffle
from biotorch.data import one_hot as one_hot_encode
from biotorch.interpret import (
    embedding_saliency,
    embedding_x_gradient,
    in_silico_mutagenesis,
    input_x_gradient,
    integrated_gradients,
    saliency,
)
from biotorch.models.varlen import CNNLSTMClassifier, MaskedCNNClassifier, TransformerClassifier


class TinyCNN(nn.Module):
    """conv (k=5) -> activation -> global max -> dense to ``targets`` outputs (or one, squeezed)."""

    def __init__(self, targets=2, channels=4, activation="relu", seed=0):
        super().__init__()
        rng = np.random.default_rng(seed)
        self.weight = nn.Parameter(biotorch.tensor(rng.standard_normal((3, channels, 5))))
        self.dense = nn.Parameter(biotorch.tensor(rng.standard_normal((3, 2))[:, : targets or 1]))
        self.targets, self.activation = targets, activation

    def forward(self, x):
        h = getattr(F.conv1d(x, self.weight, padding=2), self.activation)().amax(dim=2)
        out = h @ self.dense
        return out if self.targets else out[:, 0]


class Linear(nn.Module):
    """out[n, t] = sum(weight[t] * x[n]) + bias[t]."""

    def __init__(self, weight):
        super().__init__()
        self.weight = nn.Parameter(biotorch.tensor(weight))
        self.bias = nn.Parameter(biotorch.tensor(np.arange(weight.shape[0], dtype=np.float64)))

    def forward(self, x):
        return (x.unsqueeze(1) * self.weight).sum(dim=(2, 3)) + self.bias


class Elementwise(nn.Module):
    """A nonlinear model without matrix products (so no batch-size-dependent BLAS rounding):
    out[n, t] = max over l of tanh(sum over c of weight[t, c, l] * x[n, c, l])."""

    def __init__(self, seed=0):
        super().__init__()
        rng = np.random.default_rng(seed)
        self.weight = nn.Parameter(biotorch.tensor(rng.standard_normal((2, 4, 1))))

    def forward(self, x):
        return (x.unsqueeze(1) * self.weight).sum(dim=2).tanh().amax(dim=2)


# Exact equality needs a model without BLAS calls: matrix products may round differently for
# different batch sizes (by an ulp), so the convolutional model is compared to 1e-13.
MODELS = [(Elementwise, 0.0), (TinyCNN, 1e-13)]


def one_hot(n=3, length=9, channels=4, seed=0):
    rng = np.random.default_rng(seed)
    tokens = rng.integers(0, channels, (n, length))
    return np.eye(channels)[tokens].transpose(0, 2, 1).copy(), tokens


def naive_ism(model, x):
    """One forward pass per substitution, one sequence at a time."""
    n, c, length = x.shape
    with biotorch.no_grad():
        out = np.zeros((n, c, length, 2))
        for i in range(n):
            ref = model(biotorch.tensor(x[i : i + 1])).numpy()[0]
            for pos in range(length):
                for letter in range(c):
                    if x[i, letter, pos] == 1:
                        continue
                    mutant = x[i : i + 1].copy()
                    mutant[0, :, pos] = 0
                    mutant[0, letter, pos] = 1
                    out[i, letter, pos] = model(biotorch.tensor(mutant)).numpy()[0] - ref
    return out


@pytest.mark.parametrize("make, atol", MODELS)
def test_ism_equals_naive_loop(make, atol):
    model = make().eval()
    x, tokens = one_hot()
    result = in_silico_mutagenesis(model, x, batch_size=10)
    assert result.scores.shape == (3, 4, 9, 2) and result.reference.shape == (3, 2)
    np.testing.assert_allclose(result.scores.numpy(), naive_ism(model, x), rtol=0, atol=atol)
    with biotorch.no_grad():
        expected = model(biotorch.tensor(x)).numpy()
    np.testing.assert_allclose(result.reference.numpy(), expected, rtol=0, atol=atol)
    # Reference letters score exactly 0.
    ref = np.take_along_axis(result.scores.numpy(), tokens[:, None, :, None], axis=1)
    assert not ref.any()


@pytest.mark.parametrize("make, atol", MODELS)
def test_ism_chunking_invariance(make, atol):
    model = make().eval()
    x, _ = one_hot(n=4, length=13, seed=1)
    one = in_silico_mutagenesis(model, biotorch.tensor(x), batch_size=1)
    for batch_size in (7, 10_000):
        other = in_silico_mutagenesis(model, biotorch.tensor(x), batch_size=batch_size)
        np.testing.assert_allclose(one.scores.numpy(), other.scores.numpy(), rtol=0, atol=atol)
        np.testing.assert_allclose(one.reference.numpy(), other.reference.numpy(), atol=atol)


def test_ism_targets_and_single_output_models():
    x, _ = one_hot()
    full = in_silico_mutagenesis(TinyCNN().eval(), x).scores.numpy()
    second = in_silico_mutagenesis(TinyCNN().eval(), x, target=1)
    assert second.scores.shape == (3, 4, 9) and second.reference.shape == (3,)
    np.testing.assert_array_equal(second.scores.numpy(), full[..., 1])
    np.testing.assert_array_equal(
        in_silico_mutagenesis(TinyCNN().eval(), x, target=np.int64(1)).scores.numpy(), full[..., 1]
    )
    listed = in_silico_mutagenesis(TinyCNN().eval(), x, target=[1, 0]).scores.numpy()
    np.testing.assert_array_equal(listed, full[..., ::-1])
    single = in_silico_mutagenesis(TinyCNN(targets=None).eval(), x)
    assert single.scores.shape == (3, 4, 9) and single.reference.shape == (3,)


def test_ism_linear_model_closed_form_and_unknown_positions():
    # For a linear model, setting position l to letter c changes the output by
    # weight[:, c, l] - weight[:, ref, l]; an all-zero (N) position gets all four letters.
    rng = np.random.default_rng(3)
    weight = rng.standard_normal((2, 4, 6))
    x, tokens = one_hot(n=2, length=6, seed=3)
    x[1, :, 4] = 0.0
    scores = in_silico_mutagenesis(Linear(weight).eval(), x).scores.numpy()
    ref_w = (x[:, :, :, None] * weight.transpose(1, 2, 0)[None]).sum(axis=1, keepdims=True)
    expected = weight.transpose(1, 2, 0)[None] - ref_w
    np.testing.assert_allclose(scores, expected, atol=1e-12)
    assert np.count_nonzero(scores[1, :, 4, 0]) == 4


def _finite_difference(model, x, target, eps=1e-6):
    grad = np.zeros_like(x)
    with biotorch.no_grad():
        for idx in np.ndindex(x.shape):
            up, down = x.copy(), x.copy()
            up[idx] += eps
            down[idx] -= eps
            diff = model(biotorch.tensor(up)) - model(biotorch.tensor(down))
            grad[idx] = diff.numpy()[idx[0], target] / (2 * eps)
    return grad


def test_saliency_equals_finite_differences():
    model = TinyCNN(activation="tanh").eval()
    x, _ = one_hot(n=2, length=7, seed=2)
    expected = _finite_difference(model, x, target=1)
    raw = saliency(model, x, target=1, absolute=False).numpy()
    np.testing.assert_allclose(raw, expected, rtol=1e-5, atol=1e-8)
    np.testing.assert_allclose(saliency(model, x, target=1).numpy(), np.abs(raw))
    centered = saliency(model, x, target=1, absolute=False, mean_centered=True).numpy()
    np.testing.assert_allclose(centered, raw - raw.mean(axis=1, keepdims=True), atol=1e-15)
    assert model.weight.grad is None  # attribution does not touch parameter gradients


def test_input_x_gradient_on_linear_model_is_weight_times_input():
    rng = np.random.default_rng(4)
    weight = rng.standard_normal((3, 4, 8))
    x, _ = one_hot(n=2, length=8, seed=4)
    model = Linear(weight).eval()
    got = input_x_gradient(model, biotorch.tensor(x), target=2).numpy()
    np.testing.assert_allclose(got, weight[2] * x, rtol=1e-14)
    centered = input_x_gradient(model, x, target=2, mean_centered=True).numpy()
    np.testing.assert_allclose(centered, (weight[2] - weight[2].mean(axis=0)) * x, rtol=1e-14)


def test_integrated_gradients_of_a_linear_model_is_weight_times_difference():
    rng = np.random.default_rng(6)
    weight = rng.standard_normal((3, 4, 8))
    x, _ = one_hot(n=2, length=8, seed=6)
    model = Linear(weight).eval()
    got = integrated_gradients(model, x, target=1, steps=3).numpy()
    np.testing.assert_allclose(got, weight[1] * x, rtol=1e-13)
    baseline = np.full_like(x, 0.25)
    got = integrated_gradients(model, x, target=1, baseline=baseline, steps=1).numpy()
    np.testing.assert_allclose(got, weight[1] * (x - 0.25), rtol=1e-13, atol=1e-15)


class Smooth(TinyCNN):
    """TinyCNN with mean instead of max pooling: differentiable everywhere."""

    def forward(self, x, mask=None):
        if mask is not None:
            x = x * mask[:, None, :].to(x.dtype)
        return F.conv1d(x, self.weight, padding=2).tanh().mean(dim=2) @ self.dense


def test_integrated_gradients_sum_to_the_output_difference():
    model = Smooth().eval()
    x, tokens = one_hot(n=3, length=12, seed=7)
    shuffled = np.stack([np.eye(4)[dinucleotide_shuffle(t, np.random.default_rng(i))].T
                         for i, t in enumerate(tokens)])  # fmt: skip
    with biotorch.no_grad():
        change = (model(biotorch.tensor(x)) - model(biotorch.tensor(shuffled))).numpy()[:, 0]
    errors = []
    for steps in (4, 16, 64):
        ig = integrated_gradients(model, x, target=0, baseline=shuffled, steps=steps).numpy()
        errors.append(np.abs(ig.sum(axis=(1, 2)) - change).max())
    assert errors[2] < 1e-4 * np.abs(change).max()
    assert errors[0] > 8 * errors[1] > 64 * errors[2]  # midpoint rule: error ~ 1 / steps**2


def test_integrated_gradients_padding_and_errors():
    model = Smooth().eval()
    x, _ = one_hot(n=2, length=6, seed=8)
    mask = np.array([[True] * 6, [True] * 4 + [False] * 2])
    ig = integrated_gradients(model, x, target=1, mask=mask).numpy()
    assert (ig[1, :, 4:] == 0).all() and (ig[1, :, :4] != 0).any() and (ig[0] != 0).any()
    with pytest.raises(ValueError, match="steps must be a positive integer, got 0"):
        integrated_gradients(model, x, target=0, steps=0)
    with pytest.raises(ValueError, match=r"baseline has shape \(2, 4, 5\), expected"):
        integrated_gradients(model, x, target=0, baseline=x[:, :, :5])


def test_single_output_model_needs_no_target():
    model = TinyCNN(targets=None, activation="tanh").eval()
    x, _ = one_hot(n=2, length=7, seed=5)
    expected = saliency(TinyCNN(activation="tanh").eval(), x, target=0, absolute=False)
    np.testing.assert_array_equal(saliency(model, x, absolute=False).numpy(), expected.numpy())


def test_protein_alphabet_and_integer_input():
    model = TinyCNN(channels=20).eval()
    x, _ = one_hot(n=1, length=4, channels=20)
    result = in_silico_mutagenesis(model, x.astype(np.uint8), alphabet=PROTEIN)
    assert result.scores.shape == (1, 20, 4, 2) and result.scores.dtype == biotorch.float64
    assert np.count_nonzero(result.scores.numpy()[..., 0]) <= 19 * 4


@pytest.mark.parametrize(
    "call, error, message",
    [
        (
            lambda m, x: in_silico_mutagenesis(m, x[:, :3]),
            ValueError,
            r"one-hot of shape \(N, 4, L\) for the DNA alphabet, got \(3, 3, 9\)",
        ),
        (lambda m, x: in_silico_mutagenesis(m, x, batch_size=0), ValueError, "batch_size must"),
        (lambda m, x: saliency(m, x), ValueError, "returns 2 outputs per sequence; pass target="),
        (lambda m, x: saliency(m, x, target=5), IndexError, "target 5 is out of range for 2"),
        (lambda m, x: in_silico_mutagenesis(lambda y: y, x), TypeError, "must be a biotorch"),
        (
            lambda m, x: saliency(TinyCNN(targets=None).eval(), x, target=0),
            ValueError,
            "target=0 given, but the model returns one output",
        ),
    ],
)
def test_errors(call, error, message):
    x, _ = one_hot()
    with pytest.raises(error, match=message):
        call(TinyCNN().eval(), x)


def test_bad_model_output_shape():
    class Bad(TinyCNN):
        def forward(self, x):
            return x

    with pytest.raises(ValueError, match=r"must return a Tensor of shape \(3,\) or \(3, T\)"):
        in_silico_mutagenesis(Bad().eval(), one_hot()[0])


def test_training_mode_warns():
    with pytest.warns(UserWarning, match="training mode"):
        saliency(TinyCNN(), one_hot()[0], target=0)


# -- token-embedding models ------------------------------------------------------------------
PAD = DNA.pad_token


def transformer():
    biotorch.manual_seed(0)
    return TransformerClassifier(
        num_targets=2, d_model=8, nhead=2, num_layers=1, dim_feedforward=16, dropout=0.0
    )


def cnn_lstm():
    biotorch.manual_seed(1)
    return CNNLSTMClassifier(
        num_targets=2,
        alphabet="DNA",
        embedding_dim=6,
        channels=5,
        kernel_size=3,
        pool_size=2,
        hidden_size=4,
    )


TOKEN_MODELS = [transformer, cnn_lstm]


def padded_tokens(lengths=(7, 4, 6), seed=0, extra=0):
    """Right-padded DNA tokens (one N in the first sequence) and their lengths."""
    rng = np.random.default_rng(seed)
    tokens = np.full((len(lengths), max(lengths) + extra), PAD, dtype=np.int8)
    for i, n in enumerate(lengths):
        tokens[i, :n] = rng.integers(0, 4, n)
    tokens[0, 2] = DNA.unknown_token
    return tokens, np.array(lengths)


def naive_token_ism(model, tokens, lengths):
    """One forward pass per substitution, each sequence unpadded."""
    out = np.zeros((tokens.shape[0], 4, tokens.shape[1], 2))
    with biotorch.no_grad():
        for i, n in enumerate(lengths):
            seq = tokens[i : i + 1, :n]
            ref = model(biotorch.tensor(seq)).numpy()[0]
            for pos in range(n):
                for letter in set(range(4)) - {seq[0, pos]}:
                    mutant = seq.copy()
                    mutant[0, pos] = letter
                    out[i, letter, pos] = model(biotorch.tensor(mutant)).numpy()[0] - ref
    return out


@pytest.mark.parametrize("make", TOKEN_MODELS)
def test_token_ism_equals_naive_loop(make):
    model = make().double().eval()
    tokens, lengths = padded_tokens()
    result = in_silico_mutagenesis(model, tokens, lengths=lengths, batch_size=16)
    assert result.scores.shape == (3, 4, 7, 2) and result.scores.dtype == biotorch.float64
    scores = result.scores.numpy()
    np.testing.assert_allclose(scores, naive_token_ism(model, tokens, lengths), atol=1e-12)
    assert not scores[1, :, 4:].any() and not scores[2, :, 6:].any()  # padding
    assert np.count_nonzero(scores[0, :, 2, 0]) == 4  # N position: every letter
    with biotorch.no_grad():
        expected = model(biotorch.tensor(tokens), lengths=lengths).numpy()
    np.testing.assert_allclose(result.reference.numpy(), expected, atol=1e-12)


@pytest.mark.parametrize("make", TOKEN_MODELS)
def test_token_ism_padding_and_chunking_invariance(make):
    model = make().double().eval()
    tokens, lengths = padded_tokens(seed=1)
    one = in_silico_mutagenesis(model, tokens, lengths=lengths, batch_size=1).scores.numpy()
    wide, _ = padded_tokens(seed=1, extra=5)
    mask = np.arange(wide.shape[1]) < lengths[:, None]
    for other in (
        in_silico_mutagenesis(model, tokens, batch_size=1000),  # padding from PAD tokens
        in_silico_mutagenesis(model, biotorch.tensor(wide), mask=mask, batch_size=7),
        in_silico_mutagenesis(model, wide.astype(np.int64), lengths=lengths, batch_size=5),
    ):
        got = other.scores.numpy()
        np.testing.assert_allclose(got[:, :, :7], one, atol=1e-12)
        assert not got[:, :, 7:].any()


def test_one_hot_and_token_ism_agree_with_padding():
    # MaskedCNNClassifier one-hot encodes tokens itself and also takes one-hot input: ISM of the
    # tokens and of their one-hot encoding (padding given by lengths) must agree.
    biotorch.manual_seed(2)
    model = MaskedCNNClassifier(num_targets=2, channels=(4,), kernel_size=3).double().eval()
    tokens, lengths = padded_tokens(seed=2)
    x = one_hot_encode(tokens, DNA, dtype=np.float64)
    from_tokens = in_silico_mutagenesis(model, tokens, lengths=lengths).scores.numpy()
    from_one_hot = in_silico_mutagenesis(model, x, lengths=lengths).scores.numpy()
    np.testing.assert_allclose(from_one_hot, from_tokens, atol=1e-12)
    grad = input_x_gradient(model, x, target=0, lengths=lengths).numpy()
    assert not grad[1, :, 4:].any() and grad[1, :, :4].any()


def _embedding_output(model, tokens, **kwargs):
    seen = []
    handle = model.embedding.register_forward_hook(lambda m, a, out: seen.append(out.numpy()))
    with biotorch.no_grad():
        model(biotorch.tensor(tokens), **kwargs)
    handle.remove()
    return seen[0]


def _embedding_finite_difference(model, tokens, lengths, target, eps=1e-6):
    """d out[:, target].sum() / d (embedding output), by shifting each element of it."""
    shape = _embedding_output(model, tokens, lengths=lengths).shape
    grad = np.zeros(shape)
    for idx in np.ndindex(shape):
        total = 0.0
        for sign in (1, -1):
            shift = np.zeros(shape)
            shift[idx] = sign * eps
            handle = model.embedding.register_forward_hook(
                lambda m, a, out, s=shift: out + biotorch.tensor(s)
            )
            with biotorch.no_grad():
                out = model(biotorch.tensor(tokens), lengths=lengths).numpy()[:, target].sum()
            handle.remove()
            total += sign * out
        grad[idx] = total / (2 * eps)
    return grad


@pytest.mark.parametrize("make", TOKEN_MODELS)
def test_embedding_attributions_equal_finite_differences(make):
    model = make().double().eval()
    tokens, lengths = padded_tokens(lengths=(5, 3), seed=3)
    expected = _embedding_finite_difference(model, tokens, lengths, target=1)
    expected[1, 3:] = 0.0  # padding
    for p in (1, 2, np.inf):
        got = embedding_saliency(model, tokens, target=1, p=p, lengths=lengths).numpy()
        np.testing.assert_allclose(got, np.linalg.norm(expected, p, axis=-1), rtol=1e-5)
    attribution = embedding_x_gradient(model, tokens, target=1, lengths=lengths).numpy()
    activation = _embedding_output(model, tokens, lengths=lengths)
    np.testing.assert_allclose(attribution, (activation * expected).sum(-1), atol=1e-8)
    assert attribution.shape == (2, 5) and not attribution[1, 3:].any()
    assert model.embedding.weight.grad is None  # parameter gradients untouched


def test_embedding_x_gradient_padding_layer_and_targets():
    model = transformer().double().eval()
    tokens, lengths = padded_tokens(seed=4)
    by_lengths = embedding_x_gradient(model, tokens, target=0, lengths=lengths).numpy()
    wide, _ = padded_tokens(seed=4, extra=3)
    by_pad = embedding_x_gradient(model, wide, target=0, layer=model.embedding).numpy()
    np.testing.assert_allclose(by_pad[:, :7], by_lengths, atol=1e-12)
    assert not by_pad[:, 7:].any()
    single = embedding_x_gradient(model, tokens[1:2, :4], target=0).numpy()
    np.testing.assert_allclose(single, by_lengths[1:2, :4], atol=1e-12)


@pytest.mark.parametrize(
    "call, error, message",
    [
        (
            lambda m, t: in_silico_mutagenesis(m, t.astype(np.float64)),
            ValueError,
            r"x must be integer tokens of shape \(N, L\), got shape "
            r"\(3, 7\) and dtype biotorch.float64",
        ),
        (
            lambda m, t: in_silico_mutagenesis(m, t + 20),
            ValueError,
            r"token 2\d is not a token of the DNA alphabet; expected 0 <= token < 16",
        ),
        (
            lambda m, t: embedding_x_gradient(m, t[None], target=0),
            ValueError,
            r"embedding_x_gradient: tokens must be integer tokens of shape \(N, L\)",
        ),
        (
            lambda m, t: embedding_x_gradient(TinyCNN().eval(), t, target=0),
            ValueError,
            "TinyCNN has no nn.Embedding; pass layer=",
        ),
        (
            lambda m, t: embedding_x_gradient(m, t, layer=TinyCNN()),
            ValueError,
            "layer must be a submodule of the model, got TinyCNN",
        ),
        (
            lambda m, t: embedding_x_gradient(m, t, target=2),
            IndexError,
            "embedding_x_gradient: target 2 is out of range for 2 outputs",
        ),
        (
            lambda m, t: embedding_x_gradient(m, t),
            ValueError,
            "returns 2 outputs per sequence; pass target=",
        ),
        (
            lambda m, t: in_silico_mutagenesis(m, t, mask=np.ones((3, 6), bool)),
            ValueError,
            r"mask must be bool of shape \(3, 7\), True at real positions, got shape \(3, 6\)",
        ),
        (
            lambda m, t: embedding_saliency(m, t, lengths=[7.0, 4.0, 6.0]),
            ValueError,
            r"embedding_saliency: lengths must be integers of shape \(3,\), got shape \(3,\) "
            "and dtype biotorch.float32",
        ),
        (
            lambda m, t: embedding_saliency(m, t, target=0, p=0),
            ValueError,
            "embedding_saliency: p must be a positive number or inf, got 0",
        ),
        (
            lambda m, t: embedding_x_gradient(m, t, layer=m.encoder, target=0),
            ValueError,
            "the input of layer TransformerEncoder is not the tokens, position by position",
        ),
    ],
)
def test_token_errors(call, error, message):
    with pytest.raises(error, match=message):
        call(transformer().eval(), padded_tokens()[0])


class Embedded(nn.Module):
    """Sum of token embeddings, looked up ``times`` times (a second Embedding stays unused)."""

    def __init__(self, times=1):
        super().__init__()
        self.embedding, self.unused = nn.Embedding(6, 3), nn.Embedding(6, 3)
        self.times = times

    def forward(self, tokens):
        return sum(self.embedding(tokens.long()) for _ in range(self.times)).sum(dim=(1, 2))


def test_embedding_x_gradient_hook_errors():
    tokens = padded_tokens()[0]
    # No padding_idx and no lengths/mask: every position is real; d out / d h = 1.
    model = Embedded().eval()
    h = model.embedding.weight.detach().numpy()[tokens]
    np.testing.assert_allclose(embedding_x_gradient(model, tokens).numpy(), h.sum(-1), rtol=1e-6)
    with pytest.raises(ValueError, match="layer Embedding runs more than once in a forward pass"):
        embedding_x_gradient(Embedded(times=2).eval(), tokens)
    with pytest.raises(ValueError, match="layer Embedding did not run"):
        embedding_x_gradient(model, tokens, layer=model.unused)


def test_left_padding_in_cnn_lstm_is_moved_back():
    # CNNLSTMClassifier moves real tokens to the front before embedding them: with left padding,
    # embedding position j is token position j + (number of pads); attributions are moved back.
    tokens, lengths = padded_tokens(seed=5)
    pads = tokens.shape[1] - lengths
    left = np.stack([np.roll(row, p) for row, p in zip(tokens, pads, strict=True)])
    model = cnn_lstm().eval()
    for attribute in (embedding_x_gradient, embedding_saliency):
        right_scores = attribute(model, tokens, target=0, lengths=lengths).numpy()
        left_mask = np.arange(tokens.shape[1])[None, :] >= pads[:, None]
        left_scores = attribute(model, left, target=0, mask=left_mask).numpy()
        for row, p in enumerate(pads):
            np.testing.assert_allclose(left_scores[row], np.roll(right_scores[row], p), atol=1e-6)
        assert (left_scores[~left_mask] == 0).all() and (left_scores[left_mask] != 0).any()


class Reversed(Embedded):
    def forward(self, tokens):
        return super().forward(tokens.flip(1))


def test_reordered_tokens_are_refused():
    tokens = padded_tokens(extra=1)[0]
    with pytest.raises(ValueError, match="is not the tokens, position by position or moved"):
        embedding_x_gradient(Reversed().eval(), tokens)


@pytest.mark.gpu
def test_gpu_matches_cpu():
    x, _ = one_hot(n=2, length=11)
    model = TinyCNN(activation="tanh").eval()
    cpu = in_silico_mutagenesis(model, x, batch_size=7).scores.numpy()
    grad_cpu = saliency(model, x, target=0).numpy()
    ig_cpu = integrated_gradients(model, x, target=1, baseline=x[::-1].copy(), steps=4).numpy()
    model.to("cuda")
    gpu = in_silico_mutagenesis(model, x, batch_size=7)
    assert gpu.scores.device.type == "cuda"
    np.testing.assert_allclose(gpu.scores.cpu().numpy(), cpu, rtol=1e-10, atol=1e-12)
    grad_gpu = saliency(model, x, target=0).cpu().numpy()
    np.testing.assert_allclose(grad_gpu, grad_cpu, rtol=1e-10, atol=1e-12)
    ig_gpu = integrated_gradients(model, x, target=1, baseline=x[::-1].copy(), steps=4)
    np.testing.assert_allclose(ig_gpu.cpu().numpy(), ig_cpu, rtol=1e-10, atol=1e-12)


@pytest.mark.gpu
def test_gpu_matches_cpu_for_token_models():
    model = transformer().double().eval()
    tokens, lengths = padded_tokens()
    cpu = in_silico_mutagenesis(model, tokens, lengths=lengths, batch_size=7).scores.numpy()
    attribution_cpu = embedding_x_gradient(model, tokens, target=0, lengths=lengths).numpy()
    model.to("cuda")
    gpu = in_silico_mutagenesis(model, tokens, lengths=lengths, batch_size=7)
    assert gpu.scores.device.type == "cuda"
    np.testing.assert_allclose(gpu.scores.cpu().numpy(), cpu, atol=1e-10)
    attribution = embedding_x_gradient(model, tokens, target=0, lengths=lengths).cpu().numpy()
    np.testing.assert_allclose(attribution, attribution_cpu, atol=1e-10)
