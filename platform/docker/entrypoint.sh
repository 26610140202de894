#!/bin/sh
# Entry point of the Chorus image. Its arguments are the process to run, as docker-compose.yml
# gives them: gunicorn for web, celery for the workers.
#
# The web process owns the schema and the static files: it migrates and collects them before it
# serves. Workers never migrate, so they cannot race web on the schema.
set -eu

cd /app

if [ "${1:-}" = gunicorn ]; then
    python manage.py migrate --noinput
    python manage.py collectstatic --noinput
fi

exec "$@"
