"""Configuration: defaults in code, then REGISTRY_* environment, then instance/config.py."""

import os
from pathlib import Path

ENV_PREFIX = "REGISTRY_"


class Defaults:
    """Settings every deployment starts from; see README "Configuration"."""

    # Database URL; empty means SQLite at instance/registry.sqlite3.
    DATABASE_URL = ""
    # Where statistics count (PostgreSQL only): a streaming replica of DATABASE_URL, so that
    # counting a release never loads the primary; empty means the primary. Release records and
    # audit entries are still written to the primary. See docs/deployment.md.
    STATS_DATABASE_URL = ""
    # Keyring: a path to a JSON file or the JSON itself; empty means instance/keyring.json.
    KEYRING = ""
    # Largest accepted request body in bytes (413 above).
    MAX_CONTENT_LENGTH = 64 * 1024
    # Seconds a client may take to send a request's body (408 after); the server reads it
    # before any thread runs the request (registry/server.py).
    REQUEST_BODY_SECONDS = 30
    # Lifetime of a new API token in days.
    TOKEN_TTL_DAYS = 90
    # flask-limiter storage: memory:// for one host, redis://host:6379/0 in production.
    RATELIMIT_STORAGE_URI = "memory://"
    # What to do when the rate-limit store is down: fail open (serve) or closed (429).
    RATELIMIT_FAIL_OPEN = True
    # Failed authentications allowed per client before 429 (flask-limiter syntax).
    AUTH_FAILURE_LIMIT = "30 per minute"
    # Number of trusted reverse proxies in front of the service (X-Forwarded-For hops).
    TRUSTED_PROXIES = 0
    # How often the scheduler signs an audit checkpoint when the log has grown.
    AUDIT_CHECKPOINT_SECONDS = 300
    # Scheduler lease length on SQLite; a scheduler that stops renewing loses it after this.
    SCHEDULER_LEASE_SECONDS = 60
    LOG_LEVEL = "INFO"
    # Proof of work (ALTCHA): the secret number is drawn below this; the browser tries half of
    # it on average (100 000 ≈ under a second on a phone with WebCrypto). Low in tests.
    ALTCHA_MAX_NUMBER = 100_000
    # Seconds a proof-of-work challenge stays valid; a spent one is remembered this long.
    ALTCHA_EXPIRES_SECONDS = 600
    # Active (not yet ended) bookings one client (rate-limit key, so per day) may hold at once.
    BOOKINGS_PER_CLIENT = 3
    # A booking not checked in this many minutes after its slot ended becomes a no-show.
    NO_SHOW_GRACE_MINUTES = 60
    # How often the access job marks no-shows and forgets spent challenges.
    ACCESS_EXPIRY_SECONDS = 300
    # Slots a weekly pattern may create in one request.
    MAX_SLOTS_PER_PATTERN = 500
    # flask-limiter limits of the public endpoints, per client key.
    PUBLIC_READ_LIMIT = "120 per minute"
    CHALLENGE_LIMIT = "20 per minute; 200 per day"
    BOOKING_LIMIT = "5 per minute; 30 per day"
    BOOKING_LOOKUP_LIMIT = "20 per minute; 200 per day"
    # Linked registration and care-card resolution answer "is this person in the registry?"
    # (existing, treated before, OST elsewhere) for whatever a clinician types: limited per user
    # and per clinic (flask-limiter syntax; docs/registration-oracle.md). The busiest narcology
    # clinics admit some 50 new patients a day; with returning patients found again by IIN (up
    # to ~300 a day where an OAT site doses daily) a clinic makes ~350 linked registrations a
    # day over three or more desks, under 150 per person, and 50 an hour at a morning queue.
    # The limits are 2-8 times that. Enumeration is a different scale: a list of 100 000 IINs
    # takes one user 250 days and a whole clinic 50, and the oversight check below reports a
    # user within days. Anonymous patients show their care card at every visit, daily in
    # anonymous OAT, so resolutions get half as much again; the 100-bit cards cannot be
    # guessed, so their limit only bounds the use of harvested cards.
    LINKED_REGISTRATION_USER_LIMIT = "100 per hour; 400 per day"
    LINKED_REGISTRATION_CLINIC_LIMIT = "2000 per day"
    CARE_CARD_RESOLUTION_USER_LIMIT = "150 per hour; 600 per day"
    CARE_CARD_RESOLUTION_CLINIC_LIMIT = "3000 per day"
    # The oversight check (registry/oversight/check.py): how often it runs, the days it looks
    # back, and when a user's share of linked registrations that found a person known elsewhere
    # (or that no episode followed) is reported: at least this many registrations, and a share
    # at least this many percentage points and this many standard errors above everyone else's.
    OVERSIGHT_CHECK_SECONDS = 6 * 3600
    OVERSIGHT_PERIOD_DAYS = 7
    OVERSIGHT_MIN_REGISTRATIONS = 20
    OVERSIGHT_MIN_EXCESS_PERCENT = 25
    OVERSIGHT_MIN_Z = 4
    # The staff console (/console): a session ends after this many idle minutes, and in any
    # case this many hours after sign-in; the server forgets it then.
    CONSOLE_IDLE_MINUTES = 15
    CONSOLE_SESSION_HOURS = 12
    # The session cookie is Secure (browsers keep Secure cookies from http://127.0.0.1 and
    # http://localhost too); switch off only to try the console over plain http on another host.
    CONSOLE_COOKIE_SECURE = True
    # Failed console sign-ins per user name (keyed by an HMAC of the name), besides the
    # client's AUTH_FAILURE_LIMIT shared with bad bearer tokens.
    CONSOLE_ACCOUNT_FAILURE_LIMIT = "10 per 15 minutes"
    # Hours an enrolment link (`registry user console-link`) stays valid.
    CONSOLE_ACTIVATION_HOURS = 72
    # Base URL printed in enrolment links.
    CONSOLE_BASE_URL = "http://127.0.0.1:8000"
    # Rows per page of the console's lists.
    CONSOLE_PAGE_SIZE = 25
    # argon2id cost of password hashes: argon2-cffi's defaults (RFC 9106's low-memory
    # profile: 3 passes over 64 MiB, 4 lanes, some 50 ms a sign-in). Old hashes are redone at
    # the next sign-in after a change.
    PASSWORD_HASH_TIME_COST = 3
    PASSWORD_HASH_MEMORY_KIB = 65536
    PASSWORD_HASH_PARALLELISM = 4
    # Languages of the public pages; the first is the fallback.
    SITE_LANGUAGES = "ru,kk,en"
    # Shown on every public page: the ambulance and the general emergency numbers (Kazakhstan).
    CRISIS_AMBULANCE_PHONE = "103"
    CRISIS_EMERGENCY_PHONE = "112"
    # The anonymity page names who runs the service and where to complain (set per deployment).
    # Empty: the page says, in its own language, that the regional health administration does.
    SITE_OPERATOR = ""
    SITE_COMPLAINTS = ""
    # Booking without JavaScript has no proof of work: a stricter limit per network address,
    # and at most this many active bookings from one address (it also counts script bookings).
    BOOKING_NO_SCRIPT_LIMIT = "2 per hour; 4 per day"
    NO_SCRIPT_BOOKINGS_PER_CLIENT = 1
    # The region list (code, names in en/ru/kk); another country needs only another file.
    REGIONS_FILE = str(Path(__file__).parent / "data" / "regions_kz.json")
    # Protocol documents (JSON or YAML): largest size in bytes, deepest nesting and most values.
    PROTOCOL_MAX_BYTES = 256 * 1024
    PROTOCOL_MAX_DEPTH = 16
    PROTOCOL_MAX_NODES = 50_000
    # Largest request body on the protocol write routes only (a document in a JSON string can
    # grow up to sixfold through escapes); MAX_CONTENT_LENGTH applies everywhere else.
    PROTOCOL_MAX_REQUEST_BYTES = 1024 * 1024
    # Episode events may be stamped this many seconds ahead of the server clock (device skew).
    EPISODE_CLOCK_SKEW_SECONDS = 300
    # How often the compliance job runs; it stores flags once per clinic day and episode.
    COMPLIANCE_SECONDS = 24 * 3600
    # Episodes per page of GET /api/v1/episodes, and the most a client may ask for.
    EPISODES_PER_PAGE = 50
    EPISODES_MAX_PER_PAGE = 200
    # Import of the legacy register (docs/import.md): rows per committed batch; the protocol of
    # a row that names none; the largest file POST /api/v1/admin/imports takes (the CLI has no
    # limit). The server holds a request's whole body in memory before it runs the view.
    IMPORT_BATCH = 5000
    IMPORT_DEFAULT_PROTOCOL = "psychosocial_outpatient"
    IMPORT_MAX_REQUEST_BYTES = 64 * 1024 * 1024
    # SQLite page cache (KiB) of `registry import`, a process of its own that ends with it.
    IMPORT_SQLITE_CACHE_KIB = 256 * 1024
    # Canonical base URL of exported FHIR resources (PlanDefinition.url).
    FHIR_BASE_URL = "https://registry.example/fhir"
    # Start without a keyring (the CLI does, so that `init` can create one); never in service.
    ALLOW_MISSING_KEYRING = False
    # Custodians' escrow public key (base64, or a path to a file holding it); empty: no escrow.
    ESCROW_PUBLIC_KEY = ""
    # Hours a re-identification request stays approvable and revealable after it is made.
    REIDENTIFICATION_EXPIRY_HOURS = 72
    # Rows re-keyed per transaction by `registry keys rotate`, so rotation never blocks long.
    REKEY_BATCH_SIZE = 500
    # Statistics: cells of 1 .. threshold-1 persons are suppressed (with secondary suppression).
    STATS_THRESHOLD = 10
    # A table whose population (after filters) is below this is answered fully suppressed.
    STATS_MIN_POPULATION = 30
    # Cell-key perturbation of published counts; switch off only for tests of exact counts.
    STATS_PERTURB = True
    # The suppression keeps the grand total and one-dimensional margins published; this tries
    # again for any of them (1, 2) that a table too small to protect otherwise had to hide.
    STATS_REPUBLISH_LEVELS = 2
    # Cost of hiding a margin relative to an inner cell: margins are what analysts read most.
    STATS_MARGIN_WEIGHT = 3.0
    # Largest table (cells including margins) a query may ask for; larger ones are refused (422).
    STATS_MAX_CELLS = 200_000
    # Seconds an ad hoc query may take to count, protect and write out its table: one estimated
    # to take longer is refused at once, one that still runs longer is stopped; both answer 422.
    # Keep it well below gunicorn's worker timeout (GUNICORN_TIMEOUT, 30 s), which kills the
    # worker: on a busy machine, writing out a large table can take twice its estimate.
    STATS_QUERY_SECONDS = 15
    # Of those, the most spent republishing margins (STATS_REPUBLISH_LEVELS): a full audit per
    # level that can take minutes on a large sparse table, for a cell or two.
    STATS_REPUBLISH_SECONDS = 5
    # Differential privacy for ad hoc queries: "off", "analysts" (those flagged with
    # `registry stats dp-analyst`) or "all" (every analyst query). DP answers count persons only.
    STATS_DP_MODE = "analysts"
    # Privacy loss (epsilon) charged per DP query, and each analyst's budget per calendar month.
    STATS_DP_EPSILON = 0.5
    STATS_DP_BUDGET = 2.0
    # How often the scheduler checks whether last month's standard tables are released yet.
    STATS_RELEASE_SECONDS = 3600


def _coerce(raw: str, default: object) -> object:
    """Convert an environment string to the type of its default."""
    if isinstance(default, bool):
        return raw.strip().lower() in {"1", "true", "yes", "on"}
    if isinstance(default, int):
        return int(raw)
    return raw


def from_environment(environ: os._Environ | dict) -> dict:
    """Return the settings given as REGISTRY_* environment variables."""
    found = {}
    for name in dir(Defaults):
        if name.isupper() and ENV_PREFIX + name in environ:
            found[name] = _coerce(environ[ENV_PREFIX + name], getattr(Defaults, name))
    return found


def database_uri(url: str, instance_path: str) -> str:
    """Return the SQLAlchemy URI, defaulting to SQLite in the instance folder."""
    if not url:
        return "sqlite:///" + str(Path(instance_path) / "registry.sqlite3")
    if url.startswith(("postgres://", "postgresql://")):
        # psycopg 3 is the driver we ship; SQLAlchemy would otherwise look for psycopg2.
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url
