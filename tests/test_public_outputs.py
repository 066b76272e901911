"""The public outputs (the Atom feed and the public CAP route) carry only real, reviewed
alerts: drills stay out of them, the last-seen point is rounded to about 100 m, and every
link comes from the configured public base URL, never from the request's Host header."""

from typing import Any

import httpx
import pytest
from lxml import etree

from alerts.cap import messages
from kit.config import get_settings
from tests.helpers import notice_body

ATOM = {"a": "http://www.w3.org/2005/Atom", "c": messages.NS}

# A point with six significant decimals: a doorstep, not a neighbourhood.
DOORSTEP = (51.500729, -0.124631)


def _approved(
    api: httpx.Client,
    agency: dict[str, str],
    operator: dict[str, str],
    *,
    cap_status: str = "Actual",
    **overrides: Any,
) -> str:
    body = notice_body(lat=DOORSTEP[0], lon=DOORSTEP[1], cap_status=cap_status, **overrides)
    notice = api.post("/v1/notices", json=body, headers=agency)
    assert notice.status_code == 201, notice.text
    notice_id = str(notice.json()["id"])
    approved = api.post(f"/v1/operator/notices/{notice_id}/approve", headers=operator)
    assert approved.status_code == 200, approved.text
    return notice_id


def _feed(api: httpx.Client, **headers: str) -> Any:
    response = api.get("/v1/feed/active.atom", headers=headers)
    assert response.status_code == 200, response.text
    return etree.fromstring(response.content)


def _entry_ids(feed: Any) -> list[str]:
    return [e.text.removeprefix("urn:uuid:") for e in feed.iterfind("a:entry/a:id", ATOM)]


@pytest.mark.parametrize("cap_status", ["Test", "Exercise"])
def test_a_drill_is_absent_from_the_feed_and_the_public_cap_route(
    api: httpx.Client,
    agency_headers: dict[str, str],
    operator_headers: dict[str, str],
    cap_status: str,
) -> None:
    real = _approved(api, agency_headers, operator_headers)
    drill = _approved(api, agency_headers, operator_headers, cap_status=cap_status)

    assert _entry_ids(_feed(api)) == [real]
    assert api.get(f"/v1/feed/notices/{drill}/cap").status_code == 404
    assert api.get(f"/v1/feed/notices/{real}/cap").status_code == 200
    # Its agency still reads the drill as CAP, marked as what it is.
    own = api.get(f"/v1/notices/{drill}/cap", headers=agency_headers)
    assert etree.fromstring(own.content).findtext("c:status", namespaces=ATOM) == cap_status


def _points(alert: Any) -> tuple[str, str]:
    """The last-seen point parameter and the circle of the alert's first <info>."""
    point = alert.xpath(
        "c:info[1]/c:parameter[c:valueName='hexcast:lastSeenPoint']/c:value/text()",
        namespaces=ATOM,
    )[0]
    circle = alert.findtext("c:info/c:area/c:circle", namespaces=ATOM)
    return point, circle


def test_public_cap_and_atom_round_the_last_seen_point_and_keep_the_area_covered(
    api: httpx.Client, agency_headers: dict[str, str], operator_headers: dict[str, str]
) -> None:
    notice_id = _approved(api, agency_headers, operator_headers, radius_km=2.0)

    public = etree.fromstring(api.get(f"/v1/feed/notices/{notice_id}/cap").content)
    [in_feed] = _feed(api).find("a:entry/a:content", ATOM)
    for alert in (public, in_feed):
        point, circle = _points(alert)
        assert point == "51.501,-0.125"
        centre, radius = circle.split()
        assert centre == "51.501,-0.125"
        # The circle grows by the rounding's largest shift, so it still covers the area.
        assert 2.0 < float(radius) <= 2.1

    # The agency's own export keeps the exact point.
    own = etree.fromstring(api.get(f"/v1/notices/{notice_id}/cap", headers=agency_headers).content)
    assert _points(own) == ("51.500729,-0.124631", "51.500729,-0.124631 2")


def test_feed_links_come_from_the_public_base_url_not_the_host_header(
    api: httpx.Client, agency_headers: dict[str, str], operator_headers: dict[str, str]
) -> None:
    notice_id = _approved(api, agency_headers, operator_headers)
    base = get_settings().public_base_url

    feed = _feed(api, Host="attacker.example")

    links = [feed.findtext("a:id", namespaces=ATOM)] + [
        link.get("href") for link in feed.iterfind(".//a:link", ATOM)
    ]
    assert links == [
        f"{base}/v1/feed/active.atom",
        f"{base}/v1/feed/active.atom",
        f"{base}/v1/feed/notices/{notice_id}/cap",
    ]
