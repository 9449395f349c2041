"""The one entry point every channel calls: ``Service.handle(channel, user_key, event)``.

It serialises each merchant's events, loads the state, runs the pure engine, stores files, and
writes the state, the documents, the certifications and the processed-update mark in one
transaction. Replies are returned only after that transaction committed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.engine.machine import HELP, Guide
from bot.engine.messages import Msg
from bot.engine.model import (
    Choose,
    DocumentRef,
    DropDocuments,
    Event,
    Expect,
    Outcome,
    RecordCertification,
    Reply,
    State,
    StoreDocument,
    Text,
    Upload,
)
from bot.i18n import negotiate
from bot.store.db import Database
from bot.store.files import FileStore
from bot.store.models import Certification, Document, Merchant, ProcessedUpdate

log = logging.getLogger(__name__)



class ConcurrentUpdate(RuntimeError):
    """Another worker wrote this conversation first; the event is retried on fresh state."""


@dataclass
class Result:
    replies: list[Reply]
    expects: Expect
    locale: str
    duplicate: bool = False  # the update was applied before; nothing changed
    documents: list[DocumentRef] = field(default_factory=list)


@dataclass
class Turn:
    """What a command handler outside the engine gets: it runs inside the event's transaction."""

    service: Service
    session: AsyncSession
    merchant: Merchant
    state: State
    event: Event
    arg: str
    now: datetime
    repeat: bool = True  # False: the handler's replies stand alone (no current question)


# A handler returns replies; the service then repeats the current question. It may change
# ``turn.state`` (saved with the event) and write rows through ``turn.session``.
Handler = Callable[[Turn], Awaitable[list[Reply]]]
# A route picks a handler for an event the engine would otherwise take (e.g. a merchant handed
# over to a person); it only reads, in the event's session, before the write lock.
Route = Callable[[AsyncSession, Merchant, Event], Awaitable[Handler | None]]


def _same(data: dict) -> dict:
    return data


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class Service:
    def __init__(
        self,
        guide: Guide,
        db: Database,
        files: FileStore,
        *,
        default_locale: str = "zh_CN",
        timezone: str = "Asia/Shanghai",
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.guide = guide
        self.db = db
        self.files = files
        self.default_locale = default_locale
        self.timezone = timezone
        self.clock = clock  # naive UTC
        self.commands: dict[str, Handler] = {}  # "/name" handled outside the engine
        self.choice_prefixes: dict[str, Handler] = {}  # Choose ids "prefix:..." likewise
        self.command_help: dict[str, Msg] = {}  # one line of /help for each of those commands
        # Called after every applied event, in its transaction, with the new state in
        # ``turn.state`` (e.g. to derive reminders from the merchant's answers).
        self.after_turn: list[Callable[[Turn], Awaitable[None]]] = []
        self.routes: list[Route] = []
        self.plugins: dict[str, object] = {}  # installed plugins by name, for the web pages
        # What goes into and comes out of ``merchants.state`` (e.g. ID numbers encrypted at
        # rest by ``bot.documents.privacy``); the identity unless installed.
        self.seal: Callable[[dict], dict] = _same
        self.unseal: Callable[[dict], dict] = _same
        self.commands["help"] = self._help
        # SQLite has one writer: queue our writers here rather than in its busy handler, which
        # sleeps in coarse steps. Other databases take concurrent transactions themselves.
        self._writer = (
            asyncio.Lock() if db.url.get_backend_name() == "sqlite" else contextlib.nullcontext()
        )
        self._locks: weakref.WeakValueDictionary[tuple[str, str], asyncio.Lock] = (
            weakref.WeakValueDictionary()
        )

    def _lock(self, channel: str, user_key: str) -> asyncio.Lock:
        key = (channel, user_key)
        lock = self._locks.get(key)
        if lock is None:
            lock = self._locks[key] = asyncio.Lock()
        return lock

    async def handle(
        self,
        channel: str,
        user_key: str,
        event: Event,
        *,
        update_id: str | None = None,
        language: str | None = None,
        locale: str | None = None,
    ) -> Result:
        """Apply ``event`` for one merchant. ``language`` is a hint for a new merchant (e.g. a
        Telegram ``language_code``); ``locale`` forces the merchant's locale."""
        async with self._lock(channel, user_key):
            for attempt in range(3):
                try:
                    return await self._apply(channel, user_key, event, update_id, language,
                                             locale)
                except ConcurrentUpdate:
                    log.warning("concurrent write on a conversation, retry %d", attempt + 1)
            raise ConcurrentUpdate(channel)

    async def notice(self, channel: str, user_key: str, message: Msg) -> Result:
        """Tell the merchant something outside the flow (e.g. an unreadable input) and repeat
        the current question; the state is not changed."""
        async with self.db.session() as session:
            merchant = await self._merchant(session, channel, user_key)
            state = await self._state(session, merchant) if merchant else State(
                self.default_locale)
        text = self.guide.render.text(state.locale, message)
        step = self.guide.current_step(state)
        replies = [Reply(text)]
        if step is not None:
            replies.append(self.guide.render.question(state, self.guide.flows[state.flow], step))
        return Result(replies, self.guide.expects(state), state.locale)

    async def peek(self, channel: str, user_key: str) -> Result:
        """The merchant's locale and current question, read-only (no replies, no changes)."""
        async with self.db.session() as session:
            merchant = await self._merchant(session, channel, user_key)
            state = await self._state(session, merchant) if merchant else State(
                self.default_locale)
        return Result([], self.guide.expects(state), state.locale)

    async def applied(self, channel: str, update_id: str) -> bool:
        """Whether an update was applied already (its effects are committed)."""
        async with self.db.session() as session:
            return await self._seen(session, channel, update_id)

    async def _apply(self, channel, user_key, event, update_id, language, locale) -> Result:
        now = self.clock()
        async with self.db.session() as session:
            if update_id is not None and await self._seen(session, channel, update_id):
                merchant = await self._merchant(session, channel, user_key)
                locale_now = merchant.locale if merchant else self.default_locale
                return Result([], Expect("none"), locale_now, duplicate=True)
            merchant = await self._merchant(session, channel, user_key)
            if merchant is None:  # added with the writes below
                merchant = Merchant(
                    channel=channel, user_key=user_key,
                    locale=negotiate(locale or language, self.default_locale),
                    timezone=self.timezone, state={}, version=0, created_at=now, updated_at=now,
                )
                state = State(merchant.locale)
            else:
                state = await self._state(session, merchant)
            if locale:
                state.locale = negotiate(locale, state.locale)
            today = self.today(merchant.timezone, now)
            handler, arg = self._handler_for(event)
            for route in self.routes if handler is None else ():
                if (handler := await route(session, merchant, event)) is not None:
                    break
            outcome = None
            if handler is None:
                # The engine is pure: file checks (image decoding) run off the event loop,
                # and before the write lock, so other merchants are not held up.
                run = self.guide.handle
                outcome = (await asyncio.to_thread(run, state, event, today)
                           if isinstance(event, Upload) else run(state, event, today))
            async with self._writer:
                if merchant.id is None:
                    session.add(merchant)
                    await session.flush()
                if outcome is None:
                    turn = Turn(self, session, merchant, state, event, arg, now)
                    replies = await handler(turn)
                    if turn.repeat:
                        outcome = self.guide.handle(turn.state, Text("/repeat"), today)
                        outcome.replies[:0] = replies
                    else:
                        outcome = Outcome(turn.state, replies, self.guide.expects(turn.state))
                await self._write(session, channel, merchant, event, update_id, outcome, now)
                await session.commit()
        log.info("%s event %s -> %s.%s", channel, type(event).__name__,
                 outcome.state.flow, outcome.state.step)
        return Result(outcome.replies, outcome.expects, outcome.state.locale,
                      documents=outcome.state.documents)

    async def _write(self, session, channel, merchant, event, update_id, outcome, now) -> None:
        await self._persist_effects(session, merchant, outcome.effects, now)
        for hook in self.after_turn:
            await hook(Turn(self, session, merchant, outcome.state, event, "", now))
        version = merchant.version
        result = await session.execute(
            update(Merchant)
            .where(Merchant.id == merchant.id, Merchant.version == version)
            .values(state=self.seal(outcome.state.to_json()), locale=outcome.state.locale,
                    version=version + 1, updated_at=now)
        )
        if result.rowcount != 1:
            raise ConcurrentUpdate(channel)
        if update_id is not None:
            session.add(ProcessedUpdate(channel=channel, update_key=update_id, created_at=now))
        try:
            await session.flush()
        except IntegrityError as exc:  # the same update applied by another worker
            raise ConcurrentUpdate(channel) from exc

    def add_command(self, name: str, handler: Handler, help_line: Msg) -> None:
        self.commands[name] = handler
        self.command_help[name] = help_line

    async def _help(self, turn: Turn) -> list[Reply]:
        render = self.guide.render
        lines = [render.text(turn.state.locale, HELP)]
        lines += [render.text(turn.state.locale, m) for m in self.command_help.values()]
        return [Reply("\n".join(lines))]

    def _handler_for(self, event: Event) -> tuple[Handler | None, str]:
        if isinstance(event, Text) and event.text.strip().startswith("/"):
            name, _, arg = event.text.strip()[1:].partition(" ")
            handler = self.commands.get(name.split("@", 1)[0].lower())
            return handler, arg.strip()
        if isinstance(event, Choose) and ":" in event.id:
            prefix, _, arg = event.id.partition(":")
            return self.choice_prefixes.get(prefix), arg
        return None, ""

    def today(self, timezone: str, now: datetime) -> date:
        return now.replace(tzinfo=UTC).astimezone(ZoneInfo(timezone)).date()

    async def _seen(self, session: AsyncSession, channel: str, update_id: str) -> bool:
        found = await session.scalar(
            select(ProcessedUpdate.id).where(
                ProcessedUpdate.channel == channel, ProcessedUpdate.update_key == update_id
            )
        )
        return found is not None

    async def _merchant(self, session: AsyncSession, channel: str, user_key: str):
        return await session.scalar(
            select(Merchant).where(Merchant.channel == channel, Merchant.user_key == user_key)
        )

    async def _state(self, session: AsyncSession, merchant: Merchant) -> State:
        data = self.unseal(merchant.state or {})
        docs = await session.scalars(
            select(Document).where(Document.merchant_id == merchant.id).order_by(Document.id)
        )
        certs = await session.scalars(
            select(Certification).where(Certification.merchant_id == merchant.id)
        )
        return State(
            locale=merchant.locale,
            flow=data.get("flow"),
            step=data.get("step"),
            answers=dict(data.get("answers", {})),
            stack=list(data.get("stack", [])),
            pending=dict(data.get("pending", {})),
            documents=[DocumentRef(d.sha256, d.category, d.name, d.kind, d.size, d.phash)
                       for d in docs],
            certifications={c.kind: {"status": c.status, "reason": c.reason} for c in certs},
        )

    async def _persist_effects(self, session, merchant, effects, now) -> None:
        for effect in effects:
            if isinstance(effect, StoreDocument):
                ref = effect.ref
                storage = await asyncio.to_thread(self.files.store, ref.kind, effect.data)
                session.add(Document(
                    merchant_id=merchant.id, category=ref.category, step=effect.step,
                    name=ref.name, kind=ref.kind, size=ref.size, sha256=ref.sha256,
                    phash=ref.phash, storage=storage, created_at=now,
                ))
            elif isinstance(effect, DropDocuments):
                await session.execute(delete(Document).where(
                    Document.merchant_id == merchant.id, Document.category == effect.category
                ))
            elif isinstance(effect, RecordCertification):
                await self._record_certification(session, merchant.id, effect, now)

    async def _record_certification(self, session, merchant_id, effect, now) -> None:
        row = await session.scalar(select(Certification).where(
            Certification.merchant_id == merchant_id, Certification.kind == effect.kind
        ))
        if row is None:
            session.add(Certification(merchant_id=merchant_id, kind=effect.kind,
                                      status=effect.status, reason=effect.reason,
                                      updated_at=now))
        else:
            row.status, row.reason, row.updated_at = effect.status, effect.reason, now
