"""initial schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-23 08:31:12.279014
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geography

revision: str = '0001'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    op.create_table('agencies',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('api_key_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_agencies')),
    sa.UniqueConstraint('api_key_hash', name=op.f('uq_agencies_api_key_hash')),
    sa.UniqueConstraint('name', name=op.f('uq_agencies_name'))
    )
    op.create_geospatial_table('devices',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('fcm_token', sa.String(length=4096), nullable=False),
    sa.Column('platform', sa.Enum('android', 'ios', 'web', name='platform', native_enum=False, create_constraint=True, length=16), nullable=False),
    sa.Column('locale', sa.String(length=35), nullable=False),
    sa.Column('credential_hash', sa.String(length=64), nullable=False),
    sa.Column('active', sa.Boolean(), server_default=sa.text('true'), nullable=False),
    sa.Column('location', Geography(geometry_type='POINT', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeogFromText', name='geography'), nullable=True),
    sa.Column('h3_cell', sa.BigInteger(), nullable=True),
    sa.Column('accuracy_m', sa.Float(), nullable=True),
    sa.Column('located_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_devices')),
    sa.UniqueConstraint('credential_hash', name=op.f('uq_devices_credential_hash')),
    sa.UniqueConstraint('fcm_token', name=op.f('uq_devices_fcm_token'))
    )
    op.create_index('ix_devices_h3_cell', 'devices', ['h3_cell'], unique=False, postgresql_where=sa.text('active'))
    op.create_geospatial_index('ix_devices_location', 'devices', ['location'], unique=False, postgresql_using='gist', postgresql_ops={})
    op.create_table('notices',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('agency_id', sa.Uuid(), nullable=False),
    sa.Column('status', sa.Enum('pending', 'active', 'rejected', 'cancelled', 'expired', name='notice_status', native_enum=False, create_constraint=True, length=16), nullable=False),
    sa.Column('person_name', sa.String(length=200), nullable=False),
    sa.Column('person_age', sa.Integer(), nullable=True),
    sa.Column('person_sex', sa.Enum('female', 'male', 'other', 'unknown', name='sex', native_enum=False, create_constraint=True, length=16), nullable=False),
    sa.Column('person_description', sa.Text(), nullable=False),
    sa.Column('photo_url', sa.String(length=2048), nullable=True),
    sa.Column('last_seen_lat', sa.Float(), nullable=False),
    sa.Column('last_seen_lon', sa.Float(), nullable=False),
    sa.Column('last_seen_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_seen_place', sa.String(length=500), nullable=False),
    sa.Column('radius_km', sa.Float(), nullable=False),
    sa.Column('contact', sa.String(length=500), nullable=False),
    sa.Column('language', sa.String(length=35), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('decision_reason', sa.String(length=500), nullable=True),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['agency_id'], ['agencies.id'], name=op.f('fk_notices_agency_id_agencies')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notices'))
    )
    op.create_index('ix_notices_agency_created', 'notices', ['agency_id', 'created_at'], unique=False)
    op.create_index(op.f('ix_notices_status'), 'notices', ['status'], unique=False)
    op.create_table('deliveries',
    sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
    sa.Column('notice_id', sa.Uuid(), nullable=False),
    sa.Column('device_id', sa.Uuid(), nullable=False),
    sa.Column('status', sa.Enum('pending', 'sent', 'failed', name='delivery_status', native_enum=False, create_constraint=True, length=16), nullable=False),
    sa.Column('error_code', sa.String(length=64), nullable=True),
    sa.Column('message_name', sa.String(length=200), nullable=True),
    sa.Column('claimed_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['device_id'], ['devices.id'], name=op.f('fk_deliveries_device_id_devices')),
    sa.ForeignKeyConstraint(['notice_id'], ['notices.id'], name=op.f('fk_deliveries_notice_id_notices')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_deliveries')),
    sa.UniqueConstraint('notice_id', 'device_id', name=op.f('uq_deliveries_notice_id'))
    )


def downgrade() -> None:
    op.drop_table('deliveries')
    op.drop_index(op.f('ix_notices_status'), table_name='notices')
    op.drop_index('ix_notices_agency_created', table_name='notices')
    op.drop_table('notices')
    op.drop_geospatial_index('ix_devices_location', table_name='devices', postgresql_using='gist', column_name='location')
    op.drop_index('ix_devices_h3_cell', table_name='devices', postgresql_where=sa.text('active'))
    op.drop_geospatial_table('devices')
    op.drop_table('agencies')
