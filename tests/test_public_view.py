"""The notice as the app shows it: public, cacheable JSON for the pop-up's deep link, with the
last seen point rounded, every language's text, and no identity once the person is found."""

import uuid

import httpx

from tests.conftest import Sandbox, wait_until
from tests.helpers import notice_body, register_device, report_location

CENTRE = (51.500712, -0.124588)


def _approved(api: httpx.Client, agency: dict[str, str], operator: dict[str, str]) -> str:
    notice = api.post(
        "/v1/notices", json=notice_body(lat=CENTRE[0], lon=CENTRE[1]), headers=agency
    ).json()
    assert api.post(f"/v1/operator/notices/{notice['id']}/approve", headers=operator).is_success
    return str(notice["id"])


def test_an_active_notice_is_public_cacheable_and_revalidated_by_its_etag(
    api: httpx.Client, agency_headers: dict[str, str], operator_headers: dict[str, str]
) -> None:
    notice_id = _approved(api, agency_headers, operator_headers)
    url = f"/v1/feed/notices/{notice_id}"
    response = api.get(url)
    assert response.status_code == 200, response.text
    view = response.json()
    assert view["status"] == "active" and view["cap_status"] == "Actual"
    assert view["person"] == {
        "name": "Lily Chen",
        "age": 7,
        "sex": "female",
        "description": "Red coat, yellow backpack.",
        "photo_url": "https://agency.example/photos/lily.jpg",
    }
    assert (view["last_seen"]["lat"], view["last_seen"]["lon"]) == (51.501, -0.125)
    assert view["last_seen"]["place"] == "Westminster Bridge"
    assert view["contact"] == "Police 101, case 4411"
    assert view["texts"]["en-GB"]["description"] == "Red coat, yellow backpack."
    assert "public" in response.headers["cache-control"]
    assert "max-age=" in response.headers["cache-control"]

    etag = response.headers["etag"]
    again = api.get(url, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    assert again.headers["etag"] == etag
    assert api.get(url, headers={"If-None-Match": '"other"'}).status_code == 200


def test_pending_and_unknown_notices_are_not_public(
    api: httpx.Client, agency_headers: dict[str, str]
) -> None:
    pending = api.post("/v1/notices", json=notice_body(), headers=agency_headers).json()
    assert api.get(f"/v1/feed/notices/{pending['id']}").status_code == 404
    assert api.get(f"/v1/feed/notices/{uuid.uuid4()}").status_code == 404


def test_a_found_notice_withholds_the_identity_and_a_cancelled_one_says_so(
    api: httpx.Client, agency_headers: dict[str, str], operator_headers: dict[str, str]
) -> None:
    found_id = _approved(api, agency_headers, operator_headers)
    api.post(f"/v1/notices/{found_id}/found", json={"reason": "home"}, headers=agency_headers)
    cancelled_id = _approved(api, agency_headers, operator_headers)
    api.post(f"/v1/notices/{cancelled_id}/cancel", json={"reason": "dup"}, headers=agency_headers)

    found = api.get(f"/v1/feed/notices/{found_id}").json()
    assert found["status"] == "found"
    assert found["person"] is None and found["texts"] == {}
    assert "Lily" not in str(found) and "lily.jpg" not in str(found)
    assert api.get(f"/v1/feed/notices/{cancelled_id}").json()["status"] == "cancelled"


def test_the_push_links_to_the_public_view(
    api: httpx.Client,
    worker: object,
    sandbox: Sandbox,
    agency_headers: dict[str, str],
    operator_headers: dict[str, str],
) -> None:
    report_location(api, register_device(api, "linked"), *CENTRE)
    notice_id = _approved(api, agency_headers, operator_headers)
    wait_until(lambda: bool(sandbox.messages()), timeout=30, what="the alert")
    data = sandbox.messages()[0]["message"]["data"]
    assert data["view"].endswith(f"/v1/feed/notices/{notice_id}")
    assert data["link"] == f"hexcast://notices/{notice_id}"
