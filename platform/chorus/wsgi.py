"""WSGI entry point: `gunicorn chorus.wsgi` (with platform/ on the Python path)."""
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chorus.settings.local")

from django.core.wsgi import get_wsgi_application

from chorus.env import StartupError

try:
    application = get_wsgi_application()
except StartupError as exc:
    sys.exit(f"chorus: {exc}")
