"""biotorch.distributed and DistributedDataParallel, proven with real ``mpiexec -n 2`` jobs.

The rank programs live in distributed_worker.py; each job takes a second or two. The
single-process references are computed here with the worker's own model, data and step code.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import biotorch as bt
import biotorch.distributed as dist
from biotorch.nn.parallel import DistributedDataParallel

WORKER = Path(__file__).with_name("distributed_worker.py")
ROOT = Path(__file__).resolve().parents[1]


def _mpiexec() -> str:
    """The mpiexec of this Python's environment (the mpich wheel installs it next to python)."""
    try:
        import mpi4py  # noqa: F401
    except ImportError:
        pytest.skip('mpi4py is not installed (pip install "biotorch[distributed]")')
    found = shutil.which("mpiexec", path=os.path.dirname(sys.executable)) or shutil.which("mpiexec")
    if found is None:
        pytest.skip("no mpiexec next to this Python or on PATH (pip install mpich)")
    return found


def launch(
    mode: str, out: Path, ranks: int = 2, timeout: float = 120
) -> subprocess.CompletedProcess:
    """Run the worker under ``mpiexec -n ranks`` (plain python for ``ranks=0``)."""
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    command = [sys.executable, str(WORKER), mode, str(out)]
    if ranks:
        command = [_mpiexec(), "-n", str(ranks), *command]
    return run_job(command, env, timeout, f"{mode} on {ranks} ranks", cwd=WORKER.parent)


def run_job(command: list, env: dict, timeout: float, what: str, cwd=None):
    """Run ``command`` to completion; on a hang past ``timeout`` kill it with every process it
    started (mpiexec and its ranks) and fail the test."""
    proc = subprocess.Popen(
        command,
        env=env,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        stdout, stderr = proc.communicate()
        pytest.fail(f"{what} hung past {timeout} s:\n{stdout}{stderr}")
    return subprocess.CompletedProcess(command, proc.returncode, stdout, stderr)


def check(result: subprocess.CompletedProcess) -> None:
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One 2-rank job: three DDP runs, sampler shards and a sharded prediction."""
    out = tmp_path_factory.mktemp("ddp")
    check(launch("train", out))
    return out, dict(np.load(out / "train.npz"))


def single_process_params(optimizer: str) -> dict:
    import distributed_worker as w

    model = w.make_model(100)  # rank 0's initial weights
    w.run_steps(model, w.make_optimizer(optimizer, model), 2 * w.BATCH, 0, 1)
    return w.params_of(model)


@pytest.mark.parametrize(
    "variant,optimizer", [("sgd", "sgd"), ("adam_buckets", "adam"), ("no_sync", "sgd")]
)
def test_two_ranks_equal_one_process_with_the_doubled_batch(trained, variant, optimizer):
    _, results = trained
    expected = single_process_params(optimizer)
    for name, value in expected.items():
        np.testing.assert_allclose(results[f"{variant}/{name}"], value, rtol=1e-10, atol=1e-12)
    assert results["sgd/buckets"] == 1 and results["adam_buckets/buckets"] >= 3
    agree = results[f"{variant}/ranks_agree_after_backward"].tolist()
    if variant == "no_sync":  # local gradients inside no_sync(), averaged after the last backward
        assert agree == [False, True] * 5
    else:
        assert agree == [True] * 5


def test_collectives(trained):
    _, results = trained
    x = np.array([1.0, -2.0, 3.0])
    expected = {
        "SUM": 5 * x,
        "AVG": 2.5 * x,
        "PRODUCT": 6 * x * x,
        "MIN": [2, -6, 6],
        "MAX": [3, -4, 9],
    }
    for op, value in expected.items():
        np.testing.assert_allclose(results[f"all_reduce/{op}"], value, rtol=1e-6)
    assert "ReduceOp.AVG needs a floating-point tensor, got int64" in str(results["avg_of_ints"])
    np.testing.assert_array_equal(results["broadcast"], np.ones((2, 2)))
    np.testing.assert_array_equal(results["all_gather"], [[0, 1, 2], [10, 11, 12]])
    np.testing.assert_array_equal(results["gather"], [[0.5, 0.5], [1.5, 1.5]])


def test_sampler_shards_cover_every_index_with_equal_steps(trained):
    _, results = trained
    shards = [results[f"distributed_sampler/{r}"] for r in range(2)]
    assert len(shards[0]) == len(shards[1]) == 6
    assert sorted(set(np.concatenate(shards))) == list(range(11))  # 11 + 1 padding index
    steps = [results[f"bucket_batches/{r}"] for r in range(2)]
    assert len(steps[0]) == len(steps[1]) == 3  # 6 batches of 23 lengths, 3 per rank
    indices = np.concatenate([results[f"bucket_indices/{r}"] for r in range(2)])
    assert sorted(indices) == list(range(23))  # each index exactly once, no padding needed


def test_sharded_prediction_equals_single_process(trained):
    import distributed_worker as w

    _, results = trained
    x, _ = w.make_data(13)
    with bt.no_grad():
        expected = w.make_model(5)(bt.tensor(x)).numpy()
    np.testing.assert_allclose(results["predict/logits"], expected, rtol=1e-12, atol=1e-14)
    assert results["predict/names"].tolist() == [f"seq{i}" for i in range(13)]
    assert results["few"].tolist() == ["row0"]  # rank 0's shard was empty


def test_trainer_evaluation_is_split_between_ranks_and_equals_one_process(trained):
    import distributed_worker as w

    from biotorch.train import Task, Trainer

    _, results = trained
    batches = w.validation_batches()
    firsts = [x[:, 0, 0].tolist() for x, _ in batches]
    # 7 batches: rank 0 scores the first 3 (6 rows), rank 1 the last 4 (7 rows)
    assert results["validate/rows/0"].tolist() == sum(firsts[:3], [])
    assert results["validate/rows/1"].tolist() == sum(firsts[3:], [])
    task = Task("multiclass", ["a", "b", "c"])
    loss, y, p = Trainer(w.make_model(5), task).evaluate(batches)
    scores = task.evaluate(y, p)
    expected = [loss, scores["auroc"], scores["auprc"], scores["accuracy"]]
    np.testing.assert_allclose(results["validate/row"], expected, rtol=1e-12)
    # evaluate_sharded: the loss on every rank, all rows in order on rank 0 only
    np.testing.assert_allclose(results["evaluate/losses"], [loss, loss], rtol=1e-12)
    assert results["evaluate/got_rows"].tolist() == [True, False]
    np.testing.assert_array_equal(results["evaluate/y"], y)
    np.testing.assert_allclose(results["evaluate/p"], p, rtol=1e-12)


def test_resume_from_a_rank0_checkpoint_reproduces_the_uninterrupted_run(trained):
    out, results = trained
    assert (out / "checkpoint.safetensors").exists()
    check(launch("resume", out))
    resumed = np.load(out / "resume.npz")
    for name in resumed:
        np.testing.assert_array_equal(resumed[name], results[f"adam_buckets/{name}"])


def test_disagreeing_ranks_unused_parameters_and_a_skipped_collective(tmp_path):
    start = time.monotonic()
    result = launch("errors", tmp_path, timeout=60)
    output = result.stdout + result.stderr
    assert time.monotonic() - start < 50
    assert output.count("CAUGHT ddp: DistributedDataParallel: the ranks disagree") == 2
    assert "rank 1: parameters [weight (5, 3) float32" in output
    assert output.count("CAUGHT all_reduce:") == 2 and "rank 1: op SUM, shape (2, 4)" in output
    assert output.count("CAUGHT unused:") == 2 and "['unused.bias', 'unused.weight']" in output
    assert output.count("UNUSED-OK [[3.0, 3.0, 3.0]] [[0.0, 0.0, 0.0]]") == 2
    assert "EVAL-OK 0" in output and "EVAL-OK 1" in output
    assert "CAUGHT save_on_main FileNotFoundError" in output  # rank 0's own error
    assert "CAUGHT save_on_main DistributedError: save_on_main: rank 0 failed to write" in output
    assert result.returncode != 0  # rank 0's timeout aborts the job instead of hanging
    message = (tmp_path / "barrier-timeout.txt").read_text()
    assert message.startswith("barrier did not complete within its timeout of 3 s")


def test_an_exception_on_one_rank_ends_the_job_at_once(tmp_path):
    start = time.monotonic()
    result = launch("crash", tmp_path, timeout=60)
    assert time.monotonic() - start < 30  # not the 60 s collective timeout
    assert result.returncode != 0 and "ValueError: rank 1 fails" in result.stderr


def test_abort_job_flushes_and_waits_before_it_aborts(monkeypatch):
    """Launchers may drop what an aborting rank wrote last unless it has had time to go."""
    from biotorch.distributed import _mpi

    events = []

    class Stream:
        def flush(self):
            events.append("flush")

    class World:
        def Abort(self, code):  # noqa: N802 (mpi4py's name)
            events.append(("abort", code))

    monkeypatch.setattr(sys, "stdout", Stream())
    monkeypatch.setattr(sys, "stderr", Stream())
    monkeypatch.setattr(_mpi.time, "sleep", lambda seconds: events.append(("sleep", seconds)))
    monkeypatch.setattr(_mpi, "import_mpi", lambda: type("MPI", (), {"COMM_WORLD": World()}))
    dist.abort_job(3)
    assert events == ["flush", "flush", ("sleep", _mpi.ABORT_GRACE_SECONDS), ("abort", 3)]
    assert _mpi.ABORT_GRACE_SECONDS > 0


def test_plain_python_is_a_world_of_one(tmp_path):
    import distributed_worker as w

    result = launch("single", tmp_path, ranks=0, timeout=60)
    check(result)
    assert "SINGLE 0 1 [1.0, 2.0]" in result.stdout
    assert "DISCARDED True True" in result.stdout  # a dropped wrapper leaves no hooks behind
    model = w.make_model(100)
    w.run_steps(model, w.make_optimizer("sgd", model), 2 * w.BATCH, 0, 1)
    single = np.load(tmp_path / "single.npz")
    for name, value in w.params_of(model).items():
        np.testing.assert_array_equal(single[name], value)


def test_missing_mpi4py_names_the_install_command(monkeypatch):
    monkeypatch.setitem(sys.modules, "mpi4py", None)
    assert not dist.is_available()
    with pytest.raises(ImportError, match=r'pip install "biotorch\[distributed\]"'):
        dist.init_process_group()
    assert not dist.is_initialized()


def test_api_without_a_process_group():
    assert not dist.is_initialized() and dist.is_main_process()
    with pytest.raises(dist.DistributedError, match="call biotorch.distributed.init_process_group"):
        dist.get_rank()
    with pytest.raises(dist.DistributedError, match="has not been initialized"):
        DistributedDataParallel(bt.nn.Linear(2, 2))
    with pytest.raises(ValueError, match="only the default group"):
        dist.all_reduce(bt.zeros(2), group="subgroup")
    with pytest.raises(ValueError, match="backend='gloo'"):
        dist.init_process_group("gloo")
    assert list(dist.shard_indices(10, 1, 3)) == [3, 4, 5]
    blocks = [list(dist.shard_indices(10, r, 3)) for r in range(3)]
    assert sum(blocks, []) == list(range(10)) and list(dist.shard_indices(4)) == [0, 1, 2, 3]
    with pytest.raises(ValueError, match="rank=3, expected 0 <= rank < 3"):
        dist.shard_indices(10, 3, 3)


@pytest.mark.gpu
def test_nccl_backend_allreduce_broadcast_gather_and_ddp(tmp_path):
    """CuPy arrays through NCCL; one rank per GPU (NCCL refuses two ranks on one device)."""
    import distributed_worker as w

    ranks = min(2, bt.cuda.device_count())
    check(launch("nccl", tmp_path, ranks=ranks))
    grads = np.load(tmp_path / "nccl.npz")
    model = w.make_model(100)
    x, y = w.make_data(2 * w.BATCH * ranks)
    bt.nn.functional.cross_entropy(model(bt.tensor(x)), bt.tensor(y)).backward()
    for name, p in model.named_parameters():
        np.testing.assert_allclose(grads[name], p.grad.numpy(), rtol=1e-9, atol=1e-12)
