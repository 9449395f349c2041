"""Turns: the processed-update mark, the reply outbox and the transcript in one row per turn.

``processed_updates`` goes: its marks carry no merchant, so they cannot become turns. Updates
confirmed to the messenger before the upgrade are not delivered again.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "turns",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("merchant_id", sa.Integer(),
                  sa.ForeignKey("merchants.id", ondelete="CASCADE"), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("update_key", sa.String(128), nullable=True),
        sa.Column("flow", sa.String(32), nullable=True),
        sa.Column("step", sa.String(64), nullable=True),
        sa.Column("incoming", sa.JSON(), nullable=True),
        sa.Column("replies", sa.JSON(), nullable=False),
        sa.Column("author", sa.String(64), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("sent_at", sa.DateTime(), nullable=True),
        sa.UniqueConstraint("channel", "update_key"),
    )
    op.create_index("ix_turns_merchant", "turns", ["merchant_id", "id"])
    op.drop_table("processed_updates")


def downgrade() -> None:
    op.create_table(
        "processed_updates",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("update_key", sa.String(128), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("channel", "update_key"),
    )
    op.drop_index("ix_turns_merchant", "turns")
    op.drop_table("turns")
