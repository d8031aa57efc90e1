#!/usr/bin/env bash
# The first checks for a session that is lent an NVIDIA GPU, as one command that fits the
# device budget (about 10 minutes). Run it from the repository root on the GPU machine, where
# CuPy, numpy, pandas and torch are installed but not pyfaidx, hypothesis, scikit-learn, tqdm or
# matplotlib: the project runs from the tree (PYTHONPATH), test modules that need a missing
# package are reported as collection errors and the rest still run.
#
#     bash benchmarks/device_check.sh        # logs in $OUT if set, else runs/device_check
#
# Then copy the tables from bench_core_cuda.txt into benchmarks/RESULTS.md (GPU column).
set -uo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
out="${OUT:-runs/device_check}"
mkdir -p "$out"
summary="$out/summary.txt"
: > "$summary"

step() {  # step NAME SECONDS COMMAND...: run with a time limit, log to NAME.txt, note the status
    local name=$1 limit=$2
    shift 2
    timeout "$limit" "$@" > "$out/$name.txt" 2>&1
    echo "$name: exit $?" >> "$summary"
    tail -n 12 "$out/$name.txt" >> "$summary"
}

step gpu 30 bash -c 'nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv;
    python -c "import cupy, biotorch; print(\"cupy\", cupy.__version__,
    \"biotorch.cuda.is_available()\", biotorch.cuda.is_available())"'
# Every @pytest.mark.gpu test: the op suite on CuPy against NumPy, fused optimizer kernels, GPU
# RNG streams, interpretation and the example scripts with --device cuda.
step pytest_gpu 420 python -m pytest -m gpu -q -o addopts="" -p no:cacheprovider \
    --continue-on-collection-errors tests
# Core ops, CuPy against torch CUDA (per-op overhead, conv1d, matmul).
step bench_core_cuda 120 python benchmarks/bench_core.py --device cuda --repeats 5
cat "$summary"
