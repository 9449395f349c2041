"""Documents: a perceptual hash (near-duplicate photos) and a random storage name.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("documents") as batch:
        batch.add_column(sa.Column("phash", sa.String(16), nullable=True))
        batch.add_column(sa.Column("storage", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("documents") as batch:
        batch.drop_column("storage")
        batch.drop_column("phash")
