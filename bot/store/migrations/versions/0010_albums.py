"""Albums split between workers: who gathers a media group, and its parts until applied.

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "album_gatherings",
        sa.Column("channel", sa.String(16), primary_key=True),
        sa.Column("user_key", sa.String(128), primary_key=True),
        sa.Column("group_id", sa.String(128), primary_key=True),
        sa.Column("gen", sa.Integer, nullable=False),
        sa.Column("closed", sa.Boolean, nullable=False),
        sa.Column("until", sa.Double, nullable=False),
    )
    op.create_table(
        "album_parts",
        sa.Column("channel", sa.String(16), primary_key=True),
        sa.Column("user_key", sa.String(128), primary_key=True),
        sa.Column("group_id", sa.String(128), primary_key=True),
        sa.Column("update_id", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("payload", sa.JSON, nullable=False),
        sa.Column("received_at", sa.Double, nullable=False),
        sa.Column("taken", sa.Integer, nullable=True),
    )


def downgrade() -> None:
    op.drop_table("album_parts")
    op.drop_table("album_gatherings")
