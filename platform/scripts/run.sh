#!/usr/bin/env bash
# Sets Chorus up and runs it on this machine: web (gunicorn), a CPU worker, a GPU-queue worker and
# Celery beat (the stale-run reaper).
# Ctrl-C stops them all. Settings come from the environment (see README); defaults work here.
set -euo pipefail
cd "$(dirname "$0")/../.."
platform/scripts/setup.sh
PORT="${PORT:-8000}"
URL="http://127.0.0.1:${PORT}"
export DJANGO_SETTINGS_MODULE="${DJANGO_SETTINGS_MODULE:-chorus.settings.local}"

LOG="$(pwd)/var/log"
mkdir -p "$LOG"
.venv/bin/python manage.py prepare_models
.venv/bin/python manage.py load_demo --base-url "$URL" | tee var/demo.txt


pids=()
stop() { trap - INT TERM EXIT; kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; }
trap stop INT TERM EXIT

.venv/bin/gunicorn chorus.wsgi --chdir platform -k gthread --threads 8 -w 2 -b "127.0.0.1:${PORT}" \
  --timeout 300 --access-logfile "$LOG/web-access.log" >>"$LOG/web.log" 2>&1 &
pids+=($!)
(cd platform && exec ../.venv/bin/celery -A chorus worker -Q default -n "default@%h" -l info) >>"$LOG/worker-default.log" 2>&1 &
pids+=($!)
(cd platform && exec ../.venv/bin/celery -A chorus worker -Q gpu -P solo -c 1 -n "gpu@%h" -l info) >>"$LOG/worker-gpu.log" 2>&1 &
pids+=($!)
# One beat process: it runs the reaper that fails training runs whose worker went silent.
(cd platform && exec ../.venv/bin/celery -A chorus beat -l info -s "$LOG/celerybeat-schedule") >>"$LOG/beat.log" 2>&1 &
pids+=($!)

up=0
for _ in $(seq 60); do curl -fsS -o /dev/null "$URL/" 2>/dev/null && { up=1; break; }; sleep 1; done
if [ $up = 0 ]; then
  echo "the web server did not answer at $URL; last lines of var/log/web.log:" >&2
  tail -n 20 "$LOG/web.log" >&2
  exit 1
fi
cat <<TXT

Chorus is running at $URL
  staff dashboard: $URL/dashboard/   ($(sed -n 's/^staff login: //p' var/demo.txt))
  $(sed -n 's/^demo campaign: .*-> //p' var/demo.txt)
  API docs:        $URL/api/v1/docs/
  logs:            var/log/ (web, worker-default, worker-gpu, beat)
Press Ctrl-C to stop.
TXT
wait -n "${pids[@]}"
echo "a Chorus process stopped; see var/log/" >&2
exit 1
