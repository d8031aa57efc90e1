"""Training checkpoints (one documented format, see :mod:`biotorch.train`) and scorers: a model
from a checkpoint or from shipped pretrained weights, with its task and input spec."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

import biotorch as bt
from biotorch import backend
from biotorch._atomic import atomic_output
from biotorch.models import StrandAverage
from biotorch.models.registry import get_model, get_model_weights, load_pretrained
from biotorch.train.data import ALPHABETS
from biotorch.train.inputs import InputSpec, input_spec_for
from biotorch.train.task import Task

#: Version of the checkpoint layout written by :func:`save_checkpoint`.
CHECKPOINT_FORMAT = 1


def checkpoint_config(
    model_name: str, model_kwargs: dict, task: Task, inputs: InputSpec, **extra: Any
) -> dict:
    """The ``config`` entry of a checkpoint: enough to rebuild the model (``model``,
    ``model_kwargs``), read its outputs (``task``) and feed it (``inputs``); ``extra`` JSON values
    (run arguments, parameter count) are kept alongside."""
    return {
        "model": model_name,
        "model_kwargs": model_kwargs,
        "task": asdict(task),
        "inputs": asdict(inputs),
        **extra,
    }


def unwrap(model: bt.nn.Module) -> bt.nn.Module:
    """The module inside a data-parallel wrapper (its ``module``), or ``model`` itself."""
    return getattr(model, "module", model)


def rng_states(device: Any = None) -> dict:
    """``rng`` (the CPU generator's state) and, for a CUDA ``device``, ``cuda_rng``."""
    states = {"rng": bt.get_rng_state()}
    if device is not None and bt.device(device).type == "cuda":
        states["cuda_rng"] = backend.generator_for(bt.device(device)).get_state()
    return states


def set_rng_states(ckpt: dict, device: Any = None) -> None:
    """Restore the generator states that :func:`rng_states` recorded in ``ckpt``."""
    bt.set_rng_state(ckpt["rng"])
    if "cuda_rng" in ckpt and device is not None and bt.device(device).type == "cuda":
        backend.generator_for(bt.device(device)).set_state(ckpt["cuda_rng"])


def save_checkpoint(path: str | os.PathLike, checkpoint: dict) -> None:
    """``bt.save`` a checkpoint dict all-or-nothing (unique temporary file, then rename)."""
    with atomic_output(path) as tmp, open(tmp, "wb") as f:
        bt.save({"format": CHECKPOINT_FORMAT, **checkpoint}, f)


def model_from_config(config: dict) -> bt.nn.Module:
    """A fresh model built from a checkpoint's ``config`` (``get_model(model, **model_kwargs)``)."""
    return get_model(config["model"], **config["model_kwargs"])


@dataclass
class Scorer:
    """A model with what it needs to score sequences: its task, input spec and source (the
    checkpoint path or weights name it came from)."""

    model: bt.nn.Module
    task: Task
    inputs: InputSpec
    source: str

    def scores(self, logits: bt.Tensor) -> tuple[np.ndarray, np.ndarray]:
        """(probabilities, logits) of model outputs, as ``(N, outputs)`` NumPy arrays."""
        n = logits.shape[0]
        probs = self.task.probabilities(logits).reshape(n, self.task.num_outputs)
        return probs, logits.detach().cpu().numpy().reshape(n, -1)

    def stack_logits(self, outputs: list[bt.Tensor]) -> np.ndarray:
        """Model outputs of several batches as one ``(N, outputs)`` NumPy array; no outputs (a
        rank without rows) give ``(0, outputs)`` in the model's dtype."""
        if outputs:
            return np.concatenate([o.detach().cpu().numpy().reshape(len(o), -1) for o in outputs])
        dtype = next(iter(self.model.parameters())).detach().cpu().numpy().dtype
        return np.zeros((0, self.task.num_outputs), dtype=dtype)

    def strand_model(self, mode: str | None) -> bt.nn.Module:
        """The model, or its average (``mode="mean"``) or maximum (``"max"``) over both strands
        (:class:`biotorch.models.StrandAverage`); ``None`` gives the model itself."""
        if not mode:
            return self.model
        alphabet = ALPHABETS[self.inputs.alphabet]
        return StrandAverage(self.model, mode=mode, alphabet=alphabet).eval()


def load_scorer(source: str, device: str = "cpu") -> Scorer:
    """A :class:`Scorer` in eval mode on ``device``, from a checkpoint file (written by
    :class:`~biotorch.train.Trainer`, e.g. ``best.safetensors``) or from a pretrained weights
    name (:func:`biotorch.models.load_pretrained`)."""
    if os.path.exists(source):
        ckpt = bt.load(source)
        config = ckpt["config"]
        model = model_from_config(config)
        model.load_state_dict(ckpt["model"])
        task, inputs = Task(**config["task"]), InputSpec(**config["inputs"])
    else:
        if source.endswith(".safetensors") or os.sep in source:
            raise FileNotFoundError(f"checkpoint {source!r} does not exist")
        entry = get_model_weights(source)
        model = load_pretrained(source)
        task = Task(entry.task, list(entry.targets))
        inputs = input_spec_for(model, ALPHABETS[entry.alphabet], entry.n_value, entry.config)
        inputs.input_length = entry.input_length  # the training length, also for any-length models
    return Scorer(model.to(device).eval(), task, inputs, source)
