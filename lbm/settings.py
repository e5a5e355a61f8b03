"""Settings for the LBM back office, read from the environment.

With nothing set the project runs on the embedded default: an SQLite file under ``var/``,
Celery tasks run eagerly in the web process, e-mail printed to the console, DEBUG on.
Production sets ``DEBUG=0`` and then must set ``SECRET_KEY``, ``PII_HASH_KEY`` and
``ALLOWED_HOSTS``; it normally sets ``DATABASE_URL`` (PostgreSQL, psycopg 3) and ``REDIS_URL``
(Celery broker and the cache) as well.
"""

import os
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from kombu import Queue

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DEBUG", True)

_DEV_SECRET = "dev-only-insecure-key-do-not-use-in-production"
SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
    SECRET_KEY = _DEV_SECRET

# Key of the keyed hash (HMAC-SHA256) under which phone numbers and e-mail addresses are stored.
# It must differ from SECRET_KEY so that rotating one does not orphan the other.
PII_HASH_KEY = os.environ.get("PII_HASH_KEY", "")
if not PII_HASH_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("PII_HASH_KEY must be set when DEBUG is off.")
    PII_HASH_KEY = "dev-only-pii-hash-key"

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver" if DEBUG else "")
if not DEBUG and not ALLOWED_HOSTS:
    raise ImproperlyConfigured("ALLOWED_HOSTS must be set when DEBUG is off.")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "lbm.apps.LBMAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "guardian",
    "import_export",
    "simple_history",
    "axes",
    "django_celery_beat",
    "rest_framework",
    "drf_spectacular",
    "lbm",
    "audiences",
    "billing",
    "notifications",
    "api",
]

# Most of the admin site's middleware comes from lbm.site_middleware: the stock classes, stepping
# aside for the bearer-token API (sessions, language, messages and the audit request user mean
# nothing to it). CSRF and frame options stay stock everywhere (check --deploy looks for them;
# the API's views are CSRF-exempt anyway).
MIDDLEWARE = [
    # First: the request id, the JSON request log line and the request metrics (docs/operations.md).
    "lbm.observability.RequestObserverMiddleware",
    # API paths: a failure Django answers itself becomes LINE's JSON body (docs/api.md#errors).
    "api.middleware.LineErrorMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "lbm.site_middleware.SessionMiddleware",
    "lbm.site_middleware.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "lbm.site_middleware.AuthenticationMiddleware",
    "lbm.site_middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "lbm.site_middleware.HistoryRequestMiddleware",
    # Last, as django-axes asks: it turns a lockout raised during authentication into a response.
    "axes.middleware.AxesMiddleware",
]

if not DEBUG:
    # Production serves the collected static files itself (runserver does it under DEBUG).
    MIDDLEWARE.insert(1, "whitenoise.middleware.WhiteNoiseMiddleware")

ROOT_URLCONF = "lbm.urls"
WSGI_APPLICATION = "lbm.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
VAR_DIR = Path(os.environ.get("LBM_VAR_DIR", BASE_DIR / "var"))
DATABASE_URL = os.environ.get("DATABASE_URL", "")
if DATABASE_URL:
    DATABASES = {
        "default": dj_database_url.parse(DATABASE_URL, conn_max_age=60, conn_health_checks=True)
    }
    if DATABASES["default"]["ENGINE"].endswith("postgresql"):
        # Django's own queries bind on the client and are never prepared; this only lets the
        # API's hot statements (lbm.hotsql) be prepared once per connection. Behind a pooler in
        # transaction mode (PgBouncer) set PG_PREPARE_THRESHOLD=none.
        _threshold = os.environ.get("PG_PREPARE_THRESHOLD", "5").strip().lower()
        DATABASES["default"].setdefault("OPTIONS", {})["prepare_threshold"] = (
            None if _threshold in ("", "none") else int(_threshold)
        )
else:
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": VAR_DIR / "db.sqlite3",
            # Wait for a writer rather than failing at once when Celery's eager tasks and the web
            # process touch the file together.
            "OPTIONS": {"timeout": 20},
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache and Celery -----------------------------------------------------------------------
REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = None
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# An unacknowledged message goes back to the queue after this long: longer than the longest
# task (an import of 1,500,000 IDs takes minutes), so a running task is never delivered twice
# while a killed worker's task still comes back (docs/reliability.md).
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3 * 3600}
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "Asia/Tokyo"  # LINE counts days and months on Japan time (docs/billing.md)
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Django's LOGGING (one JSON object a line) applies in the workers too.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False

# Named queues, so that a 1.5 M import or a month-end run never delays a delivery webhook or a
# contact-verification e-mail: one worker (or several) per queue. `make worker` consumes them all;
# docs/operations.md gives the command for each. A task not named here goes to "default".
CELERY_TASK_DEFAULT_QUEUE = "default"
TASK_QUEUES = ("default", "webhooks", "imports", "billing")
# A worker started without -Q consumes every queue (so a plain `celery -A lbm worker` still
# charges pushes and sends webhooks); -Q picks some of them.
CELERY_TASK_QUEUES = [Queue(name) for name in TASK_QUEUES]
CELERY_TASK_ROUTES = {
    "audiences.sweep_uploads": {"queue": "default"},  # a sweep never waits behind an import
    "audiences.*": {"queue": "imports"},
    "billing.*": {"queue": "billing"},
    "notifications.deliver_webhook": {"queue": "webhooks"},
    "notifications.fan_out_webhooks": {"queue": "webhooks"},
    # Charges delivered notices and queues their webhooks, about a second after the push.
    "notifications.finish_notices": {"queue": "webhooks"},
}

# --- Authentication and sign-in hardening ---------------------------------------------------
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # first: refuses locked-out credentials
    "django.contrib.auth.backends.ModelBackend",
    "guardian.backends.ObjectPermissionBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 10},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
AXES_FAILURE_LIMIT = int(os.environ.get("AXES_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = timedelta(minutes=int(os.environ.get("AXES_COOLOFF_MINUTES", "15")))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_ENABLED = env_bool("AXES_ENABLED", True)
AXES_LOCKOUT_TEMPLATE = "admin/lockout.html"

# Sessions end after 30 minutes without a request, and when the browser closes.
SESSION_COOKIE_AGE = int(os.environ.get("SESSION_IDLE_SECONDS", str(30 * 60)))
SESSION_SAVE_EVERY_REQUEST = True
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if not DEBUG:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", str(365 * 24 * 3600)))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True

# django-guardian: no anonymous user row; object permissions only for signed-in members.
ANONYMOUS_USER_NAME = None
GUARDIAN_RAISE_403 = False

# django-import-export: importing or exporting a model needs the right to change it
# (the library's default lets any staff user do both).
IMPORT_EXPORT_IMPORT_PERMISSION_CODE = "change"
IMPORT_EXPORT_EXPORT_PERMISSION_CODE = "change"
IMPORT_EXPORT_SKIP_ADMIN_LOG = False

# --- The LINE-compatible HTTP API (app ``api``) -----------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["api.authentication.ChannelTokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_THROTTLE_CLASSES": ["api.throttling.ChannelRateThrottle"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": [
        "rest_framework.parsers.JSONParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "EXCEPTION_HANDLER": "api.errors.line_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "LBM back office — LINE-compatible Messaging API",
    "DESCRIPTION": "Audiences, notification messages (phone number push) and message quota, "
    "wire-compatible with LINE's Messaging API.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_AUTHENTICATION": [],
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
}
# Per channel, kept in the cache (Redis when REDIS_URL is set).
LBM_API_RATE_LIMITS = {
    "default": os.environ.get("API_RATE_DEFAULT", "2000/s"),
    "audience": os.environ.get("API_RATE_AUDIENCE", "60/min"),
    "pnp": os.environ.get("API_RATE_PNP", "2000/s"),
}
# LINE Tag intake: events per second accepted per tag (audiences.intake).
LBM_TAG_RATE_LIMIT = int(os.environ.get("TAG_RATE_LIMIT", "5000"))
# Where web sites send LINE Tag events (the snippets shown in the admin name it).
LBM_TAG_INTAKE_ORIGIN = os.environ.get("TAG_INTAKE_ORIGIN", "https://lbm.example.com")

# --- E-mail ---------------------------------------------------------------------------------
EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "25"))
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_FILE_PATH = os.environ.get("EMAIL_FILE_PATH", str(VAR_DIR / "mail"))
DEFAULT_FROM_EMAIL = os.environ.get(
    "DEFAULT_FROM_EMAIL", "LINE Business Manager <no-reply@lbm.example>"
)
# Absolute base of links sent by e-mail (verification links), e.g. https://lbm.example.com
SITE_URL = os.environ.get("SITE_URL", "http://127.0.0.1:8000").rstrip("/")
CONTACT_VERIFICATION_MAX_AGE = timedelta(days=3)

# --- Internationalisation and time ----------------------------------------------------------
LANGUAGE_CODE = "zh-hant"
LANGUAGES = [("zh-hant", "繁體中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
USE_TZ = True
TIME_ZONE = "Asia/Taipei"  # shown to people; stored in UTC

# --- Static files ---------------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", VAR_DIR / "media"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

LOGIN_URL = "admin:login"

# One JSON object a line (plain lines under DEBUG, or with LOG_FORMAT=text), each with the
# request id of the request or task it came from; phone numbers and e-mail addresses are masked
# on the way out (lbm.observability). Every request is logged once by "lbm.request"
# (LOG_REQUESTS=0 to stop).
LOG_FORMAT = os.environ.get("LOG_FORMAT", "text" if DEBUG else "json").strip().lower()
LOG_REQUESTS = env_bool("LOG_REQUESTS", True)
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"context": {"()": "lbm.observability.LogContextFilter"}},
    "formatters": {
        "json": {"()": "lbm.observability.json_formatter"},
        "text": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "filters": ["context"],
            "formatter": "text" if LOG_FORMAT == "text" else "json",
        }
    },
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"axes": {"level": "WARNING"}},
}

# --- What operators see (docs/operations.md) -----------------------------------------------------
# /-/metrics (Prometheus) answers only a request carrying "Authorization: Bearer METRICS_TOKEN";
# with no token set it is served under DEBUG only.
METRICS_TOKEN = os.environ.get("METRICS_TOKEN", "")
# An unfinished upload, delivery or job whose state has not moved for this long counts as stalled.
STALLED_AFTER = timedelta(minutes=int(os.environ.get("STALLED_AFTER_MINUTES", "15")))

# --- Billing (docs/billing.md#two-person-approvals) ----------------------------------------------
# A credit or debit note above this amount (TWD, tax included) takes effect only when a second
# LINE staff member approves it; at or below it, at once.
BILLING_TWO_PERSON_THRESHOLD = Decimal(os.environ.get("BILLING_TWO_PERSON_THRESHOLD", "10000"))
