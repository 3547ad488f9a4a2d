#!/usr/bin/env bash
# Sets up the virtual environment (torch, the requirements, the test-only packages) and runs the whole test suite.
# Usage: ./run_tests.sh [pytest arguments]
set -euo pipefail
cd "$(dirname "$0")"

python_cmd="${python_cmd:-python3}"
venv_dir="${venv_dir:-venv}"
TORCH_COMMAND="${TORCH_COMMAND:-pip install torch==2.14.1 torchvision==0.29.1}"

if [[ ! -x "${venv_dir}/bin/python" ]]; then
    echo "Creating the virtual environment in ${venv_dir}"
    "${python_cmd}" -m venv "${venv_dir}"
fi
PY="${venv_dir}/bin/python"

if ! "${PY}" -c "import torch, torchvision" >/dev/null 2>&1; then
    echo "Installing torch: ${TORCH_COMMAND}"
    "${PY}" -m ${TORCH_COMMAND} -q
fi
"${PY}" -m pip install -q -r requirements_versions.txt -r requirements-test.txt -r requirements-ray.txt
"${PY}" -m pip install -q --no-deps -r requirements-test-nodeps.txt

# browser tests drive Debian's chromium through Playwright (a browser download by Playwright fails here);
# without chromium they are skipped with a reason
if [[ ! -x /usr/bin/chromium ]] && command -v apt-get >/dev/null 2>&1 && [[ "$(id -u)" == "0" ]]; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
        || echo "chromium could not be installed: browser tests will be skipped"
fi

# the run writes ~7 GB of full-size checkpoints and a few GB of test folders under the temporary folder
tmp_root="${TMPDIR:-/tmp}"
echo "Free disk under ${tmp_root}: $(df -Pk "${tmp_root}" | awk 'NR == 2 { printf "%.1f", $4 / 1048576 }') GB (a run needs about 15 GB)"

export GRADIO_ANALYTICS_ENABLED=False HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
# two pytest-xdist workers in the work units of tests/parallel.py (a one-process run leaves a 2-core machine ~40 %
# idle); WEBUI_TEST_WORKERS=0 runs everything in this process
workers="${WEBUI_TEST_WORKERS:-2}"
if [[ "${workers}" == "0" ]]; then
    exec "${PY}" -m pytest "$@"
fi
exec "${PY}" -m pytest -n "${workers}" "$@"
