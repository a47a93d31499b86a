"""MedGov settings: one module, driven by environment variables (see README "Configuration")."""

from pathlib import Path

from celery.schedules import crontab
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

from config.env import database_from_env, env_bool, env_float, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("MEDGOV_VAR_DIR", str(BASE_DIR / "var")))

DEFAULT_SECRET_KEY = "medgov-insecure-development-key-change-me"
DEBUG = env_bool("DEBUG", False)
SECRET_KEY = env_str("SECRET_KEY", DEFAULT_SECRET_KEY)
if not DEBUG and SECRET_KEY == DEFAULT_SECRET_KEY:
    raise ImproperlyConfigured(
        "SECRET_KEY is the built-in development key; set SECRET_KEY (or DEBUG=1 for local development)"
    )
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

DJANGO_APPS = [
    "django.contrib.admin.apps.SimpleAdminConfig",  # admin modules load with the URL conf (config/urls.py)
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
]
THIRD_PARTY_APPS = [
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "guardian",
    "axes",
]
LOCAL_APPS = [
    "benchmark",
    "audits",
    "governance",
]
INSTALLED_APPS = DJANGO_APPS + THIRD_PARTY_APPS + LOCAL_APPS

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "csp.middleware.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

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
                "governance.context_processors.navigation",
            ],
        },
    }
]

DATABASES = {"default": database_from_env("DATABASE_URL", VAR_DIR / "medgov.sqlite3")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
FORMS_URLFIELD_ASSUME_HTTPS = True
USING_SQLITE = DATABASES["default"]["ENGINE"].endswith("sqlite3")
if USING_SQLITE:
    VAR_DIR.mkdir(parents=True, exist_ok=True)

# --- Authentication and sessions ------------------------------------------------------------------
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "governance.backends.CachedModelBackend",
    "guardian.backends.ObjectPermissionBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
SESSION_COOKIE_AGE = env_int("SESSION_COOKIE_AGE", 8 * 3600)
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
ANONYMOUS_USER_NAME = None  # guardian: no anonymous object permissions

AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = env_float("AXES_COOLOFF_HOURS", 0.25)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_VERBOSE = False

# --- HTTPS and browser security (production unless MEDGOV_HTTPS=0) --------------------------------
HTTPS = env_bool("MEDGOV_HTTPS", not DEBUG)
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
SECURE_SSL_REDIRECT = HTTPS and env_bool("SECURE_SSL_REDIRECT", True)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000) if HTTPS else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = HTTPS
SECURE_HSTS_PRELOAD = HTTPS and env_bool("SECURE_HSTS_PRELOAD", False)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if env_bool("BEHIND_PROXY", False) else None
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
SILENCED_SYSTEM_CHECKS = [] if SECURE_HSTS_PRELOAD else ["security.W021"]
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "frame-ancestors": [NONE],
        "form-action": [SELF],
    }
}

# --- Internationalisation -------------------------------------------------------------------------
LANGUAGE_CODE = env_str("LANGUAGE_CODE", "zh-hans")
LANGUAGES = [("zh-hans", _("Simplified Chinese")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env_str("TIME_ZONE", "Asia/Shanghai")
USE_I18N = True
USE_TZ = True

# --- Static and uploaded files --------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedStaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = True
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(VAR_DIR / "media")))
MEDIA_URL = "media/"
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
MEDGOV_MAX_BENCHMARK_UPLOAD_BYTES = env_int("MEDGOV_MAX_BENCHMARK_UPLOAD_BYTES", 50 * 1024 * 1024)
MEDGOV_MAX_ATTACHMENT_BYTES = env_int("MEDGOV_MAX_ATTACHMENT_BYTES", 20 * 1024 * 1024)

# --- REST API -------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    # Token first: anonymous API calls get 401 with a WWW-Authenticate challenge, not 403.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.OrderingFilter",
        "rest_framework.filters.SearchFilter",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "config.api.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "MedGov API",
    "DESCRIPTION": "Hospital LLM governance: benchmarks, audits, deployment requests and IRB review.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    "COMPONENT_SPLIT_REQUEST": True,
    # Swagger UI is served from our own static files: hospital networks may be closed.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        "VerdictEnum": "audits.models.ConversationResult.Verdict",
        "RecommendationEnum": "governance.models.Recommendation",
        "AuditKindEnum": "audits.models.Audit.Kind",
        "EndpointKindEnum": "audits.models.ModelEndpoint.Kind",
        "RequestKindEnum": "governance.models.DeploymentRequest.Kind",
        "ConditionKindEnum": "governance.models.Condition.Kind",
        "AttachmentKindEnum": "governance.models.RequestAttachment.Kind",
        "ConditionSourceEnum": "governance.models.Condition.Source",
        "ThresholdSourceEnum": "governance.models.PolicyThreshold.Source",
    },
}

# --- Redis and Celery -----------------------------------------------------------------------------
REDIS_URL = env_str("REDIS_URL", "")
EMBEDDED_BROKER_DIR = VAR_DIR / "broker"
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", REDIS_URL or "filesystem://")
CELERY_RESULT_BACKEND = env_str("CELERY_RESULT_BACKEND", REDIS_URL) or None
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "config.cache.ForgivingRedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "medgov",
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        }
    }
if CELERY_BROKER_URL.startswith("filesystem"):
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(EMBEDDED_BROKER_DIR / "queue"),
        "data_folder_out": str(EMBEDDED_BROKER_DIR / "queue"),
        "control_folder": str(EMBEDDED_BROKER_DIR / "control"),
    }
    for _folder in ("queue", "control"):
        (EMBEDDED_BROKER_DIR / _folder).mkdir(parents=True, exist_ok=True)
else:
    # Unacknowledged messages come back after this long; the audit watchdog re-queues sooner.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 3600)}
READYZ_WORKER_TIMEOUT = env_float("READYZ_WORKER_TIMEOUT", 2.0)
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Tasks running when the broker connection drops cannot be acknowledged any more: stop them so the worker
# starts clean after reconnecting (Celery 6's default). Audit chunks are idempotent and keep stored results.
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = True
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_RESULT_EXPIRES = 3600
# Task state lives in PostgreSQL; only the health check reads a result, so a Redis outage cannot fail a task's ending.
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 30 * 60)
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 25 * 60)
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_WORKER_SEND_TASK_EVENTS = False
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_BEAT_SCHEDULE = {
    "audits-recover-stalled": {
        "task": "audits.tasks.audit_recover_stalled_task",
        "schedule": env_float("AUDIT_RECOVERY_INTERVAL_S", 20.0),
    },
    "audits-run-due-schedules": {"task": "audits.tasks.audit_schedules_run_due_task", "schedule": 60.0},
    "governance-continuing-review": {
        "task": "governance.tasks.continuing_review_sweep_task",
        "schedule": crontab(hour=6, minute=0),
    },
    "health-heartbeat": {"task": "config.celery.health_task", "schedule": 60.0},
}

# --- Audits ---------------------------------------------------------------------------------------
MEDGOV_ENCRYPTION_KEYS = env_list("MEDGOV_ENCRYPTION_KEYS", [])
MEDGOV_ENDPOINT_ALLOWED_NETWORKS = env_list("MEDGOV_ENDPOINT_ALLOWED_NETWORKS", [])
MEDGOV_ENDPOINT_BLOCKED_NETWORKS = env_list(
    "MEDGOV_ENDPOINT_BLOCKED_NETWORKS",
    ["169.254.0.0/16", "fe80::/10", "100.100.100.200/32", "fd00:ec2::254/128", "0.0.0.0/32"],
)
AUDIT_CHUNK_SIZE = env_int("AUDIT_CHUNK_SIZE", 2000)
AUDIT_CHUNK_ROUNDS = env_int("AUDIT_CHUNK_ROUNDS", 16)  # a chunk holds this many rounds of max_concurrency
AUDIT_LEASE_SECONDS = env_int("AUDIT_LEASE_SECONDS", 30)
AUDIT_FLUSH_ROWS = env_int("AUDIT_FLUSH_ROWS", 2000)
AUDIT_FLUSH_SECONDS = env_float("AUDIT_FLUSH_SECONDS", 1.0)
AUDIT_CHUNK_MAX_SECONDS = env_int("AUDIT_CHUNK_MAX_SECONDS", 600)
AUDIT_REQUEUE_PENDING_SECONDS = env_int("AUDIT_REQUEUE_PENDING_SECONDS", 120)
AUDIT_CIRCUIT_BREAKER_FAILURES = env_int("AUDIT_CIRCUIT_BREAKER_FAILURES", 50)
AUDIT_FAIL_ERROR_SHARE = env_float("AUDIT_FAIL_ERROR_SHARE", 0.2)
AUDIT_LIMITER_CONNECTIONS = env_int("AUDIT_LIMITER_CONNECTIONS", 16)
AUDIT_MAX_RESPONSE_BYTES = env_int("AUDIT_MAX_RESPONSE_BYTES", 2 * 1024 * 1024)

# --- Governance -----------------------------------------------------------------------------------
MEDGOV_SITE_URL = env_str("MEDGOV_SITE_URL", "http://127.0.0.1:8000")
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "medgov@hospital.invalid")
EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)

# --- Logging --------------------------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "httpx": {"level": "WARNING"},
        "httpcore": {"level": "WARNING"},
        "kombu.connection": {"level": "ERROR"},
        "weasyprint": {"level": "WARNING"},
        "axes": {"level": "WARNING"},
        "fontTools": {"level": "WARNING"},
    },
}
