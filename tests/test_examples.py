"""End-to-end tests of the example scripts and recipes, run as programs (train, resume, predict,
interpret, score variants, genome training) on tiny data made here, and pinned predictions of the
shipped pretrained weights."""

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import biotorch as bt
from biotorch import models
from biotorch.data import PROTEIN, dinucleotide_shuffle, encode, one_hot
from biotorch.train import load_scorer

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples"
#: The scripts' environment: this checkout's biotorch, one-line errors (no traceback).
ENV = {k: v for k, v in os.environ.items() if k != "BIOTORCH_TRACEBACK"}
ENV["PYTHONPATH"] = os.pathsep.join([str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])])


def _script(name, *argv, code=0, env=ENV):
    """Run ``examples/NAME`` with ``argv`` as a program; check its exit status."""
    command = [sys.executable, str(EXAMPLES / name), *map(str, argv)]
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    assert done.returncode == code, done.stderr
    return done


def _table(path):
    return [line.split("\t") for line in Path(path).read_text().splitlines()]


MOTIF = "TGACTCA"


def _random_seqs(rng, n, length, motif=None):
    seqs = []
    for _ in range(n):
        s = "".join(rng.choice(list("ACGT"), length))
        if motif:
            at = rng.integers(0, length - len(motif) + 1)
            s = s[:at] + motif + s[at + len(motif) :]
        seqs.append(s)
    return seqs


def _write_fasta(path, seqs, prefix):
    path.write_text("".join(f">{prefix}{i}\n{s}\n" for i, s in enumerate(seqs)))
    return path


@pytest.fixture(scope="module")
def binding(tmp_path_factory):
    """neg/pos FASTA files: random 40 bp, positives carry an AP-1 site."""
    d = tmp_path_factory.mktemp("binding")
    rng = np.random.default_rng(0)
    neg = _write_fasta(d / "neg.fa", _random_seqs(rng, 160, 40), "neg")
    pos = _write_fasta(d / "pos.fa", _random_seqs(rng, 160, 40, MOTIF), "pos")
    return f"neg={neg},pos={pos}", d


def _train(spec, out, *extra, code=0):
    """train_fasta.py on ``spec`` into ``out``; its metrics.json."""
    argv = ["--data", spec, "--output-dir", out, "--quiet", "--batch-size", "32", "--lr", "0.01"]
    _script("train_fasta.py", *argv, "--model-arg", "motif_length=8", *extra, code=code)
    return json.loads((Path(out) / "metrics.json").read_text())


def test_train_fasta_loss_falls_and_writes_outputs(binding):
    spec, d = binding
    result = _train(spec, d / "run", "--epochs", "4", "--test-fraction", "0.2", "--bootstrap", "99")
    losses = [h["train_loss"] for h in result["history"]]
    assert losses[-1] < losses[0] - 0.05 and len(result["history"]) == 4
    assert result["val"]["auroc"] > 0.8 and result["test"]["n_samples"] == 64
    low, high = result["test"]["auroc_ci95"]
    assert low <= result["test"]["auroc"] <= high and high - low > 0
    for name in ("best.safetensors", "last.safetensors", "metrics.json", "training_curve.png"):
        assert (d / "run" / name).stat().st_size > 0
    assert not [p.name for p in (d / "run").iterdir() if ".tmp" in p.name]
    ckpt = bt.load(d / "run" / "best.safetensors")
    assert ckpt["epoch"] == result["best_epoch"]
    assert set(ckpt) >= {"format", "model", "optimizer", "scheduler", "rng", "config", "state"}
    assert ckpt["config"]["inputs"]["alphabet"] == "DNA"


def test_training_without_matplotlib_and_tqdm_writes_no_png(binding, tmp_path):
    """The examples extra is optional at run time (the GPU machines lack it)."""
    spec, _ = binding
    for package in ("matplotlib", "tqdm"):  # stand-ins whose import fails, first on the path
        (tmp_path / "hidden" / package).mkdir(parents=True)
        (tmp_path / "hidden" / package / "__init__.py").write_text("raise ImportError('hidden')")
    env = {**ENV, "PYTHONPATH": os.pathsep.join([str(tmp_path / "hidden"), ENV["PYTHONPATH"]])}
    argv = ["--data", spec, "--output-dir", tmp_path / "plain", "--epochs", "1"]
    done = _script("train_fasta.py", *argv, env=env)
    assert "matplotlib is not installed" in done.stderr
    assert (tmp_path / "plain" / "metrics.json").exists()
    assert not (tmp_path / "plain" / "training_curve.png").exists()


def test_resume_continues_exactly(binding):
    spec, d = binding
    straight = _train(spec, d / "straight", "--epochs", "3", "--patience", "9")
    _train(spec, d / "resumed", "--epochs", "2", "--patience", "9")
    last = d / "resumed" / "last.safetensors"
    resumed = _train(spec, d / "resumed", "--epochs", "3", "--patience", "9", "--resume", last)
    assert [h["epoch"] for h in resumed["history"]] == [1, 2, 3]
    a = bt.load(d / "straight" / "last.safetensors")["model"]
    b = bt.load(d / "resumed" / "last.safetensors")["model"]
    for key in a:
        np.testing.assert_array_equal(a[key].numpy(), b[key].numpy())
    assert resumed["val"]["auroc"] == straight["val"]["auroc"]


def test_variable_length_model_with_table(tmp_path):
    rng = np.random.default_rng(1)
    rows = ["sequence,label"]
    for i in range(120):
        n = int(rng.integers(20, 90))
        rows.append(f"{_random_seqs(rng, 1, n, MOTIF if i % 2 else None)[0]},{i % 2}")
    (tmp_path / "t.csv").write_text("\n".join(rows) + "\n")
    _script(
        "train_fasta.py",
        *["--data", tmp_path / "t.csv", "--model", "masked_cnn", "--epochs", "1"],
        *["--model-arg", "channels=[8]", "--output-dir", tmp_path / "o", "--quiet"],
    )
    result = json.loads((tmp_path / "o" / "metrics.json").read_text())
    assert result["model"] == "masked_cnn" and result["sizes"] == {"train": 108, "val": 12}


def test_multilabel_table_names_targets_by_column_with_shift_augmentation(tmp_path):
    rng = np.random.default_rng(2)
    rows = ["sequence,AP1,poly_A"]
    for i in range(100):
        seq = _random_seqs(rng, 1, 60, MOTIF if i % 2 else None)[0]
        if i % 3 == 0:
            seq = seq[:20] + "AAAAAAAAAA" + seq[30:]
        rows.append(f"{seq},{i % 2},{int(i % 3 == 0)}")
    (tmp_path / "t.csv").write_text("\n".join(rows) + "\n")
    table = ["--data", tmp_path / "t.csv", "--label-column", "AP1,poly_A", "--quiet"]
    _script(
        "train_fasta.py",
        *table,
        *["--epochs", "1", "--model", "deepbind", "--max-shift", "5"],
        *["--output-dir", tmp_path / "o", "--lr-patience", "3", "--bootstrap", "50"],
    )
    result = json.loads((tmp_path / "o" / "metrics.json").read_text())
    assert bt.load(tmp_path / "o" / "last.safetensors")["scheduler"]["patience"] == 3
    assert result["task"] == "multilabel" and result["targets"] == ["AP1", "poly_A"]
    assert result["val"]["per_target"]["names"] == ["AP1", "poly_A"]
    argv = [*table, "--model", "deepbind", "--model-arg", "input_length=60"]
    done = _script("train_fasta.py", *argv, "--output-dir", tmp_path / "x", code=1)
    assert "unexpected keyword argument 'input_length'" in done.stderr


@pytest.mark.parametrize(
    "argv, message",
    [
        (["deepbind_binding_task", "{d}/missing.fa"], "No such file or directory"),
        (["deepbind_binding_task", "{d}/empty_record.fa"], "line 3: record 'b' is empty"),
        (["{d}/gone.safetensors", "{d}/empty_record.fa"], "checkpoint '{d}/gone.safetensors'"),
        (["no_such_weights", "{d}/empty_record.fa"], "unknown pretrained weights 'no_such"),
    ],
)
def test_scripts_report_bad_input_in_one_line(tmp_path, argv, message):
    (tmp_path / "empty_record.fa").write_text(">a\nACGT\n>b\n\n")
    done = _script("predict.py", *[a.format(d=tmp_path) for a in argv], code=1)
    assert done.stdout == ""
    assert done.stderr.startswith("predict.py: error: ") and done.stderr.count("\n") == 1
    assert message.format(d=tmp_path) in done.stderr


def test_own_validation_data_needs_own_training_data(binding):
    spec, _ = binding
    done = _script("train_fasta.py", "--val-data", spec, "--epochs", "1", "--quiet", code=1)
    assert "give --data too" in done.stderr


def test_device_name_is_checked_before_any_work():
    done = _script("predict.py", "deepbind_binding_task", "unused.fa", "--device", "gpu", code=2)
    assert "expected 'cpu', 'cuda' or 'cuda:N', got 'gpu'" in done.stderr


@pytest.mark.skipif(bt.cuda.is_available(), reason="needs a machine without a usable GPU")
def test_cuda_without_a_gpu_is_refused_up_front():
    done = _script("train_fasta.py", "--device", "cuda", "--epochs", "1", code=2)
    assert "'cuda': no usable CUDA GPU here" in done.stderr


def _checkpoint(binding):
    spec, d = binding
    ckpt = d / "run" / "best.safetensors"
    if not ckpt.exists():
        _train(spec, d / "run", "--epochs", "1")
    return ckpt


def test_predict_from_checkpoint_both_strands(binding, tmp_path):
    _, d = binding
    out = tmp_path / "scores.tsv"
    argv = [_checkpoint(binding), d / "pos.fa", "-o", out, "--both-strands", "mean"]
    done = _script("predict.py", *argv)
    assert done.stderr == f"predict: wrote 160 rows to {out}\n"
    lines = out.read_text().splitlines()
    assert lines[0] == "id\tlength\tpos" and len(lines) == 161
    p = np.array([float(line.split("\t")[2]) for line in lines[1:]])
    assert ((p > 0) & (p < 1)).all()


def test_concurrent_writers_of_one_output_do_not_collide(binding, tmp_path):
    """Two predict runs writing the same TSV at once: both succeed and the file is whole."""
    _, d = binding
    out = tmp_path / "scores.tsv"
    command = [sys.executable, str(EXAMPLES / "predict.py"), str(_checkpoint(binding))]
    runs = [
        subprocess.Popen([*command, str(d / name), "-o", str(out)], env=ENV, stderr=subprocess.PIPE)
        for name in ("pos.fa", "neg.fa")
    ]
    assert [run.wait() for run in runs] == [0, 0], [run.stderr.read() for run in runs]
    ids = [row[0] for row in _table(out)[1:]]
    assert ids in ([f"pos{i}" for i in range(160)], [f"neg{i}" for i in range(160)])
    assert [p.name for p in tmp_path.iterdir()] == ["scores.tsv"]


def test_a_field_that_would_corrupt_the_tsv_stops_predict(binding, tmp_path):
    """Output names come from the data (class names); a tab in one is refused, nothing written."""
    ckpt = bt.load(_checkpoint(binding))
    ckpt["config"]["task"]["names"] = ["bound\tsite"]
    bt.save(ckpt, tmp_path / "tabbed.safetensors")
    (tmp_path / "q.fa").write_text(">q1\nACGTACGT\n")
    argv = [tmp_path / "tabbed.safetensors", tmp_path / "q.fa", "-o", tmp_path / "s.tsv"]
    done = _script("predict.py", *argv, code=1)
    assert "column 'bound\\tsite'" in done.stderr and "contains a tab" in done.stderr
    assert not (tmp_path / "s.tsv").exists()


@pytest.mark.gpu
def test_scripts_on_the_gpu_match_the_cpu(binding, tmp_path):
    """train_fasta, predict and interpret with --device cuda: the loss falls, and a checkpoint
    scores the same on the GPU as on the CPU."""
    spec, _ = binding
    result = _train(spec, tmp_path / "gpu", "--epochs", "3", "--device", "cuda")
    losses = [h["train_loss"] for h in result["history"]]
    assert losses[-1] < losses[0]
    ckpt = tmp_path / "gpu" / "best.safetensors"
    fasta = tmp_path / "q.fa"
    _write_fasta(fasta, _random_seqs(np.random.default_rng(8), 20, 40, MOTIF), "q")
    scores, explained = {}, {}
    for device in ("cpu", "cuda"):
        out = tmp_path / f"{device}.tsv"
        _script("predict.py", ckpt, fasta, "-o", out, "--device", device, "--both-strands", "max")
        scores[device] = np.loadtxt(out, skiprows=1, usecols=2)
        argv = [ckpt, "--fasta", fasta, "--max", "1", "--device", device, "-o", tmp_path / device]
        _script("interpret.py", *argv)
        explained[device] = [
            np.loadtxt(tmp_path / device / name, skiprows=1, usecols=usecols)
            for name, usecols in (("ism.tsv", (3, 4, 5, 6)), ("attribution.tsv", (3, 4)))
        ]
    np.testing.assert_allclose(scores["cuda"], scores["cpu"], rtol=1e-4, atol=1e-6)
    for gpu, cpu in zip(explained["cuda"], explained["cpu"], strict=True):
        np.testing.assert_allclose(gpu, cpu, atol=1e-4)


SHIPPED = models.list_weights()


@pytest.mark.skipif(not SHIPPED, reason="no pretrained weights shipped yet")
def test_predict_and_interpret_with_pretrained(tmp_path):
    name = "deepbind_binding_task" if "deepbind_binding_task" in SHIPPED else SHIPPED[0]
    entry = models.get_model_weights(name)
    rng = np.random.default_rng(2)
    length = entry.input_length or 60
    fasta = _write_fasta(tmp_path / "q.fa", _random_seqs(rng, 3, length, "TGACTCA"), "q")
    out = tmp_path / "s.tsv"
    _script("predict.py", name, fasta, "-o", out, "--logits")
    header = _table(out)[0]
    assert header[:2] == ["id", "length"] and header[2 : 2 + len(entry.targets)] == list(
        entry.targets
    )
    done = _script("interpret.py", name, "--fasta", fasta, "--max", "2", "-o", tmp_path)
    assert (
        done.stdout == f"interpret: 2 sequence(s) -> {tmp_path}/ism.tsv, attribution.tsv, *.png\n"
    )
    ism = _table(tmp_path / "ism.tsv")
    assert len(ism) == 1 + 2 * length and (tmp_path / "q0.png").stat().st_size > 0
    assert ism[0] == ["id", "position", "reference", "A", "C", "G", "T"]
    attribution = _table(tmp_path / "attribution.tsv")
    assert attribution[0][3] == "input_x_gradient"
    assert np.isfinite(np.array([row[3] for row in attribution[1:]], float)).all()


def test_interpret_integrated_gradients_sums_to_the_logit_change(tmp_path):
    rng = np.random.default_rng(5)
    seq = "".join(rng.choice(list("ACGT"), 40)) + "GCTGCCAGCAGGGGGCGCTG"
    seq += "".join(rng.choice(list("ACGT"), 41))  # 101 bp: the model input, no padding
    argv = ["deepbind_binding_task", "--sequence", seq, "-o", tmp_path]
    argv += ["--attribution", "integrated_gradients", "--baselines", "4", "--steps", "128"]
    _script("interpret.py", *argv)
    attribution = _table(tmp_path / "attribution.tsv")
    assert attribution[0][3] == "integrated_gradients" and float(attribution[1][3]) == 0.0
    total = sum(float(row[3]) for row in attribution[1:])
    # The script's baselines: 4 dinucleotide shuffles from a generator seeded with 0.
    shuffle_rng = np.random.default_rng(0)
    tokens = encode(seq)
    baselines = np.stack([dinucleotide_shuffle(tokens, shuffle_rng) for _ in range(4)])
    model = load_scorer("deepbind_binding_task").model
    with bt.no_grad():
        logit = model(bt.tensor(one_hot(tokens[None], n_value=0.25))).item()
        shuffled = model(bt.tensor(one_hot(baselines, n_value=0.25))).numpy()[:, 0]
    change = logit - shuffled.mean()
    assert abs(change) > 0.5
    np.testing.assert_allclose(total, change, rtol=0.02)


def test_score_variants_differences_match_direct_scoring(tmp_path):
    rng = np.random.default_rng(9)
    chrom = "".join(rng.choice(list("ACGT"), 400))
    (tmp_path / "g.fa").write_text(f">chrA\n{chrom}\n")
    header = "##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\n"
    ctcf = "GCTGCCAGCAGGGGGCGCTG"
    rows = [
        ("chrA", 200, "snv", chrom[199], "ACGT"[("ACGT".index(chrom[199]) + 1) % 4]),
        ("chrA", 150, "ins", chrom[149], chrom[149] + ctcf),  # inserts a CTCF site
        ("chrA", 30, "del", chrom[29:35], chrom[29]),
        ("chrA", 300, "bad", "N", "A"),  # REF contradicts the genome
    ]
    (tmp_path / "v.vcf").write_text(header + "".join("\t".join(map(str, r)) + "\n" for r in rows))
    argv = ["deepbind_binding_task", "--genome", tmp_path / "g.fa", "--length", "101"]
    argv += ["--vcf", tmp_path / "v.vcf", "-o", tmp_path / "out.tsv"]
    done = _script("score_variants.py", *argv, code=1)
    assert "line 6: REF 'N' at chrA:300 does not" in done.stderr
    done = _script("score_variants.py", *argv, "--skip-unscorable", "--both-strands", "mean")
    assert "skipped 1 allele" in done.stderr
    table = _table(tmp_path / "out.tsv")
    assert table[0] == ["chrom", "pos", "id", "ref", "alt", "CTCF_ref", "CTCF_alt", "CTCF_diff"]
    assert [row[2] for row in table[1:]] == ["snv", "ins", "del"]
    model = models.StrandAverage(models.load_pretrained("deepbind_binding_task")).eval()
    with pytest.warns(UserWarning, match="skipped 1 allele"):
        ds = bt.data.VariantDataset(str(tmp_path / "v.vcf"), str(tmp_path / "g.fa"), 101, "skip")
    with bt.no_grad():
        for i, (ref, alt) in enumerate(ds[j] for j in range(len(ds))):
            logits = model(bt.tensor(bt.data.one_hot(np.stack([ref, alt]), n_value=0.25)))
            diff = (logits[1] - logits[0]).item()
            assert float(table[1 + i][7]) == pytest.approx(diff, rel=1e-4, abs=1e-5)
    assert float(table[2][7]) > 2.0  # the inserted CTCF site raises the logit


def test_predict_and_interpret_bed_windows_match_direct_scoring(tmp_path):
    rng = np.random.default_rng(10)
    chrom = "".join(rng.choice(list("ACGT"), 500))
    (tmp_path / "g.fa").write_text(f">chrA\n{chrom}\n")
    intervals = [("chrA", 100, 140, "a", 0, "+"), ("chrA", 300, 330, "b", 0, "-")]
    intervals.append(("chrA", 0, 20, "edge", 0, "+"))  # the window runs off the start: N
    bed = tmp_path / "r.bed"
    bed.write_text("".join("\t".join(map(str, row)) + "\n" for row in intervals))
    out = tmp_path / "p.tsv"
    argv = ["deepbind_binding_task", "--bed", bed, "--genome", tmp_path / "g.fa"]
    _script("predict.py", *argv, "--length", "101", "--logits", "-o", out)
    table = _table(out)
    assert table[0] == ["chrom", "start", "end", "name", "CTCF", "logit_CTCF"]
    assert [row[:4] for row in table[1:]] == [[str(v) for v in r[:4]] for r in intervals]
    genome = bt.data.Genome(tmp_path / "g.fa")
    windows = [
        genome.fetch_tokens(c, (s + e) // 2 - 50, (s + e) // 2 + 51, strand)
        for c, s, e, _, _, strand in intervals
    ]
    model = models.load_pretrained("deepbind_binding_task")
    with bt.no_grad():
        logits = model(bt.tensor(bt.data.one_hot(np.stack(windows), n_value=0.25))).numpy()
    got = np.array([float(row[5]) for row in table[1:]])
    np.testing.assert_allclose(got, logits[:, 0], rtol=1e-4, atol=1e-5)
    done = _script("predict.py", "deepbind_binding_task", "--bed", bed, code=1)
    assert "give a FASTA file, or --bed BED with --genome" in done.stderr
    _script("interpret.py", *argv, "--length", "101", "-o", tmp_path / "i")
    rows = _table(tmp_path / "i" / "attribution.tsv")[1:]
    references = {}
    for row in rows:
        references[row[0]] = references.get(row[0], "") + row[2]
    assert list(references) == ["a", "b", "edge"]
    assert references["a"] == bt.data.decode(windows[0])
    assert references["b"] == bt.data.decode(windows[1])  # minus strand
    assert references["edge"].startswith("N" * 30)


def test_interpret_token_embedding_checkpoint(tmp_path):
    """A freshly trained protein Transformer: ISM on tokens and embedding x gradient."""
    rng = np.random.default_rng(4)
    amino = list("ACDEFGHIKLMNPQRSTVWY")
    rows = [f"{''.join(rng.choice(amino, rng.integers(8, 20)))},{i % 2}" for i in range(24)]
    (tmp_path / "p.csv").write_text("sequence,label\n" + "\n".join(rows) + "\n")
    small = ["d_model=8", "nhead=2", "num_layers=1", "dim_feedforward=16"]
    _script(
        "train_fasta.py",
        *["--data", tmp_path / "p.csv", "--alphabet", "PROTEIN", "--quiet"],
        *["--model", "transformer_classifier", "--epochs", "1", "--max-steps", "2"],
        *[arg for kv in small for arg in ("--model-arg", kv)],
        *["--output-dir", tmp_path / "run"],
    )
    ckpt = tmp_path / "run" / "best.safetensors"
    fasta = _write_fasta(tmp_path / "q.fa", ["MKTAYIAKQR", "GSXDE"], "q")
    _script("interpret.py", ckpt, "--fasta", fasta, "-o", tmp_path / "out")
    ism, attr = (_table(tmp_path / "out" / name) for name in ("ism.tsv", "attribution.tsv"))
    assert ism[0] == ["id", "position", "reference", *amino]
    assert attr[0] == ["id", "position", "reference", "embedding_x_gradient", "saliency"]
    assert len(ism) == len(attr) == 1 + 15
    assert "".join(row[2] for row in attr[1:]) == "MKTAYIAKQRGSXDE"
    assert [row[:2] for row in attr[11:]] == [["q1", str(i)] for i in range(5)]
    values = np.array([row[3:] for row in attr[1:]], float)
    assert np.isfinite(values).all() and (values[:, 1] > 0).all()
    assert np.count_nonzero(np.array(ism[13][3:], float)) == 20  # X: every amino acid
    # An ISM entry is the change of the checkpoint's logit for that substitution.
    model = load_scorer(str(ckpt)).model
    with bt.no_grad():
        tokens = np.stack([encode(s, PROTEIN) for s in ("MKTAYIAKQR", "AKTAYIAKQR")])
        logits = model(bt.tensor(tokens))
    expected = (logits[1] - logits[0]).item()
    assert float(ism[1][3]) == pytest.approx(expected, rel=1e-4, abs=1e-5)
    assert (tmp_path / "out" / "q1.png").stat().st_size > 0


#: Logits of each shipped checkpoint on ``_fixed_sequences(name)`` (recorded when the weights
#: were exported; a change means the weights, the architecture or the encoding changed).
PINS: dict[str, list[list[float]]] = {
    "basset_small_regulatory": [
        [-4.69159, -1.69416, 0.688256, -2.85376, -1.94751, -1.98797]
        + [-3.34727, -5.05285, -3.14669, -5.52907, -0.818371, -5.87567],
        [-1.52238, -2.04831, -2.57187, -5.43919, -1.91722, -1.9953]
        + [1.38676, -2.67755, -2.77428, -3.7056, -1.72214, -5.14415],
        [-2.37562, -0.066204, -2.91053, -7.17877, -1.85924, -1.80306]
        + [-3.35942, -0.426243, -2.28648, -6.417, -5.1946, -4.80961],
    ],
    "deepbind_binding_task": [[-1.2868], [-1.56041], [-2.55859]],
    "masked_cnn_varlen": [[-5.72935], [-4.03418], [-1.53046]],
    "motif_cnn_regulatory": [
        [-2.68355, -1.79188, -0.88324, -3.07899, -2.30627, -3.4834]
        + [-3.31623, -3.40007, -3.22684, -3.90223, -2.43428, -3.55678],
        [-1.36634, -1.66829, -1.16207, -2.61079, -2.67544, -2.82901]
        + [-0.707375, -2.29287, -1.40121, -2.59421, -0.69228, -2.7197],
        [-2.34454, -2.56511, -1.20851, -2.98283, -1.56745, -2.53585]
        + [-4.56459, -0.000679091, -3.84592, -3.34361, -2.97132, -3.22578],
    ],
    "splice_junction_cnn": [
        [0.633472, -2.95749, 0.552421],
        [-5.2396, -1.94466, 4.465],
        [-5.98225, -4.04638, 6.51667],
    ],
}


def _fixed_sequences(name, n=3):
    entry = models.get_model_weights(name)
    rng = np.random.default_rng(1234)
    return [
        "".join(rng.choice(list(entry.channel_order), entry.input_length or 60)) for _ in range(n)
    ]


@pytest.mark.parametrize("name", SHIPPED)
def test_pretrained_predictions_are_pinned(name):
    """Each shipped checkpoint loads (sha256 verified) and gives the recorded logits."""
    assert name in PINS, f"no pinned predictions for shipped weights {name!r}"
    scorer = load_scorer(name)
    batch = scorer.inputs.collator()([(s, 0) for s in _fixed_sequences(name)])
    with bt.no_grad():
        logits = scorer.model(scorer.inputs.model_input(batch.to("cpu"))).numpy()
    np.testing.assert_allclose(logits, np.array(PINS[name]), rtol=1e-4, atol=1e-5)
    entry = models.get_model_weights(name)
    assert entry.num_params == sum(p.numel() for p in scorer.model.parameters())


def test_train_genome_short_run(tmp_path):
    rng = np.random.default_rng(3)
    chroms = {"chr1": 6000, "chr2": 3000, "chr3": 3000}
    fa = tmp_path / "g.fa"
    fa.write_text(
        "".join(f">{c}\n{''.join(rng.choice(list('ACGT'), n))}\n" for c, n in chroms.items())
    )
    beds = {}
    for t in ("A", "B"):
        starts = {c: rng.integers(0, n - 300, 12) for c, n in chroms.items()}
        lines = [f"{c}\t{s}\t{s + 250}" for c, ss in starts.items() for s in sorted(ss)]
        with gzip.open(tmp_path / f"{t}.bed.gz", "wt") as f:
            f.write("\n".join(lines) + "\n")
        beds[t] = str(tmp_path / f"{t}.bed.gz")
    peaks = ",".join(f"{k}={v}" for k, v in beds.items())
    done = _script(
        "train_genome.py",
        *["--genome", fa, "--peaks", peaks, "--val-chroms", "chr2", "--test-chroms", "chr3"],
        *["--length", "200", "--epochs", "1", "--train-windows", "64", "--eval-windows", "64"],
        *["--output-dir", tmp_path / "o", "--quiet", "--bin-size", "100"],
    )
    assert "per target (test chromosomes):" in done.stdout
    result = json.loads((tmp_path / "o" / "metrics.json").read_text())
    assert result["targets"] == ["A", "B"] and result["test"]["n_targets"] == 2
    assert result["model"] == "masked_cnn" and result["num_params"] == 128 * 4 * 19 + 128 + 2 * 257
    # A genome of one's own never gets the embedded genome's peaks, blacklist or holdout.
    run_args = bt.load(tmp_path / "o" / "best.safetensors")["config"]["args"]
    assert run_args["blacklist"] is None and run_args["peaks"] == peaks
    for missing in (["--peaks", "A=" + beds["A"]], ["--val-chroms", "chr2"]):
        done = _script("train_genome.py", "--genome", fa, *missing, code=2)
        assert "with your own --genome, give --peaks NAME=BED,... and --val-chroms" in done.stderr


def test_recipes_run_on_tiny_stand_ins(tmp_path):
    """The real-data recipes (splice junctions, AMP Scanner) end to end on made-up files."""
    rng = np.random.default_rng(4)
    rows = [
        f"{c}, S{i}, {_random_seqs(rng, 1, 60, 'GGTAAG' if c == 'EI' else None)[0]}"
        for i, c in enumerate(["EI", "IE", "N"] * 20)
    ]
    (tmp_path / "splice.data").write_text("\n".join(rows + rows[:3]) + "\n")
    _script(
        "recipes/splice_junction.py",
        *["--data", tmp_path / "splice.data", "--folds", "3", "--only-folds", "1"],
        *["--epochs", "1", "--output-dir", tmp_path / "sj"],
    )
    cv = json.loads((tmp_path / "sj" / "cv_summary.json").read_text())
    assert cv["duplicates_dropped"] == 3 and cv["n_sequences"] == 60
    assert 18 <= sum(map(sum, cv["confusion"]["rows_true"])) <= 22  # one of 3 folds

    amino = "ACDEFGHIKLMNPQRSTVWY"
    for split in ("tr", "eval", "te"):
        for cls, bias in (("AMP", "KR"), ("DECOY", "DE")):
            seqs = [
                "".join(rng.choice(list(amino + bias * 3), rng.integers(11, 40))) for _ in range(12)
            ]
            _write_fasta(tmp_path / f"{cls}.{split}.fa", seqs, f"{cls}_{split}_")
    _script(
        "recipes/amp_scanner.py",
        *["--data-dir", tmp_path, "--seeds", "2", "--epochs", "1"],
        *["--output-dir", tmp_path / "amp"],
    )
    amp = json.loads((tmp_path / "amp" / "summary.json").read_text())
    assert len(amp["runs"]) == 2 and amp["ensemble_of_seeds"]["n_samples"] == 24
    assert amp["ensemble_of_seeds_on_eval"]["n_samples"] == 24
    done = _script("recipes/splice_junction.py", "--data", tmp_path / "missing.data", code=1)
    assert done.stderr.startswith("splice_junction.py: error: ") and "missing.data" in done.stderr


def test_train_fasta_reports_undefined_metrics_of_a_one_class_validation_set(binding, tmp_path):
    """auROC/auPRC are undefined on one class: the epoch lines say n/a instead of crashing."""
    spec, d = binding
    only_pos = _write_fasta(
        tmp_path / "vpos.fa", _random_seqs(np.random.default_rng(5), 20, 40, MOTIF), "v"
    )
    argv = ["--data", spec, "--val-data", f"pos={only_pos}", "--epochs", "2", "--output-dir"]
    done = _script("train_fasta.py", *argv, tmp_path / "out", "--model-arg", "motif_length=8")
    assert "auROC n/a  auPRC n/a" in done.stdout
    assert json.loads((tmp_path / "out" / "metrics.json").read_text())["val"]["auroc"] is None


def test_epoch_report_draws_the_curve_at_the_end_and_after_redraw_seconds(tmp_path, monkeypatch):
    """Each drawing costs ~0.2 s: a short run draws once, a long one every ``redraw_seconds``."""
    pytest.importorskip("matplotlib")
    monkeypatch.syspath_prepend(str(EXAMPLES))
    from types import SimpleNamespace

    from example_utils import EpochReport

    row = {"epoch": 1, "train_loss": 0.7, "val_loss": 0.6, "val_auroc": 0.8}
    row |= {"val_auprc": 0.7, "val_accuracy": 0.75, "lr": 0.01, "seconds": 0.1}
    trainer = SimpleNamespace(is_main_process=True, state={"history": [row]})
    short = EpochReport(tmp_path / "short.png")
    short.on_fit_start(trainer)
    short.on_epoch_end(trainer, row)
    assert not (tmp_path / "short.png").exists()
    short.on_fit_end(trainer)
    assert (tmp_path / "short.png").stat().st_size > 0
    live = EpochReport(tmp_path / "live.png", redraw_seconds=0)
    live.on_fit_start(trainer)
    live.on_epoch_end(trainer, row)
    assert (tmp_path / "live.png").stat().st_size > 0
    (tmp_path / "live.png").unlink()
    live.on_fit_end(trainer)  # this epoch is drawn already
    assert not (tmp_path / "live.png").exists()
    other_rank = SimpleNamespace(is_main_process=False, state={"history": [row]})
    quiet = EpochReport(tmp_path / "quiet.png", redraw_seconds=0)
    quiet.on_epoch_end(other_rank, row)
    quiet.on_fit_end(other_rank)
    assert not (tmp_path / "quiet.png").exists()
