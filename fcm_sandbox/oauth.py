"""The checks Google's token endpoint applies to a service account's JWT-bearer grant.

google-auth signs the assertion with `aud` set to Google's token URL whatever the credential's
`token_uri` says, so that audience is accepted besides the sandbox's own URL. Only assertions
signed by a key the sandbox issued are granted: anyone who can reach it could otherwise mint
tokens and send as hexcast.
"""

from collections.abc import Collection, Mapping
from typing import Any, Final, TypeGuard

import jwt

from fcm_sandbox.credentials import ServiceAccountKey

JWT_BEARER_GRANT: Final = "urn:ietf:params:oauth:grant-type:jwt-bearer"
GOOGLE_TOKEN_URL: Final = "https://oauth2.googleapis.com/token"
MAX_ASSERTION_LIFETIME_S: Final = 3600

_TIMEFRAME = (
    "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. "
    "Check your iat and exp values in the JWT claim."
)


class GrantError(ValueError):
    """A refused token request, carrying Google's OAuth `error` and `error_description`."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(f"{error}: {description}")
        self.error = error
        self.description = description


def _decode(
    assertion: str, keys: Mapping[str, ServiceAccountKey]
) -> tuple[dict[str, Any], ServiceAccountKey]:
    """Decode the JWT, verifying its RS256 signature with the key its `kid` names, which must
    be one of `keys`. Returns the claims and that key."""
    try:
        header = jwt.get_unverified_header(assertion)
        if header.get("alg") != "RS256":
            raise GrantError("invalid_grant", "Invalid JWT: alg must be RS256.")
        kid = header.get("kid")
        key = keys.get(kid) if isinstance(kid, str) else None
        if key is None:
            raise GrantError("invalid_grant", "Invalid JWT Signature.")
        claims = jwt.decode(
            assertion,
            key.public_key,
            algorithms=["RS256"],
            options={"verify_aud": False, "verify_exp": False, "verify_iat": False},
        )
    except jwt.InvalidSignatureError as exc:
        raise GrantError("invalid_grant", "Invalid JWT Signature.") from exc
    except jwt.InvalidTokenError as exc:
        raise GrantError("invalid_grant", f"Invalid JWT: {exc}") from exc
    return claims, key


def _is_number(value: object) -> TypeGuard[float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


def check_grant(
    form: Mapping[str, str],
    *,
    audiences: Collection[str],
    keys: Mapping[str, ServiceAccountKey],
    now: float,
) -> dict[str, Any]:
    """Return the assertion's claims if Google would grant a token for this form, else raise.

    `audiences` are the acceptable `aud` values (the URL posted to, plus GOOGLE_TOKEN_URL).
    """
    grant_type = form.get("grant_type")
    if not grant_type:
        raise GrantError("invalid_request", "Missing required parameter: grant_type")
    if grant_type != JWT_BEARER_GRANT:
        raise GrantError("unsupported_grant_type", f"Invalid grant_type: {grant_type}")
    assertion = form.get("assertion")
    if not assertion:
        raise GrantError("invalid_request", "Missing required parameter: assertion")
    claims, key = _decode(assertion, keys)
    iss = claims.get("iss")
    if not isinstance(iss, str) or not iss:
        raise GrantError("invalid_grant", "Invalid JWT: iss claim missing.")
    if iss != key.client_email:
        raise GrantError("invalid_grant", "Invalid grant: account not found")
    aud = claims.get("aud")
    if not isinstance(aud, str) or aud not in audiences:
        raise GrantError(
            "invalid_grant",
            f"Invalid JWT: Failed audience check. The right audience is {GOOGLE_TOKEN_URL}",
        )
    exp, iat = claims.get("exp"), claims.get("iat")
    if not _is_number(exp) or exp <= now:
        raise GrantError("invalid_grant", _TIMEFRAME)
    if iat is not None and (not _is_number(iat) or exp - iat > MAX_ASSERTION_LIFETIME_S):
        raise GrantError("invalid_grant", _TIMEFRAME)
    scope = claims.get("scope")
    if not isinstance(scope, str) or not scope.strip():
        raise GrantError("invalid_scope", "Empty or missing scope not allowed.")
    return claims
