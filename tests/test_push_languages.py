"""Pushes in the device's language, as the FCM sandbox (which checks every message as FCM
would, the 4,096-byte limit included) accepts them: the notice's own CAP info block in the
device's language when it has one, templates in every supported language otherwise, and a
notice at every field's length limit in 3-byte characters still fits for every language."""

from typing import Any

import httpx
import orjson

from tests.conftest import Sandbox, wait_until
from tests.helpers import notice_body, register_device, report_location, wait_for_dispatch
from tests.test_cap_api import BRIDGE, cap_message, post_cap

LOCALES = {
    "en-GB": "Missing child: Lily Chen",  # the CAP alert's own English headline
    "fr-FR": "Enfant disparue : Lily Chen",  # and its French one
    "zh-CN": "寻人启事：Lily Chen",
    "es-ES": "Persona desaparecida: Lily Chen",
    "de-DE": "Vermisste Person: Lily Chen",
    "ar-EG": "شخص مفقود: Lily Chen",
    "hi-IN": "लापता व्यक्ति: Lily Chen",
    "ja-JP": "行方不明者：Lily Chen",
    "pt-BR": "Pessoa desaparecida: Lily Chen",
}


def _messages(sandbox: Sandbox, notice_id: str) -> dict[str, dict[str, Any]]:
    return {
        m["message"]["token"]: m["message"]
        for m in sandbox.messages()
        if m["message"]["data"]["notice_id"] == notice_id
    }


def test_each_language_gets_its_own_text_and_every_message_fits_fcm(
    api: httpx.Client,
    worker: object,
    sandbox: Sandbox,
    agency_headers: dict[str, str],
    operator_headers: dict[str, str],
) -> None:
    for locale in LOCALES:
        report_location(api, register_device(api, f"lang-{locale}", locale=locale), *BRIDGE)
    document, _ = cap_message("lang-1")
    posted = post_cap(api, agency_headers, document)
    assert posted.status_code == 201, posted.text
    notice_id = posted.json()["id"]
    assert api.post(
        f"/v1/operator/notices/{notice_id}/approve", headers=operator_headers
    ).is_success
    wait_for_dispatch(api, operator_headers, notice_id, timeout=60)
    wait_until(lambda: len(_messages(sandbox, notice_id)) == len(LOCALES), timeout=30, what="9")
    received = _messages(sandbox, notice_id)
    titles = {t.removeprefix("lang-"): m["notification"]["title"] for t, m in received.items()}
    assert titles == LOCALES
    assert "Manteau rouge." in received["lang-fr-FR"]["notification"]["body"]

    longest = notice_body(
        lat=BRIDGE[0],
        lon=BRIDGE[1],
        person={
            "name": "李" * 200,
            "age": 7,
            "sex": "female",
            "description": "字" * 2000,
            "photo_url": "https://agency.example/photos/" + "p" * 1900 + ".jpg",
        },
        last_seen={
            "lat": BRIDGE[0],
            "lon": BRIDGE[1],
            "at": "2026-12-01T10:00:00Z",
            "place": "場" * 500,
        },
    )
    submitted = api.post("/v1/notices", json=longest, headers=agency_headers)
    assert submitted.status_code == 201, submitted.text
    long_id = submitted.json()["id"]
    assert api.post(f"/v1/operator/notices/{long_id}/approve", headers=operator_headers).is_success
    stats = wait_for_dispatch(api, operator_headers, long_id, timeout=60)
    assert stats["by_status"]["sent"] == len(LOCALES), stats
    for message in _messages(sandbox, long_id).values():
        assert len(orjson.dumps(message)) <= 4096
        assert message["notification"]["body"].endswith("…"), "cut to fit, not refused"
