"""``Optimizer``: parameter groups, per-parameter state, ``zero_grad`` and state dicts."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable

from biotorch.autograd.grad_mode import no_grad
from biotorch.tensor import Tensor

__all__ = ["Optimizer"]


class Optimizer:
    """Base class: subclasses set ``defaults`` and implement ``_update(group, param, grad,
    state)`` on raw arrays; ``step`` runs it for every parameter that has a gradient."""

    def __init__(self, params: Iterable, defaults: dict) -> None:
        self.defaults = defaults
        self.state: dict = {}
        self.param_groups: list[dict] = []
        params = list(params)
        if not params:
            raise ValueError(f"{type(self).__name__}: got an empty parameter list")
        groups = params if isinstance(params[0], dict) else [{"params": params}]
        for group in groups:
            self.add_param_group(group)

    def add_param_group(self, group: dict) -> None:
        """Add a group of parameters with its own settings (others default)."""
        group = dict(group)
        params = group["params"]
        group["params"] = [params] if isinstance(params, Tensor) else list(params)
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        for p in group["params"]:
            if not isinstance(p, Tensor) or not p.is_leaf:
                raise ValueError(f"{type(self).__name__}: can only optimize leaf Tensors")
            if id(p) in seen:
                raise ValueError(
                    f"{type(self).__name__}: some parameters appear in more than one group"
                )
            seen.add(id(p))
        for key, value in self.defaults.items():
            group.setdefault(key, value)
        self.param_groups.append(group)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset gradients to None (default) or to zeros."""
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    if set_to_none:
                        p.grad = None
                    else:
                        p.grad._data[...] = 0

    def step(self, closure: Callable | None = None):
        """One update of every parameter that has a gradient; returns ``closure()`` if given."""
        loss = None
        if closure is not None:
            from biotorch.autograd.grad_mode import enable_grad

            with enable_grad():
                loss = closure()
        with no_grad():
            for group in self.param_groups:
                for p in group["params"]:
                    if p.grad is None:
                        continue
                    grad = p.grad._data
                    if group.get("maximize", False):
                        grad = -grad
                    state = self.state.setdefault(p, {})
                    self._update(group, p._data, grad, state)
                    p._version_box[0] += 1
        return loss

    def _update(self, group: dict, param, grad, state: dict) -> None:
        raise NotImplementedError

    # -- state dicts -----------------------------------------------------------------------------
    def state_dict(self) -> dict:
        """``{"state": {index: {...}}, "param_groups": [{..., "params": [indices]}]}``."""
        index = {}
        groups = []
        for group in self.param_groups:
            ids = []
            for p in group["params"]:
                index.setdefault(id(p), len(index))
                ids.append(index[id(p)])
            groups.append({**{k: v for k, v in group.items() if k != "params"}, "params": ids})
        state = {
            index[id(p)]: {k: _wrap(v) for k, v in s.items()}
            for p, s in self.state.items()
            if id(p) in index
        }
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore state saved by :meth:`state_dict` (same parameter layout required)."""
        saved_groups = state_dict["param_groups"]
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(
                f"load_state_dict: the state has {len(saved_groups)} parameter groups, "
                f"this optimizer has {len(self.param_groups)}"
            )
        mapping = {}
        for i, (group, saved) in enumerate(zip(self.param_groups, saved_groups, strict=True)):
            if len(group["params"]) != len(saved["params"]):
                raise ValueError(
                    f"load_state_dict: group {i} has {len(saved['params'])} parameters in the "
                    f"state and {len(group['params'])} in this optimizer"
                )
            mapping.update(zip(saved["params"], group["params"], strict=True))
        self.state = {}
        for key, values in state_dict["state"].items():
            p = mapping[int(key)]
            self.state[p] = {k: _unwrap(v, p) for k, v in values.items()}
        for group, saved in zip(self.param_groups, saved_groups, strict=True):
            group.update({k: copy.deepcopy(v) for k, v in saved.items() if k != "params"})

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines += [f"    {k}: {v}" for k, v in sorted(group.items()) if k != "params"]
        return "\n".join(lines) + "\n)"


def _wrap(value):
    """State arrays leave as (copied) Tensors; numbers as they are."""
    if hasattr(value, "shape") and not isinstance(value, Tensor):
        return Tensor._make(value.copy(), False, None, 0)
    return value


def _unwrap(value, param: Tensor):
    """A saved state Tensor as an array on the parameter's device (float state in its dtype)."""
    if isinstance(value, Tensor):
        value = value.to(param.device)
        if value.is_floating_point():
            value = value.to(param.dtype)
        return value._data.copy()
    return value
