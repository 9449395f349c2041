"""What several workers share: an API token, the pacing of sends per member, and an inbox that
keeps each member's callback messages in order across workers.

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "shared_tokens",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("token", sa.String(512), nullable=False),
        sa.Column("expires_at", sa.Double, nullable=False),
    )
    op.create_table(
        "send_slots",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("member", sa.String(200), nullable=False),
        sa.Column("at", sa.Double, nullable=False),
    )
    op.create_index("ix_send_slots_member", "send_slots", ["member", "at"])
    op.create_table(
        "inbox",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("user_key", sa.String(128), nullable=False),
        sa.Column("update_key", sa.String(128), nullable=False),
        sa.Column("payload", sa.JSON, nullable=False),
        sa.Column("claimed_until", sa.Double, nullable=False),
        sa.UniqueConstraint("channel", "update_key"),
    )
    op.create_index("ix_inbox_member", "inbox", ["channel", "user_key", "id"])


def downgrade() -> None:
    op.drop_index("ix_inbox_member", "inbox")
    op.drop_table("inbox")
    op.drop_index("ix_send_slots_member", "send_slots")
    op.drop_table("send_slots")
    op.drop_table("shared_tokens")
