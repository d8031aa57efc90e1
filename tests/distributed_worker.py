"""Rank programs of test_distributed.py: ``mpiexec -n 2 python distributed_worker.py MODE OUT``.

Rank 0 writes what the test compares into ``OUT`` (npz files); ``make_model``, ``make_data``
and ``run_steps`` are imported by the test to compute the single-process reference.
"""

from __future__ import annotations

import sys
import time
import weakref
from contextlib import nullcontext
from datetime import timedelta
from pathlib import Path

import numpy as np

import biotorch as bt
import biotorch.distributed as dist
import biotorch.nn as nn
import biotorch.nn.functional as F
from biotorch.data import BucketBatchSampler, DistributedSampler
from biotorch.nn.parallel import DistributedDataParallel as DDP

BATCH, STEPS, CHECKPOINT_STEP = 4, 5, 2


def make_model(seed: int) -> nn.Module:
    bt.manual_seed(seed)
    return nn.Sequential(
        nn.Conv1d(4, 6, 5), nn.ReLU(), nn.MaxPool1d(2), nn.Flatten(), nn.Linear(6 * 8, 3)
    ).double()


def make_data(n: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return rng.standard_normal((n, 4, 20)), rng.integers(0, 3, n)


def make_optimizer(name: str, model: nn.Module):
    if name == "adam":
        return bt.optim.Adam(model.parameters(), lr=0.01)
    return bt.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)


def run_steps(
    model, optimizer, batch, rank, world, start=0, stop=STEPS, accumulate=1, save=None, seen=None
):
    """Steps on rows ``[step*batch*world + rank*batch, +batch)``; ``save(step)`` after each.

    ``seen(model)``, if given, is called after every backward.
    """
    x, y = make_data(STEPS * batch * world)
    micro = batch // accumulate
    for step in range(start, stop):
        lo = step * batch * world + rank * batch
        optimizer.zero_grad()
        for k in range(accumulate):
            sync = k == accumulate - 1 or not hasattr(model, "no_sync")
            with nullcontext() if sync else model.no_sync():
                rows = slice(lo + k * micro, lo + (k + 1) * micro)
                out = model(bt.tensor(x[rows]))
                loss = F.cross_entropy(out, bt.tensor(y[rows])) / accumulate
                loss.backward()
            if seen is not None:
                seen(model)
        optimizer.step()
        if save is not None:
            save(step + 1)
    return model


def params_of(model) -> dict:
    return {n: p.detach().numpy().copy() for n, p in model.named_parameters()}


def save_results(path: Path, results: dict) -> None:
    if dist.get_rank() == 0:
        np.savez(path, **results)


# -- modes ---------------------------------------------------------------------------------------
def train(out: Path) -> None:
    """DDP variants, sampler sharding and sharded inference; one npz of results."""
    rank, world = dist.get_rank(), dist.get_world_size()
    results = {}
    variants = {
        "sgd": ("sgd", 25, 1),
        "adam_buckets": ("adam", 0.0005, 1),  # 524-byte buckets: several per backward
        "no_sync": ("sgd", 25, 2),
    }
    for variant, (opt_name, cap, accumulate) in variants.items():
        ddp = DDP(make_model(100 + rank), bucket_cap_mb=cap)  # rank 0's weights are broadcast
        optimizer = make_optimizer(opt_name, ddp)
        results[f"{variant}/buckets"] = np.array(len(ddp._buckets))

        def checkpoint(step, ddp=ddp, optimizer=optimizer, variant=variant):
            if variant == "adam_buckets" and step == CHECKPOINT_STEP:
                state = {"model": ddp.module.state_dict(), "optim": optimizer.state_dict()}
                dist.save_on_main(state, out / "checkpoint.safetensors")

        grads = []  # rank 0 and rank 1's gradient of the last layer's bias after each backward

        def seen(model, grads=grads):
            grads.append(dist.gather_arrays(model.module[4].bias.grad.numpy()[None]))

        run_steps(ddp, optimizer, BATCH, rank, world, 0, STEPS, accumulate, checkpoint, seen)
        if rank == 0:
            same = [np.array_equal(*g) for g in grads]
            results[f"{variant}/ranks_agree_after_backward"] = np.array(same)
        results.update({f"{variant}/{n}": a for n, a in params_of(ddp.module).items()})

    for op in dist.ReduceOp:
        t = bt.tensor([1.0, -2.0, 3.0]) * (rank + 2)  # rank 0: x2, rank 1: x3
        dist.all_reduce(t, op=op)
        results[f"all_reduce/{op.name}"] = t.numpy()
    try:
        dist.all_reduce(bt.arange(3), op=dist.ReduceOp.AVG)
    except TypeError as err:
        results["avg_of_ints"] = np.array(str(err))
    t = bt.full((2, 2), float(rank))
    dist.broadcast(t, src=1)
    results["broadcast"] = t.numpy()
    parts = [bt.zeros(3, dtype=bt.int64) for _ in range(world)]
    dist.all_gather(parts, bt.arange(3) + 10 * rank)
    results["all_gather"] = np.stack([p.numpy() for p in parts])
    gathered = [bt.zeros(2) for _ in range(world)] if rank == 0 else None
    dist.gather(bt.full((2,), rank + 0.5), gathered, dst=0)
    if rank == 0:
        results["gather"] = np.stack([g.numpy() for g in gathered])

    sampler = DistributedSampler(range(11), seed=3)
    sampler.set_epoch(1)
    for name, shard in [
        ("distributed_sampler", np.array(list(sampler))),
        ("bucket_batches", np.array([len(b) for b in BucketBatchSampler(np.arange(1, 24), 4)])),
        (
            "bucket_indices",
            np.array([i for b in BucketBatchSampler(np.arange(1, 24), 4) for i in b]),
        ),
    ]:
        parts = dist.gather_arrays(shard)
        if rank == 0:
            for r, part in enumerate(parts):
                results[f"{name}/{r}"] = part

    few = dist.shard_indices(1)  # rank 0 gets no row
    parts = dist.gather_arrays(np.array([f"row{i}" for i in few], dtype=str))
    if rank == 0:
        results["few"] = np.concatenate(parts)

    model = make_model(5)  # the same weights on every rank, as when loaded from a file
    x, _ = make_data(13)
    rows = dist.shard_indices(len(x))
    with bt.no_grad():
        logits = model(bt.tensor(x[rows.start : rows.stop])).numpy()
    names = np.array([f"seq{i}" for i in rows])
    gathered = dist.gather_arrays(logits), dist.gather_arrays(names)
    if rank == 0:
        results["predict/logits"] = np.concatenate(gathered[0])
        results["predict/names"] = np.concatenate(gathered[1])
    results.update(validate(model, rank))
    save_results(out / "train.npz", results)


def validation_batches() -> list:
    """7 batches (13 rows of make_data) that every rank's validation loader holds."""
    x, y = make_data(13)
    return [(bt.tensor(x[i : i + 2]), bt.tensor(y[i : i + 2])) for i in range(0, 13, 2)]


def validate(model: nn.Module, rank: int) -> dict:
    """One epoch of a distributed Trainer at learning rate 0: its validation numbers and the
    rows each rank scored (in the order scored)."""
    from biotorch.train import Task, Trainer

    rows = []
    model.register_forward_hook(lambda module, args, output: rows.extend(args[0][:, 0, 0].tolist()))
    trainer = Trainer(
        model,
        Task("multiclass", ["a", "b", "c"]),
        optimizer=bt.optim.SGD(model.parameters(), lr=0.0),
        epochs=1,
        max_steps=0,
        distributed=True,
    )
    row = trainer.fit([], validation_batches())[0]
    scored = dist.gather_arrays(np.array(rows))
    loss, y, p = trainer.evaluate_sharded(validation_batches())
    losses, got_rows = dist.gather_arrays(np.array([loss])), dist.gather_arrays([y is not None])
    if rank != 0:
        return {}
    keys = ["val_loss", "val_auroc", "val_auprc", "val_accuracy"]
    return {
        "validate/row": np.array([row[k] for k in keys]),
        **{f"validate/rows/{r}": part for r, part in enumerate(scored)},
        "evaluate/losses": np.concatenate(losses),
        "evaluate/got_rows": np.concatenate(got_rows),
        "evaluate/y": y,
        "evaluate/p": p,
    }


def resume(out: Path) -> None:
    """Restart the 'adam_buckets' run from its checkpoint in a fresh job."""
    rank, world = dist.get_rank(), dist.get_world_size()
    state = bt.load(out / "checkpoint.safetensors")
    model = make_model(999 + rank)
    model.load_state_dict(state["model"])
    ddp = DDP(model, bucket_cap_mb=0.0005)
    optimizer = make_optimizer("adam", ddp)
    optimizer.load_state_dict(state["optim"])
    run_steps(ddp, optimizer, BATCH, rank, world, start=CHECKPOINT_STEP)
    save_results(out / "resume.npz", params_of(ddp.module))


def errors(out: Path) -> None:
    """Disagreeing ranks, an unused parameter, then a rank that skips a collective."""
    rank = dist.get_rank()
    try:
        DDP(nn.Linear(3, 4 + rank))
    except dist.DistributedError as err:
        print(f"CAUGHT ddp: {err}", flush=True)
    try:
        dist.all_reduce(bt.zeros(2, 3 + rank))
    except dist.DistributedError as err:
        print(f"CAUGHT all_reduce: {err}", flush=True)

    class TwoHeads(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.used, self.unused = nn.Linear(3, 1), nn.Linear(3, 1)

        def forward(self, x):
            return self.used(x)

    ddp = DDP(TwoHeads())
    ddp(bt.ones(2, 3)).sum().backward()
    try:
        ddp(bt.ones(2, 3))
    except dist.DistributedError as err:
        print(f"CAUGHT unused: {err}", flush=True)
    ddp = DDP(TwoHeads(), find_unused_parameters=True)
    ddp(bt.ones(2, 3) * (rank + 1)).sum().backward()
    grads = ddp.module.used.weight.grad.numpy(), ddp.module.unused.weight.grad.numpy()
    print(f"UNUSED-OK {grads[0].tolist()} {grads[1].tolist()}", flush=True)

    model = DDP(nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4)))
    if rank == 0:  # evaluation on rank 0 alone: no collective may run
        model.eval()
        with bt.no_grad():
            model(bt.ones(2, 3))
        model.train()
    model(bt.randn(5, 3)).sum().backward()
    dist.barrier()
    print(f"EVAL-OK {rank}", flush=True)

    try:
        dist.save_on_main({"w": bt.ones(2)}, out / "no-such-directory" / "ckpt.safetensors")
    except (OSError, dist.DistributedError) as err:
        print(f"CAUGHT save_on_main {type(err).__name__}: {err}", flush=True)

    print(f"rank {rank} reached the barrier test", flush=True)
    if rank == 0:
        # rank 1 never calls it: rank 0 must time out, not hang. The message goes to a file: the
        # job's abort may cut off the last output mpiexec forwards.
        try:
            dist.barrier(async_op=True).wait(timeout=timedelta(seconds=3))
        except dist.DistributedTimeoutError as err:
            (out / "barrier-timeout.txt").write_text(str(err))
            raise
    else:
        time.sleep(1)


def crash(out: Path) -> None:
    """Rank 1 dies of an exception while rank 0 waits in a barrier with a 60 s timeout."""
    if dist.get_rank() == 1:
        raise ValueError("rank 1 fails")
    dist.barrier()


def single(out: Path) -> None:
    """A plain ``python`` run: a world of one."""
    t = bt.tensor([1.0, 2.0])
    dist.all_reduce(t)
    dist.broadcast(t, 0)
    ddp = DDP(make_model(100))
    run_steps(ddp, make_optimizer("sgd", ddp), 2 * BATCH, 0, 1)
    print("SINGLE", dist.get_rank(), dist.get_world_size(), t.numpy().tolist(), flush=True)
    module = ddp.module
    gone = weakref.ref(ddp)
    del ddp
    hooks = [p._accumulator._post_hooks for p in module.parameters()]
    print("DISCARDED", gone() is None, all(len(h) == 0 for h in hooks), flush=True)
    np.savez(out / "single.npz", **params_of(module))


def nccl(out: Path) -> None:
    """CuPy arrays through the NCCL backend (needs a GPU per rank)."""
    import cupy

    rank, world = dist.get_rank(), dist.get_world_size()
    a = cupy.arange(6, dtype=cupy.float32) * (rank + 1)
    dist.all_reduce(a)
    b = cupy.full(3, float(rank), dtype=cupy.float64)
    dist.broadcast(b, 0)
    parts = [cupy.zeros(2, dtype=cupy.float32) for _ in range(world)]
    dist.all_gather(parts, cupy.full(2, float(rank), dtype=cupy.float32))
    expected = np.arange(6) * world * (world + 1) / 2
    assert np.allclose(a.get(), expected), a
    assert np.allclose(b.get(), 0.0) and all(np.allclose(p.get(), r) for r, p in enumerate(parts))
    ddp = DDP(make_model(100 + rank).cuda())
    x, y = make_data(2 * BATCH * world)
    rows = slice(rank * 2 * BATCH, (rank + 1) * 2 * BATCH)
    F.cross_entropy(ddp(bt.tensor(x[rows]).cuda()), bt.tensor(y[rows]).cuda()).backward()
    save_results(
        out / "nccl.npz", {n: p.grad.cpu().numpy() for n, p in ddp.module.named_parameters()}
    )
    print("NCCL-OK", rank, flush=True)


if __name__ == "__main__":
    mode, out = sys.argv[1], Path(sys.argv[2])
    backend = "nccl" if mode == "nccl" else "mpi"
    # "errors" waits 3 s for its skipped barrier only; 30 s elsewhere leaves room for a busy machine
    dist.init_process_group(backend, timeout=timedelta(seconds=30 if mode == "errors" else 60))
    modes = {"train": train, "resume": resume, "errors": errors, "crash": crash, "single": single}
    {**modes, "nccl": nccl}[mode](out)
    dist.destroy_process_group()
