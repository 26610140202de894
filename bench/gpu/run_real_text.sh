#!/usr/bin/env bash
# On the GPU machine (see bench/gpu/README.md): SALMON or Janus on the real HH-RLHF dev slice, with
# SmolLM2 as the base, at a size the CPU could not reach (every training pair, three seeds).
#   bash bench/gpu/run_real_text.sh salmon      # bench/salmon_real.py, about 3 minutes on an H200
#   bash bench/gpu/run_real_text.sh janus       # bench/janus_real.py
# The settings below were fixed before any run, not tuned on held-out pairs.
set -euo pipefail
which=${1:?salmon or janus}
source "$(dirname "$0")/prepare.sh"
data=$STASH/hh_hidden_context  # packed by pack.sh from ../shared/data
model=/tmp/chorus-gpu/smollm2-135m-instruct
[ -f "$model/config.json" ] || python3 -c "
import sys; sys.path[:0] = ['platform', '.', 'bench']
from pathlib import Path
from salmon_gpu import converted
converted(Path('$STASH/smollm2.gguf'), Path('$model'))"
common=(--data "$data/dev.jsonl.gz" --users "$data/dev_users.csv" --model "$model" --device cuda
        --rows 2000 --eval-rows 400 --batch 16 --max-length 512 --seeds 3)
# About 1,840 training pairs a seed: 115 steps of 16 is one epoch.
case "$which" in
  salmon) python3 bench/salmon_real.py "${common[@]}" --steps 230 --learning-rate 1e-5 \
            --json "$OUT/salmon_real.json" 2>&1 | tee "$OUT/salmon_real.log" ;;
  janus)  python3 bench/janus_real.py "${common[@]}" --sft-steps 115 --dpo-steps 230 \
            --sft-learning-rate 2e-5 --dpo-learning-rate 5e-6 \
            --json "$OUT/janus_real.json" 2>&1 | tee "$OUT/janus_real.log" ;;
  *) echo "salmon or janus" >&2; exit 2 ;;
esac
