"""dispatch leases: broadcast chunks as rows, delivery leases and retry times

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23 11:00:00.000000

A broadcast writes its chunks to dispatch_chunks before queueing any task, and every pending
delivery carries a lease and, after a retryable error, the time of its next attempt: a
reconciler finds work whose task or worker was lost, and nothing waits on a message broker
to remember it.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('notices', sa.Column('broadcast_round', sa.Integer(), server_default=sa.text('1'), nullable=False))
    op.create_table('dispatch_chunks',
    sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
    sa.Column('notice_id', sa.Uuid(), nullable=False),
    sa.Column('round', sa.Integer(), nullable=False),
    sa.Column('ranges', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('status', sa.Enum('pending', 'claimed', 'dropped', name='chunk_status', native_enum=False, create_constraint=True, length=16), nullable=False),
    sa.Column('lease_until', sa.DateTime(timezone=True), nullable=False),
    sa.Column('attempts', sa.Integer(), server_default=sa.text('1'), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['notice_id'], ['notices.id'], name=op.f('fk_dispatch_chunks_notice_id_notices')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dispatch_chunks'))
    )
    op.create_index('ix_dispatch_chunks_notice_id', 'dispatch_chunks', ['notice_id', 'round'], unique=False)
    op.create_index('ix_dispatch_chunks_pending', 'dispatch_chunks', ['lease_until'], unique=False, postgresql_where=sa.text("status = 'pending'"))
    op.add_column('deliveries', sa.Column('attempts', sa.Integer(), server_default=sa.text('0'), nullable=False))
    op.add_column('deliveries', sa.Column('lease_until', sa.DateTime(timezone=True), nullable=True))
    op.add_column('deliveries', sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=True))
    op.add_column('deliveries', sa.Column('last_attempt_at', sa.DateTime(timezone=True), nullable=True))
    op.create_index('ix_deliveries_pending', 'deliveries', ['notice_id'], unique=False, postgresql_where=sa.text("status = 'pending'"))


def downgrade() -> None:
    op.drop_column('notices', 'broadcast_round')
    op.drop_index('ix_deliveries_pending', table_name='deliveries', postgresql_where=sa.text("status = 'pending'"))
    op.drop_column('deliveries', 'last_attempt_at')
    op.drop_column('deliveries', 'next_attempt_at')
    op.drop_column('deliveries', 'lease_until')
    op.drop_column('deliveries', 'attempts')
    op.drop_index('ix_dispatch_chunks_pending', table_name='dispatch_chunks', postgresql_where=sa.text("status = 'pending'"))
    op.drop_index('ix_dispatch_chunks_notice_id', table_name='dispatch_chunks')
    op.drop_table('dispatch_chunks')
