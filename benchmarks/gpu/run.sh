#!/bin/bash
# On the GPU box, from anywhere: install the carried wheels (offline, without touching torch/transformers), then run
# every part of bench_gpu.py within 8 minutes. Results: $OUT/bench_gpu.json (or /tmp) and the printed lines.
set -uo pipefail
cd "$(dirname "$0")/../.."
if compgen -G "benchmarks/gpu/wheels/*.whl" > /dev/null; then
    python -m pip install -q --no-index --no-deps benchmarks/gpu/wheels/*.whl \
        || echo "bench_gpu: installing the carried wheels failed; parts that need them report it"
fi
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
PYTHONPATH=src timeout 480 python benchmarks/gpu/bench_gpu.py --out "${OUT:-/tmp}/bench_gpu.json" "$@"
