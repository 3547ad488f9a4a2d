#!/usr/bin/env bash
# Prepares what bench/gpu.sh needs on the GPU machine, which reaches nothing outside itself and has its own
# Python 3.12 with torch, transformers and numpy but not the rest of our run-time needs.
# Run here (with the network to PyPI), then hand the folder `.gpu-carry` to the device call as a carried path:
#   bash bench/gpu_prepare.sh        # once: fills .gpu-carry/ (ignored by git)
#   device run: carry [".gpu-carry"], command "bash bench/gpu.sh"
# What it puts there: wheels of the packages the benchmark imports that the GPU image lacks (pure-Python ones
# and diffusers, the reference pipeline) and a copy of ../shared/tools (the checkpoint generator and key
# layouts), which does not travel with the working tree.
set -euo pipefail
cd "$(dirname "$0")/.."
shared="${WEBUI_SHARED_DIR:-../shared}"
carry=.gpu-carry
mkdir -p "${carry}/whl" "${carry}/shared"
rm -rf "${carry}/shared/tools" && cp -r "${shared}/tools" "${carry}/shared/tools"
grep -qx '/.gpu-carry/' .git/info/exclude 2>/dev/null || echo '/.gpu-carry/' >> .git/info/exclude
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    -d "${carry}/whl" \
    diskcache==5.6.3 piexif==1.1.3 omegaconf==2.4.0 lark==1.3.1 \
    ftfy==6.3.1 wcwidth==0.9.5 einops==0.8.2 diffusers==0.42.1
du -sh "${carry}"
