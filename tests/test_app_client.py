"""The reference in-app client in a real Chromium with a fixed geolocation: it registers,
shares its place, gets the alert of a notice approved near it, opens the pop-up from the
deep link with the right distance, and its "I saw this person" reaches the agency's list
and its webhook; a Test notice shows its banner, and a found notice shows no name and no
photo."""

import re
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from geo.sphere import destination, distance_m
from tests.conftest import Receiver, Sandbox, Service, wait_until
from tests.helpers import notice_body

# On 3-decimal values, so that the public view's rounding does not move it.
LAST_SEEN = (51.501, -0.125)
PHONE = destination(*LAST_SEEN, 2_500, 40)


@pytest.fixture
def phone(browser: Browser) -> Iterator[Page]:
    """A page whose browser lets the app read a fixed location; its script errors fail."""
    context = browser.new_context(
        viewport={"width": 390, "height": 844},
        locale="en-GB",
        geolocation={"latitude": PHONE[0], "longitude": PHONE[1], "accuracy": 12},
        permissions=["geolocation"],
    )
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    context.close()
    assert not errors, f"the app's scripts failed: {errors}"


def _approved(api: httpx.Client, agency: dict[str, str], operator: dict[str, str], **body) -> str:
    created = api.post(
        "/v1/notices",
        json=notice_body(lat=LAST_SEEN[0], lon=LAST_SEEN[1], radius_km=5, **body),
        headers=agency,
    )
    assert created.status_code == 201, created.text
    notice_id = str(created.json()["id"])
    approved = api.post(f"/v1/operator/notices/{notice_id}/approve", headers=operator)
    assert approved.status_code == 200, approved.text
    return notice_id


def test_the_app_shows_the_alert_near_it_and_sends_a_sighting(
    phone: Page,
    live_api: httpx.Client,
    live_server: str,
    worker: Service,
    sandbox: Sandbox,
    operator_headers: dict[str, str],
    admin_headers: dict[str, str],
    receiver: Receiver,
) -> None:
    api = live_api
    agency = api.post("/v1/operator/agencies", json={"name": "Met"}, headers=admin_headers)
    agency_headers = {"X-API-Key": agency.json()["api_key"]}
    webhook = api.put("/v1/webhook", json={"url": receiver.url}, headers=agency_headers)
    assert webhook.status_code == 200, webhook.text

    page = phone.goto(f"{live_server}/app/")
    assert page is not None and page.headers["content-security-policy"].startswith(
        "default-src 'self'"
    )
    expect(phone.locator("body[data-ready=true]")).to_be_attached()
    phone.click("#register")
    expect(phone.locator("#device-status")).to_have_text("Alerts are on for this device.")
    phone.click("#locate")
    expect(phone.locator("#location-status")).to_be_visible()
    token = phone.evaluate("localStorage.getItem('hexcast.token')")

    notice_id = _approved(api, agency_headers, operator_headers)
    wait_until(
        lambda: any(m["message"]["token"] == token for m in sandbox.messages()),
        timeout=30,
        what="the alert to reach the app's device",
    )
    [alert] = [m["message"] for m in sandbox.messages() if m["message"]["token"] == token]
    assert alert["data"]["view"].endswith(f"/v1/feed/notices/{alert['data']['notice_id']}")

    phone.goto(f"{live_server}/app/#/notices/{alert['data']['notice_id']}")
    expect(phone.locator("#popup")).to_be_visible()
    expect(phone.locator("#banner")).to_be_hidden()
    expect(phone.locator("#who")).to_have_text("Lily Chen, 7")
    expect(phone.locator("#description")).to_have_text("Red coat, yellow backpack.")
    expect(phone.locator("#place")).to_have_text("Westminster Bridge")
    expect(phone.locator("#ago")).to_have_text("1 hour ago")
    expect(phone.locator("#photo")).to_have_attribute(
        "src", "https://agency.example/photos/lily.jpg"
    )
    expect(phone.locator("#call")).to_have_attribute("href", "tel:101")
    expect(phone.locator("#distance")).to_have_attribute("data-metres", re.compile(r"\d+"))
    shown = float(phone.locator("#distance").get_attribute("data-metres") or 0)
    assert shown == pytest.approx(distance_m(PHONE, LAST_SEEN), rel=0.01)
    expect(phone.locator("#distance")).to_have_text("2.50 km")

    phone.click("#saw")
    phone.fill("#note", "Boarding the 159 bus with a man in a grey coat.")
    phone.click("#sighting button[type=submit]")
    expect(phone.locator("#sent")).to_be_visible()
    sightings = api.get(f"/v1/notices/{notice_id}/sightings", headers=agency_headers).json()
    [sighting] = sightings["items"]
    assert sighting["text"] == "Boarding the 159 bus with a man in a grey coat."
    assert (sighting["lat"], sighting["lon"]) == pytest.approx(PHONE, abs=1e-6)
    wait_until(
        lambda: bool(receiver.of_type("sighting.created")),
        timeout=30,
        what="the sighting at the agency's webhook",
    )
    [posted] = receiver.of_type("sighting.created")
    assert posted.event["data"]["sighting"] == sighting

    drill_id = _approved(api, agency_headers, operator_headers, cap_status="Test")
    phone.goto(f"{live_server}/app/#/notices/{drill_id}")
    expect(phone.locator("#banner")).to_have_text("TEST — not a real alert")
    expect(phone.locator("#who")).to_have_text("Lily Chen, 7")

    found = api.post(f"/v1/notices/{notice_id}/found", json={}, headers=agency_headers)
    assert found.status_code == 200, found.text

    def shows_found() -> bool:
        phone.goto(f"{live_server}/app/#/notices/{notice_id}")
        phone.reload()
        return phone.locator("#ended-title").text_content() == "Found, thank you"

    # The view is built at most every few seconds per API process.
    wait_until(shows_found, timeout=15, what="the found view")
    expect(phone.locator("#person")).to_be_hidden()
    assert "Lily" not in phone.locator("#popup").inner_text()
    assert phone.locator("#photo").get_attribute("src") is None
