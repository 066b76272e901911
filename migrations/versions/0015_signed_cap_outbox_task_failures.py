"""agencies' CAP signing certificates, the outbox of task sends, and task failures

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-05 03:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0015'
down_revision: str | None = '0014'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('agencies', sa.Column('cap_certificate', sa.Text(), nullable=True))
    op.create_table(
        'task_outbox',
        sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column('task', sa.String(length=100), nullable=False),
        sa.Column('args', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column(
            'created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_task_outbox')),
    )
    op.create_table(
        'task_failures',
        sa.Column('task', sa.String(length=100), nullable=False),
        sa.Column('subject', sa.String(length=100), nullable=False),
        sa.Column('failures', sa.Integer(), nullable=False),
        sa.Column('last_error', sa.String(length=500), nullable=False),
        sa.Column(
            'last_failed_at',
            sa.DateTime(timezone=True),
            server_default=sa.text('now()'),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint('task', 'subject', name=op.f('pk_task_failures')),
    )


def downgrade() -> None:
    op.drop_table('task_failures')
    op.drop_table('task_outbox')
    op.drop_column('agencies', 'cap_certificate')
