"""abuse limits: counters per client, device claims, known operator clients, webhook scope

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-05 03:00:00.000000

Registrations, sightings and failed logins record the client address they came from, so that
limits apply per client as well as per device or account; a token registered again must be
claimed with a code sent through FCM (device_claims); an operator's known clients log in
despite failures from elsewhere (operator_known_clients). Changing an agency's webhook needs
its own scope: keys that held every scope keep that power, a write-only key loses it.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0013'
down_revision: str | None = '0012'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('devices', sa.Column('registered_from', sa.String(length=64), nullable=True))
    op.create_index(
        'ix_devices_registered_from_created', 'devices', ['registered_from', 'created_at']
    )
    op.add_column('sightings', sa.Column('client', sa.String(length=64), nullable=True))
    op.create_index('ix_sightings_client_created', 'sightings', ['client', 'created_at'])
    op.create_table(
        'device_claims',
        sa.Column('id', sa.Uuid(), nullable=False),
        sa.Column('fcm_token', sa.String(length=4096), nullable=False),
        sa.Column('client', sa.String(length=64), nullable=True),
        sa.Column('code_hash', sa.String(length=64), nullable=False),
        sa.Column(
            'created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False
        ),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_device_claims')),
    )
    op.create_index(
        'ix_device_claims_token_created', 'device_claims', ['fcm_token', 'created_at']
    )
    op.create_index('ix_device_claims_client_created', 'device_claims', ['client', 'created_at'])

    op.add_column(
        'operator_login_failures', sa.Column('client', sa.String(length=64), nullable=True)
    )
    op.add_column('operator_login_failures', sa.Column('known_client_id', sa.Uuid(), nullable=True))
    op.create_index(
        'ix_operator_login_failures_client_at', 'operator_login_failures', ['client', 'failed_at']
    )
    op.create_index(
        'ix_operator_login_failures_known_client_at',
        'operator_login_failures',
        ['known_client_id', 'failed_at'],
    )
    op.create_table(
        'operator_known_clients',
        sa.Column('id', sa.Uuid(), nullable=False),
        sa.Column('operator_id', sa.Uuid(), nullable=False),
        sa.Column('token_hash', sa.String(length=64), nullable=False),
        sa.Column(
            'created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ['operator_id'],
            ['operators.id'],
            name=op.f('fk_operator_known_clients_operator_id_operators'),
            ondelete='CASCADE',
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_operator_known_clients')),
        sa.UniqueConstraint('token_hash', name=op.f('uq_operator_known_clients_token_hash')),
    )
    op.create_index(
        op.f('ix_operator_known_clients_operator_id'), 'operator_known_clients', ['operator_id']
    )
    op.create_index(
        'ix_audit_events_actor_action_at', 'audit_events', ['actor_id', 'action', 'at']
    )
    op.execute(
        "UPDATE agency_keys SET scopes = array_append(scopes, 'webhook:write') "
        "WHERE scopes @> ARRAY['notices:read', 'notices:write']::varchar[]"
    )


def downgrade() -> None:
    op.execute("UPDATE agency_keys SET scopes = array_remove(scopes, 'webhook:write')")
    op.drop_index('ix_audit_events_actor_action_at', table_name='audit_events')
    op.drop_index(
        op.f('ix_operator_known_clients_operator_id'), table_name='operator_known_clients'
    )
    op.drop_table('operator_known_clients')
    op.drop_index(
        'ix_operator_login_failures_known_client_at', table_name='operator_login_failures'
    )
    op.drop_index('ix_operator_login_failures_client_at', table_name='operator_login_failures')
    op.drop_column('operator_login_failures', 'known_client_id')
    op.drop_column('operator_login_failures', 'client')
    op.drop_index('ix_device_claims_client_created', table_name='device_claims')
    op.drop_index('ix_device_claims_token_created', table_name='device_claims')
    op.drop_table('device_claims')
    op.drop_index('ix_sightings_client_created', table_name='sightings')
    op.drop_column('sightings', 'client')
    op.drop_index('ix_devices_registered_from_created', table_name='devices')
    op.drop_column('devices', 'registered_from')
