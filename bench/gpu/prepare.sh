# Sourced by the run_*.sh scripts on the GPU machine (see bench/gpu/README.md). With `stash` as the
# script's first argument: keep this call's carried .device/part-NN in /tmp for the next call and
# exit. Without it: also take this call's part, unpack them all, install the wheels into
# /tmp/gpu/site-packages and print the GPU; the script then runs its bench. The folder's name must
# hold "site-packages": dill, which datasets hashes with, pickles by value any module it finds
# elsewhere, and pyarrow's module cannot be pickled so (PicklingError on MonthDayNano).
STASH=/tmp/chorus-gpu
mkdir -p "$STASH"
cp .device/part-* "$STASH"/
if [ "${1:-}" = "stash" ]; then ls -l "$STASH"; exit 0; fi
cat "$STASH"/part-* | tar -C "$STASH" -xf -
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/gpu/site-packages "$STASH"/wheels/*.whl
export PYTHONPATH=/tmp/gpu/site-packages PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
