#!/usr/bin/env bash
# On the GPU machine (see bench/gpu/README.md): the FSDP check. `stash`: keep the carried
# .device/part-NN in /tmp for the next call. Without it: also take this call's part, unpack, install
# the wheels (TRL, datasets, the tested transformers), run bench/fsdp_gpu.py on every GPU.
set -euo pipefail
STASH=/tmp/chorus-gpu
mkdir -p "$STASH"
cp .device/part-* "$STASH"/
if [ "${1:-}" = "stash" ]; then ls -l "$STASH"; exit 0; fi
cat "$STASH"/part-* | tar -C "$STASH" -xf -
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site "$STASH"/wheels/*.whl
export PYTHONPATH=/tmp/site PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
python3 bench/fsdp_gpu.py --out "$OUT" 2>&1 | tee "$OUT/fsdp_gpu.log"
