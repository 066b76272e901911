"""operator accounts and sessions, agency API keys, the append-only audit log, CAP status
and test devices

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-23 11:00:00.000000

- operators (role reviewer|admin, scrypt password hash) and operator_sessions (bearer tokens
  as SHA-256, with an expiry).
- agency_keys: several scoped, revocable, expiring keys per agency. Each agency's existing
  key moves here with both scopes, and agencies.api_key_hash goes.
- audit_events, with a statement trigger that refuses every UPDATE and DELETE.
- notices.submitted_by_operator_id, and the lifecycle status `found`.
- devices.test_device, also INCLUDEd in ix_devices_h3_cell so that selecting the recipients
  of a Test or Exercise notice stays an index-only scan. On a large live table, build the
  index with CREATE INDEX CONCURRENTLY by hand first.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STATUSES_BEFORE = ('pending', 'active', 'rejected', 'cancelled', 'expired')
STATUSES_AFTER = (*STATUSES_BEFORE, 'found')
COVERED_BEFORE = ['located_at', 'location', 'id', 'fcm_token', 'locale']
COVERED_AFTER = [*COVERED_BEFORE, 'test_device']


def _in(values: Sequence[str]) -> str:
    return ', '.join(f"'{v}'" for v in values)


def _enum(*values: str, name: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=16)


def upgrade() -> None:
    op.create_table('operators',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('display_name', sa.String(length=200), nullable=False),
    sa.Column('role', _enum('reviewer', 'admin', name='operator_role'), nullable=False),
    sa.Column('password_hash', sa.String(length=200), nullable=True),
    sa.Column('active', sa.Boolean(), server_default=sa.text('true'), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_operators')),
    sa.UniqueConstraint('email', name=op.f('uq_operators_email'))
    )
    op.create_table('operator_sessions',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('operator_id', sa.Uuid(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['operator_id'], ['operators.id'], name=op.f('fk_operator_sessions_operator_id_operators')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_operator_sessions')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_operator_sessions_token_hash'))
    )
    op.create_index(op.f('ix_operator_sessions_operator_id'), 'operator_sessions', ['operator_id'], unique=False)

    op.create_table('agency_keys',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('agency_id', sa.Uuid(), nullable=False),
    sa.Column('key_hash', sa.String(length=64), nullable=False),
    sa.Column('prefix', sa.String(length=16), nullable=False),
    sa.Column('label', sa.String(length=100), nullable=True),
    sa.Column('scopes', postgresql.ARRAY(sa.String(length=32)), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['agency_id'], ['agencies.id'], name=op.f('fk_agency_keys_agency_id_agencies')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_agency_keys')),
    sa.UniqueConstraint('key_hash', name=op.f('uq_agency_keys_key_hash'))
    )
    op.create_index(op.f('ix_agency_keys_agency_id'), 'agency_keys', ['agency_id'], unique=False)
    op.execute(
        "INSERT INTO agency_keys (id, agency_id, key_hash, prefix, label, scopes, created_at) "
        "SELECT gen_random_uuid(), id, api_key_hash, 'hxa_', 'first key', "
        "ARRAY['notices:read', 'notices:write']::varchar(32)[], created_at FROM agencies"
    )
    op.drop_constraint(op.f('uq_agencies_api_key_hash'), 'agencies', type_='unique')
    op.drop_column('agencies', 'api_key_hash')

    op.add_column('notices', sa.Column('submitted_by_operator_id', sa.Uuid(), nullable=True))
    op.create_foreign_key(op.f('fk_notices_submitted_by_operator_id_operators'), 'notices', 'operators', ['submitted_by_operator_id'], ['id'])
    op.drop_constraint(op.f('ck_notices_notice_status'), 'notices', type_='check')
    op.create_check_constraint(op.f('ck_notices_notice_status'), 'notices', f"status IN ({_in(STATUSES_AFTER)})")

    op.create_table('audit_events',
    sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('actor_type', _enum('operator', 'agency', 'device', 'system', name='actor_type'), nullable=False),
    sa.Column('actor_id', sa.Uuid(), nullable=True),
    sa.Column('action', sa.String(length=64), nullable=False),
    sa.Column('notice_id', sa.Uuid(), nullable=True),
    sa.Column('details', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False),
    sa.ForeignKeyConstraint(['notice_id'], ['notices.id'], name=op.f('fk_audit_events_notice_id_notices')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_events'))
    )
    op.create_index('ix_audit_events_notice', 'audit_events', ['notice_id', 'id'], unique=False)
    op.execute(
        """
        CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'audit_events is append-only: % refused', TG_OP;
        END
        $$
        """
    )
    op.execute(
        "CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events "
        "FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only()"
    )

    op.add_column('devices', sa.Column('test_device', sa.Boolean(), server_default=sa.text('false'), nullable=False))
    op.drop_index('ix_devices_h3_cell', table_name='devices', postgresql_where=sa.text('active'))
    op.create_index('ix_devices_h3_cell', 'devices', ['h3_cell'], unique=False, postgresql_include=COVERED_AFTER, postgresql_where=sa.text('active'))


def downgrade() -> None:
    op.drop_index('ix_devices_h3_cell', table_name='devices', postgresql_where=sa.text('active'))
    op.create_index('ix_devices_h3_cell', 'devices', ['h3_cell'], unique=False, postgresql_include=COVERED_BEFORE, postgresql_where=sa.text('active'))
    op.drop_column('devices', 'test_device')

    op.drop_index('ix_audit_events_notice', table_name='audit_events')
    op.drop_table('audit_events')
    op.execute("DROP FUNCTION audit_events_append_only()")

    # Found notices ended, as cancelled ones did before `found` existed.
    op.execute("UPDATE notices SET status = 'cancelled' WHERE status = 'found'")
    op.drop_constraint(op.f('ck_notices_notice_status'), 'notices', type_='check')
    op.create_check_constraint(op.f('ck_notices_notice_status'), 'notices', f"status IN ({_in(STATUSES_BEFORE)})")
    op.drop_constraint(op.f('fk_notices_submitted_by_operator_id_operators'), 'notices', type_='foreignkey')
    op.drop_column('notices', 'submitted_by_operator_id')

    # Each agency keeps its newest working key; one without any gets an unusable hash.
    op.add_column('agencies', sa.Column('api_key_hash', sa.String(length=64), nullable=True))
    op.execute(
        "UPDATE agencies a SET api_key_hash = COALESCE("
        "(SELECT k.key_hash FROM agency_keys k WHERE k.agency_id = a.id AND k.revoked_at IS NULL "
        "AND (k.expires_at IS NULL OR k.expires_at > now()) ORDER BY k.created_at DESC LIMIT 1), "
        "'revoked:' || replace(a.id::text, '-', ''))"
    )
    op.alter_column('agencies', 'api_key_hash', nullable=False)
    op.create_unique_constraint(op.f('uq_agencies_api_key_hash'), 'agencies', ['api_key_hash'])
    op.drop_index(op.f('ix_agency_keys_agency_id'), table_name='agency_keys')
    op.drop_table('agency_keys')

    op.drop_index(op.f('ix_operator_sessions_operator_id'), table_name='operator_sessions')
    op.drop_table('operator_sessions')
    op.drop_table('operators')
