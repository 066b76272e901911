"""Error bodies in the exact shapes FCM v1 and Google's OAuth endpoint use.

firebase-admin picks its exception class from `details[].errorCode` (FcmError) first and from
`status` second, and google-auth reads `error`/`error_description`; matching these shapes is what
makes the sandbox's failures surface in the SDK as the same exceptions production would raise.
"""

from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Final

FCM_ERROR_TYPE: Final = "type.googleapis.com/google.firebase.fcm.v1.FcmError"
BAD_REQUEST_TYPE: Final = "type.googleapis.com/google.rpc.BadRequest"


@dataclass(frozen=True, slots=True)
class FcmErrorKind:
    """How FCM reports one `FcmError.errorCode`: HTTP status, google.rpc status, usual message."""

    http_status: int
    status: str
    message: str


FCM_ERRORS: Final = MappingProxyType(
    {
        "INVALID_ARGUMENT": FcmErrorKind(
            400, "INVALID_ARGUMENT", "Request contains an invalid argument."
        ),
        "THIRD_PARTY_AUTH_ERROR": FcmErrorKind(
            401, "UNAUTHENTICATED", "Auth error from APNS or Web Push Service"
        ),
        "SENDER_ID_MISMATCH": FcmErrorKind(403, "PERMISSION_DENIED", "SenderId mismatch"),
        "UNREGISTERED": FcmErrorKind(404, "NOT_FOUND", "Requested entity was not found."),
        "QUOTA_EXCEEDED": FcmErrorKind(
            429, "RESOURCE_EXHAUSTED", "Quota exceeded for quota metric 'Send requests'."
        ),
        "INTERNAL": FcmErrorKind(500, "INTERNAL", "Internal error encountered."),
        "UNAVAILABLE": FcmErrorKind(503, "UNAVAILABLE", "The service is currently unavailable."),
    }
)
"""The FCM error codes the sandbox can produce, keyed by `errorCode`."""

RETRY_AFTER_STATUSES: Final = frozenset({429, 503})
"""Statuses on which FCM may send `Retry-After` (and on which clients should honour it)."""


def fcm_error_body(
    code: str, message: str | None = None, *, field: str | None = None
) -> dict[str, Any]:
    """Build FCM's error JSON for `code`; `field` adds the BadRequest violation FCM attaches."""
    kind = FCM_ERRORS[code]
    text = message or kind.message
    details: list[dict[str, Any]] = [{"@type": FCM_ERROR_TYPE, "errorCode": code}]
    if field is not None:
        details.append(
            {"@type": BAD_REQUEST_TYPE, "fieldViolations": [{"field": field, "description": text}]}
        )
    return {
        "error": {
            "code": kind.http_status,
            "message": text,
            "status": kind.status,
            "details": details,
        }
    }


def unauthenticated_body() -> dict[str, Any]:
    """Google's 401 for a missing or unknown bearer token (no FcmError detail, as upstream)."""
    return {
        "error": {
            "code": 401,
            "message": (
                "Request had invalid authentication credentials. Expected OAuth 2 access token, "
                "login cookie or other valid authentication credential."
            ),
            "status": "UNAUTHENTICATED",
        }
    }


def oauth_error_body(error: str, description: str) -> dict[str, str]:
    """Google OAuth token endpoint error JSON, which google-auth turns into a RefreshError."""
    return {"error": error, "error_description": description}
