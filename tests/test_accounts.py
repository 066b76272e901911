"""Operator accounts through the HTTP API: admins create them, people log in with a password
and get a session token that ends at logout, at expiry or when the account is deactivated;
reviewers decide on notices, admins also manage accounts. The bootstrap credential acts as an
admin that cannot log in."""

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text, update

from alerts.accounts.service import BOOTSTRAP_OPERATOR_ID
from kit.config import get_settings
from kit.db import get_sessionmaker, session_scope
from kit.models import OperatorSession
from tests.helpers import PASSWORD, create_operator, log_in, notice_body

ANA = "ana.lima@hexcast.example"


def _me(api: httpx.Client, headers: dict[str, str]) -> httpx.Response:
    return api.get("/v1/operator/me", headers=headers)


def test_an_admin_creates_a_reviewer_who_logs_in_and_acts_as_themselves(
    api: httpx.Client, admin_headers: dict[str, str], agency_headers: dict[str, str]
) -> None:
    created = create_operator(api, admin_headers, ANA, role="reviewer")
    assert created["email"] == ANA
    assert (created["role"], created["active"]) == ("reviewer", True)
    assert "password" not in str(created)

    login = api.post(
        "/v1/operator/login", json={"email": "Ana.Lima@HEXCAST.example", "password": PASSWORD}
    )

    assert login.status_code == 200, login.text
    session = login.json()
    assert session["token"].startswith("hxo_")
    assert session["operator"] == created
    expires = datetime.fromisoformat(session["expires_at"])
    assert abs(expires - (datetime.now(UTC) + timedelta(hours=12))) < timedelta(minutes=1)
    headers = {"Authorization": f"Bearer {session['token']}"}
    assert _me(api, headers).json() == created
    notice = api.post("/v1/notices", json=notice_body(), headers=agency_headers).json()
    approved = api.post(f"/v1/operator/notices/{notice['id']}/approve", headers=headers)
    assert approved.status_code == 200, approved.text


@pytest.mark.parametrize(
    ("email", "password"),
    [(ANA, "not the password"), ("nobody@hexcast.example", PASSWORD), (ANA, PASSWORD + " ")],
    ids=["wrong password", "unknown email", "password with a trailing space"],
)
def test_a_wrong_email_or_password_is_the_same_401(
    api: httpx.Client, admin_headers: dict[str, str], email: str, password: str
) -> None:
    create_operator(api, admin_headers, ANA)
    response = api.post("/v1/operator/login", json={"email": email, "password": password})
    assert response.status_code == 401, response.text
    assert response.json() == {"detail": "wrong email or password", "code": "unauthenticated"}


def test_passwords_and_tokens_are_stored_only_as_hashes(
    api: httpx.Client, admin_headers: dict[str, str]
) -> None:
    create_operator(api, admin_headers, ANA)
    token = log_in(api, ANA)["Authorization"].removeprefix("Bearer ")
    with get_sessionmaker()() as session:
        operators = session.scalars(text("SELECT to_jsonb(o)::text FROM operators o")).all()
        sessions = session.scalars(text("SELECT to_jsonb(s)::text FROM operator_sessions s")).all()
        [stored_hash] = session.scalars(
            text("SELECT password_hash FROM operators WHERE email = :e"), {"e": ANA}
        ).all()
    assert not any(PASSWORD in row for row in operators)
    assert not any(token in row for row in sessions)
    assert stored_hash.startswith(f"scrypt${get_settings().password_hash_log2_n}$8$1$")


def test_logout_ends_that_session_only(api: httpx.Client, admin_headers: dict[str, str]) -> None:
    create_operator(api, admin_headers, ANA)
    laptop, phone = log_in(api, ANA), log_in(api, ANA)

    response = api.post("/v1/operator/logout", headers=laptop)

    assert response.status_code == 204, response.text
    gone = _me(api, laptop)
    assert gone.status_code == 401
    assert gone.json()["detail"] == "unknown operator credential"
    assert _me(api, phone).status_code == 200


def test_an_expired_session_is_401_and_asks_to_log_in_again(
    api: httpx.Client, admin_headers: dict[str, str]
) -> None:
    create_operator(api, admin_headers, ANA)
    headers = log_in(api, ANA)
    assert _me(api, headers).status_code == 200
    with session_scope() as session:  # twelve hours later
        session.execute(
            update(OperatorSession).values(
                expires_at=OperatorSession.expires_at - timedelta(hours=12)
            )
        )
    response = _me(api, headers)
    assert response.status_code == 401
    assert response.json()["detail"] == "expired operator session; log in again"


def _failed_logins(api: httpx.Client, email: str, count: int) -> None:
    for _ in range(count):
        wrong = api.post("/v1/operator/login", json={"email": email, "password": "guess"})
        assert wrong.status_code == 401, wrong.text


def _age_failures(seconds: int) -> None:
    """Move every recorded failure `seconds` into the past, instead of waiting."""
    with session_scope() as session:
        session.execute(
            text(
                "UPDATE operator_login_failures"
                " SET failed_at = failed_at - make_interval(secs => :s)"
            ),
            {"s": seconds},
        )


def test_guessing_one_account_is_slowed_down_more_with_each_failure(
    api: httpx.Client, admin_headers: dict[str, str]
) -> None:
    create_operator(api, admin_headers, ANA)
    free = get_settings().login_failures_free
    _failed_logins(api, ANA, free)

    refused = api.post("/v1/operator/login", json={"email": ANA, "password": PASSWORD})
    assert refused.status_code == 429, refused.text
    assert int(refused.headers["Retry-After"]) == 1
    # Another account is not slowed down by the guesses.
    create_operator(api, admin_headers, "joao.silva@hexcast.example")
    log_in(api, "joao.silva@hexcast.example")

    _age_failures(1)
    _failed_logins(api, ANA, 1)
    again = api.post("/v1/operator/login", json={"email": ANA, "password": PASSWORD})
    assert (again.status_code, again.headers["Retry-After"]) == (429, "2"), "the delay doubles"
    _age_failures(2)
    log_in(api, ANA)


def test_failures_older_than_the_window_are_forgotten_whatever_email_they_named(
    api: httpx.Client,
) -> None:
    _failed_logins(api, "once@hexcast.example", 1)
    _age_failures(16 * 60)

    _failed_logins(api, "nobody@hexcast.example", 1)

    with session_scope() as session:
        emails = session.scalars(text("SELECT email FROM operator_login_failures")).all()
    assert emails == ["nobody@hexcast.example"]


def test_unknown_emails_are_throttled_like_accounts(api: httpx.Client) -> None:
    nobody = "nobody@hexcast.example"
    _failed_logins(api, nobody, get_settings().login_failures_free)

    refused = api.post("/v1/operator/login", json={"email": nobody, "password": "guess"})

    assert refused.status_code == 429, refused.text


def test_a_successful_login_clears_the_failures(
    api: httpx.Client, admin_headers: dict[str, str]
) -> None:
    create_operator(api, admin_headers, ANA)
    free = get_settings().login_failures_free
    _failed_logins(api, ANA, free - 1)
    log_in(api, ANA)

    _failed_logins(api, ANA, free - 1)

    log_in(api, ANA)


def test_ten_wrong_passwords_do_not_stop_the_right_one_from_a_known_client(
    api: httpx.Client, admin_headers: dict[str, str]
) -> None:
    """Guessing from elsewhere slows the guesser, not the operator at a browser (or program)
    they logged in from before."""
    create_operator(api, admin_headers, ANA)
    office = TestClient(api.app, client=("192.0.2.10", 40000))
    first = office.post("/v1/operator/login", json={"email": ANA, "password": PASSWORD})
    assert first.status_code == 200, first.text
    assert first.json()["known_client"] == office.cookies["hexcast_known_client"]

    attacker = TestClient(api.app, client=("203.0.113.9", 40000))
    answers = []
    for _ in range(10):
        answers.append(
            attacker.post("/v1/operator/login", json={"email": ANA, "password": "guess"})
        )
        _age_failures(1)  # the attacker waits out the shorter delays
    assert {a.status_code for a in answers} == {401, 429}
    assert (
        attacker.post("/v1/operator/login", json={"email": ANA, "password": PASSWORD}).status_code
        == 429
    ), "the right password from an unknown client waits too"
    fresh_browser = TestClient(api.app, client=("192.0.2.10", 40001))
    assert (
        fresh_browser.post(
            "/v1/operator/login", json={"email": ANA, "password": PASSWORD}
        ).status_code
        == 429
    ), "without the known-client cookie, the same address waits too"

    by_cookie = office.post("/v1/operator/login", json={"email": ANA, "password": PASSWORD})
    by_body = attacker.post(
        "/v1/operator/login",
        json={"email": ANA, "password": PASSWORD, "known_client": first.json()["known_client"]},
    )
    assert by_cookie.status_code == 200, by_cookie.text
    assert by_body.status_code == 200, by_body.text
    other = create_operator(api, admin_headers, "joao.silva@hexcast.example")
    borrowed = attacker.post(
        "/v1/operator/login",
        json={
            "email": other["email"],
            "password": "guess",
            "known_client": first.json()["known_client"],
        },
    )
    assert borrowed.status_code == 401, "a known client counts for its own account only"


def test_deactivating_an_operator_ends_their_sessions_and_logins(
    api: httpx.Client, admin_headers: dict[str, str]
) -> None:
    ana = create_operator(api, admin_headers, ANA)
    headers = log_in(api, ANA)

    response = api.patch(
        f"/v1/operator/accounts/{ana['id']}", json={"active": False}, headers=admin_headers
    )

    assert response.status_code == 200, response.text
    assert response.json()["active"] is False
    assert _me(api, headers).status_code == 401
    again = api.post("/v1/operator/login", json={"email": ANA, "password": PASSWORD})
    assert again.status_code == 401
    reactivated = api.patch(
        f"/v1/operator/accounts/{ana['id']}", json={"active": True}, headers=admin_headers
    )
    assert reactivated.json()["active"] is True
    assert _me(api, log_in(api, ANA)).status_code == 200


def test_a_role_change_applies_to_the_next_request(
    api: httpx.Client, admin_headers: dict[str, str]
) -> None:
    ana = create_operator(api, admin_headers, ANA)
    headers = log_in(api, ANA)
    assert api.get("/v1/operator/accounts", headers=headers).status_code == 403

    promoted = api.patch(
        f"/v1/operator/accounts/{ana['id']}", json={"role": "admin"}, headers=admin_headers
    )

    assert promoted.json()["role"] == "admin"
    assert api.get("/v1/operator/accounts", headers=headers).status_code == 200


@pytest.mark.parametrize("change", [{"active": False}, {"role": "reviewer"}])
def test_nobody_demotes_or_deactivates_themselves(
    api: httpx.Client, admin_headers: dict[str, str], change: dict[str, object]
) -> None:
    me = _me(api, admin_headers).json()
    response = api.patch(f"/v1/operator/accounts/{me['id']}", json=change, headers=admin_headers)
    assert response.status_code == 409, response.text
    assert "themselves" in response.json()["detail"]
    assert _me(api, admin_headers).json() == me


def test_an_email_can_be_used_once(api: httpx.Client, admin_headers: dict[str, str]) -> None:
    create_operator(api, admin_headers, ANA)
    response = api.post(
        "/v1/operator/accounts",
        json={"email": ANA.upper(), "display_name": "Ana 2", "role": "admin", "password": PASSWORD},
        headers=admin_headers,
    )
    assert response.status_code == 409, response.text
    assert response.json()["detail"] == f"an operator with email {ANA!r} exists"


def test_admins_list_accounts_and_patch_unknown_is_404(
    api: httpx.Client, admin_headers: dict[str, str]
) -> None:
    create_operator(api, admin_headers, ANA)
    listed = api.get("/v1/operator/accounts", headers=admin_headers).json()
    assert [o["email"] for o in listed] == ["admin@hexcast.example", ANA, "bootstrap"]
    missing = api.patch(
        f"/v1/operator/accounts/{uuid.uuid4()}", json={"active": False}, headers=admin_headers
    )
    assert missing.status_code == 404


def test_changing_the_password_ends_the_other_sessions(
    api: httpx.Client, admin_headers: dict[str, str]
) -> None:
    create_operator(api, admin_headers, ANA)
    here, elsewhere = log_in(api, ANA), log_in(api, ANA)
    new_password = "a completely new passphrase"

    wrong = api.put(
        "/v1/operator/me/password",
        json={"current_password": "guess guess guess", "new_password": new_password},
        headers=here,
    )
    assert wrong.status_code == 403, wrong.text
    response = api.put(
        "/v1/operator/me/password",
        json={"current_password": PASSWORD, "new_password": new_password},
        headers=here,
    )

    assert response.status_code == 204, response.text
    assert _me(api, here).status_code == 200
    assert _me(api, elsewhere).status_code == 401
    old = api.post("/v1/operator/login", json={"email": ANA, "password": PASSWORD})
    assert old.status_code == 401
    assert _me(api, log_in(api, ANA, new_password)).status_code == 200


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        (
            {
                "email": "not-an-email",
                "display_name": "X",
                "role": "reviewer",
                "password": PASSWORD,
            },
            "email",
        ),
        ({"email": ANA, "display_name": "X", "role": "root", "password": PASSWORD}, "role"),
        ({"email": ANA, "display_name": "X", "role": "reviewer", "password": "short"}, "password"),
        (
            {"email": ANA, "display_name": "", "role": "reviewer", "password": PASSWORD},
            "display_name",
        ),
        (
            {
                "email": ANA,
                "display_name": "X",
                "role": "reviewer",
                "password": PASSWORD,
                "active": False,
            },
            "active",
        ),
        (
            {
                "email": ANA,
                "display_name": "X",
                "role": "reviewer",
                "password": PASSWORD,
                "id": str(uuid.uuid4()),
            },
            "id",
        ),
        (
            {
                "email": ANA,
                "display_name": "X",
                "role": "reviewer",
                "password_hash": "scrypt$1$1$1$x$y",
            },
            "password_hash",
        ),
    ],
)
def test_a_bad_account_is_422(
    api: httpx.Client, admin_headers: dict[str, str], body: dict[str, object], loc: str
) -> None:
    response = api.post("/v1/operator/accounts", json=body, headers=admin_headers)
    assert response.status_code == 422, response.text
    assert ["body", loc] in [e["loc"] for e in response.json()["detail"]]


@pytest.mark.parametrize("field", ["email", "password_hash", "id"])
def test_an_account_update_cannot_touch_identity_or_password(
    api: httpx.Client, admin_headers: dict[str, str], field: str
) -> None:
    ana = create_operator(api, admin_headers, ANA)
    response = api.patch(
        f"/v1/operator/accounts/{ana['id']}", json={field: "x"}, headers=admin_headers
    )
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == ["body", field]


# --- the bootstrap credential ------------------------------------------------------------


def test_the_bootstrap_credential_is_an_admin_account_without_a_password(
    api: httpx.Client, bootstrap_headers: dict[str, str]
) -> None:
    me = _me(api, bootstrap_headers).json()
    assert (me["id"], me["email"], me["role"]) == (str(BOOTSTRAP_OPERATOR_ID), "bootstrap", "admin")
    login = api.post("/v1/operator/login", json={"email": "bootstrap", "password": "x" * 12})
    assert login.status_code == 422, "its email is no address, so nobody can log in as it"
    logout = api.post("/v1/operator/logout", headers=bootstrap_headers)
    assert logout.status_code == 409
    assert _me(api, bootstrap_headers).status_code == 200


@pytest.fixture
def bootstrap_token_unset(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("HEXCAST_OPERATOR_TOKEN", "")
    get_settings.cache_clear()
    yield
    monkeypatch.undo()
    get_settings.cache_clear()


@pytest.mark.usefixtures("bootstrap_token_unset")
def test_an_empty_bootstrap_token_turns_it_off(api: httpx.Client) -> None:
    for token in ("", "test-operator-token"):
        response = api.get("/v1/operator/me", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401, token
