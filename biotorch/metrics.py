"""Evaluation metrics for sequence models, in NumPy.

Ranking metrics (:func:`roc_auc`, :func:`average_precision`), thresholded metrics
(:func:`accuracy`, :func:`balanced_accuracy`, :func:`matthews_corrcoef`, :func:`f1_score`,
:func:`precision`, :func:`recall`), correlations (:func:`pearson`, :func:`spearman`), per-target
evaluation with honest skipping (:func:`per_target`) and JSON-ready summaries
(:func:`evaluate_binary`, :func:`evaluate_multilabel`, :func:`evaluate_multiclass`).

Inputs may be NumPy arrays, lists or biotorch Tensors (copied to the CPU). The shapes of
``(y_true, y_score)`` say what is evaluated:

=====================  ==================  ===========================================
``y_true``             ``y_score``         task
=====================  ==================  ===========================================
``(N,)`` 0/1 or bool   ``(N,)``            binary: one number
``(N, T)`` 0/1         ``(N, T)``          multi-label: ``average="macro"`` gives the mean
                                           over targets, ``average=None`` one value per
                                           target
``(N,)`` ints 0..C-1   ``(N, C)``          multi-class: predictions are the row argmax;
                                           ranking metrics are one-vs-rest per class
=====================  ==================  ===========================================

Scores may be probabilities, logits or hard 0/1 predictions; thresholded metrics predict positive
where ``score >= threshold`` (use ``threshold=0.0`` for logits). Ranking metrics match
scikit-learn's ``roc_auc_score`` (ties count one half) and ``average_precision_score``
(step-wise, not trapezoidal). Each target is sorted once; columns are processed in blocks, so
``(100_000, 919)`` takes seconds and bounded memory. :func:`bootstrap` puts a confidence interval
on any of them, or on the difference of two models scored on the same samples.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from biotorch.tensor import Tensor

__all__ = [
    "roc_auc",
    "average_precision",
    "accuracy",
    "balanced_accuracy",
    "matthews_corrcoef",
    "f1_score",
    "precision",
    "recall",
    "pearson",
    "spearman",
    "per_target",
    "TargetScores",
    "evaluate_binary",
    "evaluate_multilabel",
    "evaluate_multiclass",
    "BootstrapResult",
    "bootstrap",
]

# Elements per block of sorted columns: bounds the temporary arrays to tens of MB.
_BLOCK = 1 << 21
_AVERAGES = ("macro", None)


# -- input checks -------------------------------------------------------------------------------
def _array(x, func: str, name: str) -> np.ndarray:
    if isinstance(x, Tensor):
        x = x.detach().cpu().numpy()
    arr = np.asarray(x)
    if not (arr.dtype == np.bool_ or np.issubdtype(arr.dtype, np.number)):
        raise TypeError(f"{func}: {name} must be numeric or bool, got dtype {arr.dtype}")
    if arr.ndim not in (1, 2) or arr.shape[0] == 0:
        raise ValueError(
            f"{func}: {name} must have shape (N,) or (N, T) with N > 0, got {arr.shape}"
        )
    return arr


def _values(arr: np.ndarray, func: str, name: str) -> np.ndarray:
    """Float scores without NaN (float16 widened to float32, integers and bool to float64)."""
    if arr.dtype == np.float16:
        arr = arr.astype(np.float32)
    elif not np.issubdtype(arr.dtype, np.floating):
        arr = arr.astype(np.float64)
    nan = np.isnan(arr)
    if nan.any():
        first = tuple(int(i) for i in np.argwhere(nan)[0])
        raise ValueError(
            f"{func}: {name} holds {int(nan.sum())} NaN values (first at index {first}); "
            f"scores must be finite or +-inf"
        )
    return arr


def _binary(y: np.ndarray, func: str) -> np.ndarray:
    """0/1 (or bool) labels as bool."""
    if y.dtype == np.bool_:
        return y
    ok = (y == 0) | (y == 1)
    if not ok.all():
        bad = np.unique(y[~ok])[:5].tolist()
        raise ValueError(
            f"{func}: y_true must hold binary labels 0/1 (or bool), found {bad}; for multi-class "
            f"labels pass y_score of shape (N, C)"
        )
    return y.astype(bool)


def _classes(y: np.ndarray, num_classes: int, func: str) -> np.ndarray:
    """Integer class labels 0..C-1 as int64."""
    labels = y.astype(np.int64)
    if (labels != y).any():
        raise ValueError(f"{func}: multi-class y_true must hold integer class labels")
    bad = (labels < 0) | (labels >= num_classes)
    if bad.any():
        raise ValueError(
            f"{func}: y_true holds class {int(labels[bad][0])}, but y_score has {num_classes} "
            f"columns (classes 0..{num_classes - 1})"
        )
    return labels


def _prepare(func: str, y_true, y_score, average) -> tuple[str, np.ndarray, np.ndarray]:
    """Checked ``(kind, y, scores)``: kind "binary"/"multilabel" (y bool, same shape as scores)
    or "multiclass" (y int64 (N,), scores (N, C))."""
    if average not in _AVERAGES:
        raise ValueError(f"{func}: average must be 'macro' or None, got {average!r}")
    y, s = _array(y_true, func, "y_true"), _array(y_score, func, "y_score")
    if y.shape[0] != s.shape[0]:
        raise ValueError(f"{func}: y_true has {y.shape[0]} samples, y_score has {s.shape[0]}")
    s = _values(s, func, "y_score")
    if y.shape == s.shape:
        return ("binary" if y.ndim == 1 else "multilabel"), _binary(y, func), s
    if y.ndim == 1 and s.ndim == 2 and s.shape[1] >= 2:
        return "multiclass", _classes(y, s.shape[1], func), s
    raise ValueError(
        f"{func}: y_true of shape {y.shape} does not fit y_score of shape {s.shape}; expected "
        f"equal shapes (binary (N,) or multi-label (N, T)), or y_true (N,) with y_score (N, C) "
        f"for C >= 2 classes"
    )


def _reduce(values: np.ndarray, kind: str, average):
    if kind == "binary":
        return float(values[0])
    return values if average is None else float(values.mean())


# -- ranking ------------------------------------------------------------------------------------
def _tie_starts(ranked: np.ndarray) -> np.ndarray:
    """Flat indices where a group of equal values begins in the rows of ``ranked`` (each row
    sorted ascending; every row begins a group)."""
    new = np.empty(ranked.shape, dtype=bool)
    new[:, 0] = True
    np.not_equal(ranked[:, 1:], ranked[:, :-1], out=new[:, 1:])
    return np.flatnonzero(new)


def _column_blocks(n: int, t: int):
    step = max(1, _BLOCK // n)
    return (slice(j, min(j + step, t)) for j in range(0, t, step))


def _sort_rows(scores: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each row of ``scores`` sorted ascending (as order-preserving keys), with its labels.

    float32 scores and their labels are packed into one uint64 key per element and sorted
    without an index (no gathers; equal floats, -0.0 and 0.0 included, get equal keys)."""
    if scores.dtype == np.float32:
        bits = (scores + np.float32(0.0)).view(np.uint32)
        key = np.where(bits >> 31, ~bits, bits | np.uint32(0x80000000)).astype(np.uint64)
        key <<= np.uint64(1)
        key |= labels
        key.sort(axis=1)
        return key >> np.uint64(1), (key & np.uint64(1)).astype(bool)
    order = np.argsort(scores, axis=1)
    return np.take_along_axis(scores, order, axis=1), np.take_along_axis(labels, order, axis=1)


def _ranking(y: np.ndarray, s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """auROC and average precision of each column of bool labels ``y`` and scores ``s`` (N, T),
    from one sort per column; NaN where a column lacks positives (both) or negatives (auROC)."""
    n, t = s.shape
    auroc, ap = np.empty(t), np.empty(t)
    for cols in _column_blocks(n, t):
        ranked, labels = _sort_rows(s[:, cols].T, y[:, cols].T)
        b = ranked.shape[0]
        first = _tie_starts(ranked)
        # Only positives contribute: find each positive's tie group, row and place in the row.
        hit = np.flatnonzero(labels)
        group = np.searchsorted(first, hit, side="right") - 1
        bounds = np.append(first, b * n)
        row = hit // n
        start = bounds[group] - row * n
        pos = np.bincount(row, minlength=b)
        neg = n - pos
        # Mann-Whitney U with average ranks: a group's 0-based ranks average start + (size-1)/2.
        size = bounds[group + 1] - bounds[group]
        rank_sum = np.bincount(row, weights=2 * start + size - 1, minlength=b)
        # Precision at each positive's threshold: positives scored >= it over elements scored
        # >= it; the positives below it in its row are those before its group's first element.
        below = np.searchsorted(hit, bounds[group]) - (np.cumsum(pos) - pos)[row]
        precision_sum = np.bincount(row, weights=(pos[row] - below) / (n - start), minlength=b)
        with np.errstate(divide="ignore", invalid="ignore"):
            auroc[cols] = np.where(
                (pos > 0) & (neg > 0), (rank_sum - pos * (pos - 1.0)) / (2.0 * pos * neg), np.nan
            )
            ap[cols] = np.where(pos > 0, precision_sum / pos, np.nan)
    return auroc, ap


def _ranked(func: str, y_true, y_score, average, which: int):
    kind, y, s = _prepare(func, y_true, y_score, average)
    n = s.shape[0]
    if kind == "multiclass":
        y = y[:, None] == np.arange(s.shape[1])
    y, s = y.reshape(n, -1), s.reshape(n, -1)
    pos = y.sum(axis=0)
    undefined = (pos == 0) | ((pos == n) & (which == 0))
    if undefined.any():
        j = int(np.flatnonzero(undefined)[0])
        unit = {"binary": "y_true", "multilabel": f"target {j}", "multiclass": f"class {j}"}[kind]
        need = "both positive and negative labels" if which == 0 else "a positive label"
        raise ValueError(
            f"{func}: {unit} has {int(pos[j])} positive and {n - int(pos[j])} negative labels; "
            f"the metric needs {need}. Use biotorch.metrics.per_target or evaluate_* to skip "
            f"such targets"
        )
    return _reduce(_ranking(y, s)[which], kind, average)


def roc_auc(y_true, y_score, average: str | None = "macro"):
    """Area under the ROC curve (ties count one half, as scikit-learn's ``roc_auc_score``).

    Multi-class input gives the one-vs-rest auROC of each class (of the score columns as
    given: pass probabilities to match scikit-learn's ``multi_class="ovr"``).

    Examples
    --------
    >>> roc_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    0.75
    """
    return _ranked("roc_auc", y_true, y_score, average, 0)


def average_precision(y_true, y_score, average: str | None = "macro"):
    """Area under the precision-recall curve as scikit-learn's ``average_precision_score``:
    the sum over thresholds of precision times the gain in recall (step-wise).

    Examples
    --------
    >>> round(average_precision([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]), 4)
    0.8333
    """
    return _ranked("average_precision", y_true, y_score, average, 1)


# -- thresholded --------------------------------------------------------------------------------
def _ratio(num, den) -> np.ndarray:
    """num / den, 0 where den is 0 (scikit-learn's zero_division default)."""
    num, den = np.asarray(num, dtype=np.float64), np.asarray(den, dtype=np.float64)
    return np.divide(num, den, out=np.zeros_like(num), where=den != 0)


def _balanced(tp, fp, fn, tn) -> np.ndarray:
    pos, neg = tp + fn, tn + fp
    present = (pos > 0).astype(np.float64) + (neg > 0)
    return _ratio(_ratio(tp, pos) + _ratio(tn, neg), present)


def _mcc(tp, fp, fn, tn) -> np.ndarray:
    tp, fp, fn, tn = (np.asarray(v, dtype=np.float64) for v in (tp, fp, fn, tn))
    return _ratio(tp * tn - fp * fn, np.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn)))


# Per-column formulas of the confusion counts (true/false positives, false/true negatives).
_FORMULAS = {
    "accuracy": lambda tp, fp, fn, tn: _ratio(tp + tn, tp + fp + fn + tn),
    "balanced_accuracy": _balanced,
    "matthews_corrcoef": _mcc,
    "precision": lambda tp, fp, fn, tn: _ratio(tp, tp + fp),
    "recall": lambda tp, fp, fn, tn: _ratio(tp, tp + fn),
    "f1_score": lambda tp, fp, fn, tn: _ratio(2 * tp, 2 * tp + fp + fn),
}


def _counts(y: np.ndarray, pred: np.ndarray) -> tuple:
    """Confusion counts per column of bool arrays (N, T)."""
    tp = np.count_nonzero(y & pred, axis=0)
    fp = np.count_nonzero(pred, axis=0) - tp
    fn = np.count_nonzero(y, axis=0) - tp
    return tp, fp, fn, y.shape[0] - tp - fp - fn


def _multiclass(func: str, cm: np.ndarray, average):
    """Multi-class metrics from the confusion matrix ``cm[true, predicted]``."""
    true, predicted, n = cm.sum(axis=1), cm.sum(axis=0), cm.sum()
    tp = np.diag(cm)
    if func in ("precision", "recall", "f1_score"):
        values = _FORMULAS[func](tp, predicted - tp, true - tp, n - true - predicted + tp)
        return values if average is None else float(values[(true > 0) | (predicted > 0)].mean())
    if average is None:
        raise ValueError(f"{func}: multi-class {func} is one number; average=None needs (N, T)")
    if func == "accuracy":
        return float(tp.sum() / n)
    if func == "balanced_accuracy":
        return float((tp[true > 0] / true[true > 0]).mean())
    true, predicted = true.astype(np.float64), predicted.astype(np.float64)
    cov = tp.sum() * float(n) - true @ predicted
    return float(_ratio(cov, np.sqrt((n * n - predicted @ predicted) * (n * n - true @ true))))


def _thresholded(func: str, y_true, y_score, threshold: float, average):
    kind, y, s = _prepare(func, y_true, y_score, average)
    if kind == "multiclass":
        c = s.shape[1]
        cm = np.bincount(y * c + s.argmax(axis=1), minlength=c * c).reshape(c, c)
        return _multiclass(func, cm, average)
    n = s.shape[0]
    counts = _counts(y.reshape(n, -1), s.reshape(n, -1) >= threshold)
    return _reduce(_FORMULAS[func](*counts), kind, average)


def accuracy(y_true, y_score, threshold: float = 0.5, average: str | None = "macro"):
    """Fraction of correct predictions (``score >= threshold``; the argmax for multi-class).

    For multi-label targets the macro average is the mean per-target accuracy (not
    scikit-learn's subset accuracy)."""
    return _thresholded("accuracy", y_true, y_score, threshold, average)


def balanced_accuracy(y_true, y_score, threshold: float = 0.5, average: str | None = "macro"):
    """Mean recall over the classes present in ``y_true`` (scikit-learn's
    ``balanced_accuracy_score``)."""
    return _thresholded("balanced_accuracy", y_true, y_score, threshold, average)


def matthews_corrcoef(y_true, y_score, threshold: float = 0.5, average: str | None = "macro"):
    """Matthews correlation coefficient (0 where undefined; the R_K statistic for multi-class)."""
    return _thresholded("matthews_corrcoef", y_true, y_score, threshold, average)


def f1_score(y_true, y_score, threshold: float = 0.5, average: str | None = "macro"):
    """F1 score, the harmonic mean of precision and recall (0 where undefined). Multi-class
    macro F1 averages over the classes present in ``y_true`` or the predictions."""
    return _thresholded("f1_score", y_true, y_score, threshold, average)


def precision(y_true, y_score, threshold: float = 0.5, average: str | None = "macro"):
    """Precision ``tp / (tp + fp)`` (0 when nothing is predicted positive)."""
    return _thresholded("precision", y_true, y_score, threshold, average)


def recall(y_true, y_score, threshold: float = 0.5, average: str | None = "macro"):
    """Recall (sensitivity) ``tp / (tp + fn)`` (0 when there are no positives)."""
    return _thresholded("recall", y_true, y_score, threshold, average)


# -- correlation --------------------------------------------------------------------------------
def _average_ranks(x: np.ndarray) -> np.ndarray:
    """1-based ranks down each column, ties given their average rank."""
    n, t = x.shape
    ranks = np.empty((t, n))
    for cols in _column_blocks(n, t):
        values = np.ascontiguousarray(x[:, cols].T)
        order = np.argsort(values, axis=1)
        first = _tie_starts(np.take_along_axis(values, order, axis=1))
        size = np.diff(first, append=values.size)
        sorted_ranks = np.repeat(first % n + (size + 1) / 2.0, size).reshape(values.shape)
        np.put_along_axis(ranks[cols], order, sorted_ranks, axis=1)
    return ranks.T


def _correlation(func: str, x, y, average, rank: bool):
    if average not in _AVERAGES:
        raise ValueError(f"{func}: average must be 'macro' or None, got {average!r}")
    a, b = _array(x, func, "x"), _array(y, func, "y")
    if a.shape != b.shape:
        raise ValueError(f"{func}: x has shape {a.shape}, y has shape {b.shape}; expected equal")
    if a.shape[0] < 2:
        raise ValueError(f"{func}: needs at least 2 samples, got {a.shape[0]}")
    kind = "binary" if a.ndim == 1 else "multilabel"
    n = a.shape[0]
    a, b = (_values(v, func, name).reshape(n, -1) for v, name in ((a, "x"), (b, "y")))
    if rank:
        a, b = _average_ranks(a), _average_ranks(b)
    a = a - a.mean(axis=0, dtype=np.float64)
    b = b - b.mean(axis=0, dtype=np.float64)
    den = np.sqrt((a * a).sum(axis=0) * (b * b).sum(axis=0))
    constant = den == 0
    if constant.any():
        warnings.warn(
            f"{func}: {int(constant.sum())} of {den.size} columns are constant; "
            f"their correlation is NaN",
            RuntimeWarning,
            stacklevel=3,
        )
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.where(constant, np.nan, (a * b).sum(axis=0) / den)
    return _reduce(np.clip(r, -1.0, 1.0), kind, average)


def pearson(x, y, average: str | None = "macro"):
    """Pearson correlation of ``x`` and ``y`` ((N,) or per column of (N, T)); NaN for a
    constant column."""
    return _correlation("pearson", x, y, average, rank=False)


def spearman(x, y, average: str | None = "macro"):
    """Spearman rank correlation (Pearson of average ranks, so ties as scipy's ``spearmanr``)."""
    return _correlation("spearman", x, y, average, rank=True)


# -- uncertainty --------------------------------------------------------------------------------
@dataclass
class BootstrapResult:
    """A statistic on the data, its percentile-bootstrap confidence interval ``(low, high)`` at
    ``confidence_level``, the standard deviation over resamples, and how many resamples the
    statistic was defined on (those that lost a class are left out)."""

    estimate: float
    low: float
    high: float
    standard_error: float
    confidence_level: float
    n_valid: int


def bootstrap(
    statistic: Callable[..., float],
    *data,
    n_resamples: int = 1000,
    confidence_level: float = 0.95,
    seed: int = 0,
) -> BootstrapResult:
    """Percentile-bootstrap confidence interval of ``statistic(*data)``, resampling the rows
    (samples) of every array in ``data`` together.

    ``statistic`` is e.g. :func:`roc_auc`, or for a paired comparison of two models on the same
    test set, ``lambda y, a, b: roc_auc(y, a) - roc_auc(y, b)`` (an interval excluding 0 says
    the test set tells them apart). Resamples on which the statistic is undefined (it raises
    ``ValueError``, e.g. no negatives left) are left out and counted in ``n_valid``; more than
    10% left out is an error.

    >>> y = np.array([0, 0, 1, 1, 0, 1]); s = np.array([.1, .4, .35, .8, .2, .7])
    >>> r = bootstrap(roc_auc, y, s, n_resamples=200)
    >>> r.low <= r.estimate <= r.high
    True
    """
    if not data:
        raise ValueError("bootstrap: give the data arrays the statistic takes")
    arrays = [_array(d, "bootstrap", f"data[{i}]") for i, d in enumerate(data)]
    n = len(arrays[0])
    if any(len(a) != n for a in arrays) or n == 0:
        shapes = [a.shape for a in arrays]
        raise ValueError(f"bootstrap: data must share a non-zero first dimension, got {shapes}")
    if isinstance(n_resamples, bool) or not isinstance(n_resamples, int) or n_resamples < 1:
        raise ValueError(f"bootstrap: n_resamples={n_resamples!r}, expected a positive integer")
    if not 0 < confidence_level < 1:
        raise ValueError(f"bootstrap: confidence_level={confidence_level!r}, expected in (0, 1)")
    estimate = float(statistic(*arrays))
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(n_resamples):
        rows = rng.integers(0, n, n)
        try:
            values.append(float(statistic(*(a[rows] for a in arrays))))
        except ValueError:
            continue
    if len(values) < 0.9 * n_resamples:
        raise ValueError(
            f"bootstrap: the statistic was undefined on {n_resamples - len(values)} of "
            f"{n_resamples} resamples (too few samples of a class?)"
        )
    tail = (1 - confidence_level) / 2
    low, high = np.quantile(values, [tail, 1 - tail])
    return BootstrapResult(
        estimate, float(low), float(high), float(np.std(values)), confidence_level, len(values)
    )


# -- per target ---------------------------------------------------------------------------------
@dataclass
class TargetScores:
    """Per-target values of one metric, with the targets that were skipped and why.

    ``values[j]`` is NaN for a skipped target; ``mean`` is the macro average over the
    evaluated targets (``n_evaluated`` of them).
    """

    metric: str
    values: np.ndarray
    names: list[str]
    n_pos: np.ndarray
    n_neg: np.ndarray
    evaluated: np.ndarray
    skipped: list[tuple[str, str]] = field(default_factory=list)

    @property
    def n_evaluated(self) -> int:
        return int(self.evaluated.sum())

    @property
    def n_skipped(self) -> int:
        return len(self.skipped)

    @property
    def mean(self) -> float:
        return float(self.values[self.evaluated].mean()) if self.evaluated.any() else np.nan

    def summary(self) -> dict:
        """JSON-ready macro summary: metric, mean, counts and skipped targets with reasons."""
        return {
            "metric": self.metric,
            "mean": _json(self.mean),
            "n_evaluated": self.n_evaluated,
            "n_skipped": self.n_skipped,
            "skipped": [{"target": t, "reason": r} for t, r in self.skipped],
        }


def _json(v: float) -> float | None:
    return None if np.isnan(v) else float(v)


def _names(func: str, names, count: int) -> list[str]:
    names = [str(j) for j in range(count)] if names is None else [str(v) for v in names]
    if len(names) != count:
        raise ValueError(f"{func}: got {len(names)} names for {count} targets")
    return names


def _mean(values: np.ndarray, mask: np.ndarray) -> float | None:
    """JSON-ready mean of ``values[mask]`` (None when empty or NaN)."""
    return _json(values[mask].mean()) if mask.any() else None


def _targets(func: str, y_true, y_score, min_positives: int, min_negatives: int, names):
    """Checked (N, T) bool labels and scores, counts, the evaluated mask, skip reasons and names;
    warns once when targets are skipped."""
    for name, v in (("min_positives", min_positives), ("min_negatives", min_negatives)):
        if not isinstance(v, int | np.integer) or v < 0:
            raise ValueError(f"{func}: {name} must be a non-negative integer, got {v!r}")
    y, s = _array(y_true, func, "y_true"), _array(y_score, func, "y_score")
    if y.shape != s.shape:
        raise ValueError(
            f"{func}: y_true has shape {y.shape}, y_score has shape {s.shape}; expected equal "
            f"shapes (N,) or (N, T)"
        )
    n = y.shape[0]
    y, s = _binary(y, func).reshape(n, -1), _values(s, func, "y_score").reshape(n, -1)
    t = y.shape[1]
    names = _names(func, names, t)
    n_pos = y.sum(axis=0)
    n_neg = n - n_pos
    evaluated = (n_pos >= min_positives) & (n_neg >= min_negatives)
    skipped = []
    for j in np.flatnonzero(~evaluated):
        reasons = []
        if n_pos[j] < min_positives:
            reasons.append(f"{n_pos[j]} positives < min_positives={min_positives}")
        if n_neg[j] < min_negatives:
            reasons.append(f"{n_neg[j]} negatives < min_negatives={min_negatives}")
        skipped.append((names[j], "; ".join(reasons)))
    if skipped:
        warnings.warn(
            f"{func}: skipped {len(skipped)} of {t} targets with fewer than {min_positives} "
            f"positives or {min_negatives} negatives (their values are NaN/None; see skipped)",
            UserWarning,
            stacklevel=3,
        )
    return y, s, n_pos, n_neg, evaluated, skipped, names


_COLUMNWISE = {roc_auc, average_precision, accuracy, balanced_accuracy, matthews_corrcoef}
_COLUMNWISE |= {f1_score, precision, recall}


def per_target(
    metric: Callable,
    y_true,
    y_score,
    min_positives: int = 1,
    min_negatives: int = 1,
    names: Sequence[str] | None = None,
    **kwargs,
) -> TargetScores:
    """Evaluate ``metric`` on each column of binary targets ``(N, T)``, skipping targets with
    fewer than ``min_positives`` positives or ``min_negatives`` negatives.

    Skipped targets get NaN, are listed in ``.skipped`` with the reason, and one warning gives
    their count. The metrics of this module run vectorised over the evaluated columns; any other
    callable ``metric(y_true_column, y_score_column, **kwargs)`` is called once per target.

    Examples
    --------
    >>> scores = per_target(roc_auc, [[0, 0], [1, 0], [1, 1]], [[0.1, 0.3], [0.8, 0.2], [0.6, 0.9]])
    >>> scores.values.tolist(), scores.mean
    ([1.0, 1.0], 1.0)
    """
    name = getattr(metric, "__name__", repr(metric))
    y, s, n_pos, n_neg, evaluated, skipped, names = _targets(
        f"per_target({name})", y_true, y_score, min_positives, min_negatives, names
    )
    values = np.full(y.shape[1], np.nan)
    if evaluated.any():
        if metric in _COLUMNWISE:
            values[evaluated] = metric(y[:, evaluated], s[:, evaluated], average=None, **kwargs)
        else:
            for j in np.flatnonzero(evaluated):
                values[j] = metric(y[:, j], s[:, j], **kwargs)
    return TargetScores(name, values, names, n_pos, n_neg, evaluated, skipped)


# -- summaries ----------------------------------------------------------------------------------
# Summary keys and the thresholded formulas behind them.
_SUMMARY_FORMULAS = {
    "accuracy": _FORMULAS["accuracy"],
    "balanced_accuracy": _FORMULAS["balanced_accuracy"],
    "mcc": _FORMULAS["matthews_corrcoef"],
    "f1": _FORMULAS["f1_score"],
    "precision": _FORMULAS["precision"],
    "recall": _FORMULAS["recall"],
}


def _per_target_numbers(y, s, evaluated, threshold: float) -> dict:
    """auroc, auprc and the thresholded summary metrics per target (NaN where not evaluated)."""
    out = {k: np.full(y.shape[1], np.nan) for k in ("auroc", "auprc", *_SUMMARY_FORMULAS)}
    if evaluated.any():
        y, s = y[:, evaluated], s[:, evaluated]
        out["auroc"][evaluated], out["auprc"][evaluated] = _ranking(y, s)
        counts = _counts(y, s >= threshold)
        for key, formula in _SUMMARY_FORMULAS.items():
            out[key][evaluated] = formula(*counts)
    return out


def evaluate_multilabel(
    y_true,
    y_score,
    threshold: float = 0.5,
    min_positives: int = 1,
    min_negatives: int = 1,
    names: Sequence[str] | None = None,
) -> dict:
    """The standard numbers for multi-label targets ``(N, T)``, ready for ``json.dump``.

    Returns the macro averages over evaluated targets of ``auroc``, ``auprc``, ``accuracy``,
    ``balanced_accuracy``, ``mcc``, ``f1``, ``precision`` and ``recall``; ``n_samples``,
    ``n_targets``, ``n_evaluated``, ``threshold``; ``skipped`` (target and reason: a target with
    fewer than ``min_positives`` positives or ``min_negatives`` negatives gets no numbers) and
    ``per_target`` (names, n_pos, n_neg and each metric per target, None where skipped). Each
    target is sorted once for both auROC and auPRC.
    """
    y, s, n_pos, n_neg, evaluated, skipped, names = _targets(
        "evaluate_multilabel", y_true, y_score, min_positives, min_negatives, names
    )
    per = _per_target_numbers(y, s, evaluated, threshold)
    return {
        **{k: _mean(v, evaluated) for k, v in per.items()},
        "n_samples": int(y.shape[0]),
        "n_targets": int(y.shape[1]),
        "n_evaluated": int(evaluated.sum()),
        "threshold": float(threshold),
        "skipped": [{"target": t, "reason": r} for t, r in skipped],
        "per_target": {
            "names": names,
            "n_pos": n_pos.tolist(),
            "n_neg": n_neg.tolist(),
            **{k: [_json(x) for x in v] for k, v in per.items()},
        },
    }


def evaluate_binary(
    y_true, y_score, threshold: float = 0.5, min_positives: int = 1, min_negatives: int = 1
) -> dict:
    """The standard numbers for one binary target ``(N,)``, ready for ``json.dump``: ``auroc``,
    ``auprc``, ``accuracy``, ``balanced_accuracy``, ``mcc``, ``f1``, ``precision``, ``recall``,
    ``n_pos``, ``n_neg``, ``n_samples``, ``threshold`` and ``skipped`` (when the target has too
    few positives or negatives, every number is None and ``skipped`` says why).

    Examples
    --------
    >>> evaluate_binary([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])["auroc"]
    0.75
    """
    y = _array(y_true, "evaluate_binary", "y_true")
    s = _array(y_score, "evaluate_binary", "y_score")
    if y.ndim != 1 or s.ndim != 1:
        raise ValueError(
            f"evaluate_binary: expected y_true and y_score of shape (N,), got {y.shape} and "
            f"{s.shape}; use evaluate_multilabel or evaluate_multiclass"
        )
    out = evaluate_multilabel(y, s, threshold, min_positives, min_negatives)
    per = out.pop("per_target")
    for key in ("n_targets", "n_evaluated"):
        del out[key]
    return {**out, "n_pos": per["n_pos"][0], "n_neg": per["n_neg"][0]}


def evaluate_multiclass(y_true, y_score, names: Sequence[str] | None = None) -> dict:
    """The standard numbers for class labels ``(N,)`` and scores ``(N, C)``, ready for
    ``json.dump``: ``accuracy``, ``balanced_accuracy``, ``mcc``, ``macro_f1``,
    ``macro_precision``, ``macro_recall``, one-vs-rest ``auroc`` and ``auprc`` (macro over the
    classes present in ``y_true``; absent classes are listed in ``skipped``), ``n_samples``,
    ``n_classes`` and ``per_class`` (names, counts, f1, precision, recall, auroc, auprc)."""
    func = "evaluate_multiclass"
    kind, y, s = _prepare(func, y_true, y_score, "macro")
    if kind != "multiclass":
        raise ValueError(
            f"{func}: expected y_true of shape (N,) and y_score (N, C), got {np.shape(y_true)} "
            f"and {s.shape}"
        )
    c = s.shape[1]
    names = _names(func, names, c)
    cm = np.bincount(y * c + s.argmax(axis=1), minlength=c * c).reshape(c, c)
    onehot = y[:, None] == np.arange(c)
    present = onehot.any(axis=0)
    ranking = {k: np.full(c, np.nan) for k in ("auroc", "auprc")}
    ranking["auroc"][present], ranking["auprc"][present] = _ranking(
        onehot[:, present], s[:, present]
    )
    skipped = [
        {"target": names[j], "reason": "no samples in y_true"} for j in np.flatnonzero(~present)
    ]
    if skipped:
        warnings.warn(
            f"{func}: {len(skipped)} of {c} classes have no samples in y_true; their auROC and "
            f"auPRC are skipped (see skipped)",
            UserWarning,
            stacklevel=2,
        )
    per_class = {k: _multiclass(k, cm, None) for k in ("f1_score", "precision", "recall")}
    defined = present & ~np.isnan(ranking["auroc"])
    return {
        **{k: _multiclass(k, cm, "macro") for k in ("accuracy", "balanced_accuracy")},
        "mcc": _multiclass("matthews_corrcoef", cm, "macro"),
        **{f"macro_{k.removesuffix('_score')}": _multiclass(k, cm, "macro") for k in per_class},
        "auroc": _mean(ranking["auroc"], defined),
        "auprc": _mean(ranking["auprc"], present),
        "n_samples": int(y.shape[0]),
        "n_classes": int(c),
        "skipped": skipped,
        "per_class": {
            "names": names,
            "count": cm.sum(axis=1).tolist(),
            **{k.removesuffix("_score"): v.tolist() for k, v in per_class.items()},
            **{k: [_json(x) for x in v] for k, v in ranking.items()},
        },
    }
