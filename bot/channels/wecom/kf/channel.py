"""The 微信客服 channel: messages read by ``sync.Puller`` go to the service; its replies go out
within WeCom's budget (5 messages per merchant message, within 48 hours of it). Also the kf side
of a handoff to a person, and the ``Sender`` for reminders (through kf, or staff via the robot).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from datetime import UTC, datetime
from typing import Any

import aiohttp

from bot import metrics
from bot.channels.base import DeliveryError
from bot.channels.wecom.api import MediaTooLarge, WeComApiError
from bot.channels.wecom.kf import texts as T
from bot.channels.wecom.kf.api import BOT_STATES, QUEUE, SERVICER, KfApi
from bot.channels.wecom.kf.inbound import CUSTOMER, ENDED, EVENT, KfMessage
from bot.channels.wecom.kf.inbound import SERVICER as STAFF
from bot.channels.wecom.kf.outbound import render
from bot.channels.wecom.kf.sync import Puller
from bot.channels.wecom.robot import Robot
from bot.engine.files import human_size
from bot.engine.messages import Msg
from bot.engine.model import Choice, Choose, Event, Hello, Reply, Text, Upload
from bot.handoff import Alert, installed
from bot.places import place
from bot.service import Result, Service
from bot.store.kf import ENDED as SESSION_ENDED
from bot.store.kf import KfStore
from bot.web.peek import applied
from bot.web.upload import UploadPage

log = logging.getLogger(__name__)

CHANNEL = "wecom_kf"
MEDIA_LIMIT = 20 * 1024 * 1024  # media/get serves at most 20 MB in one piece
REFUSALS = 3  # documents refused in a row at one step before staff hear of it
ERRORS = (WeComApiError, aiohttp.ClientError, TimeoutError, OSError)


class KfChannel:
    buttons = True  # choices become msgmenu click items

    def __init__(self, service: Service, api: KfApi, store: KfStore, *,
                 robot: Robot | None = None, uploads: UploadPage | None = None,
                 servicer: str | None = None, media_limit: int = MEDIA_LIMIT) -> None:
        self.service = service
        self.api = api
        self.store = store
        self.robot = robot
        self.uploads = uploads
        self.servicer = servicer
        self.media_limit = media_limit
        self.puller = Puller(api, store, self._message, self.now)
        # one merchant's turn and its delivery, before a handoff moves their session away
        self._turns: dict[str, asyncio.Lock] = {}

    def now(self) -> datetime:
        return self.service.clock()

    def t(self, locale: str, message: Msg) -> str:
        return self.service.guide.render.text(locale, message)

    # -- callbacks -------------------------------------------------------------------------
    def notify(self, token: str, open_kfid: str) -> None:
        """A ``kf_msg_or_event`` callback: read what is new (see ``sync.Puller``)."""
        self.puller.notify(token, open_kfid)

    async def pull(self, open_kfid: str, token: str) -> None:
        await self.puller.pull(open_kfid, token)

    async def close(self, timeout: float = 10) -> None:
        await self.puller.close(timeout)

    # -- one message -----------------------------------------------------------------------
    async def _message(self, m: KfMessage) -> None:
        if m.origin == STAFF:
            # a person wrote to the merchant: they serve the session now; nothing to answer
            await self.store.answered(m.user, m.servicer or None, m.open_kfid, self.now())
            desk = installed(self.service)
            if desk is not None and m.text:
                await desk.answered_in_channel(CHANNEL, m.user, m.servicer or "wecom", m.text)
            log.info("wecom_kf: a servicer wrote; recorded")
            return
        if m.origin == EVENT or m.kind == "event":
            await self._event(m)
            return
        if m.origin != CUSTOMER:
            return
        sent_at = (datetime.fromtimestamp(m.send_time, UTC).replace(tzinfo=None)
                   if m.send_time else self.now())
        await self.store.heard(m.user, m.open_kfid, min(sent_at, self.now()), self.now())
        if not await self._bot_serves(m):
            await self._held(m)
            return
        async with self._turns.setdefault(m.user, asyncio.Lock()):
            event = await self._event_for(m)
            if event is None:
                return
            # 转人工 and the like go to the shared handoff (bot.handoff) as on every channel;
            # its listener (``handed_over``) then moves the session to a person
            result = await self.service.handle(CHANNEL, m.user, event, update_id=m.key)
            if result.duplicate and not result.replies:  # replies lost in a crash come back
                log.info("wecom_kf: message %s applied before; nothing to say", m.key)
                return
            if isinstance(event, Upload) and not result.duplicate:
                await self._count_refusal(m.user, event, result)
            if await self.deliver(m.user, result):
                await self.service.mark_sent(result.turn_id)
            else:
                self.service.mark_failed(result.turn_id)

    async def _held(self, m: KfMessage) -> None:
        """A person serves the session in WeCom: the bot sends nothing, but the merchant's
        text reaches the transcript and the console's inbox (the handoff holds it)."""
        log.info("wecom_kf: a person serves this merchant; the bot stays quiet")
        desk = installed(self.service)
        if desk is None:
            return
        await desk.taken(CHANNEL, m.user)  # a session WeCom handed over without our seeing
        if m.kind == "text":  # files are not fetched: the person receives them in WeCom
            await self.service.handle(CHANNEL, m.user, Text(m.text), update_id=m.key)

    async def _event(self, m: KfMessage) -> None:
        if m.event == "enter_session":
            if m.scene:
                await self.store.came_from(m.user, m.open_kfid, m.scene, self.now())
            if m.welcome_code:
                await self._welcome(m)
        elif m.event == "session_status_change":
            desk = installed(self.service)
            if m.change_type == ENDED:
                await self.store.serve_by(m.user, SESSION_ENDED, self.now(),
                                          open_kfid=m.open_kfid)
                log.info("wecom_kf: the session came back to the bot")
                if desk is not None:  # the inbox lets go; the guide asks its question again
                    await desk.returned(CHANNEL, m.user, "wecom:" + (m.servicer or "servicer"))
            else:
                await self.store.serve_by(m.user, "person", self.now(),
                                          servicer=m.servicer or None, open_kfid=m.open_kfid)
                if desk is not None:  # staff took the session in WeCom: it is in the inbox
                    await desk.taken(CHANNEL, m.user)
        elif m.event == "msg_send_fail":
            log.warning("wecom_kf: WeCom reports a message that did not reach the merchant")

    async def _welcome(self, m: KfMessage) -> None:
        session = await self.store.session(m.user)
        if session is not None and session.serving not in ("bot", SESSION_ENDED):
            return
        if session is not None and session.serving == SESSION_ENDED:  # a new session
            await self.store.serve_by(m.user, "bot", self.now())
        result = await self.service.handle(CHANNEL, m.user, Hello(), update_id=m.key)
        if result.duplicate:
            return
        messages = render(result.replies, result.expects.step,
                          question=result.expects.choices)
        if not messages:
            return
        try:  # one message per welcome code: the question (with its menu) is the one
            await self.api.send_on_event(m.welcome_code, messages[-1])
        except ERRORS as exc:
            log.warning("wecom_kf: the welcome failed: %s", _describe(exc))

    async def _bot_serves(self, m: KfMessage) -> bool:
        session = await self.store.session(m.user)
        if session is None or session.serving == "bot":
            return True
        if session.serving == SESSION_ENDED:  # the merchant writes: a new session, the bot's
            await self.store.serve_by(m.user, "bot", self.now())
            return True
        try:  # a person may have handed the session back without an event we saw
            state, _ = await self.api.service_state(m.user, m.open_kfid or session.open_kfid)
        except ERRORS as exc:
            log.warning("wecom_kf: service_state/get failed: %s", _describe(exc))
            return False
        if state in BOT_STATES or state == 4:
            await self.store.serve_by(m.user, "bot", self.now())
            return True
        return False

    async def _event_for(self, m: KfMessage) -> Event | None:
        if m.kind == "text":
            picked = m.choice()
            if picked is not None:
                return Choose(picked[0], step=picked[1])
            return Text(m.text)
        if m.kind in ("image", "file"):
            return await self._download(m)
        await self._notice(m.user, T.UNREADABLE)
        return None

    async def _download(self, m: KfMessage) -> Upload | None:
        if await applied(self.service, CHANNEL, m.key):
            return None  # a re-read message: not even downloaded again
        expects = (await self.service.peek(CHANNEL, m.user)).expects
        limit = self.media_limit
        if expects.kind == "files" and expects.max_bytes:
            limit = min(limit, expects.max_bytes)
        try:
            media = await self.api.get_media(m.media_id, limit)
        except MediaTooLarge:
            await self._notice(m.user, Msg(
                "The file is over the {limit} limit for this step. Please send a smaller one.",
                limit=human_size(limit)))
            return None
        except ERRORS as exc:
            log.warning("wecom_kf: media/get failed: %s", _describe(exc))
            await self._notice(m.user, T.NOT_DOWNLOADED)
            return None
        name = media.filename or f"{m.kind}-{m.media_id[-8:]}.{T.extension(media.content_type)}"
        return Upload(media.data, name, step=expects.step)

    async def _count_refusal(self, user: str, upload: Upload, result: Result) -> None:
        digest = hashlib.sha256(upload.data).hexdigest()
        accepted = any(d.sha256 == digest for d in result.documents)
        count = await self.store.refused(user, None if accepted else upload.step, self.now())
        if count == REFUSALS and self.robot is not None:
            company, _ = await self.store.merchant_name(CHANNEL, user)
            team = self.service.default_locale
            flow_id, _, step_id = (upload.step or "").partition(".")
            named = " › ".join(n for n in place(self.service.guide, team, flow_id, step_id) if n)
            await self.robot.alert("refused", self.t(team, Msg(
                "Merchant {merchant}: a document was refused {count} times at step {step}. "
                "Please help them.", merchant=company or user, count=count,
                step=named or upload.step or "-")))

    # -- a person, please ------------------------------------------------------------------
    async def transfer(self, user_key: str) -> str:
        """Hand the merchant's kf session to ``WECOM_KF_SERVICER`` (or the queue); from now on
        the bot stays quiet until the session comes back. Returns "person" or "queue"."""
        session = await self.store.session(user_key)
        if session is None or not session.open_kfid:
            raise LookupError(f"no 微信客服 session for {user_key}")
        serving = "queue"
        if self.servicer:
            try:
                await self.api.transfer(user_key, session.open_kfid, SERVICER, self.servicer)
                serving = "person"
            except WeComApiError as exc:  # e.g. the servicer is off duty: the queue, then
                log.warning("wecom_kf: transfer to the servicer refused (%s); to the queue",
                            _describe(exc))
        if serving == "queue":
            await self.api.transfer(user_key, session.open_kfid, QUEUE)
        await self.store.serve_by(user_key, serving, self.now(), handed=True,
                                  servicer=self.servicer if serving == "person" else None)
        return serving

    async def release(self, user_key: str) -> None:
        """A person is done: WeCom ends the session (state 4); the merchant's next message is
        the guide's again, at the question they were at."""
        session = await self.store.session(user_key)
        if session is None:
            return
        await self.api.transfer(user_key, session.open_kfid, 4)
        await self.store.serve_by(user_key, SESSION_ENDED, self.now())

    async def handed_over(self, alert: Alert) -> None:
        """A handoff listener: a kf merchant asked for a person (bot.handoff), so the session
        goes to ``WECOM_KF_SERVICER`` or the queue, after the turn's reply has gone out
        (WeCom lets the program write only while it serves the session)."""
        if alert.channel != CHANNEL or alert.repeated:
            return
        user = await self.store.user_of(alert.merchant_id)
        if user is None:
            return
        async with self._turns.setdefault(user, asyncio.Lock()):
            session = await self.store.session(user)
            if session is None or session.serving != "bot":
                return  # a person serves already (staff took the session in WeCom)
            try:
                serving = await self.transfer(user)
            except (LookupError, *ERRORS) as exc:  # the inbox has them all the same
                log.warning("wecom_kf: transfer failed: %s", _describe(exc))
                return
        log.info("wecom_kf: the session went to %s", serving)

    # -- output ----------------------------------------------------------------------------
    async def deliver(self, user: str, result: Result) -> bool:
        """One turn's replies, merged, within the merchant's budget. False: sending failed
        (logged). A reply outside a turn (a notice) is counted here; a turn's, by the service
        when the caller marks it sent or failed."""
        hint = None
        expects = result.expects
        if expects.kind == "files" and expects.step and self.uploads is not None:
            link = self.uploads.make_upload_link(CHANNEL, user, expects.step)
            hint = self.t(result.locale, Msg(
                "Send pictures, PDF or Excel files right here. For a file over 20 MB, use this "
                "one-time upload page (valid for {minutes} minutes):\n{link}",
                minutes=self.uploads.ttl_minutes, link=link))
        try:
            await self._send(user, result.replies, hint, step=expects.step,
                             question=expects.choices)
        except ERRORS as exc:
            log.error("wecom_kf: sending a reply failed: %s", _describe(exc))
            ok = False
        else:
            ok = True
        if result.turn_id is None and result.replies:
            metrics.labelled(metrics.SENDS, CHANNEL, "sent" if ok else "failed").inc()
        return ok

    async def _send(self, user: str, replies: list[Reply], hint: str | None,
                    step: str | None = None, question: tuple[Choice, ...] = ()) -> int:
        """Send within the budget; returns how many messages went out."""
        session = await self.store.session(user)
        if session is None:
            raise DeliveryError("wecom_kf: the merchant has never written", permanent=True)
        if session.serving != "bot":  # WeCom lets the program write only while it serves
            log.info("wecom_kf: a person serves this merchant; nothing sent")
            return 0
        messages: list[dict[str, Any]] = render(replies, step, hint, question)
        documents = [r.document for r in replies if r.document is not None]
        wanted = len(messages) + len(documents)
        granted = await self.store.spend(user, wanted, self.now())
        if granted < wanted:
            log.warning("wecom_kf: %d of %d message(s) dropped: WeCom allows 5 per merchant "
                        "message within 48 hours", wanted - granted, wanted)
        # the question is what the merchant needs most: keep the end of the turn
        messages = messages[len(messages) - min(granted, len(messages)):]
        for message in messages:
            await self.api.send_msg(user, session.open_kfid, message)
        for document in documents[:max(0, granted - len(messages))]:
            data = await asyncio.to_thread(_read, document.path)
            media_id = await self.api.upload_media("file", document.name, data)
            await self.api.send_msg(user, session.open_kfid,
                                    {"msgtype": "file", "file": {"media_id": media_id}})
        return granted

    async def _notice(self, user: str, message: Msg) -> None:
        await self.deliver(user, await self.service.notice(CHANNEL, user, message))

    # -- reminders (bot.channels.base.Sender) ----------------------------------------------
    async def send(self, user_key: str, replies: list[Reply]) -> None:
        """Inside the 48-hour window: through kf. Outside it (or with the budget spent, or
        while a person serves): an alert to staff through the robot; the reminder row records
        which."""
        reminder = T.reminder_id(replies)
        session = await self.store.session(user_key)
        if session is not None and session.serving == "bot" and session.left(self.now()) > 0:
            expects = (await self.service.peek(CHANNEL, user_key)).expects
            try:
                sent = await self._send(user_key, replies, None, expects.step, expects.choices)
            except ERRORS as exc:
                raise DeliveryError(f"wecom_kf: {_describe(exc)}") from None
            if sent:
                if reminder is not None:
                    await self.store.delivered_via(reminder, CHANNEL)
                return
        if reminder is None and session is not None and session.serving == SESSION_ENDED:
            raise DeliveryError("wecom_kf: the session has ended; the guide answers the "
                                "merchant's next message", permanent=True)
        if reminder is None and session is not None and session.serving != "bot":
            raise DeliveryError("wecom_kf: a person serves this merchant in WeCom; only they "
                                "can write to them now", permanent=True)
        if reminder is None or self.robot is None:
            raise DeliveryError("wecom_kf: over 48 hours since the merchant's last message "
                                "(or its 5 messages used)", permanent=True)
        await self.robot.alert("reminder", await self._reminder_alert(user_key, reminder))
        if reminder is not None:
            await self.store.delivered_via(reminder, "robot")

    async def _reminder_alert(self, user: str, reminder_id: int) -> str:
        locale = self.service.default_locale
        company, _ = await self.store.merchant_name(CHANNEL, user)
        row = await self.store.reminder(reminder_id)
        who = company or user
        if row is None:
            return self.t(locale, Msg("Merchant {merchant} has a reminder that WeChat cannot "
                                      "deliver (over 48 hours since their last message). "
                                      "Please contact them.", merchant=who))
        today = self.service.today(self.service.timezone, self.now())
        return self.t(locale, T.reminder_alert(row.kind, row.subject, row.anchor, today, who))


def _read(path: str) -> bytes:
    with open(path, "rb") as fh:
        return fh.read()


def _describe(exc: BaseException) -> str:
    """An error without URLs: aiohttp errors may carry the access_token in a query string."""
    if isinstance(exc, WeComApiError):
        return f"errcode {exc.errcode}"
    if isinstance(exc, LookupError):
        return "no session"
    return type(exc).__name__
