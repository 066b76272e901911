"""failed operator logins, so that password guesses against one account are slowed down

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04 02:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0011'
down_revision: str | None = '0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'operator_login_failures',
        sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column('email', sa.String(length=254), nullable=False),
        sa.Column(
            'failed_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_operator_login_failures')),
    )
    op.create_index(
        'ix_operator_login_failures_email_at',
        'operator_login_failures',
        ['email', 'failed_at'],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index('ix_operator_login_failures_email_at', table_name='operator_login_failures')
    op.drop_table('operator_login_failures')
