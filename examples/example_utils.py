"""Helpers shared by the example scripts: data specs, tasks (loss, probabilities, metrics), model
inputs, checkpoints and model loading.

The scripts import it as a sibling module (``python examples/train_fasta.py`` puts ``examples/``
on ``sys.path``).
"""

from __future__ import annotations

import argparse
import inspect
import math
import os
import sys
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

import biotorch as bt
import biotorch.nn.functional as F
from biotorch import metrics
from biotorch.data import DNA, PROTEIN, RNA, Alphabet, Batch, SequenceCollator
from biotorch.data.fasta import FastaDataset, SequenceTableDataset
from biotorch.models import StrandAverage
from biotorch.models.registry import get_model, get_model_weights, load_pretrained

REPO = Path(__file__).resolve().parent.parent
ALPHABETS = {"DNA": DNA, "RNA": RNA, "PROTEIN": PROTEIN}
TABLE_SUFFIXES = (".csv", ".tsv", ".tab", ".txt")


def alphabet_named(name: str) -> Alphabet:
    """``DNA``, ``RNA`` or ``PROTEIN`` (any case)."""
    if name.upper() not in ALPHABETS:
        raise SystemExit(f"--alphabet {name!r}: expected one of {sorted(ALPHABETS)}")
    return ALPHABETS[name.upper()]


# -- data -----------------------------------------------------------------------------------------
def load_data(
    spec: str,
    alphabet: Alphabet = DNA,
    labels: str | None = None,
    label_column: str = "label",
    sequence_column: str = "sequence",
    label_from_header: str | None = None,
    multi_label: bool = False,
    classes: list[str] | None = None,
    iupac: str = "n",
) -> FastaDataset | SequenceTableDataset:
    """A labelled dataset from a data spec.

    ``spec`` is one of: ``NAME=PATH[,NAME=PATH...]`` (one FASTA file per class; the target is the
    class index in the order given, so with two classes the second is the positive one), a
    CSV/TSV sequence table (``sequence_column``, ``label_column``; ``label_column`` may be
    comma-separated for several 0/1 targets), or one FASTA file with labels from the ``labels``
    table (``id``, ``label_column``) or from a ``label_from_header=value`` header field.
    """
    columns: str | list[str] = label_column.split(",") if "," in label_column else label_column
    if "=" in spec:
        files = dict(part.split("=", 1) for part in spec.split(","))
        return FastaDataset(files, alphabet, iupac=iupac)
    shared = dict(label_columns=columns, multi_label=multi_label, classes=classes, iupac=iupac)
    suffixes = [s.lower() for s in Path(spec).suffixes if s.lower() != ".gz"]
    if suffixes and suffixes[-1] in TABLE_SUFFIXES:
        return SequenceTableDataset(
            spec, sequence_column=sequence_column, alphabet=alphabet, **shared
        )
    if labels is None and label_from_header is None:
        raise SystemExit(
            f"data {spec!r}: a single FASTA file needs --labels TABLE or --label-from-header "
            "FIELD (or give one file per class as NAME=PATH,NAME=PATH)"
        )
    return FastaDataset(
        spec, alphabet, labels=labels, label_from_header=label_from_header, **shared
    )


def stratified_ranks(y: np.ndarray, seed: int) -> np.ndarray:
    """A number in [0, 1) per sample, evenly spread within each class (each distinct row of a
    2-D ``y``) in a seeded random order: ``ranks < 0.1`` is a stratified 10 % split and
    ``floor(ranks * k)`` gives stratified folds."""
    key = y if y.ndim == 1 else np.unique(y, axis=0, return_inverse=True)[1].ravel()
    rng = np.random.default_rng(seed)
    ranks = np.empty(len(key))
    for value in np.unique(key):
        rows = rng.permutation(np.flatnonzero(key == value))
        ranks[rows] = (np.arange(len(rows)) + rng.random()) / len(rows)
    return ranks


# -- tasks ----------------------------------------------------------------------------------------
@dataclass
class Task:
    """What the outputs mean: ``binary`` (one logit), ``multiclass`` (one logit per class,
    softmax) or ``multilabel`` (one logit per target, sigmoid); ``names`` of the outputs."""

    kind: str
    names: list[str]

    @classmethod
    def from_targets(cls, targets: np.ndarray, classes: list[str] | None) -> Task:
        if targets.ndim == 2:
            return cls(
                "multilabel", list(classes or [f"target_{j}" for j in range(targets.shape[1])])
            )
        if targets.dtype.kind not in "iub":
            raise SystemExit("train: labels are real numbers; expected class labels or 0/1 targets")
        n = len(classes) if classes is not None else int(targets.max()) + 1
        names = list(classes) if classes is not None else [str(c) for c in range(n)]
        if n > 2:
            return cls("multiclass", names)
        return cls("binary", [names[-1]])

    @property
    def num_outputs(self) -> int:
        return len(self.names)

    def loss(self, logits: bt.Tensor, y: bt.Tensor) -> bt.Tensor:
        if self.kind == "multiclass":
            return F.cross_entropy(logits, y.long())
        if self.kind == "binary":
            logits = logits.reshape(-1)
        return F.binary_cross_entropy_with_logits(logits, y.float())

    def probabilities(self, logits: bt.Tensor) -> np.ndarray:
        """Scores ``(N,)`` (binary) or ``(N, outputs)``, as NumPy."""
        if self.kind == "multiclass":
            return F.softmax(logits, dim=1).detach().cpu().numpy()
        p = bt.sigmoid(logits).detach().cpu().numpy()
        return p.reshape(-1) if self.kind == "binary" else p

    def evaluate(self, y: np.ndarray, p: np.ndarray) -> dict:
        """JSON-ready metrics (``auroc``, ``auprc``, ``accuracy``, ...) from biotorch.metrics."""
        if self.kind == "binary":
            return metrics.evaluate_binary(y, p)
        if self.kind == "multiclass":
            out = metrics.evaluate_multiclass(y, p, names=self.names)
            c = len(self.names)
            cm = np.bincount(y.astype(np.int64) * c + p.argmax(1), minlength=c * c)
            out["confusion"] = cm.reshape(c, c).tolist()  # rows: true class, columns: predicted
            return out
        return metrics.evaluate_multilabel(y, p, names=self.names)


# -- model inputs ---------------------------------------------------------------------------------
@dataclass
class InputSpec:
    """How sequences become model inputs: alphabet, N value, fixed length (None: any length,
    padded per batch) and whether the model takes a whole :class:`Batch` (variable-length
    models with masks) or a one-hot tensor."""

    alphabet: str = "DNA"
    n_value: float = 0.0
    input_length: int | None = None
    takes_batch: bool = False
    one_hot: bool = True

    def collator(self) -> SequenceCollator:
        fixed = self.input_length is not None
        return SequenceCollator(
            alphabet=ALPHABETS[self.alphabet],
            side="center" if fixed else "right",
            length=self.input_length,
            truncate="center" if fixed else None,
            one_hot=self.one_hot,
            n_value=self.n_value,
        )

    def model_input(self, batch: Batch) -> Any:
        return batch if self.takes_batch else batch.inputs


def takes_batch(model: bt.nn.Module) -> bool:
    """Whether ``model.forward`` takes a padded :class:`Batch` (it accepts ``mask=``): the
    variable-length models, which get tokens and mask padding themselves."""
    return "mask" in inspect.signature(model.forward).parameters


def build_model(
    name: str, kwargs: dict, task: Task, alphabet: Alphabet, lengths: np.ndarray
) -> tuple[bt.nn.Module, dict]:
    """``get_model(name)`` with ``num_targets`` for the task, ``in_channels`` for the alphabet and,
    for fixed-length models, ``input_length`` = the longest sequence (unless given); returns the
    model and the keyword arguments that rebuild it."""
    kwargs = {"num_targets": task.num_outputs, **kwargs}
    if alphabet is not DNA:
        kwargs.setdefault("alphabet", alphabet.name)
    model = _get(name, kwargs)
    if getattr(model, "input_length", None) is not None and "input_length" not in kwargs:
        kwargs["input_length"] = int(lengths.max())
        model = _get(name, kwargs)
    return model, kwargs


def _get(name: str, kwargs: dict) -> bt.nn.Module:
    try:
        return get_model(name, **kwargs)
    except TypeError as err:
        if "alphabet" in kwargs and "alphabet" in str(err):
            rest = {k: v for k, v in kwargs.items() if k != "alphabet"}
            rest.setdefault("in_channels", len(ALPHABETS[kwargs["alphabet"]]))
            return get_model(name, **rest)
        if "unexpected keyword argument" in str(err):
            raise SystemExit(f"model {name!r}: {err} (check --model-arg)") from None
        raise


def input_spec_for(
    model: bt.nn.Module, alphabet: Alphabet, n_value: float, model_kwargs: dict | None = None
) -> InputSpec:
    """How ``model`` takes sequences; Batch-taking models one-hot encode tokens themselves, with
    their own ``n_value`` builder argument (default 0)."""
    batch = takes_batch(model)
    if batch:
        n_value = float((model_kwargs or {}).get("n_value", 0.0))
    return InputSpec(
        alphabet=alphabet.name,
        n_value=n_value,
        input_length=getattr(model, "input_length", None),
        takes_batch=batch,
        one_hot=not batch,
    )


# -- checkpoints ----------------------------------------------------------------------------------
@dataclass
class Scorer:
    """A model with what it needs to score sequences: its task and input spec."""

    model: bt.nn.Module
    task: Task
    inputs: InputSpec
    source: str


def checkpoint_config(
    model_name: str, model_kwargs: dict, task: Task, inputs: InputSpec, **extra: Any
) -> dict:
    """The ``config`` entry of a checkpoint: enough to rebuild the model and its inputs."""
    return {
        "model": model_name,
        "model_kwargs": model_kwargs,
        "task": asdict(task),
        "inputs": asdict(inputs),
        **extra,
    }


def load_scorer(source: str, device: str = "cpu") -> Scorer:
    """A :class:`Scorer` from a checkpoint written by ``train_fasta.py``/``train_genome.py`` or
    from a pretrained weights name (``biotorch.models.load_pretrained``)."""
    if os.path.exists(source):
        ckpt = bt.load(source)
        config = ckpt["config"]
        model = get_model(config["model"], **config["model_kwargs"])
        model.load_state_dict(ckpt["model"])
        task, inputs = Task(**config["task"]), InputSpec(**config["inputs"])
    else:
        if source.endswith(".safetensors") or os.sep in source:
            raise FileNotFoundError(f"checkpoint {source!r} does not exist")
        entry = get_model_weights(source)
        model = load_pretrained(source)
        task = Task(entry.task, list(entry.targets))
        inputs = input_spec_for(model, ALPHABETS[entry.alphabet], entry.n_value, entry.config)
        inputs.input_length = entry.input_length  # the training length, also for any-length models
    return Scorer(model.to(device).eval(), task, inputs, source)


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


def add_scoring_arguments(p: argparse.ArgumentParser, batch_size: int) -> None:
    """The output, strand, batch and device options of the scoring scripts."""
    p.add_argument("-o", "--output", default="-", help="TSV path ('-': standard output)")
    p.add_argument("--both-strands", choices=("mean", "max"), help="average/max over strands")
    p.add_argument("--batch-size", type=int, default=batch_size)
    p.add_argument("--device", default="cpu", type=device_arg)


def scores_of(scorer: Scorer, logits: bt.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """(probabilities, logits) as ``(N, outputs)`` NumPy arrays."""
    n = logits.shape[0]
    probs = scorer.task.probabilities(logits).reshape(n, -1)
    return probs, logits.detach().cpu().numpy().reshape(n, -1)


def strand_model(scorer: Scorer, mode: str | None) -> bt.nn.Module:
    """The scorer's model, or its average (``mode="mean"``) or maximum (``"max"``) over both
    strands (:class:`biotorch.models.StrandAverage`)."""
    if not mode:
        return scorer.model
    alphabet = ALPHABETS[scorer.inputs.alphabet]
    return StrandAverage(scorer.model, mode=mode, alphabet=alphabet).eval()


def atomic_write_text(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def write_tsv(output: str, lines: list[str], script: str) -> None:
    """Tab-separated ``lines`` to standard output (``output == "-"``) or, atomically, a file."""
    text = "\n".join(lines) + "\n"
    if output == "-":
        sys.stdout.write(text)
        return
    atomic_write_text(Path(output), text)
    print(f"{script}: wrote {len(lines) - 1} rows to {output}", file=sys.stderr)


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


class _NoBar:
    """What the scripts use of a tqdm bar, showing nothing."""

    def __init__(self, iterable: Any) -> None:
        self.iterable = iterable

    def __iter__(self) -> Any:
        return iter(self.iterable)

    def set_postfix(self, **values: Any) -> None:
        pass


def progress(iterable: Any, desc: str, disable: bool) -> Any:
    """A tqdm progress bar over ``iterable``, or a silent stand-in without tqdm installed."""
    try:
        from tqdm import tqdm
    except ImportError:
        return _NoBar(iterable)
    return tqdm(iterable, desc=desc, leave=False, disable=disable)


def json_ready(obj: Any) -> Any:
    """``obj`` with NaN/inf floats replaced by None (strict JSON)."""
    if isinstance(obj, dict):
        return {k: json_ready(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [json_ready(v) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


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


def run_cli(main: Callable[[], Any]) -> None:
    """Run a script's ``main()``. Bad input (a missing or malformed file, checkpoint or weights
    name, an invalid value) ends it with one line on stderr and exit status 1 instead of a
    traceback; ``BIOTORCH_TRACEBACK=1`` shows the traceback."""
    try:
        main()
    except (OSError, ValueError) as err:
        if os.environ.get("BIOTORCH_TRACEBACK"):
            raise
        sys.exit(f"{Path(sys.argv[0]).name}: error: {err}")
