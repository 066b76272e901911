"""devices may pause alerts; deliveries a pause or the daily cap held back are recorded as
suppressed; erasing a device leaves its deliveries and sightings without it

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-05 02:45:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0016'
down_revision: str | None = '0015'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_STATUSES_BEFORE = "('pending', 'sent', 'failed')"
_STATUSES_AFTER = "('pending', 'sent', 'failed', 'suppressed')"


def _device_fk(table: str, ondelete: str | None) -> None:
    name = f'fk_{table}_device_id_devices'
    op.drop_constraint(op.f(name), table, type_='foreignkey')
    op.create_foreign_key(op.f(name), table, 'devices', ['device_id'], ['id'], ondelete=ondelete)


def upgrade() -> None:
    op.add_column(
        'devices',
        sa.Column('alerts_paused', sa.Boolean(), server_default=sa.text('false'), nullable=False),
    )
    op.drop_constraint(op.f('ck_deliveries_delivery_status'), 'deliveries', type_='check')
    op.create_check_constraint(
        op.f('ck_deliveries_delivery_status'), 'deliveries', f'status IN {_STATUSES_AFTER}'
    )
    for table in ('deliveries', 'sightings'):
        op.alter_column(table, 'device_id', nullable=True)
        _device_fk(table, 'SET NULL')
    op.create_index(
        'ix_deliveries_device_claimed', 'deliveries', ['device_id', 'claimed_at'], unique=False
    )


def downgrade() -> None:
    op.drop_index('ix_deliveries_device_claimed', table_name='deliveries')
    for table in ('deliveries', 'sightings'):
        op.execute(f'DELETE FROM {table} WHERE device_id IS NULL')
        _device_fk(table, None)
        op.alter_column(table, 'device_id', nullable=False)
    op.execute("DELETE FROM deliveries WHERE status = 'suppressed'")
    op.drop_constraint(op.f('ck_deliveries_delivery_status'), 'deliveries', type_='check')
    op.create_check_constraint(
        op.f('ck_deliveries_delivery_status'), 'deliveries', f'status IN {_STATUSES_BEFORE}'
    )
    op.drop_column('devices', 'alerts_paused')
