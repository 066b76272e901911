"""Generated service accounts, and the token endpoint's checks on JWT-bearer grants."""

import json
import stat
import time
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from firebase_admin import credentials
from google.oauth2 import service_account

from fcm_sandbox.credentials import (
    ServiceAccountKey,
    ensure_service_account,
    load_service_account_key,
    read_service_account,
    write_service_account,
)
from fcm_sandbox.oauth import GOOGLE_TOKEN_URL, JWT_BEARER_GRANT, GrantError, check_grant

TOKEN_URL = "http://127.0.0.1:8765/token"
AUDIENCES = {TOKEN_URL, GOOGLE_TOKEN_URL}
SCOPE = "https://www.googleapis.com/auth/cloud-platform"


@pytest.fixture(scope="module")
def account(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    path = tmp_path_factory.mktemp("sa") / "service-account.json"
    return path, write_service_account(path, project_id="hexcast-dev", token_uri=TOKEN_URL)


@pytest.fixture(scope="module")
def keys(account: tuple[Path, dict[str, str]]) -> dict[str, ServiceAccountKey]:
    key = load_service_account_key(account[0])
    return {key.key_id: key}


def _assertion(info: dict[str, str], *, private_key: Any = None, **claims: Any) -> str:
    now = int(time.time())
    payload = {
        "iss": info["client_email"],
        "aud": GOOGLE_TOKEN_URL,
        "iat": now,
        "exp": now + 3600,
        "scope": SCOPE,
        **claims,
    }
    payload = {k: v for k, v in payload.items() if v is not None}
    key = private_key or info["private_key"]
    return jwt.encode(payload, key, algorithm="RS256", headers={"kid": info["private_key_id"]})


def _form(assertion: str) -> dict[str, str]:
    return {"grant_type": JWT_BEARER_GRANT, "assertion": assertion}


def test_written_account_is_a_firebase_certificate(account: tuple[Path, dict[str, str]]) -> None:
    path, info = account
    cert = credentials.Certificate(str(path))
    assert cert.project_id == "hexcast-dev"
    assert cert.service_account_email == info["client_email"]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_service_account_key(path).key_id == info["private_key_id"]


def test_google_auth_assertion_is_granted(
    account: tuple[Path, dict[str, str]], keys: dict[str, ServiceAccountKey]
) -> None:
    creds = service_account.Credentials.from_service_account_file(str(account[0]), scopes=[SCOPE])
    assertion = creds._make_authorization_grant_assertion()
    claims = check_grant(_form(assertion), audiences=AUDIENCES, keys=keys, now=time.time())
    assert claims["iss"] == account[1]["client_email"]


@pytest.mark.parametrize("aud", [TOKEN_URL, GOOGLE_TOKEN_URL])
def test_either_audience_is_granted(
    account: tuple[Path, dict[str, str]], keys: dict[str, ServiceAccountKey], aud: str
) -> None:
    form = _form(_assertion(account[1], aud=aud))
    assert check_grant(form, audiences=AUDIENCES, keys=keys, now=time.time())["aud"] == aud


def test_an_assertion_signed_by_a_key_the_sandbox_did_not_issue_is_refused(
    tmp_path: Path, keys: dict[str, ServiceAccountKey]
) -> None:
    """Whoever reaches the sandbox must not mint access tokens with a key of their own."""
    stranger = write_service_account(
        tmp_path / "stranger.json", project_id="hexcast-dev", token_uri=TOKEN_URL
    )
    with pytest.raises(GrantError, match="Invalid JWT Signature"):
        check_grant(_form(_assertion(stranger)), audiences=AUDIENCES, keys=keys, now=time.time())


@pytest.mark.parametrize(
    ("claims", "error", "description"),
    [
        ({"aud": "https://example.com/token"}, "invalid_grant", "Failed audience check"),
        ({"aud": None}, "invalid_grant", "Failed audience check"),
        ({"iss": None}, "invalid_grant", "iss claim missing"),
        ({"iss": "other@x.iam.gserviceaccount.com"}, "invalid_grant", "account not found"),
        ({"exp": int(time.time()) - 1}, "invalid_grant", "short-lived"),
        ({"exp": None}, "invalid_grant", "short-lived"),
        ({"exp": int(time.time()) + 7200}, "invalid_grant", "short-lived"),
        ({"scope": None}, "invalid_scope", "missing scope"),
        ({"scope": " "}, "invalid_scope", "missing scope"),
    ],
)
def test_bad_claims_are_refused(
    account: tuple[Path, dict[str, str]],
    keys: dict[str, ServiceAccountKey],
    claims: dict[str, Any],
    error: str,
    description: str,
) -> None:
    with pytest.raises(GrantError) as caught:
        check_grant(
            _form(_assertion(account[1], **claims)), audiences=AUDIENCES, keys=keys, now=time.time()
        )
    assert caught.value.error == error
    assert description in caught.value.description


def test_forged_signature_is_refused(
    account: tuple[Path, dict[str, str]], keys: dict[str, ServiceAccountKey]
) -> None:
    forger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    form = _form(_assertion(account[1], private_key=forger))
    with pytest.raises(GrantError, match="Invalid JWT Signature"):
        check_grant(form, audiences=AUDIENCES, keys=keys, now=time.time())


@pytest.mark.parametrize(
    ("form", "error"),
    [
        ({}, "invalid_request"),
        ({"grant_type": "password"}, "unsupported_grant_type"),
        ({"grant_type": JWT_BEARER_GRANT}, "invalid_request"),
        ({"grant_type": JWT_BEARER_GRANT, "assertion": "not-a-jwt"}, "invalid_grant"),
        (
            {"grant_type": JWT_BEARER_GRANT, "assertion": jwt.encode({"iss": "x"}, "k" * 32)},
            "invalid_grant",
        ),
    ],
)
def test_malformed_requests_are_refused(form: dict[str, str], error: str) -> None:
    with pytest.raises(GrantError) as caught:
        check_grant(form, audiences=AUDIENCES, keys={}, now=time.time())
    assert caught.value.error == error


def test_ensure_keeps_the_key_and_follows_the_port(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "sa.json"
    ensure_service_account(path, project_id="hexcast-dev", token_uri=TOKEN_URL)
    first = read_service_account(path)
    ensure_service_account(path, project_id="hexcast-dev", token_uri=TOKEN_URL)
    assert read_service_account(path) == first

    ensure_service_account(path, project_id="hexcast-dev", token_uri="http://127.0.0.1:1/token")

    assert read_service_account(path) == {**first, "token_uri": "http://127.0.0.1:1/token"}
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_ensure_never_rewrites_a_foreign_account(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "sa.json"
    path.write_text(
        json.dumps({"client_email": "prod@real.iam.gserviceaccount.com", "token_uri": "x"})
    )
    before = path.read_text()

    ensure_service_account(path, project_id="hexcast-dev", token_uri=TOKEN_URL)

    assert path.read_text() == before
    assert "not a sandbox account" in caplog.text
