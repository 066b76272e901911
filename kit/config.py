"""One settings class for every process (API, worker, beat, scripts), from HEXCAST_* vars."""

from functools import lru_cache

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HEXCAST_", env_file=".env", extra="ignore")

    environment: str = Field("development", description="development, test or production")
    database_url: str = "postgresql+psycopg://hexcast@127.0.0.1:54329/hexcast"
    broker_url: str = "redis://127.0.0.1:63799/0"

    operator_token: str = Field(
        "dev-operator-token", description="Bearer credential of the operator role."
    )

    fcm_project_id: str = "hexcast-dev"
    fcm_credentials_file: str | None = Field(
        None, description="Service-account JSON; unset means Application Default Credentials."
    )
    fcm_endpoint: str = Field(
        "https://fcm.googleapis.com",
        description="Base URL of the FCM HTTP v1 API; the sandbox's URL in dev and tests.",
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
    notice_lifetime_hours: float = 72.0
    send_batch_size: int = Field(500, ge=1, le=500, description="Pushes sent, then recorded.")

    @model_validator(mode="after")
    def _no_default_secrets_in_production(self) -> "Settings":
        if self.environment == "production" and self.operator_token == "dev-operator-token":
            raise ValueError("HEXCAST_OPERATOR_TOKEN must be set in production")
        return self


@lru_cache
def get_settings() -> Settings:
    return Settings()
