"""The 微信客服 callback URL: GET verification as for the self-built app (the receive id is
the CorpID), POST ``kf_msg_or_event``: authenticated (timestamp and signature before any
decryption), answered 200 at once; the pull it triggers runs after answering."""

from __future__ import annotations

import logging
from collections.abc import Callable

from aiohttp import web

from bot.channels.wecom.api import read_limited
from bot.channels.wecom.callback import CallbackApp
from bot.channels.wecom.crypto import BadPayload, WeComCrypto, WeComCryptoError, parse_message

log = logging.getLogger(__name__)


class KfCallback(CallbackApp):
    def __init__(self, crypto: WeComCrypto, *, corp_id: str,
                 notify: Callable[[str, str], None], **kw) -> None:
        super().__init__(crypto, corp_id=corp_id, agent_id="", submit=lambda _: None, **kw)
        self.notify = notify

    async def receive(self, request: web.Request) -> web.Response:
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
            fields = parse_message(inner)
        except BadPayload as exc:
            log.warning("wecom_kf: callback refused: %s", exc)
            return web.Response(status=400)
        except WeComCryptoError as exc:
            log.warning("wecom_kf: callback refused: %s", type(exc).__name__)
            return web.Response(status=403)
        if fields.get("Event", "").strip() == "kf_msg_or_event":
            open_kfid = fields.get("OpenKfId", "").strip()
            if open_kfid:
                self.notify(fields.get("Token", "").strip(), open_kfid)
        return web.Response(status=200)
