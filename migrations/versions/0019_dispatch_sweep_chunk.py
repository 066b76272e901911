"""dispatch_chunks.sweep: each broadcast round ends with a chunk that claims, across the whole
cover, the devices inside that no other chunk of the round reached (they moved from a chunk
not yet claimed into one already claimed)

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-05 09:50:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0019'
down_revision: str | None = '0018'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        'dispatch_chunks',
        sa.Column('sweep', sa.Boolean(), server_default=sa.text('false'), nullable=False),
    )


def downgrade() -> None:
    op.drop_column('dispatch_chunks', 'sweep')
