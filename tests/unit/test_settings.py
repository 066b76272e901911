import pytest
from pydantic import ValidationError

from kit.config import Settings


def test_a_tally_taken_less_often_than_previews_accept_it_is_refused() -> None:
    with pytest.raises(ValidationError, match="HEXCAST_TALLY_INTERVAL_SECONDS"):
        Settings(tally_interval_seconds=900, reach_tally_max_age_seconds=600)


def test_the_default_tally_is_read_by_previews() -> None:
    settings = Settings()
    assert settings.tally_interval_seconds < settings.reach_tally_max_age_seconds


def test_production_refuses_the_default_operator_token() -> None:
    with pytest.raises(ValidationError, match="HEXCAST_OPERATOR_TOKEN"):
        Settings(environment="production", operator_token="dev-operator-token")


PRODUCTION = {
    "environment": "production",
    "operator_token": "p" * 40,
    "fcm_endpoint": "https://fcm.googleapis.com",
    "password_hash_log2_n": 15,  # the suite's environment lowers it for its logins
}


def test_production_refuses_cheap_password_hashes() -> None:
    with pytest.raises(ValidationError, match="HEXCAST_PASSWORD_HASH_LOG2_N"):
        Settings(**{**PRODUCTION, "password_hash_log2_n": 12})


def test_a_well_configured_production_starts() -> None:
    assert Settings(**PRODUCTION).environment == "production"
    assert Settings(**{**PRODUCTION, "operator_token": ""}).operator_token == ""


@pytest.mark.parametrize("environment", ["Production", "prod", "staging", ""])
def test_an_unknown_environment_is_refused(environment: str) -> None:
    with pytest.raises(ValidationError, match="environment"):
        Settings(**{**PRODUCTION, "environment": environment})


@pytest.mark.parametrize("token", ["x", "dev-operator-token", "short-but-not-default"])
def test_production_refuses_a_short_or_default_operator_token(token: str) -> None:
    with pytest.raises(ValidationError, match="HEXCAST_OPERATOR_TOKEN"):
        Settings(**{**PRODUCTION, "operator_token": token})


def test_production_refuses_a_short_metrics_token() -> None:
    with pytest.raises(ValidationError, match="HEXCAST_METRICS_TOKEN"):
        Settings(**{**PRODUCTION, "metrics_token": "metrics"})


@pytest.mark.parametrize(
    "endpoint",
    [
        "http://127.0.0.1:8765",
        "http://fcm-sandbox:8765",
        "http://fcm.googleapis.com",
        "https://fcm.googleapis.com.evil.example",
    ],
)
def test_production_refuses_any_fcm_endpoint_but_googles(endpoint: str) -> None:
    with pytest.raises(ValidationError, match="HEXCAST_FCM_ENDPOINT"):
        Settings(**{**PRODUCTION, "fcm_endpoint": endpoint})
