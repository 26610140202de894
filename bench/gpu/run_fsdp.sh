#!/usr/bin/env bash
# On the GPU machine (see bench/gpu/README.md): the FSDP check, bench/fsdp_gpu.py on every GPU.
set -euo pipefail
source "$(dirname "$0")/prepare.sh"
python3 bench/fsdp_gpu.py --out "$OUT" 2>&1 | tee "$OUT/fsdp_gpu.log"
