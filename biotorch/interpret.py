"""Attributions for sequence models: in-silico mutagenesis, saliency, input x gradient,
integrated gradients, and embedding x gradient for token-embedding models.

Inputs are one-hot sequences ``(N, C, L)`` (channels in the alphabet's order, ``A C G T`` for
DNA) or, for models that embed tokens (the variable-length classifiers of
:mod:`biotorch.models.varlen`), integer tokens ``(N, L)``; models are biotorch ``nn.Module``\\ s
returning ``(N, T)`` or ``(N,)``. ``lengths=`` or ``mask=`` mark the padding of a padded batch:
they are passed on to the model as keyword arguments, and padding positions score 0. Put the
model in evaluation mode first (``model.eval()``): dropout or batch statistics would make the
scores random and mix samples.

Examples
--------
>>> ism = in_silico_mutagenesis(model, x, target=0)        # doctest: +SKIP
>>> ism.scores.shape, ism.reference.shape                  # doctest: +SKIP
((8, 4, 1000), (8,))
>>> attribution = input_x_gradient(model, x, target=0, mean_centered=True)  # doctest: +SKIP
>>> batch = SequenceCollator(alphabet=PROTEIN)(peptides)   # doctest: +SKIP
>>> tokens, mask = batch.inputs, batch.mask                 # doctest: +SKIP
>>> ism = in_silico_mutagenesis(transformer, tokens, PROTEIN, mask=mask)  # doctest: +SKIP
>>> embedding_x_gradient(transformer, tokens, mask=mask).shape  # doctest: +SKIP
(8, 40)
"""

from __future__ import annotations

import operator
import warnings
from collections.abc import Sequence
from typing import NamedTuple

import biotorch
from biotorch.autograd import enable_grad, no_grad
from biotorch.data.alphabets import DNA, Alphabet
from biotorch.nn.layers.embedding import Embedding
from biotorch.nn.module import Module
from biotorch.tensor import Tensor

__all__ = [
    "ISMResult",
    "in_silico_mutagenesis",
    "saliency",
    "input_x_gradient",
    "integrated_gradients",
    "embedding_saliency",
    "embedding_x_gradient",
]


class ISMResult(NamedTuple):
    """``scores[n, c, l, ...]``: the model's output for sequence ``n`` with position ``l`` set to
    letter ``c``, minus ``reference[n, ...]``, its output for the unmutated sequence (0 for the
    reference letter and at padding positions)."""

    scores: Tensor
    reference: Tensor


def _inputs(func: str, model: Module, x, device) -> Tensor:
    """``x`` as a detached tensor on ``device`` (default: the model's device)."""
    if not isinstance(model, Module):
        raise TypeError(f"{func}: model must be a biotorch.nn.Module, got {type(model).__name__}")
    if model.training:
        warnings.warn(
            f"{func}: the model is in training mode (dropout and batch statistics make scores "
            f"random and mix samples); call model.eval() first",
            UserWarning,
            stacklevel=3,
        )
    x = x.detach() if isinstance(x, Tensor) else biotorch.tensor(x)
    if device is None:
        param = next(model.parameters(), None)
        device = x.device if param is None else param.device
    return x.to(device)


def _floating(model: Module, x: Tensor) -> Tensor:
    """``x`` in the model's floating dtype (the default dtype for a model without parameters)."""
    if x.is_floating_point():
        return x
    param = next(model.parameters(), None)
    return x.to(biotorch.get_default_dtype() if param is None else param.dtype)


def _check_tokens(func: str, name: str, tokens: Tensor, alphabet: Alphabet | None = None) -> None:
    """Integer ``(N, L)`` tokens, below ``alphabet.n_tokens`` when an alphabet is given."""
    if tokens.ndim != 2 or tokens.is_floating_point() or tokens.dtype == biotorch.bool:
        raise ValueError(
            f"{func}: {name} must be integer tokens of shape (N, L), got shape "
            f"{tuple(tokens.shape)} and dtype {tokens.dtype}"
        )
    if alphabet is None:
        return
    bad = (tokens < 0) | (tokens >= alphabet.n_tokens)
    if bool(bad.any()):
        raise ValueError(
            f"{func}: token {int(tokens[bad][0])} is not a token of the {alphabet.name} "
            f"alphabet; expected 0 <= token < {alphabet.n_tokens}"
        )


def _padding(func: str, x: Tensor, lengths, mask, pad_token: int | None) -> tuple:
    """``(real, kwargs)``: the ``(N, L)`` bool mask of real positions (``mask``, else
    ``position < lengths``, else tokens other than ``pad_token``, else all), and the given
    ``lengths``/``mask`` as tensors on ``x``'s device, to pass on to the model."""
    n, length = x.shape[0], x.shape[-1]
    kwargs = {}
    real = x.new_ones((n, length)).bool() if pad_token is None else x != pad_token
    if lengths is not None:
        lengths = biotorch.as_tensor(lengths, device=x.device)
        if tuple(lengths.shape) != (n,) or lengths.is_floating_point():
            raise ValueError(
                f"{func}: lengths must be integers of shape ({n},), got shape "
                f"{tuple(lengths.shape)} and dtype {lengths.dtype}"
            )
        kwargs["lengths"] = lengths
        real = biotorch.arange(length, device=x.device)[None, :] < lengths[:, None]
    if mask is not None:
        mask = biotorch.as_tensor(mask, device=x.device)
        if tuple(mask.shape) != (n, length) or mask.is_floating_point():
            raise ValueError(
                f"{func}: mask must be bool of shape ({n}, {length}), True at real positions, "
                f"got shape {tuple(mask.shape)} and dtype {mask.dtype}"
            )
        kwargs["mask"] = mask
        real = mask.bool()
    return real, kwargs


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


def _set_one_hot(batch: Tensor, row: Tensor, letter: Tensor, pos: Tensor) -> None:
    batch[row, :, pos] = 0.0
    batch[row, letter, pos] = 1.0


def _set_token(batch: Tensor, row: Tensor, letter: Tensor, pos: Tensor) -> None:
    batch[row, pos] = letter.to(batch.dtype)


def in_silico_mutagenesis(
    model: Module,
    x,
    alphabet: Alphabet = DNA,
    batch_size: int = 128,
    target: int | Sequence[int] | None = None,
    lengths=None,
    mask=None,
    device=None,
) -> ISMResult:
    """Score every single-letter substitution of one-hot sequences ``(N, C, L)`` or of integer
    tokens ``(N, L)``.

    Every real (sequence, position) is set to each letter of ``alphabet`` that it does not
    already hold: the 3L substitutions of a DNA sequence, all C letters at an N position. Tokens
    are set to the letter tokens ``0 .. C-1`` only, never to N, PAD or an ambiguity code.
    Mutants are built on the device by indexing, ``batch_size`` at a time, and scored under
    ``no_grad``.

    Parameters
    ----------
    model : Module
        Maps ``(B, C, L)`` or ``(B, L)`` (and the keyword arguments ``lengths``/``mask``, when
        given) to ``(B, T)`` or ``(B,)``.
    x : Tensor or array
        One-hot sequences ``(N, C, L)`` with ``C == len(alphabet)``, or integer tokens
        ``(N, L)`` of ``alphabet``.
    alphabet : Alphabet
        The channel order of one-hot ``x``, or the tokens' alphabet (default DNA: ``A C G T``).
    batch_size : int
        Mutants scored per forward pass (bounds memory).
    target : int or sequence of int, optional
        Output column(s) to keep; all of them by default.
    lengths : Tensor or array, optional
        ``(N,)`` real lengths of right-padded sequences; passed on to the model.
    mask : Tensor or array, optional
        ``(N, L)`` bool, True at real positions; passed on to the model. Without ``lengths``
        and ``mask``, every position of one-hot ``x`` is real, and every token but PAD.
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
    if x.ndim == 2:
        _check_tokens(func, "x", x, alphabet)
        real, kwargs = _padding(func, x, lengths, mask, alphabet.pad_token)
        letters = biotorch.arange(len(alphabet), device=x.device)
        differs, mutate = x[:, None, :] != letters[None, :, None], _set_token
    else:
        x = _floating(model, x)
        if x.ndim != 3 or x.shape[1] != len(alphabet):
            raise ValueError(
                f"{func}: x must be one-hot of shape (N, {len(alphabet)}, L) for the "
                f"{alphabet.name} alphabet, got {tuple(x.shape)} (or pass integer tokens "
                f"of shape (N, L))"
            )
        real, kwargs = _padding(func, x, lengths, mask, None)
        differs, mutate = x != 1.0, _set_one_hot

    def score(batch: Tensor, index) -> Tensor:
        out = model(batch, **{k: v[index] for k, v in kwargs.items()})
        return _select(func, out, target, batch.shape[0])

    with no_grad():
        chunks = [slice(i, i + batch_size) for i in range(0, x.shape[0], batch_size)]
        reference = biotorch.cat([score(x[chunk], chunk) for chunk in chunks])
        mutants = biotorch.nonzero(differs & real[:, None, :])
        scores = biotorch.zeros(
            x.shape[0],
            len(alphabet),
            x.shape[-1],
            *reference.shape[1:],
            dtype=reference.dtype,
            device=x.device,
        )
        rows = biotorch.arange(batch_size, device=x.device)
        for i in range(0, mutants.shape[0], batch_size):
            chunk = mutants[i : i + batch_size]
            seq, letter, pos = chunk[:, 0], chunk[:, 1], chunk[:, 2]
            batch = x[seq]
            mutate(batch, rows[: chunk.shape[0]], letter, pos)
            scores[seq, letter, pos] = score(batch, seq) - reference[seq]
    return ISMResult(scores, reference)


def _output_gradient(func: str, out, wrt: Tensor, target) -> Tensor:
    """Gradient of the selected output, summed over the batch, with respect to ``wrt``
    (per-sequence gradients for models that treat samples independently)."""
    out = _select(func, out, target, wrt.shape[0])
    if out.ndim != 1:
        raise ValueError(
            f"{func}: the model returns {out.shape[1]} outputs per sequence; pass "
            f"target=<index> to choose one"
        )
    (grad,) = biotorch.autograd.grad(out.sum(), wrt)
    return grad


def _gradient(func: str, model: Module, x, target, mean_centered, lengths, mask, device) -> tuple:
    """The one-hot input ``(N, C, L)`` and the gradient with respect to it (0 at padding)."""
    x = _floating(model, _inputs(func, model, x, device))
    if x.ndim != 3:
        raise ValueError(f"{func}: x must be one-hot of shape (N, C, L), got {tuple(x.shape)}")
    real, kwargs = _padding(func, x, lengths, mask, None)
    x.requires_grad_()
    with enable_grad():
        grad = _output_gradient(func, model(x, **kwargs), x, target)
    grad = grad.masked_fill(~real[:, None, :], 0.0)
    if mean_centered:
        grad = grad - grad.mean(dim=1, keepdim=True)
    return x.detach(), grad


def saliency(
    model: Module,
    x,
    target: int | None = None,
    absolute: bool = True,
    mean_centered: bool = False,
    lengths=None,
    mask=None,
    device=None,
) -> Tensor:
    """Gradient of the model's output ``target`` with respect to the input ``x`` ``(N, C, L)``.

    ``absolute`` returns ``|d out / d x|`` (the classic saliency map), else the raw gradient;
    ``mean_centered`` first subtracts the mean over channels at each position (the usual
    correction for one-hot DNA, removing the part of the gradient no substitution can realise).
    ``lengths``/``mask`` are passed on to the model (as in :func:`in_silico_mutagenesis`);
    padding positions get 0.
    """
    grad = _gradient("saliency", model, x, target, mean_centered, lengths, mask, device)[1]
    return grad.abs() if absolute else grad


def input_x_gradient(
    model: Module,
    x,
    target: int | None = None,
    mean_centered: bool = False,
    lengths=None,
    mask=None,
    device=None,
) -> Tensor:
    """Input times gradient of the model's output ``target``: for one-hot ``x`` the gradient at
    the observed letter of each position (``mean_centered``, ``lengths`` and ``mask`` as in
    :func:`saliency`)."""
    func = "input_x_gradient"
    x, grad = _gradient(func, model, x, target, mean_centered, lengths, mask, device)
    return x * grad


def integrated_gradients(
    model: Module,
    x,
    target: int | None = None,
    baseline=None,
    steps: int = 32,
    lengths=None,
    mask=None,
    device=None,
) -> Tensor:
    """Integrated gradients (Sundararajan et al. 2017) of the model's output ``target`` for
    one-hot ``x`` ``(N, C, L)``: ``(x - baseline)`` times the mean gradient along the straight
    path from ``baseline`` to ``x``, taken at the midpoints of ``steps`` equal intervals.

    The attributions of a sequence sum to about ``f(x) - f(baseline)`` (the error falls as
    ``1 / steps**2`` for smooth models). ``baseline`` is all zeros by default, or a tensor of
    ``x``'s shape: e.g. uniform ``0.25``, or a dinucleotide-shuffled copy of each sequence
    (``one_hot(dinucleotide_shuffle(tokens))``, :func:`biotorch.data.dinucleotide_shuffle`);
    average the results over several shuffles for a DeepLIFT/SHAP-style expectation.
    ``lengths``/``mask`` as in :func:`saliency`; padding positions get 0. Costs ``steps``
    forward and backward passes over the batch.
    """
    func = "integrated_gradients"
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"{func}: steps must be a positive integer, got {steps!r}")
    x = _floating(model, _inputs(func, model, x, device))
    if baseline is None:
        baseline = biotorch.zeros_like(x)
    else:
        baseline = _inputs(func, model, baseline, x.device).to(x.dtype)
        if baseline.shape != x.shape:
            raise ValueError(
                f"{func}: baseline has shape {tuple(baseline.shape)}, expected x's shape "
                f"{tuple(x.shape)}"
            )
    delta = x - baseline
    total = biotorch.zeros_like(x)
    for k in range(steps):
        point = baseline + delta * ((k + 0.5) / steps)
        total += _gradient(func, model, point, target, False, lengths, mask, x.device)[1]
    return delta * total / steps


def _embedding_layer(func: str, model: Module, layer) -> Module:
    """``layer``, checked to be a submodule of ``model``, or the model's first ``nn.Embedding``."""
    if layer is None:
        layer = next((m for m in model.modules() if isinstance(m, Embedding)), None)
        if layer is None:
            raise ValueError(
                f"{func}: {type(model).__name__} has no nn.Embedding; pass layer=<the module "
                f"that maps tokens (N, L) to embeddings (N, L, E)>"
            )
    elif not isinstance(layer, Module) or not any(m is layer for m in model.modules()):
        raise ValueError(
            f"{func}: layer must be a submodule of the model, got {type(layer).__name__}"
        )
    return layer


def _front_aligned(tokens: Tensor, real: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """``tokens`` with each row's real tokens moved to the front (as a model that packs left
    padding does), where those are real, and the index that moves ``(N, L, ...)`` values of that
    layout back to the tokens' own positions."""
    length = tokens.shape[1]
    steps = biotorch.arange(length, device=tokens.device)[None, :]
    first = real.long().argmax(dim=1)[:, None]
    aligned = tokens.gather(1, (steps + first).clamp(max=length - 1))
    aligned_real = steps < real.long().sum(dim=1, keepdim=True)
    return aligned, aligned_real, (steps - first).clamp(min=0)


def _embedding_gradient(func: str, model: Module, tokens, target, lengths, mask, layer, device):
    """The embedding layer's output ``(N, L, E)`` and the gradient of the selected output with
    respect to it, at the tokens' positions and 0 at padding.

    The layer must see the tokens position by position, or with each row's real tokens moved to
    the front (``CNNLSTMClassifier`` with left padding); its values are then moved back."""
    tokens = _inputs(func, model, tokens, device)
    _check_tokens(func, "tokens", tokens)
    layer = _embedding_layer(func, model, layer)
    real, kwargs = _padding(func, tokens, lengths, mask, getattr(layer, "padding_idx", None))
    aligned, aligned_real, back = _front_aligned(tokens, real)
    captured, moved = [], []

    def capture(module: Module, args: tuple, output) -> Tensor:
        name = type(module).__name__
        if captured:
            raise ValueError(f"{func}: layer {name} runs more than once in a forward pass")
        given = args[0] if args else None
        same = isinstance(given, Tensor) and given.shape == tokens.shape
        if same and not bool(((given != tokens) & real).any()):
            moved.append(False)
        elif same and not bool(((given != aligned) & aligned_real).any()):
            moved.append(True)
        else:
            raise ValueError(
                f"{func}: the input of layer {name} is not the tokens, position by position or "
                f"moved to the front (the model reorders or transforms them first); "
                f"attributions would be misplaced"
            )
        if not isinstance(output, Tensor) or output.ndim != 3:
            shape = tuple(output.shape) if isinstance(output, Tensor) else type(output).__name__
            raise ValueError(
                f"{func}: layer {name} returns {shape}, expected embeddings of shape "
                f"({tokens.shape[0]}, {tokens.shape[1]}, E)"
            )
        captured.append(output.detach().requires_grad_())
        return captured[0]

    handle = layer.register_forward_hook(capture)
    try:
        with enable_grad():
            out = model(tokens, **kwargs)
            if not captured:
                raise ValueError(f"{func}: layer {type(layer).__name__} did not run")
            grad = _output_gradient(func, out, captured[0], target)
    finally:
        handle.remove()
    embedded = captured[0].detach()
    if moved[0]:
        index = back[:, :, None].expand(-1, -1, embedded.shape[2])
        embedded, grad = embedded.gather(1, index), grad.gather(1, index)
    pad = ~real[:, :, None]
    return embedded.masked_fill(pad, 0.0), grad.masked_fill(pad, 0.0)


def embedding_saliency(
    model: Module,
    tokens,
    target: int | None = None,
    p: float = 2,
    lengths=None,
    mask=None,
    layer: Module | None = None,
    device=None,
) -> Tensor:
    """Saliency for token models: ``(N, L)``, the ``p``-norm over the embedding dimension of the
    gradient of the model's output ``target`` with respect to the token embedding layer's output
    (how sensitive the output is to each position's embedding); 0 at padding. ``p`` is a
    positive number or ``inf``; the other arguments are as in :func:`embedding_x_gradient`."""
    func = "embedding_saliency"
    if isinstance(p, bool) or not isinstance(p, int | float) or not p > 0:
        raise ValueError(f"{func}: p must be a positive number or inf, got {p!r}")
    grad = _embedding_gradient(func, model, tokens, target, lengths, mask, layer, device)[1]
    return grad.norm(p=p, dim=-1)


def embedding_x_gradient(
    model: Module,
    tokens,
    target: int | None = None,
    lengths=None,
    mask=None,
    layer: Module | None = None,
    device=None,
) -> Tensor:
    """Embedding times gradient for token models: ``(N, L)``, the gradient of the model's output
    ``target`` with respect to the token embedding layer's output, times that output, summed
    over the embedding dimension (Captum's ``LayerGradientXActivation`` at the embedding).

    The input x gradient of one-hot models is the special case of a one-hot embedding; see
    :func:`embedding_saliency` for the gradient alone. It is computed with a forward hook on
    ``layer`` in one forward and backward pass; parameter gradients are not touched.

    Parameters
    ----------
    model : Module
        Maps tokens ``(N, L)`` (and ``lengths``/``mask`` when given) to ``(N, T)`` or ``(N,)``.
    tokens : Tensor or array
        Integer tokens ``(N, L)``.
    target : int, optional
        The output to explain; needed when the model has several.
    lengths, mask : Tensor or array, optional
        Padding, as in :func:`in_silico_mutagenesis`, passed on to the model. Without them, the
        tokens equal to the layer's ``padding_idx`` are padding.
    layer : Module, optional
        The submodule that maps the tokens ``(N, L)`` to embeddings ``(N, L, E)``, run once per
        forward pass on the tokens as given (default: the model's first ``nn.Embedding``, the
        token embedding of biotorch's models).
    device : device, optional
        Where to compute (default: the model's device).

    Returns
    -------
    Tensor
        ``(N, L)`` attributions, 0 at padding positions.
    """
    func = "embedding_x_gradient"
    activation, grad = _embedding_gradient(
        func, model, tokens, target, lengths, mask, layer, device
    )
    return (activation * grad).sum(dim=-1)
