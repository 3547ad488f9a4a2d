#!/usr/bin/env bash
# Every GPU check and benchmark of issue 16 in one call, printed as one table (bench/gpu_bench.py says what
# each row measures). On a machine without CUDA it runs the reduced CPU mode (tiny checkpoints, 64x64).
# On the lent GPU machine: prepare here with `bash bench/gpu_prepare.sh`, then run `bash bench/gpu.sh` there
# with `.gpu-carry` carried; the whole run is budgeted to about 7 minutes (--budget, seconds).
# Extra arguments go to gpu_bench.py (e.g. --only "SD1.5 eager,SD1.5 compiled").
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ -n "${PYTHON:-}" ]]; then PY="${PYTHON}"
elif [[ -x venv/bin/python ]]; then PY=venv/bin/python
else PY=python3
fi
# the carried wheels only where this Python lacks what they provide (the GPU machine's image)
if ! "${PY}" -c "import diffusers, omegaconf, lark, piexif, diskcache, ftfy" >/dev/null 2>&1 \
        && compgen -G ".gpu-carry/whl/*.whl" >/dev/null; then
    "${PY}" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/gpu-site \
        .gpu-carry/whl/*.whl
    export PYTHONPATH="/tmp/gpu-site${PYTHONPATH:+:${PYTHONPATH}}"
fi
if [[ -d .gpu-carry/shared/tools ]]; then export WEBUI_SHARED_DIR="${PWD}/.gpu-carry/shared"; fi
export GRADIO_ANALYTICS_ENABLED=False HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 PYTHONUNBUFFERED=1
exec "${PY}" bench/gpu_bench.py --budget "${GPU_BENCH_BUDGET:-420}" "$@"
