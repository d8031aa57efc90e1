"""Reference sequence models, torchvision-style: published architectures (DeepBind, DeepSEA,
Basset, DanQ), variable-length classifiers, strand averaging, and a registry of builders and
pretrained weights with metadata.

Examples
--------
>>> from biotorch import models
>>> net = models.get_model("basset", num_targets=10)
>>> "deepsea" in models.list_models()
True
"""

from biotorch.models import registry
from biotorch.models._common import FixedLengthModel
from biotorch.models.basset import Basset, basset
from biotorch.models.danq import DanQ, danq
from biotorch.models.deepbind import DeepBind, deepbind, deepbind_hidden, deepbind_max_avg_hidden
from biotorch.models.deepsea import DeepSEA, deepsea
from biotorch.models.registry import *  # noqa: F403
from biotorch.models.strand import StrandAverage
from biotorch.models.varlen import (
    CNNLSTMClassifier,
    MaskedCNNClassifier,
    TransformerClassifier,
    cnn_lstm,
    masked_cnn,
    masked_pool,
    transformer_classifier,
)

__all__ = [
    "DeepBind",
    "deepbind",
    "deepbind_hidden",
    "deepbind_max_avg_hidden",
    "DeepSEA",
    "deepsea",
    "Basset",
    "basset",
    "DanQ",
    "danq",
    "CNNLSTMClassifier",
    "MaskedCNNClassifier",
    "TransformerClassifier",
    "cnn_lstm",
    "masked_cnn",
    "transformer_classifier",
    "masked_pool",
    "StrandAverage",
    "FixedLengthModel",
    *registry.__all__,
]

# Registers the shipped pretrained weights (after the builders they name).
from biotorch.models import weights  # noqa: E402,F401
