"""The operator console: staff users and sessions, the audit log and handoffs to a person
(the transcript is migration 0005's ``turns``).

Revision ID: 0007
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def _merchant_fk() -> sa.Column:
    return sa.Column("merchant_id", sa.Integer,
                     sa.ForeignKey("merchants.id", ondelete="CASCADE"), nullable=False)


def upgrade() -> None:
    op.create_table(
        "staff_users",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(64), nullable=False, unique=True),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "staff_sessions",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column("user_id", sa.Integer,
                  sa.ForeignKey("staff_users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("csrf", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("expires_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("at", sa.DateTime, nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("merchant_id", sa.Integer, nullable=True),
        sa.Column("address", sa.String(64), nullable=True),
        sa.Column("detail", sa.String(255), nullable=True),
    )
    op.create_index("ix_audit_at", "audit_log", ["at"])
    op.create_table(
        "handoffs",
        sa.Column("id", sa.Integer, primary_key=True),
        _merchant_fk(),
        sa.Column("opened_at", sa.DateTime, nullable=False),
        sa.Column("waiting_since", sa.DateTime, nullable=True),
        sa.Column("alerted_at", sa.DateTime, nullable=True),
        sa.Column("answered_at", sa.DateTime, nullable=True),
        sa.Column("closed_at", sa.DateTime, nullable=True),
        sa.Column("closed_by", sa.String(64), nullable=True),
    )
    op.create_index("ix_handoffs_open", "handoffs", ["closed_at", "opened_at"])


def downgrade() -> None:
    op.drop_index("ix_handoffs_open", "handoffs")
    op.drop_table("handoffs")
    op.drop_index("ix_audit_at", "audit_log")
    op.drop_table("audit_log")
    op.drop_table("staff_sessions")
    op.drop_table("staff_users")
