"""The console's pages through its ASGI app: who may see what, sign-out, and the admin forms
(a key shown once that then works on the API). The journeys in a browser are in
tests/test_console.py."""

import json
import re

import httpx
import pytest

from tests.helpers import (
    PASSWORD,
    create_agency,
    create_operator,
    notice_body,
    register_device,
    report_location,
)


def _sign_in_token(api: httpx.Client) -> str:
    form = api.get("/console/sign-in")
    match = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert match is not None
    return match.group(1)


def _sign_in(api: httpx.Client, email: str, password: str = PASSWORD) -> str:
    """Signs in; returns the CSRF token of the pages."""
    response = api.post(
        "/console/sign-in",
        data={"email": email, "password": password, "csrf_token": _sign_in_token(api)},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    assert response.headers["location"] == "/console"
    page = api.get("/console")
    assert page.status_code == 200
    match = re.search(r'name="csrf_token" value="([0-9a-f]+)"', page.text)
    assert match is not None
    return match.group(1)


def test_pages_need_a_sign_in_and_a_wrong_password_says_so(
    api: httpx.Client, operator_headers: dict[str, str]
) -> None:
    create_operator(api, operator_headers, "a@hexcast.example")

    for path in ("/console", "/console/admin/audit"):
        response = api.get(path, follow_redirects=False)
        assert response.status_code == 303
        assert response.headers["location"] == "/console/sign-in"
    refused = api.post(
        "/console/sign-in",
        data={
            "email": "a@hexcast.example",
            "password": "wrong password",
            "csrf_token": _sign_in_token(api),
        },
    )
    assert refused.status_code == 401
    assert "wrong email or password" in refused.text
    assert "hexcast_console" not in api.cookies


def test_a_sign_in_posted_from_elsewhere_is_refused(
    api: httpx.Client, operator_headers: dict[str, str]
) -> None:
    """Without the form's token and its cookie (another site's form has neither), even the
    right password signs nobody in."""
    create_operator(api, operator_headers, "a@hexcast.example")

    forged = api.post(
        "/console/sign-in",
        data={"email": "a@hexcast.example", "password": PASSWORD, "csrf_token": "guess"},
        follow_redirects=False,
    )
    assert forged.status_code == 403
    assert "hexcast_console" not in api.cookies


def test_a_reviewer_cannot_open_admin_pages_and_sign_out_ends_the_login(
    api: httpx.Client, operator_headers: dict[str, str]
) -> None:
    create_operator(api, operator_headers, "a@hexcast.example")
    csrf = _sign_in(api, "a@hexcast.example")
    cookie = api.cookies["hexcast_console"]

    for path in ("/console/admin/agencies", "/console/admin/operators", "/console/admin/audit"):
        assert api.get(path).status_code == 403
    signed_out = api.post("/console/sign-out", data={"csrf_token": csrf}, follow_redirects=False)
    assert signed_out.status_code == 303

    api.cookies.set("hexcast_console", cookie, path="/console")
    assert api.get("/console", follow_redirects=False).status_code == 303


def test_an_admin_issues_a_key_shown_once_that_works_then_revokes_it(
    api: httpx.Client, operator_headers: dict[str, str]
) -> None:
    create_operator(api, operator_headers, "admin@hexcast.example", role="admin")
    create_agency(api, operator_headers, "River Police")
    agency_id = api.get("/v1/operator/agencies", headers=operator_headers).json()["items"][0]["id"]
    csrf = _sign_in(api, "admin@hexcast.example")

    issued = api.post(
        f"/console/admin/agencies/{agency_id}/keys", data={"csrf_token": csrf, "label": "cad"}
    )
    assert issued.status_code == 200
    match = re.search(r'<code id="new-secret">([^<]+)</code>', issued.text)
    assert match is not None
    key = {"X-API-Key": match.group(1)}
    assert api.post("/v1/notices", json=notice_body(), headers=key).status_code == 201
    assert match.group(1) not in api.get("/console/admin/agencies").text

    key_id = next(
        k["id"]
        for k in api.get(f"/v1/operator/agencies/{agency_id}/keys", headers=operator_headers).json()
        if k["label"] == "cad"
    )
    revoked = api.post(
        f"/console/admin/agencies/{agency_id}/keys/{key_id}/revoke", data={"csrf_token": csrf}
    )
    assert revoked.status_code == 200
    assert api.post("/v1/notices", json=notice_body(), headers=key).status_code == 401
    audit = api.get("/console/admin/audit", params={"action": "agency_key.revoked"})
    assert audit.status_code == 200 and "1 events" in audit.text


SQUARE = [[-0.15, 51.49], [-0.10, 51.49], [-0.10, 51.52], [-0.15, 51.52], [-0.15, 51.49]]
BOWTIE = [[-0.15, 51.49], [-0.10, 51.52], [-0.10, 51.49], [-0.15, 51.52], [-0.15, 51.49]]


def _areas(ring: list[list[float]]) -> str:
    return json.dumps([{"type": "polygon", "geometry": {"type": "Polygon", "coordinates": [ring]}}])


@pytest.mark.usefixtures("counting_previews")
def test_a_drawn_area_is_counted_as_the_api_counts_it_and_approved_as_the_target(
    api: httpx.Client, operator_headers: dict[str, str], agency_headers: dict[str, str]
) -> None:
    for token, lat, lon in (("in", 51.50, -0.12), ("also-in", 51.51, -0.14), ("out", 51.55, -0.12)):
        report_location(api, register_device(api, token), lat, lon)
    notice = api.post("/v1/notices", json=notice_body(radius_km=10), headers=agency_headers)
    notice_id = notice.json()["id"]
    create_operator(api, operator_headers, "a@hexcast.example")
    csrf = _sign_in(api, "a@hexcast.example")

    cover = api.get(f"/console/notices/{notice_id}/cover.json", params={"areas": _areas(SQUARE)})
    assert cover.status_code == 200, cover.text
    preview = api.post(
        "/v1/operator/reach", json={"areas": json.loads(_areas(SQUARE))}, headers=operator_headers
    ).json()["reach"][0]
    assert cover.json()["devices"] == preview["devices"] == 2
    assert cover.json()["radius_km"] is None and cover.json()["inside"]
    # Drawn anywhere, unlike the slider's circles: recorded as the API's previews are.
    previews = api.get("/v1/operator/audit?action=reach.previewed", headers=operator_headers)
    assert len(previews.json()["items"]) == 2
    refused = api.get(f"/console/notices/{notice_id}/cover.json", params={"areas": _areas(BOWTIE)})
    assert refused.status_code == 422 and "Self-intersection" in refused.json()["detail"]

    approve = f"/console/notices/{notice_id}/approve"
    bad = api.post(approve, data={"csrf_token": csrf, "areas": _areas(BOWTIE)})
    assert bad.status_code == 400 and "the drawn area cannot be targeted" in bad.text
    both = api.post(approve, data={"csrf_token": csrf, "areas": _areas(SQUARE), "radius_km": "3"})
    assert both.status_code == 400 and "either radius_km or areas" in both.text
    approved = api.post(
        approve, data={"csrf_token": csrf, "areas": _areas(SQUARE)}, follow_redirects=False
    )
    assert approved.status_code == 303, approved.text
    stored = api.get(f"/v1/notices/{notice_id}", headers=agency_headers).json()
    assert stored["areas"] == json.loads(_areas(SQUARE)) and stored["radius_km"] is None
