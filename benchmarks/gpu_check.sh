#!/usr/bin/env bash
# The CUDA backend's check on a machine with an NVIDIA GPU, in one go (about 5 minutes on an
# H200): build with BRISKNET_CUDA=ON, run the GPU tests, run compute-sanitizer (memcheck,
# racecheck) on a short training run, then benchmarks/gpu_benchmark.py (the reference model beside
# PyTorch eager and torch.compile, SGEMM beside cuBLAS). Everything goes to the terminal and to
# benchmarks/results/gpu_check-<date>.txt (and to $OUT when set, as on the lent device machine).
set -uo pipefail
cd "$(dirname "$0")/.."
mkdir -p benchmarks/results
log="benchmarks/results/gpu_check-$(date +%F).txt"
PY=${PYTHON:-python3}
export PYTHONPATH="$PWD/build-gpu/pkg:${PYTHONPATH:-}" PYTHONUNBUFFERED=1
{
  echo "== $(date -u) $(uname -m)"
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || echo "nvidia-smi failed"
  nvcc --version | tail -1
  echo "== build (BRISKNET_CUDA=ON)"
  rm -rf build-gpu/pkg && mkdir -p build-gpu/pkg/brisknet
  (cd python/brisknet && find . -name '*.py' -exec cp --parents {} ../../build-gpu/pkg/brisknet/ \;)
  cmake -S . -B build-gpu -G Ninja -DCMAKE_BUILD_TYPE=Release -DBRISKNET_CUDA=ON \
        -DPython_EXECUTABLE="$(command -v "$PY")" -DBRISKNET_MODULE_DIR="$PWD/build-gpu/pkg/brisknet" >/dev/null
  cmake --build build-gpu > build-gpu/build.log 2>&1 || tail -40 build-gpu/build.log
  grep -E "spill stores" build-gpu/build.log | grep -vc " 0 bytes spill stores, 0 bytes spill loads" \
    | sed 's/^/kernels that spill: /'
  "$PY" -c "import brisknet; print('cuda built:', brisknet.cuda.is_built(), 'available:', brisknet.cuda.is_available(), brisknet.cuda.why_not() or '')"
  echo "== GPU tests"
  "$PY" -m pytest -q -p no:cacheprovider tests/test_cuda.py tests/test_cuda_host.py 2>&1 | tail -25
  echo "== compute-sanitizer"
  for tool in memcheck racecheck; do
    compute-sanitizer --tool "$tool" --error-exitcode 9 "$PY" benchmarks/gpu_short_run.py 2>&1 | tail -6
    echo "$tool exit status: ${PIPESTATUS[0]}"
  done
  echo "== benchmarks"
  "$PY" benchmarks/gpu_benchmark.py
} 2>&1 | tee "$log"
[ -n "${OUT:-}" ] && cp "$log" "$OUT/" || true
