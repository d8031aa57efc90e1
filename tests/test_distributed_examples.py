"""``--distributed`` in the example scripts, proven with real ``mpiexec -n 2`` jobs: data-parallel
training equals one process with the doubled batch, resume under mpiexec, sharded predict.py,
score_variants.py and interpret.py write the single-process tables byte for byte, and a failing
or disagreeing rank ends the job at once. Each job runs a second or two on tiny data made here."""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from test_distributed import _mpiexec, run_job

import biotorch as bt
from biotorch.data import BucketBatchSampler, DistributedSampler
from biotorch.train import SplitBatchSampler

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples"
ENV = {k: v for k, v in os.environ.items() if k != "BIOTORCH_TRACEBACK"}
ENV.update(OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
ENV["PYTHONPATH"] = os.pathsep.join([str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])])
#: A model without dropout (its masks would differ between one process and two ranks).
TRAIN = ["--quiet", "--lr", "0.01", "--model-arg", "motif_length=8", "--model-arg", "dropout=0"]


def run(script, *argv, ranks=0, timeout=120, env=ENV, code=0, per_rank=None):
    """``examples/script argv`` as plain python (``ranks=0``) or under ``mpiexec -n ranks``;
    ``per_rank`` gives each rank its own extra arguments (an MPMD job). Killed on a hang."""
    command = [sys.executable, str(EXAMPLES / script), *map(str, argv)]
    if per_rank is not None:
        launch = [_mpiexec()]
        for i, extra in enumerate(per_rank):
            launch += [":"] * (i > 0) + ["-n", "1", *command, *map(str, extra)]
        command = launch
    elif ranks:
        command = [_mpiexec(), "-n", str(ranks), *command]
    done = run_job(command, env, timeout, f"{script} {argv}")
    if code is not None:
        assert done.returncode == code, done.stdout + done.stderr
    return done


def _fasta(path, seqs, prefix):
    path.write_text("".join(f">{prefix}{i}\n{s}\n" for i, s in enumerate(seqs)))
    return path


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """neg/pos FASTA files of 160 random 40 bp sequences each (positives carry an AP-1 site):
    288 training sequences, 9 batches of 32."""
    d = tmp_path_factory.mktemp("data")
    rng = np.random.default_rng(0)
    seqs = ["".join(rng.choice(list("ACGT"), 40)) for _ in range(320)]
    pos = [s[:10] + "TGACTCA" + s[17:] for s in seqs[160:]]
    spec = f"neg={_fasta(d / 'neg.fa', seqs[:160], 'neg')},pos={_fasta(d / 'pos.fa', pos, 'pos')}"
    return spec, d


def _params(path):
    model = bt.load(path)["model"]
    return {k: v.numpy() for k, v in model.items()}


@pytest.fixture(scope="module")
def two_ranks(data):
    """An uninterrupted 3-epoch run on two ranks with 16 sequences per rank."""
    spec, d = data
    out = d / "two"
    done = run(
        "train_fasta.py",
        "--distributed",
        "--data",
        spec,
        *TRAIN,
        "--epochs",
        3,
        "--batch-size",
        16,
        "--output-dir",
        out,
        ranks=2,
    )
    return out, done


def test_two_ranks_train_like_one_process_with_the_doubled_batch(data, two_ranks):
    spec, d = data
    out, done = two_ranks
    run(
        "train_fasta.py",
        "--data",
        spec,
        *TRAIN,
        "--epochs",
        3,
        "--batch-size",
        32,
        "--output-dir",
        d / "one",
    )
    one, two = _params(d / "one" / "last.safetensors"), _params(out / "last.safetensors")
    for key in one:
        np.testing.assert_allclose(two[key], one[key], rtol=0, atol=1e-6, err_msg=key)
    history = {
        k: bt.load(p / "last.safetensors")["state"]["history"]
        for k, p in (("one", d / "one"), ("two", out))
    }
    for a, b in zip(history["one"], history["two"], strict=True):
        assert b["train_loss"] == pytest.approx(a["train_loss"], rel=1e-6)  # over both ranks
        assert b["val_loss"] == pytest.approx(a["val_loss"], rel=1e-6)  # scored in rank blocks
        for metric in ("val_auroc", "val_auprc", "val_accuracy"):
            assert b[metric] == pytest.approx(a[metric], abs=1e-3)  # one tie flip at most
    final = {
        k: json.loads((p / "metrics.json").read_text())["val"]
        for k, p in (("one", d / "one"), ("two", out))
    }
    assert final["two"]["n_samples"] == final["one"]["n_samples"]  # every row scored once
    assert final["two"]["loss"] == pytest.approx(final["one"]["loss"], rel=1e-6)
    for metric in ("auroc", "auprc", "accuracy"):
        assert final["two"][metric] == pytest.approx(final["one"][metric], abs=1e-3)
    # rank 0 alone prints and writes
    assert done.stdout.count("epoch   1 ") == 1 and "2 processes" in done.stdout
    assert {"best.safetensors", "last.safetensors", "metrics.json"} <= {
        p.name for p in out.iterdir()
    }
    assert not [p.name for p in out.iterdir() if ".tmp" in p.name]


def test_resume_under_mpiexec_continues_the_uninterrupted_run(data, two_ranks):
    spec, d = data
    out, _ = two_ranks
    argv = ["--distributed", "--data", spec, *TRAIN, "--batch-size", 16, "--output-dir", d / "re"]
    run("train_fasta.py", *argv, "--epochs", 2, ranks=2)
    done = run(
        "train_fasta.py", *argv, "--epochs", 3, "--resume", d / "re" / "last.safetensors", ranks=2
    )
    assert done.stdout.count("epoch   3 ") == 1 and "epoch   2 " not in done.stdout
    straight, resumed = _params(out / "last.safetensors"), _params(d / "re" / "last.safetensors")
    for key in straight:
        np.testing.assert_array_equal(resumed[key], straight[key], err_msg=key)


def test_distributed_without_mpiexec_is_a_plain_run(data, tmp_path):
    _mpiexec()  # skips without mpi4py
    spec, _ = data
    argv = ["--data", spec, *TRAIN, "--epochs", 1, "--batch-size", 32]
    run("train_fasta.py", *argv, "--output-dir", tmp_path / "plain")
    run("train_fasta.py", *argv, "--distributed", "--output-dir", tmp_path / "world1")
    a = _params(tmp_path / "plain" / "last.safetensors")
    b = _params(tmp_path / "world1" / "last.safetensors")
    for key in a:
        np.testing.assert_array_equal(b[key], a[key], err_msg=key)


def test_train_genome_two_ranks_like_one_process(tmp_path):
    """Every rank draws the same genome windows each epoch and takes its share of them."""
    rng = np.random.default_rng(3)
    chroms = {"chr1": 6000, "chr2": 3000}
    fa = _fasta(
        tmp_path / "g.fa", ["".join(rng.choice(list("ACGT"), n)) for n in chroms.values()], "chr"
    )
    peaks = [(c, s) for c, n in (("chr0", 5700), ("chr1", 2700)) for s in rng.integers(0, n, 20)]
    (tmp_path / "A.bed").write_text("".join(f"{c}\t{s}\t{s + 250}\n" for c, s in peaks))
    argv = ["--genome", fa, "--peaks", f"A={tmp_path / 'A.bed'}", "--val-chroms", "chr1"]
    argv += ["--length", 200, "--bin-size", 100, "--train-windows", 64, "--eval-windows", 32]
    argv += ["--epochs", 2, "--patience", 9, "--quiet", "--model-arg", "channels=[8]"]
    argv += ["--model-arg", "kernel_size=9", "--model-arg", "dropout=0"]
    one_process = ["--distributed", "--batch-size", 32, "--output-dir", tmp_path / "one"]
    run("train_genome.py", *argv, *one_process)  # a world of one: the same sampler
    done = run(
        "train_genome.py",
        *argv,
        "--distributed",
        "--batch-size",
        16,
        "--output-dir",
        tmp_path / "two",
        ranks=2,
    )
    assert done.stdout.count("per target") == 1
    one, two = (_params(tmp_path / k / "last.safetensors") for k in ("one", "two"))
    for key in one:
        np.testing.assert_allclose(two[key], one[key], rtol=0, atol=1e-6, err_msg=key)


def test_shards_together_are_the_batches_of_one_process():
    """Rank r of 2 takes positions r::2 of each global batch (buckets) or of the permutation
    (DistributedSampler), so the ranks' step k together is one process's batch k."""
    lengths = np.random.default_rng(1).integers(5, 50, 101)
    whole = list(BucketBatchSampler(lengths, 8, seed=3, num_replicas=1, rank=0))
    parts = [
        list(
            SplitBatchSampler(
                BucketBatchSampler(lengths, 8, seed=3, num_replicas=1, rank=0),
                num_replicas=2,
                rank=r,
            )
        )
        for r in range(2)
    ]
    assert len(parts[0]) == len(parts[1]) == len(whole)
    sizes = sorted(len(b) for b in whole)
    assert sizes[0] == 5 and sizes[1:] == [8] * 12  # 101 = 12 * 8 + 5, shuffled among the rest
    for k, batch in enumerate(whole):
        padded = batch + batch[: len(batch) % 2]  # an odd batch repeats its first index
        assert len(parts[0][k]) == len(parts[1][k]) == len(padded) // 2
        assert sorted(parts[0][k] + parts[1][k]) == sorted(padded)
    one = list(DistributedSampler(range(64), num_replicas=1, rank=0, seed=2))
    ranks = [list(DistributedSampler(range(64), num_replicas=2, rank=r, seed=2)) for r in (0, 1)]
    for k in range(4):  # batches of 8 per rank, 16 in one process
        assert sorted(ranks[0][8 * k : 8 * k + 8] + ranks[1][8 * k : 8 * k + 8]) == sorted(
            one[16 * k : 16 * k + 16]
        )
    with pytest.raises(ValueError, match="rank=2, expected 0 <= rank < 2"):
        SplitBatchSampler(whole, num_replicas=2, rank=2)


# -- sharded scoring ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def genome(tmp_path_factory):
    """A 600 bp genome, 5 intervals and 5 variants around it."""
    d = tmp_path_factory.mktemp("genome")
    rng = np.random.default_rng(9)
    chrom = "".join(rng.choice(list("ACGT"), 600))
    (d / "g.fa").write_text(f">chrA\n{chrom}\n")
    starts = [40, 120, 250, 400, 520]
    (d / "r.bed").write_text("".join(f"chrA\t{s}\t{s + 30}\tr{s}\n" for s in starts))
    header = "##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\n"
    rows = [
        f"chrA\t{p}\tv{p}\t{chrom[p - 1]}\t{'ACGT'[('ACGT'.index(chrom[p - 1]) + 1) % 4]}\n"
        for p in (60, 200, 310, 450)
    ]
    rows.append(f"chrA\t500\tdel\t{chrom[499:505]}\t{chrom[499]}\n")
    (d / "v.vcf").write_text(header + "".join(rows))
    return d


def _same_output(script, argv, tmp_path, name):
    """Run ``script`` in one process and on two ranks; both TSVs, which must be equal bytes."""
    one, two = tmp_path / f"{name}1.tsv", tmp_path / f"{name}2.tsv"
    run(script, *argv, "-o", one)
    done = run(script, *argv, "--distributed", "-o", two, ranks=2)
    assert done.stderr.count("wrote") == 1  # rank 0 alone writes
    assert two.read_bytes() == one.read_bytes()
    return one.read_text()


def test_sharded_predict_writes_the_single_process_tsv(data, tmp_path):
    _, d = data
    rng = np.random.default_rng(4)  # lengths 20..60: batches of equal-length sequences
    seqs = ["".join(rng.choice(list("ACGT"), n)) for n in rng.integers(20, 61, 45)]
    fasta = _fasta(tmp_path / "mixed.fa", seqs, "s")
    for batch in (7, 500):  # several batches (an odd count), then one batch: rank 0 has none
        argv = ["deepbind_binding_task", fasta, "--batch-size", batch, "--both-strands", "mean"]
        text = _same_output("predict.py", [*argv, "--logits"], tmp_path, f"fa{batch}")
        assert len(text.splitlines()) == 46


def test_sharded_predict_bed_and_score_variants_write_the_single_process_tsv(genome, tmp_path):
    argv = ["deepbind_binding_task", "--genome", genome / "g.fa", "--length", "101"]
    text = _same_output(
        "predict.py", [*argv, "--bed", genome / "r.bed", "--batch-size", 2], tmp_path, "bed"
    )
    assert len(text.splitlines()) == 6
    argv += ["--vcf", genome / "v.vcf", "--batch-size", 2, "--both-strands", "max"]
    text = _same_output("score_variants.py", argv, tmp_path, "vcf")
    assert [row.split("\t")[2] for row in text.splitlines()[1:]] == [
        "v60",
        "v200",
        "v310",
        "v450",
        "del",
    ]


# -- bad input ------------------------------------------------------------------------------------
def _failed_job(tmp_path, per_rank):
    """A two-program ``train_fasta.py --distributed`` job with a 60 s collective timeout, each
    rank given its own extra arguments; asserts it failed within 30 s (no rank waited out the
    timeout)."""
    argv = ["--distributed", "--dist-timeout", 60, "--quiet", "--epochs", 1]
    start = time.monotonic()
    done = run(
        "train_fasta.py", *argv, "--output-dir", tmp_path, code=None, timeout=90, per_rank=per_rank
    )
    assert done.returncode != 0 and time.monotonic() - start < 30
    return done


def test_ranks_that_disagree_on_the_model_stop_with_a_clear_error(data, tmp_path):
    spec, _ = data
    motifs = [["--model-arg", f"motif_length={n}"] for n in (8, 6)]
    done = _failed_job(tmp_path, [["--data", spec, *extra] for extra in motifs])
    assert "train_fasta.py: error (rank " in done.stderr
    assert "DistributedDataParallel: the ranks disagree" in done.stderr
    assert "motifs.weight (16, 4, 8)" in done.stderr and "motifs.weight (16, 4, 6)" in done.stderr
    assert not (tmp_path / "last.safetensors").exists()


def test_a_failing_rank_ends_the_job_at_once(data, tmp_path):
    spec, d = data
    missing = f"neg={d / 'neg.fa'},pos={tmp_path / 'nowhere.fa'}"
    done = _failed_job(tmp_path, [["--data", spec], ["--data", missing]])
    assert "train_fasta.py: error (rank 1): " in done.stderr and "nowhere.fa" in done.stderr


def test_missing_mpi4py_is_a_one_line_error(data, tmp_path):
    spec, _ = data
    (tmp_path / "hidden" / "mpi4py").mkdir(parents=True)
    (tmp_path / "hidden" / "mpi4py" / "__init__.py").write_text("raise ImportError('hidden')")
    env = {**ENV, "PYTHONPATH": os.pathsep.join([str(tmp_path / "hidden"), ENV["PYTHONPATH"]])}
    done = run("train_fasta.py", "--distributed", "--data", spec, env=env, code=1)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("train_fasta.py: error: --distributed: ")
    assert 'pip install "biotorch[distributed]"' in lines[0]


def test_distributed_trainer_needs_the_process_group():
    from biotorch.train import Task, Trainer

    with pytest.raises(ValueError, match="distributed=True needs the process group"):
        Trainer(bt.nn.Linear(2, 1), Task("binary", ["y"]), distributed=True)


def test_sharded_interpret_writes_the_single_process_tables(data, tmp_path):
    _, d = data
    argv = ["deepbind_binding_task", "--fasta", d / "pos.fa", "--max", 3]
    run("interpret.py", *argv, "-o", tmp_path / "one")
    done = run("interpret.py", *argv, "--distributed", "-o", tmp_path / "two", ranks=2)
    assert done.stdout.count("interpret: 3 sequence(s)") == 1
    for name in ("ism.tsv", "attribution.tsv"):
        assert (tmp_path / "two" / name).read_bytes() == (tmp_path / "one" / name).read_bytes()
    pngs = {p.name for p in (tmp_path / "one").glob("*.png")}
    assert len(pngs) == (3 if importlib.util.find_spec("matplotlib") else 0)
    assert {p.name for p in (tmp_path / "two").glob("*.png")} == pngs  # each rank draws its own
