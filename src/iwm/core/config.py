"""Settings, read once from `IWM_*` environment variables (and a `.env` file)."""

from decimal import Decimal
from functools import lru_cache
from typing import Annotated, Literal
from urllib.parse import urlsplit, urlunsplit

from argon2.profiles import RFC_9106_LOW_MEMORY
from pydantic import (
    AliasChoices,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

_PLACEHOLDER_SECRETS = {"changeme", "secret", "change-me", ""}


class SecretUrl(SecretStr):
    """A URL that may carry a password: printed (repr, str, logs, tracebacks) with the
    password masked; `get_secret_value()` gives the URL itself."""

    def _display(self) -> str:
        return mask_url_password(self.get_secret_value())


def mask_url_password(url: str) -> str:
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return "**********"
    if not password:
        return url
    netloc = parts.netloc.rsplit("@", 1)
    user = netloc[0].split(":", 1)[0]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc[1]}"))


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="IWM_", env_file=".env", extra="ignore")

    env: Literal["development", "production"] = "development"
    database_url: SecretUrl = SecretUrl("sqlite+aiosqlite:///./iwm.db")
    redis_url: SecretUrl | None = None
    # Every Redis key the service writes starts with "<prefix>:" (sessions, rate limits), so
    # several deployments or test runs can share one Redis without touching each other's keys.
    redis_prefix: str = Field(default="iwm", pattern=r"^[A-Za-z0-9_.-]+$")
    storage_url: str = "file://./photos"
    s3_endpoint_url: str | None = None
    smtp_url: SecretUrl | None = None
    mail_from: str = "no-reply@iwm.local"
    # Signs local photo URLs; generated and kept in `.iwm-secret` when unset.
    secret_key: SecretStr | None = None
    public_base_url: str = "http://127.0.0.1:8000"
    # A partner's referral link is this followed by his code (the sign-up page of the
    # member front end); unset: `<IWM_MEMBER_APP_URL or public base URL>/register?ref=`.
    referral_link_prefix: str | None = None

    # Argon2id cost of new password hashes: RFC 9106's second recommended option (argon2-cffi's
    # default); memory in KiB. Existing hashes keep verifying when these change.
    password_hash_time_cost: int = Field(default=RFC_9106_LOW_MEMORY.time_cost, ge=1)
    password_hash_memory_cost: int = Field(default=RFC_9106_LOW_MEMORY.memory_cost, ge=8)
    password_hash_parallelism: int = Field(default=RFC_9106_LOW_MEMORY.parallelism, ge=1)
    # Password hashes computed at once per process (worker threads; each takes the hash's
    # memory): the rest of a login storm waits its turn instead of starving other requests.
    password_hash_concurrency: int = Field(default=2, ge=1, le=64)

    # Peers whose X-Forwarded-For / X-Forwarded-Proto are believed (the TLS proxy in front):
    # addresses or networks, or "*"; none by default. Client IPs (limits, audit) and the
    # scheme (Secure cookies, links) come from those headers only when a trusted peer sent them.
    forwarded_allow_ips: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # Host names the service answers to ("api.example.com", "*.example.com"); any other Host
    # is a 400. Unset: every host in development; production refuses to start without it.
    allowed_hosts: Annotated[list[str] | None, NoDecode] = None

    session_ttl_seconds: int = 8 * 3600
    # A session used again within this time is answered from this process's memory (see
    # core.principal.PrincipalCache): a logout or revocation in another process takes
    # effect here at most this much later. 0: every request asks the session store.
    principal_cache_seconds: float = Field(default=2.0, ge=0, le=30)
    # The dashboard's session slides: each use moves its end to this far ahead (a tablet at
    # the counter stays signed in all day), never past the absolute limit from sign-in.
    dashboard_session_idle_seconds: int = Field(default=12 * 3600, ge=300)
    dashboard_session_max_seconds: int = Field(default=7 * 24 * 3600, ge=300)
    # How open "new orders" screens learn of changes: "sse" (server-sent events, the server
    # tells them) or "poll" (they ask every 3 s).
    dashboard_live: Literal["sse", "poll"] = "sse"
    # Failed logins per account and client IP pair (then 2x per 10 minutes, 4x per hour,
    # 8x per day), and per client IP over all accounts. Successes are never counted.
    login_attempts_per_minute: int = Field(default=10, ge=1)
    login_failures_per_ip_per_minute: int = Field(default=30, ge=1)

    # Member accounts: one-time links (stored hashed, single use) and the limits on the
    # requests that send mail or try a token, per client IP and per email address.
    email_verification_ttl_hours: int = Field(default=48, ge=1)
    password_reset_ttl_minutes: int = Field(default=60, ge=5)
    # Where the links in account mail lead: the member app's pages /verify-email and
    # /reset-password, which post the token (unset: the service's public_base_url).
    member_app_url: str | None = None
    account_requests_per_ip_per_hour: int = Field(default=20, ge=1)
    account_mail_per_address_per_hour: int = Field(default=5, ge=1)
    addresses_per_member: int = Field(default=20, ge=1)

    # Admin API (seed 004): general limit per admin, KYC validity, display currency.
    admin_rate_limit_per_minute: int = 200
    admin_rate_limit_window_seconds: int = 60
    kyc_validity_days: int = 365
    # A member's KYC document (JPEG, PNG or PDF); images also within max_image_pixels/side.
    kyc_document_max_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    currency: str = "USD"

    # Money (commissions, payouts): the plan's per-level rates in percent of a sale's
    # commissionable volume (level 1 first), withholding from gross to net, the provider.
    commission_level_rates: Annotated[list[Decimal], NoDecode] = Field(
        default_factory=lambda: [Decimal(r) for r in ("50", "20", "10", "10", "10")]
    )
    commission_withholding_percent: Decimal = Decimal(0)
    # A paid sale's commissions are booked just after its payment commits, by a loop that
    # first waits this long for other sales to book with it: one pass for several sales
    # costs little more than a pass for one (0: book at once).
    commission_booking_window_ms: int = Field(default=50, ge=0, le=5000)
    # The rank plan (ranks, their qualification, rank and fast-start bonuses): a JSON file
    # in the shape of `iwm.modules.ranks.schemas.RankPlan`; unset = the built-in plan.
    rank_plan_file: str | None = None
    commission_adjust_limit_per_minute: int = 10
    payout_process_limit_per_minute: int = 5
    payout_min_amount: Decimal = Decimal("1")
    # Four eyes on money: an amount change of a commission by more than this (or raising
    # one at all) waits for a second admin; a payout above it is processed by an admin
    # other than the one who approved it.
    four_eyes_above: Decimal = Field(default=Decimal("1000.00"), ge=0, decimal_places=2)
    # Payouts' provider: "simulated" pays at once; "failing" refuses every payment
    # (PAYMENT_FAILED).
    payout_provider: str = "simulated"
    # Incoming payments (kiosk rounds, shop orders and investments): the provider
    # class (modules/payments, docs/payments.md), the secret its webhooks are signed with
    # (unset: derived from IWM_SECRET_KEY, which the simulated provider shares with the
    # app; a real provider's secret comes from its dashboard) and how old a webhook may be.
    payment_provider: Literal["simulated"] = "simulated"
    payment_webhook_secret: SecretStr | None = None
    payment_webhook_tolerance_seconds: int = Field(default=300, ge=1)
    # A payout still PROCESSING this long after its last change is finished by the
    # reconciliation (every few minutes inside `serve`, or `iwm reconcile-payouts`).
    payout_reconcile_after_seconds: int = Field(default=900, ge=60)

    supported_languages: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["en", "fr", "es", "de", "it", "he", "ru", "ar", "pt", "uk"]
    )
    code_ttl_hours: int = 24
    code_error_window_minutes: int = 30
    redeem_failures_allowed: int = 5
    redeem_failure_window_seconds: int = 600
    online_window_seconds: int = 120
    # Heartbeats are buffered and written once per this many seconds (0: each at once).
    heartbeat_flush_seconds: float = Field(default=1.0, ge=0, le=60)
    new_orders_unprinted_hours: int = 3
    new_orders_printed_minutes: int = 15
    orders_history_days: int = 30
    # Kiosk rounds paid online: an unpaid session expires after this; a paid one must be
    # started within the start window, else it is refunded; a kiosk's long poll waits at
    # most `kiosk_poll_max_seconds`; without Redis a waiting poll also rereads its session
    # every `kiosk_poll_recheck_seconds` (several embedded processes share no memory).
    kiosk_session_ttl_seconds: int = Field(default=600, ge=10)
    kiosk_start_window_seconds: int = Field(default=300, ge=10)
    kiosk_poll_recheck_seconds: float = Field(default=2.0, gt=0)
    # A member's shop order or investment not paid within this is cancelled (the order's
    # stock goes back) and its payment page takes no money.
    order_payment_ttl_minutes: int = Field(default=30, ge=1)

    order_retention_days: int = 30
    code_retention_days: int = 60
    kiosk_error_retention_days: int = 60
    # Kiosk payment sessions that were paid are kept as long as orders; unpaid, 60 days.
    kiosk_session_expired_retention_days: int = 60
    orphan_photo_grace_minutes: int = 60
    cleanup_batch_size: int = 1000
    cleanup_hour_utc: int = 3
    scheduler_enabled: bool = True

    max_upload_bytes: int = 10 * 1024 * 1024
    # Decoded size of an order photo: 40 megapixels is 160 MB of RGBA in memory.
    max_image_pixels: int = Field(default=40_000_000, ge=1)
    max_image_side: int = Field(default=12_000, ge=1)
    # Any other request body: far above the largest JSON body of the contract (a product
    # description is at most 20,000 characters), far below one that ties up a worker.
    max_body_bytes: int = 1024 * 1024
    db_pool_size: int = 20
    # Outages: every call to a part waits at most this long, so that while one is down the
    # requests that need it answer 503 SERVICE_UNAVAILABLE at once instead of hanging.
    # PostgreSQL: to open a connection, and per statement (a hung server).
    db_connect_timeout_seconds: float = Field(default=2.0, gt=0)
    db_command_timeout_seconds: float = Field(default=2.0, gt=0)
    # For a free pooled connection: longer, since a burst of requests queues here while the
    # database is healthy; while it is down, connections come back within the bounds above.
    db_pool_timeout_seconds: float = Field(default=10.0, gt=0)
    # Redis: to connect and per command (one retry on a dropped connection).
    redis_timeout_seconds: float = Field(default=0.5, gt=0)
    # Connections per process, and how long a request waits for a free one: a burst of
    # requests beyond the pool queues here (as for the database pool) instead of failing.
    redis_pool_size: int = Field(default=100, ge=1)
    redis_pool_timeout_seconds: float = Field(default=10.0, gt=0)
    # S3: to connect, to wait for an answer, and botocore's attempts in all (the first
    # included; a dropped connection is retried once at once whatever this says).
    s3_connect_timeout_seconds: float = Field(default=1.0, gt=0)
    s3_read_timeout_seconds: float = Field(default=2.0, gt=0)
    s3_max_attempts: int = Field(default=1, ge=1, le=10)
    # A request still running this long after it arrived is stopped (504 REQUEST_TIMEOUT);
    # its transaction does not commit. Above the longest long poll (25 s).
    request_timeout_seconds: float = Field(default=30.0, gt=0)
    # On SIGTERM, kept-alive connections have this long to send one last request, answered
    # with `Connection: close`, before they are closed; requests under way then have up to
    # `request_timeout_seconds` to finish.
    shutdown_drain_seconds: float = Field(default=1.0, ge=0, le=30)
    # OTLP/HTTP collector (http://collector:4318) to send a span per request to; unset,
    # tracing is off. Read from IWM_OTEL_ENDPOINT, else the standard OTEL_EXPORTER_OTLP_ENDPOINT.
    otel_endpoint: str | None = Field(
        default=None,
        validation_alias=AliasChoices(
            "iwm_otel_endpoint", "otel_exporter_otlp_endpoint", "otel_endpoint"
        ),
    )
    # Unset: JSON lines in production, readable console lines in development.
    log_json: bool | None = None
    log_level: str = "INFO"
    # /docs, /redoc and /openapi.json: unset means on in development, off in production.
    docs_enabled: bool | None = None

    @field_validator("supported_languages", mode="before")
    @classmethod
    def _split_languages(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip().lower() for part in value.split(",") if part.strip()]
        return value

    @field_validator("forwarded_allow_ips", "allowed_hosts", mode="before")
    @classmethod
    def _split_hosts(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip().lower() for part in value.split(",") if part.strip()]
        return value

    @field_validator("commission_level_rates", mode="before")
    @classmethod
    def _split_rates(cls, value: object) -> object:
        if isinstance(value, str):
            return [Decimal(part.strip()) for part in value.split(",") if part.strip()]
        return value

    @field_validator("secret_key", "payment_webhook_secret")
    @classmethod
    def _refuse_placeholder(cls, value: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        if value is not None and value.get_secret_value().lower() in _PLACEHOLDER_SECRETS:
            name = f"IWM_{(info.field_name or '').upper()}"
            raise ValueError(f"{name} must be a real secret, not a placeholder")
        return value

    @model_validator(mode="after")
    def _argon2_memory_fits_lanes(self) -> "Settings":
        # Argon2 needs at least 8 KiB per lane; refuse at startup rather than at first login.
        if self.password_hash_memory_cost < 8 * self.password_hash_parallelism:
            raise ValueError(
                "IWM_PASSWORD_HASH_MEMORY_COST must be at least 8 x IWM_PASSWORD_HASH_PARALLELISM"
            )
        return self

    @property
    def hosts_allowed(self) -> list[str]:
        """The Host names served: IWM_ALLOWED_HOSTS, else any (development only)."""
        return self.allowed_hosts if self.allowed_hosts is not None else ["*"]

    def referral_link(self, code: str) -> str:
        front_end = (self.member_app_url or self.public_base_url).rstrip("/")
        prefix = self.referral_link_prefix or f"{front_end}/register?ref="
        return f"{prefix}{code}"

    @property
    def kyc_upload_limit_bytes(self) -> int:
        """A KYC submission's body: one document of each of the five types at the limit,
        with room for the form around them."""
        return 5 * self.kyc_document_max_bytes + self.max_body_bytes

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.get_secret_value().startswith("sqlite")

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    @property
    def docs_on(self) -> bool:
        return self.docs_enabled if self.docs_enabled is not None else not self.is_production

    @property
    def json_logs(self) -> bool:
        return self.log_json if self.log_json is not None else self.is_production


class ConfigError(Exception):
    """Settings the service refuses to start with; each line names its variable."""


def production_problems(settings: Settings) -> list[str]:
    """One line per setting that production mode cannot run with."""
    if not settings.is_production:
        return []
    problems = []
    if settings.is_sqlite:
        problems.append("IWM_DATABASE_URL must be a PostgreSQL URL in production, not SQLite")
    if settings.redis_url is None:
        # Without it each process keeps its own rate limits (N processes: N times looser)
        # and no live updates reach a screen served by another process.
        problems.append(
            "IWM_REDIS_URL must be set in production (sessions, rate limits and live "
            "updates shared by every process)"
        )
    if settings.secret_key is None:
        problems.append("IWM_SECRET_KEY must be set in production")
    if not settings.allowed_hosts:
        problems.append("IWM_ALLOWED_HOSTS must be set in production (the host names served)")
    if settings.payment_provider != "simulated" and settings.payment_webhook_secret is None:
        problems.append("IWM_PAYMENT_WEBHOOK_SECRET must be set (the provider's signing secret)")
    return problems


STORAGE_URL_FORM = "IWM_STORAGE_URL must be file:///absolute/path or s3://bucket/prefix"


def url_problems(settings: Settings) -> list[str]:
    """One line per URL setting the service cannot use, each with its fix."""
    problems = []
    database = settings.database_url.get_secret_value()
    scheme = database.split("://", 1)[0].lower() if "://" in database else ""
    if scheme in ("postgres", "postgresql") or scheme.startswith("postgresql+"):
        if scheme != "postgresql+asyncpg":
            problems.append(
                f"IWM_DATABASE_URL starts with {scheme}://: "
                "use postgresql+asyncpg:// (the service's PostgreSQL driver)"
            )
    elif scheme != "sqlite+aiosqlite":
        problems.append(
            "IWM_DATABASE_URL must be postgresql+asyncpg://user@host:5432/db "
            "or sqlite+aiosqlite:///path/iwm.db"
        )
    storage = urlsplit(settings.storage_url)
    if not (
        (storage.scheme == "s3" and storage.netloc)
        or (storage.scheme == "file" and (storage.netloc + storage.path))
    ):
        problems.append(STORAGE_URL_FORM)
    if settings.redis_url is not None:
        redis = urlsplit(settings.redis_url.get_secret_value())
        if redis.scheme not in ("redis", "rediss", "unix"):
            problems.append("IWM_REDIS_URL must be redis://host:6379/0 (or rediss://, unix://)")
    return problems


def check_production(settings: Settings) -> None:
    """Raises ConfigError listing the URLs the service cannot use and what production mode
    refuses."""
    if problems := url_problems(settings) + production_problems(settings):
        raise ConfigError("\n".join(problems))


def settings_problems(exc: ValidationError) -> list[str]:
    """A validation failure as one line per variable: `IWM_ENV: Input should be ...`."""
    return [
        f"IWM_{'_'.join(str(part) for part in error['loc'][:1]).upper()}: {error['msg']}"
        if error["loc"]
        else error["msg"]
        for error in exc.errors()
    ]


@lru_cache
def get_settings() -> Settings:
    return Settings()
