"""biotorch.metrics: hand-computed cases, scikit-learn/scipy parity, per-target skipping, errors."""

import json
import math
import warnings

import numpy as np
import pytest

import biotorch
from biotorch import metrics as m

THRESHOLDED = [
    m.accuracy,
    m.balanced_accuracy,
    m.matthews_corrcoef,
    m.f1_score,
    m.precision,
    m.recall,
]


# -- hand-computed cases ------------------------------------------------------------------------
@pytest.mark.parametrize(
    "metric, y, s, expected",
    [
        # positives 0.35 and 0.8 against negatives 0.1 and 0.4: 3 of 4 pairs ordered.
        (m.roc_auc, [0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8], 0.75),
        # the tie 0.5/0.5 counts one half: (0.5 + 1 + 2) / 4.
        (m.roc_auc, [0, 1, 0, 1], [0.5, 0.5, 0.2, 0.9], 0.875),
        # thresholds 0.8 (P=1, R=.5) and 0.35 (P=2/3, R=1): .5 * 1 + .5 * 2/3.
        (m.average_precision, [0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8], 5 / 6),
        # the tied pair at 0.5 is one threshold (P=2/3), not a positive ranked first (P=1).
        (m.average_precision, [1, 0, 1, 0], [0.9, 0.5, 0.5, 0.1], 5 / 6),
        (m.average_precision, [1, 1, 0], [0.2, 0.2, 0.2], 2 / 3),
        (m.roc_auc, [1, 1, 0], [0.2, 0.2, 0.2], 0.5),
        # x = 1, 2, 3 and y = 1, 2, 4: r = 3 / sqrt(2 * 42 / 9).
        (m.pearson, [1, 2, 3], [1, 2, 4], 9 / math.sqrt(84)),
        # average ranks (1, 2.5, 2.5, 4) and (1, 3, 2, 4): r = 4.5 / sqrt(4.5 * 5).
        (m.spearman, [1, 2, 2, 3], [1, 3, 2, 4], 4.5 / math.sqrt(22.5)),
    ],
)
def test_hand_computed_ranking_and_correlation(metric, y, s, expected):
    assert metric(y, s) == pytest.approx(expected, rel=1e-12)


# y and scores with tp, fp, fn, tn = 3, 1, 0, 2 at threshold 0.35 and 2, 1, 1, 2 at 0.5.
Y6, S6 = [1, 1, 0, 0, 0, 1], [0.9, 0.4, 0.6, 0.1, 0.2, 0.5]


@pytest.mark.parametrize(
    "metric, at_05, at_035",
    [
        (m.accuracy, 4 / 6, 5 / 6),
        (m.balanced_accuracy, 2 / 3, (1 + 2 / 3) / 2),
        (m.matthews_corrcoef, 3 / 9, 6 / math.sqrt(72)),  # (tp tn - fp fn) / sqrt(...)
        (m.f1_score, 2 / 3, 6 / 7),
        (m.precision, 2 / 3, 3 / 4),
        (m.recall, 2 / 3, 1.0),
    ],
)
def test_hand_computed_thresholded(metric, at_05, at_035):
    assert metric(Y6, S6) == pytest.approx(at_05, rel=1e-12)
    assert metric(Y6, S6, threshold=0.35) == pytest.approx(at_035, rel=1e-12)
    # Hard predictions and logits (threshold 0) give the same numbers.
    hard = (np.asarray(S6) >= 0.5).astype(int)
    assert metric(Y6, hard) == pytest.approx(at_05, rel=1e-12)
    logits = np.log(np.asarray(S6) / (1 - np.asarray(S6)))
    assert metric(Y6, logits, threshold=0.0) == pytest.approx(at_05, rel=1e-12)


# Multi-class: argmax predictions (0, 2, 2, 1) for labels (0, 1, 2, 2).
YC = [0, 1, 2, 2]
SC = [[0.7, 0.1, 0.2], [0.2, 0.3, 0.5], [0.1, 0.3, 0.6], [0.2, 0.5, 0.3]]


@pytest.mark.parametrize(
    "metric, expected",
    [
        (m.accuracy, 0.5),
        (m.balanced_accuracy, 0.5),  # recalls 1, 0, 1/2
        (m.precision, 0.5),  # precisions 1, 0, 1/2
        (m.recall, 0.5),
        (m.f1_score, 0.5),  # F1 1, 0, 1/2
        # R_K: (c s - t.p) / sqrt((s^2 - p.p)(s^2 - t.t)) = (2*4 - 6) / 10.
        (m.matthews_corrcoef, 0.2),
        # one-vs-rest: class 0 ranked first (1), class 1 tied with a negative (1.5/3),
        # class 2 3 of 4 pairs (0.75).
        (m.roc_auc, 0.75),
    ],
)
def test_hand_computed_multiclass(metric, expected):
    assert metric(YC, SC) == pytest.approx(expected, rel=1e-12)


def test_multiclass_per_class_values():
    np.testing.assert_allclose(m.roc_auc(YC, SC, average=None), [1.0, 0.5, 0.75])
    np.testing.assert_allclose(m.precision(YC, SC, average=None), [1.0, 0.0, 0.5])
    with pytest.raises(ValueError, match="accuracy: multi-class accuracy is one number"):
        m.accuracy(YC, SC, average=None)


def test_multilabel_macro_and_per_target():
    y = np.array([[0, 1], [0, 0], [1, 1], [1, 0]])
    s = np.array([[0.1, 0.9], [0.4, 0.3], [0.35, 0.2], [0.8, 0.7]])
    # column 0 is the 0.75 case; column 1: positives 0.9, 0.2 vs negatives 0.3, 0.7 -> 2/4.
    np.testing.assert_allclose(m.roc_auc(y, s, average=None), [0.75, 0.5])
    assert m.roc_auc(y, s) == pytest.approx(0.625)
    np.testing.assert_allclose(m.accuracy(y, s, average=None), [0.75, 0.5])


def test_tensor_and_list_inputs():
    y = biotorch.tensor([0.0, 0.0, 1.0, 1.0])
    s = biotorch.tensor([0.1, 0.4, 0.35, 0.8], requires_grad=True)
    assert m.roc_auc(y, s) == pytest.approx(0.75)
    assert m.roc_auc([False, False, True, True], (s * 2.0)) == pytest.approx(0.75)


# -- vectorised paths ---------------------------------------------------------------------------
def test_blocks_and_sort_paths_agree_with_per_column_calls(monkeypatch):
    rng = np.random.default_rng(0)
    y = rng.random((300, 37)) < 0.3
    s = (rng.integers(0, 20, (300, 37)) / 4.0 - 2.0).astype(np.float32)  # many ties, -0.0
    s[rng.random(s.shape) < 0.05] = -0.0
    expected = [[m.roc_auc(y[:, j], s[:, j]) for j in range(37)]]
    expected.append([m.average_precision(y[:, j], s[:, j]) for j in range(37)])
    expected.append([m.spearman(y[:, j], s[:, j]) for j in range(37)])
    monkeypatch.setattr(m, "_BLOCK", 1000)  # several columns per block, several blocks
    for scores in (s, s.astype(np.float64)):  # packed-key sort and argsort
        got = [m.roc_auc(y, scores, average=None), m.average_precision(y, scores, average=None)]
        got.append(m.spearman(y, scores, average=None))
        np.testing.assert_allclose(got, expected, rtol=1e-12)


def test_infinite_scores_rank_at_the_ends():
    y = [0, 1, 0, 1]
    assert m.roc_auc(y, [-np.inf, np.inf, 0.0, 1.0]) == 1.0
    assert m.roc_auc(y, np.array([np.inf, -np.inf, 0.0, 1.0], dtype=np.float32)) == 0.25


# -- scikit-learn and scipy parity --------------------------------------------------------------
def _binary_data(seed: int, n: int = 200, ties: bool = False):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    s = rng.integers(0, 6, n) / 5.0 if ties else rng.random(n)
    return y, s


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("ties", [False, True])
def test_ranking_matches_sklearn(seed, ties):
    skm = pytest.importorskip("sklearn.metrics")
    y, s = _binary_data(seed, ties=ties)
    assert m.roc_auc(y, s) == pytest.approx(skm.roc_auc_score(y, s), rel=1e-12)
    assert m.average_precision(y, s) == pytest.approx(skm.average_precision_score(y, s), rel=1e-12)
    y2 = np.stack([y, np.roll(y, 7)], axis=1)
    s2 = np.stack([s, s[::-1]], axis=1).astype(np.float32)
    np.testing.assert_allclose(
        m.roc_auc(y2, s2, average=None), skm.roc_auc_score(y2, s2, average=None), rtol=1e-6
    )
    np.testing.assert_allclose(
        m.average_precision(y2, s2, average=None),
        skm.average_precision_score(y2, s2, average=None),
        rtol=1e-6,
    )


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("metric", THRESHOLDED, ids=lambda f: f.__name__)
def test_thresholded_matches_sklearn(seed, metric):
    skm = pytest.importorskip("sklearn.metrics")
    y, s = _binary_data(seed, ties=True)
    reference = {"accuracy": skm.accuracy_score, "f1_score": skm.f1_score}
    reference |= {"precision": skm.precision_score, "recall": skm.recall_score}
    reference |= {"balanced_accuracy": skm.balanced_accuracy_score}
    reference |= {"matthews_corrcoef": skm.matthews_corrcoef}
    sk = reference[metric.__name__]
    for threshold in (0.4, 0.5, 1.5):  # 1.5: nothing predicted positive
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # sklearn's zero-division warnings
            expected = sk(y, s >= threshold)
        assert metric(y, s, threshold=threshold) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("seed", range(3))
def test_multiclass_matches_sklearn(seed):
    skm = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 4, 150)
    logits = rng.standard_normal((150, 4)) + np.eye(4)[y]
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    pred = p.argmax(axis=1)
    assert m.roc_auc(y, p) == pytest.approx(skm.roc_auc_score(y, p, multi_class="ovr"))
    assert m.average_precision(y, p) == pytest.approx(skm.average_precision_score(y, p))
    assert m.accuracy(y, logits) == pytest.approx(skm.accuracy_score(y, pred))
    assert m.balanced_accuracy(y, logits) == pytest.approx(skm.balanced_accuracy_score(y, pred))
    assert m.matthews_corrcoef(y, logits) == pytest.approx(skm.matthews_corrcoef(y, pred))
    for ours, theirs in [(m.f1_score, skm.f1_score), (m.precision, skm.precision_score)]:
        assert ours(y, logits) == pytest.approx(theirs(y, pred, average="macro"))
    np.testing.assert_allclose(
        m.recall(y, p, average=None), skm.recall_score(y, pred, average=None)
    )


@pytest.mark.parametrize("seed", range(3))
def test_correlations_match_scipy(seed):
    stats = pytest.importorskip("scipy.stats")
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 8, (50, 3)).astype(np.float64)  # ties
    y = x + rng.standard_normal((50, 3))
    for j in range(3):
        assert m.pearson(x[:, j], y[:, j]) == pytest.approx(stats.pearsonr(x[:, j], y[:, j])[0])
        assert m.spearman(x[:, j], y[:, j]) == pytest.approx(stats.spearmanr(x[:, j], y[:, j])[0])
    expected = [stats.spearmanr(x[:, j], y[:, j])[0] for j in range(3)]
    np.testing.assert_allclose(m.spearman(x, y, average=None), expected)
    assert m.spearman(x, y) == pytest.approx(np.mean(expected))


def test_constant_column_correlation_is_nan_with_warning():
    with pytest.warns(RuntimeWarning, match="pearson: 1 of 2 columns are constant"):
        r = m.pearson([[1, 1], [2, 1], [3, 1]], [[1, 2], [2, 3], [4, 5]], average=None)
    assert r[0] == pytest.approx(9 / math.sqrt(84)) and np.isnan(r[1])


# -- per-target evaluation ----------------------------------------------------------------------
def _targets():
    y = np.array([[1, 0, 0, 1], [0, 0, 1, 1], [1, 0, 0, 1], [0, 0, 1, 1], [1, 0, 0, 0]])
    s = np.array(
        [
            [0.9, 0.1, 0.2, 0.8],
            [0.1, 0.2, 0.7, 0.6],
            [0.8, 0.3, 0.4, 0.7],
            [0.3, 0.4, 0.9, 0.9],
            [0.2, 0.5, 0.1, 0.1],
        ]
    )
    return y, s  # n_pos = 3, 0, 2, 4; n_neg = 2, 5, 3, 1


def test_per_target_skips_and_says_so():
    y, s = _targets()
    with pytest.warns(UserWarning, match=r"skipped 2 of 4 targets") as record:
        result = m.per_target(m.roc_auc, y, s, min_positives=2, min_negatives=2, names="abcd")
    assert len(record) == 1
    assert np.isnan(result.values[[1, 3]]).all()
    # a: positives 0.9, 0.8, 0.2 vs 0.1, 0.3 -> 5/6; c: 0.7, 0.9 above all three negatives.
    np.testing.assert_allclose(result.values[[0, 2]], [5 / 6, 1.0])
    assert result.skipped == [
        ("b", "0 positives < min_positives=2"),
        ("d", "1 negatives < min_negatives=2"),
    ]
    assert (result.n_evaluated, result.n_skipped) == (2, 2)
    assert result.mean == pytest.approx((5 / 6 + 1.0) / 2)
    assert result.n_pos.tolist() == [3, 0, 2, 4] and result.n_neg.tolist() == [2, 5, 3, 1]
    summary = result.summary()
    assert summary["n_skipped"] == 2 and summary["skipped"][0]["target"] == "b"
    json.dumps(summary, allow_nan=False)


def test_per_target_no_warning_when_nothing_skipped():
    y, s = _targets()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = m.per_target(m.f1_score, y[:, [0, 2]], s[:, [0, 2]])
    assert result.skipped == [] and result.n_evaluated == 2


def test_per_target_vectorised_equals_generic_callable():
    y, s = _targets()
    with pytest.warns(UserWarning):
        ours = m.per_target(m.average_precision, y, s)
    with pytest.warns(UserWarning):
        generic = m.per_target(lambda a, b: m.average_precision(a, b), y, s)
    np.testing.assert_array_equal(np.isnan(ours.values), [False, True, False, False])
    np.testing.assert_allclose(ours.values, generic.values)
    with pytest.warns(UserWarning):
        thresholded = m.per_target(m.accuracy, y, s, threshold=0.65)
    np.testing.assert_allclose(thresholded.values[[0, 2, 3]], [0.8, 1.0, 0.8])


def test_evaluate_multilabel_is_json_ready():
    y, s = _targets()
    with pytest.warns(UserWarning, match="skipped 1 of 4"):
        out = m.evaluate_multilabel(y, s, names=["a", "b", "c", "d"])
    json.dumps(out, allow_nan=False)
    per = out["per_target"]
    assert out["n_targets"] == 4 and out["n_evaluated"] == 3
    assert out["skipped"] == [{"target": "b", "reason": "0 positives < min_positives=1"}]
    assert per["auroc"][1] is None and per["accuracy"][1] is None
    for key in ("auroc", "auprc", "accuracy", "mcc", "f1"):
        metric = {"auroc": m.roc_auc, "auprc": m.average_precision, "accuracy": m.accuracy}
        metric |= {"mcc": m.matthews_corrcoef, "f1": m.f1_score}
        expected = [metric[key](y[:, j], s[:, j]) for j in (0, 2, 3)]
        np.testing.assert_allclose([per[key][j] for j in (0, 2, 3)], expected)
        assert out[key] == pytest.approx(np.mean(expected))


def test_evaluate_binary():
    out = m.evaluate_binary(Y6, S6, threshold=0.35)
    json.dumps(out, allow_nan=False)
    assert out["n_pos"] == 3 and out["n_neg"] == 3 and out["skipped"] == []
    assert out["mcc"] == pytest.approx(6 / math.sqrt(72)) and out["f1"] == pytest.approx(6 / 7)
    with pytest.warns(UserWarning, match="skipped 1 of 1"):
        empty = m.evaluate_binary([0, 0, 0], [0.1, 0.2, 0.3])
    assert empty["auroc"] is None and empty["accuracy"] is None and empty["n_neg"] == 3
    assert empty["skipped"][0]["reason"] == "0 positives < min_positives=1"


def test_evaluate_multiclass():
    out = m.evaluate_multiclass(YC, SC, names=["EI", "IE", "N"])
    json.dumps(out, allow_nan=False)
    assert out["accuracy"] == 0.5 and out["auroc"] == pytest.approx(0.75)
    assert out["mcc"] == pytest.approx(0.2) and out["macro_f1"] == pytest.approx(0.5)
    assert out["per_class"]["count"] == [1, 1, 2]
    with pytest.warns(UserWarning, match="1 of 3 classes have no samples"):
        absent = m.evaluate_multiclass([0, 0, 2, 2], SC)
    assert absent["skipped"] == [{"target": "1", "reason": "no samples in y_true"}]
    assert absent["per_class"]["auroc"][1] is None


# -- errors -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "call, error, message",
    [
        (
            lambda: m.roc_auc([0, 1, 1], [0.1, 0.2]),
            ValueError,
            "y_true has 3 samples, y_score has 2",
        ),
        (
            lambda: m.roc_auc([0, 1], [0.1, np.nan]),
            ValueError,
            r"1 NaN values \(first at index \(1,\)",
        ),
        (
            lambda: m.accuracy([0, 2], [0.1, 0.2]),
            ValueError,
            r"binary labels 0/1 \(or bool\), found \[2\]",
        ),
        (lambda: m.roc_auc([0, 0], [0.1, 0.2]), ValueError, "0 positive and 2 negative labels"),
        (
            lambda: m.average_precision([[1, 0], [1, 0]], [[0.1, 0.2], [0.3, 0.4]]),
            ValueError,
            "target 1 has 0 positive",
        ),
        (
            lambda: m.f1_score([0, 3], [[0.1, 0.9], [0.5, 0.5]]),
            ValueError,
            "holds class 3, but y_score has 2",
        ),
        (
            lambda: m.recall([[0, 1]], [[0.1, 0.2, 0.3]]),
            ValueError,
            r"does not fit y_score of shape \(1, 3\)",
        ),
        (
            lambda: m.roc_auc([0, 1], [0.1, 0.2], average="micro"),
            ValueError,
            "average must be 'macro' or None",
        ),
        (
            lambda: m.pearson([1, 2], [1, 2, 3]),
            ValueError,
            r"x has shape \(2,\), y has shape \(3,\)",
        ),
        (
            lambda: m.per_target(m.roc_auc, [[0, 1]], [[0.1]]),
            ValueError,
            r"y_true has shape \(1, 2\)",
        ),
        (
            lambda: m.per_target(m.roc_auc, [[0], [1]], [[0.1], [0.2]], names=["a", "b"]),
            ValueError,
            "got 2 names for 1 targets",
        ),
        (
            lambda: m.per_target(m.roc_auc, [0, 1], [0.1, 0.2], min_positives=-1),
            ValueError,
            "min_positives must be",
        ),
        (lambda: m.accuracy(["a", "b"], [0.1, 0.2]), TypeError, "y_true must be numeric or bool"),
        (
            lambda: m.evaluate_binary([[0, 1]], [[0.1, 0.2]]),
            ValueError,
            "expected y_true and y_score of shape",
        ),
    ],
)
def test_errors(call, error, message):
    with pytest.raises(error, match=message):
        call()


# --------------------------------------------------------------------------- bootstrap


def test_bootstrap_is_a_percentile_interval_over_joint_row_resamples():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 200)
    s = y + rng.normal(0, 1.0, 200)
    result = m.bootstrap(m.roc_auc, y, s, n_resamples=300, seed=7)
    draws = np.random.default_rng(7)
    expected = []
    for _ in range(300):
        rows = draws.integers(0, 200, 200)
        expected.append(m.roc_auc(y[rows], s[rows]))
    assert result.estimate == m.roc_auc(y, s) and result.n_valid == 300
    np.testing.assert_allclose(
        [result.low, result.high], np.quantile(expected, [0.025, 0.975]), rtol=1e-12
    )
    np.testing.assert_allclose(result.standard_error, np.std(expected), rtol=1e-12)


def test_bootstrap_standard_error_of_a_mean_and_paired_differences():
    x = np.random.default_rng(1).normal(0, 2.0, 400)
    result = m.bootstrap(np.mean, x, n_resamples=2000, confidence_level=0.9)
    assert abs(result.standard_error / (2.0 / np.sqrt(400)) - 1) < 0.1
    assert result.low < x.mean() < result.high and result.confidence_level == 0.9
    y = (x > 0).astype(int)
    same = m.bootstrap(lambda t, a, b: m.roc_auc(t, a) - m.roc_auc(t, b), y, x, x)
    assert (same.low, same.estimate, same.high) == (0.0, 0.0, 0.0)


def test_bootstrap_leaves_out_undefined_resamples_and_says_so():
    y = np.array([1] * 4 + [0] * 36)
    s = np.linspace(0, 1, 40)
    result = m.bootstrap(m.roc_auc, y, s, n_resamples=500)
    assert 450 <= result.n_valid < 500  # about (36/40)**40 = 1.5% of resamples have no positive
    with pytest.raises(ValueError, match="undefined on .* of 500 resamples"):
        m.bootstrap(m.roc_auc, y[2:], s[2:], n_resamples=500)  # (36/38)**38: 13%


@pytest.mark.parametrize(
    "kwargs, data, match",
    [
        ({}, (np.zeros(3), np.zeros(4)), "share a non-zero first dimension"),
        ({"n_resamples": 0}, (np.zeros(3),), "n_resamples=0"),
        ({"confidence_level": 1.0}, (np.zeros(3),), "confidence_level=1.0"),
        ({}, (), "give the data arrays"),
    ],
)
def test_bootstrap_errors(kwargs, data, match):
    with pytest.raises(ValueError, match=match):
        m.bootstrap(np.mean, *data, **kwargs)
