"""The migrations build exactly the schema the models describe, and can be undone and redone.

Downgrading runs on a throwaway database, so the session's test database stays intact."""

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from geoalchemy2 import alembic_helpers
from sqlalchemy import (
    Column,
    Connection,
    Engine,
    Integer,
    MetaData,
    create_engine,
    inspect,
    text,
)
from sqlalchemy.exc import IntegrityError

from kit.db import get_engine
from kit.models import Base
from tests.conftest import PG_PORT, ROOT, TEST_DB, _admin_connection

HEXCAST_TABLES = {
    "expansion_steps",
    "agencies",
    "notices",
    "devices",
    "deliveries",
    "sightings",
    "idempotency_keys",
    "agency_webhooks",
    "webhook_events",
    "cap_messages",
    "dispatch_chunks",
    "agency_keys",
    "operators",
    "operator_sessions",
    "operator_login_failures",
    "operator_known_clients",
    "device_claims",
    "audit_events",
    "device_tallies",
    "device_tally_state",
    "task_outbox",
    "task_failures",
    "notice_changes",
}


def _include_object(obj, name, type_, reflected, compare_to):  # type: ignore[no-untyped-def]
    """migrations/env.py's filter: skip PostGIS's own tables, let GeoAlchemy2 handle the rest."""
    if type_ == "table" and reflected and compare_to is None:
        return False
    return alembic_helpers.include_object(obj, name, type_, reflected, compare_to)


def _differences(connection: Connection, metadata: MetaData = Base.metadata) -> list[Any]:
    context = MigrationContext.configure(
        connection,
        opts={
            "include_object": _include_object,
            "compare_type": True,
            "compare_server_default": True,
        },
    )
    return list(compare_metadata(context, metadata))


def _alembic_config(connection: Connection) -> Config:
    config = Config(str(ROOT / "alembic.ini"))
    config.attributes["connection"] = connection
    return config


def _head() -> str | None:
    return ScriptDirectory.from_config(Config(str(ROOT / "alembic.ini"))).get_current_head()


def _revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


@pytest.fixture
def scratch_engine() -> Iterator[Engine]:
    """An empty database of its own, dropped afterwards."""
    name = f"{TEST_DB}_mig"
    with _admin_connection() as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.execute(f"CREATE DATABASE {name}")
    engine = create_engine(f"postgresql+psycopg://hexcast@127.0.0.1:{PG_PORT}/{name}")
    yield engine
    engine.dispose()
    with _admin_connection() as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def test_the_migrated_database_matches_the_models(database: str) -> None:
    with get_engine().connect() as connection:
        assert _revision(connection) == _head()
        assert _differences(connection) == []


def test_the_comparison_covers_every_hexcast_table(database: str) -> None:
    """Guards the check above: a column the database lacks is found in each table."""
    canaries = MetaData(naming_convention=Base.metadata.naming_convention)
    for table in Base.metadata.sorted_tables:
        table.to_metadata(canaries).append_column(Column("canary", Integer))
    with get_engine().connect() as connection:
        found = {(diff[0], diff[2], diff[3].name) for diff in _differences(connection, canaries)}
    assert found == {("add_column", table, "canary") for table in HEXCAST_TABLES}


def test_downgrade_to_base_and_upgrade_to_head_again(scratch_engine: Engine) -> None:
    with scratch_engine.begin() as connection:
        command.upgrade(_alembic_config(connection), "head")
    with scratch_engine.connect() as connection:
        assert _revision(connection) == _head()
        assert _differences(connection) == []

    with scratch_engine.begin() as connection:
        command.downgrade(_alembic_config(connection), "base")
    with scratch_engine.connect() as connection:
        assert _revision(connection) is None
        assert HEXCAST_TABLES.isdisjoint(inspect(connection).get_table_names())

    with scratch_engine.begin() as connection:
        command.upgrade(_alembic_config(connection), "head")
    with scratch_engine.connect() as connection:
        assert _revision(connection) == _head()
        assert _differences(connection) == []


@pytest.mark.parametrize(
    ("column", "value"),
    [("status", "approved"), ("person_sex", "robot"), ("cap_status", "Draft")],
)
def test_the_database_itself_rejects_values_outside_the_enums(
    scratch_engine: Engine, column: str, value: str
) -> None:
    """Enum columns are strings with CHECK constraints, which autogenerate does not compare."""
    with scratch_engine.begin() as connection:
        command.upgrade(_alembic_config(connection), "head")
    agency_id = uuid.uuid4()
    row = {
        "id": uuid.uuid4(),
        "agency_id": agency_id,
        "status": "pending",
        "person_name": "Lily",
        "person_sex": "female",
        "person_description": "Red coat.",
        "last_seen_lat": 51.5,
        "last_seen_lon": -0.12,
        "last_seen_at": "2026-11-23T08:00:00Z",
        "last_seen_place": "Westminster",
        "radius_km": 5,
        "contact": "101",
        "language": "en",
        column: value,
    }
    with scratch_engine.connect() as connection:
        connection.execute(
            text("INSERT INTO agencies (id, name) VALUES (:id, 'A')"),
            {"id": agency_id},
        )
        with pytest.raises(IntegrityError, match="check constraint"):
            connection.execute(
                text(
                    f"INSERT INTO notices ({', '.join(row)}) "
                    f"VALUES ({', '.join(':' + key for key in row)})"
                ),
                row,
            )


def test_0008_moves_each_agencys_key_into_agency_keys_and_back(scratch_engine: Engine) -> None:
    """An agency keeps working across the upgrade: its one key becomes a key with both scopes."""
    with scratch_engine.begin() as connection:
        command.upgrade(_alembic_config(connection), "0003")
        connection.execute(
            text("INSERT INTO agencies (id, name, api_key_hash) VALUES (:id, 'Old Police', :h)"),
            {"id": uuid.uuid4(), "h": "a" * 64},
        )
        command.upgrade(_alembic_config(connection), "0008")
        [key] = connection.execute(
            text("SELECT key_hash, scopes, revoked_at, expires_at FROM agency_keys")
        ).all()
        assert tuple(key) == ("a" * 64, ["notices:read", "notices:write"], None, None)

        command.downgrade(_alembic_config(connection), "0003")
        assert (
            connection.execute(text("SELECT api_key_hash FROM agencies")).scalar_one() == "a" * 64
        )


def test_0014_repairs_text_that_would_break_a_generator(scratch_engine: Engine) -> None:
    """Controls removed, NFC, no overrides in names; texts inside the JSON too."""
    agency_id, notice_id = uuid.uuid4(), uuid.uuid4()
    with scratch_engine.begin() as connection:
        command.upgrade(_alembic_config(connection), "0011")
        connection.execute(
            text("INSERT INTO agencies (id, name) VALUES (:id, :name)"),
            {"id": agency_id, "name": "Police\x01 du Nord\u202e"},
        )
        connection.execute(
            text(
                "INSERT INTO notices (id, agency_id, status, person_name, person_sex, "
                "person_description, last_seen_lat, last_seen_lon, last_seen_at, "
                "last_seen_place, radius_km, contact, language, decision_reason, texts) "
                "VALUES (:id, :agency, 'rejected', :name, 'female', :description, 51.5, -0.12, "
                "now(), 'Westminster', 5, '101', 'en', :reason, CAST(:texts AS jsonb))"
            ),
            {
                "id": notice_id,
                "agency": agency_id,
                "name": "Ame\u0301lie\x1b[31m \u2066Chen",
                "description": "Red coat\r\nblue hat\x85",
                "reason": "Duplicate\x07",
                "texts": '{"en": {"headline": "Missing\\u0001 child"}}',
            },
        )
        command.upgrade(_alembic_config(connection), "0014")
        assert connection.scalar(text("SELECT name FROM agencies")) == "Police du Nord"
        row = connection.execute(
            text("SELECT person_name, person_description, decision_reason, texts FROM notices")
        ).one()
        assert tuple(row) == (
            "Amélie[31m Chen",
            "Red coat\nblue hat",
            "Duplicate",
            {"en": {"headline": "Missing child"}},
        )


def test_0012_names_each_keys_issuer_and_each_notices_key_from_the_audit_log(
    scratch_engine: Engine,
) -> None:
    """Keys issued before 0012 keep their issuer out of the approval of what they submit."""
    admin, agency, key, notice = (uuid.uuid4() for _ in range(4))
    with scratch_engine.begin() as connection:
        command.upgrade(_alembic_config(connection), "0011")
        rows = [
            "INSERT INTO operators (id, email, display_name, role) "
            "VALUES (:admin, 'ana@example.org', 'Ana', 'admin')",
            "INSERT INTO agencies (id, name) VALUES (:agency, 'Old Police')",
            "INSERT INTO agency_keys (id, agency_id, key_hash, prefix, scopes) "
            "VALUES (:key, :agency, :hash, 'hxa_old', '{notices:write}')",
            "INSERT INTO notices (id, agency_id, status, person_name, person_sex, "
            "person_description, last_seen_lat, last_seen_lon, last_seen_at, last_seen_place, "
            "radius_km, contact, language) VALUES (:notice, :agency, 'pending', 'Lily', "
            "'female', 'Red coat', 51.5, -0.12, now(), 'Bridge', 5, '101', 'en')",
            "INSERT INTO audit_events (actor_type, actor_id, action, details) VALUES "
            "('operator', :admin, 'agency_key.created', "
            "jsonb_build_object('key_id', CAST(:k AS text)))",
            "INSERT INTO audit_events (actor_type, actor_id, action, notice_id, details) "
            "VALUES ('agency', :agency, 'notice.submitted', :notice, "
            "jsonb_build_object('credential_id', CAST(:k AS text)))",
        ]
        values = {
            "admin": admin,
            "agency": agency,
            "key": key,
            "k": str(key),
            "notice": notice,
            "hash": "b" * 64,
        }
        for row in rows:
            connection.execute(text(row), values)
        command.upgrade(_alembic_config(connection), "0012")
        issuer = connection.execute(text("SELECT issued_by_operator_id FROM agency_keys"))
        assert issuer.scalar_one() == admin
        submitted_with = connection.execute(text("SELECT submitted_with_key_id FROM notices"))
        assert submitted_with.scalar_one() == key

        command.downgrade(_alembic_config(connection), "0011")
        assert connection.execute(text("SELECT count(*) FROM agency_keys")).scalar_one() == 1
