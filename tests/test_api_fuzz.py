"""Schemathesis drives every operation of the OpenAPI document with generated requests, valid
and invalid, as three callers: nobody, an agency key and an operator's login session.
Whatever it sends, the API answers without a 5xx, with a status the document lists for that
operation, and with a body that matches the document's schema for that status.

The database is not emptied between operations (the fuzzer's own writes are harmless to
what follows), which keeps the run near a minute and a half."""

import uuid
from collections.abc import Iterator
from zlib import crc32

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from alerts.api import create_app
from tests.conftest import OPERATOR_TOKEN, Service
from tests.helpers import create_agency, create_operator, log_in, notice_body

APP = create_app()
# Fuzzing only: the coverage phase's boundary cases would take minutes per operation under
# the suite's load, and the suite as a whole must stay well within 15 minutes.
CONFIG = SchemathesisConfig.from_dict(
    {"phases": {"coverage": {"enabled": False}, "examples": {"enabled": False}}}
)
SCHEMA = schemathesis.openapi.from_asgi("/openapi.json", APP, config=CONFIG)
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
BOOTSTRAP = {"Authorization": f"Bearer {OPERATOR_TOKEN}"}


@pytest.fixture(scope="module")
def client(database: str, broker: Service) -> Iterator[TestClient]:
    with TestClient(APP) as client:
        yield client


def _admin(client: TestClient, name: str) -> str:
    email = f"{name}-{uuid.uuid4().hex[:8]}@hexcast.example"
    create_operator(client, BOOTSTRAP, email, role="admin")
    return email


@pytest.fixture(scope="module")
def agency(client: TestClient) -> dict[str, str]:
    """An agency whose key an admin of its own issued, so that the fuzzed admin may approve
    its notices (two people)."""
    issuer = log_in(client, _admin(client, "keys"))
    return create_agency(client, issuer, f"Fuzzed Police {uuid.uuid4().hex[:8]}")


@pytest.fixture(scope="module")
def admin_email(client: TestClient) -> str:
    return _admin(client, "fuzz")


@pytest.fixture(scope="module")
def notice_id(client: TestClient, agency: dict[str, str], admin_email: str) -> str:
    """An active notice of the agency: operations on a notice reach its handlers with it."""
    submitted = client.post("/v1/notices", json=notice_body(), headers=agency)
    assert submitted.status_code == 201, submitted.text
    notice_id = str(submitted.json()["id"])
    approved = client.post(
        f"/v1/operator/notices/{notice_id}/approve", headers=log_in(client, admin_email)
    )
    assert approved.status_code == 200, approved.text
    return notice_id


@pytest.fixture
def admin_session(client: TestClient, admin_email: str) -> dict[str, str]:
    """A session per operation: fuzzing POST /v1/operator/logout ends only its own."""
    return log_in(client, admin_email)


@SCHEMA.parametrize()
@settings(max_examples=5, deadline=None, suppress_health_check=list(HealthCheck))
def test_every_operation_answers_as_documented(
    case: schemathesis.Case,
    agency: dict[str, str],
    admin_session: dict[str, str],
    notice_id: str,
) -> None:
    """A generated notice id is as good as unknown: half the examples name the real one."""
    parameters = case.path_parameters or {}
    if "notice_id" in parameters and crc32(repr(case.body).encode()) % 2:
        parameters["notice_id"] = notice_id
    for credential in ({}, agency, admin_session):
        case.call_and_validate(headers=credential, checks=CHECKS)
