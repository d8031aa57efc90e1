"""Recurrent layers: ``RNN``, ``LSTM``, ``GRU`` and their one-step cells, as ``torch.nn``.

Each layer of a network is one fused op, :class:`Recurrence`: the input projection of every
time step is one GEMM per direction, the loop over time runs on arrays (one recurrent GEMM and
a few in-place ufuncs per step), and backward runs through time on arrays with the gates kept
from forward, ending in one GEMM per weight. Batches are processed in the packed layout of
:class:`~biotorch.nn.utils.rnn.PackedSequence` (time-major rows, the ``batch_sizes[t]``
longest sequences at step ``t``), so padded positions never enter the computation; a padded
batch is the special case of equal lengths.
"""

from __future__ import annotations

import math
import warnings

from biotorch.autograd.function import Function
from biotorch.backend import array_module
from biotorch.nn import functional as F
from biotorch.nn import init
from biotorch.nn.layers._common import new_parameter
from biotorch.nn.module import Module
from biotorch.nn.utils.rnn import PackedSequence
from biotorch.ops.shape import cat
from biotorch.tensor import Tensor

__all__ = ["RNNBase", "RNN", "LSTM", "GRU", "RNNCellBase", "RNNCell", "LSTMCell", "GRUCell"]

_GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}


class _Elman:
    """``h' = act(W_ih x + b_ih + W_hh h + b_hh)``, act = tanh or relu."""

    def __init__(self, relu: bool) -> None:
        self.relu = relu

    def forward(self, xp, xg, h, c, w_hh, b_hh, steps, hidden):
        out, h_prev = xg, xp.empty_like(xg)
        if b_hh is not None:
            xg += b_hh
        w_t = w_hh.T
        for s, b in steps:
            hb = h[:b]
            h_prev[s] = hb
            pre = out[s]
            pre += hb @ w_t
            if self.relu:
                xp.maximum(pre, 0, out=pre)
            else:
                xp.tanh(pre, out=pre)
            hb[...] = pre
        return out, {"h_prev": h_prev, "out": out}

    def backward(self, xp, saved, dy, dh, dc, w_hh, steps, hidden):
        out = saved["out"]
        k = (out > 0).astype(out.dtype) if self.relu else 1.0 - out * out
        dg = xp.empty_like(out)
        for s, b in reversed(steps):
            dhb = dh[:b]
            dhb += dy[s]
            xp.multiply(dhb, k[s], out=dg[s])
            xp.matmul(dg[s], w_hh, out=dhb)
        return dg, dg


class _LSTM:
    """Gates i, f, g, o; ``c' = f c + i g``, ``h' = o tanh(c')``. The sigmoid gates are
    computed as ``0.5 tanh(0.5 a) + 0.5`` with the 0.5 folded into the weights, so one tanh
    covers all four gates."""

    @staticmethod
    def _affine(xp, hidden, dtype):
        scale = xp.full((4, hidden), 0.5, dtype)
        scale[2] = 1.0
        shift = xp.full((4, hidden), 0.5, dtype)
        shift[2] = 0.0
        return scale.reshape(-1), shift.reshape(-1)

    def forward(self, xp, xg, h, c, w_hh, b_hh, steps, hidden):
        scale, shift = self._affine(xp, hidden, xg.dtype)
        if b_hh is not None:
            xg += b_hh
        xg *= scale
        w_t = (w_hh * scale[:, None]).T
        n = xg.shape[0]
        h_prev, c_prev, tanh_c = (xp.empty((n, hidden), xg.dtype) for _ in range(3))
        out = xp.empty_like(h_prev)
        gates = xg
        for s, b in steps:
            hb, cb = h[:b], c[:b]
            h_prev[s], c_prev[s] = hb, cb
            g = gates[s]
            g += hb @ w_t
            xp.tanh(g, out=g)
            g *= scale
            g += shift
            cb *= g[:, hidden : 2 * hidden]
            cb += g[:, :hidden] * g[:, 2 * hidden : 3 * hidden]
            tc = tanh_c[s]
            xp.tanh(cb, out=tc)
            xp.multiply(g[:, 3 * hidden :], tc, out=hb)
            out[s] = hb
        return out, {"h_prev": h_prev, "c_prev": c_prev, "tanh_c": tanh_c, "gates": gates}

    def backward(self, xp, saved, dy, dh, dc, w_hh, steps, hidden):
        gates, tanh_c, c_prev = saved["gates"], saved["tanh_c"], saved["c_prev"]
        n = gates.shape[0]
        a = gates.reshape(n, 4, hidden)
        i, f, g, o = a[:, 0], a[:, 1], a[:, 2], a[:, 3]
        # Per-row coefficients: d(pre-activation) = coefficient * dc (gates i, f, g) or * dh (o).
        coef = xp.empty_like(a)
        xp.multiply(g, i * (1.0 - i), out=coef[:, 0])
        xp.multiply(c_prev, f * (1.0 - f), out=coef[:, 1])
        xp.multiply(i, 1.0 - g * g, out=coef[:, 2])
        xp.multiply(tanh_c, o * (1.0 - o), out=coef[:, 3])
        dh_to_dc = o * (1.0 - tanh_c * tanh_c)
        dg = xp.empty_like(a)
        for s, b in reversed(steps):
            dhb, dcb = dh[:b], dc[:b]
            dhb += dy[s]
            dcb += dhb * dh_to_dc[s]
            xp.multiply(dcb[:, None], coef[s, :3], out=dg[s, :3])
            xp.multiply(dhb, coef[s, 3], out=dg[s, 3])
            dcb *= f[s]
            xp.matmul(dg[s].reshape(b, 4 * hidden), w_hh, out=dhb)
        dg = dg.reshape(n, 4 * hidden)
        return dg, dg


class _GRU:
    """Gates r, z, n; ``n = tanh(W_in x + b_in + r (W_hn h + b_hn))``,
    ``h' = (1 - z) n + z h``. The sigmoid gates use the folded tanh form as in :class:`_LSTM`."""

    def forward(self, xp, xg, h, c, w_hh, b_hh, steps, hidden):
        rz = slice(0, 2 * hidden)
        xg[:, rz] *= 0.5
        w_t = w_hh.T.copy()
        w_t[:, rz] *= 0.5
        if b_hh is not None:
            b_hh = b_hh.copy()
            b_hh[rz] *= 0.5
        n_rows = xg.shape[0]
        h_prev, hn = xp.empty((n_rows, hidden), xg.dtype), xp.empty((n_rows, hidden), xg.dtype)
        out = xp.empty_like(h_prev)
        gates = xg
        for s, b in steps:
            hb = h[:b]
            h_prev[s] = hb
            hp = hb @ w_t
            if b_hh is not None:
                hp += b_hh
            g = gates[s]
            grz = g[:, rz]
            grz += hp[:, rz]
            xp.tanh(grz, out=grz)
            grz *= 0.5
            grz += 0.5
            hn[s] = hp[:, 2 * hidden :]
            gn = g[:, 2 * hidden :]
            gn += g[:, :hidden] * hp[:, 2 * hidden :]
            xp.tanh(gn, out=gn)
            hb -= gn
            hb *= g[:, hidden : 2 * hidden]
            hb += gn
            out[s] = hb
        return out, {"h_prev": h_prev, "hn": hn, "gates": gates}

    def backward(self, xp, saved, dy, dh, dc, w_hh, steps, hidden):
        gates, h_prev, hn = saved["gates"], saved["h_prev"], saved["hn"]
        n_rows = gates.shape[0]
        a = gates.reshape(n_rows, 3, hidden)
        r, z, n = a[:, 0], a[:, 1], a[:, 2]
        dn_pre = (1.0 - z) * (1.0 - n * n)
        coef = xp.empty_like(a)  # dh -> gradients of the hidden-side pre-activations
        xp.multiply(dn_pre * hn, r * (1.0 - r), out=coef[:, 0])
        xp.multiply(h_prev - n, z * (1.0 - z), out=coef[:, 1])
        xp.multiply(dn_pre, r, out=coef[:, 2])
        dgh, dh_all = xp.empty_like(a), xp.empty_like(h_prev)
        for s, b in reversed(steps):
            dhb = dh[:b]
            dhb += dy[s]
            dh_all[s] = dhb
            xp.multiply(dhb[:, None], coef[s], out=dgh[s])
            back = dgh[s].reshape(b, 3 * hidden) @ w_hh
            dhb *= z[s]
            dhb += back
        dgx = dgh.copy()
        xp.multiply(dh_all, dn_pre, out=dgx[:, 2])
        return dgx.reshape(n_rows, -1), dgh.reshape(n_rows, -1)


_CELLS = {"RNN_TANH": _Elman(False), "RNN_RELU": _Elman(True), "LSTM": _LSTM(), "GRU": _GRU()}


def _steps(batch_sizes: tuple, reverse: bool) -> list:
    """``(row slice, active batch)`` of each time step, in processing order."""
    steps, start = [], 0
    for b in batch_sizes:
        steps.append((slice(start, start + b), b))
        start += b
    return steps[::-1] if reverse else steps


class Recurrence(Function):
    """One layer of an RNN/LSTM/GRU, all directions, over a packed batch.

    Arguments: ``x`` ``(N, input_size)`` packed rows, ``h0`` and ``c0`` ``(D, B, H)`` or None,
    then ``w_ih, w_hh, b_ih, b_hh`` per direction (biases may be None). Returns the output
    ``(N, D * H)``, ``h_n`` ``(D, B, H)`` and, for LSTM, ``c_n``.
    """

    @staticmethod
    def forward(ctx, x, h0, c0, *weights, mode, batch_sizes, hidden_size):
        xp = array_module(x)
        cell, lstm = _CELLS[mode], mode == "LSTM"
        directions = len(weights) // 4
        batch = batch_sizes[0]
        outs, h_n, c_n, saved = [], [], [], []
        for d in range(directions):
            w_ih, w_hh, b_ih, b_hh = weights[4 * d : 4 * d + 4]
            xg = x @ w_ih.T
            if b_ih is not None:
                xg += b_ih
            shape = (batch, hidden_size)
            h = xp.zeros(shape, x.dtype) if h0 is None else h0[d].copy()
            c = None
            if lstm:
                c = xp.zeros(shape, x.dtype) if c0 is None else c0[d].copy()
            steps = _steps(batch_sizes, reverse=d == 1)
            out, state = cell.forward(xp, xg, h, c, w_hh, b_hh, steps, hidden_size)
            outs.append(out)
            h_n.append(h)
            c_n.append(c)
            saved.append(state)
        ctx.mode, ctx.batch_sizes, ctx.hidden = mode, batch_sizes, hidden_size
        ctx.states = saved
        ctx.save_for_backward(x, *weights)
        y = outs[0] if directions == 1 else xp.concatenate(outs, axis=1)
        return (y, xp.stack(h_n), xp.stack(c_n)) if lstm else (y, xp.stack(h_n))

    @staticmethod
    def backward(ctx, dy, dh_n, dc_n=None):
        x, *weights = ctx.saved_tensors
        xp = array_module(x)
        cell, hidden = _CELLS[ctx.mode], ctx.hidden
        needs = ctx.needs_input_grad
        directions = len(weights) // 4
        dx = xp.zeros_like(x) if needs[0] else None
        dh0, dc0, dweights = [], [], []
        for d in range(directions):
            w_ih, w_hh, b_ih, b_hh = weights[4 * d : 4 * d + 4]
            need_w = needs[3 + 4 * d : 7 + 4 * d]
            dh = dh_n[d].copy()
            dc = None if dc_n is None else dc_n[d].copy()
            state = ctx.states[d]
            steps = _steps(ctx.batch_sizes, reverse=d == 1)
            dy_d = dy[:, d * hidden : (d + 1) * hidden]
            dgx, dgh = cell.backward(xp, state, dy_d, dh, dc, w_hh, steps, hidden)
            if dx is not None:
                dx += dgx @ w_ih
            dweights += [
                dgx.T @ x if need_w[0] else None,
                dgh.T @ state["h_prev"] if need_w[1] else None,
                dgx.sum(axis=0) if need_w[2] and b_ih is not None else None,
                dgh.sum(axis=0) if need_w[3] and b_hh is not None else None,
            ]
            dh0.append(dh)
            dc0.append(dc)
        grad_h0 = xp.stack(dh0) if needs[1] else None
        grad_c0 = xp.stack(dc0) if needs[2] and dc_n is not None else None
        return (dx, grad_h0, grad_c0, *dweights)


def _check_input(name: str, x: Tensor, input_size: int, weight: Tensor) -> None:
    if x.shape[-1] != input_size:
        raise RuntimeError(
            f"{name}: input.size(-1) must be equal to input_size. Expected {input_size}, "
            f"got {x.shape[-1]}"
        )
    _check_dtype(name, x, weight)


def _check_dtype(name: str, x: Tensor, weight: Tensor) -> None:
    if x.dtype != weight.dtype:
        raise RuntimeError(
            f"{name}: input dtype {x.dtype} does not match the weights' dtype {weight.dtype}"
        )


def _check_hidden(name: str, arg: str, h: Tensor, expected: tuple) -> None:
    if tuple(h.shape) != expected:
        raise RuntimeError(f"{name}: Expected {arg} size {expected}, got {list(h.shape)}")


def _repr(module: Module, defaults: dict) -> str:
    """``input_size, hidden_size`` and the arguments that differ from their defaults."""
    text = f"{module.input_size}, {module.hidden_size}"
    for key, default in defaults.items():
        value = getattr(module, key, default)
        if value != default:
            text += f", {key}={value}"
    return text


class RNNBase(Module):
    """Shared machinery of :class:`RNN`, :class:`LSTM` and :class:`GRU` (PyTorch's
    ``RNNBase``): parameters ``weight_ih_l{k}[_reverse]``, ``weight_hh_l{k}[_reverse]``,
    ``bias_ih_l{k}[_reverse]``, ``bias_hh_l{k}[_reverse]``, all uniform in
    ``±1 / sqrt(hidden_size)``."""

    def __init__(
        self,
        mode: str,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        proj_size: int = 0,
        device=None,
        dtype=None,
    ) -> None:
        super().__init__()
        name = type(self).__name__
        if not (isinstance(dropout, int | float) and 0 <= dropout <= 1) or isinstance(
            dropout, bool
        ):
            raise ValueError(
                f"{name}: dropout should be a number in range [0, 1] representing the "
                f"probability of an element being zeroed, got {dropout!r}"
            )
        if dropout > 0 and num_layers == 1:
            warnings.warn(
                f"{name}: dropout option adds dropout after all but last recurrent layer, so "
                f"non-zero dropout expects num_layers greater than 1, but got "
                f"dropout={dropout} and num_layers={num_layers}",
                stacklevel=2,
            )
        for arg, value in (("hidden_size", hidden_size), ("num_layers", num_layers)):
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ValueError(
                    f"{name}: {arg} must be an integer greater than zero, got {value!r}"
                )
        if proj_size:
            raise NotImplementedError(f"{name}: proj_size > 0 is not supported (got {proj_size})")
        self.mode, self.input_size, self.hidden_size = mode, input_size, hidden_size
        self.num_layers, self.bias, self.batch_first = num_layers, bias, batch_first
        self.dropout, self.bidirectional, self.proj_size = float(dropout), bidirectional, proj_size
        gates = _GATES[mode] * hidden_size
        directions = 2 if bidirectional else 1
        self._flat_weights_names = []
        for layer in range(num_layers):
            layer_input = input_size if layer == 0 else hidden_size * directions
            for suffix in ("", "_reverse")[:directions]:
                shapes = {"weight_ih": (gates, layer_input), "weight_hh": (gates, hidden_size)}
                if bias:
                    shapes.update(bias_ih=(gates,), bias_hh=(gates,))
                for kind, shape in shapes.items():
                    key = f"{kind}_l{layer}{suffix}"
                    setattr(self, key, new_parameter(shape, device, dtype))
                    self._flat_weights_names.append(key)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        bound = 1.0 / math.sqrt(self.hidden_size)
        for weight in self.parameters():
            init.uniform_(weight, -bound, bound)

    def flatten_parameters(self) -> None:
        """A no-op kept for PyTorch code that calls it (cuDNN weight packing does not apply)."""

    def _layer_weights(self, layer: int) -> list:
        """``w_ih, w_hh, b_ih, b_hh`` of each direction of ``layer`` (biases may be None)."""
        weights = []
        for suffix in ("", "_reverse")[: 2 if self.bidirectional else 1]:
            for kind in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                weights.append(getattr(self, f"{kind}_l{layer}{suffix}", None))
        return weights

    def _check_states(self, hx, batch: int, unbatched: bool) -> tuple:
        """``(h0, c0)`` as ``(L * D, B, H)`` tensors or None, after shape checks."""
        name = type(self).__name__
        states = hx if isinstance(hx, tuple | list) else (hx, None)
        if self.mode == "LSTM" and hx is not None and not isinstance(hx, tuple | list):
            raise TypeError(f"{name}: hx must be a tuple (h_0, c_0), got {type(hx).__name__}")
        layers = self.num_layers * (2 if self.bidirectional else 1)
        expected = (layers, self.hidden_size) if unbatched else (layers, batch, self.hidden_size)
        out = []
        for arg, state in zip(("hidden", "cell"), states, strict=True):
            if state is None:
                out.append(None)
                continue
            _check_hidden(name, arg, state, expected)
            out.append(state.unsqueeze(1) if unbatched else state)
        return tuple(out)

    def forward(self, input, hx=None):
        name = type(self).__name__
        packed = isinstance(input, PackedSequence)
        unbatched = False
        if packed:
            x = input.data
            batch_sizes = tuple(int(b) for b in input.batch_sizes.tolist())
            batch = batch_sizes[0]
        else:
            if input.ndim not in (2, 3):
                raise ValueError(
                    f"{name}: Expected input to be 2D or 3D, got {input.ndim}D tensor instead"
                )
            unbatched = input.ndim == 2
            x = input.unsqueeze(0 if self.batch_first else 1) if unbatched else input
            if self.batch_first:
                x = x.transpose(0, 1)
            steps, batch = x.shape[:2]
            x = x.reshape(steps * batch, x.shape[2])
            batch_sizes = (batch,) * steps
        _check_input(name, x, self.input_size, self.weight_ih_l0)
        h0, c0 = self._check_states(hx, batch, unbatched)
        if packed and input.sorted_indices is not None:
            h0, c0 = (s if s is None else s.index_select(1, input.sorted_indices) for s in (h0, c0))
        directions = 2 if self.bidirectional else 1
        h_n, c_n = [], []
        for layer in range(self.num_layers):
            rows = slice(layer * directions, (layer + 1) * directions)
            result = Recurrence.apply(
                x,
                None if h0 is None else h0[rows],
                None if c0 is None else c0[rows],
                *self._layer_weights(layer),
                mode=self.mode,
                batch_sizes=batch_sizes,
                hidden_size=self.hidden_size,
            )
            x = result[0]
            h_n.append(result[1])
            if self.mode == "LSTM":
                c_n.append(result[2])
            if self.dropout and self.training and layer < self.num_layers - 1:
                x = F.dropout(x, self.dropout, True)
        states = [cat(s) if len(s) > 1 else s[0] for s in (h_n, c_n) if s]
        if packed:
            if input.unsorted_indices is not None:
                states = [s.index_select(1, input.unsorted_indices) for s in states]
            output = PackedSequence(
                x, input.batch_sizes, input.sorted_indices, input.unsorted_indices
            )
        else:
            output = x.reshape(len(batch_sizes), batch, x.shape[1])
            if self.batch_first:
                output = output.transpose(0, 1)
            if unbatched:
                output = output.squeeze(0 if self.batch_first else 1)
                states = [s.squeeze(1) for s in states]
        return output, (tuple(states) if self.mode == "LSTM" else states[0])

    def extra_repr(self) -> str:
        defaults = {
            "num_layers": 1,
            "bias": True,
            "batch_first": False,
            "dropout": 0.0,
            "bidirectional": False,
        }
        return _repr(self, defaults)


class RNN(RNNBase):
    """Elman RNN: ``h_t = tanh(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh)`` (``relu`` with
    ``nonlinearity="relu"``). Returns ``(output, h_n)``; accepts a ``PackedSequence``."""

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        nonlinearity: str = "tanh",
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        device=None,
        dtype=None,
    ) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(
                f"RNN: Unknown nonlinearity '{nonlinearity}'. Select from 'tanh' or 'relu'."
            )
        super().__init__(
            "RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU",
            input_size,
            hidden_size,
            num_layers,
            bias,
            batch_first,
            dropout,
            bidirectional,
            0,
            device,
            dtype,
        )
        self.nonlinearity = nonlinearity


class LSTM(RNNBase):
    """Long short-term memory (gates i, f, g, o, in that order in the weights). Returns
    ``(output, (h_n, c_n))``; accepts a ``PackedSequence``."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__("LSTM", *args, **kwargs)


class GRU(RNNBase):
    """Gated recurrent unit (gates r, z, n, in that order in the weights). Returns
    ``(output, h_n)``; accepts a ``PackedSequence``."""

    def __init__(self, *args, **kwargs) -> None:
        if kwargs.get("proj_size"):
            raise ValueError("GRU: proj_size argument is only supported for LSTM, not RNN or GRU")
        super().__init__("GRU", *args, **kwargs)


class RNNCellBase(Module):
    """One time step of a recurrent layer; parameters ``weight_ih``, ``weight_hh``,
    ``bias_ih``, ``bias_hh`` uniform in ``±1 / sqrt(hidden_size)``."""

    def __init__(
        self, mode: str, input_size: int, hidden_size: int, bias: bool, device=None, dtype=None
    ) -> None:
        super().__init__()
        self.mode, self.input_size, self.hidden_size, self.bias = (
            mode,
            input_size,
            hidden_size,
            bias,
        )
        gates = _GATES[mode] * hidden_size
        self.weight_ih = new_parameter((gates, input_size), device, dtype)
        self.weight_hh = new_parameter((gates, hidden_size), device, dtype)
        for key in ("bias_ih", "bias_hh"):
            self.register_parameter(key, new_parameter((gates,), device, dtype) if bias else None)
        self.reset_parameters()

    reset_parameters = RNNBase.reset_parameters

    def forward(self, input: Tensor, hx=None):
        name = type(self).__name__
        if input.ndim not in (1, 2):
            raise ValueError(f"{name}: Expected input to be 1D or 2D, got {input.ndim}D instead")
        if input.shape[-1] != self.input_size:
            raise RuntimeError(
                f"{name}: input has inconsistent input_size: got {input.shape[-1]}, expected "
                f"{self.input_size}"
            )
        _check_dtype(name, input, self.weight_ih)
        unbatched = input.ndim == 1
        x = input.unsqueeze(0) if unbatched else input
        batch = x.shape[0]
        states = hx if isinstance(hx, tuple | list) else (hx, None)
        expected = (self.hidden_size,) if unbatched else (batch, self.hidden_size)
        prepared = []
        for arg, state in zip(("hidden", "cell"), states, strict=True):
            if state is not None:
                _check_hidden(name, arg, state, expected)
                state = state.reshape(1, batch, self.hidden_size)
            prepared.append(state)
        weights = (self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)
        result = Recurrence.apply(
            x,
            *prepared,
            *weights,
            mode=self.mode,
            batch_sizes=(batch,),
            hidden_size=self.hidden_size,
        )
        h = result[0]
        if unbatched:
            h = h.squeeze(0)
        if self.mode != "LSTM":
            return h
        c = result[2].reshape(*h.shape)
        return h, c

    def extra_repr(self) -> str:
        return _repr(self, {"bias": True, "nonlinearity": "tanh"})


class RNNCell(RNNCellBase):
    """One Elman step: ``h' = tanh(W_ih x + b_ih + W_hh h + b_hh)`` (or relu)."""

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        nonlinearity: str = "tanh",
        device=None,
        dtype=None,
    ) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNNCell: Unknown nonlinearity: {nonlinearity}")
        mode = "RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU"
        super().__init__(mode, input_size, hidden_size, bias, device, dtype)
        self.nonlinearity = nonlinearity


class LSTMCell(RNNCellBase):
    """One LSTM step; ``forward(input, (h, c))`` returns ``(h', c')``."""

    def __init__(
        self, input_size: int, hidden_size: int, bias: bool = True, device=None, dtype=None
    ) -> None:
        super().__init__("LSTM", input_size, hidden_size, bias, device, dtype)


class GRUCell(RNNCellBase):
    """One GRU step; ``forward(input, h)`` returns ``h'``."""

    def __init__(
        self, input_size: int, hidden_size: int, bias: bool = True, device=None, dtype=None
    ) -> None:
        super().__init__("GRU", input_size, hidden_size, bias, device, dtype)
