"""Finite-difference gradient checking (use float64 inputs)."""

from __future__ import annotations

import numpy as np

import biotorch.tensor as _tensor_module
from biotorch.autograd.engine import grad as _grad
from biotorch.autograd.grad_mode import no_grad

__all__ = ["gradcheck"]


def _outputs(fn, inputs) -> list:
    out = fn(*inputs)
    return list(out) if isinstance(out, list | tuple) else [out]


def gradcheck(
    fn,
    inputs,
    *,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    raise_exception: bool = True,
) -> bool:
    """Compare backward's Jacobian of ``fn`` with central finite differences.

    ``inputs`` is a tensor or tuple; tensors with ``requires_grad`` are checked. Every floating
    output is checked, row by row of the Jacobian. Returns True, or raises (or returns False
    with ``raise_exception=False``) with the first mismatching input, output and element.
    """
    Tensor = _tensor_module.Tensor
    inputs = tuple(inputs) if isinstance(inputs, list | tuple) else (inputs,)
    wrt = [i for i, t in enumerate(inputs) if isinstance(t, Tensor) and t.requires_grad]
    if not wrt:
        raise ValueError("gradcheck: no input requires grad")
    for i in wrt:
        if inputs[i].dtype.name != "float64":
            raise ValueError(f"gradcheck: input {i} is {inputs[i].dtype}; use float64 inputs")
    outputs = [o for o in _outputs(fn, inputs) if o.requires_grad]
    for k, out in enumerate(outputs):
        analytic = _analytic_jacobian(out, [inputs[i] for i in wrt], Tensor)
        numeric = _numeric_jacobian(fn, inputs, wrt, k, eps)
        for (i, a), n in zip(zip(wrt, analytic, strict=True), numeric, strict=True):
            if not np.allclose(a, n, atol=atol, rtol=rtol):
                bad = np.unravel_index(np.argmax(np.abs(a - n) - rtol * np.abs(n)), a.shape)
                message = (
                    f"gradcheck: Jacobian mismatch for output {k} with respect to input {i} at "
                    f"(output element, input element) {bad}: backward gave {a[bad]:.6g}, "
                    f"finite differences {n[bad]:.6g}"
                )
                if raise_exception:
                    raise AssertionError(message)
                return False
    return True


def _analytic_jacobian(out, wrt, Tensor) -> list:
    """One backward pass per output element; rows of d out / d input."""
    flat_size = max(out.numel(), 1)
    jac = [np.zeros((flat_size, t.numel())) for t in wrt]
    xp_ones = np.zeros(out.shape)
    for row in range(out.numel()):
        seed = xp_ones.copy().reshape(-1)
        seed[row] = 1.0
        seed = Tensor(seed.reshape(out.shape).astype(out._data.dtype))
        seed = seed.to(out.device)
        grads = _grad(out, wrt, grad_outputs=seed, retain_graph=True, allow_unused=True)
        for j, g in enumerate(grads):
            if g is not None:
                jac[j][row] = g.cpu().numpy().reshape(-1)
    return jac


def _numeric_jacobian(fn, inputs, wrt, k, eps) -> list:
    """Central differences, one input element at a time."""
    Tensor = _tensor_module.Tensor
    jacobians = []
    with no_grad():
        for i in wrt:
            data = inputs[i]._data
            cols = []
            flat = data.reshape(-1)
            for e in range(flat.size):
                original = flat[e].item()
                flat[e] = original + eps
                plus = _pick_output(_outputs(fn, inputs), k, Tensor)
                flat[e] = original - eps
                minus = _pick_output(_outputs(fn, inputs), k, Tensor)
                flat[e] = original
                cols.append(((plus - minus) / (2 * eps)).reshape(-1))
            jacobians.append(np.stack(cols, axis=1) if cols else np.zeros((1, 0)))
    return jacobians


def _pick_output(outputs, k, Tensor):
    """A float64 copy of the k-th floating output's values (taken now: an output may be a view
    of the input that the next perturbation changes)."""
    floats = [o for o in outputs if isinstance(o, Tensor) and o.is_floating_point()]
    return np.array(floats[k].cpu()._data, dtype=np.float64)
