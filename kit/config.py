"""One settings class for every process (API, worker, beat, scripts), from HEXCAST_* vars."""

from functools import lru_cache

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HEXCAST_", env_file=".env", extra="ignore")

    environment: str = Field("development", description="development, test or production")
    database_url: str = "postgresql+psycopg://hexcast@127.0.0.1:54329/hexcast"
    broker_url: str = "redis://127.0.0.1:63799/0"

    operator_token: str = Field(
        "dev-operator-token",
        description="Break-glass bearer credential acting as the bootstrap admin; empty: off.",
    )
    operator_session_hours: float = Field(
        12.0, gt=0, le=720, description="How long an operator login lasts."
    )
    login_failures_allowed: int = Field(
        10,
        ge=1,
        description="Failed logins naming one email in any 15 minutes; more attempts get 429.",
    )

    fcm_project_id: str = "hexcast-dev"
    fcm_credentials_file: str | None = Field(
        None, description="Service-account JSON; unset means Application Default Credentials."
    )
    fcm_endpoint: str = Field(
        "https://fcm.googleapis.com",
        description="Base URL of the FCM HTTP v1 API; the sandbox's URL in dev and tests.",
    )

    public_base_url: str = Field(
        "http://localhost:8000",
        description="Where the public reaches the API: the Atom feed's links start with it, "
        "never with a request's Host header (the feed is cached publicly).",
    )
    cap_sender: str = Field(
        "alerts@hexcast.example",
        description="CAP <sender> of the alerts hexcast writes: an address the deployment owns.",
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
    webhook_timeout_seconds: float = Field(10.0, gt=0, description="Per delivery attempt.")
    webhook_max_attempts: int = Field(8, ge=1, description="Attempts before an event fails.")
    webhook_retry_base_seconds: float = Field(
        10.0, gt=0, description="First retry delay; it doubles each attempt, with jitter."
    )
    webhook_retry_cap_seconds: float = Field(
        1800.0, gt=0, description="Longest retry delay, Retry-After included."
    )
    webhook_requeue_seconds: float = Field(
        30.0, gt=0, description="How often beat re-queues due webhook events."
    )

    @field_validator("public_base_url")
    @classmethod
    def _absolute_base(cls, value: str) -> str:
        if not value.startswith(("https://", "http://")):
            raise ValueError("HEXCAST_PUBLIC_BASE_URL must be an absolute http(s) URL")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _no_default_secrets_in_production(self) -> "Settings":
        if self.environment == "production" and self.operator_token == "dev-operator-token":
            raise ValueError("HEXCAST_OPERATOR_TOKEN must be set in production")
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
