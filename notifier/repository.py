"""Every query the notifier makes."""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Uuid, literal, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from geo.regions import CellRange, Circle
from geo.selection import select_recipients
from kit.models import Delivery, DeliveryStatus, Device
from notifier.channel import PushOutcome


@dataclass(frozen=True, slots=True)
class Claim:
    delivery_id: int
    token: str
    locale: str


def claim_recipients(
    session: Session,
    *,
    notice_id: uuid.UUID,
    circle: Circle,
    ranges: Sequence[CellRange],
    fresh_since: datetime,
    test_devices_only: bool = False,
) -> list[Claim]:
    """Insert a pending delivery for every recipient in `ranges` that has none yet for this
    notice. The unique (notice, device) constraint makes a re-run or a racing worker claim
    nothing twice."""
    recipients = select_recipients(
        circle, ranges, fresh_since=fresh_since, test_devices_only=test_devices_only
    ).subquery()
    claimed = (
        insert(Delivery)
        .from_select(
            ["notice_id", "device_id"],
            select(literal(notice_id, Uuid), recipients.c.id),
        )
        .on_conflict_do_nothing(index_elements=["notice_id", "device_id"])
        .returning(Delivery.id, Delivery.device_id)
        .cte("claimed")
    )
    rows = session.execute(
        select(claimed.c.id, Device.fcm_token, Device.locale).join(
            Device, Device.id == claimed.c.device_id
        )
    )
    return [Claim(delivery_id=r[0], token=r[1], locale=r[2]) for r in rows]


def record_outcomes(
    session: Session, claims: Sequence[Claim], outcomes: Sequence[PushOutcome]
) -> None:
    now = datetime.now(UTC)
    session.execute(
        update(Delivery),
        [
            {
                "id": claim.delivery_id,
                "status": DeliveryStatus.SENT if outcome.ok else DeliveryStatus.FAILED,
                "message_name": outcome.message_id,
                "error_code": outcome.error_code,
                "sent_at": now if outcome.ok else None,
            }
            for claim, outcome in zip(claims, outcomes, strict=True)
        ],
    )
    invalid = [c.token for c, o in zip(claims, outcomes, strict=True) if o.token_invalid]
    if invalid:
        session.execute(update(Device).where(Device.fcm_token.in_(invalid)).values(active=False))


def abandon_claims(session: Session, claims: Sequence[Claim], *, reason: str) -> None:
    """Close claims that will not be sent because the notice ended meanwhile."""
    session.execute(
        update(Delivery)
        .where(Delivery.id.in_([c.delivery_id for c in claims]))
        .values(status=DeliveryStatus.FAILED, error_code=reason)
    )
