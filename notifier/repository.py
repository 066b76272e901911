"""Every query the notifier makes.

Leases: a chunk is held by the row lock of the transaction that claims its recipients, and
its `lease_until` only says by when its queued task should have done so. A delivery is held
by whoever set its `lease_until`; the value is also the lease's identity, so each write of a
worker names the lease it holds and touches nothing another worker has taken over since.
"""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import orjson
from sqlalchemy import (
    ColumnElement,
    String,
    Uuid,
    and_,
    any_,
    case,
    cast,
    exists,
    func,
    literal,
    null,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from geo.regions import CellRange, Region
from geo.selection import select_recipients
from kit.db import bigint_array
from kit.models import (
    ChunkStatus,
    Delivery,
    DeliveryStatus,
    Device,
    DispatchChunk,
    Notice,
    NoticeStatus,
    TaskFailure,
)
from notifier.channel import PushOutcome

NOTICE_ENDED = "NOTICE_ENDED"
# Why a delivery was suppressed: the device's user paused alerts, or it reached its daily cap.
PAUSED = "PAUSED"
DAILY_CAP = "DAILY_CAP"

BROADCAST_TASK = "notifier.broadcast"

# Settling a batch is one statement over its outcomes as one JSON parameter, not an UPDATE a
# row (a tenth of the CPU), nor arrays (psycopg dumps those element by element in Python).
_SETTLE = text(
    """
    UPDATE deliveries AS d
    SET status = o.status, error_code = o.error_code, message_name = o.message_name,
        sent_at = o.sent_at, next_attempt_at = o.next_attempt_at,
        last_attempt_at = :now, lease_until = NULL, attempts = d.attempts + 1
    FROM json_to_recordset(CAST(:outcomes AS json)) AS o(
        id bigint, status text, error_code text, message_name text,
        sent_at timestamptz, next_attempt_at timestamptz
    )
    WHERE d.id = o.id AND d.status NOT IN ('sent', 'failed')
      AND (d.lease_until = :lease_until OR o.status = 'sent')
    """
)
# "Not settled" is spelled out rather than `status = 'pending'`, which would let the planner
# pick the partial index of pending deliveries (see `_held`) over primary key lookups.
# The only good plan is a primary key lookup per outcome, but the planner does not know it
# while the deliveries table is young: with no statistics it hashes the whole table for every
# batch, and a connection that cached that plan kept it. That was the first broadcast after
# a start running at a tenth of its speed for 20 s, every settle taking 2-3 s.
_LOOKUPS_BY_KEY = text(
    "SELECT set_config('enable_hashjoin', 'off', true), "
    "set_config('enable_mergejoin', 'off', true), set_config('enable_seqscan', 'off', true)"
)


@dataclass(frozen=True, slots=True)
class Claim:
    """A delivery taken for one send attempt, with what the push needs."""

    delivery_id: int
    token: str
    locale: str
    attempts: int  # this one's number: attempts settled before it, plus one


# --- broadcast rounds and chunks ---------------------------------------------------------


def lock_notice(session: Session, notice_id: uuid.UUID) -> Notice | None:
    """The notice, locked against a concurrent broadcast of it. NO KEY UPDATE leaves chunk
    tasks free to insert deliveries that reference it meanwhile."""
    return session.scalar(
        select(Notice).where(Notice.id == notice_id).with_for_update(key_share=True)
    )


def round_exists(session: Session, notice_id: uuid.UUID, round_number: int) -> bool:
    return bool(
        session.scalar(
            select(
                exists().where(
                    DispatchChunk.notice_id == notice_id, DispatchChunk.round == round_number
                )
            )
        )
    )


def recipient_cuts(
    session: Session,
    region: Region,
    ranges: Sequence[CellRange],
    *,
    fresh_since: datetime,
    first: int,
    every: int,
) -> list[int]:
    """The cell of the `first`-th recipient in cell order, then of every `every`-th after it:
    where to cut the cover so that the first chunk has about `first` recipients and each
    other about `every`. One pass over the covering index."""
    cells = select_recipients(
        region, ranges, columns=[Device.h3_cell.label("cell")], fresh_since=fresh_since
    ).subquery()
    numbered = select(
        cells.c.cell,
        func.row_number().over(order_by=cells.c.cell).label("n"),
        func.count().over().label("total"),
    ).subquery()
    n = numbered.c.n
    return list(
        session.scalars(
            # Not at the last recipient: nothing would be left for the chunk after it.
            select(numbered.c.cell).where(
                or_(n == first, and_(n > first, (n - first) % every == 0)),
                n < numbered.c.total,
            )
        )
    )


def create_round(
    session: Session,
    *,
    notice_id: uuid.UUID,
    round_number: int,
    chunks: Sequence[list[list[int]]],
    cover: list[list[int]],
    lease_until: datetime,
) -> list[int]:
    """Insert one pending row per chunk (encoded ranges), and after them the round's sweep
    over the whole `cover`; returns their ids in order. A round without chunks has no
    sweep."""
    sweep = [(cover, True)] if chunks else []
    rows = session.scalars(
        insert(DispatchChunk).returning(DispatchChunk.id, sort_by_parameter_order=True),
        [
            {
                "notice_id": notice_id,
                "round": round_number,
                "ranges": ranges,
                "status": ChunkStatus.PENDING,
                "lease_until": lease_until,
                "sweep": is_sweep,
            }
            for ranges, is_sweep in [*((chunk, False) for chunk in chunks), *sweep]
        ],
    )
    return list(rows)


def sweep_of_round(session: Session, chunk: DispatchChunk) -> int | None:
    """The id of the sweep of `chunk`'s round (none for rounds written before sweeps)."""
    return session.scalar(
        select(DispatchChunk.id).where(
            DispatchChunk.notice_id == chunk.notice_id,
            DispatchChunk.round == chunk.round,
            DispatchChunk.sweep,
        )
    )


def round_still_claiming(session: Session, chunk: DispatchChunk) -> bool:
    """Whether another chunk of `chunk`'s round is still pending, or being claimed by a
    transaction not yet committed (its row still reads pending)."""
    return bool(
        session.scalar(
            select(
                exists().where(
                    DispatchChunk.notice_id == chunk.notice_id,
                    DispatchChunk.round == chunk.round,
                    DispatchChunk.status == ChunkStatus.PENDING,
                    DispatchChunk.id != chunk.id,
                )
            )
        )
    )


def lock_pending_chunk(session: Session, chunk_id: int) -> DispatchChunk | None:
    """The chunk if it still needs claiming and no other worker is claiming it right now."""
    return session.scalar(
        select(DispatchChunk)
        .where(DispatchChunk.id == chunk_id, DispatchChunk.status == ChunkStatus.PENDING)
        .with_for_update(skip_locked=True)
    )


def claim_recipients(
    session: Session,
    *,
    notice_id: uuid.UUID,
    region: Region,
    ranges: Sequence[CellRange],
    fresh_since: datetime,
    lease_until: datetime,
    daily_cap: int,
    test_devices_only: bool = False,
) -> list[Claim]:
    """Insert a delivery for every recipient in `ranges` that has none yet for this notice:
    pending and leased until `lease_until`, or suppressed (PAUSED, DAILY_CAP) for a device
    whose user paused alerts or that got `daily_cap` alerts in the last 24 hours. Returns
    the pending ones with their device's token and locale, in id order. The unique (notice,
    device) constraint makes a re-run, a racing worker or a later round claim nothing twice.
    Follow-ups of a notice create no delivery, so they never count towards the cap.

    A round's sweep claims over the whole area, where nearly every device has its delivery
    already: the conflict check finds each by one probe of the unique index and inserts
    nothing. (A NOT EXISTS before the insert planned, with statistics taken before the
    round's deliveries existed, as a scan of all of them per device: minutes per sweep.)"""
    recipients = select_recipients(
        region,
        ranges,
        columns=[Device.id, Device.fcm_token, Device.locale, Device.alerts_paused],
        fresh_since=fresh_since,
        test_devices_only=test_devices_only,
    ).cte("recipients")
    alerts_today = (
        select(func.count())
        .where(
            Delivery.device_id == recipients.c.id,
            Delivery.claimed_at > func.now() - timedelta(days=1),
            Delivery.status.in_([DeliveryStatus.PENDING, DeliveryStatus.SENT]),
        )
        .scalar_subquery()
    )
    suppressed = case(
        (recipients.c.alerts_paused, literal(PAUSED)),
        (alerts_today >= daily_cap, literal(DAILY_CAP)),
        else_=null(),
    )
    classified = select(
        recipients.c.id, recipients.c.fcm_token, recipients.c.locale, suppressed.label("reason")
    ).cte("classified")
    sendable = classified.c.reason.is_(None)
    claimed = (
        insert(Delivery)
        .from_select(
            ["notice_id", "device_id", "lease_until", "status", "error_code"],
            select(
                literal(notice_id, Uuid),
                classified.c.id,
                case((sendable, literal(lease_until)), else_=null()),
                case(
                    (sendable, literal(DeliveryStatus.PENDING.value)),
                    else_=literal(DeliveryStatus.SUPPRESSED.value),
                ),
                classified.c.reason,
            ),
        )
        .on_conflict_do_nothing(index_elements=["notice_id", "device_id"])
        .returning(Delivery.id, Delivery.device_id, Delivery.error_code)
        .cte("claimed")
    )
    rows = session.execute(
        select(claimed.c.id, classified.c.fcm_token, classified.c.locale)
        .join(classified, classified.c.id == claimed.c.device_id)
        .where(claimed.c.error_code.is_(None))
        .order_by(claimed.c.id)
    )
    return [Claim(delivery_id=r[0], token=r[1], locale=r[2], attempts=1) for r in rows]


# --- sending -----------------------------------------------------------------------------


def _held(ids: Sequence[int], lease_until: datetime):  # type: ignore[no-untyped-def]
    """Those of `ids` held under `lease_until`. Every write that settles a delivery clears its
    lease, so a held one is pending; saying so (`status = 'pending'`) would let the planner
    scan the partial index of every pending delivery, a broadcast's whole backlog, instead
    of looking the ids up by primary key: it did, with stale statistics mid-broadcast."""
    return and_(Delivery.id == any_(bigint_array(ids)), Delivery.lease_until == lease_until)


def take_deliveries(
    session: Session, ids: Sequence[int], *, lease_until: datetime, renewed_until: datetime
) -> list[Claim]:
    """Renew the lease of those of `ids` still held under `lease_until`; returns them with
    their device's token and locale. Rows another worker took over, or that were settled
    meanwhile, are left out."""
    rows = session.execute(
        update(Delivery)
        .where(_held(ids, lease_until), Delivery.device_id == Device.id)
        .values(lease_until=renewed_until)
        .returning(Delivery.id, Device.fcm_token, Device.locale, Delivery.attempts + 1)
        .execution_options(synchronize_session=False)
    )
    return [Claim(delivery_id=r[0], token=r[1], locale=r[2], attempts=r[3]) for r in rows]


def record_outcomes(
    session: Session,
    claims: Sequence[Claim],
    outcomes: Sequence[PushOutcome],
    retry_times: Sequence[datetime | None],
    *,
    lease_until: datetime,
    now: datetime,
) -> None:
    """Settle each attempt made under `lease_until`: sent; pending until its retry time; or
    failed with its error. A settled delivery is never written again. A delivery another
    worker took over after the lease ran out is that worker's to settle, except that a push
    that went out is recorded whoever holds it: a retry time or failure from the late worker
    would clear the new holder's lease, and a third could take it while the second sends.
    Tokens FCM calls invalid are deactivated and never targeted again."""
    settled = [
        {
            "id": claim.delivery_id,
            "status": DeliveryStatus.SENT
            if outcome.ok
            else DeliveryStatus.PENDING
            if retry_time is not None
            else DeliveryStatus.FAILED,
            "error_code": outcome.error_code,
            "message_name": outcome.message_id,
            "sent_at": now if outcome.ok else None,
            "next_attempt_at": retry_time,
        }
        for claim, outcome, retry_time in zip(claims, outcomes, retry_times, strict=True)
    ]
    session.execute(_LOOKUPS_BY_KEY)
    session.execute(
        _SETTLE,
        {"outcomes": orjson.dumps(settled).decode(), "lease_until": lease_until, "now": now},
    )
    deactivate_tokens(
        session, [c.token for c, o in zip(claims, outcomes, strict=True) if o.token_invalid]
    )


def deactivate_tokens(session: Session, tokens: Sequence[str]) -> None:
    """Tokens FCM calls invalid are never targeted again."""
    if tokens:
        session.execute(update(Device).where(Device.fcm_token.in_(tokens)).values(active=False))


def reached_devices(
    session: Session, notice_id: uuid.UUID, *, after: int, limit: int, up_to: int | None = None
) -> list[Claim]:
    """Devices the notice's alert was sent to, in delivery order from after `after` (through
    `up_to` if given): the audience of its update and found messages. A device that paused
    alerts since gets none."""
    query = (
        select(Delivery.id, Device.fcm_token, Device.locale, Delivery.attempts)
        .join(Device, Device.id == Delivery.device_id)
        .where(
            Delivery.notice_id == notice_id,
            Delivery.status == DeliveryStatus.SENT,
            Delivery.id > after,
            Device.active,
            ~Device.alerts_paused,
        )
        .order_by(Delivery.id)
        .limit(limit)
    )
    if up_to is not None:
        query = query.where(Delivery.id <= up_to)
    rows = session.execute(query)
    return [Claim(delivery_id=r[0], token=r[1], locale=r[2], attempts=r[3]) for r in rows]


def abandon(session: Session, ids: Sequence[int], *, lease_until: datetime) -> int:
    """Close held deliveries of a notice that ended: failed with their last error, or
    NOTICE_ENDED if they were never tried."""
    result = session.execute(
        update(Delivery)
        .where(_held(ids, lease_until))
        .values(
            status=DeliveryStatus.FAILED,
            error_code=func.coalesce(Delivery.error_code, NOTICE_ENDED),
            lease_until=None,
        )
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def defer(session: Session, ids: Sequence[int], *, lease_until: datetime, until: datetime) -> int:
    """Release held deliveries, not to be sent before `until` (FCM asked to slow down)."""
    result = session.execute(
        update(Delivery)
        .where(_held(ids, lease_until))
        .values(lease_until=None, next_attempt_at=until)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


# --- the reconciler ----------------------------------------------------------------------


def _notice_active(notice_id):  # type: ignore[no-untyped-def]
    return exists().where(Notice.id == notice_id, Notice.status == NoticeStatus.ACTIVE)


def unleased(now: datetime) -> ColumnElement[bool]:
    """Deliveries no worker holds at `now`."""
    return or_(Delivery.lease_until.is_(None), Delivery.lease_until < now)


def close_ended(session: Session, *, now: datetime) -> tuple[int, int]:
    """Drop pending chunks of notices that ended, and fail their pending deliveries that no
    worker holds (with their last error, or NOTICE_ENDED). Returns (chunks, deliveries)."""
    stale_chunks = (
        select(DispatchChunk.id)
        .where(
            DispatchChunk.status == ChunkStatus.PENDING,
            ~_notice_active(DispatchChunk.notice_id),
        )
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    chunks = session.execute(
        update(DispatchChunk)
        .where(DispatchChunk.id.in_(stale_chunks))
        .values(status=ChunkStatus.DROPPED, finished_at=now)
        .execution_options(synchronize_session=False)
    )
    deliveries = session.execute(
        update(Delivery)
        .where(
            Delivery.status == DeliveryStatus.PENDING,
            unleased(now),
            ~_notice_active(Delivery.notice_id),
        )
        .values(
            status=DeliveryStatus.FAILED,
            error_code=func.coalesce(Delivery.error_code, NOTICE_ENDED),
            lease_until=None,
        )
        .execution_options(synchronize_session=False)
    )
    return int(chunks.rowcount), int(deliveries.rowcount)  # type: ignore[attr-defined]


def rounds_without_chunks(
    session: Session, *, approved_before: datetime, failures_allowed: int
) -> list[tuple[uuid.UUID, int]]:
    """(notice, round) of active notices approved before `approved_before` whose latest
    broadcast round never wrote a chunk: its task was lost (the broker was down at approval
    or at an expansion or update, or lost the message). Not a notice whose broadcast raised
    `failures_allowed` times already: its data breaks it, and trying again will not help."""
    rows = session.execute(
        select(Notice.id, Notice.broadcast_round).where(
            Notice.status == NoticeStatus.ACTIVE,
            Notice.decided_at < approved_before,
            ~exists().where(
                DispatchChunk.notice_id == Notice.id,
                DispatchChunk.round == Notice.broadcast_round,
            ),
            ~exists().where(
                TaskFailure.task == BROADCAST_TASK,
                TaskFailure.subject == cast(Notice.id, String),
                TaskFailure.failures >= failures_allowed,
            ),
        )
    )
    return [(row[0], row[1]) for row in rows]


def requeue_stale_chunks(session: Session, *, now: datetime, lease_until: datetime) -> list[int]:
    """Pending chunks of active notices that their task should have claimed by now, given a
    new deadline; no chunk a worker is claiming right now. Returns their ids."""
    stale = (
        select(DispatchChunk.id)
        .where(
            DispatchChunk.status == ChunkStatus.PENDING,
            DispatchChunk.lease_until < now,
            _notice_active(DispatchChunk.notice_id),
        )
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    return list(
        session.scalars(
            update(DispatchChunk)
            .where(DispatchChunk.id.in_(stale))
            .values(lease_until=lease_until, attempts=DispatchChunk.attempts + 1)
            .returning(DispatchChunk.id)
            .execution_options(synchronize_session=False)
        )
    )


def lease_due_deliveries(
    session: Session, *, now: datetime, lease_until: datetime, limit: int
) -> list[tuple[uuid.UUID, int]]:
    """Lease, until `lease_until`, pending deliveries of active notices that nobody holds
    and whose retry time has come: the worker that held them died, or their retry is due.
    Earliest retry time first; returns (notice id, delivery id) pairs."""
    due = (
        select(Delivery.id)
        .where(
            Delivery.status == DeliveryStatus.PENDING,
            unleased(now),
            or_(Delivery.next_attempt_at.is_(None), Delivery.next_attempt_at <= now),
            _notice_active(Delivery.notice_id),
        )
        .order_by(Delivery.next_attempt_at.nulls_first(), Delivery.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    rows = session.execute(
        update(Delivery)
        .where(Delivery.id.in_(due))
        .values(lease_until=lease_until)
        .returning(Delivery.notice_id, Delivery.id)
        .execution_options(synchronize_session=False)
    )
    return [(r[0], r[1]) for r in rows]
