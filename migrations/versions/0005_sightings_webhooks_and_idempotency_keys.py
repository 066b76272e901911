"""sightings, agency webhooks with their event outbox, and idempotency keys of submissions

idempotency_keys.notice_id is checked at commit (DEFERRABLE INITIALLY DEFERRED): the key is
inserted before the notice it names, in the same transaction.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 10:53:08.660987
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('agency_webhooks',
    sa.Column('agency_id', sa.Uuid(), nullable=False),
    sa.Column('url', sa.String(length=2048), nullable=False),
    sa.Column('secret', sa.String(length=100), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['agency_id'], ['agencies.id'], name=op.f('fk_agency_webhooks_agency_id_agencies')),
    sa.PrimaryKeyConstraint('agency_id', name=op.f('pk_agency_webhooks'))
    )
    op.create_table('webhook_events',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('agency_id', sa.Uuid(), nullable=False),
    sa.Column('event_type', sa.String(length=40), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('status', sa.Enum('pending', 'delivered', 'failed', name='webhook_event_status', native_enum=False, create_constraint=True, length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('last_status_code', sa.Integer(), nullable=True),
    sa.Column('last_error', sa.String(length=500), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('delivered_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['agency_id'], ['agencies.id'], name=op.f('fk_webhook_events_agency_id_agencies')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_events'))
    )
    op.create_index('ix_webhook_events_agency_created', 'webhook_events', ['agency_id', 'created_at'], unique=False)
    op.create_index('ix_webhook_events_due', 'webhook_events', ['next_attempt_at'], unique=False, postgresql_where=sa.text("status = 'pending'"))
    op.create_table('idempotency_keys',
    sa.Column('agency_id', sa.Uuid(), nullable=False),
    sa.Column('key', sa.String(length=255), nullable=False),
    sa.Column('request_hash', sa.String(length=64), nullable=False),
    sa.Column('notice_id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['agency_id'], ['agencies.id'], name=op.f('fk_idempotency_keys_agency_id_agencies')),
    sa.ForeignKeyConstraint(['notice_id'], ['notices.id'], name=op.f('fk_idempotency_keys_notice_id_notices'), initially='DEFERRED', deferrable=True),
    sa.PrimaryKeyConstraint('agency_id', 'key', name=op.f('pk_idempotency_keys'))
    )
    op.create_table('sightings',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('notice_id', sa.Uuid(), nullable=False),
    sa.Column('device_id', sa.Uuid(), nullable=False),
    sa.Column('seen_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('lat', sa.Float(), nullable=False),
    sa.Column('lon', sa.Float(), nullable=False),
    sa.Column('accuracy_m', sa.Float(), nullable=True),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('contact', sa.String(length=200), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['device_id'], ['devices.id'], name=op.f('fk_sightings_device_id_devices')),
    sa.ForeignKeyConstraint(['notice_id'], ['notices.id'], name=op.f('fk_sightings_notice_id_notices')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sightings'))
    )
    op.create_index('ix_sightings_device_created', 'sightings', ['device_id', 'created_at'], unique=False)
    op.create_index('ix_sightings_notice_created', 'sightings', ['notice_id', 'created_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_sightings_notice_created', table_name='sightings')
    op.drop_index('ix_sightings_device_created', table_name='sightings')
    op.drop_table('sightings')
    op.drop_table('idempotency_keys')
    op.drop_index('ix_webhook_events_due', table_name='webhook_events', postgresql_where=sa.text("status = 'pending'"))
    op.drop_index('ix_webhook_events_agency_created', table_name='webhook_events')
    op.drop_table('webhook_events')
    op.drop_table('agency_webhooks')
