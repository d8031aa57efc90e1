"""The model registry (builders by name) and the pretrained-weights registry with metadata.

Builders are registered with :func:`register_model`; :func:`get_model` calls one by name.
Pretrained weights are :class:`Weights` entries: a safetensors file shipped in
``biotorch/models/weights/`` (or any path), its sha256, and what a user needs to score new
sequences with it (alphabet and channel order, N policy, input length, target names) and to judge
it (training data and licence, test metrics). Files are verified before they are read and loaded
with :func:`biotorch.load` (safetensors, never pickle); nothing is downloaded.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from biotorch.nn.module import Module
from biotorch.serialization import load

__all__ = [
    "Weights",
    "WeightsError",
    "register_model",
    "register_weights",
    "list_models",
    "get_model",
    "get_model_builder",
    "list_weights",
    "get_model_weights",
    "load_pretrained",
    "sha256_of",
    "WEIGHTS_DIR",
]

#: Where shipped weights files live.
WEIGHTS_DIR = Path(__file__).parent / "weights"

_BUILDERS: dict[str, Callable[..., Module]] = {}
_WEIGHTS: dict[str, Weights] = {}
TASKS = ("binary", "multiclass", "multilabel")
_N_POLICIES = ("zeros", "uniform")


class WeightsError(ValueError):
    """A weights file that is missing, corrupted, or does not fit its registry entry."""


@dataclass(frozen=True)
class Weights:
    """A pretrained-weights entry: the file, its checksum and the metadata to use it.

    Attributes
    ----------
    name : str
        Registry key, e.g. ``"deepbind_binding_task"``.
    model : str
        Name of the registered builder that makes the network.
    file : str
        File name under ``WEIGHTS_DIR``, or an absolute path.
    sha256 : str
        Hex digest of the file; checked before loading.
    num_params : int
        Number of parameters of the network (checked after building it).
    alphabet : str
        Alphabet name (``"DNA"``, ``"RNA"``, ``"PROTEIN"``).
    channel_order : str
        One-hot channel letters in order (``"ACGT"``).
    n_policy : {"zeros", "uniform"}
        What the unknown letter (N) was encoded as: all-zero channels, or ``1 / channels`` in
        each channel (``one_hot(..., n_value=entry.n_value)``).
    input_length : int or None
        Training input length; None for models that take any length.
    targets : tuple of str
        Names of the outputs, in order (the models return logits).
    training_data : str
        What the network was trained on, with its source and splits.
    license : str
        Licence of the weights (and attribution the data requires).
    metrics : mapping of str to float
        Test-set metrics, e.g. ``{"auroc": 0.93}``.
    config : mapping
        Keyword arguments of the builder (JSON values).
    description : str
        One line for listings.
    task : {"binary", "multiclass", "multilabel"} or None
        How to read the logits: a sigmoid per output (binary, multilabel) or a softmax over the
        outputs (multiclass). None: binary for one target, multilabel for several.
    """

    name: str
    model: str
    file: str
    sha256: str
    num_params: int
    alphabet: str
    channel_order: str
    n_policy: str
    input_length: int | None
    targets: tuple[str, ...]
    training_data: str
    license: str
    metrics: Mapping[str, float] = field(default_factory=dict)
    config: Mapping[str, Any] = field(default_factory=dict)
    description: str = ""
    task: str | None = None

    def __post_init__(self) -> None:
        where = f"Weights {self.name!r}"
        if not re.fullmatch(r"[0-9a-f]{64}", self.sha256):
            raise ValueError(f"{where}: sha256={self.sha256!r}, expected 64 lowercase hex digits")
        if self.n_policy not in _N_POLICIES:
            raise ValueError(f"{where}: n_policy={self.n_policy!r}, expected one of {_N_POLICIES}")
        if not isinstance(self.num_params, int) or self.num_params < 1:
            raise ValueError(f"{where}: num_params={self.num_params!r}, expected a positive int")
        if not self.targets:
            raise ValueError(f"{where}: targets is empty, expected the output names")
        object.__setattr__(self, "targets", tuple(self.targets))
        if self.task is None:
            object.__setattr__(self, "task", "binary" if len(self.targets) == 1 else "multilabel")
        if self.task not in TASKS:
            raise ValueError(f"{where}: task={self.task!r}, expected one of {TASKS}")

    @property
    def path(self) -> Path:
        """Where the weights file is."""
        path = Path(self.file)
        return path if path.is_absolute() else WEIGHTS_DIR / path

    @property
    def n_value(self) -> float:
        """The ``n_value`` of :func:`biotorch.data.one_hot` that matches ``n_policy``."""
        return 0.0 if self.n_policy == "zeros" else 1.0 / len(self.channel_order)

    def meta(self) -> dict[str, Any]:
        """The entry as a JSON-ready dict."""
        out = asdict(self)
        out["targets"], out["metrics"], out["config"] = (
            list(self.targets),
            dict(self.metrics),
            dict(self.config),
        )
        return out


def _known(names, what: str) -> str:
    return f"known {what}: {', '.join(sorted(names)) or '(none)'}"


def register_model(name: str) -> Callable[[Callable[..., Module]], Callable[..., Module]]:
    """Decorator registering a builder ``fn(weights=None, **kwargs) -> Module`` as ``name``."""

    def decorate(fn: Callable[..., Module]) -> Callable[..., Module]:
        if name in _BUILDERS:
            raise ValueError(f"register_model: a model named {name!r} is already registered")
        _BUILDERS[name] = fn
        return fn

    return decorate


def register_weights(entry: Weights, replace: bool = False) -> Weights:
    """Add a :class:`Weights` entry (its ``model`` must be registered); returns it."""
    if not isinstance(entry, Weights):
        raise TypeError(f"register_weights: entry is a {type(entry).__name__}, expected Weights")
    if entry.model not in _BUILDERS:
        raise ValueError(
            f"register_weights: entry {entry.name!r} names model {entry.model!r}; "
            + _known(_BUILDERS, "models")
        )
    if entry.name in _WEIGHTS and not replace:
        raise ValueError(f"register_weights: weights {entry.name!r} are already registered")
    _WEIGHTS[entry.name] = entry
    return entry


def list_models() -> list[str]:
    """Names of the registered model builders, sorted."""
    return sorted(_BUILDERS)


def get_model_builder(name: str) -> Callable[..., Module]:
    """The builder function registered as ``name``."""
    if name not in _BUILDERS:
        raise ValueError(f"get_model: unknown model {name!r}; " + _known(_BUILDERS, "models"))
    return _BUILDERS[name]


def get_model(name: str, **config: Any) -> Module:
    """Build the model registered as ``name`` with ``config`` (builder keyword arguments,
    including ``weights=``)."""
    return get_model_builder(name)(**config)


def list_weights(model: str | None = None) -> list[str]:
    """Names of the registered weights entries (of one model if given), sorted."""
    return sorted(k for k, v in _WEIGHTS.items() if model is None or v.model == model)


def get_model_weights(name: str | Weights) -> Weights:
    """The :class:`Weights` entry named ``name`` (an entry is returned as it is)."""
    if isinstance(name, Weights):
        return name
    if name not in _WEIGHTS:
        raise ValueError(f"unknown pretrained weights {name!r}; " + _known(_WEIGHTS, "weights"))
    return _WEIGHTS[name]


def sha256_of(path: Path) -> str:
    """Hex sha256 digest of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _load_state(entry: Weights) -> dict:
    path = entry.path
    if not path.is_file():
        raise WeightsError(
            f"weights {entry.name!r}: file {str(path)!r} does not exist (pretrained weights are "
            "shipped inside the package; nothing is downloaded)"
        )
    actual = sha256_of(path)
    if actual != entry.sha256:
        raise WeightsError(
            f"weights {entry.name!r}: file {str(path)!r} has sha256 {actual}, expected "
            f"{entry.sha256}; the file is corrupted or is not the one the entry describes"
        )
    return load(path)


def build(
    model: str,
    constructor: Callable[..., Module],
    weights: str | Weights | None,
    kwargs: dict[str, Any],
) -> Module:
    """What every builder does: ``constructor(**kwargs)``, or with ``weights``, the entry's
    config (``kwargs`` may repeat it but not contradict it) and its verified state dict."""
    if weights is None:
        return constructor(**kwargs)
    entry = get_model_weights(weights)
    if entry.model != model:
        raise ValueError(
            f"{model}: weights {entry.name!r} are for model {entry.model!r}, not {model!r}"
        )
    config = dict(entry.config)
    for key, value in kwargs.items():
        if key in config and config[key] != value:
            raise ValueError(
                f"{model}: {key}={value!r} contradicts weights {entry.name!r}, which were "
                f"trained with {key}={config[key]!r}"
            )
        config[key] = value
    net = constructor(**config)
    count = sum(p.numel() for p in net.parameters())
    if count != entry.num_params:
        raise WeightsError(
            f"{model}: the network has {count} parameters, weights {entry.name!r} expect "
            f"{entry.num_params}"
        )
    net.load_state_dict(_load_state(entry), strict=True)
    return net


def load_pretrained(name: str | Weights) -> Module:
    """The network of the weights entry ``name`` with its verified weights, in eval mode.

    Examples
    --------
    >>> model = load_pretrained("deepbind_binding_task")  # doctest: +SKIP
    >>> entry = get_model_weights("deepbind_binding_task")  # doctest: +SKIP
    """
    entry = get_model_weights(name)
    return get_model(entry.model, weights=entry).eval()
