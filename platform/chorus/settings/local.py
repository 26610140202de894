"""Settings for running Chorus on one machine (the README's run command)."""
from chorus.settings.base import *  # noqa: F403

DEBUG = env.flag("DJANGO_DEBUG", True)  # noqa: F405
