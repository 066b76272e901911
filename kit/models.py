"""Every ORM model in one module, so `alerts`, `geo` and `notifier` share tables without cycles."""

import enum
import uuid
from datetime import datetime

from geoalchemy2 import Geography
from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

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


class Agency(Base):
    __tablename__ = "agencies"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    api_key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = _now_column()


class Notice(Base):
    __tablename__ = "notices"
    __table_args__ = (Index("ix_notices_agency_created", "agency_id", "created_at"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    agency_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("agencies.id"))
    status: Mapped[NoticeStatus] = mapped_column(
        _enum(NoticeStatus, "notice_status"), default=NoticeStatus.PENDING, index=True
    )
    person_name: Mapped[str] = mapped_column(String(200))
    person_age: Mapped[int | None] = mapped_column(Integer)
    person_sex: Mapped[Sex] = mapped_column(_enum(Sex, "sex"))
    person_description: Mapped[str] = mapped_column(Text)
    photo_url: Mapped[str | None] = mapped_column(String(2048))
    last_seen_lat: Mapped[float] = mapped_column(Float)
    last_seen_lon: Mapped[float] = mapped_column(Float)
    last_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_seen_place: Mapped[str] = mapped_column(String(500))
    radius_km: Mapped[float] = mapped_column(Float)
    location_window_hours: Mapped[float] = mapped_column(Float, server_default=text("72"))
    contact: Mapped[str] = mapped_column(String(500))
    language: Mapped[str] = mapped_column(String(35))
    created_at: Mapped[datetime] = _now_column()
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    decision_reason: Mapped[str | None] = mapped_column(String(500))
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


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
            postgresql_include=["located_at", "location", "id", "fcm_token", "locale"],
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
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    fcm_token: Mapped[str] = mapped_column(String(4096), unique=True)
    platform: Mapped[Platform] = mapped_column(_enum(Platform, "platform"))
    locale: Mapped[str] = mapped_column(String(35))
    credential_hash: Mapped[str] = mapped_column(String(64), unique=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=text("true"))
    location = mapped_column(Geography("POINT", srid=4326, spatial_index=False), nullable=True)
    h3_cell: Mapped[int | None] = mapped_column(BigInteger)
    accuracy_m: Mapped[float | None] = mapped_column(Float)
    located_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = _now_column()
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )


class Delivery(Base):
    """One row per (notice, device): the unique constraint is what makes a push happen once."""

    __tablename__ = "deliveries"
    __table_args__ = (UniqueConstraint("notice_id", "device_id"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    notice_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("notices.id"))
    device_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("devices.id"))
    status: Mapped[DeliveryStatus] = mapped_column(
        _enum(DeliveryStatus, "delivery_status"), default=DeliveryStatus.PENDING
    )
    error_code: Mapped[str | None] = mapped_column(String(64))
    message_name: Mapped[str | None] = mapped_column(String(200))
    claimed_at: Mapped[datetime] = _now_column()
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
