"""The callback URL: GET verification and POST messages (aiohttp handlers).

Order of checks on a POST: body size, outer XML (defused), timestamp window, signature, and only
then base64 and AES. Anything that fails authentication gets 403 with an empty body; a malformed
but authentic envelope gets 400. An accepted message is answered 200 with an empty body: at
once for files (downloads happen after answering), and for text and events as soon as the
service has committed the turn (at most ``ack_wait`` seconds), so that a crash before the commit
leaves WeCom retrying instead of the message lost. With several workers every message is first
kept in the database's inbox and answered once it is (``WeComChannel.submit`` decides).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from urllib.parse import unquote

from aiohttp import web

from bot.channels.wecom.api import read_limited
from bot.channels.wecom.crypto import (
    BadPayload,
    WeComCrypto,
    WeComCryptoError,
    parse_message,
)
from bot.channels.wecom.inbound import Inbound, parse_inbound

log = logging.getLogger(__name__)

MAX_BODY = 64 * 1024
MAX_QUERY = 4096
MAX_SKEW = 300

Submit = Callable[[Inbound], "asyncio.Future[None] | None"]


def query_once(raw: str) -> dict[str, str]:
    """Split a raw query string and percent-decode each value exactly once; a ``+`` stays a
    ``+`` (echostr is base64 and holds ``+ / =``). The first occurrence of a name wins."""
    fields: dict[str, str] = {}
    for pair in raw.split("&"):
        name, _, value = pair.partition("=")
        fields.setdefault(unquote(name), unquote(value))
    return fields


class CallbackApp:
    channel = "wecom"  # in log lines

    def __init__(self, crypto: WeComCrypto, *, corp_id: str, agent_id: str, submit: Submit,
                 clock: Callable[[], float] = time.time, max_body: int = MAX_BODY,
                 ack_wait: float = 2.0, max_skew: float = MAX_SKEW) -> None:
        self.crypto = crypto
        self.corp_id = corp_id
        self.agent_id = agent_id
        self.submit = submit
        self.clock = clock
        self.max_body = max_body
        self.ack_wait = ack_wait
        self.max_skew = max_skew

    def add_routes(self, app: web.Application, path: str) -> None:
        app.router.add_get(path, self.verify)
        app.router.add_post(path, self.receive)

    def _query(self, request: web.Request) -> dict[str, str] | None:
        raw = request.rel_url.raw_query_string
        if len(raw) > MAX_QUERY:
            return None
        query = query_once(raw)
        if not all(query.get(k) for k in ("msg_signature", "timestamp", "nonce")):
            return None
        return query

    async def verify(self, request: web.Request) -> web.Response:
        query = self._query(request)
        if query is None or not query.get("echostr"):
            return web.Response(status=403)
        try:
            self.crypto.check_timestamp(query["timestamp"], self.clock(), self.max_skew)
            self.crypto.verify_signature(query["msg_signature"], query["timestamp"],
                                         query["nonce"], query["echostr"])
        except WeComCryptoError as exc:
            log.warning("wecom: URL verification refused: %s", type(exc).__name__)
            return web.Response(status=403)
        try:
            echo = self.crypto.decrypt(query["echostr"])
        except WeComCryptoError as exc:
            log.warning("wecom: URL verification undecodable: %s", type(exc).__name__)
            return web.Response(status=400)
        log.info("wecom: callback URL verified")
        return web.Response(body=echo.encode("utf-8"), content_type="text/plain")

    async def receive(self, request: web.Request) -> web.Response:
        fields = await self.fields(request)
        if isinstance(fields, web.Response):
            return fields
        agent = fields.get("AgentID", "").strip()
        if agent and agent != self.agent_id:
            log.warning("wecom: callback for another agent ignored")
            return web.Response(status=200)
        message = parse_inbound(fields)
        if message is None:
            return web.Response(status=200)
        answered = self.submit(message)  # the channel decides what the answer waits for
        if answered is not None:
            await asyncio.wait([asyncio.shield(answered)], timeout=self.ack_wait)
            if answered.done() and answered.exception() is not None:
                log.error("wecom: a message could not be kept: %s",
                          type(answered.exception()).__name__)
                return web.Response(status=503)  # WeCom posts it again
        return web.Response(status=200)

    async def fields(self, request: web.Request) -> dict[str, str] | web.Response:
        """The callback's decrypted fields, or the refusal to answer with: the timestamp and
        signature are checked before any decryption, the body is read within its limit."""
        query = self._query(request)
        if query is None:
            return web.Response(status=403)
        if request.content_length is not None and request.content_length > self.max_body:
            return web.Response(status=413)
        body = await read_limited(request.content, self.max_body)
        if body is None:
            return web.Response(status=413)
        try:
            inner = self.crypto.decrypt_message(query["msg_signature"], query["timestamp"],
                                                query["nonce"], body, self.clock())
            return parse_message(inner)
        except BadPayload as exc:
            log.warning("%s: callback refused: %s", self.channel, exc)
            return web.Response(status=400)
        except WeComCryptoError as exc:
            log.warning("%s: callback refused: %s", self.channel, type(exc).__name__)
            return web.Response(status=403)
