"""drawn target areas on notices, and expansion steps

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 10:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql


revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.alter_column('notices', 'radius_km', existing_type=sa.Float(), nullable=True)
    op.add_column('notices', sa.Column('target_areas', postgresql.JSONB(astext_type=sa.Text()), nullable=True))
    op.create_table(
        'expansion_steps',
        sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column('notice_id', sa.Uuid(), nullable=False),
        sa.Column('after_minutes', sa.Float(), nullable=False),
        sa.Column('radius_km', sa.Float(), nullable=False),
        sa.Column('applied_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['notice_id'], ['notices.id'], name=op.f('fk_expansion_steps_notice_id_notices')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_expansion_steps')),
        sa.UniqueConstraint('notice_id', 'after_minutes', name=op.f('uq_expansion_steps_notice_id')),
    )
    op.create_index(op.f('ix_expansion_steps_notice_id'), 'expansion_steps', ['notice_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_expansion_steps_notice_id'), table_name='expansion_steps')
    op.drop_table('expansion_steps')
    op.drop_column('notices', 'target_areas')
    op.execute("DELETE FROM notices WHERE radius_km IS NULL")
    op.alter_column('notices', 'radius_km', existing_type=sa.Float(), nullable=False)
