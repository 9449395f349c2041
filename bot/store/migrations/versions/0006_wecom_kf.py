"""微信客服: sync cursors, per-merchant sessions (48-hour window, handoff), staff alerts, and
how a reminder was delivered.

Revision ID: 0006
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "kf_cursors",
        sa.Column("open_kfid", sa.String(64), primary_key=True),
        sa.Column("cursor", sa.String(255), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
    )
    op.create_table(
        "kf_sessions",
        sa.Column("external_userid", sa.String(128), primary_key=True),
        sa.Column("open_kfid", sa.String(64), nullable=False),
        sa.Column("window_at", sa.DateTime(), nullable=True),
        sa.Column("sent", sa.Integer(), nullable=False),
        sa.Column("serving", sa.String(12), nullable=False),
        sa.Column("servicer", sa.String(64), nullable=True),
        sa.Column("handed_at", sa.DateTime(), nullable=True),
        sa.Column("nudged_at", sa.DateTime(), nullable=True),
        sa.Column("scene", sa.String(128), nullable=True),
        sa.Column("refusals", sa.Integer(), nullable=False),
        sa.Column("refusal_step", sa.String(128), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
    )
    op.create_table(
        "staff_alerts",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column("text", sa.String(2048), nullable=False),
        sa.Column("status", sa.String(8), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(255), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("sent_at", sa.DateTime(), nullable=True),
    )
    op.create_index("ix_staff_alerts_status", "staff_alerts", ["status", "id"])
    with op.batch_alter_table("reminders") as batch:
        batch.add_column(sa.Column("delivered_via", sa.String(16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("reminders") as batch:
        batch.drop_column("delivered_via")
    op.drop_index("ix_staff_alerts_status", "staff_alerts")
    op.drop_table("staff_alerts")
    op.drop_table("kf_sessions")
    op.drop_table("kf_cursors")
