"""Every ORM model in one module, so `alerts`, `geo` and `notifier` share tables without cycles."""

import enum
import uuid
from datetime import datetime
from typing import Any

from geoalchemy2 import Geography
from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def _enum(cls: type[enum.Enum], name: str) -> Enum:
    return Enum(
        cls,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=16,
        values_callable=lambda members: [m.value for m in members],
    )


def _now_column() -> Mapped[datetime]:
    return mapped_column(DateTime(timezone=True), server_default=func.now(), nullable=False)


class NoticeStatus(enum.StrEnum):
    PENDING = "pending"
    ACTIVE = "active"
    REJECTED = "rejected"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    FOUND = "found"


class CapStatus(enum.StrEnum):
    """CAP's message status, apart from the lifecycle status: whether a notice is real.
    Test and Exercise notices reach only devices flagged as test devices, as WEA test
    messages reach only phones opted in to them; Actual notices reach every device."""

    ACTUAL = "Actual"
    EXERCISE = "Exercise"
    TEST = "Test"

    @property
    def test_devices_only(self) -> bool:
        return self is not CapStatus.ACTUAL


class OperatorRole(enum.StrEnum):
    """Reviewers decide on notices; admins also manage accounts, agencies and keys."""

    REVIEWER = "reviewer"
    ADMIN = "admin"


class KeyScope(enum.StrEnum):
    """What an agency API key may do: read the agency's notices, submit and end them, or
    set where the agency's events (sightings with reporters' contacts) are sent."""

    NOTICES_READ = "notices:read"
    NOTICES_WRITE = "notices:write"
    WEBHOOK_WRITE = "webhook:write"


class ActorType(enum.StrEnum):
    OPERATOR = "operator"
    AGENCY = "agency"
    DEVICE = "device"
    SYSTEM = "system"


class Sex(enum.StrEnum):
    FEMALE = "female"
    MALE = "male"
    OTHER = "other"
    UNKNOWN = "unknown"


class Platform(enum.StrEnum):
    ANDROID = "android"
    IOS = "ios"
    WEB = "web"


class DeliveryStatus(enum.StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"
    # Not sent, by the device's own choice: alerts paused, or its daily cap reached. The
    # error code says which; counted in the stats like any other outcome.
    SUPPRESSED = "suppressed"


class ChunkStatus(enum.StrEnum):
    PENDING = "pending"
    CLAIMED = "claimed"  # its recipients have deliveries; sending them is the deliveries' job
    DROPPED = "dropped"  # the notice ended before its recipients were claimed


class Agency(Base):
    __tablename__ = "agencies"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = _now_column()
    # PEM certificate registered by an admin: with one, the agency's CAP must be signed by it.
    cap_certificate: Mapped[str | None] = mapped_column(Text)


class AgencyKey(Base):
    """One of an agency's API keys. A key works until it is revoked or its `expires_at`
    passes; rotation sets `expires_at` on the old key, so both work during the overlap."""

    __tablename__ = "agency_keys"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    agency_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("agencies.id"), index=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # The key's first characters, for people to tell keys apart in lists and logs.
    prefix: Mapped[str] = mapped_column(String(16))
    label: Mapped[str | None] = mapped_column(String(100))
    scopes: Mapped[list[str]] = mapped_column(ARRAY(String(32)))
    created_at: Mapped[datetime] = _now_column()
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Who issued the key: whoever holds it could submit with it, so that operator is never
    # the second person for what it submits (the two-person rule).
    issued_by_operator_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("operators.id"))

    agency: Mapped[Agency] = relationship(lazy="joined", innerjoin=True)


class Operator(Base):
    """A person who reviews notices (or administers hexcast). Without a password hash the
    account cannot log in: that is the account the bootstrap credential acts as."""

    __tablename__ = "operators"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    role: Mapped[OperatorRole] = mapped_column(_enum(OperatorRole, "operator_role"))
    password_hash: Mapped[str | None] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=text("true"))
    created_at: Mapped[datetime] = _now_column()


class OperatorSession(Base):
    """A login: the bearer token is stored as its SHA-256 and stops working at `expires_at`."""

    __tablename__ = "operator_sessions"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    operator_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("operators.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = _now_column()
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class LoginFailure(Base):
    """A failed operator login, by the email it named, the client address it came from and
    the known client (see OperatorKnownClient) it presented, if any: the rows are the
    counters that slow password guessing against one account and from one client."""

    __tablename__ = "operator_login_failures"
    __table_args__ = (
        Index("ix_operator_login_failures_email_at", "email", "failed_at"),
        Index("ix_operator_login_failures_client_at", "client", "failed_at"),
        Index("ix_operator_login_failures_known_client_at", "known_client_id", "failed_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    email: Mapped[str] = mapped_column(String(254))
    client: Mapped[str | None] = mapped_column(String(64))
    known_client_id: Mapped[uuid.UUID | None] = mapped_column()
    failed_at: Mapped[datetime] = _now_column()


class OperatorKnownClient(Base):
    """A browser or program an operator logged in from before, holding a random token (stored
    as its SHA-256): its logins are not slowed down by failures from anywhere else, so guessing
    an operator's password cannot lock the operator out."""

    __tablename__ = "operator_known_clients"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    operator_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("operators.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = _now_column()


class Notice(Base):
    __tablename__ = "notices"
    __table_args__ = (Index("ix_notices_agency_created", "agency_id", "created_at"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    agency_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("agencies.id"))
    status: Mapped[NoticeStatus] = mapped_column(
        _enum(NoticeStatus, "notice_status"), default=NoticeStatus.PENDING, index=True
    )
    cap_status: Mapped[CapStatus] = mapped_column(
        _enum(CapStatus, "cap_status"), default=CapStatus.ACTUAL, server_default="Actual"
    )
    # Set when an operator submitted the notice on an agency's behalf: the two-person rule.
    submitted_by_operator_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("operators.id"))
    # The agency key it was submitted with: its issuer may not approve it either.
    submitted_with_key_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("agency_keys.id"))
    person_name: Mapped[str] = mapped_column(String(200))
    person_age: Mapped[int | None] = mapped_column(Integer)
    person_sex: Mapped[Sex] = mapped_column(_enum(Sex, "sex"))
    person_description: Mapped[str] = mapped_column(Text)
    photo_url: Mapped[str | None] = mapped_column(String(2048))
    last_seen_lat: Mapped[float] = mapped_column(Float)
    last_seen_lon: Mapped[float] = mapped_column(Float)
    last_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_seen_place: Mapped[str] = mapped_column(String(500))
    radius_km: Mapped[float | None] = mapped_column(Float)
    # Drawn target areas (circles and GeoJSON polygons, as the API takes them); when absent
    # the notice targets the circle of `radius_km` around the last-seen place.
    target_areas: Mapped[list[dict[str, Any]] | None] = mapped_column(JSONB)
    location_window_hours: Mapped[float] = mapped_column(Float, server_default=text("72"))
    # The dispatch round the notice is on: approval starts round 1, each expansion step or
    # update of an active notice the next; the reconciler re-queues a round with no chunks.
    broadcast_round: Mapped[int] = mapped_column(Integer, default=1, server_default=text("1"))
    contact: Mapped[str] = mapped_column(String(500))
    language: Mapped[str] = mapped_column(String(35))
    created_at: Mapped[datetime] = _now_column()
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    decision_reason: Mapped[str | None] = mapped_column(String(500))
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Localized texts, one per language of a CAP alert's <info> blocks:
    # {language: {"headline": …, "description": …, "instruction": …}}.
    texts: Mapped[dict[str, dict[str, str]] | None] = mapped_column(JSONB)
    # How often the agency has updated the notice; CAP exports name each update by it.
    revision: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    revised_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class ChangeStatus(enum.StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


class ChangeKind(enum.StrEnum):
    UPDATE = "update"
    EXPANSION = "expansion"


class NoticeChange(Base):
    """A change to an approved Actual notice that widens or moves its area or changes its
    text or photo, waiting for a second person: it takes effect only when an operator other
    than whoever proposed it (or issued the key it came with) approves it. `changes` is the
    request as proposed: a NoticeUpdate with CAP texts, or an expansion schedule."""

    __tablename__ = "notice_changes"
    __table_args__ = (Index("ix_notice_changes_notice", "notice_id", "created_at"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    notice_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("notices.id"))
    kind: Mapped[ChangeKind] = mapped_column(_enum(ChangeKind, "change_kind"))
    changes: Mapped[dict[str, Any]] = mapped_column(JSONB)
    status: Mapped[ChangeStatus] = mapped_column(
        _enum(ChangeStatus, "change_status"), default=ChangeStatus.PENDING
    )
    proposed_by_type: Mapped[ActorType] = mapped_column(_enum(ActorType, "actor_type"))
    proposed_by_id: Mapped[uuid.UUID | None] = mapped_column()
    # The operator who proposed it, or who issued the agency key it was proposed with.
    proposer_operator_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("operators.id"))
    created_at: Mapped[datetime] = _now_column()
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    decided_by_operator_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("operators.id"))
    decision_reason: Mapped[str | None] = mapped_column(String(500))


class CapMessage(Base):
    """A CAP message an agency posted and the notice it created or changed. CAP names earlier
    messages by sender and identifier (`references`), so Updates and Cancels find their
    notice here; a message is accepted once per agency."""

    __tablename__ = "cap_messages"
    __table_args__ = (UniqueConstraint("agency_id", "sender", "identifier"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    agency_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("agencies.id"))
    notice_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("notices.id"), index=True)
    sender: Mapped[str] = mapped_column(String(255))
    identifier: Mapped[str] = mapped_column(String(255))
    sent: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    msg_type: Mapped[str] = mapped_column(String(16))
    received_at: Mapped[datetime] = _now_column()


class ExpansionStep(Base):
    """A planned widening of a notice's circle: `after_minutes` past approval its radius
    becomes `radius_km`, and the broadcast reaches the devices not notified yet."""

    __tablename__ = "expansion_steps"
    __table_args__ = (UniqueConstraint("notice_id", "after_minutes"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    notice_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("notices.id"), index=True)
    after_minutes: Mapped[float] = mapped_column(Float)
    radius_km: Mapped[float] = mapped_column(Float)
    applied_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Device(Base):
    """An app install. `h3_cell` is the resolution-15 H3 index of `location`: selection scans
    ranges of it (every descendant of a coarser cell is one contiguous id range)."""

    __tablename__ = "devices"
    __table_args__ = (
        # Covering every column selection reads: recipients are selected and counted from
        # the index alone, in cell order, without a heap visit per device.
        Index(
            "ix_devices_h3_cell",
            "h3_cell",
            postgresql_include=[
                "located_at",
                "location",
                "id",
                "fcm_token",
                "locale",
                "test_device",
                "alerts_paused",
            ],
            postgresql_where=text("active"),
        ),
        # For counting only (the reach preview): entries an eighth the size of the covering
        # index's. `location IS NOT NULL` in its predicate is redundant with h3_cell (both are
        # set together) but is not implied by selection's WHERE, so the planner can never
        # trade selection's index-only scan for this index plus a heap visit per device.
        Index(
            "ix_devices_h3_cell_located_at",
            "h3_cell",
            "located_at",
            postgresql_where=text("active AND location IS NOT NULL"),
        ),
        Index("ix_devices_location", "location", postgresql_using="gist"),
        Index("ix_devices_registered_from_created", "registered_from", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    fcm_token: Mapped[str] = mapped_column(String(4096), unique=True)
    platform: Mapped[Platform] = mapped_column(_enum(Platform, "platform"))
    locale: Mapped[str] = mapped_column(String(35))
    credential_hash: Mapped[str] = mapped_column(String(64), unique=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=text("true"))
    test_device: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    # The app user paused alerts: broadcasts still reach the device, as a suppressed delivery.
    alerts_paused: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=text("false")
    )
    location = mapped_column(Geography("POINT", srid=4326, spatial_index=False), nullable=True)
    h3_cell: Mapped[int | None] = mapped_column(BigInteger)
    accuracy_m: Mapped[float | None] = mapped_column(Float)
    located_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The client address that registered the device: registrations are limited per client.
    registered_from: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = _now_column()
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )


class DeviceClaim(Base):
    """A challenge sent through FCM to a token that is registered already: whoever registers
    it again must send the code back, which only the app holding the token received, before
    the device (and its location) is handed over. The code is stored as its SHA-256."""

    __tablename__ = "device_claims"
    __table_args__ = (
        Index("ix_device_claims_token_created", "fcm_token", "created_at"),
        Index("ix_device_claims_client_created", "client", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    fcm_token: Mapped[str] = mapped_column(String(4096))
    client: Mapped[str | None] = mapped_column(String(64))
    code_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = _now_column()
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class DeviceTally(Base):
    """How many active located devices the cell (`resolution`, first resolution-15 id
    `cell_lo`) held per hour of `located_at`, when the tally was last taken: see
    geo.tallies. Rebuilt by Celery beat; nothing else writes it. Migration 0010 sets its
    fillfactor to 70, so that updated rows stay on their page, near their neighbours."""

    __tablename__ = "device_tallies"

    resolution: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    cell_lo: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    located_hour: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    devices: Mapped[int] = mapped_column(Integer)


class DeviceTallyState(Base):
    """When the device tally was last taken: one row, or none before the first tally."""

    __tablename__ = "device_tally_state"
    __table_args__ = (CheckConstraint("singleton", name="singleton"),)

    singleton: Mapped[bool] = mapped_column(
        Boolean, primary_key=True, default=True, server_default=text("true")
    )
    tallied_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Delivery(Base):
    """One row per (notice, device): the unique constraint is what makes a push happen once.

    A pending delivery belongs to the worker whose lease (`lease_until`) has not run out; the
    lease's expiry time is also its identity, so a worker sends only rows still carrying the
    lease it was given. A pending delivery without a live lease is the reconciler's to send
    again, once `next_attempt_at` (set by the retry policy) has come. `error_code` is the last
    error: on a pending row the one being retried, on a failed row the final one."""

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("notice_id", "device_id"),
        # Pending rows are few (in flight or waiting for a retry): the reconciler, completion
        # checks and metrics read them through this index, never the whole table.
        Index("ix_deliveries_pending", "notice_id", postgresql_where=text("status = 'pending'")),
        # The daily cap counts a device's alerts of the last 24 hours through it.
        Index("ix_deliveries_device_claimed", "device_id", "claimed_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    notice_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("notices.id"))
    # NULL once the device was erased: the delivery stays, anonymous, in the notice's counts.
    device_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("devices.id", ondelete="SET NULL")
    )
    status: Mapped[DeliveryStatus] = mapped_column(
        _enum(DeliveryStatus, "delivery_status"), default=DeliveryStatus.PENDING
    )
    error_code: Mapped[str | None] = mapped_column(String(64))
    message_name: Mapped[str | None] = mapped_column(String(200))
    claimed_at: Mapped[datetime] = _now_column()
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Attempts whose outcome was recorded: a send cut short by a dying worker is not counted.
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class DispatchChunk(Base):
    """A slice of one broadcast round's cover, claimed by one `notifier.send_chunk` task.

    A round is one run of a notice's broadcast (approval is round 1; a wider area or an update
    can start another); its chunks are written in one transaction before any is queued, so a
    lost task leaves a pending row for the reconciler rather than a hole. `lease_until` is
    when the queued task should have claimed it by; the reconciler queues it again after.

    A round's last chunk is its sweep: it covers the whole area, is queued again by each
    other chunk's claim, and once none of them is pending claims the devices inside that
    none of them reached. A
    device whose report moved it from a chunk not yet claimed into one already claimed is
    in neither when each is claimed; the sweep finds it where it is then."""

    __tablename__ = "dispatch_chunks"
    __table_args__ = (
        Index("ix_dispatch_chunks_notice_id", "notice_id", "round"),
        Index(
            "ix_dispatch_chunks_pending",
            "lease_until",
            postgresql_where=text("status = 'pending'"),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    notice_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("notices.id"))
    round: Mapped[int] = mapped_column(Integer)
    # [[lo, hi, inside], ...]: resolution-15 id ranges, as notifier.dispatch encodes them.
    ranges: Mapped[list[list[int]]] = mapped_column(JSONB)
    status: Mapped[ChunkStatus] = mapped_column(
        _enum(ChunkStatus, "chunk_status"), default=ChunkStatus.PENDING
    )
    lease_until: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    attempts: Mapped[int] = mapped_column(Integer, default=1, server_default=text("1"))
    created_at: Mapped[datetime] = _now_column()
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    sweep: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))


class IdempotencyKey(Base):
    """An agency's `Idempotency-Key` and the notice its first request created. The primary key
    is what lets concurrent duplicates create exactly one notice: the second insert waits for
    the first transaction and then finds its row. The notice is inserted after its key, in the
    same transaction, so the foreign key is checked at commit."""

    __tablename__ = "idempotency_keys"

    agency_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("agencies.id"), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    notice_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("notices.id", deferrable=True, initially="DEFERRED")
    )
    created_at: Mapped[datetime] = _now_column()


class Sighting(Base):
    """A report from an app user who believes they saw the person of an active notice."""

    __tablename__ = "sightings"
    __table_args__ = (
        Index("ix_sightings_notice_created", "notice_id", "created_at"),
        Index("ix_sightings_device_created", "device_id", "created_at"),
        Index("ix_sightings_client_created", "client", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    notice_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("notices.id"))
    # NULL once the reporting device was erased: the agency keeps what was reported.
    device_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("devices.id", ondelete="SET NULL")
    )
    seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    accuracy_m: Mapped[float | None] = mapped_column(Float)
    text: Mapped[str] = mapped_column(Text)
    contact: Mapped[str | None] = mapped_column(String(200))
    client: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = _now_column()


class AgencyWebhook(Base):
    """Where an agency wants its events, and the secret they are signed with. The secret is
    kept readable because HMAC signing needs it; it is shown to the agency only when issued."""

    __tablename__ = "agency_webhooks"

    agency_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("agencies.id"), primary_key=True)
    url: Mapped[str] = mapped_column(String(2048))
    secret: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = _now_column()


class WebhookEventStatus(enum.StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


class WebhookEvent(Base):
    """The outbox: an event is written in the transaction that caused it, so it survives a
    broker outage; `next_attempt_at` is when it is due (or, while an attempt runs, when that
    attempt's lease runs out)."""

    __tablename__ = "webhook_events"
    __table_args__ = (
        Index("ix_webhook_events_agency_created", "agency_id", "created_at"),
        Index(
            "ix_webhook_events_due",
            "next_attempt_at",
            postgresql_where=text("status = 'pending'"),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    agency_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("agencies.id"))
    event_type: Mapped[str] = mapped_column(String(40))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[WebhookEventStatus] = mapped_column(
        _enum(WebhookEventStatus, "webhook_event_status"), default=WebhookEventStatus.PENDING
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    next_attempt_at: Mapped[datetime] = _now_column()
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = _now_column()
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class AuditEvent(Base):
    """Append-only: a trigger refuses UPDATE and DELETE (migration 0006). One row per
    lifecycle step and per account or key change, written in the same transaction."""

    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_events_notice", "notice_id", "id"),
        # Reach previews per operator are limited by counting their audit rows.
        Index("ix_audit_events_actor_action_at", "actor_id", "action", "at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = _now_column()
    actor_type: Mapped[ActorType] = mapped_column(_enum(ActorType, "actor_type"))
    actor_id: Mapped[uuid.UUID | None] = mapped_column()
    action: Mapped[str] = mapped_column(String(64))
    notice_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("notices.id"))
    details: Mapped[dict[str, Any]] = mapped_column(
        JSONB, default=dict, server_default=text("'{}'::jsonb")
    )


class OutboxTask(Base):
    """A Celery task whose send failed after its transaction committed (the broker was down):
    kept here until the relay (`kit.relay_outbox`, on beat) sends it."""

    __tablename__ = "task_outbox"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    task: Mapped[str] = mapped_column(String(100))
    args: Mapped[list[Any]] = mapped_column(JSONB)
    created_at: Mapped[datetime] = _now_column()


class TaskFailure(Base):
    """How often a task raised for one subject (its first argument: a notice's id, say), for
    /metrics and so that work that keeps failing on the same data is not queued forever."""

    __tablename__ = "task_failures"

    task: Mapped[str] = mapped_column(String(100), primary_key=True)
    subject: Mapped[str] = mapped_column(String(100), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer)
    last_error: Mapped[str] = mapped_column(String(500))
    last_failed_at: Mapped[datetime] = _now_column()
