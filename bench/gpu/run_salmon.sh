#!/usr/bin/env bash
# On the GPU machine (see bench/gpu/README.md): SALMON on the GPU, bench/salmon_gpu.py.
set -euo pipefail
source "$(dirname "$0")/prepare.sh"
python3 bench/salmon_gpu.py --gguf "$STASH/smollm2.gguf" --out "$OUT" 2>&1 | tee "$OUT/salmon_gpu.log"
