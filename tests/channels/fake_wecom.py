"""Test tools for the WeCom channel: a fake WeCom API server on loopback, callback builders,
and a small guide (flows written here) so that unit tests do not depend on the real content."""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from aiohttp import web
from babel.support import NullTranslations

from bot.channels.wecom.crypto import WeComCrypto, signature
from bot.engine.loader import load_flows
from bot.engine.machine import Guide
from bot.engine.render import Renderer
from bot.i18n import SUPPORTED, Translator

CORP_ID = "ww0000000000test01"
AGENT_ID = "1000002"
SECRET = "fake-corp-secret-for-tests"
TOKEN = "TestToken123"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"


def png(width: int = 640, height: int = 480, seed: int = 0) -> bytes:
    """A sharp, scan-like PNG: dark lines of small print on white (blank pictures count as
    blurred and are refused)."""
    import random
    from io import BytesIO

    from PIL import Image, ImageDraw

    rng = random.Random(seed)
    image = Image.new("RGB", (width, height), (255, 255, 255))
    draw = ImageDraw.Draw(image)
    for y in range(8, height - 12, 14):
        line = "".join(rng.choice("ABCDEFGHJKLMNPQRSTUVWXYZ0123456789 ") for _ in range(90))
        draw.text((8, y), line, fill=(0, 0, 0))
    out = BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


@dataclass
class Media:
    data: bytes
    content_type: str
    filename: str


@dataclass
class FakeWeCom:
    """Speaks gettoken, message/send, media/get and media/upload like WeCom, and records."""

    corp_id: str = CORP_ID
    secret: str = SECRET
    expires_in: int = 7200
    valid_tokens: set[str] = field(default_factory=set)
    gettoken_calls: int = 0
    sent: list[dict[str, Any]] = field(default_factory=list)
    media: dict[str, Media] = field(default_factory=dict)
    uploaded: list[tuple[str, str, bytes]] = field(default_factory=list)
    send_errors: deque[int] = field(default_factory=deque)  # errcodes for the next sends
    calls: list[str] = field(default_factory=list)
    media_delay: float = 0.0  # seconds media/get takes, to show the callback does not wait
    send_delay: float = 0.0  # seconds message/send takes before it answers
    _runner: web.AppRunner | None = None
    base_url: str = ""
    _changed: asyncio.Event | None = None

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/cgi-bin/gettoken", self.gettoken)
        app.router.add_post("/cgi-bin/message/send", self.message_send)
        app.router.add_get("/cgi-bin/media/get", self.media_get)
        app.router.add_post("/cgi-bin/media/upload", self.media_upload)
        return app

    async def start(self) -> str:
        self._changed = asyncio.Event()
        self._runner = web.AppRunner(self.app(), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.base_url = f"http://127.0.0.1:{port}"
        return self.base_url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    # -- controls --------------------------------------------------------------------------
    def expire_tokens(self) -> None:
        """Every token issued so far stops working (WeCom answers 42001)."""
        self.valid_tokens.clear()

    def add_media(self, data: bytes, content_type: str, filename: str) -> str:
        media_id = "MEDIA" + secrets.token_hex(8)
        self.media[media_id] = Media(data, content_type, filename)
        return media_id

    def texts(self, user: str | None = None) -> list[str]:
        return [m["text"]["content"] if m["msgtype"] == "text" else m["markdown"]["content"]
                for m in self.sent if m["msgtype"] in ("text", "markdown")
                and (user is None or m["touser"] == user)]

    async def wait_texts(self, user: str, count: int, timeout: float = 10) -> list[str]:
        """Wait (bounded) until ``user`` has received at least ``count`` text messages."""
        deadline = time.monotonic() + timeout
        while len(self.texts(user)) < count:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(
                    f"{user} got {len(self.texts(user))} of {count} messages: {self.texts(user)}")
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), min(left, 0.5))
            except TimeoutError:
                pass
        return self.texts(user)

    # -- handlers --------------------------------------------------------------------------
    def _token_error(self, request: web.Request) -> web.Response | None:
        token = request.query.get("access_token", "")
        if not token:
            return web.json_response({"errcode": 41001, "errmsg": "access_token missing"})
        if token not in self.valid_tokens:
            return web.json_response({"errcode": 42001, "errmsg": "access_token expired"})
        return None

    async def gettoken(self, request: web.Request) -> web.Response:
        self.calls.append("gettoken")
        self.gettoken_calls += 1
        if (request.query.get("corpid") != self.corp_id
                or request.query.get("corpsecret") != self.secret):
            return web.json_response({"errcode": 40001, "errmsg": "invalid credential"})
        token = "TOKEN" + secrets.token_hex(8)
        self.valid_tokens.add(token)
        return web.json_response({"errcode": 0, "errmsg": "ok", "access_token": token,
                                  "expires_in": self.expires_in})

    async def message_send(self, request: web.Request) -> web.Response:
        self.calls.append("message/send")
        if (error := self._token_error(request)) is not None:
            return error
        payload = json.loads(await request.read())
        await asyncio.sleep(self.send_delay)
        if self.send_errors:
            code = self.send_errors.popleft()
            return web.json_response({"errcode": code, "errmsg": "injected"})
        kind = payload["msgtype"]
        if kind in ("text", "markdown") and len(payload[kind]["content"].encode()) > 2048:
            return web.json_response({"errcode": 44004, "errmsg": "content exceed limit"})
        self.sent.append(payload)
        if self._changed is not None:
            self._changed.set()
        return web.json_response({"errcode": 0, "errmsg": "ok", "invaliduser": ""})

    async def media_get(self, request: web.Request) -> web.StreamResponse:
        self.calls.append("media/get")
        await asyncio.sleep(self.media_delay)
        if (error := self._token_error(request)) is not None:
            return error
        media = self.media.get(request.query.get("media_id", ""))
        if media is None:
            return web.json_response({"errcode": 40007, "errmsg": "invalid media_id"})
        return web.Response(body=media.data, content_type=media.content_type, headers={
            "Content-Disposition": f'attachment; filename="{media.filename}"'})

    async def media_upload(self, request: web.Request) -> web.Response:
        self.calls.append("media/upload")
        if (error := self._token_error(request)) is not None:
            return error
        form = await request.post()
        media = form["media"]
        media_id = "UP" + secrets.token_hex(6)
        self.uploaded.append((request.query.get("type", ""), media.filename, media.file.read()))
        return web.json_response({"errcode": 0, "errmsg": "ok", "type": "file",
                                  "media_id": media_id, "created_at": str(int(time.time()))})


# -- callbacks ------------------------------------------------------------------------------
def crypto() -> WeComCrypto:
    return WeComCrypto(TOKEN, [AES_KEY], CORP_ID)


def text_xml(user: str, content: str, msg_id: str | int, create_time: int | None = None) -> str:
    return _inner(user, "text", create_time, f"<Content><![CDATA[{content}]]></Content>"
                  f"<MsgId>{msg_id}</MsgId>")


def image_xml(user: str, media_id: str, msg_id: str | int) -> str:
    return _inner(user, "image", None, "<PicUrl><![CDATA[http://127.0.0.1/pic]]></PicUrl>"
                  f"<MediaId><![CDATA[{media_id}]]></MediaId><MsgId>{msg_id}</MsgId>")


def event_xml(user: str, event: str, create_time: int) -> str:
    return _inner(user, "event", create_time, f"<Event><![CDATA[{event}]]></Event>"
                  "<EventKey><![CDATA[]]></EventKey>")


def other_xml(user: str, msg_type: str, msg_id: str | int) -> str:
    return _inner(user, msg_type, None, f"<MediaId>m</MediaId><MsgId>{msg_id}</MsgId>")


def _inner(user: str, msg_type: str, create_time: int | None, rest: str) -> str:
    when = create_time if create_time is not None else int(time.time())
    return (f"<xml><ToUserName><![CDATA[{CORP_ID}]]></ToUserName>"
            f"<FromUserName><![CDATA[{user}]]></FromUserName><CreateTime>{when}</CreateTime>"
            f"<MsgType><![CDATA[{msg_type}]]></MsgType>{rest}<AgentID>{AGENT_ID}</AgentID></xml>")


def envelope(inner: str, *, timestamp: int | None = None, nonce: str | None = None,
             tamper: Callable[[dict[str, str]], None] | None = None) -> tuple[str, bytes]:
    """(query string, body) of a POST callback carrying ``inner``, signed like WeCom does."""
    ts = str(timestamp if timestamp is not None else int(time.time()))
    nonce = nonce or secrets.token_hex(5)
    encrypted = crypto().encrypt_raw(inner)
    query = {"msg_signature": signature(TOKEN, ts, nonce, encrypted), "timestamp": ts,
             "nonce": nonce}
    if tamper:
        tamper(query)
    body = (f"<xml><ToUserName><![CDATA[{CORP_ID}]]></ToUserName>"
            f"<Encrypt><![CDATA[{encrypted}]]></Encrypt><AgentID><![CDATA[{AGENT_ID}]]>"
            "</AgentID></xml>")
    return urlencode(query), body.encode()


def verification(echo: str, *, timestamp: int | None = None) -> tuple[str, str]:
    """(query string, expected answer) of a GET URL verification."""
    ts = str(timestamp if timestamp is not None else int(time.time()))
    nonce = secrets.token_hex(5)
    echostr = crypto().encrypt_raw(echo)
    return urlencode({"msg_signature": signature(TOKEN, ts, nonce, echostr), "timestamp": ts,
                      "nonce": nonce, "echostr": echostr}), echo


# -- a small guide ---------------------------------------------------------------------------
FLOWS = {
    "menu.yaml": """
id: menu
title: Main menu
start: main
steps:
  main:
    kind: choice
    text: What would you like to do?
    options:
      - {id: docs, label: Send documents, next: "flow:docs"}
      - {id: about, label: About, next: about}
  about:
    kind: info
    text: A test guide.
    next: main
""",
    "docs.yaml": """
id: docs
title: Documents
start: company
steps:
  company:
    kind: text
    validator: company_name
    answer: company_name
    label: Company name
    text: What is the company's name?
    next: license
  license:
    kind: files
    files: {category: license, label: Business license scan, accept: [jpg, png], max_mb: 1,
            min: 1, max: 1}
    text: Send the business license.
    next: report
  report:
    kind: files
    files: {category: report, label: Transaction report, accept: [pdf, xlsx], max_mb: 1,
            min: 0, max: 2}
    text: Send the transaction report.
    next: done
  done:
    kind: end
    text: All done.
""",
}


def mini_guide(directory: Path) -> Guide:
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in FLOWS.items():
        (directory / name).write_text(text, encoding="utf-8")
    flows = load_flows(directory)
    translator = Translator({loc: NullTranslations() for loc in SUPPORTED},
                            {loc: set() for loc in SUPPORTED})
    return Guide(flows, Renderer(translator, {}, {"reviewed": "2026-01-01"}))


def minimal_pdf() -> bytes:
    from io import BytesIO

    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(width=200, height=200)
    out = BytesIO()
    writer.write(out)
    return out.getvalue()
