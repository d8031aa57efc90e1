"""How sequences become model inputs (:class:`InputSpec`) and models built for a task."""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any

import numpy as np

import biotorch as bt
from biotorch.data import DNA, Alphabet, Batch, SequenceCollator
from biotorch.models.registry import get_model
from biotorch.train.data import ALPHABETS
from biotorch.train.task import Task


@dataclass
class InputSpec:
    """How sequences become model inputs: alphabet, N value, fixed length (None: any length,
    padded per batch) and whether the model takes a whole :class:`~biotorch.data.Batch`
    (variable-length models with masks) or a one-hot tensor."""

    alphabet: str = "DNA"
    n_value: float = 0.0
    input_length: int | None = None
    takes_batch: bool = False
    one_hot: bool = True

    def collator(self) -> SequenceCollator:
        """Centre-pads/crops to ``input_length`` when fixed, else right-pads per batch."""
        fixed = self.input_length is not None
        return SequenceCollator(
            alphabet=ALPHABETS[self.alphabet],
            side="center" if fixed else "right",
            length=self.input_length,
            truncate="center" if fixed else None,
            one_hot=self.one_hot,
            n_value=self.n_value,
        )

    def model_input(self, batch: Batch) -> Any:
        """What the model is called with: the batch itself or its input tensor."""
        return batch if self.takes_batch else batch.inputs


def takes_batch(model: bt.nn.Module) -> bool:
    """Whether ``model.forward`` takes a padded :class:`~biotorch.data.Batch` (it accepts
    ``mask=``): the variable-length models, which get tokens and mask padding themselves."""
    return "mask" in inspect.signature(model.forward).parameters


def input_spec_for(
    model: bt.nn.Module, alphabet: Alphabet, n_value: float, model_kwargs: dict | None = None
) -> InputSpec:
    """How ``model`` takes sequences; Batch-taking models one-hot encode tokens themselves, with
    their own ``n_value`` builder argument (default 0)."""
    batch = takes_batch(model)
    if batch:
        n_value = float((model_kwargs or {}).get("n_value", 0.0))
    return InputSpec(
        alphabet=alphabet.name,
        n_value=n_value,
        input_length=getattr(model, "input_length", None),
        takes_batch=batch,
        one_hot=not batch,
    )


def build_model(
    name: str, kwargs: dict, task: Task, alphabet: Alphabet, lengths: np.ndarray
) -> tuple[bt.nn.Module, dict]:
    """``get_model(name)`` with ``num_targets`` for the task, ``in_channels`` for the alphabet and,
    for fixed-length models, ``input_length`` = the longest sequence (unless given); returns the
    model and the keyword arguments that rebuild it (``get_model(name, **kwargs)``)."""
    kwargs = {"num_targets": task.num_outputs, **kwargs}
    if alphabet is not DNA:
        kwargs.setdefault("alphabet", alphabet.name)
    model = _get(name, kwargs)
    if getattr(model, "input_length", None) is not None and "input_length" not in kwargs:
        kwargs["input_length"] = int(lengths.max())
        model = _get(name, kwargs)
    return model, kwargs


def _get(name: str, kwargs: dict) -> bt.nn.Module:
    try:
        return get_model(name, **kwargs)
    except TypeError as err:
        if "alphabet" in kwargs and "alphabet" in str(err):
            rest = {k: v for k, v in kwargs.items() if k != "alphabet"}
            rest.setdefault("in_channels", len(ALPHABETS[kwargs["alphabet"]]))
            return get_model(name, **rest)
        if "unexpected keyword argument" in str(err):
            raise ValueError(f"model {name!r}: {err} (check --model-arg)") from None
        raise
