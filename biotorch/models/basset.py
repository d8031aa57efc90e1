"""Basset (Kelley, Snoek & Rinn, Genome Res. 2016): three convolutions with batch norm and two
dense layers predicting DNase I hypersensitivity in 164 cell types from 600 bp."""

from __future__ import annotations

from typing import Any

from biotorch import nn
from biotorch.models._common import FixedLengthModel, check_positive
from biotorch.models.registry import Weights, build, register_model
from biotorch.tensor import Tensor

__all__ = ["Basset", "basset"]


def _conv_block(in_channels: int, out_channels: int, kernel: int, pool: int) -> list[nn.Module]:
    return [
        nn.Conv1d(in_channels, out_channels, kernel),
        nn.BatchNorm1d(out_channels),
        nn.ReLU(),
        nn.MaxPool1d(pool, pool),
    ]


def _dense_block(in_features: int, out_features: int) -> list[nn.Module]:
    return [
        nn.Linear(in_features, out_features),
        nn.BatchNorm1d(out_features),
        nn.ReLU(),
        nn.Dropout(0.3),
    ]


class Basset(FixedLengthModel):
    """Basset as published: conv 300 (width 19) / 200 (11) / 200 (7), each with batch norm,
    ReLU and max-pool 3/4/4 (no padding); dense 1000/1000 with batch norm, ReLU and dropout 0.3;
    output ``num_targets`` logits. 4,135,064 trainable parameters at the defaults.

    Arguments as :class:`~biotorch.models.FixedLengthModel`; the defaults are the
    paper's (164 cell types, 600 bp). ``conv_channels`` (three widths) and ``dense_units``
    make a reduced-width Basset (same kernels, pools, batch norm and dropout).
    """

    def __init__(
        self,
        num_targets: int = 164,
        input_length: int = 600,
        in_channels: int = 4,
        conv_channels: tuple[int, int, int] = (300, 200, 200),
        dense_units: int = 1000,
    ):
        super().__init__(num_targets, input_length, in_channels)
        if len(conv_channels) != 3:
            raise ValueError(
                f"Basset: conv_channels={conv_channels!r}, expected three convolution widths"
            )
        c1, c2, c3 = conv_channels
        check_positive("Basset", c1=c1, c2=c2, c3=c3, dense_units=dense_units)
        self.features = nn.Sequential(
            *_conv_block(in_channels, c1, 19, 3),
            *_conv_block(c1, c2, 11, 4),
            *_conv_block(c2, c3, 7, 4),
        )
        length = self.feature_length()
        self.classifier = nn.Sequential(
            nn.Flatten(),
            *_dense_block(c3 * length, dense_units),
            *_dense_block(dense_units, dense_units),
            nn.Linear(dense_units, num_targets),
        )

    def forward(self, x: Tensor) -> Tensor:
        self.check_input(x)
        return self.classifier(self.features(x))


@register_model("basset")
def basset(weights: str | Weights | None = None, **kwargs: Any) -> Basset:
    """Basset (keyword arguments go to :class:`Basset`)."""
    return build("basset", Basset, weights, kwargs)
