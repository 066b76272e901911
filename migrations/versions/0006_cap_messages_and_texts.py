"""CAP: the messages agencies posted, and a notice's CAP status, localized texts and revision

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23 11:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql


revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('notices', sa.Column('cap_status', sa.Enum('Actual', 'Exercise', 'Test', name='cap_status', native_enum=False, create_constraint=True, length=16), server_default='Actual', nullable=False))
    op.add_column('notices', sa.Column('texts', postgresql.JSONB(astext_type=sa.Text()), nullable=True))
    op.add_column('notices', sa.Column('revision', sa.Integer(), server_default=sa.text('0'), nullable=False))
    op.add_column('notices', sa.Column('revised_at', sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        'cap_messages',
        sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column('agency_id', sa.Uuid(), nullable=False),
        sa.Column('notice_id', sa.Uuid(), nullable=False),
        sa.Column('sender', sa.String(length=255), nullable=False),
        sa.Column('identifier', sa.String(length=255), nullable=False),
        sa.Column('sent', sa.DateTime(timezone=True), nullable=False),
        sa.Column('msg_type', sa.String(length=16), nullable=False),
        sa.Column('received_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.ForeignKeyConstraint(['agency_id'], ['agencies.id'], name=op.f('fk_cap_messages_agency_id_agencies')),
        sa.ForeignKeyConstraint(['notice_id'], ['notices.id'], name=op.f('fk_cap_messages_notice_id_notices')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_cap_messages')),
        sa.UniqueConstraint('agency_id', 'sender', 'identifier', name=op.f('uq_cap_messages_agency_id')),
    )
    op.create_index(op.f('ix_cap_messages_notice_id'), 'cap_messages', ['notice_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_cap_messages_notice_id'), table_name='cap_messages')
    op.drop_table('cap_messages')
    op.drop_column('notices', 'revised_at')
    op.drop_column('notices', 'revision')
    op.drop_column('notices', 'texts')
    op.drop_column('notices', 'cap_status')
