"""Settings for running Chorus on one machine (the README's run command).

With no DJANGO_SECRET_KEY, a random key is made on the first start and kept in var/secret_key, so
nobody who reads the source can sign join links or dataset links. DEBUG stays off unless
DJANGO_DEBUG=true: an error page must not show the settings to whoever caused the error.
"""
from chorus.settings.base import *  # noqa: F403

SECRET_KEY = env.secret_key("DJANGO_SECRET_KEY", VAR_DIR / "secret_key")  # noqa: F405
DEBUG = env.flag("DJANGO_DEBUG", False)  # noqa: F405
