#!/usr/bin/env bash
# The one prepared GPU run for issue 6: CUDA correctness of the fused spike path
# (tests/test_fused.py -k cuda), the GPU benchmark (1e5, 1e6, 4e6 and 2^27 float32
# elements, GB/s against a device copy), the eager/fused crossover that sets
# sgexplore.fused.AUTO_MIN_NUMEL["cuda"], and bfloat16 at 2^27 for reference. Imports
# only sgexplore.surrogates, .spike and .fused (PYTHONPATH=., no install), so a bare
# torch+triton machine runs it.
#
#   OUT=/some/dir bash benchmarks/gpu_spike.sh         # on a CUDA machine; log in $OUT/gpu_spike.txt
#   bash benchmarks/gpu_spike.sh --dry-run             # the same steps on CPU, tiny and quick
set -uo pipefail
OUT="${OUT:-/tmp/sgexplore-gpu-spike}"
PY="${PYTHON:-python3}"
mkdir -p "$OUT"
export PYTHONPATH=. PYTHONUNBUFFERED=1
if [[ "${1:-}" == "--dry-run" ]]; then
    DEVICE=cpu; TESTS=(-k "cpu and (Gaussian or threshold)"); MAIN=(--quick --sizes 1e5 --surrogates Gaussian Box)
    CROSS=(--rounds 1 --sizes 1024 65536 --surrogates Gaussian)
    EXTRA=(--dtype bfloat16 --modes single --sizes 1e4 --rounds 1 --surrogates Box)
else
    DEVICE=cuda; TESTS=(-k cuda); MAIN=(--rounds 7); CROSS=(--rounds 3 --sizes 262144 1048576 4194304 16777216 67108864)
    EXTRA=(--dtype bfloat16 --modes single --rounds 5 --sizes 134217728)
fi
{
    echo "== environment"; date -u
    nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv 2>/dev/null
    "$PY" -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, torch.cuda.is_available())'
    echo "== correctness: fused vs eager on $DEVICE"
    # Only this file; no conftest or addopts, which may need the notebook stack.
    "$PY" -m pytest -q -p no:cacheprovider --noconftest -o addopts="" -rs tests/test_fused.py "${TESTS[@]}"
    echo "== benchmark"
    "$PY" benchmarks/bench_spike.py --device "$DEVICE" "${MAIN[@]}"
    echo "== crossover (wall clock, host overhead included)"
    "$PY" benchmarks/bench_spike.py --device "$DEVICE" --crossover "${CROSS[@]}"
    echo "== bfloat16, for reference (the target is float32)"
    "$PY" benchmarks/bench_spike.py --device "$DEVICE" "${EXTRA[@]}"
} 2>&1 | tee "$OUT/gpu_spike.txt"
