"""CAP in and out: an imported alert becomes a notice, an update or a cancellation; notices go
out as CAP documents and in the Atom feed."""

import logging
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from alerts.accounts import repository as account_repository
from alerts.audit import service as audit_service
from alerts.audit.service import Actor
from alerts.cap import atom, mapping, messages, reading, repository, signatures, writing
from alerts.errors import Conflict, NotFound
from alerts.fields import MAX_REASON_CHARS
from alerts.notices.lifecycle import PUBLIC, PUBLIC_CAP_STATUSES
from alerts.notices.schemas import Decision
from alerts.notices.service import cancel_notice, get_agency_notice, submit_notice
from alerts.notices.updates import update_notice
from kit.config import get_settings
from kit.models import (
    Agency,
    CapMessage,
    Notice,
    NoticeChange,
)

log = logging.getLogger(__name__)

MAX_FEED_ENTRIES = 50


def import_cap_alert(
    session: Session, *, agency: Agency, actor: Actor, document: bytes
) -> tuple[Notice, bool, NoticeChange | None]:
    """Act on a CAP 1.2 message: an Alert submits a notice, an Update changes the notice its
    `references` name, a Cancel cancels it. Returns the notice, whether it is new, and the
    pending change an Update became if it waits for a second person (see
    notices.updates.update_notice). References are the agency's own earlier messages; a
    message is taken once. An agency with a registered certificate must have signed the
    message with it."""
    if agency.cap_certificate is not None:
        document = signatures.verified_document(document, certificate_pem=agency.cap_certificate)
    change = None
    alert = reading.parse_alert(document)
    mapping.check_message(alert)
    earlier = repository.cap_message_notice(
        session, agency_id=agency.id, sender=alert.sender, identifier=alert.identifier
    )
    if earlier is not None:
        raise _repeated(alert, earlier)
    if alert.msg_type == "Alert":
        imported = mapping.notice_from_alert(alert)
        notice = submit_notice(session, agency=agency, data=imported.notice, actor=actor)
        notice.texts = imported.texts
    else:
        notice_id = _referenced_notice(session, agency=agency, alert=alert)
        if alert.msg_type == "Update":
            current = get_agency_notice(session, agency=agency, notice_id=notice_id)
            update = mapping.changes_from_alert(
                alert,
                language=current.language,
                last_seen=(current.last_seen_lat, current.last_seen_lon),
            )
            notice, change = update_notice(
                session,
                agency=agency,
                notice_id=notice_id,
                changes=update.changes,
                actor=actor,
                texts=update.texts,
            )
        else:
            reason = alert.note[:MAX_REASON_CHARS] if alert.note else None
            notice = cancel_notice(
                session, notice_id=notice_id, decision=Decision(reason=reason), actor=actor
            )
    message = CapMessage(
        agency_id=agency.id,
        notice_id=notice.id,
        sender=alert.sender,
        identifier=alert.identifier,
        sent=alert.sent,
        msg_type=alert.msg_type,
    )
    try:
        with session.begin_nested():  # the same message posted twice at once loses here
            session.add(message)
    except IntegrityError:
        raise _repeated(alert, notice.id) from None
    session.flush()
    log.info(
        "alerts.cap.imported agency=%s notice=%s msg_type=%s identifier=%s",
        agency.id,
        notice.id,
        alert.msg_type,
        alert.identifier,
    )
    return notice, alert.msg_type == "Alert", change


def _repeated(alert: messages.CapAlert, notice_id: uuid.UUID) -> Conflict:
    return Conflict(
        f"CAP message {alert.identifier} from {alert.sender} was already received "
        f"(notice {notice_id})"
    )


def _referenced_notice(session: Session, *, agency: Agency, alert: messages.CapAlert) -> uuid.UUID:
    found = repository.notices_of_cap_messages(
        session,
        agency_id=agency.id,
        messages=[(r.sender, r.identifier) for r in alert.references],
    )
    if not found:
        named = ", ".join(f"{r.identifier} from {r.sender}" for r in alert.references)
        raise NotFound(f"no notice of this agency came from the referenced message ({named})")
    if len(found) > 1:
        raise messages.CapRejected(["<references> name messages of more than one notice"])
    return found.pop()


def notice_as_cap(session: Session, *, notice: Notice, public: bool = False) -> bytes:
    """The notice as a CAP alert signed with hexcast's key; `public` rounds the point and
    leaves internal notes out."""
    return signatures.signed_document(
        writing.alert_element(
            notice,
            agency_name=account_repository.agency_name(session, notice.agency_id),
            sender=get_settings().cap_sender,
            public=public,
        )
    )


def active_notice_as_cap(session: Session, *, notice_id: uuid.UUID) -> bytes:
    """Active real notices are public alerts, written for the public; any other (a drill
    included) is not found here."""
    notice = session.get(Notice, notice_id)
    if (
        notice is None
        or notice.status not in PUBLIC
        or notice.cap_status not in PUBLIC_CAP_STATUSES
    ):
        raise NotFound("no active notice with this id")
    return notice_as_cap(session, notice=notice, public=True)


def active_feed(session: Session, *, feed_path: str, cap_path: Callable[[uuid.UUID], str]) -> bytes:
    """The Atom feed of the newest active real notices, each with its public CAP alert
    inline. Links are the paths given under the configured public base URL: the feed is
    cached publicly, so a link taken from one request's Host header would reach others."""
    base = get_settings().public_base_url
    entries = [
        atom.FeedEntry(notice=notice, agency_name=name, cap_url=base + cap_path(notice.id))
        for notice, name in repository.active_notices(session, limit=MAX_FEED_ENTRIES)
    ]
    return atom.feed_document(
        entries,
        feed_url=base + feed_path,
        sender=get_settings().cap_sender,
        now=datetime.now(UTC),
        seal=signatures.signed,
    )


def set_certificate(
    session: Session, *, agency_id: uuid.UUID, pem: str | None, actor: Actor
) -> Agency:
    """Register (or, with None, remove) the certificate the agency's CAP must be signed with."""
    agency = session.get(Agency, agency_id)
    if agency is None:
        raise NotFound("agency not found")
    fingerprint = None if pem is None else signatures.fingerprint(signatures.read_certificate(pem))
    agency.cap_certificate = pem
    audit_service.record(
        session,
        actor,
        "agency.cap_certificate.set" if pem else "agency.cap_certificate.removed",
        agency_id=agency.id,
        fingerprint_sha256=fingerprint,
    )
    log.info("alerts.cap.certificate agency=%s set=%s", agency.id, pem is not None)
    return agency
