"""Settings, all driven by the environment (see README "Configuration").

Unset variables give the embedded defaults a newcomer needs for `make run`: SQLite, the in-memory
channel layer and Celery tasks run in process. Production sets DATABASE_URL and REDIS_URL.
"""

import os
import secrets
import socket
import warnings
from pathlib import Path

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
CSRF_TRUSTED_ORIGINS = [
    f"{scheme}://{host}" for host in ALLOWED_HOSTS if host != "*" for scheme in ("http", "https")
]

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
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
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Serves the admin's static files from the apps themselves: `make run` needs no collectstatic.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
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
    # Waves of firmware rollouts: decided and started here, and sooner on the reports that decide them.
    "advance-firmware-rollouts": {"task": "firmware.tasks.advance_firmware_rollouts",
                                  "schedule": env_float("CSMS_ROLLOUT_CHECK_SECONDS", 30)},
}

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
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
WHITENOISE_USE_FINDERS = True
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
}
SPECTACULAR_SETTINGS = {
    "TITLE": "CSMS partner API",
    "DESCRIPTION": "Charge stations, id tags, transactions and OCPP 1.6 calls.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # One name for a choice set that several serializers use.
    "ENUM_NAME_OVERRIDES": {"FileTransferProtocolEnum": "stations.models.FileTransferProtocol"},
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

# --- Alerts -----------------------------------------------------------------------------------------
# A station offline, or a connector Faulted, for longer than this raises an alert.
CSMS_ALERT_OFFLINE_MINUTES = env_int("CSMS_ALERT_OFFLINE_MINUTES", 15)
CSMS_ALERT_FAULTED_MINUTES = env_int("CSMS_ALERT_FAULTED_MINUTES", 5)

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
# Security profile 3 behind a TLS terminator: the header carrying the verified client certificate's
# subject common name.
CSMS_CLIENT_CERT_HEADER = os.environ.get("CSMS_CLIENT_CERT_HEADER", "X-Client-Cert-CN")

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

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
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
