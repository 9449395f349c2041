"""The 微信客服 callback URL: GET verification as for the self-built app (the receive id is
the CorpID), POST ``kf_msg_or_event``: authenticated (timestamp and signature before any
decryption), answered 200 at once; the pull it triggers runs after answering."""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web

from bot.channels.wecom.callback import CallbackApp
from bot.channels.wecom.crypto import WeComCrypto


class KfCallback(CallbackApp):
    channel = "wecom_kf"

    def __init__(self, crypto: WeComCrypto, *, corp_id: str,
                 notify: Callable[[str, str], None], **kw) -> None:
        super().__init__(crypto, corp_id=corp_id, agent_id="", submit=lambda _: None, **kw)
        self.notify = notify

    async def receive(self, request: web.Request) -> web.Response:
        fields = await self.fields(request)
        if isinstance(fields, web.Response):
            return fields
        if fields.get("Event", "").strip() == "kf_msg_or_event":
            open_kfid = fields.get("OpenKfId", "").strip()
            if open_kfid:
                self.notify(fields.get("Token", "").strip(), open_kfid)
        return web.Response(status=200)
