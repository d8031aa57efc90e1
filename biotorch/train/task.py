"""What a model's outputs mean (:class:`Task`) and seeded stratified splits."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

import biotorch as bt
import biotorch.nn.functional as F
from biotorch import metrics

KINDS = ("binary", "multiclass", "multilabel")


@dataclass
class Task:
    """What the outputs mean: ``binary`` (one logit, sigmoid), ``multiclass`` (one logit per
    class, softmax) or ``multilabel`` (one logit per target, sigmoid); ``names`` of the outputs
    (for ``binary``, the one name of the positive class)."""

    kind: str
    names: list[str]

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"Task: kind {self.kind!r}, expected one of {KINDS}")
        self.names = list(self.names)

    @classmethod
    def from_targets(cls, targets: np.ndarray, classes: list[str] | None = None) -> Task:
        """The task of a dataset's ``targets``: 2-D 0/1 rows are multi-label, integer class
        indices with more than two classes multi-class, else binary (positive: the last class)."""
        if targets.ndim == 2:
            return cls(
                "multilabel", list(classes or [f"target_{j}" for j in range(targets.shape[1])])
            )
        if targets.dtype.kind not in "iub":
            raise ValueError("train: labels are real numbers; expected class labels or 0/1 targets")
        n = len(classes) if classes is not None else int(targets.max()) + 1
        names = list(classes) if classes is not None else [str(c) for c in range(n)]
        if n > 2:
            return cls("multiclass", names)
        return cls("binary", [names[-1]])

    @property
    def num_outputs(self) -> int:
        """The number of logits the model must give per sample."""
        return len(self.names)

    def loss(self, logits: bt.Tensor, y: bt.Tensor) -> bt.Tensor:
        """Mean cross-entropy (multi-class) or binary cross-entropy with logits."""
        if self.kind == "multiclass":
            return F.cross_entropy(logits, y.long())
        if self.kind == "binary":
            logits = logits.reshape(-1)
        return F.binary_cross_entropy_with_logits(logits, y.float())

    def probabilities(self, logits: bt.Tensor) -> np.ndarray:
        """Scores ``(N,)`` (binary) or ``(N, outputs)``, as NumPy."""
        if self.kind == "multiclass":
            return F.softmax(logits, dim=1).detach().cpu().numpy()
        p = bt.sigmoid(logits).detach().cpu().numpy()
        return p.reshape(-1) if self.kind == "binary" else p

    def evaluate(self, y: np.ndarray, p: np.ndarray) -> dict:
        """JSON-ready metrics (``auroc``, ``auprc``, ``accuracy``, ...) from biotorch.metrics;
        multi-class results add the ``confusion`` matrix (rows: true class)."""
        if self.kind == "binary":
            return metrics.evaluate_binary(y, p)
        if self.kind == "multiclass":
            out = metrics.evaluate_multiclass(y, p, names=self.names)
            c = len(self.names)
            cm = np.bincount(y.astype(np.int64) * c + p.argmax(1), minlength=c * c)
            out["confusion"] = cm.reshape(c, c).tolist()
            return out
        return metrics.evaluate_multilabel(y, p, names=self.names)


def _stratified_ranks(y: np.ndarray, seed: int) -> np.ndarray:
    """A number in [0, 1) per sample, evenly spread within each class (each distinct row of a
    2-D ``y``) in a seeded random order."""
    y = np.asarray(y)
    key = y if y.ndim == 1 else np.unique(y, axis=0, return_inverse=True)[1].ravel()
    rng = np.random.default_rng(seed)
    ranks = np.empty(len(key))
    for value in np.unique(key):
        rows = rng.permutation(np.flatnonzero(key == value))
        ranks[rows] = (np.arange(len(rows)) + rng.random()) / len(rows)
    return ranks


def stratified_split(y: np.ndarray, fractions: list[float], seed: int = 0) -> np.ndarray:
    """Assign each sample to a part: ``1..len(fractions)`` for the held-out parts (part ``i``
    holds about ``fractions[i - 1]`` of every class), ``0`` for the rest.

    ``y`` is class labels ``(N,)`` or 0/1 target rows ``(N, T)`` (each distinct row is a class).
    The same ``y`` and ``seed`` always give the same parts; a part of fraction 0 is empty.

    >>> parts = stratified_split(labels, [0.1, 0.1], seed=0)  # 0: train, 1: val, 2: test
    """
    if any(f < 0 for f in fractions) or sum(fractions) > 1:
        raise ValueError(
            f"stratified_split: fractions {list(fractions)}, expected >= 0 with sum <= 1"
        )
    ranks = _stratified_ranks(y, seed)
    parts = np.zeros(len(ranks), dtype=np.int64)
    for i, cut in reversed(list(enumerate(np.cumsum(fractions)))):
        parts[ranks < cut] = i + 1
    return parts


def stratified_folds(y: np.ndarray, k: int, seed: int = 0) -> np.ndarray:
    """A fold index in ``0..k-1`` per sample, each class spread evenly over the folds (for
    k-fold cross-validation); seeded and deterministic like :func:`stratified_split`."""
    if k < 2:
        raise ValueError(f"stratified_folds: k={k}, expected at least 2 folds")
    return np.floor(_stratified_ranks(y, seed) * k).astype(np.int64)
