"""repair stored text the text policy now refuses: controls removed, line ends as newlines,
NFC, and no bidirectional overrides in names; such rows made the CAP export and the Atom
feed fail

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-05 02:50:00.000000
"""

import json
import re
import unicodedata
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0014'
down_revision: str | None = '0013'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The policy of alerts.fields as it stands at this revision (a migration does not follow
# later changes of the code): C0/C1 controls but tab and newline, surrogates, noncharacters.
_REFUSED = re.compile('[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff\ufdd0-\ufdef\ufffe\uffff]')
_BIDI = re.compile('[\u202a-\u202e\u2066-\u2069]')

# (table, column, length or None for text, whether it is a name)
_COLUMNS = {
    'notices': [
        ('person_name', 200, True),
        ('person_description', None, False),
        ('last_seen_place', 500, False),
        ('contact', 500, False),
        ('decision_reason', 500, False),
    ],
    'agencies': [('name', 200, True)],
    'agency_keys': [('label', 100, True)],
    'operators': [('display_name', 200, True)],
    'sightings': [('text', None, False), ('contact', 200, False)],
}


def _repaired(value: str, *, length: int | None = None, name: bool = False) -> str:
    text = value.replace('\r\n', '\n').replace('\r', '\n')
    text = unicodedata.normalize('NFC', _REFUSED.sub('', text))
    if name:
        text = _BIDI.sub('', text)
    text = text.strip() or '?'
    return text[:length] if length else text


def upgrade() -> None:
    connection = op.get_bind()
    for table, columns in _COLUMNS.items():
        names = ', '.join(column for column, _, _ in columns)
        for row in connection.execute(sa.text(f'SELECT id, {names} FROM {table}')).mappings():
            changes = {
                column: _repaired(row[column], length=length, name=name)
                for column, length, name in columns
                if row[column] is not None
            }
            changes = {k: v for k, v in changes.items() if v != row[k]}
            if table == 'agencies' and 'name' in changes:
                # Names are unique: a repaired name that another agency has keeps its id.
                taken = connection.scalar(
                    sa.text('SELECT count(*) FROM agencies WHERE name = :name AND id <> :id'),
                    {'name': changes['name'], 'id': row['id']},
                )
                if taken:
                    changes['name'] = f"{changes['name'][:150]} ({row['id']})"
            if changes:
                assignments = ', '.join(f'{column} = :{column}' for column in changes)
                connection.execute(
                    sa.text(f'UPDATE {table} SET {assignments} WHERE id = :id'),
                    {**changes, 'id': row['id']},
                )
    for notice_id, texts in connection.execute(
        sa.text('SELECT id, texts FROM notices WHERE texts IS NOT NULL')
    ):
        repaired = {
            language: {key: _repaired(value) for key, value in wording.items()}
            for language, wording in texts.items()
        }
        if repaired != texts:
            connection.execute(
                sa.text('UPDATE notices SET texts = CAST(:texts AS jsonb) WHERE id = :id'),
                {'texts': json.dumps(repaired), 'id': notice_id},
            )


def downgrade() -> None:
    """The characters removed are not kept: there is nothing to put back."""
