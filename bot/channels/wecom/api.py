"""WeCom's active API: gettoken (cached), message/send, media/get, media/upload.

Branches on ``errcode`` only. The access token is cached per app and fetched by one caller at a
time; on 40014/42001/40001 it is dropped, fetched once more and the call retried once. 45009
(frequency limit) backs off a bounded number of times. The sender paces itself per member (at
most 30 messages a minute and 1000 an hour from one app). Secrets and tokens travel in query
strings, so nothing here logs a URL with its query.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

import aiohttp

log = logging.getLogger(__name__)

TOKEN_ERRORS = frozenset({40014, 42001, 40001})  # invalid / expired / invalid credential
FREQUENCY_LIMIT = 45009
TEXT_LIMIT = 2048  # bytes of a text or markdown message's content
TOKEN_MARGIN = 300  # seconds: refresh a token this long before WeCom says it expires
BACKOFF = (1.0, 2.0, 4.0)  # waits after 45009; then the call fails
MEMBER_LIMITS = ((30, 60.0), (1000, 3600.0))  # (messages, seconds) per member from one app
_FILENAME = re.compile(r"""filename\*?=(?:UTF-8'')?"?([^";]+)"?""", re.IGNORECASE)

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]
# Several workers: (fetch, stale token or None) -> (token, expires_at in epoch seconds), the
# token every worker shares (see ``bot.channels.wecom.shared``).
TokenStore = Callable[[Callable[[], Awaitable[tuple[str, float]]], str | None],
                      Awaitable[tuple[str, float]]]


class WeComApiError(Exception):
    def __init__(self, errcode: int, errmsg: str, path: str) -> None:
        super().__init__(f"{path}: errcode {errcode}: {errmsg}")
        self.errcode = errcode
        self.errmsg = errmsg


class MediaTooLarge(Exception):
    """media/get returned more bytes than the caller allows."""


@dataclass(frozen=True)
class Media:
    data: bytes
    filename: str | None
    content_type: str


class Pacer:
    """Per-member sliding windows; ``acquire`` waits until a message may go out.

    Clock and sleep are injected so that tests run without sleeping."""

    def __init__(self, limits: Iterable[tuple[int, float]] = MEMBER_LIMITS,
                 clock: Clock = time.monotonic, sleep: Sleep = asyncio.sleep) -> None:
        self.limits = tuple(limits)
        self.clock = clock
        self.sleep = sleep
        self._sent: dict[str, deque[float]] = {}
        self._horizon = max(per for _, per in self.limits)

    def delay(self, member: str) -> float:
        """Seconds until ``member`` may receive another message (0: now)."""
        now = self.clock()
        sent = self._sent.get(member)
        if not sent:
            return 0.0
        while sent and sent[0] <= now - self._horizon:
            sent.popleft()
        wait = 0.0
        for count, per in self.limits:
            recent = [t for t in sent if t > now - per]
            if len(recent) >= count:
                wait = max(wait, recent[-count] + per - now)
        return wait

    async def acquire(self, member: str) -> None:
        while (wait := self.delay(member)) > 0:
            await self.sleep(wait)
        self._sent.setdefault(member, deque()).append(self.clock())
        self._forget_idle()

    def _forget_idle(self) -> None:
        if len(self._sent) < 1024:
            return
        cutoff = self.clock() - self._horizon
        for member in [m for m, sent in self._sent.items() if not sent or sent[-1] <= cutoff]:
            del self._sent[member]


def split_text(text: str, limit: int = TEXT_LIMIT) -> list[str]:
    """Cut ``text`` into pieces of at most ``limit`` UTF-8 bytes, at paragraph breaks, then
    line breaks, then spaces, and only as a last resort inside a line."""
    pieces: list[str] = []
    rest = text.strip()
    while len(rest.encode("utf-8")) > limit:
        head = _prefix(rest, limit)
        cut = len(head)
        for sep in ("\n\n", "\n", "。", " "):
            pos = head.rfind(sep)
            if pos >= len(head) // 3:  # an earlier break would waste most of a message
                cut = pos + (len(sep) if sep == "。" else 0)
                break
        pieces.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest:
        pieces.append(rest)
    return pieces


def _prefix(text: str, limit: int) -> str:
    """The longest prefix of ``text`` whose UTF-8 form fits ``limit`` bytes."""
    return text.encode("utf-8")[:limit].decode("utf-8", "ignore")


class WeComApi:
    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        base_url: str,
        corp_id: str,
        secret: str,
        agent_id: int,
        pacer: Pacer | None = None,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
        backoff: tuple[float, ...] = BACKOFF,
        token_store: TokenStore | None = None,
    ) -> None:
        self.session = session
        self.base = base_url.rstrip("/") + "/cgi-bin/"
        self.corp_id = corp_id
        self._secret = secret
        self.agent_id = agent_id
        self.pacer = pacer or Pacer(clock=clock, sleep=sleep)
        self.clock = clock
        self.sleep = sleep
        self.backoff = backoff
        self._token: str | None = None
        self._expires = 0.0
        self._token_lock = asyncio.Lock()
        self.token_store = token_store
        self._stale: str | None = None  # refused by WeCom: the shared store must not hand it out

    # -- access token ----------------------------------------------------------------------
    async def token(self) -> str:
        if self._token and self.clock() < self._expires:
            return self._token
        async with self._token_lock:  # one fetch at a time; the others reuse its result
            if self._token and self.clock() < self._expires:
                return self._token
            if self.token_store is not None:  # one fetch for every worker
                token, expires_at = await self.token_store(self._fetch_token, self._stale)
                self._stale = None
                self._token, self._expires = token, self.clock() + (expires_at - time.time())
                return token
            token, valid = await self._fetch_token()
            self._token, self._expires = token, self.clock() + valid
            return token

    async def _fetch_token(self) -> tuple[str, float]:
        """A new token from gettoken and the seconds to use it for."""
        data = await self._get_json("gettoken", {"corpid": self.corp_id,
                                                 "corpsecret": self._secret})
        if data.get("errcode", 0) != 0 or not data.get("access_token"):
            raise WeComApiError(int(data.get("errcode", -1)), str(data.get("errmsg", "")),
                                "gettoken")
        lifetime = float(data.get("expires_in", 7200))
        log.info("wecom: access token fetched, valid %.0f s", lifetime)
        return str(data["access_token"]), max(lifetime - TOKEN_MARGIN, lifetime / 2)

    def _drop_token(self, used: str) -> None:
        if self._token == used:  # another caller may have refreshed it already
            self._token = None
            self._expires = 0.0
            self._stale = used

    # -- calls -----------------------------------------------------------------------------
    async def _call(self, path: str, send: Callable[[str], Awaitable[Any]]) -> Any:
        """Run ``send(token)``; refresh the token once on a token error, back off on 45009.

        ``send`` returns the decoded JSON (a dict) or any other result (e.g. media bytes)."""
        refreshed = False
        waits = iter(self.backoff)
        while True:
            token = await self.token()
            result = await send(token)
            if not isinstance(result, dict):
                return result
            errcode = int(result.get("errcode", 0) or 0)
            if errcode == 0:
                return result
            if errcode in TOKEN_ERRORS and not refreshed:
                log.info("wecom: %s said errcode %d; fetching a new token", path, errcode)
                self._drop_token(token)
                refreshed = True
                continue
            if errcode == FREQUENCY_LIMIT:
                wait = next(waits, None)
                if wait is not None:
                    log.warning("wecom: %s frequency limit; retrying in %.0f s", path, wait)
                    await self.sleep(wait)
                    continue
            raise WeComApiError(errcode, str(result.get("errmsg", "")), path)

    async def _get_json(self, path: str, params: dict[str, str]) -> dict[str, Any]:
        async with self.session.get(self.base + path, params=params) as resp:
            return await _json(resp, path)

    async def _post_json(self, path: str, token: str, payload: dict[str, Any]) -> dict[str, Any]:
        body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        async with self.session.post(
            self.base + path, params={"access_token": token}, data=body,
            headers={"Content-Type": "application/json; charset=utf-8"},
        ) as resp:
            return await _json(resp, path)

    async def send_message(self, touser: str, msgtype: str, content: dict[str, Any]) -> None:
        await self.pacer.acquire(touser)
        payload = {"touser": touser, "msgtype": msgtype, "agentid": self.agent_id,
                   msgtype: content, "safe": 0, "enable_duplicate_check": 0}
        await self._call("message/send",
                         lambda token: self._post_json("message/send", token, payload))

    async def send_text(self, touser: str, text: str, *, markdown: bool = False) -> int:
        """Send ``text`` in as many messages as its size needs; returns how many."""
        pieces = split_text(text)
        for piece in pieces:
            await self.send_message(touser, "markdown" if markdown else "text",
                                    {"content": piece})
        return len(pieces)

    async def send_file(self, touser: str, name: str, data: bytes) -> None:
        media_id = await self.upload_media("file", name, data)
        await self.send_message(touser, "file", {"media_id": media_id})

    async def get_media(self, media_id: str, max_bytes: int) -> Media:
        """Download a media file; errors come back as JSON, told apart by Content-Type."""

        async def fetch(token: str) -> Any:
            async with self.session.get(self.base + "media/get",
                                        params={"access_token": token, "media_id": media_id}
                                        ) as resp:
                ctype = resp.headers.get("Content-Type", "").split(";")[0].strip().lower()
                if ctype in ("application/json", "text/plain") or resp.status != 200:
                    return await _json(resp, "media/get")
                declared = resp.content_length
                if declared is not None and declared > max_bytes:
                    raise MediaTooLarge(declared)
                data = await read_limited(resp.content, max_bytes)
                if data is None:
                    raise MediaTooLarge(max_bytes)
                found = _FILENAME.search(resp.headers.get("Content-Disposition", ""))
                return Media(data, found.group(1).strip() if found else None, ctype)

        return await self._call("media/get", fetch)

    async def upload_media(self, kind: str, name: str, data: bytes) -> str:
        async def post(token: str) -> Any:
            form = aiohttp.FormData()
            form.add_field("media", data, filename=name,
                           content_type="application/octet-stream")
            async with self.session.post(self.base + "media/upload",
                                         params={"access_token": token, "type": kind},
                                         data=form) as resp:
                return await _json(resp, "media/upload")

        result = await self._call("media/upload", post)
        return str(result["media_id"])


async def read_limited(stream: aiohttp.StreamReader, limit: int) -> bytes | None:
    """The whole stream, or None as soon as it proves longer than ``limit`` bytes.
    (``StreamReader.read(n)`` returns what has arrived, which may be less than the body.)"""
    chunks, size = [], 0
    while chunk := await stream.read(64 * 1024):
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


async def _json(resp: aiohttp.ClientResponse, path: str) -> dict[str, Any]:
    raw = await read_limited(resp.content, 1024 * 1024)
    try:
        data = json.loads(raw) if raw is not None else None
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise WeComApiError(-1, f"HTTP {resp.status}, not a JSON object", path)
    return data
