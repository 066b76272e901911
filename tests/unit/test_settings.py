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
