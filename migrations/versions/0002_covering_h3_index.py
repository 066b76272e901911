"""covering h3 index: selection and the reach preview read the index alone

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 09:20:00.000000

The partial B-tree on devices.h3_cell also carries every column recipient selection reads
(located_at and location for the filters, id, fcm_token and locale for the result), so both
selection and counting are index-only scans over entries stored in cell order, instead of one
random heap visit per device. Measured with bench/selection.py on 1,000,000 devices, 500 km:
counting 59 -> 21 ms, selecting 76 -> 21-33 ms (server time). Costs: the index is about as
large as the table, and tokens are bounded by the API at 2048 bytes, well under the 2704
bytes an entry may hold. On a large live table, build it with CREATE INDEX CONCURRENTLY by
hand first.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index('ix_devices_h3_cell', table_name='devices', postgresql_where=sa.text('active'))
    op.create_index(
        'ix_devices_h3_cell',
        'devices',
        ['h3_cell'],
        unique=False,
        postgresql_include=['located_at', 'location', 'id', 'fcm_token', 'locale'],
        postgresql_where=sa.text('active'),
    )


def downgrade() -> None:
    op.drop_index('ix_devices_h3_cell', table_name='devices', postgresql_where=sa.text('active'))
    op.create_index(
        'ix_devices_h3_cell', 'devices', ['h3_cell'], unique=False, postgresql_where=sa.text('active')
    )
