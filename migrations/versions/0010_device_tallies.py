"""device tally: located devices per H3 cell and hour, for the reach preview of large areas

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-23 18:00:00.000000

Celery beat counts the devices into these rows every minute (geo.tallies); a reach preview
sums the rows of an area's inside cells instead of counting their devices one by one. At
1,000,000 devices the tally holds about 260,000 rows (some 25 MB) and a refresh takes about
a second, writing only the rows that changed. Rows are written in key order and pages keep
30 % free, so that a row's new version stays on its page: a preview's index range scans then
read a page per few dozen rows, not one per row.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'device_tallies',
        sa.Column('resolution', sa.SmallInteger(), nullable=False),
        sa.Column('cell_lo', sa.BigInteger(), nullable=False),
        sa.Column('located_hour', sa.DateTime(timezone=True), nullable=False),
        sa.Column('devices', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(
            'resolution', 'cell_lo', 'located_hour', name=op.f('pk_device_tallies')
        ),
    )
    op.execute('ALTER TABLE device_tallies SET (fillfactor = 70)')
    op.create_table(
        'device_tally_state',
        sa.Column('singleton', sa.Boolean(), server_default=sa.text('true'), nullable=False),
        sa.Column('tallied_at', sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint('singleton', name=op.f('ck_device_tally_state_singleton')),
        sa.PrimaryKeyConstraint('singleton', name=op.f('pk_device_tally_state')),
    )


def downgrade() -> None:
    op.drop_table('device_tally_state')
    op.drop_table('device_tallies')
