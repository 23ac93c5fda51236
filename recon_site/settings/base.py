"""Settings shared by every environment. Values come from the environment (see `.env.example`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.exceptions import ImproperlyConfigured

from recon_site.embedded_db import embedded_database_settings
from recon_site.env import BASE_DIR, database_url, env, flag, positive_int, rate, whole_number

DEBUG = flag("DEBUG", False)
# Raise LockOrderViolation on a statement that takes a lock against core/locks.py's order
# (a latent deadlock). A check per statement: the test suite turns it on (settings/test.py); off
# by default elsewhere, `make run` included, so a path no test takes is never refused to a user.
LOCK_ORDER_CHECKS = flag("LOCK_ORDER_CHECKS", False)
# Local runs only: production.py refuses to start without a real key.
SECRET_KEY = env.str("SECRET_KEY", default="") or "recon-insecure-local-only-key-do-not-deploy"

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
# A page's form sent without a valid token: the web app's 403 page, in its layout.
CSRF_FAILURE_VIEW = "tenants.http.error_pages.csrf_failure"
VAR_DIR = Path(env.str("VAR_DIR", default=str(BASE_DIR / "var"))).resolve()

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_q",
    "django_htmx",
    "recon_site.apps.ReconSiteConfig",
    "source_files",
    "tenants",
    "vendors",
    "purchasing",
    "invoices",
    "learning",
    "matching",
    "payments",
    "review",
    "audit",
    "benchmarks",
]

MIDDLEWARE = [
    # Row-level security's tenant scope: cleared before and after every request (core.tenancy.rls).
    "core.tenancy.rls.TenantScopeMiddleware",
    "core.http.middleware.RequestIdMiddleware",
    # A header holding a NUL is a 400; a cookie holding one is dropped (before sessions read it).
    "core.http.middleware.NulFreeRequestMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Serves collected static files (the admin's, the web app's) from gunicorn without a CDN.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Content-Security-Policy for the web app (Django 5.2 has none built in).
    "tenants.http.web.SecurityHeadersMiddleware",
    "core.http.middleware.ApiErrorEnvelopeMiddleware",
    # PostgreSQL unreachable → 503 with Retry-After (a page for the web app), not a 500.
    "core.http.middleware.DatabaseUnavailableMiddleware",
]

ROOT_URLCONF = "recon_site.urls"
WSGI_APPLICATION = "recon_site.wsgi.application"
APPEND_SLASH = False

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "tenants.http.web.web_globals",
                "review.dispute_views.notifications_unread",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
# DATABASE_URL names a server and the runtime role the app connects as (core.tenancy.roles);
# MIGRATE_DATABASE_URL, the same database as the owner role that `manage.py migrate` runs as.
# Without DATABASE_URL the embedded PostgreSQL under VAR_DIR is started, with both roles.
DATABASE_URL = env.str("DATABASE_URL", default="")
MIGRATE_DATABASE_URL = env.str("MIGRATE_DATABASE_URL", default="")


if DATABASE_URL:
    _db = database_url("DATABASE_URL", DATABASE_URL)
    DATABASE_OWNER = database_url("MIGRATE_DATABASE_URL", MIGRATE_DATABASE_URL) if MIGRATE_DATABASE_URL else None
else:
    _db, DATABASE_OWNER = embedded_database_settings(VAR_DIR)
# The role the owner grants table privileges to after each migrate (core.tenancy.rls.rls_install).
DB_RUNTIME_ROLE = env.str("DB_RUNTIME_ROLE", default=_db["USER"])
# Recon's backend: Django's PostgreSQL backend plus the tenant setting row-level security reads.
_db["ENGINE"] = "core.tenancy.db_backend"
_db["CONN_MAX_AGE"] = whole_number("DB_CONN_MAX_AGE", 60)
_db["CONN_HEALTH_CHECKS"] = True
_db.setdefault("OPTIONS", {})
_db["OPTIONS"].setdefault("connect_timeout", positive_int("DB_CONNECT_TIMEOUT", 5))
DATABASES = {"default": _db}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache, throttling counters ---------------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "recon",
            # A Redis that stops answering costs a request one second at most: the rate limits
            # then fail open (tenants/http/throttling.py).
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
# Where the rate-limit counters live (core.rate_counters): counters every process shares,
# so no local-memory cache. Failed sign-ins are always counted in PostgreSQL.
RATE_LIMIT_STORE = "redis" if REDIS_URL else "database"

# --- Jobs (django-q2) -------------------------------------------------------------------------
Q_CLUSTER = {
    "name": "recon",
    "workers": positive_int("Q_WORKERS", 2),
    "timeout": positive_int("Q_TIMEOUT", 300),
    "retry": positive_int("Q_RETRY", 360),
    "catch_up": False,
    "label": "Jobs",
    # django-q2 gives a process the queue named by the Q_CLUSTER_NAME environment variable (the
    # load test's private queue on a shared Redis), and then pops this key without a default.
    "ALT_CLUSTERS": {},
}
if Q_CLUSTER["retry"] <= Q_CLUSTER["timeout"]:
    # django-q2 hands a task out again after `retry` seconds: below the timeout, a slow task
    # would run twice at once.
    raise ImproperlyConfigured("Q_RETRY must be greater than Q_TIMEOUT")
if REDIS_URL:
    Q_CLUSTER["redis"] = REDIS_URL
    # One connection pool per process instead of a new connection per task queued (core.task_broker).
    Q_CLUSTER["broker_class"] = "core.task_broker.PooledRedis"
else:
    Q_CLUSTER["orm"] = "default"
    # Never closes a connection that holds a run's session lock (core.task_broker).
    Q_CLUSTER["broker_class"] = "core.task_broker.SessionLockSafeOrm"

# --- Auth, i18n, static ------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
# The web app's own login page; the admin keeps its own (/admin/login/).
LOGIN_URL = "/login"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/login"
# Failed sign-ins (web app and admin, tenants.http.login_throttle): this many on one account, or
# LOGIN_IP_FAILURE_LIMIT from one address, within LOGIN_COOLOFF_MINUTES of the first, and sign-in
# is refused (right password too) until those minutes are over.
LOGIN_FAILURE_LIMIT = positive_int("LOGIN_FAILURE_LIMIT", 5)
LOGIN_IP_FAILURE_LIMIT = positive_int("LOGIN_IP_FAILURE_LIMIT", 20)
LOGIN_COOLOFF_MINUTES = positive_int("LOGIN_COOLOFF_MINUTES", 15)
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
# Serve straight from the apps' static folders when nothing was collected (make run, tests);
# production images run collectstatic at build, and WhiteNoise serves STATIC_ROOT.
WHITENOISE_USE_FINDERS = not (STATIC_ROOT / "admin").is_dir()
if WHITENOISE_USE_FINDERS:
    STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # WhiteNoise warns about a missing root

# Imported files are kept as they arrived (source_files): CSV, UBL, CII, PDF and bank statements,
# once per tenant and content, as <tenant id>/<sha256[:2]>/<sha256>. Django's storage API: the
# `source_files` alias below is the one place that names the backend. SOURCE_FILES_S3_BUCKET set:
# an S3-compatible bucket (django-storages, source_files/storage.py), with the credentials boto3
# finds itself (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, or the instance's role); otherwise a
# directory, SOURCE_FILES_DIR.
SOURCE_FILES_DIR = Path(env.str("SOURCE_FILES_DIR", default=str(VAR_DIR / "files"))).resolve()
SOURCE_FILES_S3_BUCKET = env.str("SOURCE_FILES_S3_BUCKET", default="").strip()
SOURCE_FILES_S3_ENDPOINT_URL = env.str("SOURCE_FILES_S3_ENDPOINT_URL", default="").strip()
SOURCE_FILES_S3_REGION = env.str("SOURCE_FILES_S3_REGION", default="").strip()
SOURCE_FILES_S3_ADDRESSING_STYLE = env.str("SOURCE_FILES_S3_ADDRESSING_STYLE", default="").strip().lower()
SOURCE_FILES_S3_ENCRYPTION = env.str("SOURCE_FILES_S3_ENCRYPTION", default="").strip()
SOURCE_FILES_S3_KMS_KEY_ID = env.str("SOURCE_FILES_S3_KMS_KEY_ID", default="").strip()
_S3_ENCRYPTIONS = ("AES256", "aws:kms")
_s3_without_bucket = {
    "SOURCE_FILES_S3_ENDPOINT_URL": SOURCE_FILES_S3_ENDPOINT_URL,
    "SOURCE_FILES_S3_REGION": SOURCE_FILES_S3_REGION,
    "SOURCE_FILES_S3_ADDRESSING_STYLE": SOURCE_FILES_S3_ADDRESSING_STYLE,
    "SOURCE_FILES_S3_ENCRYPTION": SOURCE_FILES_S3_ENCRYPTION,
    "SOURCE_FILES_S3_KMS_KEY_ID": SOURCE_FILES_S3_KMS_KEY_ID,
}
for _name, _value in _s3_without_bucket.items():
    # Half an S3 configuration would otherwise keep the files on local disk, unnoticed.
    if _value and not SOURCE_FILES_S3_BUCKET:
        raise ImproperlyConfigured(f"{_name} is set but SOURCE_FILES_S3_BUCKET is not")
if SOURCE_FILES_S3_ENDPOINT_URL and not SOURCE_FILES_S3_ENDPOINT_URL.startswith(("https://", "http://")):
    raise ImproperlyConfigured(
        f"SOURCE_FILES_S3_ENDPOINT_URL must be an http(s):// URL, got {SOURCE_FILES_S3_ENDPOINT_URL!r}"
    )
if SOURCE_FILES_S3_ADDRESSING_STYLE not in ("", "auto", "path", "virtual"):
    raise ImproperlyConfigured(
        f"SOURCE_FILES_S3_ADDRESSING_STYLE must be auto, path or virtual, got {SOURCE_FILES_S3_ADDRESSING_STYLE!r}"
    )
if SOURCE_FILES_S3_ENCRYPTION not in ("", *_S3_ENCRYPTIONS):
    raise ImproperlyConfigured(
        f"SOURCE_FILES_S3_ENCRYPTION must be AES256, aws:kms or empty, got {SOURCE_FILES_S3_ENCRYPTION!r}"
    )
if SOURCE_FILES_S3_KMS_KEY_ID and SOURCE_FILES_S3_ENCRYPTION != "aws:kms":
    raise ImproperlyConfigured("SOURCE_FILES_S3_KMS_KEY_ID needs SOURCE_FILES_S3_ENCRYPTION=aws:kms")


def source_files_s3_storage(
    *,
    bucket: str,
    endpoint_url: str = "",
    region: str = "",
    addressing_style: str = "",
    encryption: str = "",
    kms_key_id: str = "",
) -> dict[str, Any]:
    """The `source_files` storage in bucket `bucket` (the S3 tests build theirs with it too)."""
    object_parameters = {"ServerSideEncryption": encryption} if encryption else {}
    if kms_key_id:
        object_parameters["SSEKMSKeyId"] = kms_key_id
    return {
        "BACKEND": "source_files.storage.SourceFileS3Storage",
        "OPTIONS": {
            "bucket_name": bucket,
            "endpoint_url": endpoint_url or None,
            "region_name": region or None,
            "addressing_style": addressing_style or None,
            # A name is never written twice (a kept name is the tenant and the content's digest,
            # and source_file_keep checks first): one that exists gets a new name, not new bytes.
            "file_overwrite": False,
            # Private: no canned ACL is sent (an object is its owner's alone unless a bucket policy
            # says otherwise, and buckets with ACLs disabled, AWS's default, refuse one), and any
            # URL the storage would make is signed and expires; the app serves the files itself.
            "default_acl": None,
            "querystring_auth": True,
            "custom_domain": None,
            "object_parameters": object_parameters,
        },
    }


if SOURCE_FILES_S3_BUCKET:
    _source_files_storage = source_files_s3_storage(
        bucket=SOURCE_FILES_S3_BUCKET,
        endpoint_url=SOURCE_FILES_S3_ENDPOINT_URL,
        region=SOURCE_FILES_S3_REGION,
        addressing_style=SOURCE_FILES_S3_ADDRESSING_STYLE,
        encryption=SOURCE_FILES_S3_ENCRYPTION,
        kms_key_id=SOURCE_FILES_S3_KMS_KEY_ID,
    )
else:
    _source_files_storage = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        # Readable by the app's own user only: the files are tenants' invoices and bank data.
        "OPTIONS": {
            "location": str(SOURCE_FILES_DIR),
            "file_permissions_mode": 0o600,
            "directory_permissions_mode": 0o700,
        },
    }
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    "source_files": _source_files_storage,
}

# Bodies larger than this are refused with 413 before anything is parsed.
DATA_UPLOAD_MAX_MEMORY_SIZE = positive_int("MAX_REQUEST_BYTES", 2_621_440)

# --- API ---------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "tenants.authentication.ApiKeyAuthentication",
        "tenants.authentication.TenantSessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["tenants.authentication.IsTenantMember"],
    "DEFAULT_THROTTLE_CLASSES": [
        "tenants.http.throttling.TenantRateThrottle",
        "tenants.http.throttling.AnonIpRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "tenant": rate("THROTTLE_TENANT_RATE", "1200/min"),
        "anon": rate("THROTTLE_ANON_RATE", "60/min"),
    },
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["core.http.parsers.DecimalJSONParser"],
    "DEFAULT_PAGINATION_CLASS": "core.http.pagination.CreatedCursorPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    # Proxies in front of the app that append to X-Forwarded-For; 0 trusts none and limits
    # anonymous callers by the connecting address.
    "NUM_PROXIES": whole_number("TRUSTED_PROXY_COUNT", 0) or None,
    "EXCEPTION_HANDLER": "core.http.errors.api_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "core.http.schema.ReconAutoSchema",
    "COERCE_DECIMAL_TO_STRING": True,
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Recon API",
    "DESCRIPTION": (
        "Accounts-payable back office: invoices, purchase orders, goods receipts, 3-way matching. "
        "Amounts, quantities and unit prices are decimal strings in major units. "
        'Every error is `{"error": {"code", "message", "details"}}`.'
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI's files are served from our own static files: the docs work offline.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # One name per status vocabulary, wherever a field carries it (status, expected_status).
    "ENUM_NAME_OVERRIDES": {
        "InvoiceStatusEnum": "invoices.models.InvoiceStatus",
        "PurchaseOrderStatusEnum": "purchasing.models.PurchaseOrder.Status",
        "DisputeOutcomeEnum": "review.models.DisputeOutcome",
    },
    # The error envelope on every operation, for the 4xx statuses it can answer.
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "core.http.schema.add_error_responses",
        "core.http.schema.state_input_rules",
    ],
}
IDEMPOTENCY_KEY_TTL_HOURS = positive_int("IDEMPOTENCY_KEY_TTL_HOURS", 48)
SELF_REGISTRATION_ENABLED = flag("SELF_REGISTRATION_ENABLED", False)

# --- Logging: JSON lines with request id and tenant ---------------------------------------------
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO").upper()
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"context": {"()": "core.observability.RequestContextFilter"}},
    "formatters": {
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s %(tenant_id)s %(trace_id)s",
            "rename_fields": {"asctime": "ts", "levelname": "level", "name": "logger"},
        }
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "json", "filters": ["context"]}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {"django.db.backends": {"level": "INFO"}, "pgserver": {"level": "WARNING"}},
}

# --- Events out: the outbox and its NATS JetStream publisher ---------------------------------
NATS_ENABLED = flag("NATS_ENABLED", False)
NATS_URL = env.str("NATS_URL", default="nats://127.0.0.1:4222")
NATS_STREAM = env.str("NATS_STREAM", default="RECON")
NATS_SUBJECT_PREFIX = env.str("NATS_SUBJECT_PREFIX", default="recon")
NATS_DISCREPANCY_SUBJECT = env.str("NATS_DISCREPANCY_SUBJECT", default="recon.discrepancy.detected")
NATS_CONNECT_TIMEOUT_SECONDS = positive_int("NATS_CONNECT_TIMEOUT_SECONDS", 2)
if not NATS_DISCREPANCY_SUBJECT.startswith(NATS_SUBJECT_PREFIX + "."):
    raise ImproperlyConfigured(
        "NATS_DISCREPANCY_SUBJECT must start with NATS_SUBJECT_PREFIX + '.', or the stream will not capture it"
    )
OUTBOX_BATCH_SIZE = positive_int("OUTBOX_BATCH_SIZE", 200)
# The schedule is a safety net: a commit that queues events also starts a publish at once.
OUTBOX_PUBLISH_EVERY_MINUTES = positive_int("OUTBOX_PUBLISH_EVERY_MINUTES", 1)
# Circuit breaker around the broker: this many consecutive failures open it for RESET seconds.
OUTBOX_BREAKER_FAIL_MAX = positive_int("OUTBOX_BREAKER_FAIL_MAX", 5)
OUTBOX_BREAKER_RESET_SECONDS = positive_int("OUTBOX_BREAKER_RESET_SECONDS", 60)

# --- Audit checkpoints: signed chain heads kept outside the database (audit.checkpoints) --------
# Ed25519 private key signing the checkpoints (url-safe base64 of 32 random bytes). Empty: one is
# derived from SECRET_KEY — for local runs and tests only, since it couples the two secrets;
# production.py refuses to start without it. The database never holds it.
AUDIT_CHECKPOINT_KEY = env.str("AUDIT_CHECKPOINT_KEY", default="")
# Public keys (comma-separated) also accepted when verifying: the previous keys after a rotation.
AUDIT_CHECKPOINT_PUBLIC_KEYS = env.list("AUDIT_CHECKPOINT_PUBLIC_KEYS", default=[])
# JSON-lines file each checkpoint is appended to (the witness an auditor can be handed); empty:
# none (NATS is then the only witness).
AUDIT_CHECKPOINT_FILE = env.str("AUDIT_CHECKPOINT_FILE", default=str(VAR_DIR / "audit-checkpoints.jsonl"))
# Minutes between scheduled checkpoints of every tenant's chain (also taken after matching runs).
AUDIT_CHECKPOINT_EVERY_MINUTES = positive_int("AUDIT_CHECKPOINT_EVERY_MINUTES", 60)
# Audit events are chained (sealed) right after their commit by a task each commit asks for; this
# schedule seals whatever those missed (audit.sealer).
AUDIT_SEAL_EVERY_MINUTES = positive_int("AUDIT_SEAL_EVERY_MINUTES", 1)
try:
    from core.crypto import public_key_parse as _public_key_parse
    from core.crypto import signing_key_parse as _signing_key_parse

    if AUDIT_CHECKPOINT_KEY:
        _signing_key_parse(AUDIT_CHECKPOINT_KEY, name="AUDIT_CHECKPOINT_KEY")
    for _public_key in AUDIT_CHECKPOINT_PUBLIC_KEYS:
        _public_key_parse(_public_key, name="AUDIT_CHECKPOINT_PUBLIC_KEYS")
except ValueError as _exc:
    raise ImproperlyConfigured(str(_exc)) from _exc

# --- Ingestion: CSV imports, e-invoice XML, webhooks in (invoices.ingest) -------------------------
# Largest CSV file accepted (upload or raw body); a larger one is a 413 before it is read.
CSV_MAX_BYTES = positive_int("CSV_MAX_BYTES", 26_214_400)
# Accept "1,234.56" in CSV amounts (the comma is then dropped); off, such a value is a row error,
# since "1,234" may as well be a decimal comma.
CSV_ALLOW_THOUSANDS_SEPARATOR = flag("CSV_ALLOW_THOUSANDS_SEPARATOR", False)
# Largest e-invoice accepted (UBL or CII XML, a Factur-X PDF and the XML inside it): larger is a 413.
XML_MAX_BYTES = positive_int("XML_MAX_BYTES", 10_485_760)
# Largest bank statement file (CAMT.053, MT940, CSV) accepted by POST /api/payments/import and
# `import_statement`; a larger one is a 413 before it is parsed.
PAYMENT_STATEMENT_MAX_BYTES = positive_int("PAYMENT_STATEMENT_MAX_BYTES", 26_214_400)
# Largest file a clerk may attach to a dispute (a quote, a photo, an e-mail), in bytes; larger is
# refused beside the file input (review.dispute_attachments).
DISPUTE_ATTACHMENT_MAX_BYTES = positive_int("DISPUTE_ATTACHMENT_MAX_BYTES", 10_485_760)
# The Import page checks and imports an upload within the request while its files add up to at
# most this many bytes; larger ones go to a django-q2 worker, and the page shows their progress
# (review.intake). 0: every file in the background.
IMPORT_SYNC_MAX_BYTES = whole_number("IMPORT_SYNC_MAX_BYTES", 1_048_576)
# An XLSX export of the invoice list of up to this many rows is written within the request; a
# larger one by a django-q2 worker, the page showing its progress (review.export_jobs). CSV
# exports stream whatever their size. 0: every XLSX export in the background.
EXPORT_SYNC_MAX_ROWS = whole_number("EXPORT_SYNC_MAX_ROWS", 5000)
# Days a background export's file is kept for the member who asked for it; older ones are deleted
# by the schedule below (review.export_jobs.export_jobs_expire): each is a copy of invoice data,
# a few MB, that the list can write again at any time.
EXPORT_KEEP_DAYS = positive_int("EXPORT_KEEP_DAYS", 7)
# Minutes between the scheduled passes that delete background exports older than EXPORT_KEEP_DAYS.
EXPORT_EXPIRE_EVERY_MINUTES = positive_int("EXPORT_EXPIRE_EVERY_MINUTES", 60)
# Minutes between the scheduled passes that reconcile every tenant's unmatched payments.
RECONCILE_SCHEDULE_MINUTES = positive_int("RECONCILE_SCHEDULE_MINUTES", 60)
# Payments one reconciliation run (API, task, `reconcile_payments`) considers at most, oldest
# first; the rest waits for the next run, so one run stays short enough to answer synchronously.
RECONCILE_MAX_PAYMENTS_PER_RUN = positive_int("RECONCILE_MAX_PAYMENTS_PER_RUN", 500)
# Signing secret for webhook deliveries of tenants that have no secret of their own. Empty: such
# tenants' deliveries are refused (401).
WEBHOOK_SECRET = env.str("WEBHOOK_SECRET", default="")
# How far a Standard Webhooks `webhook-timestamp` may be from now, either way, in seconds.
WEBHOOK_TOLERANCE_SECONDS = positive_int("WEBHOOK_TOLERANCE_SECONDS", 300)
# Fernet key(s) encrypting stored secrets (core.crypto); empty derives one from SECRET_KEY.
FIELD_ENCRYPTION_KEY = env.str("FIELD_ENCRYPTION_KEY", default="")
try:
    from core.crypto import parse_keys as _parse_field_encryption_keys

    _parse_field_encryption_keys(FIELD_ENCRYPTION_KEY)
except ValueError as _exc:
    raise ImproperlyConfigured(str(_exc)) from _exc

# --- E-mail: the daily digest (review.digest) -----------------------------------------------------
# Django's mail backends: the console prints each message (development); a deployment sets
# EMAIL_BACKEND=django.core.mail.backends.smtp.EmailBackend and its server below.
EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env.str("EMAIL_HOST", default="localhost")
EMAIL_PORT = positive_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = flag("EMAIL_USE_TLS", False)
EMAIL_TIMEOUT = positive_int("EMAIL_TIMEOUT", 10)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Recon <recon@localhost>")
# Where the app is reached: the links in e-mails.
APP_BASE_URL = env.str("APP_BASE_URL", default="http://127.0.0.1:8000")
# The hour (UTC, 0-23) from which each day's digests go out, and the minutes between passes.
DIGEST_HOUR = whole_number("DIGEST_HOUR", 7)
if DIGEST_HOUR > 23:
    raise ImproperlyConfigured(f"DIGEST_HOUR is an hour of the day, 0 to 23, got {DIGEST_HOUR}")
DIGEST_SCHEDULE_MINUTES = positive_int("DIGEST_SCHEDULE_MINUTES", 60)

# --- Matching (matching.services, matching.holds, matching.tasks) --------------------------------
# Minutes between the scheduled passes that drain every tenant's `received` invoices.
MATCHING_SCHEDULE_MINUTES = positive_int("MATCHING_SCHEDULE_MINUTES", 30)
# Queue a matching run for the tenant as soon as an invoice is stored (or a receipt puts an
# invoice on hold back to `received`); off, invoices wait for the schedule.
MATCH_ON_INGEST = flag("MATCH_ON_INGEST", True)
# Batches (of each tenant's max_invoices_per_run) one task or `run_matching` drains at most;
# the rest waits for the next pass, so one busy tenant cannot hold a worker past Q_TIMEOUT.
MATCH_MAX_BATCHES_PER_TASK = positive_int("MATCH_MAX_BATCHES_PER_TASK", 50)
# Minutes between the passes that escalate invoices on hold past their tenant's hold_max_days.
MATCH_HOLD_ESCALATION_MINUTES = positive_int("MATCH_HOLD_ESCALATION_MINUTES", 60)
