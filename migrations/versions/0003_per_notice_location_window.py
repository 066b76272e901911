"""per-notice location window: only devices located this recently are targeted

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 09:43:48.189745
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('notices', sa.Column('location_window_hours', sa.Float(), server_default=sa.text('72'), nullable=False))


def downgrade() -> None:
    op.drop_column('notices', 'location_window_hours')
