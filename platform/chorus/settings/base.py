"""Settings shared by every environment. Values come from the environment (see chorus.env)."""
from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path

from csp.constants import NONE, SELF

from chorus import env

REPO_ROOT = Path(__file__).resolve().parents[3]
PLATFORM_DIR = REPO_ROOT / "platform"
# Both roots hold packages: platform/ (chorus) and the repo root (elicitation, training, gpu_workers).
for _root in (PLATFORM_DIR, REPO_ROOT):
    if str(_root) not in sys.path:
        sys.path.insert(0, str(_root))

VAR_DIR = Path(env.text("CHORUS_VAR_DIR", str(REPO_ROOT / "var")))

SECRET_KEY = env.text("DJANGO_SECRET_KEY", "dev-only-insecure-key-change-me")
DEBUG = env.flag("DJANGO_DEBUG", False)
ALLOWED_HOSTS = [h.strip() for h in env.text("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]").split(",") if h.strip()]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "axes",
    "csp",
    "django_htmx",
    "template_partials",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "chorus",
    "chorus.accounts",
    "chorus.inference",
    "chorus.dashboard",
    "chorus.api",
    "elicitation",
    "training",
    "gpu_workers",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "csp.middleware.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "chorus.bad_input.RefuseNulCharacters",
    # Last, as django-axes asks: it turns a locked-out login into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "chorus.urls"
WSGI_APPLICATION = "chorus.wsgi.application"
ASGI_APPLICATION = "chorus.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [REPO_ROOT / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {"default": env.database("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/chorus")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Failed logins (staff login and the admin) are counted per username and address by django-axes.
# After CHORUS_LOGIN_FAILURE_LIMIT failures that pair is locked out, the right password included,
# for CHORUS_LOGIN_COOLOFF_MINUTES after its last attempt. The same account from another address,
# and other accounts from this one, still log in: a guesser cannot lock a curator out from elsewhere.
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
AXES_FAILURE_LIMIT = env.integer("CHORUS_LOGIN_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = timedelta(minutes=env.integer("CHORUS_LOGIN_COOLOFF_MINUTES", 15, minimum=1))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
# The same address the API's throttles use, and the login page with a "try again after" line
# instead of axes' bare text.
AXES_CLIENT_IP_CALLABLE = "chorus.accounts.lockout.client_address"
AXES_LOCKOUT_CALLABLE = "chorus.accounts.lockout.lockout_response"
AXES_VERBOSE = False  # no banner at start-up: a failed start must stay one line
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard:home"
LOGOUT_REDIRECT_URL = "home"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
MEDIA_ROOT = VAR_DIR / "media"
# Where targets, runs' checkpoints and models live (docs/deployment.md, "Object storage"): a local
# folder (MEDIA_ROOT; the default) or `s3://bucket/prefix` on an S3-compatible server
# (CHORUS_S3_ENDPOINT_URL; credentials from the AWS_* variables). With a bucket, MEDIA_ROOT is each
# host's cache of it (training.object_store).
_storage = env.storage_location("CHORUS_STORAGE_URL")
if isinstance(_storage, Path):
    MEDIA_ROOT = _storage
OBJECT_STORAGE = _storage if isinstance(_storage, dict) else None  # S3Storage's options, or None: the folder
# The largest file any upload may be (preference datasets are the large ones; manage.py
# import_preferences reads files in place, of any size). Past Django's in-memory size, uploads stream
# to a temporary file, and stop at the limit (chorus.uploads).
UPLOAD_MAX_BYTES = env.integer("CHORUS_UPLOAD_MAX_BYTES", 2 * 1024**3, minimum=1)
FILE_UPLOAD_HANDLERS = ["django.core.files.uploadhandler.MemoryFileUploadHandler",
                        "chorus.uploads.SizeLimitedUploadHandler"]

# Content-Security-Policy (django-csp): scripts, styles, images, fonts and connections (fetch, htmx,
# server-sent events) come from this site only. No inline <script>, no on...= handler, no style="..."
# attribute and no eval (htmx's allowEval is off in base.html too): behaviour lives in static JS
# (chorus/chorus.js, elicitation/graph.js) and looks in chorus.css. A stored XSS that slipped past
# escaping would still not run.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],  # stylesheets' small inline icons (the admin's, Swagger UI's)
        "object-src": [NONE],
        "base-uri": [NONE],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    },
}

# Participants have no account: their session is their identity, so keep it for a study's length.
SESSION_COOKIE_AGE = 60 * 60 * 24 * 30
SESSION_COOKIE_HTTPONLY = True
# Django's database sessions, read with one plain query (chorus.accounts.sessions): a withdrawal or a
# logout deletes the row, and the session is gone at once (docs/deployment.md).
SESSION_ENGINE = "chorus.accounts.sessions"

# --- Celery ---------------------------------------------------------------------------------
REDIS_URL = env.url("REDIS_URL", "redis://127.0.0.1:6379/0", schemes=("redis", "rediss"))
CELERY_BROKER_URL = env.url("CELERY_BROKER_URL", REDIS_URL, schemes=("redis", "rediss", "amqp", "amqps"))
CELERY_RESULT_BACKEND = env.url("CELERY_RESULT_BACKEND", REDIS_URL, schemes=("redis", "rediss"))
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_DEFAULT_QUEUE = "default"
# GPU work is routed by module, so a task's home decides where it runs.
CELERY_TASK_ROUTES = {"gpu_workers.tasks.*": {"queue": "gpu"}}
# Don't let one worker hoard long jobs that another idle worker could take.
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = env.integer("CHORUS_TASK_SOFT_TIME_LIMIT", 60 * 60 * 6, minimum=1)
CELERY_TASK_TIME_LIMIT = env.integer("CHORUS_TASK_TIME_LIMIT", 60 * 60 * 6 + 300, minimum=1)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_RESULT_EXPIRES = 60 * 60 * 24
CELERY_WORKER_SEND_TASK_EVENTS = True
CELERY_TASK_SEND_SENT_EVENT = True
# `celery -A chorus beat`: training runs whose GPU worker went silent are resumed from their last
# checkpoint, or failed with the reason, instead of staying "running" forever; so are preference imports.
# Tasks kept in the database while Redis was unreachable (chorus.dispatch) are sent once it answers.
CELERY_BEAT_SCHEDULE = {
    "training-reap-stale-runs": {"task": "training.tasks.runs_reap_stale", "schedule": 60.0},
    "training-reap-stale-imports": {"task": "training.tasks.preference_imports_reap", "schedule": 60.0},
    "send-pending-tasks": {"task": "chorus.tasks.pending_tasks_send", "schedule": 30.0},
}

# --- Inference ------------------------------------------------------------------------------
CHORUS_LLM_BACKEND = env.choice("CHORUS_LLM_BACKEND", "local", env.LLM_BACKENDS)
CHORUS_LLM_BASE_URL = env.url("CHORUS_LLM_BASE_URL", "http://127.0.0.1:8001/v1", schemes=("http", "https"))
CHORUS_LLM_MODEL = env.text("CHORUS_LLM_MODEL", "SmolLM2-135M-Instruct")
CHORUS_LLM_API_KEY = env.text("CHORUS_LLM_API_KEY", "not-needed")
CHORUS_MODEL_CACHE = Path(env.text("CHORUS_MODEL_CACHE", str(Path.home() / ".cache" / "chorus" / "models")))
# The OpenAI-compatible server (compose: `vllm`) that training runs with policy_backend "openai"
# write and judge through, shared by every GPU worker (training/policy_server.py). Unset: no such runs.
CHORUS_POLICY_BASE_URL = (env.url("CHORUS_POLICY_BASE_URL", "", schemes=("http", "https"))
                          if env.text("CHORUS_POLICY_BASE_URL", "") else "")
CHORUS_POLICY_MODEL = env.text("CHORUS_POLICY_MODEL", "")  # empty: the one model the server lists
CHORUS_POLICY_API_KEY = env.text("CHORUS_POLICY_API_KEY", "")
# Requests one worker keeps open at once; the server batches what arrives together.
CHORUS_POLICY_MAX_IN_FLIGHT = env.integer("CHORUS_POLICY_MAX_IN_FLIGHT", 8, minimum=1)
# Folders whose model sub-folders training runs may start from (training/base_models.py), separated by ":".
CHORUS_BASE_MODEL_DIRS = [Path(p) for p in env.text("CHORUS_BASE_MODEL_DIRS", str(CHORUS_MODEL_CACHE)).split(":") if p]
# How many GPUs each GPU worker has, so that a run asking for more processes is refused before it is
# queued; 0: workers train on the CPU (gloo, a few processes for testing); -1 (unset): not stated,
# the worker checks when it starts the run (training/configs.py, `launch_problem`).
CHORUS_WORKER_GPUS = env.integer("CHORUS_WORKER_GPUS", -1, minimum=-1)
# Multi-host runs (config nnodes > 1): the address other GPU workers reach this worker at for the
# torchrun rendezvous, and how long the first host waits for the others before failing the run.
CHORUS_RENDEZVOUS_HOST = env.text("CHORUS_RENDEZVOUS_HOST", "127.0.0.1")
CHORUS_RENDEZVOUS_TIMEOUT = env.integer("CHORUS_RENDEZVOUS_TIMEOUT", 45, minimum=5)

# --- API ------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["chorus.accounts.authentication.ApiTokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["chorus.accounts.authentication.HasScopes"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    # JSON only: DRF's browsable pages need a session login that this API does not take (tokens
    # only), and carry an inline <style> the Content-Security-Policy refuses. The reference for
    # people is /api/v1/docs/.
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["chorus.api.parsers.CheckedJSONParser",
                               "rest_framework.parsers.FormParser", "rest_framework.parsers.MultiPartParser"],
    "DEFAULT_PAGINATION_CLASS": "chorus.api.pagination.BoundedLimitOffsetPagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "chorus.api.errors.api_exception_handler",
    # `?format=` names a dataset format here (trl, multifaceted, ...), not a renderer.
    "URL_FORMAT_OVERRIDE": None,
    "DEFAULT_THROTTLE_CLASSES": ["rest_framework.throttling.UserRateThrottle",
                                 "rest_framework.throttling.AnonRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {
        "user": env.text("CHORUS_API_RATE_USER", "6000/hour"),
        "anon": env.text("CHORUS_API_RATE_ANON", "600/hour"),
    },
    # How many proxies in front of Chorus append to X-Forwarded-For. With 0 the address is
    # REMOTE_ADDR; DRF's default (None) believes whatever X-Forwarded-For a client sends, and a
    # client that sends a new one each time is never throttled.
    "NUM_PROXIES": env.integer("CHORUS_TRUSTED_PROXIES", 0),
}

# Throttle counters and other short-lived state live in Redis, shared by every web process. Keys
# carry the database name: two Chorus databases on one Redis (a bench beside a dev server) must
# not share a user id's counters. While Redis is down a read is a miss and a write is skipped
# (chorus.cache), and the short timeouts keep a Redis that does not answer from holding pages up.
CACHE_OPTIONS = {"socket_connect_timeout": 1, "socket_timeout": 2}
CACHES = {
    "default": {
        "BACKEND": "chorus.cache.ForgivingRedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": f"chorus:{DATABASES['default']['NAME']}",
        "OPTIONS": CACHE_OPTIONS,
    }
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Chorus API",
    "DESCRIPTION": "Moral graphs, datasets and trained models from Chorus.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Served from the drf-spectacular-sidecar package: no CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.text("CHORUS_LOG_LEVEL", "INFO")},
}
