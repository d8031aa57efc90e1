"""Attributions for sequence models: in-silico mutagenesis, saliency and input x gradient.

Inputs are one-hot sequences ``(N, C, L)`` (channels in the alphabet's order, ``A C G T`` for
DNA); models are biotorch ``nn.Module``s returning ``(N, T)`` or ``(N,)``. Put the model in
evaluation mode first (``model.eval()``): dropout or batch statistics would make the scores
random and mix samples.

Examples
--------
>>> ism = in_silico_mutagenesis(model, x, target=0)        # doctest: +SKIP
>>> ism.scores.shape, ism.reference.shape                  # doctest: +SKIP
((8, 4, 1000), (8,))
>>> attribution = input_x_gradient(model, x, target=0, mean_centered=True)  # doctest: +SKIP
"""

from __future__ import annotations

import operator
import warnings
from collections.abc import Sequence
from typing import NamedTuple

import biotorch
from biotorch.autograd import enable_grad, no_grad
from biotorch.data.alphabets import DNA, Alphabet
from biotorch.nn.module import Module
from biotorch.tensor import Tensor

__all__ = ["ISMResult", "in_silico_mutagenesis", "saliency", "input_x_gradient"]


class ISMResult(NamedTuple):
    """``scores[n, c, l, ...]``: the model's output for sequence ``n`` with position ``l`` set to
    letter ``c``, minus ``reference[n, ...]``, its output for the unmutated sequence (0 for the
    reference letter)."""

    scores: Tensor
    reference: Tensor


def _inputs(func: str, model: Module, x, device) -> Tensor:
    """``x`` as a detached floating tensor on ``device`` (default: the model's device)."""
    if not isinstance(model, Module):
        raise TypeError(f"{func}: model must be a biotorch.nn.Module, got {type(model).__name__}")
    if model.training:
        warnings.warn(
            f"{func}: the model is in training mode (dropout and batch statistics make scores "
            f"random and mix samples); call model.eval() first",
            UserWarning,
            stacklevel=3,
        )
    param = next(model.parameters(), None)
    x = x.detach() if isinstance(x, Tensor) else biotorch.tensor(x)
    if device is None:
        device = x.device if param is None else param.device
    if not x.is_floating_point():
        x = x.to(biotorch.get_default_dtype() if param is None else param.dtype)
    return x.to(device)


def _select(func: str, out, target, batch: int) -> Tensor:
    """The model output ``(B,)`` or ``(B, T)``, restricted to ``target`` (an index or a list of
    indices into T)."""
    if not isinstance(out, Tensor) or out.ndim not in (1, 2) or out.shape[0] != batch:
        shape = tuple(out.shape) if isinstance(out, Tensor) else type(out).__name__
        raise ValueError(
            f"{func}: the model must return a Tensor of shape ({batch},) or ({batch}, T), "
            f"got {shape}"
        )
    if target is None:
        return out
    if out.ndim == 1:
        raise ValueError(f"{func}: target={target!r} given, but the model returns one output")
    try:
        targets = [operator.index(target)]
    except TypeError:
        targets = list(target)
    bad = [t for t in targets if not -out.shape[1] <= t < out.shape[1]]
    if bad:
        raise IndexError(f"{func}: target {bad[0]} is out of range for {out.shape[1]} outputs")
    return out[:, target]


def in_silico_mutagenesis(
    model: Module,
    x,
    alphabet: Alphabet = DNA,
    batch_size: int = 128,
    target: int | Sequence[int] | None = None,
    device=None,
) -> ISMResult:
    """Score every single-letter substitution of one-hot sequences ``x`` ``(N, C, L)``.

    Every (sequence, letter, position) whose value is not already 1 becomes one mutant (the
    3L substitutions of each DNA sequence; all C letters at an N or PAD position). Mutants are
    built on the device by indexing, ``batch_size`` at a time, and scored under ``no_grad``.

    Parameters
    ----------
    model : Module
        Maps ``(B, C, L)`` to ``(B, T)`` or ``(B,)``.
    x : Tensor or array
        One-hot sequences ``(N, C, L)`` with ``C == len(alphabet)``.
    alphabet : Alphabet
        The channel order of ``x`` (default DNA: ``A C G T``).
    batch_size : int
        Mutants scored per forward pass (bounds memory).
    target : int or sequence of int, optional
        Output column(s) to keep; all of them by default.
    device : device, optional
        Where to score (default: the model's device).

    Returns
    -------
    ISMResult
        ``scores`` ``(N, C, L)`` + the output's trailing shape (e.g. ``(N, C, L, T)``), the
        change from ``reference`` (the unmutated outputs, ``(N,)`` or ``(N, T)``).
    """
    func = "in_silico_mutagenesis"
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"{func}: batch_size must be a positive integer, got {batch_size!r}")
    x = _inputs(func, model, x, device)
    if x.ndim != 3 or x.shape[1] != len(alphabet):
        raise ValueError(
            f"{func}: x must be one-hot of shape (N, {len(alphabet)}, L) for the "
            f"{alphabet.name} alphabet, got {tuple(x.shape)}"
        )
    with no_grad():
        reference = biotorch.cat(
            [_select(func, model(part), target, part.shape[0]) for part in x.split(batch_size)]
        )
        mutants = biotorch.nonzero(x != 1.0)
        scores = biotorch.zeros(
            *x.shape, *reference.shape[1:], dtype=reference.dtype, device=x.device
        )
        rows = biotorch.arange(batch_size, device=x.device)
        for i in range(0, mutants.shape[0], batch_size):
            chunk = mutants[i : i + batch_size]
            seq, letter, pos = chunk[:, 0], chunk[:, 1], chunk[:, 2]
            batch = x[seq]
            row = rows[: chunk.shape[0]]
            batch[row, :, pos] = 0.0
            batch[row, letter, pos] = 1.0
            out = _select(func, model(batch), target, chunk.shape[0])
            scores[seq, letter, pos] = out - reference[seq]
    return ISMResult(scores, reference)


def _gradient(func: str, model: Module, x, target, mean_centered: bool, device) -> tuple:
    """The input, and the gradient of the selected output summed over the batch with respect
    to it (per-sequence gradients for models that treat samples independently)."""
    x = _inputs(func, model, x, device).requires_grad_()
    with enable_grad():
        out = _select(func, model(x), target, x.shape[0])
        if out.ndim != 1:
            raise ValueError(
                f"{func}: the model returns {out.shape[1]} outputs per sequence; pass "
                f"target=<index> to choose one"
            )
        (grad,) = biotorch.autograd.grad(out.sum(), x)
    if mean_centered:
        grad = grad - grad.mean(dim=1, keepdim=True)
    return x.detach(), grad


def saliency(
    model: Module,
    x,
    target: int | None = None,
    absolute: bool = True,
    mean_centered: bool = False,
    device=None,
) -> Tensor:
    """Gradient of the model's output ``target`` with respect to the input ``x`` ``(N, C, L)``.

    ``absolute`` returns ``|d out / d x|`` (the classic saliency map), else the raw gradient;
    ``mean_centered`` first subtracts the mean over channels at each position (the usual
    correction for one-hot DNA, removing the part of the gradient no substitution can realise).
    """
    grad = _gradient("saliency", model, x, target, mean_centered, device)[1]
    return grad.abs() if absolute else grad


def input_x_gradient(
    model: Module, x, target: int | None = None, mean_centered: bool = False, device=None
) -> Tensor:
    """Input times gradient of the model's output ``target``: for one-hot ``x`` the gradient at
    the observed letter of each position (``mean_centered`` as in :func:`saliency`)."""
    x, grad = _gradient("input_x_gradient", model, x, target, mean_centered, device)
    return x * grad
