"""Tables. Schema changes go through Alembic migrations in ``bot/store/migrations``."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    ForeignKey,
    Index,
    LargeBinary,
    String,
    UniqueConstraint,
)
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
    delivered_via: Mapped[str | None] = mapped_column(String(16))  # e.g. wecom_kf | robot


class KfCursor(Base):
    """微信客服: how far ``kf/sync_msg`` has been read for one customer-service account."""

    __tablename__ = "kf_cursors"

    open_kfid: Mapped[str] = mapped_column(String(64), primary_key=True)
    cursor: Mapped[str] = mapped_column(String(255))
    updated_at: Mapped[datetime]


class KfSession(Base):
    """微信客服: one outside WeChat user (``external_userid``, the merchant's user_key).

    ``window_at``: their last message (WeCom allows 5 messages within 48 hours after it);
    ``sent``: how many of those 5 are used. ``serving``: who answers: bot | queue | person |
    ended (a person ended it: the bot's once the merchant writes again)."""

    __tablename__ = "kf_sessions"

    external_userid: Mapped[str] = mapped_column(String(128), primary_key=True)
    open_kfid: Mapped[str] = mapped_column(String(64))
    window_at: Mapped[datetime | None]
    sent: Mapped[int] = mapped_column(default=0)
    serving: Mapped[str] = mapped_column(String(12), default="bot")
    servicer: Mapped[str | None] = mapped_column(String(64))  # the person serving, if known
    handed_at: Mapped[datetime | None]  # asked for a person, and no person has written yet
    nudged_at: Mapped[datetime | None]  # staff last reminded that the merchant is waiting
    scene: Mapped[str | None] = mapped_column(String(128))  # where the merchant came from
    refusals: Mapped[int] = mapped_column(default=0)  # documents refused in a row at ...
    refusal_step: Mapped[str | None] = mapped_column(String(128))  # ... this step
    updated_at: Mapped[datetime]


class StaffAlert(Base):
    """A message for the service team's group chat (群机器人), kept until the robot took it."""

    __tablename__ = "staff_alerts"
    __table_args__ = (Index("ix_staff_alerts_status", "status", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(24))  # handoff | refused | reminder
    text: Mapped[str] = mapped_column(String(2048))
    status: Mapped[str] = mapped_column(String(8))  # pending | sent | failed
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]


class StaffUser(Base):
    """A member of the service team who signs in to the console."""

    __tablename__ = "staff_users"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))  # operator | admin
    password_hash: Mapped[str] = mapped_column(String(255))  # scrypt$n$r$p$salt$hash
    created_at: Mapped[datetime]


class StaffSession(Base):
    """A signed-in browser: the cookie holds a random token, the table only its hash."""

    __tablename__ = "staff_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id", ondelete="CASCADE"))
    csrf: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]


class AuditEntry(Base):
    """Every operator action. No foreign key: the log outlives users and erased merchants."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_at", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(32))  # login, login_failed, reply, release, ...
    merchant_id: Mapped[int | None]
    address: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[str | None] = mapped_column(String(255))


class Handoff(Base):
    """A merchant asked for a person; open until an operator releases them to the guide."""

    __tablename__ = "handoffs"
    __table_args__ = (Index("ix_handoffs_open", "closed_at", "opened_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id", ondelete="CASCADE"))
    opened_at: Mapped[datetime]
    waiting_since: Mapped[datetime | None]  # the merchant's oldest unanswered message
    alerted_at: Mapped[datetime | None]  # staff were last alerted then
    answered_at: Mapped[datetime | None]  # an operator's latest reply
    closed_at: Mapped[datetime | None]
    closed_by: Mapped[str | None] = mapped_column(String(64))


class Blob(Base):
    """A stored file's bytes under its storage name (``BOT_FILE_STORE=database``)."""

    __tablename__ = "blobs"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)  # as Document.storage
    size: Mapped[int]
    data: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime]  # naive UTC; retention keeps young unreferenced blobs


class LoginFailure(Base):
    """Failed console sign-ins of one user name or one address (``kind``: user | address),
    shared by every console worker, so that guessing is slowed the same on each."""

    __tablename__ = "login_failures"
    __table_args__ = (Index("ix_login_failures_last", "last_at"),)

    kind: Mapped[str] = mapped_column(String(8), primary_key=True)
    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    count: Mapped[int]
    locked_until: Mapped[datetime | None]
    last_at: Mapped[datetime]


class SharedToken(Base):
    """An API access token every worker uses (WeCom's gettoken is rate limited, and a token
    fetched by one worker serves all of them until it expires)."""

    __tablename__ = "shared_tokens"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)  # e.g. wecom:<corp>:<agent>
    token: Mapped[str] = mapped_column(String(512))
    expires_at: Mapped[float]  # epoch seconds


class SendSlot(Base):
    """One message sent to a member: the pacing windows (30 a minute, 1,000 an hour) count
    these across workers; rows older than the longest window are deleted as they pass."""

    __tablename__ = "send_slots"
    __table_args__ = (Index("ix_send_slots_member", "member", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    member: Mapped[str] = mapped_column(String(200))  # <app>:<member>
    at: Mapped[float]  # epoch seconds


class InboxItem(Base):
    """A callback message kept from before its acknowledgement until it is applied: a member's
    items are applied in id order whichever worker received them; an item whose claim ran out
    (its worker died) is taken over by another. Deleted once applied."""

    __tablename__ = "inbox"
    __table_args__ = (UniqueConstraint("channel", "update_key"),
                      Index("ix_inbox_member", "channel", "user_key", "id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    user_key: Mapped[str] = mapped_column(String(128))
    update_key: Mapped[str] = mapped_column(String(128))
    payload: Mapped[dict] = mapped_column(JSON)
    claimed_until: Mapped[float]  # epoch seconds


class AlbumGathering(Base):
    """Who gathers one media group (Telegram album) now: the photos of one album may reach
    different workers; the first to see it owns the gathering (``gen``) until ``until``."""

    __tablename__ = "album_gatherings"

    channel: Mapped[str] = mapped_column(String(16), primary_key=True)
    user_key: Mapped[str] = mapped_column(String(128), primary_key=True)
    group_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    gen: Mapped[int] = mapped_column(default=0)  # the current gathering's number
    closed: Mapped[bool] = mapped_column(default=True)  # its parts were taken to be applied
    until: Mapped[float]  # epoch seconds: the owner's claim; past it another worker takes over


class AlbumPart(Base):
    """One photo (or document) of an album as a worker received it, until the album is
    applied; ``taken``: the gathering that took it."""

    __tablename__ = "album_parts"

    channel: Mapped[str] = mapped_column(String(16), primary_key=True)
    user_key: Mapped[str] = mapped_column(String(128), primary_key=True)
    group_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    update_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    payload: Mapped[dict] = mapped_column(JSON)
    received_at: Mapped[float]
    taken: Mapped[int | None]
