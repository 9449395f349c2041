"""The one entry point every channel calls: ``Service.handle(channel, user_key, event)``.

A turn: the merchant's state comes from the cache (or the database once), the pure engine runs
on it, files are written and synced, and the turn is queued to the one writer, which puts every
turn waiting into one transaction and one commit. A warm turn is the engine, one
version-guarded UPDATE of ``merchants`` and one INSERT into ``turns``, given to the writer as
data (``TurnWrite``) so that on SQLite a batch's turns are two ``executemany``. Replies are
returned only after the commit. A write another process got in first (version guard, UNIQUE, a
serialisation failure) is retried on fresh state with backoff; when retries run out the
merchant gets an apology, never a crash.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import random
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection

from bot import metrics
from bot.engine.files import precheck
from bot.engine.intake import upload_rule
from bot.engine.machine import HELP, Guide
from bot.engine.messages import Msg
from bot.engine.model import (
    Choose,
    DocumentRef,
    Event,
    Expect,
    Files,
    Outcome,
    Reply,
    State,
    StoreDocument,
    Text,
    Upload,
)
from bot.i18n import negotiate
from bot.plugins import Change, Command, Handler, Plugin, Route, Turn, Write
from bot.store import merchants as M
from bot.store import turns as T
from bot.store.batch import MarkSent, TurnWrite
from bot.store.cache import Cached, StateCache
from bot.store.db import Database
from bot.store.files import FileStore
from bot.store.reader import Reader
from bot.store.writer import Writer
from bot.transcript import incoming, replies_from, replies_json

log = logging.getLogger(__name__)

APOLOGY = Msg("Sorry, I could not save your message just now. Please send it again in a "
              "moment.")
SERIALISATION = {"40001", "40P01"}  # PostgreSQL: serialization failure, deadlock
# A redelivered update whose replies are not marked sent: the worker that applied it is
# most likely still sending them (two workers got the update at once), so the redelivery
# waits this long from the turn's commit before taking them as lost and sending them.
OUTBOX_LEASE = 8.0
OUTBOX_POLL = 0.05
MARK_LINGER = 0.05  # seconds a mark of sent replies may wait for a batch to join
OUTBOX_REMEMBERED = 10_000  # turns whose channel is kept until it reports the send


class ConcurrentUpdate(M.VersionConflict):
    """Another worker wrote this conversation first; the event is retried on fresh state."""


@dataclass
class Result:
    replies: list[Reply]
    expects: Expect
    locale: str
    duplicate: bool = False  # the update was applied before; nothing changed
    documents: list[DocumentRef] = field(default_factory=list)
    # The turn's row in ``turns``: pass it to ``Service.mark_sent`` once the replies are
    # delivered. None when nothing was stored (a notice, a peek, an apology).
    turn_id: int | None = None


def utcnow() -> datetime:
    # Naive UTC, as the store keeps times; built from the fields, which costs a third of
    # ``replace(tzinfo=None)`` (every turn asks).
    now = datetime.now(UTC)
    return datetime(now.year, now.month, now.day, now.hour, now.minute, now.second,
                    now.microsecond)


def image_pool(workers: int = 2) -> ProcessPoolExecutor:
    """Processes for image checks, started at the first upload (a command that takes none
    starts none). Spawned, not forked: a forked worker would inherit the pipes of its own
    queue and outlive a parent killed with -9 (and keep its output open)."""
    return ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))


def retryable(exc: BaseException) -> bool:
    if isinstance(exc, M.VersionConflict | IntegrityError | OperationalError):
        return True
    if isinstance(exc, DBAPIError):
        orig = exc.orig
        code = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
        return code in SERIALISATION
    return False


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
        retries: int = 5,
        backoff: float = 0.02,
        pool: Executor | None = None,
        outbox_lease: float = OUTBOX_LEASE,
    ) -> None:
        """``pool``: where uploaded images are checked (a process pool: decoding pixels holds
        the GIL); without one, in a thread. ``outbox_lease``: how long (seconds) the worker
        that applied an update has to deliver its replies before a redelivery sends them."""
        self.guide = guide
        self.db = db
        self.files = files
        self.default_locale = default_locale
        self.timezone = timezone
        self.clock = clock  # naive UTC
        self.retries = retries
        self.backoff = backoff
        self.pool = pool
        self.outbox_lease = outbox_lease
        # SQLite: one writer, group commit. PostgreSQL: a transaction per turn, many at once
        # (measured, 50 merchants at once: 177 against 116 turns/s for batches on one
        # connection, whose savepoints cost a round trip each).
        self.writer = Writer(db.engine, batched=db.url.get_backend_name() == "sqlite")
        self.reader = Reader(db.engine)
        self.cache = StateCache()
        # A database several workers share: a warm entry is checked against the stored
        # version before the turn runs on it (one indexed SELECT that returns a row only when
        # it is behind). With two workers taking a merchant's answers in turn, a stale entry
        # otherwise cost a refused write, a reload and the engine run again on nearly every
        # turn (bench_workers, two workers: 147-153 -> 162-165 turns/s).
        self.version_first = not db.is_sqlite
        self.plugins: list[Plugin] = []
        self.commands: dict[str, Handler] = {"help": self._help}  # "/name" outside the engine
        self.command_help: dict[str, Msg] = {}  # one line of /help for each of those
        self.choice_prefixes: dict[str, Handler] = {}  # Choose ids "prefix:..." likewise
        self.routes: list[Route] = []  # may take an event from the engine (a handoff)
        self.desks: dict[str, object] = {}  # installed plugins by name, for the web pages
        self._outbox: OrderedDict[int, str] = OrderedDict()  # turn id -> its channel
        self._days: dict[str, tuple[datetime, datetime, date]] = {}  # see ``today``
        self._marks: set[asyncio.Task] = set()  # ``mark_sent_soon`` under way
        # One lock per merchant with turns in this process, with how many hold or wait for it:
        # the last one out removes it.
        self._locks: dict[tuple[str, str], list] = {}  # key -> [lock, users]

    # -- plugins -----------------------------------------------------------------------------
    def install(self, plugin: Plugin) -> Plugin:
        self.plugins.append(plugin)
        for name, command in plugin.commands().items():
            self.add_command(name, command.handler, command.help)
        self.choice_prefixes.update(plugin.choices())
        return plugin

    def add_command(self, name: str, handler: Handler, help_line: Msg | None = None) -> None:
        self.commands[name] = handler
        if help_line is not None:
            self.command_help[name] = help_line

    def seal(self, data: dict) -> dict:
        for plugin in self.plugins:
            data = plugin.seal(data)
        return data

    def unseal(self, data: dict) -> dict:
        for plugin in reversed(self.plugins):
            data = plugin.unseal(data)
        return data

    # -- the channels' calls -----------------------------------------------------------------
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
        key = (channel, user_key)
        held = self._locks.get(key)
        if held is None:
            held = self._locks[key] = [asyncio.Lock(), 0]
        held[1] += 1
        try:
            async with held[0]:
                return await self._attempts(key, event, update_id, language, locale)
        finally:
            held[1] -= 1
            if not held[1]:
                del self._locks[key]

    async def _attempts(self, key, event, update_id, language, locale) -> Result:
        channel = key[0]
        for attempt in range(self.retries):
            try:
                return await self._turn(key, event, update_id, language, locale)
            except T.AlreadyApplied:
                found = await self._duplicate(key, update_id)
                if found is not None:
                    return found
                failure: BaseException = IntegrityError("turn", None, Exception())
            except Exception as exc:
                if not retryable(exc):
                    raise
                failure = exc
            self.cache.drop(key)
            metrics.RETRIES.labels(type(failure).__name__).inc()
            if attempt == 0 and isinstance(failure, M.VersionConflict):
                # Most likely only this worker's cache is behind (another worker took
                # the merchant's last answer): retried at once on the row as it is now.
                log.info("%s: turn retried on fresh state", channel)
                continue
            log.warning("%s: turn retried (%s), attempt %d", channel,
                        type(failure).__name__, attempt + 1)
            await asyncio.sleep(self.backoff * 2 ** attempt * random.uniform(0.5, 1.5))
        log.error("%s: turn given up after %d attempts", channel, self.retries)
        return await self._apology(key, language, locale)

    async def notice(self, channel: str, user_key: str, message: Msg) -> Result:
        """Tell the merchant something outside the flow (e.g. an unreadable input) and repeat
        the current question; the state is not changed."""
        state = await self._current((channel, user_key))
        replies = [Reply(self.guide.render.text(state.locale, message))]
        step = self.guide.current_step(state)
        if step is not None:
            replies.append(self.guide.render.question(state, self.guide.flows[state.flow], step))
        return Result(replies, self.guide.expects(state), state.locale)

    async def peek(self, channel: str, user_key: str) -> Result:
        """The merchant's locale and current question, read-only (no replies, no changes). A
        hint: a concurrent turn may already have moved on."""
        state = await self._current((channel, user_key))
        return Result([], self.guide.expects(state), state.locale)

    async def applied(self, channel: str, update_id: str) -> bool:
        """Whether an update was applied already (its effects are committed)."""
        return await T.find(self.db.engine, channel, update_id) is not None

    async def mark_sent(self, *turn_ids: int | None) -> None:
        """The channel delivered these turns' replies: a redelivery will not send them again."""
        ids = [i for i in turn_ids if i is not None]
        if ids:
            now = self.clock()
            await self.writer.run(MarkSent(ids, now))
            self._sends(ids, "sent")

    def mark_sent_soon(self, *turn_ids: int | None) -> asyncio.Task | None:
        """``mark_sent`` without waiting for it: the mark joins the next batch of turns
        (within ``MARK_LINGER``) instead of a commit of its own that the merchant's next turn
        would queue behind. A crash in that window can repeat these replies once, on a
        redelivery, as a crash between sending and marking always could. Returns the task (None:
        nothing to mark); ``close`` waits for those still under way."""
        ids = [i for i in turn_ids if i is not None]
        if not ids:
            return None
        now = self.clock()

        async def mark() -> None:
            try:
                await self.writer.run(MarkSent(ids, now), linger=MARK_LINGER)
            except Exception as exc:  # noqa: BLE001 - the redelivery sends them again
                log.warning("replies not marked sent: %s", type(exc).__name__)
                return
            self._sends(ids, "sent")

        task = asyncio.create_task(mark())
        self._marks.add(task)
        task.add_done_callback(self._marks.discard)
        return task  # a caller that closes before the service may wait for it

    def mark_failed(self, *turn_ids: int | None) -> None:
        """The channel could not deliver these turns' replies (after its own retries): they
        stay unsent in the outbox (a redelivery sends them), counted as failed sends."""
        self._sends([i for i in turn_ids if i is not None], "failed")

    def _sends(self, turn_ids: list[int], result: str) -> None:
        for turn_id in turn_ids:
            channel = self._outbox.pop(turn_id, None)
            if channel is not None:
                metrics.labelled(metrics.SENDS, channel, result).inc()

    def _awaiting_send(self, channel: str, turn_id: int | None) -> int | None:
        """Remember which channel a turn's replies are for, until it says how sending went."""
        if turn_id is not None:
            self._outbox[turn_id] = channel
            while len(self._outbox) > OUTBOX_REMEMBERED:
                self._outbox.popitem(last=False)
        return turn_id

    async def record(self, channel: str, user_key: str, replies: list[Reply], *,
                     author: str | None = None) -> int | None:
        """Store a message the bot or a person sends on its own (``author``: None for the
        guide, ``"operator:NAME"`` for a person) as a turn without ``incoming``, in the
        transcript and the outbox; returns its turn id for ``mark_sent``. None: no such
        merchant. The conversation's state is not touched."""
        item = await self._cached((channel, user_key))
        if item is None or item.id is None:
            return None
        state, now = item.state, self.clock()
        stored = replies_json(replies)
        return self._awaiting_send(channel, await self.writer.run(lambda conn: T.add(
            conn, merchant_id=item.id, channel=channel, update_key=None, flow=state.flow,
            step=state.step, incoming=None, replies=stored, author=author, now=now)))

    async def close(self) -> None:
        """Let the writer's and reader's threads and connections go (the database is the
        caller's)."""
        if self._marks:
            await asyncio.wait(list(self._marks), timeout=10)
        await self.writer.close()
        await self.reader.close()

    def today(self, timezone: str, now: datetime) -> date:
        """The date in ``timezone`` at ``now`` (naive UTC). Every turn asks; the day's bounds
        are kept per time zone, so a turn compares instead of converting."""
        known = self._days.get(timezone)
        if known is not None and known[0] <= now < known[1]:
            return known[2]
        zone = ZoneInfo(timezone)
        day = now.replace(tzinfo=UTC).astimezone(zone).date()
        start, end = (datetime.combine(d, time(), zone).astimezone(UTC).replace(tzinfo=None)
                      for d in (day, day + timedelta(days=1)))
        self._days[timezone] = (start, end, day)
        return day

    # -- reading -----------------------------------------------------------------------------
    async def _cached(self, key: tuple[str, str]) -> Cached | None:
        item = self.cache.get(key)
        if item is None:
            snap = await self.reader.run(lambda conn: M.load(conn, *key))
        elif self.version_first and item.id is not None:
            version = item.version
            snap = await self.reader.run(lambda conn: M.load_newer(conn, *key, version))
        else:
            return item
        if snap is None:
            return item
        item = Cached(snap.id, snap.version, snap.timezone, self._state(snap))
        self.cache.put(key, item)
        return item

    async def _current(self, key: tuple[str, str]) -> State:
        item = await self._cached(key)
        return item.state if item is not None else State(self.default_locale)

    def _state(self, snap: M.Snapshot) -> State:
        data = self.unseal(snap.state)
        return State(
            locale=snap.locale, flow=data.get("flow"), step=data.get("step"),
            answers=dict(data.get("answers", {})), stack=list(data.get("stack", [])),
            pending=dict(data.get("pending", {})), documents=snap.documents,
            certifications=snap.certifications,
        )

    async def _duplicate(self, key: tuple[str, str], update_id: str | None) -> Result | None:
        """The result for an update applied before: its replies only when no one delivered
        them (a crash between the commit and the send), and then to one caller only."""
        stored = await T.find(self.db.engine, key[0], update_id) if update_id else None
        if stored is None:
            return None
        replies: list[Reply] = []
        if stored.sent_at is None and await self._unsent(stored):
            replies = replies_from(stored.replies)
        state = await self._current(key)
        return Result(replies, self.guide.expects(state), state.locale, duplicate=True,
                      documents=list(state.documents),
                      turn_id=self._awaiting_send(key[0], stored.id) if replies else None)

    async def _unsent(self, stored: T.Stored) -> bool:
        """Wait out the lease of whoever applied the turn; True when its replies are still
        unsent then and this caller claimed them (marked sent: nobody else sends them)."""
        age = (self.clock() - stored.created_at).total_seconds()
        deadline = asyncio.get_running_loop().time() + max(0.0, self.outbox_lease - age)
        while asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(OUTBOX_POLL)
            if await T.sent(self.db.engine, stored.id):
                return False
        now = self.clock()
        return await self.writer.run(lambda conn: T.claim(conn, stored.id, now))

    async def _apology(self, key, language, locale) -> Result:
        try:
            state = await self._current(key)
        except Exception:  # noqa: BLE001 - the database itself may be what failed
            state = State(negotiate(locale or language, self.default_locale))
        text = self.guide.render.text(state.locale, APOLOGY)
        return Result([Reply(text)], self.guide.expects(state), state.locale)

    # -- a turn ------------------------------------------------------------------------------
    async def _turn(self, key, event, update_id, language, locale) -> Result:
        channel = key[0]
        if (update_id is not None and isinstance(event, Upload)
                and await self.applied(channel, update_id)):
            raise T.AlreadyApplied(update_id)  # before checking and storing the file again
        now = self.clock()
        cached = await self._cached(key)
        if cached is None:
            cached = Cached(None, 0, self.timezone,
                            State(negotiate(locale or language, self.default_locale)))
        before = cached.state
        state = replace(before, locale=negotiate(locale, before.locale)) if locale else before
        today = self.today(cached.timezone, now)
        handler, arg = self._handler_for(event)
        for route in self.routes if handler is None else ():
            if (handler := await route(cached.id, event)) is not None:
                break
        after: list[Callable[[], object]] = []
        if handler is None:
            run = self.guide.handle
            if isinstance(event, Upload):
                # Image checks decode pixels: off the event loop (in the pool when there is
                # one), so other merchants go on.
                event = await self._prechecked(state, event)
                outcome = (run(state, event, today) if event.checked is not None
                           else await asyncio.to_thread(run, state, event, today))
            elif isinstance(event, Files):  # images decoded: off the event loop
                outcome = await asyncio.to_thread(run, state, event, today)
            else:
                outcome = run(state, event, today)
            writes = self._on_turn(key, cached, before, outcome, now)
            stored = await self._store_files(outcome)  # written and synced before queueing
            plain = self._plain_job(key, cached, event, update_id, outcome, stored, now)
            job = self._plain(plain, cached, outcome) if not writes else self.writer.run_async(
                self._hooked_job(key, cached, event, outcome, writes, plain, now))
        else:
            job = self.writer.run_async(self._command_job(
                key, cached, event, update_id, state.copy(), handler, arg, today, now,
                after))
        merchant_id, turn_id, timezone, outcome = await job
        self.cache.put(key, Cached(merchant_id, cached.version + 1, timezone, outcome.state))
        for action in after:
            await asyncio.to_thread(action)
        log.info("%s event %s -> %s.%s", channel, type(event).__name__,
                 outcome.state.flow, outcome.state.step)
        if outcome.replies:
            self._awaiting_send(channel, turn_id)
        return Result(outcome.replies, outcome.expects, outcome.state.locale,
                      documents=list(outcome.state.documents), turn_id=turn_id)

    async def _prechecked(self, state: State, upload: Upload) -> Upload:
        step = self.guide.current_step(state)
        if self.pool is None or upload.checked is not None or step is None or not step.files:
            return upload
        checked = await asyncio.get_running_loop().run_in_executor(
            self.pool, precheck, upload.data, upload.name, upload_rule(step.files))
        return replace(upload, checked=checked)

    def _on_turn(self, key, cached, before, outcome, now) -> list[Write]:
        change = Change(key[0], cached.id, cached.timezone, before, outcome.state,
                        outcome.effects, now, user_key=key[1])
        return [w for p in self.plugins if (w := p.on_turn(change)) is not None]

    async def _store_files(self, outcome: Outcome) -> list[str]:
        return [await asyncio.to_thread(self.files.store, e.ref.kind, e.data)
                for e in outcome.effects if isinstance(e, StoreDocument)]

    def _record(self, conn: Connection, key, merchant_id, before: State, event, update_id,
                outcome: Outcome, now) -> int:
        return T.add(
            conn, merchant_id=merchant_id, channel=key[0], update_key=update_id,
            flow=outcome.state.flow, step=outcome.state.step,
            incoming=incoming(event, self.guide.current_step(before)),
            replies=replies_json(outcome.replies), now=now)

    def _plain_job(self, key, cached, event, update_id, outcome, stored, now) -> TurnWrite:
        """The hot path: the guarded UPDATE (or the new merchant's INSERT), the turn's row,
        the effects' rows, as data the writer runs with a batch of others."""
        state = outcome.state
        return TurnWrite(
            channel=key[0], user_key=key[1], merchant_id=cached.id, version=cached.version,
            locale=state.locale, timezone=cached.timezone, state=self.seal(state.to_json()),
            update_key=update_id, flow=state.flow, step=state.step,
            incoming=incoming(event, self.guide.current_step(cached.state)),
            replies=replies_json(outcome.replies), now=now, effects=outcome.effects,
            stored=stored)

    async def _plain(self, plain: TurnWrite, cached: Cached, outcome: Outcome):
        merchant_id, turn_id = await self.writer.run(plain)
        return merchant_id, turn_id, cached.timezone, outcome

    def _hooked_job(self, key, cached, event, outcome, writes, plain, now):
        """The hot path's statements, then the plugins' writes through the ORM."""
        async def job(conn: AsyncConnection):
            merchant_id, turn_id = await conn.run_sync(plain)
            async with M.plugin_session(conn) as session:
                merchant = await M.row(session, merchant_id)
                turn = Turn(self, session, merchant, outcome.state, event, "", now,
                            outcome.effects)
                for write in writes:
                    await write(turn)
                await session.commit()  # its savepoint, inside the batch
            return merchant_id, turn_id, cached.timezone, outcome

        return job

    def _command_job(self, key, cached, event, update_id, state, handler, arg, today, now,
                     after):
        async def job(conn: AsyncConnection):
            if cached.id is None:
                merchant_id = await conn.run_sync(
                    M.create, *key, state.locale, cached.timezone, self.seal(state.to_json()),
                    now)
            else:
                await conn.run_sync(M.claim, cached.id, cached.version)
                merchant_id = cached.id
            async with M.plugin_session(conn) as session:
                merchant = await M.row(session, merchant_id)
                turn = Turn(self, session, merchant, state, event, arg, now)
                replies = await handler(turn)
                if turn.repeat:
                    outcome = self.guide.handle(turn.state, Text("/repeat"), today)
                    outcome.replies[:0] = replies
                else:  # the handler's replies stand alone (no current question)
                    outcome = Outcome(turn.state, replies, self.guide.expects(turn.state))
                turn.state = outcome.state
                for write in self._on_turn(key, cached, cached.state, outcome, now):
                    await write(turn)
                await session.commit()  # its savepoint, inside the batch
                timezone = merchant.timezone
            sealed = self.seal(outcome.state.to_json())
            await conn.run_sync(lambda c: M.settle(c, merchant_id, state=sealed,
                                                   locale=outcome.state.locale, now=now))
            turn_id = await conn.run_sync(self._record, key, merchant_id, cached.state, event,
                                          update_id, outcome, now)
            after[:] = turn._after
            return merchant_id, turn_id, timezone, outcome

        return job

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


__all__ = ["Command", "ConcurrentUpdate", "Plugin", "Result", "Service", "Turn"]
