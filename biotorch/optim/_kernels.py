"""Fused GPU parameter updates: one CuPy elementwise kernel per parameter and step.

Each kernel reads the parameter, gradient and state once and writes them once (weight decay
included), instead of the many passes of the ``xp`` reference path in
:mod:`biotorch.optim.optimizers`; gpu tests compare the two. Variants (AMSGrad, centred
RMSprop, momentum) are generated from one template each and compiled on first use (CuPy caches
the binaries). Nothing here runs on the CPU.
"""

from __future__ import annotations

import numpy as np

from biotorch import backend

__all__ = ["use_fused", "sgd", "adam", "rmsprop", "adagrad"]

_cache: dict = {}


def use_fused(param) -> bool:
    """True for CuPy arrays: the fused kernels replace the reference path on GPUs."""
    return not isinstance(param, np.ndarray)


def _kernel(name: str, scalars: str, outputs: list, body: str):
    """An elementwise kernel over ``T g`` and the scalar ``float64``s, updating ``outputs``."""
    if name not in _cache:
        in_params = ", ".join(["T g"] + [f"float64 {s}" for s in scalars.split()])
        out_params = ", ".join(f"T {o}" for o in outputs)
        _cache[name] = backend.cupy().ElementwiseKernel(in_params, out_params, body, name)
    return _cache[name]


def sgd(param, grad, buf, *, lr, momentum, dampening, nesterov, weight_decay, first) -> None:
    """In-place SGD step; ``buf`` is None without momentum; ``first`` starts the buffer."""
    if buf is None:
        body = "p = (T)((double)p - lr * ((double)g + wd * (double)p));"
        _kernel("biotorch_sgd", "lr wd", ["p"], body)(grad, lr, weight_decay, param)
        return
    body = """
    double d = (double)g + wd * (double)p;
    double bd = first != 0.0 ? d : (double)b * momentum + (1.0 - dampening) * d;
    b = (T)bd;
    p = (T)((double)p - lr * (nesterov != 0.0 ? d + momentum * bd : bd));
    """
    kernel = _kernel(
        "biotorch_sgd_momentum", "lr wd momentum dampening nesterov first", ["p", "b"], body
    )
    kernel(grad, lr, weight_decay, momentum, dampening, float(nesterov), float(first), param, buf)


def adam(param, grad, m, v, vmax, *, lr, beta1, beta2, step_size, bc2_sqrt, eps, wd, decoupled):
    """In-place Adam/AdamW step; ``vmax`` is the AMSGrad state or None."""
    amsgrad = vmax is not None
    body = f"""
    double pd = (double)p, gd = (double)g;
    if (decoupled != 0.0) pd *= 1.0 - lr * wd; else gd += wd * pd;
    double md = (double)m + (1.0 - beta1) * (gd - (double)m);
    double vd = (double)v * beta2 + (1.0 - beta2) * gd * gd;
    m = (T)md;
    v = (T)vd;
    {"double second = fmax((double)vmax, vd); vmax = (T)second;" if amsgrad else ""}
    {"" if amsgrad else "double second = vd;"}
    p = (T)(pd - step_size * md / (sqrt(second) / bc2_sqrt + eps));
    """
    outputs = ["p", "m", "v"] + (["vmax"] if amsgrad else [])
    scalars = "lr beta1 beta2 step_size bc2_sqrt eps wd decoupled"
    kernel = _kernel(f"biotorch_adam_{int(amsgrad)}", scalars, outputs, body)
    args = (grad, lr, beta1, beta2, step_size, bc2_sqrt, eps, wd, float(decoupled), param, m, v)
    kernel(*args, *([vmax] if amsgrad else []))


def rmsprop(param, grad, square_avg, grad_avg, buf, *, lr, alpha, eps, wd, momentum) -> None:
    """In-place RMSprop step; ``grad_avg`` (centred) and ``buf`` (momentum) may be None."""
    centered, has_momentum = grad_avg is not None, buf is not None
    body = f"""
    double gd = (double)g + wd * (double)p;
    double sq = alpha * (double)s + (1.0 - alpha) * gd * gd;
    s = (T)sq;
    double avg;
    {
        '''double gad = (double)a + (1.0 - alpha) * (gd - (double)a);
    a = (T)gad;
    avg = sqrt(sq - gad * gad) + eps;'''
        if centered
        else "avg = sqrt(sq) + eps;"
    }
    {
        '''double bd = momentum * (double)b + gd / avg;
    b = (T)bd;
    p = (T)((double)p - lr * bd);'''
        if has_momentum
        else "p = (T)((double)p - lr * gd / avg);"
    }
    """
    outputs = ["p", "s"] + (["a"] if centered else []) + (["b"] if has_momentum else [])
    name = f"biotorch_rmsprop_{int(centered)}{int(has_momentum)}"
    kernel = _kernel(name, "lr alpha eps wd momentum", outputs, body)
    state = [a for a in (grad_avg, buf) if a is not None]
    kernel(grad, lr, alpha, eps, wd, momentum, param, square_avg, *state)


def adagrad(param, grad, state_sum, *, clr, eps, wd) -> None:
    """In-place Adagrad step with the decayed learning rate ``clr``."""
    body = """
    double gd = (double)g + wd * (double)p;
    double sd = (double)s + gd * gd;
    s = (T)sd;
    p = (T)((double)p - clr * gd / (sqrt(sd) + eps));
    """
    _kernel("biotorch_adagrad", "clr eps wd", ["p", "s"], body)(
        grad, clr, eps, wd, param, state_sum
    )
