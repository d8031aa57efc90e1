"""The training loop: :class:`Trainer` and its :class:`Callback` hooks."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

import biotorch as bt
import biotorch.distributed as dist
from biotorch.optim.lr_scheduler import ReduceLROnPlateau
from biotorch.train.checkpoint import rng_states, save_checkpoint, set_rng_states, unwrap
from biotorch.train.parallel import broadcast_values, gather_rows, loader_block
from biotorch.train.task import Task

#: Whether a larger (``max``) or smaller (``min``) value of each monitored metric is better.
MONITORS = {"loss": "min", "auroc": "max", "auprc": "max", "accuracy": "max"}
#: Validation metrics recorded in each history row (as ``val_<name>``).
ROW_METRICS = ("auroc", "auprc", "accuracy")


class Callback:
    """Hooks into :meth:`Trainer.fit`; override the ones you need. Callbacks run on every
    process; check ``trainer.is_main_process`` before writing files or printing."""

    def on_fit_start(self, trainer: Trainer) -> None:
        """Before the first epoch (after a resume has restored the state)."""

    def on_epoch_start(self, trainer: Trainer, epoch: int) -> None:
        """Before the training batches of ``epoch``."""

    def on_batch_end(self, trainer: Trainer, step: int, loss: float) -> None:
        """After each optimizer step; ``loss`` is the batch's mean loss."""

    def on_epoch_end(self, trainer: Trainer, row: dict) -> None:
        """After validation, the scheduler step and the checkpoints; ``row`` is the epoch's
        history entry. Set ``trainer.stop_training = True`` to stop after this epoch."""

    def on_fit_end(self, trainer: Trainer) -> None:
        """After the last epoch."""


class Trainer:
    """Train ``model`` for ``task``: per-epoch validation, best/last checkpoints, early stopping,
    exact resume.

    Args:
        model: the module to train, or a data-parallel wrapper of it (a module with ``module``;
            it is called as is, and ``model.module``'s state is saved).
        task: the :class:`Task` (loss, probabilities, metrics).
        optimizer: an optimizer, or a factory called with ``model.parameters()``
            (default: ``Adam(lr=1e-3)``).
        scheduler: a learning-rate scheduler, or a factory called with the optimizer; stepped once
            per epoch, with the validation loss for :class:`ReduceLROnPlateau`.
        epochs: the last epoch to train (a resumed run continues up to it).
        monitor: ``loss``, ``auroc``, ``auprc`` or ``accuracy`` on the validation data: what
            "best epoch" and early stopping watch.
        patience: stop after this many epochs without a better ``monitor`` (None: never).
        checkpoint_dir: where ``best.safetensors`` (the best epoch) and ``last.safetensors``
            (every epoch) go; None writes no checkpoints.
        config: JSON values stored as the checkpoints' ``config`` (e.g.
            :func:`~biotorch.train.checkpoint_config`, which lets ``load_scorer`` rebuild the
            model).
        callbacks: :class:`Callback` objects, called in order.
        model_input: how a batch becomes the model's argument (default: ``batch.inputs``;
            ``(x, y)`` tuples give ``x``).
        device: where ``(x, y)`` tuple batches are moved (loaders with ``device=`` move their own).
        max_steps: at most this many training steps per epoch.
        progress: show a tqdm bar per epoch (when tqdm is installed).
        is_main_process: False on the other ranks of a data-parallel run: they write no files
            and show no progress.
        distributed: True on every rank of a data-parallel run (after
            :func:`~biotorch.distributed.init_process_group`; each rank's training loader holds
            its shard; the validation loader is the same on every rank): the training loss is
            averaged over the ranks, each rank scores its block of the validation batches and
            rank 0 computes the metrics from all rows and broadcasts them, so every rank
            takes the same learning-rate and early-stopping decisions, and every rank waits
            after each epoch until rank 0's checkpoints are complete. (A callback that sets
            ``stop_training`` must decide alike on every rank.)
    """

    def __init__(
        self,
        model: bt.nn.Module,
        task: Task,
        *,
        optimizer: Any = None,
        scheduler: Any = None,
        epochs: int = 10,
        monitor: str = "loss",
        patience: int | None = None,
        checkpoint_dir: str | os.PathLike | None = None,
        config: dict | None = None,
        callbacks: Sequence[Callback] = (),
        model_input: Callable[[Any], Any] | None = None,
        device: Any = None,
        max_steps: int | None = None,
        progress: bool = False,
        is_main_process: bool = True,
        distributed: bool = False,
    ) -> None:
        if monitor not in MONITORS:
            raise ValueError(f"Trainer: monitor {monitor!r}, expected one of {sorted(MONITORS)}")
        if distributed and not dist.is_initialized():
            raise ValueError(
                "Trainer: distributed=True needs the process group; call "
                "biotorch.distributed.init_process_group() first"
            )
        self.model, self.task = model, task
        if optimizer is None:
            optimizer = bt.optim.Adam(model.parameters(), lr=1e-3)
        elif not hasattr(optimizer, "param_groups"):  # a factory (a class, a partial, ...)
            optimizer = optimizer(model.parameters())
        self.optimizer = optimizer
        if scheduler is not None and not hasattr(scheduler, "optimizer"):  # a factory
            scheduler = scheduler(optimizer)
        self.scheduler = scheduler
        self.epochs, self.monitor, self.patience = epochs, monitor, patience
        self.checkpoint_dir = None if checkpoint_dir is None else Path(checkpoint_dir)
        self.config = config or {}
        self.callbacks = list(callbacks)
        self.model_input = model_input
        self.device, self.max_steps = device, max_steps
        self.progress, self.is_main_process = progress, is_main_process
        self.distributed = distributed
        self.stop_training = False
        #: Progress, saved in checkpoints: last finished epoch, history rows, best monitored
        #: value, its epoch, and epochs since it.
        self.state: dict = {"epoch": 0, "history": [], "best": None, "best_epoch": 0}
        self.state["bad_epochs"] = 0

    # -- the loop ---------------------------------------------------------------------------
    def fit(
        self, train_loader: Iterable, val_loader: Iterable, resume: str | os.PathLike | None = None
    ) -> list[dict]:
        """Train from the next epoch up to ``epochs`` (or until early stopping) and return the
        history: per epoch ``epoch``, ``train_loss``, ``val_loss``, ``val_auroc``,
        ``val_auprc``, ``val_accuracy``, ``lr`` and ``seconds``. ``resume`` is a checkpoint of
        an earlier run to continue exactly (see :meth:`load_checkpoint`)."""
        if resume is not None:
            self.load_checkpoint(resume)
        if self.checkpoint_dir is not None and self.is_main_process:
            self.checkpoint_dir.mkdir(parents=True, exist_ok=True)
        self._call("on_fit_start")
        for epoch in range(self.state["epoch"] + 1, self.epochs + 1):
            if self.stop_training or (
                self.patience is not None and self.state["bad_epochs"] >= self.patience
            ):
                break
            tick = time.perf_counter()
            self._call("on_epoch_start", epoch)
            train_loss = self.train_epoch(train_loader, epoch)
            val_loss, scores = self._validate(val_loader)
            self._step_scheduler(val_loss)
            row = {
                "epoch": epoch,
                "train_loss": train_loss,
                "val_loss": val_loss,
                **{f"val_{k}": scores[k] for k in ROW_METRICS},
                "lr": self.optimizer.param_groups[0]["lr"],
                "seconds": time.perf_counter() - tick,
            }
            self.state["history"].append(row)
            self.state["epoch"] = epoch
            improved = self._track_best(row[f"val_{self.monitor}"], epoch)
            if self.checkpoint_dir is not None:
                if improved:
                    self.save_checkpoint(self.checkpoint_dir / "best.safetensors")
                self.save_checkpoint(self.checkpoint_dir / "last.safetensors")
                if self.distributed:
                    dist.barrier()  # the files are complete before any rank reads them
            self._call("on_epoch_end", row)
        self._call("on_fit_end")
        return self.state["history"]

    def train_epoch(self, loader: Iterable, epoch: int) -> float:
        """One pass of optimizer steps over ``loader``; the mean training loss."""
        _set_epoch(loader, epoch)
        self.model.train()
        total, seen = 0.0, 0
        bar = _progress(loader, f"epoch {epoch}", not (self.progress and self.is_main_process))
        for step, batch in enumerate(bar):
            if self.max_steps is not None and step >= self.max_steps:
                break
            x, y, size = self._unpack(batch)
            loss = self.task.loss(self.model(x), y)
            self.optimizer.zero_grad()
            loss.backward()
            self.optimizer.step()
            value = loss.item()
            total += value * size
            seen += size
            bar.set_postfix(loss=f"{total / seen:.4f}")
            self._call("on_batch_end", step, value)
        if self.distributed:
            sums = np.array([total, seen], dtype=np.float64)
            dist.all_reduce(sums)
            total, seen = sums.tolist()
        return total / max(seen, 1)

    def evaluate(self, loader: Iterable) -> tuple[float, np.ndarray, np.ndarray]:
        """(mean loss, labels, probabilities) over ``loader``, in eval mode without gradients."""
        total, n, y, p = self._score(loader)
        if n == 0:
            raise ValueError("Trainer.evaluate: the loader gave no samples")
        return total / n, y, p

    def _score(self, batches: Iterable) -> tuple[float, int, Any, Any]:
        """(summed loss, samples, labels, probabilities) over ``batches``; labels and
        probabilities are None when the batches hold no samples."""
        self.model.eval()
        total, ys, ps, n = 0.0, [], [], 0
        with bt.no_grad():
            for batch in batches:
                x, y, size = self._unpack(batch)
                logits = self.model(x)
                total += self.task.loss(logits, y).item() * size
                n += size
                ys.append(y.cpu().numpy())
                ps.append(self.task.probabilities(logits))
        if n == 0:
            return total, n, None, None
        return total, n, np.concatenate(ys), np.concatenate(ps)

    def evaluate_sharded(self, loader: Iterable) -> tuple[float, Any, Any]:
        """:meth:`evaluate` by every rank of a distributed run together (call it on all; the
        loader is the same on every rank): each rank scores its contiguous block of the batches
        (:func:`~biotorch.train.parallel.loader_block`; rank 0 scores them all when the loader
        has no ``len`` or fewer batches than ranks). Every rank gets rank 0's mean loss; rank 0
        gets the labels and probabilities of all rows in single-process order, the other ranks
        None. Without ``distributed=True`` it is :meth:`evaluate`."""
        if not self.distributed:
            return self.evaluate(loader)
        block = loader_block(loader)
        if block is None:
            loss, y, p = self.evaluate(loader) if dist.get_rank() == 0 else (None, None, None)
        else:
            total, n, y, p = self._score(block)
            sums = np.array([total, n], dtype=np.float64)
            dist.all_reduce(sums)
            loss, y, p = sums[0] / sums[1], gather_rows(y), gather_rows(p)
        (loss,) = broadcast_values([loss])
        return loss, y, p

    def _validate(self, loader: Iterable) -> tuple[float, dict]:
        """(loss, metrics) on the validation data (:meth:`evaluate_sharded`); in a distributed
        run rank 0 computes the metrics and every rank receives them."""
        loss, y, p = self.evaluate_sharded(loader)
        scores = {} if y is None else self.task.evaluate(y, p)
        if self.distributed:
            shared = broadcast_values([scores.get(k) for k in ROW_METRICS])
            scores.update(zip(ROW_METRICS, shared, strict=True))
        return loss, scores

    # -- checkpoints ------------------------------------------------------------------------
    def checkpoint(self) -> dict:
        """The checkpoint dict (see :mod:`biotorch.train` for the format)."""
        return {
            "model": unwrap(self.model).state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": None if self.scheduler is None else self.scheduler.state_dict(),
            "epoch": self.state["epoch"],
            "state": self.state,
            **rng_states(self._model_device()),
            "config": self.config,
        }

    def save_checkpoint(self, path: str | os.PathLike) -> None:
        """Write :meth:`checkpoint` to ``path`` (main process only; all-or-nothing)."""
        if self.is_main_process:
            save_checkpoint(path, self.checkpoint())

    def load_checkpoint(self, path: str | os.PathLike) -> dict:
        """Restore model, optimizer, scheduler, generator states and progress from ``path``, so
        that :meth:`fit` continues as if never interrupted; returns the checkpoint."""
        ckpt = bt.load(path)
        unwrap(self.model).load_state_dict(ckpt["model"])
        self.optimizer.load_state_dict(ckpt["optimizer"])
        if self.scheduler is not None and ckpt.get("scheduler") is not None:
            self.scheduler.load_state_dict(ckpt["scheduler"])
        set_rng_states(ckpt, self._model_device())
        self.state = ckpt["state"]
        return ckpt

    def load_best(self) -> None:
        """Load the best epoch's weights (``checkpoint_dir/best.safetensors``) into the model."""
        if self.checkpoint_dir is None:
            raise ValueError("Trainer.load_best: the trainer has no checkpoint_dir")
        unwrap(self.model).load_state_dict(
            bt.load(self.checkpoint_dir / "best.safetensors")["model"]
        )

    # -- helpers ----------------------------------------------------------------------------
    def _track_best(self, value: float, epoch: int) -> bool:
        best = self.state["best"]
        if best is None or (value < best if MONITORS[self.monitor] == "min" else value > best):
            self.state.update(best=value, best_epoch=epoch, bad_epochs=0)
            return True
        self.state["bad_epochs"] += 1
        return False

    def _step_scheduler(self, val_loss: float) -> None:
        if isinstance(self.scheduler, ReduceLROnPlateau):
            self.scheduler.step(val_loss)
        elif self.scheduler is not None:
            self.scheduler.step()

    def _unpack(self, batch: Any) -> tuple[Any, bt.Tensor, int]:
        """(model argument, labels, batch size) of a Batch or an ``(x, y)`` pair."""
        if isinstance(batch, list | tuple):
            x, y = batch
            if self.device is not None:
                x, y = x.to(self.device), y.to(self.device)
            return (self.model_input(x) if self.model_input else x), y, len(y)
        x = self.model_input(batch) if self.model_input else batch.inputs
        return x, batch.labels, batch.batch_size

    def _model_device(self) -> Any:
        for p in unwrap(self.model).parameters():
            return p.device
        return None

    def _call(self, hook: str, *args: Any) -> None:
        for callback in self.callbacks:
            getattr(callback, hook)(self, *args)


def _set_epoch(loader: Any, epoch: int) -> None:
    """Tell the loader and its samplers (e.g. a distributed sampler) which epoch starts."""
    for obj in (loader, getattr(loader, "sampler", None), getattr(loader, "batch_sampler", None)):
        if hasattr(obj, "set_epoch"):
            obj.set_epoch(epoch)


class _NoBar:
    """What the loop uses of a tqdm bar, showing nothing."""

    def __init__(self, iterable: Any) -> None:
        self.iterable = iterable

    def __iter__(self) -> Any:
        return iter(self.iterable)

    def set_postfix(self, **values: Any) -> None:
        pass


def _progress(iterable: Any, desc: str, disable: bool) -> Any:
    """A tqdm progress bar over ``iterable``, or a silent stand-in (disabled, or no tqdm)."""
    if disable:
        return _NoBar(iterable)
    try:
        from tqdm import tqdm
    except ImportError:
        return _NoBar(iterable)
    return tqdm(iterable, desc=desc, leave=False)
