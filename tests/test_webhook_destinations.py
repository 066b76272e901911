"""Webhooks cannot be pointed at the network hexcast runs in: a URL whose host resolves to a
loopback, private, link-local or metadata address is refused when set and again when sent,
after resolution, and an attempt connects to the very address it checked. The suite's
allow-list (tests/conftest.py) is taken away here to see the refusals; a resolver this test
controls plays a DNS name that changes its answer."""

import ipaddress
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

import httpx
import pytest

from alerts.webhooks import destinations
from alerts.webhooks.signing import event_body
from alerts.webhooks.tasks import deliver_webhook
from kit.config import get_settings
from kit.db import session_scope
from kit.models import WebhookEvent
from tests.conftest import Receiver

PUBLIC = ipaddress.ip_address("93.184.216.34")
LOOPBACK = ipaddress.ip_address("127.0.0.1")


@pytest.fixture
def no_allow_list(monkeypatch: pytest.MonkeyPatch) -> None:
    """Production's setting: public addresses only."""
    monkeypatch.setattr(get_settings(), "webhook_allowed_networks", [])


@pytest.fixture
def answers(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[destinations.Address]]:
    """A resolver for names under .test, whose answers the test sets; others resolve as usual."""
    table: dict[str, list[destinations.Address]] = {}
    system: Callable[[str, int], list[destinations.Address]] = destinations.resolve

    def resolve(host: str, port: int) -> list[destinations.Address]:
        return list(table[host]) if host.endswith(".test") else system(host, port)

    monkeypatch.setattr(destinations, "resolve", resolve)
    return table


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("http://localhost:8080/h", "resolves to 127.0.0.1"),
        ("http://127.0.0.1/h", "127.0.0.1"),
        ("http://10.1.2.3/h", "10.1.2.3"),
        ("http://192.168.0.10/h", "192.168.0.10"),
        ("http://169.254.169.254/latest/meta-data/", "169.254.169.254"),
        ("http://100.64.0.1/h", "100.64.0.1"),
        ("http://[::1]/h", "::1"),
        ("http://[::ffff:127.0.0.1]/h", "::ffff:7f00:1"),
        ("http://[fd00:ec2::254]/h", "fd00:ec2::254"),
        ("http://0.0.0.0/h", "0.0.0.0"),
        ("http://inside.test/h", "resolves to 10.0.0.7"),
        ("http://nowhere.invalid/h", "does not resolve"),
    ],
)
@pytest.mark.usefixtures("no_allow_list")
def test_a_url_that_resolves_inside_is_refused_when_set(
    api: httpx.Client,
    agency_headers: dict[str, str],
    answers: dict[str, list[destinations.Address]],
    url: str,
    says: str,
) -> None:
    answers["inside.test"] = [PUBLIC, ipaddress.ip_address("10.0.0.7")]

    response = api.put("/v1/webhook", json={"url": url}, headers=agency_headers)

    assert response.status_code == 422, response.text
    assert response.json()["code"] == "webhook_url_refused"
    assert says in response.json()["detail"]
    assert api.get("/v1/webhook", headers=agency_headers).status_code == 404


@pytest.fixture
def agency(api: httpx.Client, operator_headers: dict[str, str]) -> tuple[str, dict[str, str]]:
    """An agency's id and the headers its key goes in."""
    created = api.post(
        "/v1/operator/agencies", json={"name": "Hook Police"}, headers=operator_headers
    )
    assert created.status_code == 201, created.text
    return created.json()["id"], {"X-API-Key": created.json()["api_key"]}


def _event_for(agency_id: str) -> uuid.UUID:
    """A pending event of the agency, written as the outbox writes one; nothing is queued,
    so only this test attempts it."""
    event_id, now = uuid.uuid4(), datetime.now(UTC)
    with session_scope() as session:
        session.add(
            WebhookEvent(
                id=event_id,
                agency_id=uuid.UUID(agency_id),
                event_type="notice.rejected",
                body=event_body(
                    event_id=event_id, event_type="notice.rejected", created_at=now, data={}
                ),
                created_at=now,
            )
        )
    return event_id


@pytest.mark.usefixtures("no_allow_list")
def test_a_name_that_turns_inside_after_it_was_set_is_refused_when_sent(
    api: httpx.Client,
    agency: tuple[str, dict[str, str]],
    answers: dict[str, list[destinations.Address]],
    receiver: Receiver,
) -> None:
    agency_id, agency_headers = agency
    port = receiver.server.server_address[1]
    answers["rebind.test"] = [PUBLIC]
    url = f"http://rebind.test:{port}/hooks/hexcast"
    assert api.put("/v1/webhook", json={"url": url}, headers=agency_headers).status_code == 200
    answers["rebind.test"] = [LOOPBACK]  # what a rebinding name answers the second time
    event_id = _event_for(agency_id)

    assert deliver_webhook(str(event_id)) == "pending"

    [event] = api.get("/v1/webhook/events", headers=agency_headers).json()["items"]
    assert event["attempts"] == 1
    assert event["last_status_code"] is None
    assert event["last_error"].startswith("refused: rebind.test resolves to 127.0.0.1")
    assert receiver.deliveries == []


def test_an_attempt_connects_to_the_address_it_checked(
    api: httpx.Client,
    agency: tuple[str, dict[str, str]],
    answers: dict[str, list[destinations.Address]],
    receiver: Receiver,
) -> None:
    """receiver.test exists only in the test's resolver: the POST arrives because the attempt
    connected to the address the check resolved, and carries the name in Host."""
    agency_id, agency_headers = agency
    port = receiver.server.server_address[1]
    answers["receiver.test"] = [LOOPBACK]
    url = f"http://receiver.test:{port}/hooks/hexcast"
    assert api.put("/v1/webhook", json={"url": url}, headers=agency_headers).status_code == 200
    event_id = _event_for(agency_id)

    assert deliver_webhook(str(event_id)) == "delivered"

    [delivery] = receiver.deliveries
    assert delivery.headers["Host"] == f"receiver.test:{port}"
    assert delivery.event["id"] == str(event_id)


def test_redirects_are_not_followed(
    api: httpx.Client, agency: tuple[str, dict[str, str]], receiver: Receiver
) -> None:
    """A 3xx is an answer, not a direction: the Location (here the metadata address) is
    never visited."""
    agency_id, agency_headers = agency
    receiver.answer((307, {"Location": "http://169.254.169.254/latest/meta-data/"}))
    assert (
        api.put("/v1/webhook", json={"url": receiver.url}, headers=agency_headers).status_code
        == 200
    )
    event_id = _event_for(agency_id)

    deliver_webhook(str(event_id))

    [event] = api.get("/v1/webhook/events", headers=agency_headers).json()["items"]
    assert event["last_status_code"] == 307
    assert event["last_error"] is None
    assert len(receiver.deliveries) == 1
