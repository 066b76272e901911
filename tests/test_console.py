"""The operator console in a real Chromium: sign in, review a notice on the map with the live
reach, approve it (under the two-person rule), watch its broadcast and its sightings arrive,
all without a reload; agency text shown as text under a strict CSP; no serious accessibility
violation on any page. Each page's screenshot goes to docs/console/."""

import math
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.conftest import OPERATOR_TOKEN, Sandbox
from tests.helpers import (
    create_agency,
    create_operator,
    log_in,
    notice_body,
    place_devices,
    register_device,
    report_location,
)

ROOT = Path(__file__).resolve().parent.parent
SCREENSHOTS = ROOT / "docs" / "console"
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
LAT, LON = 51.5007, -0.1246
BOOTSTRAP = {"Authorization": f"Bearer {OPERATOR_TOKEN}"}


def slider_position(km: float) -> int:
    """Where the radius slider (0-1000, logarithmic over 0.1-500 km) stands for `km`."""
    return round(1000 * math.log(km / 0.1) / math.log(500 / 0.1))


def sign_in(page: Page, base: str, email: str) -> None:
    page.goto(f"{base}/console")
    expect(page).to_have_url(re.compile("/console/sign-in$"))
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill("correct horse battery staple")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Notices")).to_be_visible()


def sign_out(page: Page) -> None:
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile("/console/sign-in$"))


def shoot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def agency_of(api: httpx.Client, name: str) -> dict[str, str]:
    """An agency whose key an admin account of its own issued (the bootstrap credential's
    keys submit notices nobody may approve)."""
    email = f"keys-{abs(hash(name))}@hexcast.example"
    create_operator(api, BOOTSTRAP, email, role="admin")
    return create_agency(api, log_in(api, email), name)


def submit(api: httpx.Client, agency: dict[str, str], **overrides: Any) -> dict[str, Any]:
    response = api.post(
        "/v1/notices", json=notice_body(lat=LAT, lon=LON, **overrides), headers=agency
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


def api_reach(api: httpx.Client, km: float) -> int:
    response = api.post(
        "/v1/operator/reach", json={"lat": LAT, "lon": LON, "radii_km": [km]}, headers=BOOTSTRAP
    )
    assert response.status_code == 200, response.text
    return int(response.json()["reach"][0]["devices"])


@pytest.fixture
def console(live_api: httpx.Client) -> Iterator[str]:
    """The live server's base URL, with a reviewer account (a@) and a second one (b@)."""
    create_operator(live_api, BOOTSTRAP, "a@hexcast.example")
    create_operator(live_api, BOOTSTRAP, "b@hexcast.example")
    yield str(live_api.base_url).rstrip("/")


def test_review_tune_the_radius_approve_and_watch_it_go_out(
    page: Page, live_api: httpx.Client, console: str, worker: object, sandbox: Sandbox
) -> None:
    agency = agency_of(live_api, "Metropolitan Police")
    place_devices(80, LAT, LON, within_m=12_000, seed=17)
    notice = submit(live_api, agency, radius_km=3)
    planned = live_api.put(
        f"/v1/operator/notices/{notice['id']}/expansion",
        json={"steps": [{"after_minutes": 60, "radius_km": 10}]},
        headers=BOOTSTRAP,
    )
    assert planned.status_code == 200, planned.text

    sign_in(page, console, "a@hexcast.example")
    page.evaluate("window.sameDocument = true")
    later = notice_body(lat=LAT, lon=LON)
    later["person"]["name"] = "Sam Doe"
    assert live_api.post("/v1/notices", json=later, headers=agency).status_code == 201
    expect(page.get_by_role("link", name="Sam Doe")).to_be_visible(timeout=15_000)
    assert page.evaluate("window.sameDocument") is True, "the queue was reloaded"
    shoot(page, "queue")
    page.get_by_role("link", name="Lily Chen").click()
    reach = page.locator("#reach")
    expect(reach).to_have_attribute("data-radius-km", "3")
    cells_at_3 = page.locator("path.cells-inside").get_attribute("d")
    ring = api_reach(live_api, 10) - api_reach(live_api, 3)
    expect(page.locator("#expansion tbody tr").first.locator("td")).to_have_text(
        ["60.0 min", "10.0 km", f"{api_reach(live_api, 10):,}", str(ring)]
    )

    page.locator("#radius").fill(str(slider_position(8)))

    expect(page.locator("#radius-value")).to_have_text("8 km")
    expect(reach).to_have_attribute("data-radius-km", "8")
    expect(page.locator("#reach-count")).to_have_text(f"{api_reach(live_api, 8):,}")
    assert api_reach(live_api, 8) > api_reach(live_api, 3)
    assert page.locator("path.cells-inside").get_attribute("d") != cells_at_3
    shoot(page, "review")

    page.get_by_role("button", name="Approve and broadcast").click()
    expect(page).to_have_url(re.compile(f"/console/notices/{notice['id']}/watch$"))
    page.evaluate("window.sameDocument = true")
    expect(page.locator("#complete")).to_have_text("yes", timeout=60_000)
    sent = len(sandbox.messages())
    assert sent == api_reach(live_api, 8) > 0
    expect(page.locator("#sent")).to_have_text(str(sent))
    expect(page.locator("#targeted")).to_have_text(str(sent))

    witness = register_device(live_api, "witness-token")
    report_location(live_api, witness, LAT, LON)
    response = live_api.post(
        f"/v1/notices/{notice['id']}/sightings",
        headers=witness,
        json={
            "seen_at": "2026-11-23T09:05:00Z",
            "lat": LAT + 0.01,
            "lon": LON,
            "text": "Girl in a red coat by the river",
        },
    )
    assert response.status_code == 201, response.text
    expect(page.locator("#sightings li")).to_have_text(re.compile("Girl in a red coat"))
    expect(page.locator("path.sighting")).to_have_count(1)
    expect(page.locator("#timeline")).to_contain_text("notice.approved")
    assert page.evaluate("window.sameDocument") is True, "the page was reloaded"
    shoot(page, "watch")


def test_the_submitter_cannot_approve_a_second_reviewer_can(
    page: Page, live_api: httpx.Client, console: str
) -> None:
    agency = agency_of(live_api, "County Police")
    a_token = live_api.post(
        "/v1/operator/login",
        json={"email": "a@hexcast.example", "password": "correct horse battery staple"},
    ).json()["token"]
    agency_id = live_api.get("/v1/operator/agencies", headers=BOOTSTRAP).json()["items"][0]["id"]
    response = live_api.post(
        "/v1/operator/notices",
        json={**notice_body(lat=LAT, lon=LON), "agency_id": agency_id},
        headers={"Authorization": f"Bearer {a_token}"},
    )
    assert response.status_code == 201, response.text
    assert agency  # the agency exists; the operator phoned its notice in
    notice_id = response.json()["id"]

    sign_in(page, console, "a@hexcast.example")
    page.goto(f"{console}/console/notices/{notice_id}")
    expect(page.get_by_text("You submitted this notice")).to_be_visible()
    page.get_by_role("button", name="Approve and broadcast").click()
    expect(page.get_by_role("alert")).to_contain_text("two-person rule")
    expect(page.locator("h1")).to_contain_text("pending")
    shoot(page, "two-person-rule")
    sign_out(page)

    sign_in(page, console, "b@hexcast.example")
    page.goto(f"{console}/console/notices/{notice_id}")
    page.get_by_role("button", name="Approve and broadcast").click()
    expect(page).to_have_url(re.compile("/watch$"))
    status = live_api.get("/v1/operator/notices?status=active", headers=BOOTSTRAP).json()
    assert [n["id"] for n in status["items"]] == [notice_id]


def test_agency_text_is_shown_as_text_under_a_strict_policy(
    page: Page, live_api: httpx.Client, console: str
) -> None:
    agency = agency_of(live_api, "Harbour Police")
    hostile = "<img src=x onerror=alert(1)>"
    body = notice_body(lat=LAT, lon=LON)
    body["person"]["name"] = hostile
    response = live_api.post("/v1/notices", json=body, headers=agency)
    assert response.status_code == 201, response.text
    notice_id = response.json()["id"]
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))

    sign_in(page, console, "a@hexcast.example")
    loaded = page.goto(f"{console}/console/notices/{notice_id}")

    assert loaded is not None
    policy = loaded.headers["content-security-policy"]
    assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert "unsafe-inline" not in policy
    expect(page.locator("h1")).to_contain_text(hostile)
    expect(page.locator(".popup-title").first).to_contain_text(hostile)
    assert page.locator("img[src='x']").count() == 0
    assert dialogs == []
    cookie = next(c for c in page.context.cookies() if c["name"] == "hexcast_console")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"

    # A form posted without the login's CSRF token (as another site would) changes nothing.
    forged = live_api.post(
        f"/console/notices/{notice_id}/reject",
        data={"reason": "forged"},
        cookies={"hexcast_console": cookie["value"]},
    )
    assert forged.status_code == 403
    assert live_api.get(f"/v1/notices/{notice_id}", headers=agency).json()["status"] == "pending"


SERIOUS = """() => axe.run().then((result) => result.violations
  .filter((v) => v.impact === "serious" || v.impact === "critical")
  .map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`))"""


def test_every_page_passes_axe_and_works_from_the_keyboard(
    browser: Browser, live_api: httpx.Client, console: str
) -> None:
    create_operator(live_api, BOOTSTRAP, "admin@hexcast.example", role="admin")
    agency = agency_of(live_api, "River Police")
    pending = submit(live_api, agency, radius_km=3)
    drill = submit(live_api, agency, radius_km=2, cap_status="Exercise")
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.add_init_script(path=str(AXE))
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        page.goto(f"{console}/console/sign-in")
        shoot(page, "sign-in")
        assert page.evaluate(SERIOUS) == [], "sign-in"
        sign_in(page, console, "admin@hexcast.example")
        page.goto(f"{console}/console/notices/{drill['id']}")
        page.get_by_role("button", name=re.compile("Approve and broadcast")).click()
        expect(page).to_have_url(re.compile("/watch$"))
        pages = {
            "queue": "/console",
            "review": f"/console/notices/{pending['id']}",
            "watch": f"/console/notices/{drill['id']}/watch",
            "agencies": "/console/admin/agencies",
            "operators": "/console/admin/operators",
            "audit": "/console/admin/audit",
        }
        for name, path in pages.items():
            page.goto(f"{console}{path}")
            page.wait_for_load_state("networkidle")
            assert page.evaluate(SERIOUS) == [], name
            if name in ("agencies", "operators", "audit"):
                shoot(page, name)

        page.goto(f"{console}/console/notices/{pending['id']}")
        reach = page.locator("#reach")
        expect(reach).to_have_attribute("data-radius-km", "3")
        page.locator("#radius").focus()
        for _ in range(5):  # a step is 1/1000 of the logarithmic scale
            page.keyboard.press("ArrowRight")
        expect(reach).to_have_attribute("data-radius-km", "3.1")
        page.get_by_label("Reason for rejecting").focus()
        page.keyboard.type("Duplicate of another notice")
        page.keyboard.press("Tab")
        expect(page.get_by_role("button", name="Reject")).to_be_focused()
        page.keyboard.press("Enter")
        expect(page).to_have_url(re.compile("/watch$"))
        expect(page.locator("#status")).to_have_text("rejected")
    finally:
        context.close()
    assert errors == []
