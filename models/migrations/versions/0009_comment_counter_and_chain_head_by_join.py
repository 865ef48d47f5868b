"""comment counter on the decision; the chain head read by join, not stored

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 15:40:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401  (autogenerate renders sqlmodel types)
from alembic import op


# revision identifiers, used by Alembic.
revision: str = '0009'
down_revision: str | Sequence[str] | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('decision', schema=None) as batch_op:
        batch_op.add_column(sa.Column('comment_seq', sa.Integer(), nullable=False, server_default='0'))
        batch_op.drop_column('audit_head')
    # the counter starts where the comments already received leave it
    op.execute(
        "UPDATE decision SET comment_seq = "
        "(SELECT COUNT(*) FROM publiccomment WHERE publiccomment.decision_id = decision.id)"
    )


def downgrade() -> None:
    with op.batch_alter_table('decision', schema=None) as batch_op:
        batch_op.add_column(sa.Column('audit_head', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False, server_default=''))
        batch_op.drop_column('comment_seq')
    op.execute("UPDATE decision SET audit_seq = 0")  # heads are read from the chain again
