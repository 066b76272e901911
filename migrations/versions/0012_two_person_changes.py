"""who issued each agency key, which key submitted each notice, and changes to approved
notices waiting for a second person

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-05 03:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0012'
down_revision: str | None = '0011'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('agency_keys', sa.Column('issued_by_operator_id', sa.Uuid(), nullable=True))
    op.create_foreign_key(
        op.f('fk_agency_keys_issued_by_operator_id_operators'),
        'agency_keys',
        'operators',
        ['issued_by_operator_id'],
        ['id'],
    )
    # Keys and the audit log came together (0008): each key's creation names its issuer.
    op.execute(
        """
        UPDATE agency_keys SET issued_by_operator_id = audit.actor_id
        FROM audit_events AS audit
        WHERE audit.action = 'agency_key.created'
          AND audit.actor_type = 'operator'
          AND audit.details->>'key_id' = agency_keys.id::text
        """
    )
    op.add_column('notices', sa.Column('submitted_with_key_id', sa.Uuid(), nullable=True))
    op.create_foreign_key(
        op.f('fk_notices_submitted_with_key_id_agency_keys'),
        'notices',
        'agency_keys',
        ['submitted_with_key_id'],
        ['id'],
    )
    op.execute(
        """
        UPDATE notices SET submitted_with_key_id = (audit.details->>'credential_id')::uuid
        FROM audit_events AS audit
        WHERE audit.action = 'notice.submitted'
          AND audit.actor_type = 'agency'
          AND audit.notice_id = notices.id
          AND audit.details ? 'credential_id'
        """
    )
    op.create_table(
        'notice_changes',
        sa.Column('id', sa.Uuid(), nullable=False),
        sa.Column('notice_id', sa.Uuid(), nullable=False),
        sa.Column(
            'kind',
            sa.Enum(
                'update',
                'expansion',
                name='change_kind',
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column('changes', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column(
            'status',
            sa.Enum(
                'pending',
                'approved',
                'rejected',
                name='change_status',
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column(
            'proposed_by_type',
            sa.Enum(
                'operator',
                'agency',
                'device',
                'system',
                name='actor_type',
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column('proposed_by_id', sa.Uuid(), nullable=True),
        sa.Column('proposer_operator_id', sa.Uuid(), nullable=True),
        sa.Column(
            'created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False
        ),
        sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('decided_by_operator_id', sa.Uuid(), nullable=True),
        sa.Column('decision_reason', sa.String(length=500), nullable=True),
        sa.ForeignKeyConstraint(
            ['notice_id'], ['notices.id'], name=op.f('fk_notice_changes_notice_id_notices')
        ),
        sa.ForeignKeyConstraint(
            ['proposer_operator_id'],
            ['operators.id'],
            name=op.f('fk_notice_changes_proposer_operator_id_operators'),
        ),
        sa.ForeignKeyConstraint(
            ['decided_by_operator_id'],
            ['operators.id'],
            name=op.f('fk_notice_changes_decided_by_operator_id_operators'),
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_notice_changes')),
    )
    op.create_index(
        'ix_notice_changes_notice', 'notice_changes', ['notice_id', 'created_at'], unique=False
    )


def downgrade() -> None:
    op.drop_index('ix_notice_changes_notice', table_name='notice_changes')
    op.drop_table('notice_changes')
    op.drop_constraint(
        op.f('fk_notices_submitted_with_key_id_agency_keys'), 'notices', type_='foreignkey'
    )
    op.drop_column('notices', 'submitted_with_key_id')
    op.drop_constraint(
        op.f('fk_agency_keys_issued_by_operator_id_operators'), 'agency_keys', type_='foreignkey'
    )
    op.drop_column('agency_keys', 'issued_by_operator_id')
