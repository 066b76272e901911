"""The Atom feed (RFC 4287) of active notices. Each entry carries its public CAP alert inline, as
`<content type="application/cap+xml">`, and links to the same document, so a CAP reader
needs one request for every current alert."""

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from lxml import etree

from alerts.cap import messages, writing
from kit.models import Notice

log = logging.getLogger(__name__)

ATOM_NS = "http://www.w3.org/2005/Atom"

MEDIA_TYPE = "application/atom+xml"

TITLE = "hexcast: active missing-person alerts"


@dataclass(frozen=True, slots=True)
class FeedEntry:
    notice: Notice
    agency_name: str
    cap_url: str


def _sub(parent: Any, name: str, text: str | None = None, **attributes: str) -> Any:
    element = etree.SubElement(parent, f"{{{ATOM_NS}}}{name}", attributes)
    if text is not None:
        element.text = text
    return element


def _time(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="seconds")


def _updated(notice: Notice) -> datetime:
    return notice.revised_at or notice.decided_at or notice.created_at


def feed_document(
    entries: Sequence[FeedEntry],
    *,
    feed_url: str,
    sender: str,
    now: datetime,
    seal: Callable[[Any], Any] | None = None,
) -> bytes:
    """The feed; `seal` (signing, in the service) is applied to each entry's CAP alert."""
    feed = etree.Element(f"{{{ATOM_NS}}}feed", nsmap={None: ATOM_NS})
    _sub(feed, "id", feed_url)
    _sub(feed, "title", TITLE)
    _sub(feed, "updated", _time(max((_updated(e.notice) for e in entries), default=now)))
    _sub(_sub(feed, "author"), "name", "hexcast")
    _sub(feed, "link", rel="self", type=MEDIA_TYPE, href=feed_url)
    _sub(feed, "generator", "hexcast")
    for entry in entries:
        try:
            item = _entry(entry, sender=sender, seal=seal)
        except Exception:
            # One notice whose data a generator cannot write must not take the feed down.
            log.exception("alerts.cap.feed_entry_failed notice=%s", entry.notice.id)
            continue
        feed.append(item)
    # Not re-indented: whitespace added inside a signed alert would break its signature.
    return bytes(etree.tostring(feed, xml_declaration=True, encoding="UTF-8"))


def _entry(entry: FeedEntry, *, sender: str, seal: Callable[[Any], Any] | None) -> Any:
    """One feed entry, built apart from the feed so that a failure leaves no half entry."""
    notice = entry.notice
    item = etree.Element(f"{{{ATOM_NS}}}entry", nsmap={None: ATOM_NS})
    _sub(item, "id", f"urn:uuid:{notice.id}")
    _sub(item, "title", f"{messages.EVENT}: {notice.person_name}")
    _sub(item, "updated", _time(_updated(notice)))
    if notice.decided_at is not None:
        _sub(item, "published", _time(notice.decided_at))
    _sub(_sub(item, "author"), "name", entry.agency_name)
    _sub(item, "link", rel="alternate", type=messages.MEDIA_TYPE, href=entry.cap_url)
    _sub(item, "summary", notice.person_description)
    content = _sub(item, "content", type=messages.MEDIA_TYPE)
    alert = writing.alert_element(notice, agency_name=entry.agency_name, sender=sender, public=True)
    content.append(seal(alert) if seal is not None else alert)
    return item
