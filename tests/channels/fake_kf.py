"""A fake 微信客服 API on loopback: kf/sync_msg (a message log read by cursor, in pages),
kf/send_msg (refusing what WeCom refuses: over 5 messages per merchant message, outside 48
hours, while a person serves), kf/send_msg_on_event, kf/service_state/*, and the group robot's
webhook (blocking a robot over 20 messages a minute). Built on FakeWeCom (gettoken, media/*)."""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from aiohttp import web
from fake_wecom import CORP_ID, FakeWeCom

from bot.channels.wecom.crypto import WeComCrypto, signature

KF_SECRET = "fake-kf-secret-for-tests"
KF_TOKEN = "KfToken456"
KF_AES_KEY = "ZYXWVUTSRQPONMLKJIHGFEDCBA9876543210zyxwvut"
OPEN_KFID = "wkAJ2GCAAAZSfhHCt7IFSvLKtMPxyJTw"
ROBOT_KEY = "robot-key-0001"


@dataclass
class FakeKf(FakeWeCom):
    secret: str = KF_SECRET
    log: list[dict[str, Any]] = field(default_factory=list)  # every message, in order
    page: int = 3  # messages per sync_msg answer (has_more beyond)
    sync_tokens: list[str] = field(default_factory=list)
    kf_sent: list[dict[str, Any]] = field(default_factory=list)
    refused: list[dict[str, Any]] = field(default_factory=list)  # sends WeCom would refuse
    welcomes: list[dict[str, Any]] = field(default_factory=list)
    states: dict[str, int] = field(default_factory=dict)  # external_userid -> service_state
    transfers: list[dict[str, Any]] = field(default_factory=list)
    budget: dict[str, int] = field(default_factory=dict)  # messages left per merchant
    window: dict[str, float] = field(default_factory=dict)  # last merchant message time
    codes: set[str] = field(default_factory=set)  # welcome codes not used yet
    robot: list[tuple[float, str]] = field(default_factory=list)  # (time, markdown)
    robot_errors: list[int] = field(default_factory=list)  # errcodes for the next posts
    robot_posts: int = 0
    heard: int = 0  # merchant messages so far
    off_duty: set[str] = field(default_factory=set)  # servicers WeCom will not hand to
    robot_clock: Any = time.monotonic  # the robot's minute, as the test keeps it

    def app(self) -> web.Application:
        app = super().app()
        app.router.add_post("/cgi-bin/kf/sync_msg", self.sync_msg)
        app.router.add_post("/cgi-bin/kf/send_msg", self.send_msg)
        app.router.add_post("/cgi-bin/kf/send_msg_on_event", self.send_on_event)
        app.router.add_post("/cgi-bin/kf/service_state/get", self.state_get)
        app.router.add_post("/cgi-bin/kf/service_state/trans", self.state_trans)
        app.router.add_post("/cgi-bin/webhook/send", self.webhook)
        return app

    # -- what the merchant and the staff do ------------------------------------------------
    def _add(self, user: str, origin: int, msgtype: str, body: dict[str, Any],
             at: float | None = None) -> dict[str, Any]:
        item = {"msgid": "MSG" + secrets.token_hex(10), "open_kfid": OPEN_KFID,
                "external_userid": user, "send_time": int(at or time.time()),
                "origin": origin, "msgtype": msgtype, msgtype: body}
        self.log.append(item)
        if origin == 3:
            self.heard += 1
            self.budget[user] = 5
            self.window[user] = at or time.time()
            if self.states.get(user, 4) == 4:  # a new session, or one that had ended
                self.states[user] = 0
        return item

    def text(self, user: str, content: str, menu_id: str | None = None,
             at: float | None = None) -> dict[str, Any]:
        body = {"content": content, **({"menu_id": menu_id} if menu_id else {})}
        return self._add(user, 3, "text", body, at)

    def media_message(self, user: str, kind: str, media_id: str) -> dict[str, Any]:
        return self._add(user, 3, kind, {"media_id": media_id})

    def enter(self, user: str, scene_param: str = "") -> str:
        code = "WELCOME" + secrets.token_hex(6)
        self.codes.add(code)
        self._add(user, 4, "event", {"event_type": "enter_session", "open_kfid": OPEN_KFID,
                                     "external_userid": user, "scene": "1",
                                     "scene_param": scene_param, "welcome_code": code})
        return code

    def staff_says(self, user: str, content: str, servicer: str) -> None:
        item = self._add(user, 5, "text", {"content": content})
        item["servicer_userid"] = servicer

    def staff_takes(self, user: str, servicer: str) -> None:
        """A servicer takes the session inside WeCom (from the queue): it is theirs now."""
        self.states[user] = 3
        self._add(user, 4, "event", {"event_type": "session_status_change",
                                     "open_kfid": OPEN_KFID, "external_userid": user,
                                     "change_type": 1, "new_servicer_userid": servicer})

    def session_ended(self, user: str) -> None:
        """The person ends the session: it is the program's again."""
        self.states[user] = 4
        self._add(user, 4, "event", {"event_type": "session_status_change",
                                     "open_kfid": OPEN_KFID, "external_userid": user,
                                     "change_type": 3})

    # -- reading what the bot sent ---------------------------------------------------------
    def shown(self, user: str) -> list[str]:
        """Each message to ``user`` as the merchant sees it: texts, menus with their items."""
        out = []
        for m in self.kf_sent:
            if m["touser"] != user:
                continue
            if m["msgtype"] == "text":
                out.append(m["text"]["content"])
            elif m["msgtype"] == "msgmenu":
                menu = m["msgmenu"]
                items = [f"[{i['click']['content']}]" for i in menu["list"]]
                out.append("\n".join([menu["head_content"], *items, menu["tail_content"]]))
            else:
                out.append(f"<{m['msgtype']}>")
        return out

    def sends(self, user: str) -> list[dict[str, Any]]:
        """What went through kf/send_msg to ``user`` (welcomes apart)."""
        return [m for m in self.kf_sent if m["touser"] == user and not m.get("welcome")]

    def menu(self, user: str) -> list[dict[str, str]]:
        """The click items of the last menu ``user`` got."""
        menus = [m for m in self.kf_sent if m["touser"] == user and m["msgtype"] == "msgmenu"]
        return [i["click"] for i in menus[-1]["msgmenu"]["list"]] if menus else []

    # -- handlers --------------------------------------------------------------------------
    async def _payload(self, request: web.Request) -> dict[str, Any] | web.Response:
        self.calls.append(request.path.removeprefix("/cgi-bin/"))
        if (error := self._token_error(request)) is not None:
            return error
        return json.loads(await request.read())

    def _changed_now(self) -> None:
        if self._changed is not None:
            self._changed.set()

    async def sync_msg(self, request: web.Request) -> web.Response:
        payload = await self._payload(request)
        if isinstance(payload, web.Response):
            return payload
        self.sync_tokens.append(payload.get("token", ""))
        start = int(payload.get("cursor") or "0")
        limit = min(int(payload.get("limit") or 1000), self.page)
        batch = self.log[start:start + limit]
        end = start + len(batch)
        return web.json_response({"errcode": 0, "errmsg": "ok", "next_cursor": str(end),
                                  "has_more": int(end < len(self.log)), "msg_list": batch})

    async def send_msg(self, request: web.Request) -> web.Response:
        payload = await self._payload(request)
        if isinstance(payload, web.Response):
            return payload
        user = payload["touser"]
        if payload.get("open_kfid") != OPEN_KFID:
            return web.json_response({"errcode": 95000, "errmsg": "invalid open_kfid"})
        if self.states.get(user, 0) not in (0, 1):
            self.refused.append(payload)
            return web.json_response({"errcode": 95018, "errmsg": "invalid service state"})
        if self.budget.get(user, 0) <= 0 or time.time() - self.window.get(user, 0) > 48 * 3600:
            self.refused.append(payload)
            return web.json_response({"errcode": 95001, "errmsg": "send msg count limit"})
        kind = payload["msgtype"]
        if kind == "text" and len(payload["text"]["content"].encode()) > 2048:
            return web.json_response({"errcode": 44004, "errmsg": "content exceed limit"})
        if kind == "msgmenu":
            menu = payload["msgmenu"]
            if (len(menu["head_content"].encode()) > 1024 or len(menu["list"]) > 10
                    or any(len(i["click"]["id"].encode()) > 64
                           or len(i["click"]["content"].encode()) > 128
                           for i in menu["list"])):
                return web.json_response({"errcode": 45098, "errmsg": "msgmenu out of limit"})
        self.budget[user] -= 1
        self.kf_sent.append({**payload, "after": self.heard})
        self._changed_now()
        return web.json_response({"errcode": 0, "errmsg": "ok", "msgid": secrets.token_hex(8)})

    async def send_on_event(self, request: web.Request) -> web.Response:
        payload = await self._payload(request)
        if isinstance(payload, web.Response):
            return payload
        code = payload.get("code")
        if code not in self.codes:
            return web.json_response({"errcode": 95007, "errmsg": "invalid msg code"})
        self.codes.discard(code)
        user = next(m["external_userid"] for m in self.log
                    if m["msgtype"] == "event" and m["event"].get("welcome_code") == code)
        entry = {**payload, "touser": user, "welcome": True}
        self.welcomes.append(entry)
        self.kf_sent.append(entry)
        self._changed_now()
        return web.json_response({"errcode": 0, "errmsg": "ok"})

    async def state_get(self, request: web.Request) -> web.Response:
        payload = await self._payload(request)
        if isinstance(payload, web.Response):
            return payload
        return web.json_response({"errcode": 0, "errmsg": "ok", "service_state":
                                  self.states.get(payload["external_userid"], 0),
                                  "servicer_userid": ""})

    async def state_trans(self, request: web.Request) -> web.Response:
        payload = await self._payload(request)
        if isinstance(payload, web.Response):
            return payload
        if payload.get("servicer_userid") in self.off_duty:
            return web.json_response({"errcode": 95014, "errmsg": "servicer not on duty"})
        self.transfers.append(payload)
        self.states[payload["external_userid"]] = int(payload["service_state"])
        return web.json_response({"errcode": 0, "errmsg": "ok"})

    async def webhook(self, request: web.Request) -> web.Response:
        self.robot_posts += 1
        if request.query.get("key") != ROBOT_KEY:
            return web.json_response({"errcode": 93000, "errmsg": "invalid webhook url"})
        if self.robot_errors:
            return web.json_response({"errcode": self.robot_errors.pop(0), "errmsg": "x"})
        now = self.robot_clock()
        if len([t for t, _ in self.robot if t > now - 60]) >= 20:
            return web.json_response({"errcode": 45009, "errmsg": "api freq out of limit"})
        payload = json.loads(await request.read())
        self.robot.append((now, payload["markdown"]["content"]))
        self._changed_now()
        return web.json_response({"errcode": 0, "errmsg": "ok"})


# -- callbacks ------------------------------------------------------------------------------
def kf_crypto() -> WeComCrypto:
    return WeComCrypto(KF_TOKEN, [KF_AES_KEY], CORP_ID)


def kf_event(token: str = "", open_kfid: str = OPEN_KFID,
             timestamp: int | None = None) -> tuple[str, bytes]:
    """(query string, body) of a signed ``kf_msg_or_event`` callback."""
    inner = (f"<xml><ToUserName><![CDATA[{CORP_ID}]]></ToUserName>"
             f"<CreateTime>{int(time.time())}</CreateTime><MsgType><![CDATA[event]]></MsgType>"
             "<Event><![CDATA[kf_msg_or_event]]></Event>"
             f"<Token><![CDATA[{token or 'SYNC' + secrets.token_hex(4)}]]></Token>"
             f"<OpenKfId><![CDATA[{open_kfid}]]></OpenKfId></xml>")
    ts, nonce = str(timestamp or int(time.time())), secrets.token_hex(5)
    encrypted = kf_crypto().encrypt_raw(inner)
    query = {"msg_signature": signature(KF_TOKEN, ts, nonce, encrypted), "timestamp": ts,
             "nonce": nonce}
    body = (f"<xml><ToUserName><![CDATA[{CORP_ID}]]></ToUserName>"
            f"<Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>")
    return urlencode(query), body.encode()


def kf_verification(echo: str) -> tuple[str, str]:
    ts, nonce = str(int(time.time())), secrets.token_hex(5)
    echostr = kf_crypto().encrypt_raw(echo)
    return urlencode({"msg_signature": signature(KF_TOKEN, ts, nonce, echostr),
                      "timestamp": ts, "nonce": nonce, "echostr": echostr}), echo
