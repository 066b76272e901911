"""A production deployment cannot start with development settings, and /metrics is not
public."""

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from alerts.api import create_app
from kit.config import get_settings

GOOGLE_FCM = "https://fcm.googleapis.com"
STRONG_TOKEN = "k" * 40


@pytest.fixture
def settings_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """HEXCAST_* variables a test sets apply to the apps it creates, and are undone after."""
    get_settings.cache_clear()
    yield monkeypatch
    monkeypatch.undo()
    get_settings.cache_clear()


def _production(env: pytest.MonkeyPatch, **settings: str) -> None:
    env.setenv("HEXCAST_ENVIRONMENT", "production")
    env.setenv("HEXCAST_OPERATOR_TOKEN", STRONG_TOKEN)
    env.setenv("HEXCAST_FCM_ENDPOINT", GOOGLE_FCM)
    env.setenv("HEXCAST_PASSWORD_HASH_LOG2_N", "15")  # the suite's environment lowers it
    for name, value in settings.items():
        env.setenv(f"HEXCAST_{name.upper()}", value)
    get_settings.cache_clear()


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        ("fcm_endpoint", "http://127.0.0.1:8765"),
        ("operator_token", "dev-operator-token"),
        ("operator_token", "x"),
        ("environment", "prod"),
    ],
)
def test_the_api_refuses_to_start_with_development_settings_in_production(
    settings_env: pytest.MonkeyPatch, setting: str, value: str
) -> None:
    _production(settings_env, **{setting: value})
    with pytest.raises(ValidationError, match=f"(?i)HEXCAST_{setting}|{setting}"):
        create_app()


def test_production_serves_no_metrics_without_a_token(
    clean_db: None, settings_env: pytest.MonkeyPatch
) -> None:
    _production(settings_env)
    with TestClient(create_app()) as client:
        assert client.get("/metrics").status_code == 404


def test_metrics_need_the_metrics_token_when_it_is_set(
    clean_db: None, settings_env: pytest.MonkeyPatch
) -> None:
    settings_env.setenv("HEXCAST_METRICS_TOKEN", STRONG_TOKEN)
    get_settings.cache_clear()
    with TestClient(create_app()) as client:
        anonymous = client.get("/metrics")
        wrong = client.get("/metrics", headers={"Authorization": "Bearer wrong"})
        right = client.get("/metrics", headers={"Authorization": f"Bearer {STRONG_TOKEN}"})

    assert (anonymous.status_code, wrong.status_code) == (401, 401)
    assert right.status_code == 200 and "hexcast_notices" in right.text
