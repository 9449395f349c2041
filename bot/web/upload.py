"""The one-time upload page: a merchant hands over a document through the browser.

Channel-neutral. A channel asks for ``make_upload_link(channel, user_key, step)`` (``step`` is
the ``flow.step`` of a files question) and registers a ``deliver(user_key, result)`` coroutine
that sends the conversation's next replies into its chat. The page shows what the question
accepts, checks the file with the question's own rule before anything is stored (a refused file
leaves the link usable), then feeds it to ``Service.handle(channel, user_key, Upload(...))`` with
the token's nonce as the update id: the link's single use is recorded in the same transaction as
the stored file.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
import secrets
import time
import unicodedata
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlencode

from aiohttp import BodyPartReader, web
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from bot.content import DIALOGS
from bot.engine.files import FileRule, check_file, describe_accept, human_size
from bot.engine.messages import Invalid, Msg
from bot.engine.model import FileSpec, Upload
from bot.i18n import SUPPORTED
from bot.service import Result, Service
from bot.web import tokens
from bot.web.peek import applied, expectation

log = logging.getLogger(__name__)

TEMPLATE = "upload_page.html.j2"
DEFAULT_TTL = 30 * 60
CHUNK = 64 * 1024
MAX_NAME = 200
_EXTENSIONS = {"jpg": ".jpg,.jpeg,image/jpeg", "png": ".png,image/png",
               "pdf": ".pdf,application/pdf", "xlsx": ".xlsx", "xls": ".xls", "csv": ".csv"}
_UNSAFE_NAME = re.compile(r"[\x00-\x1f\x7f/\\]")

PAGE = web.ResponseKey("page", dict)  # what a page showed, for the JSON answer
Deliver = Callable[[str, Result], Awaitable[None]]
Clock = Callable[[], float]


def page_env(directory: Path = DIALOGS / "templates") -> Environment:
    """The page's Jinja2 environment: HTML, so autoescape is on for every template."""
    return Environment(loader=FileSystemLoader(directory), autoescape=True, trim_blocks=True,
                       lstrip_blocks=True, undefined=StrictUndefined)


def safe_name(raw: str | None, fallback: str) -> str:
    """A display name for a file the browser named: no path, no control characters, bounded.

    Browsers escape ``"`` and line breaks in multipart file names as ``%22``/``%0A`` (and some
    clients percent-encode the whole name), so the name is percent-decoded once first."""
    name = unquote(raw or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = unicodedata.normalize("NFC", _UNSAFE_NAME.sub("", name)).strip(" .")
    return name[-MAX_NAME:] if name else fallback


class UploadPage:
    def __init__(self, service: Service, *, secret: bytes, base_url: str,
                 ttl: int = DEFAULT_TTL, env: Environment | None = None,
                 clock: Clock = time.time, path: str = "/upload",
                 also: Sequence[Callable[[web.Application], None]] = ()) -> None:
        if len(secret) < 16:
            raise ValueError("the upload secret must have at least 16 bytes")
        self.service = service
        self._secret = secret
        self.base_url = base_url.rstrip("/")
        self.ttl = ttl
        self.env = env or page_env()
        self.clock = clock
        self.path = "/" + path.strip("/")
        self._deliver: dict[str, Deliver] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self.telegram_token: str | None = None  # set by ``bot.web.webapp.serve_mini_app``
        self._also = list(also)  # more routes for the same server (health, metrics, Mini App)

    # -- for channels ----------------------------------------------------------------------
    def register(self, channel: str, deliver: Deliver) -> None:
        self._deliver[channel] = deliver

    def make_upload_link(self, channel: str, user_key: str, step: str) -> str:
        token = tokens.issue(self._secret, channel, user_key, step, self.clock(), self.ttl)
        return f"{self.base_url}{self.path}/{quote(token, safe='.')}"

    def mini_app_url(self, step: str, locale: str) -> str | None:
        """What a Telegram ``web_app`` button opens for the files question ``step``: the Mini
        App, which asks for a one-time link itself once Telegram vouched for the user. None
        without the bot token or without https (Telegram refuses web_app buttons on http)."""
        if not self.telegram_token or not self.base_url.startswith("https://"):
            return None
        if self.spec(step) is None:
            return None
        query = urlencode({"step": step, "lang": locale})
        return f"{self.base_url}{self.path}/app?{query}"

    @property
    def ttl_minutes(self) -> int:
        return max(1, self.ttl // 60)

    def also_serve(self, add_routes: Callable[[web.Application], None]) -> None:
        """More routes for the server that serves this page (``bot.web.webapp``'s Mini App)."""
        self._also.append(add_routes)

    def add_routes(self, app: web.Application) -> None:
        # a token is always ``payload.mac``: other names under the path stay free (the Mini App)
        app.router.add_get(self.path + r"/{token:[^/.]+\.[^/.]+}", self.show)
        app.router.add_post(self.path + r"/{token:[^/.]+\.[^/.]+}", self.receive)
        for add_routes in self._also:
            add_routes(app)

    def launcher(self, request: web.Request) -> web.Response:
        """The Mini App's first page: its script trades Telegram's launch data for a link.
        The button's URL names the question (``step``) and the merchant's language
        (``lang``), so the page speaks it before it knows who opened it."""
        wanted = request.query.get("lang", "")
        locale = wanted if wanted in SUPPORTED else self.service.default_locale
        step = request.query.get("step", "")
        query = {"step": step} if step and self.spec(step) is not None else {}
        open_url = request.path.rstrip("/") + "/open?" + urlencode({**query, "lang": locale})
        return self._render(locale, status=200, launcher=True, ok=True, open_url=open_url,
                            outcome=[self._translate(locale)(Msg("Opening the upload page…"))])

    async def close(self) -> None:
        """Wait (bounded) for replies still being delivered into the chats."""
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=10)

    # -- handlers --------------------------------------------------------------------------
    async def show(self, request: web.Request) -> web.Response:
        checked = await self._admit(request.match_info["token"])
        if isinstance(checked, web.Response):
            return checked
        grant, locale, spec = checked
        return self._form(request, locale, spec)

    async def receive(self, request: web.Request) -> web.Response:
        """The posted file; the page's script asks for JSON (``Accept: application/json``) to
        send several files one after the other, each with its progress and its result."""
        response = await self._receive(request)
        if "application/json" not in request.headers.get("Accept", ""):
            return response
        page = response[PAGE]
        return web.json_response({
            "ok": page["ok"], "lines": page["outcome"],
            "next": page["next_link"] or (page["action"] if page["form"] else None)},
            status=response.status, headers={"Cache-Control": "no-store"})

    async def _receive(self, request: web.Request) -> web.Response:
        checked = await self._admit(request.match_info["token"])
        if isinstance(checked, web.Response):
            return checked
        grant, locale, spec = checked
        rule = spec.rule
        t = self._translate(locale)
        too_big = Msg("The file is over the {limit} limit for this step. Please choose a "
                      "smaller file ({accepted}).", limit=human_size(rule.max_bytes),
                      accepted=describe_accept(rule.accept))
        if request.content_length is not None and request.content_length > rule.max_bytes * 2:
            return self._form(request, locale, spec, [t(too_big)], status=413)
        try:
            upload = await self._read_file(request, rule.max_bytes)
        except ValueError:
            return self._form(request, locale, spec, [t(Msg(
                "No file was chosen. Please choose a file and try again."))], status=400)
        if upload is None:
            return self._form(request, locale, spec, [t(too_big)], status=413)
        try:  # the question's own rule, before anything is stored or the link is used up
            await asyncio.to_thread(check_file, upload.data, upload.name, rule)
        except Invalid as refused:
            return self._form(request, locale, spec, [t(refused.message)], status=422)
        result = await self.service.handle(grant.channel, grant.user_key, upload,
                                           update_id=grant.update_id)
        if result.duplicate:
            return self._message(locale, Msg("This upload link was already used."), status=410)
        self._send_to_chat(grant.channel, grant.user_key, result)
        sha = hashlib.sha256(upload.data).hexdigest()
        stored = any(d.sha256 == sha for d in result.documents)
        lines = [result.replies[0].text] if result.replies else []
        next_link = None  # the link is used; a new one while the question takes more files
        if result.expects.kind == "files" and result.expects.step == grant.step:
            next_link = self.make_upload_link(grant.channel, grant.user_key, grant.step)
        log.info("upload page: %s file for %s (%s)", "stored" if stored else "refused",
                 grant.channel, grant.step)
        return self._render(result.locale, status=200 if stored else 422, what=t(spec.label),
                            outcome=lines, ok=stored, next_link=next_link, back=True)

    # -- steps -----------------------------------------------------------------------------
    async def _admit(self, token: str) -> tuple[tokens.Grant, str, FileSpec] | web.Response:
        """The grant, the merchant's locale and the question's file spec; or the error page."""
        default = self.service.default_locale
        try:
            grant = tokens.check(self._secret, token, self.clock())
        except tokens.BadToken as bad:
            if bad.expired:
                return self._message(default, Msg(
                    "This upload link has expired. Send any message in the chat to get a new "
                    "one."), status=410)
            return self._message(default, Msg("This upload link is not valid."), status=404)
        if grant.channel not in self._deliver:
            return self._message(default, Msg("This upload link is not valid."), status=404)
        locale, expects = await expectation(self.service, grant.channel, grant.user_key)
        if await applied(self.service, grant.channel, grant.update_id):
            return self._message(locale, Msg("This upload link was already used."), status=410)
        spec = self.spec(grant.step)
        if spec is None or expects.kind != "files" or expects.step != grant.step:
            return self._message(locale, Msg(
                "This link belongs to a question that is already answered; the chat shows the "
                "current one."), status=410)
        return grant, locale, spec

    def spec(self, step_ref: str) -> FileSpec | None:
        """What the files question ``flow.step`` accepts (None: not a files question)."""
        flow_id, _, step_id = step_ref.partition(".")
        flow = self.service.guide.flows.get(flow_id)
        step = flow.steps.get(step_id) if flow else None
        return step.files if step is not None else None

    async def _read_file(self, request: web.Request, limit: int) -> Upload | None:
        """The posted ``file`` field; None when it exceeds ``limit``; ValueError when absent."""
        if not request.content_type.startswith("multipart/"):
            raise ValueError("not multipart")
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            if not isinstance(part, BodyPartReader) or part.name != "file":
                await part.release()
                continue
            chunks, size = [], 0
            while chunk := await part.read_chunk(CHUNK):
                size += len(chunk)
                if size > limit:
                    return None
                chunks.append(chunk)
            if not part.filename and not size:
                raise ValueError("no file chosen")
            return Upload(b"".join(chunks), safe_name(part.filename, "upload"))
        raise ValueError("no file field")

    def _send_to_chat(self, channel: str, user_key: str, result: Result) -> None:
        task = asyncio.create_task(self._deliver[channel](user_key, result))
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("upload page: delivering the reply failed: %r", task.exception())

    # -- rendering -------------------------------------------------------------------------
    def _translate(self, locale: str) -> Callable[[Msg], str]:
        return lambda message: self.service.guide.render.text(locale, message)

    def _form(self, request: web.Request, locale: str, spec: FileSpec,
              outcome: list[str] | None = None, status: int = 200) -> web.Response:
        t = self._translate(locale)
        rule: FileRule = spec.rule
        return self._render(
            locale, status=status, what=t(spec.label), outcome=outcome or [], ok=False,
            form=True, action=request.path, max_bytes=rule.max_bytes,
            multiple=spec.max_files > 1, camera=bool({"jpg", "png"} & set(rule.accept)),
            accept_attr=",".join(_EXTENSIONS[k] for k in rule.accept),
            accepts=t(Msg("Accepted: {accepted}, up to {limit} a file.",
                          accepted=describe_accept(rule.accept),
                          limit=human_size(rule.max_bytes))),
            too_big=t(Msg("This file is larger than {limit}. Please choose a smaller one.",
                          limit=human_size(rule.max_bytes))),
        )

    def _message(self, locale: str, message: Msg, status: int) -> web.Response:
        return self._render(locale, status=status, outcome=[self._translate(locale)(message)],
                            ok=False, back=True)

    def _render(self, locale: str, *, status: int, **context: Any) -> web.Response:
        t = self._translate(locale)
        texts = {
            "title": t(Msg("Upload a document")),
            "choose": t(Msg("Choose a file")),
            "send": t(Msg("Upload")),
            "sending": t(Msg("Uploading…")),
            "once": t(Msg("This link works once and only for this question.")),
            "another": t(Msg("Upload another file")),
            "choose_many": t(Msg("Choose one or more files")),
            "camera": t(Msg("Or take a photo")),
            "waiting": t(Msg("Waiting…")),
            "failed": t(Msg("The upload failed (connection). Please try again.")),
            "back": t(Msg("Go back to the chat to continue.")),
            "accepts": context.pop("accepts", ""),
            "too_big": context.pop("too_big", ""),
        }
        nonce = secrets.token_urlsafe(16)
        values = {"what": "", "outcome": [], "ok": False, "form": False, "action": "",
                  "accept_attr": "", "max_bytes": 0, "next_link": None, "back": False,
                  "multiple": False, "camera": False, "launcher": False, "open_url": ""}
        values.update(context)
        html = self.env.get_template(TEMPLATE).render(
            lang="zh-CN" if locale == "zh_CN" else "en", t=texts, nonce=nonce, **values)
        response = web.Response(text=html, status=status, content_type="text/html",
                                charset="utf-8")
        response[PAGE] = values  # for the JSON answer to the page's script
        response.headers.update({
            "Content-Security-Policy": (
                f"default-src 'none'; style-src 'nonce-{nonce}'; script-src 'nonce-{nonce}'; "
                "connect-src 'self'; form-action 'self'; base-uri 'none'; "
                # Telegram Web shows a Mini App in a frame of its own page; nobody else may
                "frame-ancestors https://web.telegram.org"),
            "Referrer-Policy": "no-referrer",
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
        })
        return response
