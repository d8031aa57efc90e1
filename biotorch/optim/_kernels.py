"""Fused GPU parameter updates: one CuPy elementwise kernel per parameter and step.

Each kernel reads the parameter, gradient and state once and writes them once, instead of the
6-8 passes of the ``xp`` reference path in :mod:`biotorch.optim.optimizers`. Kernels are compiled
on first use (CuPy caches them); nothing here runs on the CPU.
"""

from __future__ import annotations

import numpy as np

from biotorch import backend

__all__ = ["use_fused", "adam", "sgd"]

_cache: dict = {}


def use_fused(param) -> bool:
    """True for CuPy arrays: the fused kernels replace the reference path on GPUs."""
    return not isinstance(param, np.ndarray)


def _kernel(name: str, in_params: str, out_params: str, body: str):
    if name not in _cache:
        _cache[name] = backend.cupy().ElementwiseKernel(in_params, out_params, body, name)
    return _cache[name]


def adam(param, grad, exp_avg, exp_avg_sq, beta1, beta2, step_size, bias_correction2_sqrt, eps):
    """In-place Adam step (weight decay is applied by the caller)."""
    kernel = _kernel(
        "biotorch_adam",
        "T g, float64 beta1, float64 beta2, float64 step_size, float64 bc2_sqrt, float64 eps",
        "T p, T m, T v",
        """
        double gd = (double)g;
        double md = (double)m + (1.0 - beta1) * (gd - (double)m);
        double vd = (double)v * beta2 + (1.0 - beta2) * gd * gd;
        m = (T)md;
        v = (T)vd;
        p = (T)((double)p - step_size * md / (sqrt(vd) / bc2_sqrt + eps));
        """,
    )
    kernel(grad, beta1, beta2, step_size, bias_correction2_sqrt, eps, param, exp_avg, exp_avg_sq)


def sgd(param, grad, buf, lr, momentum, dampening, nesterov):
    """In-place SGD step with an existing momentum buffer."""
    kernel = _kernel(
        "biotorch_sgd_momentum",
        "T g, float64 lr, float64 momentum, float64 dampening, bool nesterov",
        "T p, T b",
        """
        double bd = (double)b * momentum + (1.0 - dampening) * (double)g;
        b = (T)bd;
        double d = nesterov ? (double)g + momentum * bd : bd;
        p = (T)((double)p - lr * d);
        """,
    )
    kernel(grad, lr, momentum, dampening, nesterov, param, buf)
