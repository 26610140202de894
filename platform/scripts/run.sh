#!/usr/bin/env bash
# Sets Chorus up and runs it on this machine: web (gunicorn), a CPU worker and a GPU-queue worker.
# Ctrl-C stops all three. Settings come from the environment (see README); defaults work here.
set -euo pipefail
cd "$(dirname "$0")/../.."
platform/scripts/setup.sh
PORT="${PORT:-8000}"
URL="http://127.0.0.1:${PORT}"
export DJANGO_SETTINGS_MODULE="${DJANGO_SETTINGS_MODULE:-chorus.settings.local}"

mkdir -p var/log
.venv/bin/python manage.py prepare_models
.venv/bin/python manage.py load_demo --base-url "$URL" | tee var/demo.txt


pids=()
stop() { trap - INT TERM EXIT; kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; }
trap stop INT TERM EXIT

.venv/bin/gunicorn chorus.wsgi --chdir platform -k gthread --threads 8 -w 2 -b "127.0.0.1:${PORT}" \
  --timeout 300 --access-logfile var/log/web-access.log >>var/log/web.log 2>&1 &
pids+=($!)
(cd platform && exec ../.venv/bin/celery -A chorus worker -Q default -n "default@%h" -l info) >>var/log/worker-default.log 2>&1 &
pids+=($!)
(cd platform && exec ../.venv/bin/celery -A chorus worker -Q gpu -P solo -c 1 -n "gpu@%h" -l info) >>var/log/worker-gpu.log 2>&1 &
pids+=($!)

for _ in $(seq 60); do curl -fsS -o /dev/null "$URL/" 2>/dev/null && break; sleep 1; done
cat <<TXT

Chorus is running at $URL
  staff dashboard: $URL/dashboard/   ($(sed -n 's/^staff login: //p' var/demo.txt))
  $(sed -n 's/^demo campaign: .*-> //p' var/demo.txt)
  API docs:        $URL/api/v1/docs/
  logs:            var/log/ (web, worker-default, worker-gpu)
Press Ctrl-C to stop.
TXT
wait -n "${pids[@]}"
echo "a Chorus process stopped; see var/log/" >&2
exit 1
