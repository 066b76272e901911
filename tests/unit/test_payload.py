"""The pop-up a device shows: its language, its text, and a payload that expires with the
notice and replaces earlier pop-ups of the same notice."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from notifier.payload import (
    MAX_BODY_CHARS,
    NoticeText,
    PushKind,
    build_push,
    build_pushes,
    language_of,
    render,
    render_found,
    time_zone_at,
)

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
NOTICE_ID = "6f1c2a0e-5b7d-4c1e-9a43-1b2f3c4d5e6f"
TEXT = NoticeText(
    notice_id=NOTICE_ID,
    person_name="Lily Chen",
    person_age=7,
    description="Red coat, yellow backpack.",
    last_seen_place="Westminster Bridge",
    last_seen_at=datetime(2026, 11, 23, 8, 15, tzinfo=UTC),
    photo_url="https://agency.example/photos/lily.jpg",
    expires_at=NOW + timedelta(hours=72),
    public_url="https://hexcast.example",
)


@pytest.mark.parametrize(
    ("locale", "language"),
    [
        ("en-GB", "en"),
        ("zh-CN", "zh"),
        ("zh_TW", "zh"),
        ("es-MX", "es"),
        ("ES", "es"),
        ("fr-CA", "fr"),
        ("de-DE", "de"),
        ("pt", "pt"),
        ("ar-EG", "ar"),
        ("hi", "hi"),
        ("ja-JP", "ja"),
        ("ko-KR", "en"),
        ("", "en"),
    ],
)
def test_the_locales_language_picks_the_text_and_unknown_ones_get_english(
    locale: str, language: str
) -> None:
    assert language_of(locale) == language


@pytest.mark.parametrize(
    ("locale", "title", "body"),
    [
        (
            "en-US",
            "Missing person: Lily Chen",
            "Lily Chen, 7 years. Last seen Westminster Bridge, Nov 23, 2026, 8:15\u202fAM. "
            "Red coat, yellow backpack.",
        ),
        (
            "en-GB",
            "Missing person: Lily Chen",
            "Lily Chen, 7 years. Last seen Westminster Bridge, 23 Nov 2026, 08:15. "
            "Red coat, yellow backpack.",
        ),
        (
            "zh-CN",
            "寻人启事：Lily Chen",
            "Lily Chen，7岁。最后出现于Westminster Bridge，2026年11月23日 08:15。"
            "Red coat, yellow backpack.",
        ),
        (
            "es-ES",
            "Persona desaparecida: Lily Chen",
            "Lily Chen, 7 años. Visto por última vez en Westminster Bridge, "
            "23 nov 2026, 8:15. Red coat, yellow backpack.",
        ),
        (
            "fr-FR",
            "Personne disparue : Lily Chen",
            "Lily Chen, 7 ans. Vu(e) pour la dernière fois à Westminster Bridge, "
            "23 nov. 2026, 08:15. Red coat, yellow backpack.",
        ),
        (
            "de-DE",
            "Vermisste Person: Lily Chen",
            "Lily Chen, 7 Jahre. Zuletzt gesehen: Westminster Bridge, 23.11.2026, 08:15. "
            "Red coat, yellow backpack.",
        ),
        (
            "ja-JP",
            "行方不明者：Lily Chen",
            "Lily Chen、7歳。最後の目撃：Westminster Bridge、2026/11/23 8:15。"
            "Red coat, yellow backpack.",
        ),
        (
            "ko-KR",
            "Missing person: Lily Chen",
            "Lily Chen, 7 years. Last seen Westminster Bridge, Nov 23, 2026, 8:15\u202fAM. "
            "Red coat, yellow backpack.",
        ),
    ],
)
def test_the_pop_up_is_written_in_the_devices_language(locale: str, title: str, body: str) -> None:
    assert render(TEXT, locale) == (title, body)


@pytest.mark.parametrize("locale", ["en", "zh", "es", "fr", "de", "ar", "hi", "ja", "pt"])
def test_every_language_has_its_own_templates(locale: str) -> None:
    title, body = render(TEXT, locale)
    found_title, found_body = render_found(TEXT, locale)
    assert "Lily Chen" in title and "Westminster Bridge" in body
    if locale != "en":
        assert (title, found_title) != (render(TEXT, "en")[0], render_found(TEXT, "en")[0])
    assert "Lily" not in found_title + found_body


def test_the_notices_own_text_in_the_devices_language_wins_over_the_template() -> None:
    translated = replace(
        TEXT,
        texts={
            "en-GB": {"headline": "Missing: Lily Chen", "description": "Red coat."},
            "es": {"headline": "Desaparecida: Lily Chen", "description": "Abrigo rojo."},
        },
    )
    assert render(translated, "es-ES") == (
        "Desaparecida: Lily Chen",
        "Lily Chen, 7 años. Visto por última vez en Westminster Bridge, "
        "23 nov 2026, 8:15. Abrigo rojo.",
    )
    assert render(translated, "en-GB")[0] == "Missing: Lily Chen"
    assert render(translated, "en-US")[0] == "Missing: Lily Chen", "same language, other region"
    assert render(translated, "fr")[0] == "Personne disparue : Lily Chen", "none: the template"
    assert render(replace(translated, cap_status="Test"), "es")[0] == (
        "[PRUEBA] Desaparecida: Lily Chen"
    )


@pytest.mark.parametrize(
    ("cap_status", "locale", "title"),
    [
        ("Test", "en-GB", "[TEST] Missing person: Lily Chen"),
        ("Exercise", "en-GB", "[EXERCISE] Missing person: Lily Chen"),
        ("Exercise", "zh-CN", "[演习] 寻人启事：Lily Chen"),
        ("Test", "es-ES", "[PRUEBA] Persona desaparecida: Lily Chen"),
        ("Exercise", "fr-FR", "[EXERCICE] Personne disparue : Lily Chen"),
        ("Test", "ja-JP", "[テスト] 行方不明者：Lily Chen"),
        ("Exercise", "ar", "[تمرين] شخص مفقود: Lily Chen"),
        ("Actual", "en-GB", "Missing person: Lily Chen"),
    ],
)
def test_a_drill_says_so_first_in_the_devices_language(
    cap_status: str, locale: str, title: str
) -> None:
    drill = replace(TEXT, cap_status=cap_status)
    assert render(drill, locale)[0] == title
    assert render(drill, locale)[1] == render(TEXT, locale)[1], "the body is the same"
    assert build_push(drill, token="t", locale=locale, now=NOW).data["cap_status"] == cap_status


def test_a_person_of_unknown_age_is_named_without_one() -> None:
    title, body = render(replace(TEXT, person_age=None), "en")
    assert title == "Missing person: Lily Chen"
    assert body.startswith("Lily Chen. Last seen Westminster Bridge")
    assert "years" not in body


def test_the_last_seen_time_is_in_the_notices_zone_whatever_zone_it_was_loaded_in() -> None:
    """PostgreSQL returns a timestamptz in the session's time zone, which need not be the
    notice's: the pop-up shows the time as people at the last seen place read it."""
    new_york = TEXT.last_seen_at.astimezone(ZoneInfo("America/New_York"))
    tokyo = replace(TEXT, last_seen_at=new_york, time_zone="Asia/Tokyo")
    assert "Last seen Westminster Bridge, 23 Nov 2026, 17:15." in render(tokyo, "en-GB")[1]
    assert render_found(tokyo, "de")[1].startswith("Die Person aus der Meldung vom 23. November")


@pytest.mark.parametrize(
    ("lat", "lon", "zone"),
    [
        (51.5007, -0.1246, "Europe/London"),
        (31.23, 121.47, "Asia/Shanghai"),
        (-23.55, -46.63, "America/Sao_Paulo"),
    ],
)
def test_the_time_zone_is_the_last_seen_places(lat: float, lon: float, zone: str) -> None:
    assert time_zone_at(lat, lon) == zone


def test_a_long_description_is_cut_to_the_body_limit_with_an_ellipsis() -> None:
    _, body = render(replace(TEXT, description="x" * 5000), "en")
    assert len(body) == MAX_BODY_CHARS
    assert body.endswith("x…")
    assert body.startswith("Lily Chen, 7 years. Last seen Westminster Bridge")


def test_a_body_that_fits_is_not_cut() -> None:
    _, short = render(replace(TEXT, description=""), "en")
    exact = "x" * (MAX_BODY_CHARS - len(short))
    _, body = render(replace(TEXT, description=exact), "en")
    assert len(body) == MAX_BODY_CHARS
    assert body.endswith("x") and "…" not in body


def test_the_push_carries_the_notice_link_and_collapses_per_notice() -> None:
    push = build_push(TEXT, token="tok-1", locale="fr-FR", now=NOW)
    assert push.token == "tok-1"
    assert (push.title, push.body) == render(TEXT, "fr-FR")
    assert dict(push.data) == {
        "type": "missing_person",
        "notice_id": NOTICE_ID,
        "link": f"hexcast://notices/{NOTICE_ID}",
        "view": f"https://hexcast.example/v1/feed/notices/{NOTICE_ID}",
        "cap_status": "Actual",
    }
    assert all(isinstance(v, str) for v in push.data.values()), "FCM data values are strings"
    assert push.collapse_key == NOTICE_ID
    assert push.image_url == "https://agency.example/photos/lily.jpg"


def test_a_notice_without_a_photo_has_no_image() -> None:
    push = build_push(replace(TEXT, photo_url=None), token="t", locale="en", now=NOW)
    assert push.image_url is None


@pytest.mark.parametrize(
    ("expires_in", "ttl"),
    [
        (timedelta(hours=72), 72 * 3600),
        (timedelta(seconds=90.9), 90),
        (timedelta(0), 0),
        (timedelta(seconds=-1), 0),
        (timedelta(days=-3), 0),
    ],
)
def test_the_push_lives_until_the_notice_expires_and_never_negatively(
    expires_in: timedelta, ttl: int
) -> None:
    push = build_push(replace(TEXT, expires_at=NOW + expires_in), token="t", locale="en", now=NOW)
    assert push.ttl_seconds == ttl


@pytest.mark.parametrize(
    "locale", ["en-GB", "zh-CN", "es-ES", "fr-FR", "de-DE", "ar", "hi", "ja", "pt-BR"]
)
def test_the_found_message_names_no_one_and_shows_no_photo(locale: str) -> None:
    push = build_push(TEXT, token="t", locale=locale, now=NOW, kind=PushKind.FOUND)
    assert "Lily" not in push.title + push.body
    assert "Red coat" not in push.body
    assert "2026" in push.body, "the alert's date, in the device's language"
    assert push.image_url is None
    assert push.data["type"] == "missing_person_found"
    assert push.collapse_key == NOTICE_ID, "it replaces the alert on the device"


def test_an_update_says_so_and_replaces_the_alert() -> None:
    alert = build_push(TEXT, token="t", locale="en-GB", now=NOW)
    update = build_push(
        replace(TEXT, description="Now wearing a blue coat."),
        token="t",
        locale="en-GB",
        now=NOW,
        kind=PushKind.UPDATE,
    )
    assert update.title == f"Update: {alert.title}"
    assert "blue coat" in update.body
    assert update.collapse_key == alert.collapse_key
    assert update.data["type"] == "missing_person_update"


@pytest.mark.parametrize("kind", list(PushKind))
def test_a_batch_gets_each_devices_own_push(kind: PushKind) -> None:
    recipients = [("a", "en-GB"), ("b", "zh-CN"), ("c", "en-US"), ("d", "fr-FR"), ("e", "zh_TW")]
    pushes = build_pushes(TEXT, recipients, now=NOW, kind=kind)
    assert pushes == [
        build_push(TEXT, token=token, locale=locale, now=NOW, kind=kind)
        for token, locale in recipients
    ]
