"""One settings class for every process (API, worker, beat, scripts), from HEXCAST_* vars."""

from functools import lru_cache
from ipaddress import IPv4Network, IPv6Network
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

MIN_PRODUCTION_SECRET_CHARS = 32
PRODUCTION_PASSWORD_HASH_LOG2_N = 15

GOOGLE_FCM_HOST = "fcm.googleapis.com"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HEXCAST_", env_file=".env", extra="ignore")

    environment: Literal["development", "test", "production"] = Field(
        "development",
        description="Exactly one of these: a misspelt `Production` must not skip production's "
        "checks.",
    )
    database_url: str = "postgresql+psycopg://hexcast@127.0.0.1:54329/hexcast"
    broker_url: str = "redis://127.0.0.1:63799/0"
    replica_database_url: str | None = Field(
        None,
        description="A streaming replica of the database: reads that tolerate replication "
        "lag (reach preview, outcome stats, public feeds) go there; unset or unreachable, "
        "they read the primary.",
    )

    operator_token: str = Field(
        "dev-operator-token",
        description="Break-glass bearer credential acting as the bootstrap admin; empty: off.",
    )
    operator_session_hours: float = Field(
        12.0, gt=0, le=720, description="How long an operator login lasts."
    )
    login_failures_free: int = Field(
        5,
        ge=1,
        description="Failed logins naming one email in 15 minutes before each further "
        "attempt waits, 1 s after the newest failure and twice as long each time (429).",
    )
    login_client_failures_free: int = Field(
        20,
        ge=1,
        description="The same for failed logins from one client address, whatever email.",
    )

    metrics_token: str = Field(
        "",
        description="Bearer token /metrics requires; empty: /metrics is open in development "
        "and test and absent in production.",
    )

    console_tile_url: str | None = Field(
        None,
        description="The operator console's basemap: an https XYZ tile URL such as "
        "https://tile.openstreetmap.org/{z}/{x}/{y}.png; unset draws the offline outline map.",
    )
    console_tile_attribution: str = Field(
        "© OpenStreetMap contributors", description="Credit shown under the tiles."
    )

    fcm_project_id: str = "hexcast-dev"
    fcm_credentials_file: str | None = Field(
        None, description="Service-account JSON; unset means Application Default Credentials."
    )
    fcm_endpoint: str = Field(
        "https://fcm.googleapis.com",
        description="Base URL of the FCM HTTP v1 API; the sandbox's URL in dev and tests.",
    )

    password_hash_log2_n: int = Field(
        15,
        ge=10,
        le=20,
        description="scrypt's cost for new operator passwords, as log2(N): 15 takes 32 MiB "
        "and about 0.1 s a guess. Production refuses less; the tests use 10 to log in often.",
    )
    public_base_url: str = Field(
        "http://localhost:8000",
        description="Where the public and app users reach the API: the Atom feed's links and "
        "each push's link to the notice's public view start with it, never with a request's "
        "Host header (the feed is cached publicly).",
    )
    cap_sender: str = Field(
        "alerts@hexcast.example",
        description="CAP <sender> of the alerts hexcast writes: an address the deployment owns.",
    )
    cap_signing_key_file: str | None = Field(
        None,
        description="PEM private key (RSA or EC) hexcast signs its CAP alerts with; unset outside "
        "production: a key made at start-up, which lives as long as the process.",
    )
    cap_signing_cert_file: str | None = Field(
        None, description="PEM certificate of the signing key, published for receivers."
    )
    fcm_max_concurrency: int = Field(
        100, ge=1, le=1000, description="Requests in flight to FCM per worker process."
    )
    fcm_timeout_s: float = Field(10.0, gt=0, description="Time limit of one FCM request.")
    send_rate_per_second: float = Field(
        10_000,
        gt=0,
        description="Messages a second all workers together may send (FCM's default quota).",
    )

    location_writer_threads: int = Field(
        1,
        ge=1,
        le=16,
        description="Threads per API process that store location reports by group commit, "
        "each with its own database connection (alerts.devices.ingest). One keeps batches "
        "large and the request loop's hold on the interpreter unshared; more only help "
        "when a statement waits on a distant database.",
    )
    location_batch_max: int = Field(
        1000, ge=1, description="Location reports stored by one statement, at most."
    )
    daily_alert_cap: int = Field(
        3,
        ge=1,
        description="Alert pop-ups one device gets in any 24 hours; more are suppressed (and "
        "counted). Updates and the found message of a notice it got do not count.",
    )
    location_purge_interval_seconds: float = Field(
        3600.0,
        gt=0,
        description="How often beat erases last known locations older than the longest "
        "location window a notice may use.",
    )
    location_freshness_hours: float = Field(72.0, description="Default location window")
    tally_interval_seconds: float = Field(
        60.0, gt=0, description="How often Celery beat counts devices into the device tally."
    )
    reach_tally_min_devices: int = Field(
        50_000,
        ge=0,
        description="A reach preview counts an area's inside cells from the device tally when "
        "the tally holds at least this many devices there; smaller areas are counted exactly.",
    )
    reach_tally_max_age_seconds: float = Field(
        600.0, gt=0, description="An older device tally is not used: previews count exactly."
    )
    reach_min_devices_shown: int = Field(
        10,
        ge=0,
        description="A reach preview reports a smaller count as `fewer_than` this, so that "
        "no preview tells whether one particular phone is in an area.",
    )
    reach_min_area_km2: float = Field(
        1.0, ge=0, description="Reach previews of a smaller area (radius or areas) get 422."
    )
    reach_min_window_hours: float = Field(
        1.0,
        ge=0,
        description="Reach previews with a shorter location window get 422: a window of "
        "seconds singles out the phone that just reported.",
    )
    reach_previews_per_minute: int = Field(
        20, ge=1, description="Reach previews one operator may run in any minute; then 429."
    )
    notice_lifetime_hours: float = 72.0
    send_batch_size: int = Field(500, ge=1, le=500, description="Pushes sent, then recorded.")
    chunk_recipients: int = Field(
        4000,
        ge=1,
        description="Expected recipients per chunk task a broadcast is cut into (the first "
        "chunk holds one batch).",
    )

    lease_seconds: float = Field(
        60.0,
        gt=0,
        description="How long a worker owns the chunk or deliveries it took; must exceed the "
        "time one chunk takes to send. After it, the reconciler hands them to another worker.",
    )
    reconcile_interval_seconds: float = Field(
        5.0, gt=0, description="How often Celery beat runs notifier.reconcile."
    )
    reconcile_limit: int = Field(
        10_000, ge=1, description="Deliveries the reconciler queues again per run, at most."
    )
    outbox_relay_seconds: float = Field(
        5.0, gt=0, description="How often beat sends the tasks kept while the broker was down."
    )
    task_failures_allowed: int = Field(
        3,
        ge=1,
        description="A broadcast that raised this many times for one notice is not queued "
        "again by the reconciler (it shows in /metrics and the worker's log).",
    )
    retry_base_seconds: float = Field(
        5.0, gt=0, description="Longest delay before the first retry of an FCM error; doubles."
    )
    retry_cap_seconds: float = Field(300.0, gt=0, description="The doubling stops here.")

    idempotency_key_hours: float = Field(
        24.0, gt=0, description="How long an Idempotency-Key of a notice submission holds."
    )
    sightings_per_device_hour: int = Field(
        20, ge=1, description="Sightings one device may send in any hour, over all notices."
    )
    sightings_per_notice_hour: int = Field(
        5, ge=1, description="Sightings one device may send about one notice in any hour."
    )
    sightings_per_client_hour: int = Field(
        20,
        ge=1,
        description="Sightings all devices behind one client address may send in any hour.",
    )
    sightings_per_notice_minute: int = Field(
        30, ge=1, description="Sightings of one notice all devices together may send a minute."
    )
    device_registrations_per_client_hour: int = Field(
        20,
        ge=1,
        description="New devices (and takeover challenges) one client address may register "
        "in any hour: a device costs an attacker something, so per-device limits hold.",
    )
    webhook_timeout_seconds: float = Field(10.0, gt=0, description="Per delivery attempt.")
    webhook_max_attempts: int = Field(8, ge=1, description="Attempts before an event fails.")
    webhook_retry_base_seconds: float = Field(
        10.0, gt=0, description="First retry delay; it doubles each attempt, with jitter."
    )
    webhook_retry_cap_seconds: float = Field(
        1800.0, gt=0, description="Longest retry delay, Retry-After included."
    )
    webhook_allowed_networks: list[IPv4Network | IPv6Network] = Field(
        default_factory=list,
        description="Networks webhooks may be sent to besides public addresses, as a JSON list "
        "of CIDRs ('[\"10.20.0.0/16\"]'); loopback, private and link-local ones are refused "
        "otherwise.",
    )
    webhook_requeue_seconds: float = Field(
        30.0, gt=0, description="How often beat re-queues due webhook events."
    )

    max_body_bytes: int = Field(
        2 * 1024 * 1024,
        ge=1024 * 1024,
        description="Largest request body; larger ones get 413. At least 1 MiB, a CAP "
        "document's limit.",
    )
    cors_origins: list[str] = Field(
        [],
        description="Origins (scheme://host[:port]) whose browser pages may call the API; "
        "none by default. A JSON list in HEXCAST_CORS_ORIGINS.",
    )

    @field_validator("public_base_url")
    @classmethod
    def _absolute_base(cls, value: str) -> str:
        if not value.startswith(("https://", "http://")):
            raise ValueError("HEXCAST_PUBLIC_BASE_URL must be an absolute http(s) URL")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _no_development_settings_in_production(self) -> "Settings":
        """Production starts only with its own secrets and Google's FCM: a sandbox endpoint
        would send nobody's alerts, silently, and a short token can be guessed."""
        if self.environment != "production":
            return self
        for name, secret in (
            ("OPERATOR_TOKEN", self.operator_token),
            ("METRICS_TOKEN", self.metrics_token),
        ):
            if secret and (secret.startswith("dev-") or len(secret) < MIN_PRODUCTION_SECRET_CHARS):
                raise ValueError(
                    f"HEXCAST_{name} must be empty (off) or a secret of at least "
                    f"{MIN_PRODUCTION_SECRET_CHARS} characters in production, not the "
                    "development default"
                )
        if self.password_hash_log2_n < PRODUCTION_PASSWORD_HASH_LOG2_N:
            raise ValueError(
                f"HEXCAST_PASSWORD_HASH_LOG2_N must be at least "
                f"{PRODUCTION_PASSWORD_HASH_LOG2_N} in production"
            )
        endpoint = urlsplit(self.fcm_endpoint)
        if endpoint.scheme != "https" or endpoint.hostname != GOOGLE_FCM_HOST:
            raise ValueError(
                f"HEXCAST_FCM_ENDPOINT must be https://{GOOGLE_FCM_HOST} in production, "
                f"not {self.fcm_endpoint}"
            )
        return self

    @model_validator(mode="after")
    def _signing_key_with_its_certificate(self) -> "Settings":
        """Receivers verify with the certificate: a key without one (or one without its key)
        is a mistake, and a production deployment must sign with a key that outlives it."""
        if (self.cap_signing_key_file is None) != (self.cap_signing_cert_file is None):
            raise ValueError(
                "set HEXCAST_CAP_SIGNING_KEY_FILE and HEXCAST_CAP_SIGNING_CERT_FILE together"
            )
        if self.environment == "production" and self.cap_signing_key_file is None:
            raise ValueError("HEXCAST_CAP_SIGNING_KEY_FILE must be set in production")
        return self

    @model_validator(mode="after")
    def _tally_fresher_than_its_limit(self) -> "Settings":
        """A tally taken less often than previews accept it would never be read: every large
        preview would quietly fall back to counting devices one by one."""
        if self.tally_interval_seconds >= self.reach_tally_max_age_seconds:
            raise ValueError(
                "HEXCAST_TALLY_INTERVAL_SECONDS must be less than "
                "HEXCAST_REACH_TALLY_MAX_AGE_SECONDS"
            )
        return self


@lru_cache
def get_settings() -> Settings:
    return Settings()
