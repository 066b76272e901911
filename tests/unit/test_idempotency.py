"""The request fingerprint an Idempotency-Key is bound to: equal requests, however spelled,
share it; any change of content does not."""

from alerts.notices.idempotency import request_fingerprint
from alerts.notices.schemas import NoticeCreate
from tests.helpers import notice_body


def _fingerprint(body: dict) -> str:
    return request_fingerprint(NoticeCreate.model_validate(body).model_dump())


def test_equal_requests_spelled_differently_have_one_fingerprint() -> None:
    body = notice_body(radius_km=5)
    body["last_seen"]["at"] = "2026-11-23T08:15:00Z"
    respelled = dict(reversed(list(notice_body(radius_km=5.0).items())))
    respelled["last_seen"] = {**body["last_seen"], "at": "2026-11-23T09:15:00+01:00"}
    respelled["contact"] = f"  {body['contact']} "
    assert _fingerprint(body) == _fingerprint(respelled)


def test_any_change_of_content_changes_the_fingerprint() -> None:
    body = notice_body()
    assert _fingerprint(body) != _fingerprint({**body, "radius_km": 5.1})
    assert _fingerprint(body) != _fingerprint({**body, "location_window_hours": 72})
    changed = {**body, "person": {**body["person"], "age": 8}}
    assert _fingerprint(body) != _fingerprint(changed)
