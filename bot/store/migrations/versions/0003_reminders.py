"""Milestones (what the merchant reported, with dates) and reminders derived from them.

Revision ID: 0003
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "milestones",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("merchant_id", sa.Integer,
                  sa.ForeignKey("merchants.id", ondelete="CASCADE"), nullable=False),
        sa.Column("subject", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16)),
        sa.Column("submitted_on", sa.Date),
        sa.Column("passed_on", sa.Date),
        sa.Column("rejected_on", sa.Date),
        sa.Column("renewed_through", sa.Date),
        sa.Column("due_on", sa.Date),
        sa.Column("review_on", sa.Date),
        sa.Column("updated_at", sa.DateTime, nullable=False),
        sa.UniqueConstraint("merchant_id", "subject"),
    )
    op.create_index("ix_milestones_review", "milestones", ["review_on"])
    op.create_table(
        "reminders",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("merchant_id", sa.Integer,
                  sa.ForeignKey("merchants.id", ondelete="CASCADE"), nullable=False),
        sa.Column("key", sa.String(96), nullable=False),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column("subject", sa.String(32), nullable=False),
        sa.Column("anchor", sa.Date, nullable=False),
        sa.Column("lead_days", sa.Integer, nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("due_at", sa.DateTime, nullable=False),
        sa.Column("next_at", sa.DateTime, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("claim_token", sa.String(32)),
        sa.Column("claimed_until", sa.DateTime),
        sa.Column("sent_at", sa.DateTime),
        sa.Column("last_error", sa.String(255)),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
        sa.UniqueConstraint("merchant_id", "key"),
    )
    op.create_index("ix_reminders_next", "reminders", ["status", "next_at"])


def downgrade() -> None:
    op.drop_index("ix_reminders_next", "reminders")
    op.drop_table("reminders")
    op.drop_index("ix_milestones_review", "milestones")
    op.drop_table("milestones")
