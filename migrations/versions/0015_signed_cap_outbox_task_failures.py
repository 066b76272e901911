"""agencies' CAP signing certificates

Revision ID: 0015
Revises: 0011
Create Date: 2026-12-05 03:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0015'
down_revision: str | None = '0011'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('agencies', sa.Column('cap_certificate', sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column('agencies', 'cap_certificate')
