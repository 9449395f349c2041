"""The WeCom channel: inbound messages -> events for the service; results -> messages.

Each member has a queue worked off by one task, so a member's messages are applied in arrival
order even when a picture must be downloaded first; different members proceed in parallel.

With several workers (``inbox=True``) every message is first kept in the database's inbox and
only then acknowledged; a member's kept messages are applied in the inbox's order whichever
worker received them (a text waits for the picture another worker acknowledged before it), and
one a dead worker left is taken over once its claim runs out.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable
from dataclasses import asdict

import aiohttp

from bot import metrics
from bot.channels.base import DeliveryError
from bot.channels.wecom.api import MediaTooLarge, WeComApi, WeComApiError
from bot.channels.wecom.inbound import Inbound
from bot.channels.wecom.outbound import compose, upload_hint
from bot.engine.files import human_size
from bot.engine.messages import Msg
from bot.engine.model import Event, Hello, Reply, Text, Upload
from bot.service import Result, Service
from bot.store import shared as S
from bot.web.peek import applied, expectation
from bot.web.upload import UploadPage

log = logging.getLogger(__name__)

CHANNEL = "wecom"
MEDIA_LIMIT = 20 * 1024 * 1024  # media/get serves at most 20 MB in one piece
RECENT = 4096  # update keys remembered in memory; the database stays the authority
EXTENSIONS = {"image/jpeg": "jpg", "image/jpg": "jpg", "image/png": "png",
              "application/pdf": "pdf"}

UNREADABLE = Msg("I can read text, pictures and files; this kind of message I cannot read yet.")
NOT_DOWNLOADED = Msg("I could not fetch that file from WeCom. Please send it again.")
GONE = frozenset({81013, 60111})  # every recipient invalid; no such member
SEND_ERRORS = (WeComApiError, aiohttp.ClientError, TimeoutError, OSError)

SORRY = Msg("Sorry, something went wrong on my side. Please try again in a moment.")
CLAIM = 60.0  # seconds a worker's claim on a kept message holds before another takes it over
INBOX_POLL = 0.05  # seconds between looks at the messages ahead of one, kept by another worker
SWEEP_EVERY = 10.0  # seconds between looks for messages a dead worker left

Entry = tuple[Inbound, "asyncio.Future[None]", "Awaitable[int | None] | None"]


class WeComChannel:
    buttons = False  # text has no buttons: choices are numbered (see outbound.py)

    def __init__(self, service: Service, api: WeComApi, uploads: UploadPage | None = None,
                 *, media_limit: int = MEDIA_LIMIT, inbox: bool = False, claim: float = CLAIM,
                 clock: Callable[[], float] = time.time) -> None:
        self.service = service
        self.api = api
        self.uploads = uploads
        self.media_limit = media_limit
        self.inbox = inbox
        self.claim = claim
        self.clock = clock  # epoch seconds, for the inbox's claims
        self._queues: dict[str, deque[Entry]] = {}
        self._workers: dict[str, asyncio.Task[None]] = {}
        self._wakeups: dict[str, asyncio.Future[None]] = {}  # a worker waiting on its reply
        self._marks: set[asyncio.Task] = set()  # replies being marked sent
        self._recent: OrderedDict[str, None] = OrderedDict()
        self._kept: dict[str, asyncio.Task[int | None]] = {}  # each member's latest insert
        self._sweeper: asyncio.Task[None] | None = None

    @property
    def _engine(self):
        return self.service.db.engine

    # -- intake ----------------------------------------------------------------------------
    def submit(self, message: Inbound) -> asyncio.Future[None] | None:
        """Queue ``message``; the callback is answered once the returned future is done: a
        text once its turn is committed, a file at once (it is downloaded after) or, with the
        inbox, any message once it is kept. None: a duplicate seen in this process (the
        service would ignore it as well)."""
        key = message.update_key
        if key is not None:
            if key in self._recent:
                return None
            self._recent[key] = None
            if len(self._recent) > RECENT:
                self._recent.popitem(last=False)
        loop = asyncio.get_running_loop()
        applied: asyncio.Future[None] = loop.create_future()
        if self.inbox and key is not None:
            self.start()
            kept = self._keep(message)
            self._enqueue((message, applied, kept))
            return kept
        self._enqueue((message, applied, None))
        if message.kind in ("text", "event", "other"):
            return applied
        answered: asyncio.Future[None] = loop.create_future()
        answered.set_result(None)
        return answered

    def _enqueue(self, entry: Entry) -> None:
        user = entry[0].user
        self._queues.setdefault(user, deque()).append(entry)
        if user not in self._workers:
            self._workers[user] = asyncio.create_task(self._work(user))
        elif (wake := self._wakeups.get(user)) is not None and not wake.done():
            wake.set_result(None)  # the worker waits on a reply under way: this comes first

    def _keep(self, message: Inbound) -> asyncio.Task[int | None]:
        """Insert ``message`` into the inbox after the member's previous insert (so that the
        inbox's order is the order the messages arrived in here)."""
        user, previous = message.user, self._kept.get(message.user)

        async def insert() -> int | None:
            if previous is not None:
                await asyncio.wait([previous])
            assert message.update_key is not None
            return await S.put(self._engine, CHANNEL, user, message.update_key,
                               asdict(message), self.clock() + self.claim)

        task = asyncio.create_task(insert())
        self._kept[user] = task
        task.add_done_callback(lambda t: self._kept.pop(user, None)
                               if self._kept.get(user) is t else None)
        return task

    async def _work(self, user: str) -> None:
        """The member's messages in order. A turn's replies go out from a task of their own,
        after the previous turn's (so in order too): the next message's turn is applied, and
        its callback answered, while WeCom is still taking the last reply."""
        queue = self._queues[user]
        sending: asyncio.Task[None] | None = None
        try:
            while True:
                while queue:
                    message, applied, kept = queue.popleft()
                    try:
                        if kept is None:
                            sending = await self._process(message, applied, sending)
                        else:
                            sending = await self._kept_turn(message, applied, kept, sending)
                    except Exception:
                        log.exception("wecom: a %s message failed", message.kind)
                        if message.update_key:
                            self._recent.pop(message.update_key, None)
                        await _after(sending)
                        await self._apologise(user)
                    finally:
                        if not applied.done():
                            applied.set_result(None)
                if sending is None or sending.done():
                    break  # nothing queued, nothing on its way: this worker is done
                # A reply still goes out: a message that comes meanwhile is this worker's
                # (``_enqueue`` starts none while it runs) and is applied at once.
                wake = self._wakeups[user] = asyncio.get_running_loop().create_future()
                await asyncio.wait([sending, wake], return_when=asyncio.FIRST_COMPLETED)
                self._wakeups.pop(user, None)
        finally:
            self._workers.pop(user, None)
            if not queue:
                self._queues.pop(user, None)

    # -- the inbox (several workers) ---------------------------------------------------------
    async def _kept_turn(self, message: Inbound, applied: asyncio.Future[None],
                         kept: Awaitable[int | None],
                         sending: asyncio.Task[None] | None) -> asyncio.Task[None] | None:
        try:
            item_id = await kept
        except Exception as exc:  # noqa: BLE001 - answered 503: WeCom posts it again
            log.error("wecom: a message could not be kept: %s", type(exc).__name__)
            if message.update_key:
                self._recent.pop(message.update_key, None)
            return sending
        if item_id is None:
            return sending  # kept already, by the callback WeCom repeated: that one applies it
        try:
            await self._ahead_first(message.user, item_id)
            return await self._process(message, applied, sending)
        finally:
            await S.done(self._engine, item_id)

    async def _ahead_first(self, user: str, item_id: int) -> None:
        """Wait until the member's messages kept before ``item_id`` are applied (by the
        workers that received them), applying here any one whose worker died."""
        while ahead := await S.before(self._engine, CHANNEL, user, item_id):
            now = self.clock()
            for other, claimed_until in ahead:
                if claimed_until < now and (item := await S.take_over(
                        self._engine, other, now, now + self.claim)) is not None:
                    await self._recover(item)
                    break
            else:
                await asyncio.sleep(INBOX_POLL)

    async def _recover(self, item: S.Item) -> None:
        message = Inbound(**item.payload)
        log.info("wecom: applying a %s message another worker kept", message.kind)
        try:  # its reply goes out before the message that found it waits on
            await _after(await self._process(
                message, asyncio.get_running_loop().create_future(), None))
        except Exception:
            log.exception("wecom: a %s message failed", message.kind)
            await self._apologise(message.user)
        finally:
            await S.done(self._engine, item.id)

    def start(self) -> None:
        """With the inbox: look now and then for messages a dead worker left."""
        if self.inbox and self._sweeper is None:
            self._sweeper = asyncio.create_task(self._sweep())

    async def _sweep(self) -> None:
        while True:
            try:
                now = self.clock()
                for item_id, user in await S.abandoned(self._engine, CHANNEL, now):
                    if user in self._workers:
                        continue  # its queue meets the item ahead of its own messages
                    item = await S.take_over(self._engine, item_id, now, now + self.claim)
                    if item is not None:
                        ready: asyncio.Future[int | None] = (
                            asyncio.get_running_loop().create_future())
                        ready.set_result(item.id)
                        self._enqueue((Inbound(**item.payload),
                                       asyncio.get_running_loop().create_future(), ready))
            except Exception as exc:  # noqa: BLE001 - the next round tries again
                log.warning("wecom: looking for left messages failed: %s", type(exc).__name__)
            await asyncio.sleep(SWEEP_EVERY)

    async def close(self, timeout: float = 10) -> None:
        """Let queued messages finish (bounded), then stop."""
        if self._sweeper is not None:
            self._sweeper.cancel()
            await asyncio.wait([self._sweeper], timeout=1)
            self._sweeper = None
        workers = list(self._workers.values())
        if workers:
            _, pending = await asyncio.wait(workers, timeout=timeout)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending, timeout=1)
        if self._marks:  # the database may close right after the channel
            await asyncio.wait(list(self._marks), timeout=timeout)

    # -- one message -----------------------------------------------------------------------
    async def _process(self, message: Inbound, applied: asyncio.Future[None],
                       sending: asyncio.Task[None] | None) -> asyncio.Task[None] | None:
        """Apply one message; returns the task sending what is still on its way to WeCom."""
        user = message.user
        event: Event | None
        if message.kind == "text":
            event = Text(message.text)  # numbers, language and "done" words: the engine's
        elif message.greets:
            event = Hello()
        elif message.kind == "event":
            return sending  # unsubscribe and other events need no answer
        else:  # a notice or a download's refusal is sent here: after the replies before it
            await _after(sending)
            sending = None
            if message.kind in ("image", "file"):
                event = await self._download(message)
            else:
                event = None
                await self._notice(user, UNREADABLE)
        if event is None:
            return sending
        result = await self.service.handle(CHANNEL, user, event, update_id=message.update_key)
        applied.set_result(None)
        if result.duplicate and not result.replies:  # replies lost in a crash come back
            log.info("wecom: duplicate callback ignored")
            return sending
        return asyncio.create_task(self._reply(user, result, sending))

    async def _reply(self, user: str, result: Result, before: asyncio.Task[None] | None) -> None:
        await _after(before)
        try:
            delivered = await self.deliver(user, result)
        except Exception:  # noqa: BLE001 - the turn is durable; its reply stays unsent
            log.exception("wecom: a reply could not be sent")
            delivered = False
        if delivered:
            # Not awaited here: the mark joins the next batch of turns (``close`` waits).
            mark = self.service.mark_sent_soon(result.turn_id)
            if mark is not None:
                self._marks.add(mark)
                mark.add_done_callback(self._marks.discard)
        else:  # left unsent in the outbox: WeCom's redelivery of the callback sends it
            self.service.mark_failed(result.turn_id)

    async def _download(self, message: Inbound) -> Upload | None:
        if message.update_key and await applied(self.service, CHANNEL, message.update_key):
            log.info("wecom: duplicate callback ignored before downloading")
            return None
        _, expects = await expectation(self.service, CHANNEL, message.user)
        limit = self.media_limit
        if expects.kind == "files" and expects.max_bytes:
            limit = min(limit, expects.max_bytes)
        try:
            media = await self.api.get_media(message.media_id, limit)
        except MediaTooLarge:
            await self._notice(message.user, Msg(
                "The file is over the {limit} limit for this step. Please send a smaller one.",
                limit=human_size(limit)))
            return None
        except (WeComApiError, aiohttp.ClientError, TimeoutError) as exc:
            log.warning("wecom: media/get failed: %s", _describe(exc))
            await self._notice(message.user, NOT_DOWNLOADED)
            return None
        name = message.filename or media.filename
        if not name:
            ext = EXTENSIONS.get(media.content_type, "bin")
            name = f"{message.kind}-{message.media_id[-8:]}.{ext}"
        return Upload(media.data, name)

    # -- output ----------------------------------------------------------------------------
    def translator(self, locale: str) -> Callable[[Msg], str]:
        return lambda message: self.service.guide.render.text(locale, message)

    async def deliver(self, user: str, result: Result) -> bool:
        """Send one turn's replies: numbered choices, and an upload link on a files question.
        False: sending failed (logged). A reply outside a turn (a notice) is counted here; a
        turn's, by the service when the caller marks it sent or failed."""
        hint = None
        expects = result.expects
        if expects.kind == "files" and expects.step and self.uploads is not None:
            link = self.uploads.make_upload_link(CHANNEL, user, expects.step)
            hint = upload_hint(expects, link, self.uploads.ttl_minutes,
                               self.translator(result.locale))
        try:
            await self._send(user, result.replies, hint)
        except SEND_ERRORS as exc:
            log.error("wecom: sending a reply failed: %s", _describe(exc))
            ok = False
        else:
            ok = True
        if result.turn_id is None and result.replies:
            metrics.labelled(metrics.SENDS, CHANNEL, "sent" if ok else "failed").inc()
        return ok

    async def send(self, user_key: str, replies: list[Reply]) -> None:
        """``bot.channels.base.Sender``: messages the bot sends on its own (reminders)."""
        try:
            await self._send(user_key, replies, None)
        except SEND_ERRORS as exc:
            permanent = isinstance(exc, WeComApiError) and exc.errcode in GONE
            raise DeliveryError(f"wecom: {_describe(exc)}", permanent=permanent) from None

    async def _send(self, user: str, replies: list[Reply], hint: str | None) -> None:
        text = compose(replies, hint)
        if text:
            await self.api.send_text(user, text)
        for reply in replies:
            if reply.document is not None:
                data = await asyncio.to_thread(_read, reply.document.path)
                await self.api.send_file(user, reply.document.name, data)

    async def _notice(self, user: str, message: Msg) -> None:
        await self.deliver(user, await self.service.notice(CHANNEL, user, message))

    async def _apologise(self, user: str) -> None:
        try:
            text = self.translator(self.service.default_locale)(SORRY)
            await self.api.send_text(user, text)
        except Exception as exc:  # the apology is best effort
            log.error("wecom: could not apologise: %s", _describe(exc))
            metrics.labelled(metrics.SENDS, CHANNEL, "failed").inc()
        else:
            metrics.labelled(metrics.SENDS, CHANNEL, "sent").inc()


async def _after(task: asyncio.Task[None] | None) -> None:
    """Wait for ``task`` (a reply under way) without taking its failure as ours."""
    if task is not None:
        await asyncio.wait([task])


def _read(path: str) -> bytes:
    with open(path, "rb") as fh:
        return fh.read()


def _describe(exc: BaseException) -> str:
    """An error without URLs: aiohttp errors may carry the access_token in a query string."""
    if isinstance(exc, WeComApiError):
        return f"errcode {exc.errcode}"
    return type(exc).__name__
