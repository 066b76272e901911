"""A broadcast to phones some of whose owners removed the app, with tokens the sandbox
issued: FCM's own UNREGISTERED answer, not an injected fault, is what cleans them up."""

import uuid

import httpx
from sqlalchemy import select

from kit.db import get_sessionmaker
from kit.models import Delivery, Device
from tests.conftest import Sandbox, Service
from tests.helpers import notice_body, register_device, report_location, wait_for_dispatch

CENTRE = (52.5200, 13.4050)


def test_uninstalled_phones_are_recorded_unregistered_and_deactivated(
    api: httpx.Client,
    worker: Service,
    sandbox: Sandbox,
    agency_headers: dict[str, str],
    operator_headers: dict[str, str],
) -> None:
    tokens = sandbox.install(8)
    for token in tokens:
        report_location(api, register_device(api, token), *CENTRE)
    gone = tokens[:3]
    for token in gone:
        sandbox.uninstall(token)

    submitted = api.post(
        "/v1/notices", json=notice_body(lat=CENTRE[0], lon=CENTRE[1]), headers=agency_headers
    )
    assert submitted.status_code == 201, submitted.text
    notice_id = submitted.json()["id"]
    approved = api.post(f"/v1/operator/notices/{notice_id}/approve", headers=operator_headers)
    assert approved.status_code == 200, approved.text
    stats = wait_for_dispatch(api, operator_headers, notice_id, timeout=30)

    assert stats["by_status"] == {"pending": 0, "sent": 5, "failed": 3, "suppressed": 0}
    assert stats["failed_by_reason"] == {"UNREGISTERED": 3}
    with get_sessionmaker()() as session:
        rows = session.execute(
            select(Device.fcm_token, Device.active, Delivery.status, Delivery.error_code)
            .join(Delivery, Delivery.device_id == Device.id)
            .where(Delivery.notice_id == uuid.UUID(notice_id))
        ).all()
    outcome = {token: (active, str(status), code) for token, active, status, code in rows}
    assert outcome == {
        t: (False, "failed", "UNREGISTERED") if t in gone else (True, "sent", None) for t in tokens
    }, outcome
    received = [m["message"]["token"] for m in sandbox.messages()]
    assert sorted(received) == sorted(set(tokens) - set(gone))
    assert sandbox.stats()["rejected"] == {"UNREGISTERED": 3}
