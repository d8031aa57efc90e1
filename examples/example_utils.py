"""Command-line helpers shared by the example scripts: options, messages, the training run with
its printed report and files, TSV output and plots. The machinery itself lives in
:mod:`biotorch.train`.

The scripts import it as a sibling module (``python examples/train_fasta.py`` puts ``examples/``
on ``sys.path``); nothing outside ``examples/`` imports it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np

import biotorch as bt
import biotorch.distributed as dist
from biotorch import metrics
from biotorch._atomic import atomic_output
from biotorch.nn.parallel import DistributedDataParallel
from biotorch.train import (
    MONITORS,
    Callback,
    InputSpec,
    Scorer,
    Task,
    Trainer,
    build_model,
    checkpoint_config,
    model_from_config,
    tsv_text,
    write_json,
)

REPO = Path(__file__).resolve().parent.parent


# -- options --------------------------------------------------------------------------------------
def device_arg(name: str) -> str:
    """``--device`` checked up front: a valid device name, and a usable GPU for ``cuda``."""
    try:
        device = bt.device(name)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None
    if device.type == "cuda" and not bt.cuda.is_available():
        raise argparse.ArgumentTypeError(
            f"{name!r}: no usable CUDA GPU here (biotorch.cuda.is_available() is False; a GPU "
            f"also needs CuPy: pip install 'biotorch[cuda12]' or '[cuda13]')"
        )
    return name


def add_training_arguments(group: argparse._ArgumentGroup, epochs: int, patience: int) -> None:
    """The options of :func:`train_and_report` (``train_fasta.py``, ``train_genome.py``)."""
    group.add_argument("--epochs", type=int, default=epochs)
    group.add_argument(
        "--batch-size",
        type=int,
        default=64,
        help="training batch per process (with --distributed the global batch is N times this)",
    )
    group.add_argument("--lr", type=float, default=3e-3)
    group.add_argument("--weight-decay", type=float, default=0.0)
    group.add_argument("--patience", type=int, default=patience, help="early stopping (epochs)")
    group.add_argument(
        "--lr-patience",
        type=int,
        default=1,
        help="halve the learning rate after this many epochs without a lower validation loss",
    )
    group.add_argument("--monitor", default="loss", choices=sorted(MONITORS))
    group.add_argument("--max-steps", type=int, help="stop each epoch after this many steps")
    group.add_argument(
        "--bootstrap",
        type=int,
        default=0,
        metavar="N",
        help="add a 95%% bootstrap interval (N resamples) to the final auROC",
    )


def add_scoring_arguments(p: argparse.ArgumentParser, batch_size: int) -> None:
    """The output, strand, batch and device options of the scoring scripts."""
    p.add_argument("-o", "--output", default="-", help="TSV path ('-': standard output)")
    p.add_argument("--both-strands", choices=("mean", "max"), help="average/max over strands")
    p.add_argument("--batch-size", type=int, default=batch_size)
    p.add_argument("--device", default="cpu", type=device_arg)


def add_distributed_arguments(p: argparse.ArgumentParser, what: str) -> None:
    """``--distributed`` and ``--dist-timeout`` (see :func:`init_distributed`)."""
    g = p.add_argument_group("several processes")
    g.add_argument(
        "--distributed",
        action="store_true",
        help=f"{what} with every process of `mpiexec -n N python ...` (needs "
        '`pip install "biotorch[distributed]"`); only rank 0 writes files and prints. Without '
        "mpiexec it is a world of one",
    )
    g.add_argument(
        "--dist-timeout",
        type=float,
        default=1800.0,
        metavar="SECONDS",
        help="how long a rank waits for the others in any collective before the job fails "
        "(default %(default)g)",
    )


def init_distributed(args: argparse.Namespace) -> bool:
    """Join the ``mpiexec`` job when ``--distributed`` was given; True on rank 0 (and in every
    run without ``--distributed``). The other ranks ignore warnings, which repeat rank 0's (every
    rank reads the same input). A missing mpi4py stops the script with the install command."""
    if not args.distributed:
        return True
    if args.dist_timeout <= 0:
        raise SystemExit(f"--dist-timeout {args.dist_timeout:g}: expected a positive number")
    try:
        dist.init_process_group(timeout=timedelta(seconds=args.dist_timeout))
    except ImportError as err:
        raise SystemExit(f"{Path(sys.argv[0]).name}: error: --distributed: {err}") from None
    if not dist.is_main_process():
        warnings.simplefilter("ignore")
    return dist.is_main_process()


def run_cli(main: Callable[[], Any]) -> None:
    """Run a script's ``main()``. Bad input (a missing or malformed file, checkpoint or weights
    name, an invalid value, ranks that disagree) ends it with one line on stderr and exit status
    1 instead of a traceback; ``BIOTORCH_TRACEBACK=1`` shows the traceback. In a job of several
    ranks, an error or exit on one rank aborts them all (nobody waits for it until the timeout);
    the line names the rank."""
    try:
        main()
    except (OSError, ValueError, dist.DistributedError) as err:
        if os.environ.get("BIOTORCH_TRACEBACK"):
            raise
        where = f" (rank {dist.get_rank()})" if _several_ranks() else ""
        _exit(f"{Path(sys.argv[0]).name}: error{where}: {err}")
    except SystemExit as done:
        if done.code not in (None, 0):
            _exit(done.code)
        raise


def _several_ranks() -> bool:
    return dist.is_initialized() and dist.get_world_size() > 1


def _exit(message: Any) -> None:
    """Exit with status 1 and ``message``; in a job of several ranks, abort every rank."""
    if not _several_ranks():
        sys.exit(message)
    if not isinstance(message, int):
        print(message, file=sys.stderr)
    dist.abort_job(1)


# -- training -------------------------------------------------------------------------------------
def shown(metric: float | None) -> str:
    """A metric to 4 decimals, or ``n/a`` where it is undefined (one class only)."""
    return "n/a" if metric is None else f"{metric:.4f}"


class EpochReport(Callback):
    """Prints each epoch's line and draws ``training_curve.png`` (main process only): at the
    end of training, and during it when ``redraw_seconds`` have passed since the last drawing
    (a live curve for long runs; a short run draws once: each drawing takes ~0.2 s)."""

    def __init__(self, curve: Path, redraw_seconds: float = 30.0) -> None:
        self.curve, self.redraw_seconds = curve, redraw_seconds
        self.drawn_at, self.drawn_epochs = time.monotonic(), 0

    def on_fit_start(self, trainer: Trainer) -> None:
        self.drawn_at = time.monotonic()

    def on_epoch_end(self, trainer: Trainer, row: dict) -> None:
        if not trainer.is_main_process:
            return
        print(
            f"epoch {row['epoch']:3d}  train loss {row['train_loss']:.4f}  val loss "
            f"{row['val_loss']:.4f}  auROC {shown(row['val_auroc'])}  auPRC "
            f"{shown(row['val_auprc'])}  accuracy {shown(row['val_accuracy'])}  "
            f"({row['seconds']:.1f} s)"
        )
        if time.monotonic() - self.drawn_at >= self.redraw_seconds:
            self.draw(trainer)

    def on_fit_end(self, trainer: Trainer) -> None:
        history = trainer.state["history"]
        if trainer.is_main_process and history and len(history) != self.drawn_epochs:
            self.draw(trainer)

    def draw(self, trainer: Trainer) -> None:
        history = trainer.state["history"]
        plot_curves(history, self.curve)
        self.drawn_at, self.drawn_epochs = time.monotonic(), len(history)


def train_and_report(
    model: Any,
    model_name: str,
    kwargs: dict,
    task: Task,
    inputs: InputSpec,
    loaders: dict[str, Any],
    args: argparse.Namespace,
) -> dict | None:
    """The scripts' training run: Adam + ReduceLROnPlateau (halving) in a
    :class:`~biotorch.train.Trainer`, early stopping on ``args.monitor``, ``best``/``last``
    checkpoints, ``metrics.json`` and ``training_curve.png`` in ``args.output_dir``;
    ``args.resume`` continues a run. Returns the metrics of the best epoch's model.

    With ``args.distributed`` (after :func:`init_distributed`; ``loaders["train"]`` holds this
    rank's shard) the model is wrapped in ``DistributedDataParallel``, every rank scores its
    block of the evaluation batches, rank 0 alone computes the metrics, prints and writes, and
    the other ranks return None."""
    out = Path(args.output_dir)
    main_process = dist.is_main_process()
    config = checkpoint_config(
        model_name,
        kwargs,
        task,
        inputs,
        args={k: v for k, v in vars(args).items() if k != "resume"},
        num_params=sum(p.numel() for p in model.parameters()),
    )
    if args.distributed:
        model = DistributedDataParallel(model)  # every rank starts from rank 0's weights
    trainer = Trainer(
        model,
        task,
        optimizer=bt.optim.Adam(model.parameters(), lr=args.lr, weight_decay=args.weight_decay),
        scheduler=lambda opt: bt.optim.lr_scheduler.ReduceLROnPlateau(
            opt, factor=0.5, patience=args.lr_patience
        ),
        epochs=args.epochs,
        monitor=args.monitor,
        patience=args.patience,
        checkpoint_dir=out,
        config=config,
        callbacks=[EpochReport(out / "training_curve.png")],
        model_input=inputs.model_input,
        max_steps=args.max_steps,
        progress=not args.quiet and sys.stderr.isatty(),
        is_main_process=main_process,
        distributed=args.distributed,
    )
    if args.resume:
        trainer.load_checkpoint(args.resume)
    sizes = {k: len(v.dataset) for k, v in loaders.items()}
    ranks = f", {dist.get_world_size()} processes" if args.distributed else ""
    if main_process:
        print(
            f"{model_name}: {config['num_params']:,} parameters, task {task.kind} "
            f"({', '.join(task.names[:5])}), data {sizes}, device {args.device}{ranks}"
        )
    start = time.perf_counter()
    trainer.fit(loaders["train"], loaders["val"])
    trainer.load_best()
    evaluations = {
        name: trainer.evaluate_sharded(loaders[name]) for name in ("val", "test") if name in loaders
    }
    if not main_process:
        return None
    state = trainer.state
    result = {
        "model": model_name,
        "num_params": config["num_params"],
        "task": task.kind,
        "targets": task.names,
        "best_epoch": state["best_epoch"],
        "monitor": args.monitor,
        "history": state["history"],
        "train_seconds": time.perf_counter() - start,
        "sizes": sizes,
    }
    for name, (loss, y, p) in evaluations.items():
        result[name] = {"loss": loss, **task.evaluate(y, p)}
        if args.bootstrap:
            result[name]["auroc_ci95"] = auroc_interval(y, p, args.bootstrap, name)
    write_json(out / "metrics.json", result)
    final = result.get("test", result["val"])
    ci = final.get("auroc_ci95")
    interval = f" [{ci[0]:.4f}, {ci[1]:.4f}]" if ci else ""
    print(
        f"best epoch {state['best_epoch']}: {'test' if 'test' in result else 'val'} "
        f"auROC {shown(final['auroc'])}{interval}  auPRC {shown(final['auprc'])}  accuracy "
        f"{shown(final['accuracy'])}; wrote {out}/best.safetensors, metrics.json, "
        f"training_curve.png"
    )
    return result


def auroc_interval(y: np.ndarray, p: np.ndarray, resamples: int, split: str) -> list | None:
    """The 95% bootstrap interval of the (macro) auROC, or None (said on stderr) when too many
    resamples lack a class."""
    try:
        ci = metrics.bootstrap(metrics.roc_auc, y, p, n_resamples=resamples)
    except ValueError as err:
        print(f"train_fasta: no bootstrap interval on {split}: {err}", file=sys.stderr)
        return None
    return [ci.low, ci.high]


def model_kwargs_from(items: list[str]) -> dict:
    """``--model-arg KEY=VALUE`` items as builder keyword arguments (VALUE parsed as JSON)."""
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise SystemExit(f"--model-arg {item!r}: expected KEY=VALUE")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


def model_for(args: argparse.Namespace, task: Task, alphabet: Any, lengths: np.ndarray) -> tuple:
    """(model on ``args.device``, its name, its builder kwargs): from ``--resume``'s config, or
    ``--model``/``--model-arg`` sized for the task and the data."""
    if args.resume:
        config = bt.load(args.resume)["config"]
        model_name, kwargs = config["model"], config["model_kwargs"]
        model = model_from_config(config)
    else:
        model_name = args.model
        model, kwargs = build_model(
            model_name, model_kwargs_from(args.model_arg), task, alphabet, lengths
        )
    return model.to(args.device), model_name, kwargs


# -- scoring --------------------------------------------------------------------------------------
def for_windows(scorer: Scorer, length: int | None, script: str) -> Scorer:
    """``scorer`` set up for genome windows of ``length`` bp (default: the model's or its
    recorded training length); a fixed-length model takes only its own length."""
    length = length or scorer.inputs.input_length
    if length is None:
        raise SystemExit(f"{script}: the model records no input length; give --length (bp)")
    fixed = getattr(scorer.model, "input_length", None)
    if fixed is not None and length != fixed:
        raise SystemExit(f"{script}: --length {length}, but the model takes {fixed} bp")
    if scorer.inputs.alphabet != "DNA":
        raise SystemExit(
            f"{script}: {scorer.source} reads {scorer.inputs.alphabet} sequences; genome "
            f"windows need a DNA model"
        )
    return replace(scorer, inputs=replace(scorer.inputs, input_length=length))


# -- output ---------------------------------------------------------------------------------------
def write_tsv(output: str, header: list[str], rows: list[list[str]], script: str) -> None:
    """A TSV table to standard output (``output == "-"``) or, all-or-nothing, a file; a field
    that would corrupt it (tab, newline) stops the script before anything is written."""
    text = tsv_text(header, rows)
    if output == "-":
        sys.stdout.write(text)
        return
    with atomic_output(output) as tmp:
        tmp.write_text(text)
    print(f"{script}: wrote {len(rows)} rows to {output}", file=sys.stderr)


def pyplot() -> Any:
    """``matplotlib.pyplot`` on the Agg backend, or None (with a warning) when matplotlib is not
    installed: the scripts then write no PNG files."""
    try:
        import matplotlib
    except ImportError:
        warnings.warn(
            "matplotlib is not installed (pip install 'biotorch[examples]'): no PNG files",
            UserWarning,
            stacklevel=3,
        )
        return None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(plt: Any, fig: Any, path: Path) -> None:
    """Save a matplotlib figure as ``path`` all-or-nothing (the temporary name keeps the
    ``.png`` suffix, which picks the format), and close it."""
    try:
        with atomic_output(path) as tmp:
            fig.savefig(tmp, dpi=100)
    finally:
        plt.close(fig)


def plot_curves(history: list[dict], path: Path) -> None:
    """Loss and validation auROC/auPRC/accuracy per epoch, as a PNG (matplotlib, Agg)."""
    plt = pyplot()
    if plt is None:
        return
    epochs = [h["epoch"] for h in history]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.5))
    ax1.plot(epochs, [h["train_loss"] for h in history], "o-", label="train")
    ax1.plot(epochs, [h["val_loss"] for h in history], "o-", label="validation")
    ax1.set(xlabel="epoch", ylabel="loss", title="loss")
    ax1.legend()
    for key in ("auroc", "auprc", "accuracy"):
        ax2.plot(epochs, [h[f"val_{key}"] for h in history], "o-", label=key)
    ax2.set(xlabel="epoch", title="validation")
    ax2.legend()
    fig.tight_layout()
    save_figure(plt, fig, path)
