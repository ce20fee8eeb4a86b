"""Local development: DEBUG on, a throwaway secret key, localhost only."""

import warnings

from celery.exceptions import SecurityWarning

from backend.settings.base import *  # noqa: F403
from backend.settings.env import env_bool, env_list, env_str

DEBUG = env_bool("DEBUG", True)
SECRET_KEY = env_str("SECRET_KEY", "") or "dev-only-insecure-key-not-for-production"
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost"])

# WhiteNoise serves from the finders here; it only needs the (empty) collect directory to exist.
WHITENOISE_USE_FINDERS = True
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # noqa: F405

# A development machine or container often runs everything as root; Celery's warning about it is
# noise there (it still refuses pickle, which we never accept). Production runs as an
# unprivileged user (Dockerfile) and keeps the warning.
warnings.filterwarnings(
    "ignore", message=r"\s*You're running the worker with superuser", category=SecurityWarning
)
