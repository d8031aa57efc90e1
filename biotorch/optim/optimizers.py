"""SGD, Adam, AdamW, RMSprop and Adagrad with PyTorch's update rules and defaults.

Updates work in place with ``xp`` ufuncs. On the CPU, SGD and Adam/AdamW walk large
parameters in cache-sized blocks, spread over the cores, so the dozen ufunc passes of an
update touch main memory about once per array (as a fused kernel would) and need only
block-sized scratch. On a GPU every optimizer runs one fused CuPy elementwise kernel per
parameter (:mod:`biotorch.optim._kernels`), checked against the ``xp`` path by gpu tests.
"""

from __future__ import annotations

import math
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from biotorch.backend import array_module
from biotorch.optim import _kernels
from biotorch.optim.optimizer import Optimizer

__all__ = ["SGD", "Adam", "AdamW", "RMSprop", "Adagrad"]


def _check(name: str, value: float, low: float = 0.0) -> None:
    if not value >= low:
        raise ValueError(f"Invalid {name}: {value} (expected >= {low})")


def _check_betas(betas) -> None:
    for i, beta in enumerate(betas):
        if not 0.0 <= beta < 1.0:
            raise ValueError(f"Invalid beta parameter at index {i}: {beta} (expected in [0, 1))")


_BLOCK = 131072  # elements per block: the arrays of one block stay in a core's L2 cache
_pool: list = []


def _each_block(update, *arrays) -> None:
    """Call ``update`` on matching flat blocks of same-shaped arrays (on the arrays whole if
    they are not contiguous NumPy arrays). Large arrays' blocks go to a thread pool, one thread
    per core: NumPy releases the GIL inside ufuncs, and the blocks are disjoint."""
    if not all(isinstance(a, np.ndarray) and a.flags.c_contiguous for a in arrays):
        update(*arrays)
        return
    flat = [a.reshape(-1) for a in arrays]
    blocks = [tuple(f[i : i + _BLOCK] for f in flat) for i in range(0, flat[0].size, _BLOCK)]
    if len(blocks) < 4:
        for block in blocks:
            update(*block)
        return
    if not _pool:
        _pool.append(ThreadPoolExecutor(max_workers=os.cpu_count() or 1))
    for future in [_pool[0].submit(update, *block) for block in blocks]:
        future.result()


def _decayed(grad, param, weight_decay: float):
    """``grad + weight_decay * param`` (L2 penalty), a new array only when needed."""
    return grad + weight_decay * param if weight_decay else grad


class SGD(Optimizer):
    """Stochastic gradient descent with momentum, dampening, Nesterov and weight decay."""

    def __init__(
        self,
        params,
        lr: float = 1e-3,
        momentum: float = 0.0,
        dampening: float = 0.0,
        weight_decay: float = 0.0,
        nesterov: bool = False,
        *,
        maximize: bool = False,
    ) -> None:
        _check("learning rate", lr)
        _check("momentum value", momentum)
        _check("weight_decay value", weight_decay)
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("SGD: Nesterov momentum requires a momentum and zero dampening")
        defaults = dict(
            lr=lr,
            momentum=momentum,
            dampening=dampening,
            weight_decay=weight_decay,
            nesterov=nesterov,
            maximize=maximize,
        )
        super().__init__(params, defaults)

    def _update(self, group, param, grad, state) -> None:
        lr, momentum, wd = group["lr"], group["momentum"], group["weight_decay"]
        buf = state.get("momentum_buffer")
        first = momentum != 0 and buf is None
        if first:
            state["momentum_buffer"] = buf = array_module(param).zeros_like(param)
        if _kernels.use_fused(param):
            _kernels.sgd(
                param,
                grad,
                buf,
                lr=lr,
                momentum=momentum,
                dampening=group["dampening"],
                nesterov=group["nesterov"],
                weight_decay=wd,
                first=first,
            )
            return
        dampening, nesterov = group["dampening"], group["nesterov"]

        def update(p, g, b=None):
            g = _decayed(g, p, wd)
            if b is not None:
                if first:
                    b[...] = g
                else:
                    b *= momentum
                    b += (1 - dampening) * g
                g = g + momentum * b if nesterov else b
            p -= lr * g

        _each_block(update, param, grad, *((buf,) if momentum else ()))


class Adam(Optimizer):
    """Adam (Kingma & Ba) with optional AMSGrad and L2 weight decay added to the gradient."""

    _decoupled = False

    def __init__(
        self,
        params,
        lr: float = 1e-3,
        betas: tuple = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
    ) -> None:
        _check("learning rate", lr)
        _check("epsilon value", eps)
        _check("weight_decay value", weight_decay)
        _check_betas(betas)
        defaults = dict(
            lr=lr,
            betas=tuple(betas),
            eps=eps,
            weight_decay=weight_decay,
            amsgrad=amsgrad,
            maximize=maximize,
        )
        super().__init__(params, defaults)

    def _update(self, group, param, grad, state) -> None:
        xp = array_module(param)
        lr, (beta1, beta2), eps = group["lr"], group["betas"], group["eps"]
        weight_decay, amsgrad = group["weight_decay"], group["amsgrad"]
        if not state:
            state["step"] = 0
            state["exp_avg"] = xp.zeros_like(param)
            state["exp_avg_sq"] = xp.zeros_like(param)
            if amsgrad:
                state["max_exp_avg_sq"] = xp.zeros_like(param)
        state["step"] += 1
        step = state["step"]
        exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
        step_size = lr / (1 - beta1**step)
        bias_correction2_sqrt = math.sqrt(1 - beta2**step)
        if _kernels.use_fused(param):
            _kernels.adam(
                param,
                grad,
                exp_avg,
                exp_avg_sq,
                state.get("max_exp_avg_sq"),
                lr=lr,
                beta1=beta1,
                beta2=beta2,
                step_size=step_size,
                bc2_sqrt=bias_correction2_sqrt,
                eps=eps,
                wd=weight_decay,
                decoupled=self._decoupled,
            )
            return
        decoupled = self._decoupled

        def update(p, g, m, v, vmax=None):
            if decoupled:
                p *= 1 - lr * weight_decay
            else:
                g = _decayed(g, p, weight_decay)
            scratch = xp.multiply(g, 1 - beta1)
            m *= beta1
            m += scratch
            xp.multiply(g, g, out=scratch)
            scratch *= 1 - beta2
            v *= beta2
            v += scratch
            if vmax is not None:
                xp.maximum(vmax, v, out=vmax)
            # step_size * m / (sqrt(v) / bc2 + eps), with the bias correction folded in
            xp.sqrt(v if vmax is None else vmax, out=scratch)
            scratch += eps * bias_correction2_sqrt
            xp.divide(m, scratch, out=scratch)
            scratch *= step_size * bias_correction2_sqrt
            p -= scratch

        amsgrad_state = (state["max_exp_avg_sq"],) if amsgrad else ()
        _each_block(update, param, grad, exp_avg, exp_avg_sq, *amsgrad_state)


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter); default weight_decay 0.01."""

    _decoupled = True

    def __init__(
        self,
        params,
        lr: float = 1e-3,
        betas: tuple = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
    ) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize=maximize)


class RMSprop(Optimizer):
    """RMSprop with optional momentum and centering."""

    def __init__(
        self,
        params,
        lr: float = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        momentum: float = 0.0,
        centered: bool = False,
        *,
        maximize: bool = False,
    ) -> None:
        for name, value in (
            ("learning rate", lr),
            ("epsilon value", eps),
            ("alpha", alpha),
            ("momentum value", momentum),
            ("weight_decay value", weight_decay),
        ):
            _check(name, value)
        defaults = dict(
            lr=lr,
            alpha=alpha,
            eps=eps,
            weight_decay=weight_decay,
            momentum=momentum,
            centered=centered,
            maximize=maximize,
        )
        super().__init__(params, defaults)

    def _update(self, group, param, grad, state) -> None:
        xp = array_module(param)
        alpha, eps, momentum = group["alpha"], group["eps"], group["momentum"]
        if not state:
            state["step"] = 0
            state["square_avg"] = xp.zeros_like(param)
            if momentum > 0:
                state["momentum_buffer"] = xp.zeros_like(param)
            if group["centered"]:
                state["grad_avg"] = xp.zeros_like(param)
        state["step"] += 1
        if _kernels.use_fused(param):
            _kernels.rmsprop(
                param,
                grad,
                state["square_avg"],
                state.get("grad_avg"),
                state.get("momentum_buffer"),
                lr=group["lr"],
                alpha=alpha,
                eps=eps,
                wd=group["weight_decay"],
                momentum=momentum,
            )
            return
        grad = _decayed(grad, param, group["weight_decay"])
        square_avg = state["square_avg"]
        square_avg *= alpha
        square_avg += (1 - alpha) * grad * grad
        if group["centered"]:
            grad_avg = state["grad_avg"]
            grad_avg += (1 - alpha) * (grad - grad_avg)
            avg = xp.sqrt(square_avg - grad_avg * grad_avg) + eps
        else:
            avg = xp.sqrt(square_avg) + eps
        if momentum > 0:
            buf = state["momentum_buffer"]
            buf *= momentum
            buf += grad / avg
            param -= group["lr"] * buf
        else:
            param -= group["lr"] * (grad / avg)


class Adagrad(Optimizer):
    """Adagrad with learning-rate decay and an initial accumulator value."""

    def __init__(
        self,
        params,
        lr: float = 1e-2,
        lr_decay: float = 0.0,
        weight_decay: float = 0.0,
        initial_accumulator_value: float = 0.0,
        eps: float = 1e-10,
        *,
        maximize: bool = False,
    ) -> None:
        for name, value in (
            ("learning rate", lr),
            ("lr_decay", lr_decay),
            ("weight_decay value", weight_decay),
            ("initial_accumulator_value", initial_accumulator_value),
            ("epsilon value", eps),
        ):
            _check(name, value)
        defaults = dict(
            lr=lr,
            lr_decay=lr_decay,
            weight_decay=weight_decay,
            initial_accumulator_value=initial_accumulator_value,
            eps=eps,
            maximize=maximize,
        )
        super().__init__(params, defaults)

    def _update(self, group, param, grad, state) -> None:
        xp = array_module(param)
        if not state:
            state["step"] = 0
            state["sum"] = xp.full_like(param, group["initial_accumulator_value"])
        state["step"] += 1
        clr = group["lr"] / (1 + (state["step"] - 1) * group["lr_decay"])
        if _kernels.use_fused(param):
            _kernels.adagrad(
                param, grad, state["sum"], clr=clr, eps=group["eps"], wd=group["weight_decay"]
            )
            return
        grad = _decayed(grad, param, group["weight_decay"])
        state["sum"] += grad * grad
        param -= clr * grad / (xp.sqrt(state["sum"]) + group["eps"])
