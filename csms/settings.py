"""Settings, all driven by the environment (see README "Configuration").

Unset variables give the embedded defaults a newcomer needs for `make run`: SQLite, the in-memory
channel layer and Celery tasks run in process. Production sets DATABASE_URL and REDIS_URL.
"""

import os
import secrets
import socket
import warnings
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value not in (None, "") else default


def env_float(name: str, default: float) -> float:
    value = os.environ.get(name)
    return float(value) if value not in (None, "") else default


def _secret_key() -> str:
    key = os.environ.get("DJANGO_SECRET_KEY")
    if key:
        return key
    path = BASE_DIR / ".csms-secret-key"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    key = secrets.token_urlsafe(50)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process won the race; use its key
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(key)
    return key


SECRET_KEY = _secret_key()
DEBUG = env_bool("DJANGO_DEBUG")
ALLOWED_HOSTS = [h.strip() for h in os.environ.get("CSMS_ALLOWED_HOSTS", "127.0.0.1,localhost").split(",") if h.strip()]

INSTALLED_APPS = [
    "daphne",
    # Django's admin with the console's AdminSite (grouped navigation, the dashboard); its site asks
    # staff for a TOTP code when CSMS_ADMIN_OTP is on.
    "csms.admin.apps.ConsoleAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    # Swagger UI served by the CSMS itself: /api/docs/ works without internet.
    "drf_spectacular_sidecar",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "csms.ocpp",
    "partners",
    "stations",
    "transactions",
    "reservations",
    "locallists",
    "smartcharging",
    "firmware",
    "certificates",
    "alerts",
    "console",
    # After transactions: its receivers price a stopped transaction before webhooks describe it.
    "tariffs",
    "webhooks",
    # Roaming, CPO side: after tariffs and webhooks (it reads their data, never the reverse).
    "ocpi",
]

MIDDLEWARE = [
    "csms.ops.HttpMetricsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Serves the admin's static files from the apps themselves: `make run` needs no collectstatic.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: it turns a locked-out login into its answer.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "csms.urls"
ASGI_APPLICATION = "csms.asgi.application"

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
            ],
        },
    },
]

# --- Database -----------------------------------------------------------------------------------
DATABASE_URL = os.environ.get("DATABASE_URL") or f"sqlite:///{BASE_DIR / 'db.sqlite3'}"
_db = dj_database_url.parse(DATABASE_URL, conn_max_age=0)
if _db["ENGINE"] == "django.db.backends.sqlite3":
    # WAL and IMMEDIATE transactions let the node, the API and the tests share one file without
    # "database is locked" on the first write of a read transaction.
    _db["OPTIONS"] = {
        "timeout": 30,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    # A file, not :memory:, so that a node started by the tests sees the test database.
    _db["TEST"] = {"NAME": os.environ.get("CSMS_SQLITE_TEST_NAME") or str(BASE_DIR / "test-db.sqlite3")}
elif _db["ENGINE"] == "django.db.backends.postgresql":
    # Under ASGI Django advises psycopg's pool with CONN_MAX_AGE=0 (DESIGN.md).
    _db.setdefault("OPTIONS", {})["pool"] = {
        "min_size": 1,
        "max_size": env_int("CSMS_DB_POOL_SIZE", 20),
        "timeout": 20,
    }
DATABASES = {"default": _db}
DB_IS_SQLITE = _db["ENGINE"] == "django.db.backends.sqlite3"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Threads that run the station path's database work. SQLite has one writer, so one thread there.
CSMS_DB_THREADS = env_int("CSMS_DB_THREADS", 1 if DB_IS_SQLITE else 8)

# --- Channels and Celery ------------------------------------------------------------------------
REDIS_URL = os.environ.get("REDIS_URL") or None
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                # redis-py 8 defaults (5 s socket_timeout, 100 connections) tear consumers down
                # under load: see docs/adr/0004-reaching-a-station.md.
                "hosts": [
                    {
                        "address": REDIS_URL,
                        "socket_timeout": None,
                        "socket_connect_timeout": 10,
                        "max_connections": env_int("CSMS_REDIS_MAX_CONNECTIONS", 2000),
                        "health_check_interval": 30,
                    }
                ],
                # One channel per node carries every event for its stations (csms/ocpp/mailbox.py).
                "capacity": 20000,
                "expiry": 60,
            },
        }
    }
    CELERY_BROKER_URL = REDIS_URL
    CELERY_TASK_ALWAYS_EAGER = False
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    CELERY_BROKER_URL = "memory://"
    CELERY_TASK_ALWAYS_EAGER = True
if env_bool("CSMS_CELERY_EAGER"):  # the test nodes run tasks inline even with a broker configured
    CELERY_TASK_ALWAYS_EAGER = True
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TIMEZONE = "UTC"
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Periodic jobs. Without REDIS_URL the node runs the same schedule in process (csms/scheduler.py).
CELERY_BEAT_SCHEDULE = {
    "prune-message-log": {"task": "csms.ocpp.tasks.prune_message_log", "schedule": 3600.0},
    "prune-processed-calls": {"task": "csms.ocpp.tasks.prune_processed_calls", "schedule": 3600.0},
    # Every node does this at each report; the beat job covers a time when no node is alive.
    "mark-orphaned-stations-offline": {"task": "stations.tasks.mark_orphaned_stations_offline", "schedule": 60.0},
    "expire-stale-calls": {"task": "csms.ocpp.tasks.expire_stale_calls", "schedule": 30.0},
    "expire-reservations": {"task": "reservations.tasks.expire_reservations", "schedule": 30.0},
    "sync-outdated-local-lists": {"task": "locallists.tasks.sync_outdated_local_lists", "schedule": 300.0},
    "send-waiting-firmware-updates": {"task": "firmware.tasks.send_waiting_firmware_updates", "schedule": 60.0},
    "watch-firmware-updates": {"task": "firmware.tasks.watch_firmware_updates", "schedule": 300.0},
    "expire-diagnostics-requests": {"task": "firmware.tasks.expire_diagnostics_requests", "schedule": 300.0},
    "watch-stations-for-alerts": {"task": "alerts.tasks.watch_stations", "schedule": 60.0},
    "prune-diagnostics-files": {"task": "firmware.tasks.prune_diagnostics_files", "schedule": 86400.0},
    # Every 30 s so that each running transaction gets its (at most one a minute) update on time.
    "publish-transaction-updates": {"task": "webhooks.tasks.publish_transaction_updates", "schedule": 30.0},
    "prune-webhook-deliveries": {"task": "webhooks.tasks.prune_deliveries", "schedule": 86400.0},
    # OCPI: running sessions' updates (at most one a minute each) and command timeouts.
    "ocpi-periodic": {"task": "ocpi.tasks.run_periodic", "schedule": 15.0},
    "prune-ocpi-pushes": {"task": "ocpi.tasks.prune_pushes", "schedule": 86400.0},
    "prune-failed-authentications": {"task": "stations.tasks.prune_failed_authentications", "schedule": 86400.0},
    "watch-certificate-expiry": {"task": "certificates.tasks.watch_certificate_expiry", "schedule": 3600.0},
    # Waves of firmware rollouts: decided and started here, and sooner on the reports that decide them.
    "advance-firmware-rollouts": {"task": "firmware.tasks.advance_firmware_rollouts",
                                  "schedule": env_float("CSMS_ROLLOUT_CHECK_SECONDS", 30)},
}
if not CELERY_TASK_ALWAYS_EAGER:
    # Retries and anything the after-commit hand-over missed. Without a broker each node's own
    # webhook thread sends them instead (webhooks/pump.py): never the in-process schedule, whose jobs
    # run on the station path's database threads.
    CELERY_BEAT_SCHEDULE["send-due-webhook-deliveries"] = {
        "task": "webhooks.tasks.send_due_deliveries", "schedule": 5.0}
    CELERY_BEAT_SCHEDULE["send-due-ocpi-pushes"] = {"task": "ocpi.tasks.send_due_pushes", "schedule": 5.0}

# --- Auth, i18n, static -------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
# Times with seconds everywhere in the console (csms/formats/en/formats.py).
FORMAT_MODULE_PATH = ["csms.formats"]
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
WHITENOISE_USE_FINDERS = True
# Vendored browser libraries (the charting library) and the console's own scripts: no CDN.
STATICFILES_DIRS = [BASE_DIR / "static"]
# Without collectstatic (make run, tests) the files come from the apps; STATIC_ROOT may not exist.
warnings.filterwarnings("ignore", message="No directory at")
MEDIA_URL = "media/"
MEDIA_ROOT = Path(os.environ.get("CSMS_MEDIA_ROOT", BASE_DIR / "media"))

# --- REST API -----------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "csms.api.pagination.Pagination",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "csms.api.errors.exception_handler",
    "UNAUTHENTICATED_USER": None,
    "COERCE_DECIMAL_TO_STRING": False,
    "DEFAULT_THROTTLE_CLASSES": ["csms.api.throttling.TokenRateThrottle"],
}
# Requests per API token (e.g. 1200/min, 50/s; empty: no limit); beyond, 429 with Retry-After.
CSMS_API_RATE = os.environ.get("CSMS_API_RATE", "1200/min").strip()
# The API's rate counters: shared by every node through Redis when there is one.
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    "api": ({"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL,
             "KEY_PREFIX": "csms-api", "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1}} if REDIS_URL else
            {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "csms-api"}),
}
# A CSRF refusal under /api/ is JSON like every other API error.
CSRF_FAILURE_VIEW = "csms.api.errors.csrf_failure"
SPECTACULAR_SETTINGS = {
    "TITLE": "CSMS partner API",
    "DESCRIPTION": "Charge stations, id tags, transactions and OCPP 1.6 calls.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Two apps name a choice field "kind", and several serializers share one choice set: each enum
    # gets one name of its own.
    "ENUM_NAME_OVERRIDES": {
        "ChargingProfileKindEnum": "smartcharging.models.ChargingProfileKind",
        "DiagnosticsKindEnum": "firmware.models.DiagnosticsKind",
        "FileTransferProtocolEnum": "stations.models.FileTransferProtocol",
    },
}

# --- OCPP ---------------------------------------------------------------------------------------
# The model the OCPP runtime's rows (calls, processed calls, message log) point at, as Django's
# AUTH_USER_MODEL names the user model: the runtime knows stations by this name only.
CSMS_STATION_MODEL = "stations.ChargeStation"
CSMS_HEARTBEAT_INTERVAL = env_int("CSMS_HEARTBEAT_INTERVAL", 300)
CSMS_CALL_TIMEOUT = env_int("CSMS_CALL_TIMEOUT", 30)
CSMS_AUTO_REGISTER = env_bool("CSMS_AUTO_REGISTER")
CSMS_MESSAGE_LOG_RETENTION_DAYS = env_int("CSMS_MESSAGE_LOG_RETENTION_DAYS", 30)
# How long a repeated Call (same messageId, action and payload) gets its stored answer.
CSMS_DUPLICATE_CALL_WINDOW_HOURS = 24
# Hours until a station may no longer trust a cached authorization; 0 leaves expiryDate out.
CSMS_AUTH_CACHE_HOURS = env_int("CSMS_AUTH_CACHE_HOURS", 24)
# --- The node (python -m csms.node) ------------------------------------------------------------------
HOST = os.environ.get("HOST") or "127.0.0.1"
PORT = env_int("PORT", 8000)
CSMS_NODE_NAME = os.environ.get("CSMS_NODE_NAME") or f"{socket.gethostname()}:{PORT}"
# Within this many seconds of a node's death its stations are shown offline and their calls ended.
CSMS_NODE_TIMEOUT = env_int("CSMS_NODE_TIMEOUT", 90)
# How often a node reports itself alive (with the sockets it holds) and looks for dead nodes.
CSMS_NODE_REPORT_INTERVAL = env_float("CSMS_NODE_REPORT_INTERVAL", 10)
# SIGTERM: seconds a node gives the Calls in hand and the closing handshakes before it exits.
CSMS_DRAIN_SECONDS = env_float("CSMS_DRAIN_SECONDS", 10)
CSMS_DAPHNE_VERBOSITY = env_int("CSMS_DAPHNE_VERBOSITY", 1)

# --- Operations (docs/adr/0140-operations.md) ------------------------------------------------------
# /metrics answers requests bearing this token; without one, only loopback clients and the listed
# addresses or networks (comma separated, e.g. 10.0.0.0/8) may scrape.
CSMS_METRICS_TOKEN = os.environ.get("CSMS_METRICS_TOKEN", "")
CSMS_METRICS_ALLOWED_ADDRESSES = [a.strip() for a in os.environ.get("CSMS_METRICS_ALLOWED_ADDRESSES", "").split(",")
                                  if a.strip()]
# A Celery worker exports its metrics on this port (0: not at all).
CSMS_WORKER_METRICS_PORT = env_int("CSMS_WORKER_METRICS_PORT", 9808)

# --- Alerts -----------------------------------------------------------------------------------------
# A station offline, or a connector Faulted, for longer than this raises an alert.
CSMS_ALERT_OFFLINE_MINUTES = env_int("CSMS_ALERT_OFFLINE_MINUTES", 15)
CSMS_ALERT_FAULTED_MINUTES = env_int("CSMS_ALERT_FAULTED_MINUTES", 5)

# --- The operator console (docs/adr/0131-live-console.md) ------------------------------------------
# How often a node sends what changed to the console pages watching it.
CSMS_CONSOLE_PUBLISH_SECONDS = env_float("CSMS_CONSOLE_PUBLISH_SECONDS", 0.25)

# --- Outages and hostile input (docs/adr/0080-surviving-outages.md) ----------------------------------
# Seconds a station Call waits for an unreachable database before it is answered InternalError.
CSMS_DB_OUTAGE_WAIT = env_float("CSMS_DB_OUTAGE_WAIT", 20)
# Message-log rows a node buffers while the database is away; older ones are dropped (and counted).
CSMS_MESSAGE_LOG_BUFFER = env_int("CSMS_MESSAGE_LOG_BUFFER", 200_000)
# Largest WebSocket message a station may send; a bigger one closes the connection with 1009.
CSMS_MAX_FRAME_BYTES = env_int("CSMS_MAX_FRAME_BYTES", 1024 * 1024)
# Handshakes per chargeBoxId: a burst, then so many a minute (0: no limit). Per remote address too
# (off by default: stations behind one NAT or a load balancer share an address).
CSMS_CONNECT_BURST_PER_STATION = env_int("CSMS_CONNECT_BURST_PER_STATION", 30)
CSMS_CONNECT_RATE_PER_STATION = env_float("CSMS_CONNECT_RATE_PER_STATION", 60)
CSMS_CONNECT_BURST_PER_ADDRESS = env_int("CSMS_CONNECT_BURST_PER_ADDRESS", 200)
CSMS_CONNECT_RATE_PER_ADDRESS = env_float("CSMS_CONNECT_RATE_PER_ADDRESS", 0)
# Station Calls committed together at most (group commit, docs/adr/0090-station-path-throughput.md).
CSMS_WRITE_GROUP_MAX = env_int("CSMS_WRITE_GROUP_MAX", 64)

# --- App settings: every app reads its own here, through django.conf.settings, at the moment of use
# (so that a test's settings override applies). Nothing else reads the environment.

def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default).strip()


def env_list(name: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, "").split(",") if item.strip()]


# stations: vendorIds whose DataTransfer is accepted and stored without a handler of their own.
CSMS_DATATRANSFER_VENDORS = env_list("CSMS_DATATRANSFER_VENDORS")

# firmware: where stations reach this CSMS over HTTP(S) (empty: the URL a request came to), upload
# limits and how long updates and diagnostics requests are watched.
CSMS_PUBLIC_URL = env_str("CSMS_PUBLIC_URL").rstrip("/")
CSMS_UPLOAD_MAX_MB = env_int("CSMS_UPLOAD_MAX_MB", 200)
# How long an update waits for an offline station to connect before it expires.
CSMS_FIRMWARE_SEND_WINDOW_HOURS = env_int("CSMS_FIRMWARE_SEND_WINDOW_HOURS", 168)
# Silence after which the CSMS asks for the status (half of it) and then calls an update stuck.
CSMS_FIRMWARE_STUCK_MINUTES = env_int("CSMS_FIRMWARE_STUCK_MINUTES", 360)
CSMS_FIRMWARE_SEND_ATTEMPTS = env_int("CSMS_FIRMWARE_SEND_ATTEMPTS", 3)
# An accepted diagnostics/log request with no upload for this long is expired.
CSMS_DIAGNOSTICS_TIMEOUT_MINUTES = env_int("CSMS_DIAGNOSTICS_TIMEOUT_MINUTES", 360)
# How long a request's upload location accepts files.
CSMS_DIAGNOSTICS_UPLOAD_DAYS = env_int("CSMS_DIAGNOSTICS_UPLOAD_DAYS", 7)
# Uploaded files older than this are deleted by the pruning job (0 keeps them).
CSMS_DIAGNOSTICS_RETENTION_DAYS = env_int("CSMS_DIAGNOSTICS_RETENTION_DAYS", 90)

# tariffs: the time zone that tariff restrictions (times of day, dates, weekdays) are read in (an IANA
# name) for stations without a time zone of their own; OCPI reads them in the location's local time.
CSMS_TARIFF_TIME_ZONE = env_str("CSMS_TARIFF_TIME_ZONE", "UTC")

# webhooks (docs/adr/0102-webhooks.md): seconds a receiver has to answer; the first retry's delay
# (doubling, at most an hour); how long a delivery is retried, and an endpoint failing that long is
# disabled; how long finished deliveries are kept.
CSMS_WEBHOOK_TIMEOUT = env_float("CSMS_WEBHOOK_TIMEOUT", 10)
CSMS_WEBHOOK_RETRY_SECONDS = env_float("CSMS_WEBHOOK_RETRY_SECONDS", 15)
CSMS_WEBHOOK_RETRY_HOURS = env_float("CSMS_WEBHOOK_RETRY_HOURS", 24)
CSMS_WEBHOOK_RETENTION_DAYS = env_int("CSMS_WEBHOOK_RETENTION_DAYS", 30)


# OCPI 2.2.1, CPO side (docs/adr/0160-ocpi-partners-and-transport.md): who we are to roaming
# partners, where they reach us (empty: CSMS_PUBLIC_URL), how long a partner has to answer, how
# pushes are retried and kept, how long a command waits for the station.
CSMS_OCPI_COUNTRY_CODE = env_str("CSMS_OCPI_COUNTRY_CODE", "NL").upper()
CSMS_OCPI_PARTY_ID = env_str("CSMS_OCPI_PARTY_ID", "CSM").upper()
CSMS_OCPI_BUSINESS_NAME = env_str("CSMS_OCPI_BUSINESS_NAME", "CSMS")
CSMS_OCPI_BUSINESS_WEBSITE = env_str("CSMS_OCPI_BUSINESS_WEBSITE")
CSMS_OCPI_BASE_URL = env_str("CSMS_OCPI_BASE_URL").rstrip("/")
CSMS_OCPI_TIMEOUT = env_float("CSMS_OCPI_TIMEOUT", 10)
CSMS_OCPI_RETRY_SECONDS = env_float("CSMS_OCPI_RETRY_SECONDS", 15)
CSMS_OCPI_PUSH_RETRY_HOURS = env_float("CSMS_OCPI_PUSH_RETRY_HOURS", 24)
CSMS_OCPI_PUSH_RETENTION_DAYS = env_int("CSMS_OCPI_PUSH_RETENTION_DAYS", 30)
CSMS_OCPI_COMMAND_TIMEOUT = env_float("CSMS_OCPI_COMMAND_TIMEOUT", 60)
# Real-time authorization of a token at a station: how long the station's Authorize waits for the
# partner, and what an unanswered question means ("reject": Invalid; "accept": as last pushed).
CSMS_OCPI_AUTH_TIMEOUT = env_float("CSMS_OCPI_AUTH_TIMEOUT", 5)
CSMS_OCPI_AUTH_FALLBACK = env_str("CSMS_OCPI_AUTH_FALLBACK", "reject")
# How long a real-time answer stands for the same token (seconds).
CSMS_OCPI_AUTH_CACHE_SECONDS = env_int("CSMS_OCPI_AUTH_CACHE_SECONDS", 300)
CSMS_OCPI_DEFAULT_CURRENCY = env_str("CSMS_OCPI_DEFAULT_CURRENCY", "EUR").upper()


def env_port_range(name: str) -> list[int] | None:
    """"30000-30049" (or one port) as the list of ports; unset: None."""
    value = env_str(name)
    if not value:
        return None
    first, _, last = value.partition("-")
    return list(range(int(first), int(last or first) + 1))


# firmware FTP(S) server (docs/adr/0056-ftp-server.md). The node runs it in process when embedded
# (default without REDIS_URL, i.e. `make run`); production runs `python -m firmware.ftp`.
CSMS_FTP_EMBEDDED = env_bool("CSMS_FTP_EMBEDDED", not REDIS_URL)
CSMS_FTP_HOST = env_str("CSMS_FTP_HOST") or HOST
# 0: the embedded server takes a free port (printed), the standalone one 2121; locations name the
# port the server of this process listens on, else this one (2121 when 0).
CSMS_FTP_PORT = env_int("CSMS_FTP_PORT", 0)
# The host stations reach the FTP server at (empty: the host of CSMS_PUBLIC_URL or of the request);
# also what passive-mode replies announce when it is an address (or resolves to one) behind NAT.
CSMS_FTP_PUBLIC_HOST = env_str("CSMS_FTP_PUBLIC_HOST")
CSMS_FTP_PASSIVE_PORTS = env_port_range("CSMS_FTP_PASSIVE_PORTS")
CSMS_FTP_MAX_CONNECTIONS = env_int("CSMS_FTP_MAX_CONNECTIONS", 256)
# Explicit FTPS (AUTH TLS) when both are set; required of every session with CSMS_FTP_TLS_REQUIRED.
CSMS_FTP_TLS_CERT_FILE = env_str("CSMS_FTP_TLS_CERT_FILE")
CSMS_FTP_TLS_KEY_FILE = env_str("CSMS_FTP_TLS_KEY_FILE")
CSMS_FTP_TLS_REQUIRED = env_bool("CSMS_FTP_TLS_REQUIRED")

# certificates (docs/adr/0061-pluggable-signer.md): CSMS_CERT_SIGNER, a dotted path to a signer
# class or factory, wins over the built-in file CA (CSMS_CA_CERT_FILE and CSMS_CA_KEY_FILE). The CA
# files themselves are read at each signing, so a rotated file needs no restart.
CSMS_CERT_SIGNER = env_str("CSMS_CERT_SIGNER")
CSMS_CA_CERT_FILE = env_str("CSMS_CA_CERT_FILE")
CSMS_CA_KEY_FILE = env_str("CSMS_CA_KEY_FILE")
CSMS_CA_KEY_PASSWORD = os.environ.get("CSMS_CA_KEY_PASSWORD", "")
CSMS_CERT_VALIDITY_DAYS = env_int("CSMS_CERT_VALIDITY_DAYS", 365)
# For an RSA CA key: "pss" (default) or "pkcs1v15".
CSMS_CA_RSA_PADDING = env_str("CSMS_CA_RSA_PADDING", "pss").lower()
# The organisation (O) every station's CSR must carry, besides the station's own CpoName.
CSMS_CPO_NAME = env_str("CSMS_CPO_NAME")
# The embedded CA `manage.py ensure_ca` makes when no CA is configured (docs/adr/0120-embedded-ca.md):
# its directory (outside the database; .csms-ca/ is ignored by git), whether accepted CSRs are signed
# at once (0: they wait for an operator), the names its server certificates carry, and how long
# before expiry a certificate is renewed (docs/adr/0123-certificate-expiry-watch.md).
CSMS_EMBEDDED_CA_DIR = Path(env_str("CSMS_EMBEDDED_CA_DIR") or BASE_DIR / ".csms-ca")
CSMS_CERT_AUTO_SIGN = env_bool("CSMS_CERT_AUTO_SIGN", True)
CSMS_TLS_HOSTNAMES = env_list("CSMS_TLS_HOSTNAMES") or ["localhost", "127.0.0.1"]
CSMS_CERT_RENEW_DAYS = env_int("CSMS_CERT_RENEW_DAYS", 30)
# The CSMS's own certificates whose expiry is watched (the terminator's); empty: the embedded ones.
CSMS_SERVER_CERT_FILES = env_list("CSMS_SERVER_CERT_FILES")

# --- Security: TLS terminator, proxies, admin login (docs/adr/0121-tls-terminator.md, 0122) ----------
# The node sits behind a TLS terminator (nginx, deploy/nginx/): secure cookies, HSTS, HTTPS redirect.
CSMS_HTTPS = env_bool("CSMS_HTTPS")
if CSMS_HTTPS:
    SECURE_SSL_REDIRECT = True
    # A plain request that reached a node directly is sent to the public (TLS) address.
    SECURE_SSL_HOST = urlsplit(CSMS_PUBLIC_URL).netloc if CSMS_PUBLIC_URL.startswith("https://") else None
    # Stations on profiles 0 and 1 speak plain HTTP to fetch firmware and upload diagnostics, and load
    # balancers probe health over HTTP: those paths are not redirected.
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$", r"^firmware/download/", r"^diagnostics/upload/"]
    SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env_int("CSMS_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("CSMS_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = env_bool("CSMS_HSTS_PRELOAD", True)
# Admin and API forms posted from the public URL and the allowed hosts (https only behind TLS).
_origin_schemes = ("https",) if CSMS_HTTPS else ("http", "https")
CSRF_TRUSTED_ORIGINS = [f"{scheme}://{host}" for host in ALLOWED_HOSTS if host != "*" for scheme in _origin_schemes]
if CSMS_PUBLIC_URL:
    _public = urlsplit(CSMS_PUBLIC_URL)
    CSRF_TRUSTED_ORIGINS.append(f"{_public.scheme}://{_public.netloc}")
# Staff must confirm their admin login with a TOTP code (django-otp): on by default behind TLS.
CSMS_ADMIN_OTP = env_bool("CSMS_ADMIN_OTP", CSMS_HTTPS)
# Admin login guessing (django-axes): after so many failures for one user from one address, that
# pair is locked out for the cool-off time (an admin unlocks it: Axes > Access attempts, delete).
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
AXES_FAILURE_LIMIT = env_int("CSMS_LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("CSMS_LOGIN_LOCKOUT_MINUTES", 30))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False
# Addresses (or networks) of the terminators: only their X-Forwarded-For/-Proto and client certificate
# header count (csms/proxies.py); from anyone else those headers are dropped.
CSMS_TRUSTED_PROXIES = env_list("CSMS_TRUSTED_PROXIES")
# Security profile 3: the header in which the terminator passes the client certificate it verified
# (PEM, URL-encoded: nginx's $ssl_client_escaped_cert).
CSMS_CLIENT_CERT_HEADER = env_str("CSMS_CLIENT_CERT_HEADER", "X-Client-Cert")
# Failed station authentications per remote address: a burst, then so many a minute; beyond, HTTP
# 429 before any database work (0: no limit).
CSMS_AUTH_FAILURE_BURST = env_int("CSMS_AUTH_FAILURE_BURST", 10)
CSMS_AUTH_FAILURE_RATE = env_float("CSMS_AUTH_FAILURE_RATE", 6)
CSMS_FAILED_AUTH_RETENTION_DAYS = env_int("CSMS_FAILED_AUTH_RETENTION_DAYS", 90)

# plain (default) or json: one structured line per event (csms/logs.py); secrets are scrubbed either way.
CSMS_LOG_FORMAT = os.environ.get("CSMS_LOG_FORMAT", "plain").strip().lower()
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"()": "csms.logs.PlainFormatter"},
        "json": {"()": "csms.logs.JsonFormatter"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler",
                             "formatter": "json" if CSMS_LOG_FORMAT == "json" else "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("CSMS_LOG_LEVEL", "INFO")},
    "loggers": {
        "daphne": {"level": "WARNING"},
        "django.channels.server": {"level": "WARNING"},
        # One line per periodic job run is noise; failures still log.
        "celery.app.trace": {"level": "WARNING"},
        # One line per failed reconnection attempt during a database outage is noise: the node logs
        # the outage's start and end itself (csms/ocpp/writer.py).
        "psycopg.pool": {"level": "ERROR"},
    },
}
