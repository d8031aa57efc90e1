"""biotorch.train: tasks, stratified splits, the Trainer (checkpoints, exact resume, callbacks,
early stopping, the data-parallel seam), scorers and result files."""

import json
import threading

import numpy as np
import pytest

import biotorch as bt
from biotorch import nn
from biotorch.data import DataLoader
from biotorch.train import (
    CHECKPOINT_FORMAT,
    Callback,
    Task,
    Trainer,
    TransformedSubset,
    build_model,
    checkpoint_config,
    input_spec_for,
    load_data,
    load_scorer,
    score_fasta,
    stratified_folds,
    stratified_split,
    tsv_text,
    write_json,
)

MOTIF = "TGACTCA"


def _fasta(path, n, motif, rng, length=40):
    seqs = []
    for _ in range(n):
        s = "".join(rng.choice(list("ACGT"), length))
        if motif:
            at = int(rng.integers(0, length - len(motif) + 1))
            s = s[:at] + motif + s[at + len(motif) :]
        seqs.append(s)
    path.write_text("".join(f">{path.stem}{i}\n{s}\n" for i, s in enumerate(seqs)))
    return path


@pytest.fixture(scope="module")
def binding(tmp_path_factory):
    d = tmp_path_factory.mktemp("train")
    rng = np.random.default_rng(0)
    neg, pos = _fasta(d / "neg.fa", 96, None, rng), _fasta(d / "pos.fa", 96, MOTIF, rng)
    return f"neg={neg},pos={pos}", d


def _setup(spec, seed=0, dropout=0.2, device="cpu"):
    """(model, task, inputs, kwargs, train loader, val loader) for the binding files."""
    bt.manual_seed(seed)
    data = load_data(spec)
    task = Task.from_targets(data.targets, data.classes)
    parts = stratified_split(data.targets, [0.25], seed)
    train = TransformedSubset(data, np.flatnonzero(parts == 0))
    val = TransformedSubset(data, np.flatnonzero(parts == 1))
    args = {"motif_length": 8, "dropout": dropout}
    model, kwargs = build_model("deepbind", args, task, bt.data.DNA, data.lengths)
    inputs = input_spec_for(model, bt.data.DNA, 0.25, kwargs)
    common = dict(collate_fn=inputs.collator(), device=device)
    loaders = [
        DataLoader(train, batch_size=16, shuffle=True, seed=seed, **common),
        DataLoader(val, batch_size=32, **common),
    ]
    return model.to(device), task, inputs, kwargs, *loaders


def _trainer(model, task, inputs, **options):
    return Trainer(
        model,
        task,
        optimizer=lambda params: bt.optim.Adam(params, lr=0.01),
        scheduler=lambda opt: bt.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=0.5, patience=0),
        model_input=inputs.model_input,
        **options,
    )


# -- tasks and splits -----------------------------------------------------------------------------
def test_task_kinds_from_targets():
    assert Task.from_targets(np.array([0, 1, 1]), ["neg", "pos"]) == Task("binary", ["pos"])
    assert Task.from_targets(np.array([0, 2, 1])).kind == "multiclass"
    multi = Task.from_targets(np.zeros((3, 2), np.int64))
    assert multi == Task("multilabel", ["target_0", "target_1"]) and multi.num_outputs == 2
    with pytest.raises(ValueError, match="labels are real numbers"):
        Task.from_targets(np.array([0.5, 1.5]))
    with pytest.raises(ValueError, match="kind 'regression'"):
        Task("regression", ["y"])


def test_task_probabilities_and_loss():
    logits = bt.tensor([[2.0, 0.0, -1.0], [0.0, 1.0, 0.0]])
    p = Task("multiclass", list("abc")).probabilities(logits)
    np.testing.assert_allclose(p.sum(1), 1.0, rtol=1e-6)
    binary = Task("binary", ["pos"])
    assert binary.probabilities(logits[:, :1]).shape == (2,)
    loss = binary.loss(logits[:, :1], bt.tensor([1, 0]))
    expected = -np.log(1 / (1 + np.exp(-2.0))) / 2 - np.log(0.5) / 2
    assert loss.item() == pytest.approx(expected, rel=1e-6)


def test_stratified_split_is_seeded_and_keeps_class_proportions():
    y = np.array([0] * 80 + [1] * 20)
    parts = stratified_split(y, [0.1, 0.2], seed=3)
    np.testing.assert_array_equal(parts, stratified_split(y, [0.1, 0.2], seed=3))
    assert not np.array_equal(parts, stratified_split(y, [0.1, 0.2], seed=4))
    for cls, n in ((0, 80), (1, 20)):
        counts = np.bincount(parts[y == cls], minlength=3)
        assert abs(counts[1] - 0.1 * n) <= 1 and abs(counts[2] - 0.2 * n) <= 1
    rows = np.array([[0, 1], [1, 1]] * 10)  # multi-label rows: each distinct row is a class
    assert np.bincount(stratified_split(rows, [0.5])[rows[:, 0] == 1]).tolist() == [5, 5]
    assert (stratified_split(y, [0.0, 0.3]) != 1).all()
    with pytest.raises(ValueError, match="sum <= 1"):
        stratified_split(y, [0.6, 0.6])


def test_stratified_folds_cover_each_class_evenly():
    y = np.array([0] * 30 + [1] * 12 + [2] * 9)
    folds = stratified_folds(y, 3, seed=1)
    for cls in range(3):
        counts = np.bincount(folds[y == cls], minlength=3)
        assert counts.max() - counts.min() <= 1 and counts.sum() == (y == cls).sum()
    with pytest.raises(ValueError, match="k=1"):
        stratified_folds(y, 1)


# -- the trainer ----------------------------------------------------------------------------------
def test_fit_lowers_the_loss_and_writes_documented_checkpoints(binding, tmp_path):
    spec, _ = binding
    model, task, inputs, kwargs, train, val = _setup(spec)
    config = checkpoint_config("deepbind", kwargs, task, inputs)
    trainer = _trainer(model, task, inputs, epochs=4, checkpoint_dir=tmp_path, config=config)
    history = trainer.fit(train, val)
    assert [h["epoch"] for h in history] == [1, 2, 3, 4]
    assert history[-1]["train_loss"] < history[0]["train_loss"] - 0.05
    assert set(history[0]) == {"epoch", "train_loss", "val_loss", "val_auroc", "val_auprc"} | {
        "val_accuracy",
        "lr",
        "seconds",
    }
    ckpt = bt.load(tmp_path / "last.safetensors")
    documented = {"format", "model", "optimizer", "scheduler", "epoch", "state", "rng", "config"}
    assert set(ckpt) == documented and ckpt["format"] == CHECKPOINT_FORMAT
    assert ckpt["epoch"] == 4 and ckpt["state"]["history"] == json.loads(json.dumps(history))
    best = bt.load(tmp_path / "best.safetensors")
    assert best["epoch"] == trainer.state["best_epoch"] == ckpt["state"]["best_epoch"]
    scorer = load_scorer(str(tmp_path / "best.safetensors"))
    assert scorer.task == task and scorer.inputs == inputs


def test_resume_reproduces_an_uninterrupted_run_bit_for_bit(binding, tmp_path):
    """Dropout draws from the global generator and the loader shuffles per epoch: both must
    continue exactly where the interrupted run stopped."""
    spec, _ = binding
    model, task, inputs, _, train, val = _setup(spec)
    straight = _trainer(model, task, inputs, epochs=3, checkpoint_dir=tmp_path / "a")
    straight_history = straight.fit(train, val)
    model, task, inputs, _, train, val = _setup(spec)
    _trainer(model, task, inputs, epochs=2, checkpoint_dir=tmp_path / "b").fit(train, val)
    model, task, inputs, _, train, val = _setup(spec)
    bt.manual_seed(123)  # the resumed run's generator state comes from the checkpoint
    resumed = _trainer(model, task, inputs, epochs=3, checkpoint_dir=tmp_path / "b")
    history = resumed.fit(train, val, resume=tmp_path / "b" / "last.safetensors")
    a = bt.load(tmp_path / "a" / "last.safetensors")
    b = bt.load(tmp_path / "b" / "last.safetensors")
    for key in a["model"]:
        np.testing.assert_array_equal(a["model"][key].numpy(), b["model"][key].numpy())
    np.testing.assert_array_equal(a["rng"].numpy(), b["rng"].numpy())
    assert [h["epoch"] for h in history] == [1, 2, 3]
    timeless = [[{k: v for k, v in h.items() if k != "seconds"} for h in run] for run in (
        straight_history, history)]  # fmt: skip
    assert timeless[0] == timeless[1]


@pytest.mark.gpu
def test_resume_on_the_gpu_restores_the_cuda_generator(binding, tmp_path):
    """On a GPU, dropout draws from the CUDA generator: the checkpoint keeps its state too."""
    spec, _ = binding
    for name, epochs, resume in (("a", 3, False), ("b", 2, False), ("b", 3, True)):
        model, task, inputs, _, train, val = _setup(spec, device="cuda")
        trainer = _trainer(model, task, inputs, epochs=epochs, checkpoint_dir=tmp_path / name)
        if resume:
            bt.cuda.manual_seed(99)  # the checkpoint's state must replace this one
        trainer.fit(train, val, resume=tmp_path / name / "last.safetensors" if resume else None)
    a, b = (bt.load(tmp_path / name / "last.safetensors") for name in "ab")
    assert "cuda_rng" in a
    for key in a["model"]:
        np.testing.assert_array_equal(a["model"][key].numpy(), b["model"][key].numpy())


def test_optimizer_and_scheduler_instances_and_step_schedulers(binding):
    spec, _ = binding
    model, task, inputs, _, train, val = _setup(spec)
    optimizer = bt.optim.SGD(model.parameters(), lr=0.1)
    scheduler = bt.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5)
    trainer = Trainer(
        model, task, optimizer=optimizer, scheduler=scheduler, epochs=2,
        model_input=inputs.model_input, max_steps=2,
    )  # fmt: skip
    assert trainer.optimizer is optimizer and trainer.scheduler is scheduler
    history = trainer.fit(train, val)
    assert [h["lr"] for h in history] == pytest.approx([0.05, 0.025])
    with pytest.raises(ValueError, match="monitor 'f1'"):
        Trainer(model, task, monitor="f1")


class _Recorder(Callback):
    def __init__(self, stop_after=None):
        self.calls, self.stop_after = [], stop_after

    def on_fit_start(self, trainer):
        self.calls.append("fit_start")

    def on_epoch_start(self, trainer, epoch):
        self.calls.append(f"epoch_start {epoch}")

    def on_batch_end(self, trainer, step, loss):
        assert np.isfinite(loss)
        self.calls.append("batch")

    def on_epoch_end(self, trainer, row):
        self.calls.append(f"epoch_end {row['epoch']}")
        if row["epoch"] == self.stop_after:
            trainer.stop_training = True

    def on_fit_end(self, trainer):
        self.calls.append("fit_end")


def test_callbacks_are_called_in_order_and_can_stop(binding):
    spec, _ = binding
    model, task, inputs, _, train, val = _setup(spec)
    recorder = _Recorder(stop_after=2)
    trainer = _trainer(model, task, inputs, epochs=5, max_steps=2, callbacks=[recorder])
    assert len(trainer.fit(train, val)) == 2
    epoch = ["batch", "batch"]
    assert recorder.calls == ["fit_start", "epoch_start 1", *epoch, "epoch_end 1"] + [
        "epoch_start 2",
        *epoch,
        "epoch_end 2",
        "fit_end",
    ]


def test_early_stopping_after_patience_epochs_without_improvement(binding):
    spec, _ = binding
    model, task, inputs, _, train, val = _setup(spec, dropout=0.0)
    frozen = Trainer(
        model, task, optimizer=lambda p: bt.optim.SGD(p, lr=0.0), epochs=10, patience=2,
        model_input=inputs.model_input, max_steps=1,
    )  # fmt: skip
    history = frozen.fit(train, val)
    assert len(history) == 3 and frozen.state["best_epoch"] == 1
    assert frozen.state["bad_epochs"] == 2


class _Wrapped(nn.Module):
    """What a data-parallel wrapper looks like to the trainer: the model as ``module``."""

    def __init__(self, module):
        super().__init__()
        self.module = module
        self.calls = 0

    def forward(self, x):
        self.calls += 1
        return self.module(x)


class _EpochRecorder:
    def __init__(self):
        self.epochs = []

    def set_epoch(self, epoch):
        self.epochs.append(epoch)


class _Loader:
    """A loader whose batch sampler records ``set_epoch`` (as a distributed sampler needs)."""

    def __init__(self, loader):
        self.loader, self.batch_sampler = loader, _EpochRecorder()

    def __iter__(self):
        return iter(self.loader)


def test_data_parallel_seam_wrapper_set_epoch_and_main_process(binding, tmp_path, capsys):
    spec, _ = binding
    model, task, inputs, kwargs, train, val = _setup(spec)
    wrapped, loader = _Wrapped(model), _Loader(train)
    config = checkpoint_config("deepbind", kwargs, task, inputs)
    other_rank = _trainer(
        wrapped, task, inputs, epochs=2, max_steps=2, checkpoint_dir=tmp_path / "rank1",
        config=config, progress=True, is_main_process=False,
    )  # fmt: skip
    other_rank.fit(loader, val)
    assert loader.batch_sampler.epochs == [1, 2] and wrapped.calls > 0
    assert not (tmp_path / "rank1").exists() and capsys.readouterr().err == ""
    main = _trainer(wrapped, task, inputs, epochs=1, checkpoint_dir=tmp_path / "rank0")
    main.config = config
    main.fit(loader, val)
    saved = bt.load(tmp_path / "rank0" / "last.safetensors")["model"]
    assert set(saved) == set(model.state_dict())  # no "module." prefix
    assert load_scorer(str(tmp_path / "rank0" / "last.safetensors")).model is not None


def test_tuple_batches_and_device(tmp_path):
    bt.manual_seed(0)
    x = bt.randn(64, 3)
    y = (x[:, 0] > 0).long()
    batches = [(x[i : i + 16], y[i : i + 16]) for i in range(0, 64, 16)]
    model = nn.Linear(3, 1)
    trainer = Trainer(model, Task("binary", ["pos"]), epochs=3, device="cpu")
    trainer.optimizer = bt.optim.SGD(model.parameters(), lr=0.5)
    history = trainer.fit(batches, batches)
    assert history[-1]["val_loss"] < history[0]["val_loss"]
    assert history[-1]["val_auroc"] > 0.9
    with pytest.raises(ValueError, match="gave no samples"):
        trainer.evaluate([])


# -- data, scorers --------------------------------------------------------------------------------
def test_load_data_specs(binding, tmp_path):
    spec, d = binding
    data = load_data(spec)
    assert data.classes == ["neg", "pos"] and len(data) == 192
    (tmp_path / "t.csv").write_text("sequence,label\nACGT,1\nTTGA,0\n")
    assert load_data(str(tmp_path / "t.csv")).targets.tolist() == [1, 0]
    with pytest.raises(ValueError, match="a single FASTA file needs --labels"):
        load_data(str(d / "pos.fa"))


def test_score_fasta_matches_the_model_in_file_order(binding, tmp_path):
    spec, d = binding
    model, task, inputs, kwargs, train, val = _setup(spec)
    config = checkpoint_config("deepbind", kwargs, task, inputs)
    _trainer(model, task, inputs, epochs=1, checkpoint_dir=tmp_path, config=config).fit(train, val)
    scorer = load_scorer(str(tmp_path / "best.safetensors"))
    ids, lengths, probs, logits = score_fasta(scorer, str(d / "pos.fa"), batch_size=10)
    assert ids == [f"pos{i}" for i in range(96)] and (lengths == 40).all()
    batch = inputs.collator()([(s, 0) for s in _sequences(d / "pos.fa")[:5]])
    with bt.no_grad():
        direct = scorer.model(bt.tensor(batch.inputs)).numpy()
    np.testing.assert_allclose(logits[:5], direct, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(probs[:, 0], 1 / (1 + np.exp(-logits[:, 0])), rtol=1e-5)
    with pytest.raises(FileNotFoundError, match="checkpoint 'gone.safetensors'"):
        load_scorer("gone.safetensors")


def _sequences(path):
    return [line for line in path.read_text().splitlines() if not line.startswith(">")]


# -- result files ---------------------------------------------------------------------------------
def test_tsv_text_refuses_fields_that_would_corrupt_the_table():
    assert tsv_text(["id", "p"], [["a", "0.5"]]) == "id\tp\na\t0.5\n"
    with pytest.raises(ValueError, match=r"row 2 \('b\\tc'\), column 'id'.* contains a tab"):
        tsv_text(["id", "p"], [["a", "1"], ["b\tc", "2"]])
    with pytest.raises(ValueError, match="column 'label'.* contains a newline"):
        tsv_text(["id", "label"], [["a", "x\ny"]])
    with pytest.raises(ValueError, match="header, column 'a\\\\rb'.* carriage return"):
        tsv_text(["a\rb"], [])


def test_write_json_is_strict_and_concurrent_writers_do_not_collide(tmp_path):
    target = tmp_path / "metrics.json"
    write_json(target, {"auroc": float("nan"), "x": [1.0, float("inf")]})
    assert json.loads(target.read_text()) == {"auroc": None, "x": [1.0, None]}
    payloads = [{"writer": w, "rows": list(range(20000))} for w in range(4)]
    errors = []

    def write(payload):
        try:
            for _ in range(10):
                write_json(target, payload)
        except Exception as err:  # noqa: BLE001 - any collision is the failure under test
            errors.append(err)

    threads = [threading.Thread(target=write, args=(p,)) for p in payloads]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and json.loads(target.read_text()) in payloads
    assert [p.name for p in tmp_path.iterdir()] == ["metrics.json"]
