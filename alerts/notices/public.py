"""The notice as the app shows it: a public JSON view that a pop-up's deep link opens.

When a broadcast lands, a million phones may open the same notice within a minute, so the
view is built once per notice every few seconds, in each API process, and served with an
ETag and a short public max-age: phones and any shared cache in front hit the copy, not the
database. A found notice keeps no name, photo or anything else that identifies the person."""

import hashlib
import threading
import time
import uuid
from dataclasses import dataclass

import orjson
from sqlalchemy import select

from alerts.notices.lifecycle import BROADCASTING, ENDED, IDENTITY_WITHHELD
from alerts.notices.schemas import PublicLastSeen, PublicNotice, PublicPerson
from kit.db import session_scope
from kit.models import Notice

# The last seen point is published to about 100 m (3 decimals): enough to search, and no
# more precise than the place's name.
PUBLIC_DECIMALS = 3
MAX_AGE_SECONDS = 10
_BUILT_FOR_SECONDS = 5.0
_MAX_CACHED = 10_000


@dataclass(frozen=True, slots=True)
class Rendered:
    body: bytes
    etag: str


def public_view(notice: Notice) -> PublicNotice | None:
    """The view of an approved notice; None for one that never went out."""
    if notice.status not in BROADCASTING | ENDED:
        return None
    withheld = notice.status in IDENTITY_WITHHELD
    texts = dict(notice.texts or {})
    texts[notice.language] = {
        "headline": f"Missing person: {notice.person_name}",
        "description": notice.person_description,
        **texts.get(notice.language, {}),
    }
    return PublicNotice(
        id=notice.id,
        status=notice.status,
        cap_status=notice.cap_status,
        person=None
        if withheld
        else PublicPerson(
            name=notice.person_name,
            age=notice.person_age,
            sex=notice.person_sex,
            description=notice.person_description,
            photo_url=notice.photo_url,
        ),
        last_seen=PublicLastSeen(
            lat=round(notice.last_seen_lat, PUBLIC_DECIMALS),
            lon=round(notice.last_seen_lon, PUBLIC_DECIMALS),
            at=notice.last_seen_at,
            place=notice.last_seen_place,
        ),
        contact=notice.contact,
        language=notice.language,
        texts={} if withheld else texts,
        approved_at=notice.decided_at,
        expires_at=notice.expires_at,
        ended_at=notice.ended_at,
        revision=notice.revision,
    )


def _render(notice_id: uuid.UUID) -> Rendered | None:
    with session_scope() as session:
        notice = session.scalar(select(Notice).where(Notice.id == notice_id))
        view = None if notice is None else public_view(notice)
    if view is None:
        return None
    body = orjson.dumps(view.model_dump(mode="json"))
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    return Rendered(body=body, etag=etag)


class ViewCache:
    """Each notice's rendered view (None: not public), rebuilt when older than a few
    seconds; one build at a time per process, so a burst of requests costs one query."""

    def __init__(self) -> None:
        self._entries: dict[uuid.UUID, tuple[float, Rendered | None]] = {}
        self._lock = threading.Lock()

    def fresh(self, notice_id: uuid.UUID) -> tuple[float, Rendered | None] | None:
        """(built at, view) if built recently, without waiting or querying; else None."""
        entry = self._entries.get(notice_id)
        if entry is not None and time.monotonic() - entry[0] < _BUILT_FOR_SECONDS:
            return entry
        return None

    def get(self, notice_id: uuid.UUID) -> Rendered | None:
        entry = self.fresh(notice_id)
        if entry is None:
            with self._lock:
                entry = self.fresh(notice_id)
                if entry is None:
                    if len(self._entries) >= _MAX_CACHED:
                        self._entries.clear()
                    entry = self._entries[notice_id] = (time.monotonic(), _render(notice_id))
        return entry[1]


def matches(if_none_match: str | None, etag: str) -> bool:
    """Whether an If-None-Match header names `etag` (weakly compared, as RFC 9110 says)."""
    if if_none_match is None:
        return False
    if if_none_match.strip() == "*":
        return True
    return any(tag.strip().removeprefix("W/") == etag for tag in if_none_match.split(","))
