"""Settings for a deployment behind a TLS-terminating proxy. Passes `manage.py check --deploy`."""
from chorus.settings.base import *  # noqa: F403

DEBUG = False
SECRET_KEY = env.text("DJANGO_SECRET_KEY", "")  # noqa: F405
if len(SECRET_KEY) < 50 or SECRET_KEY.startswith("dev-only"):
    raise env.StartupError("DJANGO_SECRET_KEY must be set to a random string of at least 50 characters in production")  # noqa: F405

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.flag("DJANGO_SECURE_SSL_REDIRECT", True)  # noqa: F405
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_HSTS_SECONDS = 60 * 60 * 24 * 365
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_CONTENT_TYPE_NOSNIFF = True
# Behind the TLS proxy every request comes from the proxy's address: count clients by the address it
# appends to X-Forwarded-For (login lockouts and the API's anonymous limit).
REST_FRAMEWORK["NUM_PROXIES"] = env.integer("CHORUS_TRUSTED_PROXIES", 1)  # noqa: F405
CSRF_TRUSTED_ORIGINS = [o for o in env.text("DJANGO_CSRF_TRUSTED_ORIGINS", "").split(",") if o]  # noqa: F405
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
