"""Pretrained weights shipped with biotorch: each ``<name>.safetensors`` has a ``<name>.json``
next to it whose ``"weights"`` object holds the :class:`~biotorch.models.registry.Weights`
fields (sha256, alphabet, N policy, input length, targets, task, training data, licence,
metrics, builder config) and whose other keys say how the inputs were encoded (``"inputs"``)
and how the weights were made (``"recipe"``).

Importing this package registers every shipped entry (``biotorch.models`` does it).
"""

from __future__ import annotations

import json
from pathlib import Path

from biotorch.models.registry import Weights, register_weights

__all__ = ["shipped_metadata", "register_shipped"]

_HERE = Path(__file__).parent


def shipped_metadata() -> dict[str, dict]:
    """The JSON metadata of every shipped weights file, by entry name."""
    out = {}
    for path in sorted(_HERE.glob("*.json")):
        meta = json.loads(path.read_text())
        out[meta["weights"]["name"]] = meta
    return out


def register_shipped() -> list[str]:
    """Register the shipped weights entries (once); returns their names."""
    names = []
    for name, meta in shipped_metadata().items():
        register_weights(Weights(**meta["weights"]), replace=True)
        names.append(name)
    return names


register_shipped()
