"""DeepBind (Alipanahi et al., Nat. Biotechnol. 2015): one layer of motif detectors, global
pooling and a small fully connected stage, per protein."""

from __future__ import annotations

from typing import Any

from biotorch import nn
from biotorch.data.alphabets import Alphabet
from biotorch.models._common import check_one_hot, check_positive, resolve_alphabet
from biotorch.models.registry import Weights, build, get_model_weights, register_model
from biotorch.nn import functional as F
from biotorch.ops.shape import cat
from biotorch.tensor import Tensor

__all__ = ["DeepBind", "deepbind", "deepbind_hidden", "deepbind_max_avg_hidden"]

_POOLINGS = ("max", "max_avg")
#: The paper's motif lengths: 24 for DNA (ChIP-seq, SELEX, PBM), 16 for RNA (RNAcompete).
MOTIF_LENGTHS = {"DNA": 24, "RNA": 16}


class DeepBind(nn.Module):
    """DeepBind: motif scan, rectification, global pooling, (hidden layer,) output.

    The input ``(batch, in_channels, length)`` is padded with ``motif_length - 1`` positions of
    ``pad_value`` (0.25: an unknown base) on each side, so motifs may hang over the ends; the
    convolution bias is the learned rectification threshold (``relu(w * x - threshold)``). Each
    detector is pooled over the whole sequence (max, or max and mean), so any length works.
    Dropout acts on the pooled features, before the fully connected stage.

    Parameters
    ----------
    num_targets : int
        Outputs (logits).
    in_channels : int
        Letters of the alphabet (4 for DNA/RNA).
    num_motifs : int
        Motif detectors (16 in the paper).
    motif_length : int
        Detector width (24 for DNA, 16 for RNA in the paper).
    pooling : {"max", "max_avg"}
        Global max pooling, or max and average pooling (twice the features).
    hidden_units : int or None
        Width of the ReLU hidden layer (32 in the paper), or None for a linear output.
    dropout : float
        Dropout probability on the pooled features.
    pad_value : float
        Value of the padding positions in every channel.
    """

    def __init__(
        self,
        num_targets: int = 1,
        in_channels: int = 4,
        num_motifs: int = 16,
        motif_length: int = 24,
        pooling: str = "max",
        hidden_units: int | None = None,
        dropout: float = 0.5,
        pad_value: float = 0.25,
    ) -> None:
        super().__init__()
        check_positive(
            "DeepBind",
            num_targets=num_targets,
            in_channels=in_channels,
            num_motifs=num_motifs,
            motif_length=motif_length,
        )
        if pooling not in _POOLINGS:
            raise ValueError(f"DeepBind: pooling={pooling!r}, expected one of {_POOLINGS}")
        if hidden_units is not None:
            check_positive("DeepBind", hidden_units=hidden_units)
        self.in_channels, self.motif_length = in_channels, motif_length
        self.pooling, self.pad_value = pooling, float(pad_value)
        self.motifs = nn.Conv1d(in_channels, num_motifs, motif_length)
        features = num_motifs * (2 if pooling == "max_avg" else 1)
        layers: list[nn.Module] = [nn.Dropout(dropout)]
        if hidden_units is not None:
            layers += [nn.Linear(features, hidden_units), nn.ReLU()]
            features = hidden_units
        self.classifier = nn.Sequential(*layers, nn.Linear(features, num_targets))

    def forward(self, x: Tensor) -> Tensor:
        check_one_hot(x, self.in_channels, None, "DeepBind")
        pad = self.motif_length - 1
        scores = F.relu(self.motifs(F.pad(x, (pad, pad), value=self.pad_value)))
        pooled = scores.amax(dim=-1)
        if self.pooling == "max_avg":
            pooled = cat([pooled, scores.mean(dim=-1)], dim=1)
        return self.classifier(pooled)


def _deepbind(
    name: str,
    weights: str | Weights | None,
    alphabet: Alphabet | str | None,
    kwargs: dict[str, Any],
) -> DeepBind:
    entry = None if weights is None else get_model_weights(weights)
    letters = resolve_alphabet(alphabet or (entry.alphabet if entry else "DNA"), name)
    if "motif_length" not in kwargs and "motif_length" not in (entry.config if entry else {}):
        if letters.name not in MOTIF_LENGTHS:
            raise ValueError(
                f"{name}: no published motif length for alphabet {letters.name}; pass motif_length="
            )
        kwargs["motif_length"] = MOTIF_LENGTHS[letters.name]
    kwargs.setdefault("in_channels", len(letters))
    return build(name, DeepBind, entry, kwargs)


@register_model("deepbind")
def deepbind(
    weights: str | Weights | None = None, *, alphabet: Alphabet | str | None = None, **kwargs: Any
) -> DeepBind:
    """DeepBind with global max pooling and no hidden layer (1,569 parameters for DNA).

    ``alphabet`` ("DNA", the default, or "RNA"; with ``weights``, theirs) picks the paper's motif
    length (24 or 16) unless ``motif_length`` is given; other keyword arguments go to
    :class:`DeepBind`.
    """
    return _deepbind("deepbind", weights, alphabet, {"pooling": "max", **kwargs})


@register_model("deepbind_hidden")
def deepbind_hidden(
    weights: str | Weights | None = None, *, alphabet: Alphabet | str | None = None, **kwargs: Any
) -> DeepBind:
    """DeepBind with global max pooling and a 32-unit hidden layer (2,129 parameters for DNA)."""
    kwargs = {"pooling": "max", "hidden_units": 32, **kwargs}
    return _deepbind("deepbind_hidden", weights, alphabet, kwargs)


@register_model("deepbind_max_avg_hidden")
def deepbind_max_avg_hidden(
    weights: str | Weights | None = None, *, alphabet: Alphabet | str | None = None, **kwargs: Any
) -> DeepBind:
    """DeepBind with max and average pooling and a 32-unit hidden layer (2,641 parameters for
    DNA)."""
    kwargs = {"pooling": "max_avg", "hidden_units": 32, **kwargs}
    return _deepbind("deepbind_max_avg_hidden", weights, alphabet, kwargs)
