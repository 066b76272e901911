"""the covering index carries devices.alerts_paused: claiming a chunk reads whether each
recipient paused alerts (to record a suppressed delivery instead of a push), and without the
flag in the index selection visits the heap once per device

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-05 03:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0018'
down_revision: str | None = '0017'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COVERED_BEFORE = ['located_at', 'location', 'id', 'fcm_token', 'locale', 'test_device']
COVERED_AFTER = [*COVERED_BEFORE, 'alerts_paused']


def _covering_index(covered: list[str]) -> None:
    op.drop_index('ix_devices_h3_cell', table_name='devices', postgresql_where=sa.text('active'))
    op.create_index(
        'ix_devices_h3_cell',
        'devices',
        ['h3_cell'],
        unique=False,
        postgresql_include=covered,
        postgresql_where=sa.text('active'),
    )


def upgrade() -> None:
    _covering_index(COVERED_AFTER)


def downgrade() -> None:
    _covering_index(COVERED_BEFORE)
