"""biotorch.models: parameter counts of the published networks, shapes, length checks, parity with
torch re-implementations, padding invariance, strand averaging, and the weights registry."""

import json
from collections import OrderedDict

import numpy as np
import pytest

import biotorch as bt
from biotorch import models
from biotorch.data import DNA, PROTEIN, RNA, collate_sequences, one_hot, reverse_complement
from biotorch.models import registry

try:
    import torch
except ImportError:  # pragma: no cover - torch is only the test oracle
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="torch is not importable")


def num_params(model, trainable=False):
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable)


def random_one_hot(batch, length, seed=0, alphabet=DNA):
    rng = np.random.default_rng(seed)
    tokens = rng.integers(0, len(alphabet), size=(batch, length)).astype(np.int8)
    return one_hot(tokens, alphabet)


def random_sequences(lengths, alphabet=DNA, seed=0):
    rng = np.random.default_rng(seed)
    return ["".join(rng.choice(list(alphabet.letters), size=n)) for n in lengths]


@pytest.fixture(scope="module")
def deepsea_model():
    bt.manual_seed(0)
    return models.deepsea().eval()


@pytest.fixture(scope="module")
def danq_model():
    bt.manual_seed(0)
    return models.danq().eval()


# -- the published networks ----------------------------------------------------------------------
@pytest.mark.parametrize(
    "name, config, expected",
    [
        ("deepbind", {}, 1_569),
        ("deepbind_hidden", {}, 2_129),
        ("deepbind_max_avg_hidden", {}, 2_641),
        ("deepbind", {"alphabet": "RNA"}, 4 * 16 * 16 + 16 + 17),
        ("basset", {}, 4_135_064),
        (
            "basset",
            {"conv_channels": (8, 6, 4), "dense_units": 10, "num_targets": 3},
            (4 * 19 * 8 + 8 + 16)
            + (8 * 11 * 6 + 6 + 12)
            + (6 * 7 * 4 + 4 + 8)
            + (40 * 10 + 10 + 20)
            + (10 * 10 + 10 + 20)
            + (10 * 3 + 3),
        ),
    ],
)
def test_parameter_counts(name, config, expected):
    model = models.get_model(name, **config)
    assert num_params(model, trainable=True) == expected


def test_deepsea_parameters_and_shape(deepsea_model):
    assert num_params(deepsea_model) == 52_843_119
    assert deepsea_model.classifier[1].in_features == 960 * 53
    out = deepsea_model(bt.as_tensor(random_one_hot(2, 1000)))
    assert out.shape == (2, 919) and out.dtype == bt.float32


def test_danq_parameters_and_shape(danq_model):
    assert num_params(danq_model) == 46_929_039
    # the LSTM runs over the 75 pooled positions, not over the batch
    assert danq_model.classifier[1].in_features == 75 * 640
    out = danq_model(bt.as_tensor(random_one_hot(1, 1000)))
    assert out.shape == (1, 919)


def test_basset_batch_norm_buffers_are_not_trainable():
    model = models.basset()
    buffers = dict(model.named_buffers())
    assert "features.1.running_mean" in buffers
    assert num_params(model) == 4_135_064


@pytest.mark.parametrize(
    "name, minimum",
    [("deepsea", 163), ("basset", 168), ("danq", 38)],
)
def test_input_length_minimum(name, minimum):
    with pytest.raises(ValueError, match=f"input_length={minimum - 1} is too short.*{minimum}"):
        models.get_model(name, input_length=minimum - 1, num_targets=3)
    model = models.get_model(name, input_length=minimum, num_targets=3).eval()
    assert model(bt.as_tensor(random_one_hot(2, minimum))).shape == (2, 3)


@pytest.mark.parametrize(
    "name, length, features",
    [
        ("deepsea", 500, 960 * 22),
        ("basset", 300, 200 * 3),
        ("danq", 300, 640 * 21),
    ],
)
def test_dense_width_follows_input_length(name, length, features):
    model = models.get_model(name, input_length=length, num_targets=5)
    assert model.classifier[1].in_features == features
    with pytest.raises(ValueError, match=rf"shape \(2, 4, {length + 1}\).*\(batch, 4, {length}\)"):
        model(bt.as_tensor(random_one_hot(2, length + 1)))


@pytest.mark.parametrize(
    "config, match",
    [({"conv_channels": (8, 8)}, "expected three"), ({"dense_units": 0}, "dense_units=0")],
)
def test_basset_bad_widths(config, match):
    with pytest.raises(ValueError, match=match):
        models.Basset(**config)


@pytest.mark.parametrize(
    "config, match",
    [
        ({"pooling": "mean"}, "pooling='mean'"),
        ({"hidden_units": 0}, "hidden_units=0"),
        ({"num_targets": -1}, "num_targets=-1"),
    ],
)
def test_deepbind_bad_arguments(config, match):
    with pytest.raises(ValueError, match=match):
        models.DeepBind(**config)


def test_deepbind_inputs():
    model = models.deepbind().eval()
    for length in (1, 30, 101):  # global pooling: any length
        assert model(bt.as_tensor(random_one_hot(3, length))).shape == (3, 1)
    with pytest.raises(ValueError, match=r"DeepBind: input has shape \(3, 5, 30\)"):
        model(bt.randn(3, 5, 30))
    with pytest.raises(ValueError, match="no published motif length for alphabet PROTEIN"):
        models.deepbind(alphabet="PROTEIN")
    assert models.deepbind(alphabet=PROTEIN, motif_length=10).motifs.in_channels == 20


@pytest.mark.parametrize(
    "name, config, length",
    [
        ("deepbind_max_avg_hidden", {"num_targets": 3}, 50),
        ("basset", {"input_length": 200, "num_targets": 3, "conv_channels": (16, 8, 8)}, 200),
        ("danq", {"input_length": 100, "num_targets": 3}, 100),
    ],
)
def test_training_steps_lower_the_loss(name, config, length):
    model = models.get_model(name, **config).train()
    x = bt.as_tensor(random_one_hot(4, length, seed=10))
    y = bt.as_tensor(np.random.default_rng(10).integers(0, 2, (4, 3)).astype(np.float32))
    bce = bt.nn.functional.binary_cross_entropy_with_logits

    def loss_with_fixed_dropout():
        bt.manual_seed(1)
        with bt.no_grad():
            return float(bce(model(x), y))

    before = loss_with_fixed_dropout()
    optimizer = bt.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(3):
        optimizer.zero_grad()
        bce(model(x), y).backward()
        assert all(p.grad is not None for p in model.parameters())
        optimizer.step()
    assert loss_with_fixed_dropout() < before


# -- parity with torch re-implementations ----------------------------------------------------------
def copy_to_torch(bt_model, torch_model):
    state = {k: torch.from_numpy(np.array(v.numpy())) for k, v in bt_model.state_dict().items()}
    torch_model.load_state_dict(state, strict=True)
    return torch_model.eval()


def randomise_batch_norm(model):
    rng = np.random.default_rng(3)
    for name, buffer in model.named_buffers():
        if name.endswith("running_mean"):
            buffer.copy_(bt.as_tensor(rng.normal(0, 0.5, buffer.shape).astype(np.float32)))
        elif name.endswith("running_var"):
            buffer.copy_(bt.as_tensor(rng.uniform(0.5, 2.0, buffer.shape).astype(np.float32)))


def check_parity(bt_model, torch_model, x, atol=1e-4):
    bt_model.eval()
    copy_to_torch(bt_model, torch_model)
    expected = torch_model(torch.from_numpy(x)).detach().numpy()
    actual = bt_model(bt.as_tensor(x)).detach().numpy()
    np.testing.assert_allclose(actual, expected, rtol=1e-4, atol=atol)


if torch is not None:
    tnn = torch.nn

    class TorchDeepBind(tnn.Module):
        def __init__(self, motif_length, pooling, hidden_units, num_targets=1):
            super().__init__()
            self.m, self.pooling = motif_length, pooling
            self.motifs = tnn.Conv1d(4, 16, motif_length)
            features = 32 if pooling == "max_avg" else 16
            head = [tnn.Dropout(0.5)]
            if hidden_units:
                head += [tnn.Linear(features, hidden_units), tnn.ReLU()]
                features = hidden_units
            self.classifier = tnn.Sequential(*head, tnn.Linear(features, num_targets))

        def forward(self, x):
            x = tnn.functional.pad(x, (self.m - 1, self.m - 1), value=0.25)
            h = torch.relu(self.motifs(x))
            pooled = h.amax(-1)
            if self.pooling == "max_avg":
                pooled = torch.cat([pooled, h.mean(-1)], 1)
            return self.classifier(pooled)

    def torch_deepsea(length, num_targets):
        features = tnn.Sequential(
            tnn.Conv1d(4, 320, 8), tnn.ReLU(), tnn.MaxPool1d(4, 4), tnn.Dropout(0.2),
            tnn.Conv1d(320, 480, 8), tnn.ReLU(), tnn.MaxPool1d(4, 4), tnn.Dropout(0.2),
            tnn.Conv1d(480, 960, 8), tnn.ReLU(), tnn.Dropout(0.5),
        )  # fmt: skip
        width = features(torch.zeros(1, 4, length)).numel()
        classifier = tnn.Sequential(
            tnn.Flatten(), tnn.Linear(width, 925), tnn.ReLU(), tnn.Linear(925, num_targets)
        )
        return tnn.Sequential(OrderedDict(features=features, classifier=classifier))

    def torch_basset(length, num_targets):
        def conv(i, o, k, p):
            return [tnn.Conv1d(i, o, k), tnn.BatchNorm1d(o), tnn.ReLU(), tnn.MaxPool1d(p, p)]

        def dense(i, o):
            return [tnn.Linear(i, o), tnn.BatchNorm1d(o), tnn.ReLU(), tnn.Dropout(0.3)]

        features = tnn.Sequential(
            *conv(4, 300, 19, 3), *conv(300, 200, 11, 4), *conv(200, 200, 7, 4)
        )
        width = features.eval()(torch.zeros(1, 4, length)).numel()
        classifier = tnn.Sequential(
            tnn.Flatten(), *dense(width, 1000), *dense(1000, 1000), tnn.Linear(1000, num_targets)
        )
        return tnn.Sequential(OrderedDict(features=features, classifier=classifier))

    class TorchDanQ(tnn.Module):
        def __init__(self, length, num_targets):
            super().__init__()
            self.features = tnn.Sequential(
                tnn.Conv1d(4, 320, 26), tnn.ReLU(), tnn.MaxPool1d(13, 13), tnn.Dropout(0.2)
            )
            steps = (length - 25) // 13
            self.lstm = tnn.LSTM(320, 320, batch_first=True, bidirectional=True)
            self.dropout = tnn.Dropout(0.5)
            self.classifier = tnn.Sequential(
                tnn.Flatten(),
                tnn.Linear(steps * 640, 925),
                tnn.ReLU(),
                tnn.Linear(925, num_targets),
            )

        def forward(self, x):
            states, _ = self.lstm(self.features(x).transpose(1, 2))
            return self.classifier(self.dropout(states))


@needs_torch
@pytest.mark.parametrize(
    "name, pooling, hidden",
    [
        ("deepbind", "max", None),
        ("deepbind_hidden", "max", 32),
        ("deepbind_max_avg_hidden", "max_avg", 32),
    ],
)
def test_deepbind_torch_parity(name, pooling, hidden):
    model = models.get_model(name, num_targets=3)
    check_parity(model, TorchDeepBind(24, pooling, hidden, 3), random_one_hot(4, 60, seed=1))


@needs_torch
def test_deepsea_torch_parity():
    model = models.deepsea(input_length=250, num_targets=11)
    check_parity(model, torch_deepsea(250, 11), random_one_hot(2, 250, seed=2))


@needs_torch
def test_basset_torch_parity():
    model = models.basset()
    randomise_batch_norm(model)
    check_parity(model, torch_basset(600, 164), random_one_hot(2, 600, seed=3), atol=2e-4)


@needs_torch
def test_danq_torch_parity():
    model = models.danq(input_length=300, num_targets=7)
    check_parity(model, TorchDanQ(300, 7), random_one_hot(2, 300, seed=4))


@needs_torch
def test_danq_full_size_torch_parity(danq_model):
    x = random_one_hot(1, 1000, seed=5)
    check_parity(danq_model, TorchDanQ(1000, 919), x)


# -- variable-length classifiers -------------------------------------------------------------------
VARLEN = [
    ("masked_cnn", {"channels": (8, 6), "kernel_size": 5, "dilation": (1, 2)}),
    ("masked_cnn", {"channels": (6,), "kernel_size": 4, "pooling": "mean", "embedding_dim": 5}),
    ("masked_cnn", {"channels": (6, 6), "kernel_size": 3, "pooling": "max_mean", "n_value": 0.25}),
    ("cnn_lstm", {"embedding_dim": 6, "channels": 5, "kernel_size": 4, "pool_size": 3}),
    ("cnn_lstm", {"channels": 4, "kernel_size": 3, "hidden_size": 3, "bidirectional": True}),
    ("transformer_classifier", {"d_model": 16, "nhead": 2, "dim_feedforward": 24}),
    (
        "transformer_classifier",
        {"d_model": 16, "nhead": 4, "num_layers": 1, "positional": "learned", "pooling": "cls"},
    ),
]


@pytest.mark.parametrize("alphabet", [DNA, RNA, PROTEIN], ids=lambda a: a.name)
@pytest.mark.parametrize("name, config", VARLEN, ids=lambda v: str(v)[:40])
def test_padding_invariance(name, config, alphabet):
    model = models.get_model(name, num_targets=3, alphabet=alphabet.name, **config).eval()
    seqs = random_sequences([7, 19, 12], alphabet, seed=6)
    seqs[1] = seqs[1][:5] + alphabet.unknown + seqs[1][6:]  # an unknown letter
    alone = np.concatenate(
        [model(collate_sequences([s], alphabet=alphabet)).detach().numpy() for s in seqs]
    )
    for side in ("right", "left"):
        batch = collate_sequences(seqs, alphabet=alphabet, side=side, length=25)
        assert batch.inputs.shape == (3, 25)
        np.testing.assert_allclose(model(batch).detach().numpy(), alone, rtol=1e-5, atol=1e-5)
    right = collate_sequences(seqs, alphabet=alphabet)
    for kwargs in ({"lengths": right.lengths}, {"mask": right.mask}, {}):
        out = model(bt.as_tensor(right.inputs), **kwargs).detach().numpy()
        np.testing.assert_allclose(out, alone, rtol=1e-5, atol=1e-5)


def test_cnn_lstm_amp_scanner_sizes():
    """AMP Scanner v2 sizes: embedding 128 (25 tokens), conv 64 x 17, LSTM 100, one output."""
    model = models.cnn_lstm(num_targets=1)
    conv, lstm = 128 * 64 * 17 + 64, 4 * 100 * (64 + 100) + 2 * 4 * 100
    assert num_params(model) == 25 * 128 + conv + lstm + 101 == 209_029
    with pytest.raises(ValueError, match="expected tokens"):
        model(bt.zeros(2, 25, 9))


def test_masked_cnn_one_hot_batches():
    model = models.masked_cnn(num_targets=2, channels=(4,), kernel_size=3).eval()
    seqs = random_sequences([5, 9])
    tokens = collate_sequences(seqs)
    onehot = collate_sequences(seqs, one_hot=True)
    np.testing.assert_allclose(
        model(onehot).detach().numpy(), model(tokens).detach().numpy(), atol=1e-6
    )
    with pytest.raises(ValueError, match="expected bool"):
        model(onehot.inputs, mask=onehot.mask.astype(np.float32))
    with pytest.raises(ValueError, match=r"lengths has shape \(3,\), expected \(2,\)"):
        model(tokens.inputs, lengths=np.array([1, 2, 3]))
    with pytest.raises(ValueError, match="pass a Batch alone"):
        model(tokens, lengths=tokens.lengths)
    with pytest.raises(ValueError, match="no real positions"):
        model(tokens.inputs, lengths=np.array([0, 3]))


@pytest.mark.parametrize("name, config", VARLEN, ids=lambda v: str(v)[:40])
def test_varlen_gradients_reach_every_parameter(name, config):
    batch = collate_sequences(random_sequences([6, 11, 3]))
    model = models.get_model(name, num_targets=2, **config)
    model(batch).sum().backward()
    assert [n for n, p in model.named_parameters() if p.grad is None] == []
    assert all(float(p.grad.abs().sum()) > 0 for p in model.parameters())


@pytest.mark.parametrize(
    "config, match",
    [
        ({"pooling": "sum"}, "pooling='sum'"),
        ({"channels": (4, 4), "dilation": (1,)}, "one dilation per convolution"),
        ({"alphabet": "XNA"}, "alphabet='XNA'"),
    ],
)
def test_masked_cnn_bad_arguments(config, match):
    with pytest.raises(ValueError, match=match):
        models.MaskedCNNClassifier(**config)


def test_transformer_checks():
    with pytest.raises(ValueError, match="positional='rotary'"):
        models.TransformerClassifier(positional="rotary")
    model = models.transformer_classifier(
        d_model=8, nhead=2, positional="learned", max_length=10
    ).eval()
    with pytest.raises(ValueError, match="length 12 > max_length=10"):
        model(collate_sequences(["ACGTACGTACGT"]))
    with pytest.raises(ValueError, match="expected tokens"):
        model(collate_sequences(["ACGT"], one_hot=True))


# -- strand averaging ------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["mean", "max"])
def test_strand_average_symmetry(mode):
    model = models.StrandAverage(models.deepbind_hidden(num_targets=2), mode=mode).eval()
    x = random_one_hot(3, 40, seed=7)
    forward = model(bt.as_tensor(x)).detach().numpy()
    reverse = model(bt.as_tensor(reverse_complement(x))).detach().numpy()
    np.testing.assert_array_equal(forward, reverse)
    one = model.model(bt.as_tensor(x)).detach().numpy()
    other = model.model(bt.as_tensor(reverse_complement(x))).detach().numpy()
    combined = (one + other) / 2 if mode == "mean" else np.maximum(one, other)
    np.testing.assert_allclose(forward, combined, rtol=1e-6)


def test_strand_average_padded_batches():
    net = models.masked_cnn(num_targets=2, channels=(5, 5), kernel_size=4).eval()
    model = models.StrandAverage(net).eval()
    seqs = random_sequences([8, 13, 4], seed=8)
    revcomp = reverse_complement(seqs)
    expected = model(collate_sequences(revcomp)).detach().numpy()
    for side in ("right", "left"):
        batch = collate_sequences(seqs, side=side, length=16)
        np.testing.assert_allclose(model(batch).detach().numpy(), expected, rtol=1e-5, atol=1e-6)
        hot = collate_sequences(seqs, side=side, length=16, one_hot=True)
        np.testing.assert_allclose(model(hot).detach().numpy(), expected, rtol=1e-5, atol=1e-6)
    tokens = collate_sequences(seqs)
    np.testing.assert_allclose(
        model(bt.as_tensor(tokens.inputs), lengths=tokens.lengths).detach().numpy(),
        expected,
        atol=1e-6,
    )
    # the reverse complement of a padded batch leaves the padding in place
    rc = (
        model.reverse_complement(bt.as_tensor(tokens.inputs), bt.as_tensor(tokens.mask))
        .detach()
        .numpy()
    )
    np.testing.assert_array_equal(rc, reverse_complement(tokens.inputs, lengths=tokens.lengths))


def test_strand_average_gradients_and_errors():
    model = models.StrandAverage(models.deepbind())
    x = bt.as_tensor(random_one_hot(2, 30)).requires_grad_()
    model(x).sum().backward()
    assert x.grad.shape == (2, 4, 30) and float(x.grad.abs().sum()) > 0
    with pytest.raises(ValueError, match="mode='sum'"):
        models.StrandAverage(models.deepbind(), mode="sum")
    with pytest.raises(ValueError, match="PROTEIN has no complement"):
        models.StrandAverage(models.masked_cnn(alphabet="PROTEIN"), alphabet="PROTEIN")


# -- registry and pretrained weights ---------------------------------------------------------------
@pytest.fixture
def empty_weights(monkeypatch):
    monkeypatch.setattr(registry, "_WEIGHTS", {})


def make_entry(path, model_name="deepbind", **overrides):
    fields = {
        "name": "tiny_rna_deepbind",
        "model": model_name,
        "file": str(path),
        "sha256": registry.sha256_of(path),
        "num_params": 1_057,
        "alphabet": "RNA",
        "channel_order": "ACGU",
        "n_policy": "uniform",
        "input_length": None,
        "targets": ("bound",),
        "training_data": "random weights made by the test",
        "license": "CC0-1.0",
        "metrics": {"auroc": 0.5},
        "config": {"num_targets": 1},
    }
    fields.update(overrides)
    return models.Weights(**fields)


def test_registry_lists_and_errors():
    names = models.list_models()
    for name in ("deepbind", "deepsea", "basset", "danq", "masked_cnn", "transformer_classifier"):
        assert name in names
    assert "cnn_lstm" in names
    with pytest.raises(ValueError, match="unknown model 'nope'; known models: basset, cnn_lstm"):
        models.get_model("nope")
    with pytest.raises(ValueError, match="already registered"):
        models.register_model("deepsea")(models.deepsea)


def test_load_pretrained_unknown_lists_known(empty_weights, tmp_path):
    path = tmp_path / "w.safetensors"
    bt.save(models.deepbind(alphabet="RNA").state_dict(), path)
    models.register_weights(make_entry(path))
    with pytest.raises(ValueError, match="unknown pretrained weights 'x'; known weights: tiny_rna"):
        models.load_pretrained("x")


def test_pretrained_round_trip(empty_weights, tmp_path):
    source = models.deepbind(alphabet="RNA")
    path = tmp_path / "tiny.safetensors"
    bt.save(source.state_dict(), path)
    entry = models.register_weights(make_entry(path))
    assert models.list_weights() == ["tiny_rna_deepbind"] == models.list_weights("deepbind")
    assert models.get_model_weights("tiny_rna_deepbind") is entry
    model = models.load_pretrained("tiny_rna_deepbind")
    assert not model.training and model.motif_length == 16
    for (name, a), (_, b) in zip(
        source.state_dict().items(), model.state_dict().items(), strict=True
    ):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=name)
    x = bt.as_tensor(random_one_hot(2, 20, alphabet=RNA))
    np.testing.assert_array_equal(model(x).detach().numpy(), source.eval()(x).detach().numpy())
    assert models.deepbind(weights=entry, num_targets=1).training
    assert entry.n_value == 0.25
    assert json.loads(json.dumps(entry.meta()))["targets"] == ["bound"]
    with pytest.raises(ValueError, match="num_targets=2 contradicts weights 'tiny_rna_deepbind'"):
        models.deepbind(weights="tiny_rna_deepbind", num_targets=2)
    with pytest.raises(ValueError, match="are for model 'deepbind', not 'basset'"):
        models.basset(weights=entry)


def test_pretrained_verification(empty_weights, tmp_path):
    path = tmp_path / "tiny.safetensors"
    bt.save(models.deepbind(alphabet="RNA").state_dict(), path)
    entry = make_entry(path)
    raw = bytearray(path.read_bytes())
    raw[-1] ^= 1
    path.write_bytes(bytes(raw))
    with pytest.raises(
        models.WeightsError, match=r"has sha256 [0-9a-f]{64}, expected " + entry.sha256
    ):
        models.load_pretrained(entry)
    with pytest.raises(models.WeightsError, match="does not exist"):
        models.load_pretrained(make_entry(path, file=str(tmp_path / "gone.safetensors")))
    with pytest.raises(models.WeightsError, match="has 1569 parameters.*expect 1057"):
        models.load_pretrained(make_entry(path, alphabet="DNA"))
    assert make_entry(path, file="x.safetensors").path == models.WEIGHTS_DIR / "x.safetensors"


@pytest.mark.parametrize(
    "overrides, match",
    [
        ({"sha256": "abc"}, "expected 64 lowercase hex digits"),
        ({"n_policy": "random"}, "n_policy='random'"),
        ({"num_params": 0}, "num_params=0"),
        ({"targets": ()}, "targets is empty"),
        ({"task": "regression"}, "task='regression', expected one of"),
    ],
)
def test_weights_validation(tmp_path, overrides, match):
    path = tmp_path / "w"
    path.write_bytes(b"x")
    with pytest.raises(ValueError, match=match):
        make_entry(path, **overrides)


def test_weights_task(tmp_path):
    path = tmp_path / "w"
    path.write_bytes(b"x")
    assert make_entry(path).task == "binary"
    assert make_entry(path, targets=("a", "b")).task == "multilabel"
    assert make_entry(path, targets=("a", "b"), task="multiclass").meta()["task"] == "multiclass"
    shipped = {name: models.get_model_weights(name).task for name in models.list_weights()}
    assert shipped == {
        "basset_small_regulatory": "multilabel",
        "deepbind_binding_task": "binary",
        "masked_cnn_varlen": "binary",
        "motif_cnn_regulatory": "multilabel",
        "splice_junction_cnn": "multiclass",
    }


def test_register_weights_checks(empty_weights, tmp_path):
    path = tmp_path / "w"
    path.write_bytes(b"x")
    with pytest.raises(ValueError, match="names model 'nope'; known models"):
        models.register_weights(make_entry(path, model_name="nope"))
    models.register_weights(make_entry(path))
    with pytest.raises(ValueError, match="already registered"):
        models.register_weights(make_entry(path))
    models.register_weights(make_entry(path), replace=True)


# -- GPU -------------------------------------------------------------------------------------------
@pytest.mark.gpu
@pytest.mark.parametrize(
    "name, config, length",
    [
        ("deepbind_max_avg_hidden", {}, 50),
        ("basset", {"input_length": 200, "num_targets": 4}, 200),
        ("danq", {"input_length": 200, "num_targets": 4}, 200),
        ("deepsea", {"input_length": 200, "num_targets": 4}, 200),
    ],
)
def test_gpu_matches_cpu(name, config, length):
    model = models.get_model(name, **config).eval()
    randomise_batch_norm(model)
    x = random_one_hot(3, length, seed=9)
    expected = model(bt.as_tensor(x)).detach().numpy()
    actual = model.to("cuda")(bt.as_tensor(x, device="cuda")).cpu().detach().numpy()
    np.testing.assert_allclose(actual, expected, rtol=1e-4, atol=1e-4)


@pytest.mark.gpu
@pytest.mark.parametrize("name, config", VARLEN, ids=lambda v: str(v)[:40])
def test_gpu_varlen_matches_cpu(name, config):
    model = models.get_model(name, num_targets=2, **config).eval()
    batch = collate_sequences(random_sequences([5, 17, 9]))
    expected = models.StrandAverage(model)(batch).detach().numpy()
    actual = models.StrandAverage(model.to("cuda"))(batch).cpu().detach().numpy()
    np.testing.assert_allclose(actual, expected, rtol=1e-4, atol=1e-5)
