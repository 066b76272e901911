"""Drawing the target instead of a circle on the console's review map, in a real Chromium:
the page counts the drawn polygon as POST /v1/operator/reach does, and approving sends the
polygon, which becomes the notice's target. The screenshot goes to docs/console/."""

import json
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.conftest import Sandbox
from tests.helpers import create_operator, place_devices
from tests.test_console import BOOTSTRAP, LAT, LON, agency_of, shoot, sign_in, submit


@pytest.fixture
def console(live_api: httpx.Client) -> Iterator[str]:
    """The live server's base URL, with a reviewer account."""
    create_operator(live_api, BOOTSTRAP, "a@hexcast.example")
    yield str(live_api.base_url).rstrip("/")


def api_reach(api: httpx.Client, areas: list[dict[str, Any]]) -> int:
    response = api.post("/v1/operator/reach", json={"areas": areas}, headers=BOOTSTRAP)
    assert response.status_code == 200, response.text
    return int(response.json()["reach"][0]["devices"])


def test_a_reviewer_draws_the_area_and_approves_with_it(
    page: Page, live_api: httpx.Client, console: str, worker: object, sandbox: Sandbox
) -> None:
    agency = agency_of(live_api, "Transport Police")
    place_devices(150, LAT, LON, within_m=4_000, seed=23)
    notice = submit(live_api, agency, radius_km=3)
    sign_in(page, console, "a@hexcast.example")
    page.goto(f"{console}/console/notices/{notice['id']}")
    reach = page.locator("#reach")
    expect(reach).to_have_attribute("data-radius-km", "3")

    page.get_by_role("button", name="Draw area").press("Enter")
    box = page.locator("#map").bounding_box()
    assert box is not None
    corners = [(0.3, 0.25), (0.75, 0.3), (0.7, 0.75), (0.35, 0.7)]
    for x, y in corners:
        page.locator("#map").click(position={"x": box["width"] * x, "y": box["height"] * y})
    expect(page.locator("#draw-status")).to_contain_text("4 corners")
    expect(page.locator("#radius")).to_be_disabled()
    page.get_by_role("button", name="Finish area").press("Enter")

    drawn = page.locator("#approve-areas").get_attribute("value")
    assert drawn
    areas = json.loads(drawn)
    [ring] = areas[0]["geometry"]["coordinates"]
    assert len(ring) == 5 and ring[0] == ring[-1]
    expect(reach).to_have_attribute("data-drawn", drawn)
    expect(reach).to_have_attribute("data-radius-km", "")
    expected = api_reach(live_api, areas)
    assert 0 < expected < api_reach(live_api, [circle(3)])
    expect(page.locator("#reach-count")).to_have_text(f"{expected:,}")
    expect(page.locator("path.cells-inside")).to_have_count(1)
    expect(page.locator("path.cells-boundary")).to_have_count(1)
    shoot(page, "draw-area")

    page.get_by_role("button", name="Approve and broadcast").click()
    expect(page).to_have_url(re.compile(f"/console/notices/{notice['id']}/watch$"))
    stored = live_api.get(f"/v1/notices/{notice['id']}", headers=agency).json()
    assert stored["areas"] == areas and stored["radius_km"] is None
    expect(page.locator("#complete")).to_have_text("yes", timeout=60_000)
    assert len(sandbox.messages()) == expected


def test_clearing_the_drawn_area_brings_the_radius_back(
    page: Page, live_api: httpx.Client, console: str
) -> None:
    agency = agency_of(live_api, "Rail Police")
    notice = submit(live_api, agency, radius_km=3)
    sign_in(page, console, "a@hexcast.example")
    page.goto(f"{console}/console/notices/{notice['id']}")
    page.get_by_role("button", name="Draw area").click()
    page.get_by_role("button", name="Add corner at map centre").click()
    expect(page.get_by_role("button", name="Finish area")).to_be_disabled()
    page.get_by_role("button", name="Clear").click()

    expect(page.locator("#approve-areas")).to_have_value("")
    expect(page.locator("#radius")).to_be_enabled()
    expect(page.locator("#reach")).to_have_attribute("data-radius-km", "3")
    page.get_by_role("button", name="Approve and broadcast").click()
    expect(page).to_have_url(re.compile("/watch$"))
    stored = live_api.get(f"/v1/notices/{notice['id']}", headers=agency).json()
    assert stored["areas"] is None and stored["radius_km"] == 3


def circle(km: float) -> dict[str, Any]:
    return {"type": "circle", "lat": LAT, "lon": LON, "radius_km": km}
