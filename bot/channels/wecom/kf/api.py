"""The kf calls on WeCom's active API, with the token cache, refresh and back-off of
``bot.channels.wecom.api.WeComApi`` (the token comes from the 微信客服 Secret)."""

from __future__ import annotations

from typing import Any

from bot.channels.wecom.api import WeComApi

QUEUE, SERVICER = 2, 3  # kf/service_state: into the queue, to a named servicer
BOT_STATES = frozenset({0, 1})  # new, or served by the program: the bot may answer
SYNC_LIMIT = 1000


class KfApi(WeComApi):
    def __init__(self, session, *, base_url: str, corp_id: str, secret: str, **kw: Any) -> None:
        super().__init__(session, base_url=base_url, corp_id=corp_id, secret=secret, agent_id=0,
                         **kw)

    async def post(self, path: str, payload: dict[str, Any]) -> dict[str, Any]:
        return await self._call(path, lambda token: self._post_json(path, token, payload))

    async def sync_msg(self, open_kfid: str, cursor: str, token: str) -> dict[str, Any]:
        payload: dict[str, Any] = {"open_kfid": open_kfid, "limit": SYNC_LIMIT}
        if cursor:
            payload["cursor"] = cursor
        if token:
            payload["token"] = token  # the callback's: without it sync_msg is rate limited
        return await self.post("kf/sync_msg", payload)

    async def send_msg(self, user: str, open_kfid: str, message: dict[str, Any]) -> None:
        await self.post("kf/send_msg", {"touser": user, "open_kfid": open_kfid, **message})

    async def send_on_event(self, code: str, message: dict[str, Any]) -> None:
        await self.post("kf/send_msg_on_event", {"code": code, **message})

    async def service_state(self, user: str, open_kfid: str) -> tuple[int, str]:
        data = await self.post("kf/service_state/get",
                               {"open_kfid": open_kfid, "external_userid": user})
        return int(data.get("service_state", 0)), str(data.get("servicer_userid") or "")

    async def transfer(self, user: str, open_kfid: str, state: int,
                       servicer: str | None = None) -> None:
        payload: dict[str, Any] = {"open_kfid": open_kfid, "external_userid": user,
                                   "service_state": state}
        if servicer:
            payload["servicer_userid"] = servicer
        await self.post("kf/service_state/trans", payload)
