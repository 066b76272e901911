"""devices: page space and vacuum settings for a table rewritten by location reports all day

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-05 03:00:00.000000

Every location report writes a new version of its device's row (ten million devices reporting
every 15 minutes rewrite the table about 100 times a day). Pages keep 20 % free, so that the
new version usually lands on its old page and vacuum can reclaim the old one without moving
anything; the indexes whose keys do not change (id, token, key hash) keep their size through
PostgreSQL's bottom-up index deletion. Autovacuum starts after 2 % of the rows have changed
(the default 20 % would let a 10-million-row table carry two million dead versions) and
does not sleep between pages. Pages written before this migration keep their old fill
until the table is rewritten (VACUUM FULL, or pg_repack online).
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0017'
down_revision: str | None = '0016'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        'ALTER TABLE devices SET (fillfactor = 80, autovacuum_vacuum_scale_factor = 0.02, '
        'autovacuum_analyze_scale_factor = 0.02, autovacuum_vacuum_cost_delay = 0)'
    )


def downgrade() -> None:
    op.execute(
        'ALTER TABLE devices RESET (fillfactor, autovacuum_vacuum_scale_factor, '
        'autovacuum_analyze_scale_factor, autovacuum_vacuum_cost_delay)'
    )
