"""``DistributedDataParallel``: one model replica per rank, gradients averaged in buckets."""

from __future__ import annotations

import contextlib
import weakref

import numpy as np

from biotorch.autograd.grad_mode import is_grad_enabled
from biotorch.distributed import process_group as pg
from biotorch.distributed.errors import DistributedError
from biotorch.nn.module import Module

__all__ = ["DistributedDataParallel"]


class _Bucket:
    """Parameters whose gradients travel together in one packed contiguous buffer."""

    def __init__(self, params: list, names: list[str]) -> None:
        from biotorch.backend import array_module

        self.params, self.names = params, names
        self.offsets = np.cumsum([0] + [p._data.size for p in params]).tolist()
        xp = array_module(params[0]._data)
        self.buffer = xp.zeros(self.offsets[-1], dtype=params[0]._data.dtype)
        self.ready: set[int] = set()  # positions (in ``params``) whose gradient has arrived
        self.work = None

    def pack(self) -> None:
        for i, p in enumerate(self.params):
            view = self.buffer[self.offsets[i] : self.offsets[i + 1]]
            if p._grad is None:  # unused this step (find_unused_parameters=True): zeros
                view[...] = 0
            else:
                view[...] = p._grad._data.reshape(-1)

    def unpack(self, world_size: int) -> None:
        from biotorch.tensor import Tensor

        self.buffer /= world_size
        for i, p in enumerate(self.params):
            averaged = self.buffer[self.offsets[i] : self.offsets[i + 1]].reshape(p._data.shape)
            if p._grad is None:
                p._grad = Tensor._make(averaged.copy(), False, None, 0)
            else:
                p._grad._data[...] = averaged
                p._grad._version_box[0] += 1


class DistributedDataParallel(Module):
    """Data parallelism over the default process group, as ``torch.nn.parallel``'s.

    At construction the ranks check that their parameters agree (names, shapes, dtypes) and
    rank 0's parameters and buffers are broadcast to all. During ``backward`` each parameter's
    gradient, once accumulated into ``.grad``, marks it ready in its bucket (parameters in
    reverse registration order, about the order backward produces them, up to
    ``bucket_cap_mb`` per bucket, one dtype and device per bucket); a complete bucket is packed
    into its buffer and its allreduce starts at once, buckets launched strictly in order so
    that every rank issues the same sequence of collectives. When the last bucket is launched,
    all are awaited and every ``.grad`` holds the average over ranks, i.e. the gradient of the
    mean loss over the global batch. (MPI advances a started allreduce only while it is
    polled, here at each later gradient hook, so the overlap with backward is partial.)

    Parameters
    ----------
    module : Module
        The replica (same architecture on every rank).
    broadcast_buffers : bool
        Also broadcast rank 0's buffers (e.g. BatchNorm statistics) before every training
        forward. A forward under ``no_grad()`` or in ``eval()`` mode runs no collective, so
        any subset of the ranks (rank 0 alone, say) may evaluate with the wrapped model.
    bucket_cap_mb : float
        Bucket size in MiB (25 as in torch).
    find_unused_parameters : bool
        ``False`` (default): every parameter that requires grad must receive a gradient in
        every synchronised backward; otherwise the next forward raises naming the parameters
        that got none (torch's behaviour). ``True``: after each forward the graph is walked
        from the outputs and parameters it does not reach count as ready with a zero gradient
        (their ``.grad`` then holds the average of the other ranks' gradients, zeros if none).

    ``no_sync()`` skips the reduction for gradient accumulation: gradients accumulate locally
    and the first backward outside the context averages the accumulated sums. ``module`` is the
    wrapped model; save ``ddp.module.state_dict()`` (the wrapper's own state dict prefixes
    ``module.``, as torch's does).
    """

    def __init__(
        self,
        module: Module,
        broadcast_buffers: bool = True,
        bucket_cap_mb: float = 25,
        find_unused_parameters: bool = False,
    ) -> None:
        super().__init__()
        group = pg._require("DistributedDataParallel")
        if not isinstance(module, Module):
            raise TypeError(f"DistributedDataParallel: module must be a Module, got {module!r}")
        if not bucket_cap_mb > 0:
            raise ValueError(f"DistributedDataParallel: bucket_cap_mb={bucket_cap_mb!r}, need > 0")
        self.module = module
        self.broadcast_buffers = broadcast_buffers
        self.bucket_cap_mb = bucket_cap_mb
        self.find_unused_parameters = find_unused_parameters
        self.require_backward_grad_sync = True
        self._group = group
        layout = "; ".join(
            f"{n} {tuple(p.shape)} {p._data.dtype}{'' if p.requires_grad else ' frozen'}"
            for n, p in module.named_parameters()
        )
        named = [(n, p) for n, p in module.named_parameters() if p.requires_grad]
        buffers = "; ".join(f"{n} {tuple(b.shape)} {b._data.dtype}" for n, b in _buffers(module))
        pg.check_agreement(
            group, "DistributedDataParallel", f"parameters [{layout}], buffers [{buffers}]"
        )
        tensors = [p._data for p in module.parameters()] + [b._data for _, b in _buffers(module)]
        for work in [pg.broadcast_array(group, t, 0, "DDP initial broadcast") for t in tensors]:
            work.wait()
        self._buckets = self._make_buckets(named, bucket_cap_mb * 2**20)
        self._where = {}  # id(param) -> (bucket, position)
        this = weakref.ref(self)  # the hooks must not keep a discarded wrapper alive

        def grad_ready(param) -> None:
            ddp = this()
            if ddp is not None:
                ddp._grad_ready(param)

        handles = []
        for bucket in self._buckets:
            for i, p in enumerate(bucket.params):
                self._where[id(p)] = (bucket, i)
                handles.append(p.register_post_accumulate_grad_hook(grad_ready))
        weakref.finalize(self, _remove_all, handles)  # the module may be wrapped again later
        self._next_bucket = 0

    @staticmethod
    def _make_buckets(named: list, cap_bytes: float) -> list[_Bucket]:
        buckets, params, names, size = [], [], [], 0
        for name, p in reversed(named):
            nbytes = p._data.nbytes
            first = params[0]._data if params else None
            if params and (
                size + nbytes > cap_bytes
                or p._data.dtype != first.dtype
                or type(p._data) is not type(first)  # NumPy vs CuPy
            ):
                buckets.append(_Bucket(params, names))
                params, names, size = [], [], 0
            params.append(p)
            names.append(name)
            size += nbytes
        if params:
            buckets.append(_Bucket(params, names))
        return buckets

    @contextlib.contextmanager
    def no_sync(self):
        """Accumulate gradients locally; the first backward after the block averages them."""
        previous = self.require_backward_grad_sync
        self.require_backward_grad_sync = False
        try:
            yield
        finally:
            self.require_backward_grad_sync = previous

    def forward(self, *inputs, **kwargs):
        self._check_previous_reduction()
        training = is_grad_enabled() and self.module.training
        if self.broadcast_buffers and training:
            works = [
                pg.broadcast_array(self._group, b._data, 0, "DDP buffer broadcast")
                for _, b in _buffers(self.module)
            ]
            for work in works:
                work.wait()
        output = self.module(*inputs, **kwargs)
        if self.find_unused_parameters and training and self.require_backward_grad_sync:
            self._mark_unreached_ready(output)
        return output

    def _check_previous_reduction(self) -> None:
        """Raise if the last synchronised backward left some bucket incomplete."""
        pending = [b for b in self._buckets if b.ready or b.work is not None]
        if not pending:
            return
        missing = [
            name for b in self._buckets for i, name in enumerate(b.names) if i not in b.ready
        ]
        self._reset()
        raise DistributedError(
            "DistributedDataParallel: the previous backward did not produce gradients for "
            f"{missing}, so their reduction never finished. Every parameter that requires grad "
            "must be used in the loss, or pass find_unused_parameters=True."
        )

    def _reset(self) -> None:
        for b in self._buckets:
            b.ready.clear()
            b.work = None
        self._next_bucket = 0

    def _mark_unreached_ready(self, output) -> None:
        reached = _reachable_nodes(output)
        for bucket in self._buckets:
            for i, p in enumerate(bucket.params):
                if p._accumulator is None or p._accumulator not in reached:
                    self._mark_ready(bucket, i)

    def _grad_ready(self, param) -> None:
        if not self.require_backward_grad_sync:
            return
        bucket, i = self._where[id(param)]
        if i in bucket.ready:
            raise DistributedError(
                f"DistributedDataParallel: parameter {bucket.names[i]!r} received a second "
                "gradient in one synchronised step (several backward calls need no_sync() on "
                "all but the last)"
            )
        self._mark_ready(bucket, i)

    def _mark_ready(self, bucket: _Bucket, i: int) -> None:
        bucket.ready.add(i)
        while self._next_bucket < len(self._buckets):
            nxt = self._buckets[self._next_bucket]
            if len(nxt.ready) < len(nxt.params):
                return
            nxt.pack()
            nxt.work = pg.all_reduce_array(self._group, nxt.buffer, "sum", "DDP gradient bucket")
            self._next_bucket += 1
            for launched in self._buckets[: self._next_bucket - 1]:
                launched.work.is_completed()  # MPI progresses started allreduces when polled
        for b in self._buckets:
            b.work.wait()
            b.unpack(self._group.size)
        self._reset()


def _remove_all(handles: list) -> None:
    for handle in handles:
        handle.remove()


def _buffers(module: Module) -> list:
    return [(n, b) for n, b in module.named_buffers() if b is not None]


def _reachable_nodes(output) -> set:
    """The autograd nodes (leaves' AccumulateGrad included) that ``output``'s tensors reach."""
    from biotorch.tensor import Tensor

    stack, seen = [], set()

    def visit(x) -> None:
        if isinstance(x, Tensor):
            if x._requires_grad:
                stack.append(x._edge()[0])
        elif isinstance(x, list | tuple):
            for item in x:
                visit(item)
        elif isinstance(x, dict):
            for item in x.values():
                visit(item)

    visit(output)
    while stack:
        node = stack.pop()
        if node in seen:
            continue
        seen.add(node)
        stack.extend(edge[0] for edge in node._next if edge is not None)
    return seen
