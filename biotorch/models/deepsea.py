"""DeepSEA (Zhou & Troyanskaya, Nat. Methods 2015): three convolutions and a dense layer
predicting 919 chromatin features from 1000 bp."""

from __future__ import annotations

from typing import Any

from biotorch import nn
from biotorch.models._common import FixedLengthModel
from biotorch.models.registry import Weights, build, register_model
from biotorch.tensor import Tensor

__all__ = ["DeepSEA", "deepsea"]


def dense_head(in_features: int, num_targets: int) -> nn.Sequential:
    """DeepSEA's output stage, also DanQ's: flatten, dense 925 (ReLU), ``num_targets`` logits."""
    return nn.Sequential(
        nn.Flatten(), nn.Linear(in_features, 925), nn.ReLU(), nn.Linear(925, num_targets)
    )


class DeepSEA(FixedLengthModel):
    """DeepSEA as published: conv 320/480/960 (width 8, ReLU), max-pool 4 after the first two,
    dropout 0.2/0.2/0.5, dense 925 (ReLU), output ``num_targets`` logits (apply a sigmoid for
    the paper's probabilities). 52,843,119 parameters at the defaults.

    Arguments as :class:`~biotorch.models.FixedLengthModel`; the defaults are the
    paper's (919 chromatin features, 1000 bp).
    """

    def __init__(self, num_targets: int = 919, input_length: int = 1000, in_channels: int = 4):
        super().__init__(num_targets, input_length, in_channels)
        self.features = nn.Sequential(
            nn.Conv1d(in_channels, 320, 8),
            nn.ReLU(),
            nn.MaxPool1d(4, 4),
            nn.Dropout(0.2),
            nn.Conv1d(320, 480, 8),
            nn.ReLU(),
            nn.MaxPool1d(4, 4),
            nn.Dropout(0.2),
            nn.Conv1d(480, 960, 8),
            nn.ReLU(),
            nn.Dropout(0.5),
        )
        length = self.feature_length()
        self.classifier = dense_head(960 * length, num_targets)

    def forward(self, x: Tensor) -> Tensor:
        self.check_input(x)
        return self.classifier(self.features(x))


@register_model("deepsea")
def deepsea(weights: str | Weights | None = None, **kwargs: Any) -> DeepSEA:
    """DeepSEA (keyword arguments go to :class:`DeepSEA`)."""
    return build("deepsea", DeepSEA, weights, kwargs)
