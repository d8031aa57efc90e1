"""``biotorch.train``: a small, PyTorch-style training loop for sequence models.

- :class:`Task`: what the outputs mean (``binary``, ``multiclass``, ``multilabel``), the loss,
  probabilities and metrics; :func:`stratified_split` / :func:`stratified_folds`: seeded,
  deterministic splits that keep class proportions.
- :class:`Trainer`: ``fit(train_loader, val_loader)`` with an injectable optimizer and scheduler
  (instances or factories), per-epoch validation, early stopping (``patience``), best/last
  checkpoints, exact resume and :class:`Callback` hooks (``on_fit_start``, ``on_epoch_start``,
  ``on_batch_end``, ``on_epoch_end``, ``on_fit_end``).
- Data and models: :func:`load_data` (labelled sequences from FASTA files or tables),
  :class:`TransformedSubset` (augmentation), :class:`InputSpec` (how sequences become model
  inputs), :func:`build_model`; :func:`load_scorer` (a checkpoint or pretrained weights ready to
  score sequences) and :func:`score_fasta`.
- Result files: :func:`write_json`, :func:`tsv_text` (refuses fields that would corrupt a TSV).

Data-parallel training: the trainer calls the model as given (a wrapper such as
``DistributedDataParallel`` works unchanged), saves ``model.module``'s state when the model has
``module``, calls ``set_epoch(epoch)`` on the loader and on its ``sampler``/``batch_sampler`` when
they have it, and with ``is_main_process=False`` writes no files and shows no progress;
``distributed=True`` averages the training loss over the ranks, splits each validation pass into
rank blocks and shares rank 0's validation numbers with all (see :class:`Trainer`).
:mod:`biotorch.train.parallel` holds the sharding helpers: :class:`SplitBatchSampler` (each
rank's part of every batch of one process), ``loader_block`` (this rank's block of a loader's
batches) and, for scoring bit-identical to one process, ``rank_batches``/``gather_rows`` (whole
batches per rank, rows gathered in rank order; ``score_fasta(..., distributed=True)`` uses them).

Checkpoint format (version 1): one ``biotorch.save`` (safetensors) file holding a dict

==============  ==================================================================================
``format``      1
``model``       the model's state dict (unwrapped from a data-parallel wrapper)
``optimizer``   the optimizer's state dict
``scheduler``   the scheduler's state dict, or None without a scheduler
``epoch``       the last finished epoch
``state``       progress: ``epoch``, ``history`` (one row per epoch, as :meth:`Trainer.fit`
                returns), ``best`` (best monitored value), ``best_epoch``, ``bad_epochs``
``rng``         the CPU generator's state (``biotorch.get_rng_state()``) after the epoch
``cuda_rng``    the model's CUDA generator state (only when training on a GPU)
``config``      what rebuilds the model and its inputs (:func:`checkpoint_config`): ``model``
                (a ``biotorch.models`` name), ``model_kwargs``, ``task`` (``kind``, ``names``),
                ``inputs`` (:class:`InputSpec` fields), plus any JSON extras (run arguments)
==============  ==================================================================================

``last.safetensors`` is written after every epoch and ``best.safetensors`` after each epoch that
improves the monitored metric, each all-or-nothing (a unique temporary file, then a rename).
``Trainer(...).fit(..., resume="last.safetensors")`` continues bit for bit as an uninterrupted
run would have (same seeds and loaders); ``load_scorer("best.safetensors")`` rebuilds the model
from ``config`` for prediction. Checkpoints written before ``format`` existed load the same way.

Example::

    trainer = Trainer(
        model,
        Task("binary", ["bound"]),
        optimizer=lambda params: bt.optim.Adam(params, lr=3e-3),
        scheduler=lambda opt: bt.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=0.5),
        epochs=12,
        patience=4,
        checkpoint_dir="runs/mine",
    )
    history = trainer.fit(train_loader, val_loader)
"""

from biotorch.train.checkpoint import (
    CHECKPOINT_FORMAT,
    Scorer,
    checkpoint_config,
    load_scorer,
    model_from_config,
    save_checkpoint,
)
from biotorch.train.data import ALPHABETS, TransformedSubset, alphabet_named, load_data
from biotorch.train.inputs import InputSpec, build_model, input_spec_for, takes_batch
from biotorch.train.output import json_ready, tsv_text, write_json
from biotorch.train.parallel import SplitBatchSampler
from biotorch.train.predict import score_fasta
from biotorch.train.task import Task, stratified_folds, stratified_split
from biotorch.train.trainer import MONITORS, Callback, Trainer

__all__ = [
    "ALPHABETS",
    "CHECKPOINT_FORMAT",
    "MONITORS",
    "Callback",
    "InputSpec",
    "Scorer",
    "SplitBatchSampler",
    "Task",
    "Trainer",
    "TransformedSubset",
    "alphabet_named",
    "build_model",
    "checkpoint_config",
    "input_spec_for",
    "json_ready",
    "load_data",
    "load_scorer",
    "model_from_config",
    "save_checkpoint",
    "score_fasta",
    "stratified_folds",
    "stratified_split",
    "takes_batch",
    "tsv_text",
    "write_json",
]
