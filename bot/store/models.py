"""Tables. Schema changes go through Alembic migrations in ``bot/store/migrations``."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Merchant(Base):
    __tablename__ = "merchants"
    __table_args__ = (UniqueConstraint("channel", "user_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    user_key: Mapped[str] = mapped_column(String(128))
    locale: Mapped[str] = mapped_column(String(8))
    timezone: Mapped[str] = mapped_column(String(64))
    state: Mapped[dict] = mapped_column(JSON)
    version: Mapped[int] = mapped_column(default=0)  # guards against two writers
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class Document(Base):
    __tablename__ = "documents"
    __table_args__ = (Index("ix_documents_merchant", "merchant_id", "category"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id", ondelete="CASCADE"))
    category: Mapped[str] = mapped_column(String(64))
    step: Mapped[str] = mapped_column(String(128))
    name: Mapped[str] = mapped_column(String(255))  # the merchant's file name, as sent
    kind: Mapped[str] = mapped_column(String(8))  # decided by content
    size: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    phash: Mapped[str | None] = mapped_column(String(16))  # images: perceptual hash (dHash)
    storage: Mapped[str | None] = mapped_column(String(64))  # random file name; None: by sha256


class Certification(Base):
    __tablename__ = "certifications"
    __table_args__ = (UniqueConstraint("merchant_id", "kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(String(32))
    updated_at: Mapped[datetime]


class Turn(Base):
    """One applied turn: the processed-update mark (recorded in the transaction of its
    effects), the reply outbox (``sent_at`` once the channel delivered) and the transcript."""

    __tablename__ = "turns"
    __table_args__ = (
        UniqueConstraint("channel", "update_key"),
        Index("ix_turns_merchant", "merchant_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(16))
    update_key: Mapped[str | None] = mapped_column(String(128))
    flow: Mapped[str | None] = mapped_column(String(32))  # where the merchant is after the turn
    step: Mapped[str | None] = mapped_column(String(64))
    incoming: Mapped[dict | None] = mapped_column(JSON)  # ID/passport numbers masked
    replies: Mapped[list] = mapped_column(JSON)
    author: Mapped[str | None] = mapped_column(String(64))  # None: the guide
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]


class Milestone(Base):
    """What a merchant told the bot about one subject, with its dates; reminders derive from it.

    Subjects: a certification (``basic``, ``factory``, ``trade``, ``strength_merchant``: the
    badge), ``license`` (the business license's end date) and ``inspection`` (the planned
    on-site visit).
    """

    __tablename__ = "milestones"
    __table_args__ = (
        UniqueConstraint("merchant_id", "subject"),
        Index("ix_milestones_review", "review_on"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id", ondelete="CASCADE"))
    subject: Mapped[str] = mapped_column(String(32))
    status: Mapped[str | None] = mapped_column(String(16))  # as reported; license: long_term
    submitted_on: Mapped[date | None]
    passed_on: Mapped[date | None]
    rejected_on: Mapped[date | None]
    renewed_through: Mapped[date | None]  # the latest anniversary the merchant renewed
    due_on: Mapped[date | None]  # license end date, inspection date
    review_on: Mapped[date | None]  # derive the reminders again from this day (next cycle)
    updated_at: Mapped[datetime]


class Reminder(Base):
    """One message to send at ``due_at`` (UTC). Claimed before sending, marked after."""

    __tablename__ = "reminders"
    __table_args__ = (
        UniqueConstraint("merchant_id", "key"),
        Index("ix_reminders_next", "status", "next_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(96))  # kind:subject:anchor:lead, never reused
    kind: Mapped[str] = mapped_column(String(24))
    subject: Mapped[str] = mapped_column(String(32))
    anchor: Mapped[date]  # anniversary, end date, submission date or visit date
    lead_days: Mapped[int]
    # pending | claimed | sent | done | cancelled | obsolete | failed
    status: Mapped[str] = mapped_column(String(12))
    due_at: Mapped[datetime]  # when it is due (UTC), as listed to the merchant
    next_at: Mapped[datetime]  # the next attempt (UTC): due_at, deferred or backed off
    attempts: Mapped[int] = mapped_column(default=0)
    claim_token: Mapped[str | None] = mapped_column(String(32))
    claimed_until: Mapped[datetime | None]  # the claim's lease; expired: claimable again
    sent_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
