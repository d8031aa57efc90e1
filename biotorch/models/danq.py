"""DanQ (Quang & Xie, Nucleic Acids Res. 2016): a convolution and a bidirectional LSTM over the
pooled positions, predicting 919 chromatin features from 1000 bp."""

from __future__ import annotations

from typing import Any

from biotorch import nn
from biotorch.models._common import FixedLengthModel
from biotorch.models.deepsea import dense_head
from biotorch.models.registry import Weights, build, register_model
from biotorch.tensor import Tensor

__all__ = ["DanQ", "danq"]


class DanQ(FixedLengthModel):
    """DanQ as published: conv 320 (width 26, ReLU), max-pool 13 (stride 13), dropout 0.2, a
    bidirectional LSTM with 320 units per direction running along the sequence (the length
    axis), dropout 0.5, dense 925 (ReLU) over the flattened ``(length, 640)`` LSTM outputs,
    output ``num_targets`` logits. 46,929,039 parameters at the defaults (PyTorch-style LSTM
    with two bias vectors).

    Arguments as :class:`~biotorch.models.FixedLengthModel`; the defaults are the
    paper's (919 chromatin features, 1000 bp).
    """

    def __init__(self, num_targets: int = 919, input_length: int = 1000, in_channels: int = 4):
        super().__init__(num_targets, input_length, in_channels)
        self.features = nn.Sequential(
            nn.Conv1d(in_channels, 320, 26),
            nn.ReLU(),
            nn.MaxPool1d(13, 13),
            nn.Dropout(0.2),
        )
        length = self.feature_length()
        self.lstm = nn.LSTM(320, 320, batch_first=True, bidirectional=True)
        self.dropout = nn.Dropout(0.5)
        self.classifier = dense_head(640 * length, num_targets)

    def forward(self, x: Tensor) -> Tensor:
        self.check_input(x)
        positions = self.features(x).permute(0, 2, 1)  # (batch, length, channels)
        states, _ = self.lstm(positions)
        return self.classifier(self.dropout(states))


@register_model("danq")
def danq(weights: str | Weights | None = None, **kwargs: Any) -> DanQ:
    """DanQ (keyword arguments go to :class:`DanQ`)."""
    return build("danq", DanQ, weights, kwargs)
