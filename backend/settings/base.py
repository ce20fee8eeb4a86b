"""Settings shared by every profile. Values that vary come from the environment (env.py)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import dj_database_url
from celery.schedules import crontab

from backend.log import logging_config
from backend.settings.env import env_bool, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent.parent

SECRET_KEY = env_str("SECRET_KEY", "")  # profiles decide whether an empty key is acceptable
DEBUG = env_bool("DEBUG", False)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", [])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "backend.accounts",
    "backend.audit",
    "notifications",
    "modalities",
    "plans",
    "scheduling",
    "billing",
    "api",
    "dashboard",
]

MIDDLEWARE = [
    # First, so that every response (an HTTPS redirect, a bad Host's 400, a static file) carries
    # X-Request-ID and every log line of the request has its id (backend/log.py).
    "backend.audit.middleware.RequestContextMiddleware",
    "api.errors.ApiErrorShapeMiddleware",  # /api/ answers keep the error shape (issue 9)
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "api.middleware.BoundaryMiddleware",  # NUL / lone surrogates in any API request → 400
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "backend.urls"
WSGI_APPLICATION = "backend.wsgi.application"
ASGI_APPLICATION = "backend.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
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

DATABASE_URL = env_str("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/clinic")
DATABASES = {
    "default": dj_database_url.parse(
        DATABASE_URL, conn_max_age=env_int("DB_CONN_MAX_AGE", 60), conn_health_checks=True
    )
}
# Django's PostgreSQL backend with timestamps parsed in C (backend/db/base.py, issue 17).
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    DATABASES["default"]["ENGINE"] = "backend.db"
# Services own their transactions (STYLE.md habit 6): no implicit per-request transaction.
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# Largest request body the API accepts (413 ``request_too_large`` above it, api/errors.py).
API_MAX_BODY_BYTES = env_int("API_MAX_BODY_BYTES", 1024 * 1024)

REDIS_URL = env_str("REDIS_URL", "redis://127.0.0.1:6379/0")
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": env_str("CACHE_KEY_PREFIX", "clinic"),
    }
}

AUTH_USER_MODEL = "accounts.User"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "dashboard:login"
LOGIN_REDIRECT_URL = "dashboard:worklist"
LOGOUT_REDIRECT_URL = "dashboard:login"
# Idle log-off after 15 minutes (issue 6): the session expiry slides with every request.
SESSION_COOKIE_AGE = env_int("SESSION_IDLE_SECONDS", 15 * 60)
SESSION_SAVE_EVERY_REQUEST = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"  # storage and server time; clinic/patient zones are data (promise 9)
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / ".data" / "static"
# Uploaded prior-authorisation evidence (PHI): private files, never served at a public URL —
# no MEDIA_URL route; read through the authorisation API only (issue 11).
MEDIA_ROOT = env_str("MEDIA_ROOT", str(BASE_DIR / ".data" / "media"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

_RENDERERS = ["rest_framework.renderers.JSONRenderer"]
if env_bool("API_BROWSABLE", False):
    _RENDERERS.append("rest_framework.renderers.BrowsableAPIRenderer")

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # Token first, so that an anonymous API call gets 401 with WWW-Authenticate.
        "api.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": _RENDERERS,
    "DEFAULT_PARSER_CLASSES": ["api.parsers.BoundaryJSONParser"],
    "DEFAULT_PAGINATION_CLASS": "api.pagination.DefaultPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": ["api.filters.FilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "api.schema.ContractAutoSchema",  # error responses (issue 12)
    "EXCEPTION_HANDLER": "api.errors.api_exception_handler",
    "DEFAULT_THROTTLE_RATES": {"auth-token": env_str("AUTH_TOKEN_THROTTLE", "10/min")},
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}

# FHIR facade (api/fhir): base of the canonical URLs and identifier systems the service mints
# (PlanDefinition canonicals of protocols, MRN and prior-authorisation identifier systems). Set it
# to a URL the organisation controls; it must stay stable, since receivers match identifiers on it.
FHIR_CANONICAL_BASE = env_str("FHIR_CANONICAL_BASE", "https://fhir.clinic.example.com")

# Boundary validation (api/boundary.py, docs/adr/0009-boundary-validation.md).
API_TEXT_MAX_LENGTH = env_int("API_TEXT_MAX_LENGTH", 10_000)  # free text without its own bound
API_JSON_MAX_BYTES = env_int("API_JSON_MAX_BYTES", 16_384)  # evaluation data, answers, completion
CLINICAL_EARLIEST_DATE = env_str("CLINICAL_EARLIEST_DATE", "1900-01-01")
CLINICAL_DATE_HORIZON_DAYS = env_int("CLINICAL_DATE_HORIZON_DAYS", 5 * 366)
CLINICAL_RECORD_CLOCK_SKEW_MINUTES = env_int("CLINICAL_RECORD_CLOCK_SKEW_MINUTES", 15)
SCHEDULING_HORIZON_DAYS = env_int("SCHEDULING_HORIZON_DAYS", 366)
SESSION_BACK_ENTRY_DAYS = env_int("SESSION_BACK_ENTRY_DAYS", 7)

SPECTACULAR_SETTINGS = {
    "TITLE": "Integrated treatment-plan coordination API",
    "DESCRIPTION": "Plans, evaluation steps, readiness, scheduling and reminders for "
    "interventional-psychiatry clinics. Errors: {code, message, fields}.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",  # served from the package, never a CDN
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "api.schema.postprocess_zone_varnames",  # x-enum-varnames for the time-zone enum
    ],
    "ENUM_NAME_OVERRIDES": {
        # Several models have a ``status`` with different code sets (issue 3 plans area).
        "PlanStatusEnum": "api.plans.schema_enums.PLAN_STATUS",
        "ComponentStatusEnum": "api.plans.schema_enums.COMPONENT_STATUS",
        "RecordStatusEnum": "api.plans.schema_enums.RECORD_STATUS",
        "FlagStatusEnum": "api.plans.schema_enums.FLAG_STATUS",
        "RequirementStatusEnum": "api.plans.schema_enums.REQUIREMENT_STATUS",
        # scheduling (issue 4): session/resource ``kind`` and session ``status`` code sets
        "SessionKindEnum": "api.scheduling.schema_enums.SESSION_KIND",
        "ResourceKindEnum": "api.scheduling.schema_enums.RESOURCE_KIND",
        "EvaluationKindEnum": "api.scheduling.schema_enums.EVALUATION_KIND",
        # billing (issue 11): prior-authorisation status, evidence kind
        "AuthorizationStatusEnum": "api.billing.schema_enums.AUTHORIZATION_STATUS",
        "EvidenceKindEnum": "api.billing.schema_enums.EVIDENCE_KIND",
    },
}

# Celery (backend/celery.py): JSON only, UTC, one task at a time per worker process.
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", REDIS_URL)
CELERY_RESULT_BACKEND = None  # tasks record their outcome on rows, not in a result store
CELERY_TASK_IGNORE_RESULT = True
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_TIMEZONE = "UTC"
CELERY_ENABLE_UTC = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_ACKS_LATE = True  # every task is idempotent (STYLE.md habit 8)
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 300)
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 240)
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_QUEUES_NAMES = ("default", "reminders", "flags")
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_BEAT_SCHEDULE: dict[str, dict] = {  # reminder rows + flag scan (docs/adr/0002)
    "dispatch-reminders": {
        "task": "scheduling.dispatch_reminders",
        "schedule": 60.0,
        "options": {"queue": "reminders", "expires": 55},
    },
    "scan-flags": {
        "task": "plans.scan_flags",
        "schedule": 600.0,
        "options": {"queue": "flags", "expires": 540},
    },
    "coordinator-digest": {
        "task": "plans.send_coordinator_digests",
        "schedule": crontab(hour=11, minute=0),  # 11:00 UTC = morning across US zones
        "options": {"queue": "flags"},
    },
}
# Beat's liveness file (backend/beat.py), touched every tick; the compose health check reads
# its age (backend/healthcheck.py). Empty: no file.
CELERY_BEAT_SCHEDULER = "backend.beat:HeartbeatScheduler"
CELERY_BEAT_MAX_LOOP_INTERVAL = env_int("BEAT_MAX_LOOP_INTERVAL", 30)
BEAT_HEARTBEAT_FILE = env_str("BEAT_HEARTBEAT_FILE", str(BASE_DIR / ".data" / "beat-heartbeat"))
REMINDER_CLAIM_TIMEOUT_SECONDS = env_int("REMINDER_CLAIM_TIMEOUT_SECONDS", 600)
# Rows per send task / claim query, and the most send messages waiting in the "reminders" queue
# before a tick stops claiming (back-pressure by queue depth; docs/adr/0002, issue 17).
REMINDER_SEND_BATCH_SIZE = env_int("REMINDER_SEND_BATCH_SIZE", 100)
REMINDER_SEND_BATCH_SECONDS = env_int("REMINDER_SEND_BATCH_SECONDS", 1)  # then hand the rest back
REMINDER_QUEUE_HIGH_WATER = env_int("REMINDER_QUEUE_HIGH_WATER", 20)
WORKER_HEARTBEAT_KEY = "clinic:worker-heartbeat"
WORKER_HEARTBEAT_SECONDS = env_int("WORKER_HEARTBEAT_SECONDS", 15)
WORKER_HEARTBEAT_MAX_AGE = timedelta(seconds=env_int("WORKER_HEARTBEAT_MAX_AGE", 90))
# issue 15: how long before a booked session the scanner warns of an expiring required step
REQUIREMENT_EXPIRY_WARNING_DAYS = env_int("REQUIREMENT_EXPIRY_WARNING_DAYS", 7)
# issue 17: scanned plans per flag-scan chunk (one task, one transaction; docs/adr/0011)
FLAG_SCAN_CHUNK_PLANS = env_int("FLAG_SCAN_CHUNK_PLANS", 2000)

EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "reminders@clinic.example.com")
SMS_BACKEND = env_str("SMS_BACKEND", "notifications.channels.sms.ConsoleSmsBackend")
SMS_FROM_NUMBER = env_str("SMS_FROM_NUMBER", "+15555550100")
SMS_WEBHOOK_SECRET = env_str("SMS_WEBHOOK_SECRET", "")
SMS_PROVIDER_API_URL = env_str("SMS_PROVIDER_API_URL", "")
SMS_PROVIDER_API_KEY = env_str("SMS_PROVIDER_API_KEY", "")

# One structured format for web, worker and beat, with the request id / task id on every line
# (backend/log.py). Celery must not install its own handlers over it (backend/celery.py).
LOGGING = logging_config(env_str("LOG_LEVEL", "INFO"), env_str("LOG_FORMAT", "logfmt"))
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
