"""ASGI entry point: `uvicorn chorus.asgi:application` (with platform/ on the Python path)."""
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chorus.settings.local")

from django.core.asgi import get_asgi_application

from chorus.env import StartupError

try:
    application = get_asgi_application()
except StartupError as exc:
    sys.exit(f"chorus: {exc}")
