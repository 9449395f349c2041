"""Failed console sign-ins, per user name and per address, in the database: every console
worker slows the same guesser.

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "login_failures",
        sa.Column("kind", sa.String(8), primary_key=True),
        sa.Column("key", sa.String(128), primary_key=True),
        sa.Column("count", sa.Integer, nullable=False),
        sa.Column("locked_until", sa.DateTime, nullable=True),
        sa.Column("last_at", sa.DateTime, nullable=False),
    )
    op.create_index("ix_login_failures_last", "login_failures", ["last_at"])


def downgrade() -> None:
    op.drop_index("ix_login_failures_last", "login_failures")
    op.drop_table("login_failures")
