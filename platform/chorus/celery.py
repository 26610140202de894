"""The Celery app `chorus`. Workers:

    celery -A chorus worker -Q default                 # CPU work (prefork)
    celery -A chorus worker -Q gpu -P solo -c 1        # one per GPU: training, batch generation
"""
import os
import sys
from pathlib import Path

from celery import Celery
from celery.signals import worker_init

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chorus.settings.local")

from chorus.env import StartupError

try:  # read and validate settings now, so a bad value stops the worker with one line
    from django.conf import settings

    settings.INSTALLED_APPS  # noqa: B018  (reading it is the point: it loads and checks the settings)
except StartupError as exc:
    sys.exit(f"chorus: {exc}")

app = Celery("chorus")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_init.connect
def refuse_to_start_without_services(**_kwargs) -> None:
    """A worker with no database gives one line that says how to fix it, not a traceback loop."""
    from chorus.health import database_problem

    problem = database_problem()
    if problem:
        sys.stderr.write(f"chorus worker: {problem}\n")
        sys.exit(2)
