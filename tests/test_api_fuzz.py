"""Schemathesis drives every operation of the OpenAPI document with generated requests, valid
and invalid, as three callers: nobody, an agency key and an operator. Whatever it sends, the
API answers without a 5xx, with a status the document lists for that operation, and with a
body that matches the document's schema for that status."""

import httpx
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from alerts.api import create_app

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


@SCHEMA.parametrize()
@settings(max_examples=5, deadline=None, suppress_health_check=list(HealthCheck))
def test_every_operation_answers_as_documented(
    case: schemathesis.Case,
    api: httpx.Client,
    agency_headers: dict[str, str],
    operator_headers: dict[str, str],
) -> None:
    for credential in ({}, agency_headers, operator_headers):
        case.call_and_validate(headers=credential, checks=CHECKS)
