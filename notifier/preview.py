"""The pop-up a notice's broadcast sends, in each language, for operators to read before they
approve it: built by the same code (notifier.payload) that builds every real push."""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from kit.config import get_settings
from kit.models import Notice
from notifier.payload import LANGUAGES, NoticeText, build_push, time_zone_at


@dataclass(frozen=True, slots=True)
class PopupPreview:
    language: str
    title: str
    body: str
    image_url: str | None


def notice_text(notice: Notice, *, now: datetime | None = None) -> NoticeText:
    """What a pop-up needs of the notice; a pending notice has no expiry yet, so its
    preview expires a day from now (the expiry only sets the push's time to live)."""
    expires_at = notice.expires_at or (now or datetime.now(UTC)) + timedelta(days=1)
    return NoticeText(
        notice_id=str(notice.id),
        person_name=notice.person_name,
        person_age=notice.person_age,
        description=notice.person_description,
        last_seen_place=notice.last_seen_place,
        last_seen_at=notice.last_seen_at,
        photo_url=notice.photo_url,
        expires_at=expires_at,
        cap_status=notice.cap_status,
        public_url=get_settings().public_base_url,
        time_zone=time_zone_at(notice.last_seen_lat, notice.last_seen_lon),
        texts=notice.texts or {},
    )


def popup_previews(notice: Notice) -> list[PopupPreview]:
    now = datetime.now(UTC)
    text = notice_text(notice, now=now)
    previews = []
    for language in LANGUAGES:
        push = build_push(text, token="preview", locale=language, now=now)
        previews.append(PopupPreview(language, push.title, push.body, push.image_url))
    return previews
