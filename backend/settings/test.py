"""Tests: the real PostgreSQL and Redis (DATABASE_URL / REDIS_URL from ``make test``)."""

import os
import re

from backend.settings.base import *  # noqa: F403
from backend.settings.base import REDIS_URL as _BASE_REDIS_URL
from backend.settings.env import env_str

# Under pytest-xdist each worker process gets its own Redis database (pytest-django already
# gives each its own PostgreSQL test database), so that one worker's cache.clear() or queued
# tasks never reach another's: worker gwN uses the database after REDIS_URL's own, + N (make
# test gives 12, so 13, 14, 15; never make run's 0). Subprocesses started by a test inherit the
# variable and agree.
_XDIST_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")
if _XDIST_WORKER.startswith("gw"):
    _base = re.search(r"/(\d+)$", _BASE_REDIS_URL.rstrip("/"))
    _index = (int(_base.group(1)) if _base else 0) + int(_XDIST_WORKER[2:]) + 1
    REDIS_URL = re.sub(r"/\d*$", "", _BASE_REDIS_URL.rstrip("/")) + f"/{_index}"
    CELERY_BROKER_URL = REDIS_URL
    CACHES["default"]["LOCATION"] = REDIS_URL  # noqa: F405

DEBUG = False
SECRET_KEY = "test-only-insecure-key"
ALLOWED_HOSTS = ["testserver", "127.0.0.1", "localhost"]
# Every error answer a test provokes under /api/v1/ must be documented in the schema (issue 12).
MIDDLEWARE = [
    *MIDDLEWARE,  # noqa: F405
    "api.schema.ContractCheckMiddleware",
]
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # speed; tests only
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
SMS_BACKEND = env_str("SMS_BACKEND", "notifications.channels.sms.LedgerSmsBackend")
SMS_WEBHOOK_SECRET = "test-webhook-secret"
CACHES["default"]["KEY_PREFIX"] = "clinic-test"  # noqa: F405
REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"] = {"auth-token": "1000/min"}  # noqa: F405
STORAGES["staticfiles"] = {  # noqa: F405
    "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
}

# WhiteNoise serves from the finders here; it only needs the (empty) collect directory to exist.
WHITENOISE_USE_FINDERS = True
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # noqa: F405
