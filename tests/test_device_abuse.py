"""Limits an attacker pays for: devices cost a client address something, so per-device
sighting limits hold; sightings are limited per client and per notice too; and a known FCM
token is handed over only to the app that proves it holds it."""

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from kit.config import Settings, get_settings
from tests.conftest import Sandbox, wait_until
from tests.helpers import register_device, report_location
from tests.test_sightings import _active_notice, sighting_body

DEFAULTS = Settings.model_fields


@pytest.fixture
def production_limits(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv(
        "HEXCAST_DEVICE_REGISTRATIONS_PER_CLIENT_HOUR",
        str(DEFAULTS["device_registrations_per_client_hour"].default),
    )
    get_settings.cache_clear()
    yield
    monkeypatch.undo()
    get_settings.cache_clear()


def _from(api: httpx.Client, address: str) -> TestClient:
    """The same in-process API, called from another client address."""
    assert isinstance(api, TestClient)
    return TestClient(api.app, client=(address, 40000))


def _register(client: httpx.Client, token: str, **extra: Any) -> httpx.Response:
    body = {"fcm_token": token, "platform": "android", "locale": "en-GB", **extra}
    return client.post("/v1/devices", json=body)


@pytest.mark.usefixtures("production_limits")
def test_fifty_fresh_devices_cannot_post_fifty_sightings_in_a_second(
    api: httpx.Client, agency_headers: dict[str, str], operator_headers: dict[str, str]
) -> None:
    notice = _active_notice(api, agency_headers, operator_headers)
    per_client = DEFAULTS["device_registrations_per_client_hour"].default
    per_notice = DEFAULTS["sightings_per_notice_minute"].default

    one_address = _from(api, "203.0.113.7")
    registered = [_register(one_address, f"bulk-{i}").status_code for i in range(50)]
    assert Counter(registered) == {201: per_client, 429: 50 - per_client}

    # Fifty addresses (a botnet) register a device each; the notice still takes only so many.
    bots = []
    for i in range(50):
        bot = _from(api, f"198.51.100.{i}")
        response = _register(bot, f"botnet-{i}")
        assert response.status_code == 201, response.text
        bots.append((bot, {"X-Device-Key": response.json()["device_key"]}))
    answers = [
        bot.post(f"/v1/notices/{notice}/sightings", json=sighting_body(), headers=device)
        for bot, device in bots
    ]
    assert Counter(a.status_code for a in answers) == {201: per_notice, 429: 50 - per_notice}
    refused = next(a for a in answers if a.status_code == 429)
    assert (
        refused.json()["detail"]
        == f"at most {per_notice} sightings of one notice a minute from all devices"
    )
    assert 1 <= int(refused.headers["Retry-After"]) <= 60


def test_one_client_address_sends_a_limited_number_of_sightings(
    api: httpx.Client, agency_headers: dict[str, str], operator_headers: dict[str, str]
) -> None:
    notice = _active_notice(api, agency_headers, operator_headers)
    per_client = DEFAULTS["sightings_per_client_hour"].default
    per_device = DEFAULTS["sightings_per_notice_hour"].default
    home = _from(api, "192.0.2.44")
    devices = [register_device(home, f"household-{i}") for i in range(per_client // per_device + 1)]

    answers = [
        home.post(f"/v1/notices/{notice}/sightings", json=sighting_body(), headers=device)
        for device in devices
        for _ in range(per_device)
    ]

    assert [a.status_code for a in answers] == [201] * per_client + [429] * per_device
    assert answers[-1].json()["detail"] == (
        f"at most {per_client} sightings per hour from one client address"
    )
    elsewhere = _from(api, "192.0.2.45")
    assert (
        elsewhere.post(
            f"/v1/notices/{notice}/sightings",
            json=sighting_body(),
            headers=register_device(elsewhere, "neighbour"),
        ).status_code
        == 201
    )


@pytest.mark.usefixtures("worker")
def test_registering_a_known_token_without_proof_does_not_hand_the_device_over(
    api: httpx.Client, sandbox: Sandbox
) -> None:
    [token] = sandbox.install(1)
    owner = _register(api, token)
    assert owner.status_code == 201
    owner_key = {"X-Device-Key": owner.json()["device_key"]}
    report_location(api, owner_key, 48.8566, 2.3522)

    attacker = _from(api, "203.0.113.66")
    taken = _register(attacker, token, locale="fr-FR")
    assert taken.status_code == 202, taken.text
    assert taken.json()["claim_sent"] is True
    assert "device_key" not in taken.json()
    assert _register(attacker, token, claim_code="a-guess").status_code == 403
    assert _locate(api, owner_key) == 204, "the owner's key still works: nothing handed over"

    # The app that holds the token gets the code through FCM and sends it back.
    wait_until(lambda: bool(_claims(sandbox, token)), timeout=30, what="the claim message")
    [code] = _claims(sandbox, token)
    claimed = _register(api, token, claim_code=code)
    assert claimed.status_code == 200, claimed.text
    assert claimed.json()["device_id"] == owner.json()["device_id"]
    assert _locate(api, owner_key) == 401, "the claimed device's old key stops working"
    assert _register(api, token, claim_code=code).status_code == 403, "a code works once"

    # An app that still has its key needs no claim.
    refreshed = api.post(
        "/v1/devices",
        json={"fcm_token": token, "platform": "ios", "locale": "en-GB"},
        headers={"X-Device-Key": claimed.json()["device_key"]},
    )
    assert refreshed.status_code == 200, refreshed.text


def _claims(sandbox: Sandbox, token: str) -> list[str]:
    return [
        m["message"]["data"]["code"]
        for m in sandbox.messages()
        if m["message"].get("token") == token
        and m["message"].get("data", {}).get("type") == "device_claim"
    ]


def _locate(api: httpx.Client, device: dict[str, str]) -> int:
    body = {"lat": 48.86, "lon": 2.35, "accuracy_m": 5, "at": datetime.now(UTC).isoformat()}
    return api.put("/v1/devices/me/location", headers=device, json=body).status_code
