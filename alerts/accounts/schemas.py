"""Operator account, login, agency and agency key bodies."""

import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
)

from alerts.fields import Name, Request, Verbatim
from alerts.notices.schemas import _AGENCY_ID_EXAMPLE, _OPERATOR_ID_EXAMPLE
from kit.models import (
    AgencyKey,
    KeyScope,
    Operator,
    OperatorRole,
)


class AgencyCreate(Request):
    model_config = ConfigDict(json_schema_extra={"examples": [{"name": "Thames Valley Police"}]})

    name: Name = Field(min_length=1, max_length=200)


class AgencyCreated(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "0b7d3f7e-9c1a-4d2e-8f60-5a4b3c2d1e0f",
                    "name": "Thames Valley Police",
                    "api_key": "hxa_3q2-7wZ…",
                }
            ]
        }
    )

    id: uuid.UUID
    name: str
    api_key: str = Field(description="Shown once; send it as the X-API-Key header")


Email = Annotated[
    str,
    Field(
        max_length=254,
        pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$",
        examples=["ana.lima@hexcast.example"],
    ),
    AfterValidator(str.lower),
]

# NIST SP 800-63B: length, not composition rules; spaces are kept, as typed.
Password = Annotated[
    str, StringConstraints(strip_whitespace=False, min_length=12, max_length=256), Verbatim()
]

GivenPassword = Annotated[
    str, StringConstraints(strip_whitespace=False, min_length=1, max_length=256), Verbatim()
]

DisplayName = Annotated[Name, Field(min_length=1, max_length=200)]


class OperatorLogin(Request):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"email": "ana.lima@hexcast.example", "password": "correct horse battery"}]
        }
    )

    email: Email
    password: GivenPassword
    known_client: str | None = Field(
        None,
        min_length=1,
        max_length=100,
        description="The `known_client` of an earlier login of this account (browsers send "
        "the hexcast_known_client cookie instead): its logins are not slowed down by failed "
        "logins from elsewhere",
    )


_OPERATOR_EXAMPLE: dict[str, Any] = {
    "id": _OPERATOR_ID_EXAMPLE,
    "email": "ana.lima@hexcast.example",
    "display_name": "Ana Lima",
    "role": "reviewer",
    "active": True,
    "created_at": "2026-11-23T08:00:00Z",
}


class OperatorOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [_OPERATOR_EXAMPLE]})

    id: uuid.UUID
    email: str
    display_name: str
    role: OperatorRole
    active: bool
    created_at: datetime

    @classmethod
    def from_operator(cls, operator: Operator) -> "OperatorOut":
        return cls(
            id=operator.id,
            email=operator.email,
            display_name=operator.display_name,
            role=operator.role,
            active=operator.active,
            created_at=operator.created_at,
        )


class OperatorSessionOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "token": "hxo_Qm9…",
                    "expires_at": "2026-11-23T20:00:00Z",
                    "operator": _OPERATOR_EXAMPLE,
                }
            ]
        }
    )

    token: str = Field(description="Shown once; send it as `Authorization: Bearer <token>`")
    known_client: str = Field(
        description="Keep it and send it with later logins (also set as the "
        "hexcast_known_client cookie): they stay possible while others guess the password"
    )
    expires_at: datetime
    operator: OperatorOut


class OperatorCreate(Request):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "email": "ana.lima@hexcast.example",
                    "display_name": "Ana Lima",
                    "role": "reviewer",
                    "password": "a long initial passphrase",
                }
            ]
        }
    )

    email: Email
    display_name: DisplayName
    role: OperatorRole
    password: Password


class OperatorUpdate(Request):
    """Omitted fields stay as they are."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"role": "admin"}, {"active": False}]}
    )

    display_name: DisplayName | None = None
    role: OperatorRole | None = None
    active: bool | None = None


class PasswordChange(Request):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "current_password": "a long initial passphrase",
                    "new_password": "another long passphrase",
                }
            ]
        }
    )

    current_password: GivenPassword
    new_password: Password


class AgencyOut(BaseModel):
    id: uuid.UUID
    name: str
    created_at: datetime


class AgencyPage(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "items": [
                        {
                            "id": _AGENCY_ID_EXAMPLE,
                            "name": "Thames Valley Police",
                            "created_at": "2026-11-23T08:00:00Z",
                        }
                    ],
                    "total": 1,
                }
            ]
        }
    )

    items: list[AgencyOut]
    total: int


MAX_KEY_LIFETIME = timedelta(days=3653)
"""Ten years: a key meant to last longer needs no `expires_at`. Unbounded, a time such as
9999-12-31T23:59-05:00 is stored (year 10000 in UTC) and no later read can load the key."""


def future(value: datetime) -> datetime:
    now = datetime.now(UTC)
    if value <= now:
        raise ValueError("must be in the future")
    if value > now + MAX_KEY_LIFETIME:
        raise ValueError("must be within ten years; leave it out for a key that does not expire")
    return value


class AgencyKeyCreate(Request):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"scopes": ["notices:read"], "label": "dashboard", "expires_at": None},
                {"scopes": ["notices:read", "notices:write"], "label": "dispatch system"},
            ]
        }
    )

    scopes: list[KeyScope] = Field(
        min_length=1, max_length=len(KeyScope), description="What the key may do"
    )
    label: Name | None = Field(None, min_length=1, max_length=100)
    expires_at: Annotated[AwareDatetime, AfterValidator(future)] | None = Field(
        None, description="The key stops working then; none: until revoked"
    )

    @field_validator("scopes")
    @classmethod
    def _distinct(cls, scopes: list[KeyScope]) -> list[KeyScope]:
        if len(set(scopes)) != len(scopes):
            raise ValueError("must not repeat a scope")
        return scopes


class AgencyKeyOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "5c4b3a29-1807-4f6e-9d5c-4b3a29180706",
                    "agency_id": _AGENCY_ID_EXAMPLE,
                    "prefix": "hxa_3q2-7wZk",
                    "label": "dispatch system",
                    "scopes": ["notices:read", "notices:write"],
                    "created_at": "2026-11-23T08:00:00Z",
                    "expires_at": None,
                    "revoked_at": None,
                }
            ]
        }
    )

    id: uuid.UUID
    agency_id: uuid.UUID
    prefix: str = Field(description="The key's first characters, to tell keys apart")
    label: str | None
    scopes: list[KeyScope]
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None

    @classmethod
    def from_key(cls, key: AgencyKey) -> "AgencyKeyOut":
        return cls(
            id=key.id,
            agency_id=key.agency_id,
            prefix=key.prefix,
            label=key.label,
            scopes=[KeyScope(s) for s in key.scopes],
            created_at=key.created_at,
            expires_at=key.expires_at,
            revoked_at=key.revoked_at,
        )


class AgencyKeyCreated(AgencyKeyOut):
    api_key: str = Field(description="Shown once; send it as the X-API-Key header")


class KeyRotation(Request):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"overlap_hours": 24}, {"overlap_hours": 0}]}
    )

    overlap_hours: float = Field(
        24, ge=0, le=720, description="How long the old key keeps working (default 24 h)"
    )
    label: Name | None = Field(None, min_length=1, max_length=100)


class KeyRotated(BaseModel):
    old: AgencyKeyOut = Field(description="The rotated key, with the time it stops working")
    new: AgencyKeyCreated
