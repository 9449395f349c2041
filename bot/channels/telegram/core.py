"""The Telegram channel, transport-neutral: updates -> engine events -> service -> replies.

It holds no dialogue logic. It reads each update from the Bot API's JSON (``incoming``), orders
each merchant's updates (``Lanes``), gathers an album into one ``Files`` event, downloads files,
passes every event to ``Service.handle`` with its update key (applied at most once, in the same
transaction as its effects) and turns the replies into messages through a ``Transport``
(aiogram's, python-telegram-bot's or the plain JSON ``BotAPI``).
"""

from __future__ import annotations

import asyncio
import logging
import re
import traceback
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from bot.channels.base import DeliveryError
from bot.channels.telegram.albums import SharedAlbums
from bot.channels.telegram.incoming import CHOICE, FILE, IGNORE, TEXT, Incoming, read_update
from bot.channels.telegram.lanes import Album, Lanes
from bot.channels.telegram.render import (
    UNKNOWN_STEP,
    Button,
    CallbackCodec,
    command_description,
    command_lines,
    split_text,
)
from bot.engine.files import human_size
from bot.engine.machine import COMMANDS
from bot.engine.messages import Msg
from bot.engine.model import Choose, Event, Expect, Files, Reply, Text, Upload
from bot.i18n import negotiate
from bot.service import Result, Service

if TYPE_CHECKING:
    from bot.web.upload import UploadPage

log = logging.getLogger(__name__)

CHANNEL = "telegram"
MB = 1024 * 1024
BOT_API_DOWNLOAD_LIMIT = 20 * MB
_COMMAND_NAME = re.compile(r"^[a-z0-9_]{1,32}$")
_NUMBERS = re.compile(r"(?:\d[ -]?){6,}[Xx]?")

SORRY = Msg("Sorry, something went wrong on my side and your last message was not saved. "
            "Please send it again in a moment.")
UNSUPPORTED = Msg("I can read text, button presses, documents and photos. Please send one of "
                  "those.")
TOO_BIG = Msg("This file is {size}, but Telegram lets bots download files only up to {limit}. "
              "Please send a smaller file, for example a compressed scan or a PDF.")
TOO_BIG_LINK = Msg("This file is {size}, too large for Telegram: bots can download files only up "
                   "to {limit}. Please upload it in the browser with this one-time link (valid "
                   "for {minutes} minutes):\n{link}")

OPEN_UPLOAD_PAGE = Msg("📎 Open the upload page")


class FileTooBig(Exception):
    def __init__(self, size: int | None) -> None:
        super().__init__(size)
        self.size = size


class Transport(Protocol):
    """The only part that talks to Telegram."""

    async def send_text(self, chat_id: int, text: str, buttons: Sequence[Button]) -> int: ...
    async def send_document(self, chat_id: int, path: str, name: str) -> None: ...
    async def remove_keyboard(self, chat_id: int, message_id: int) -> None: ...
    async def answer_callback(self, callback_id: str) -> None: ...
    async def download(self, file_id: str, limit: int) -> bytes: ...  # raises FileTooBig
    async def set_commands(self, commands: Sequence[tuple[str, str]],
                           language: str | None) -> None: ...


@dataclass
class _Chat:
    locale: str | None = None
    keyboard: int | None = None  # the message whose keyboard is still open


def redact(text: str) -> str:
    """Logs never carry ID, passport or phone numbers."""
    return _NUMBERS.sub("[number]", text)


class TelegramChannel:
    def __init__(self, service: Service, transport: Transport, *,
                 max_download: int = BOT_API_DOWNLOAD_LIMIT, album_wait: float = 0.8,
                 album_max_wait: float = 5.0, remembered_chats: int = 10_000,
                 in_flight: int = 1024, downloads: int = 8,
                 uploads: UploadPage | None = None, albums_in_database: bool = False) -> None:
        self.service = service
        self.transport = transport
        self.max_download = max_download
        self.uploads = uploads  # the one-time upload page, for files Telegram will not hand over
        if uploads is not None:
            uploads.register(CHANNEL, self.deliver)
        self.album_wait, self.album_max_wait = album_wait, album_max_wait
        self.codec = CallbackCodec(service.guide.flows)
        self.lanes = Lanes()
        # Only memory bounds how many merchants are served at once (the service batches their
        # turns); each merchant's order is kept by its lane. A download holds a whole file.
        self._slots = asyncio.Semaphore(in_flight)
        self._downloads = asyncio.Semaphore(downloads)
        self._albums: dict[tuple[str, str], Album] = {}
        # Several workers: an album's photos may reach different workers; they are gathered
        # through the database instead of in this process.
        self.shared_albums = SharedAlbums(service.db.engine, CHANNEL, album_wait,
                                          album_max_wait) if albums_in_database else None
        self._marking: set[asyncio.Future[None]] = set()  # sent marks being written
        self._chats: OrderedDict[int, _Chat] = OrderedDict()
        self._remembered = remembered_chats

    # -- intake: called in arrival order, never awaits -----------------------------------
    def accept(self, update: Mapping[str, Any]) -> asyncio.Future[None]:
        """Queue ``update`` (the Bot API's JSON object) in its merchant's lane; the future is
        done once it is handled."""
        return self.take(read_update(update))

    def take(self, inc: Incoming) -> asyncio.Future[None]:
        """As ``accept``, for an update already read."""
        if inc.kind == IGNORE:
            done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            done.set_result(None)
            return done
        if inc.kind == FILE and inc.media_group_id and self.shared_albums is not None:
            written = self.shared_albums.write(inc)  # now, before any lane waits
            return self.lanes.submit(inc.user_key,
                                     lambda: self._run_shared_album(inc, written))
        if inc.kind == FILE and inc.media_group_id:
            key = (inc.user_key, inc.media_group_id)
            album = self._albums.get(key)
            if album is not None and not album.closed and album.task is not None:
                album.add(inc)
                return album.task
            album = Album(key, self.album_wait, self.album_max_wait)
            album.add(inc)
            self._albums[key] = album
            album.task = self.lanes.submit(inc.user_key, lambda: self._run_album(album))
            return album.task
        return self.lanes.submit(inc.user_key, lambda: self._run_single(inc))

    async def drain(self, timeout: float) -> None:
        busy = self.lanes.busy
        if busy:
            await asyncio.wait(busy, timeout=timeout)
        if self._marking:  # the sent marks of what just finished
            await asyncio.wait(list(self._marking), timeout=timeout)

    def _mark_sent(self, turn_id: int | None) -> None:
        """Record that a turn's replies went out, without holding up the update: its mark
        goes into the writer's next batch with the others. The update counts as handled once
        its replies are sent, so long polling confirms it one commit sooner; a stop before
        the mark is written means a repeat on redelivery, as a stop between the send and the
        mark always did."""
        task = self.service.mark_sent_soon(turn_id)
        if task is not None:
            self._marking.add(task)
            task.add_done_callback(self._marking.discard)

    async def register_commands(self) -> None:
        lines = [(n, m) for n, m in command_lines(COMMANDS, self.service.command_help)
                 if _COMMAND_NAME.match(n)]
        for language, locale in ((None, self.service.default_locale), ("zh", "zh_CN"),
                                 ("en", "en")):
            commands = [(n, command_description(n, self.t(locale, m))) for n, m in lines]
            await self.transport.set_commands(commands, language)

    async def send(self, user_key: str, replies: list[Reply]) -> None:
        """``bot.channels.base.Sender``: a message the bot sends on its own (a reminder). Its
        buttons belong to no question (no step token); their keyboard is left open."""
        try:
            await self._deliver(int(user_key), Result(replies, Expect("none"), ""), track=False)
        except Exception as exc:  # noqa: BLE001 - the worker decides about retrying
            text = f"{type(exc).__name__}: {exc}"
            permanent = "forbidden" in text.lower() or "chat not found" in text.lower()
            raise DeliveryError(f"telegram: {redact(text)}", permanent=permanent) from None

    async def deliver(self, user_key: str, result: Result) -> None:
        """The upload page's ``deliver``: the answer to a file uploaded in the browser, sent in
        the merchant's lane so that it keeps its place among the chat's own answers."""
        try:
            await self.lanes.submit(user_key, lambda: self._deliver(int(user_key), result))
        except Exception as exc:  # noqa: BLE001 - the file is stored; the page said so
            log.error("sending the answer to a browser upload failed: %s", redact(repr(exc)))

    # -- one update ----------------------------------------------------------------------
    async def _run_single(self, inc: Incoming) -> None:
        async with self._slots:
            await self._single(inc)

    async def _single(self, inc: Incoming) -> None:
        try:
            try:
                result = await self._apply(inc)
            except Exception as exc:  # noqa: BLE001 - the merchant gets an apology
                self._log_failure(inc, exc)
                await self._apologise(inc)
                return
            if result.duplicate and not result.replies:
                # Applied before, and answered (here, by another worker, or before a
                # restart): nothing is applied or said twice. Replies that never went out
                # come back in ``result.replies`` and are sent as they were.
                return
            if inc.kind == CHOICE:
                await self._strip(inc.chat_id, inc.message_id)
            try:
                await self._deliver(inc.chat_id, result)
            except Exception:
                self.service.mark_failed(result.turn_id)  # left unsent in the outbox
                raise
            self._mark_sent(result.turn_id)
        except Exception as exc:  # noqa: BLE001 - sending failed after its retries
            log.error("sending the answer to update %s failed: %s", inc.update_id,
                      redact(repr(exc)))

    async def _apply(self, inc: Incoming) -> Result:
        event: Event
        if inc.kind == CHOICE:
            await self._quietly(self.transport.answer_callback(inc.callback_id or ""))
            decoded = self.codec.decode(inc.callback_data)
            event = Choose(*decoded) if decoded else Choose("?", UNKNOWN_STEP)
        elif inc.kind == TEXT:
            event = Text(inc.text or "")
        elif inc.kind == FILE:
            fetched = await self._fetch(inc)
            if isinstance(fetched, Msg):
                return await self.service.notice(CHANNEL, inc.user_key, fetched)
            event = fetched
        else:
            return await self.service.notice(CHANNEL, inc.user_key, UNSUPPORTED)
        return await self.service.handle(CHANNEL, inc.user_key, event,
                                         update_id=inc.update_key, language=inc.language)

    async def _fetch(self, inc: Incoming) -> Upload | Msg:
        ref = inc.file
        assert ref is not None
        if ref.size is not None and ref.size > self.max_download:
            return await self._too_big(inc.user_key, ref.size)
        try:
            async with self._downloads:
                data = await self.transport.download(ref.file_id, self.max_download)
        except FileTooBig as exc:
            return await self._too_big(inc.user_key, exc.size)
        return Upload(data, ref.name, compressed=ref.compressed)

    async def _too_big(self, user_key: str, size: int | None) -> Msg:
        shown = human_size(size, round_up=True) if size else f"> {human_size(self.max_download)}"
        limit = human_size(self.max_download)
        link = await self._upload_link(user_key, size)
        if link is None or self.uploads is None:
            return Msg(TOO_BIG.msgid, size=shown, limit=limit)
        return Msg(TOO_BIG_LINK.msgid, size=shown, limit=limit, link=link,
                   minutes=self.uploads.ttl_minutes)

    async def _upload_link(self, user_key: str, size: int | None) -> str | None:
        """A link to the upload page when the current question takes files larger than bots
        may download; a file over the question's own limit would be refused there too."""
        if self.uploads is None:
            return None
        expects = (await self.service.peek(CHANNEL, user_key)).expects
        step = expects.step
        spec = self.uploads.spec(step) if expects.kind == "files" and step else None
        if step is None or spec is None or spec.rule.max_bytes <= self.max_download:
            return None
        if size is not None and size > spec.rule.max_bytes:
            return None
        return self.uploads.make_upload_link(CHANNEL, user_key, step)

    # -- an album: every photo stored once, in order; one answer -------------------------
    async def _run_album(self, album: Album) -> None:
        items = await album.gathered()
        if self._albums.get(album.key) is album:
            del self._albums[album.key]
        async with self._slots:
            await self._album(items)

    async def _run_shared_album(self, inc: Incoming, written: asyncio.Task) -> None:
        """One part of an album gathered through the database: applied with the whole album
        here when this worker gathers it, else done once the worker that does applied it."""
        shared = self.shared_albums
        assert shared is not None
        key = shared.key(inc)
        try:
            found = await shared.gather(key, [inc], [written])
        except Exception as exc:  # noqa: BLE001 - the merchant gets an apology
            self._log_failure(inc, exc)
            await self._apologise(inc)
            return
        if found is None:
            return  # in an album another worker (or an earlier part here) applied
        gathering, items = found
        try:
            async with self._slots:
                await self._album(items)
        finally:
            await shared.applied(key, gathering)

    async def _album(self, items: list[Incoming]) -> None:
        first = items[0]
        key = album_key(items)
        try:
            try:
                result, notes = await self._apply_album(items, key)
            except Exception as exc:  # noqa: BLE001 - nothing of the album was applied
                self._log_failure(first, exc)
                await self._apologise(first)
                return
            if not result.duplicate or result.replies:
                await self._deliver(first.chat_id, self._one_answer(result, notes))
                self._mark_sent(result.turn_id)
        except Exception as exc:  # noqa: BLE001
            log.error("sending the answer to album %s failed: %s", first.update_id,
                      redact(repr(exc)))

    async def _apply_album(self, items: list[Incoming], key: str) -> tuple[Result, list[Msg]]:
        """One ``Files`` event for the whole album, one call of the service: the engine stores
        what the question takes, in message order, and refuses the rest."""
        first = items[0]
        fetched = await asyncio.gather(*(self._fetch(i) for i in items), return_exceptions=True)
        uploads: list[Upload] = []
        notes: list[Msg] = []
        for inc, got in zip(items, fetched, strict=True):
            if isinstance(got, Upload):
                uploads.append(got)
            elif isinstance(got, Msg):
                notes.append(got)
            else:
                self._log_failure(inc, got)
                if SORRY not in notes:
                    notes.append(SORRY)
        if not uploads:
            return await self.service.notice(CHANNEL, first.user_key, notes.pop(0)), notes
        result = await self.service.handle(CHANNEL, first.user_key, Files(tuple(uploads)),
                                           update_id=key, language=first.language)
        return result, notes

    def _one_answer(self, result: Result, notes: list[Msg]) -> Result:
        """An album gets one message: the engine's notes, the channel's own (a file too large
        to download), then the question with its buttons."""
        final = [r for r in result.replies if r.text.strip()]
        documents = [r for r in result.replies if r.document]
        if not final:
            return result
        texts = [r.text for r in final[:-1]] + [self.t(result.locale, n) for n in notes]
        merged = Reply("\n\n".join([*texts, final[-1].text]), final[-1].choices)
        return Result([*documents, merged], result.expects, result.locale,
                      documents=result.documents)

    # -- replies -------------------------------------------------------------------------
    async def _deliver(self, chat_id: int, result: Result, *, track: bool = True) -> None:
        chat = self._chat(chat_id)
        chat.locale = result.locale or chat.locale
        replies = [r for r in result.replies if r.text.strip() or r.document]
        if not replies:
            return
        if track and chat.keyboard is not None:
            await self._strip(chat_id, chat.keyboard)
        step = result.expects.step
        app = self._mini_app(result)  # under the question's own message
        question = max((i for i, r in enumerate(replies) if r.text.strip()), default=-1)
        for number, reply in enumerate(replies):
            if reply.document:
                await self.transport.send_document(chat_id, reply.document.path,
                                                   reply.document.name)
            if not reply.text.strip():
                continue
            parts = split_text(reply.text)
            for index, part in enumerate(parts):
                last = index == len(parts) - 1
                buttons = [Button(c.label, self.codec.encode(c.id, step))
                           for c in reply.choices] if last else []
                if app and last and number == question:
                    buttons.append(app)
                message_id = await self.transport.send_text(chat_id, part, buttons)
                if buttons and track:
                    chat.keyboard = message_id

    def _mini_app(self, result: Result) -> Button | None:
        """A files question, with the upload page served over https: a button opening it as a
        Telegram Mini App for this question (none on http: Telegram refuses such buttons)."""
        expects = result.expects
        if self.uploads is None or expects.kind != "files" or not expects.step:
            return None
        url = self.uploads.mini_app_url(expects.step, result.locale)
        if url is None:
            return None
        return Button(self.t(result.locale, OPEN_UPLOAD_PAGE), web_app=url)

    async def _strip(self, chat_id: int, message_id: int) -> None:
        chat = self._chat(chat_id)
        if chat.keyboard == message_id:
            chat.keyboard = None
        await self._quietly(self.transport.remove_keyboard(chat_id, message_id))

    async def _apologise(self, inc: Incoming) -> None:
        locale = self._chat(inc.chat_id).locale or negotiate(inc.language,
                                                             self.service.default_locale)
        if inc.callback_id:
            await self._quietly(self.transport.answer_callback(inc.callback_id))
        await self._quietly(self.transport.send_text(inc.chat_id, self.t(locale, SORRY), []))

    # -- helpers -------------------------------------------------------------------------
    def t(self, locale: str, message: Msg | str) -> str:
        return self.service.guide.render.text(locale, message)

    def _chat(self, chat_id: int) -> _Chat:
        chat = self._chats.get(chat_id)
        if chat is None:
            chat = self._chats[chat_id] = _Chat()
            while len(self._chats) > self._remembered:
                self._chats.popitem(last=False)
        self._chats.move_to_end(chat_id)
        return chat

    async def _quietly(self, call) -> None:
        try:
            await call
        except Exception as exc:  # noqa: BLE001 - cosmetic calls must not fail a turn
            log.info("Telegram call skipped: %s", redact(repr(exc)))

    def _log_failure(self, inc: Incoming, exc: BaseException) -> None:
        trace = "".join(traceback.format_exception(exc))
        log.error("update %s (%s) failed; the merchant was asked to resend\n%s",
                  inc.update_id, inc.kind, redact(trace))


def album_key(items: Sequence[Incoming]) -> str:
    """The update key of an album: one event, applied at most once (its first update names
    it, so a photo arriving after the album closed is an album of its own)."""
    first = min(items, key=lambda i: i.update_id)
    return f"album:{first.media_group_id}:{first.update_id}"
