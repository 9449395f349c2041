"""The upload page as a Telegram Mini App: ``/upload/app`` opened from a ``web_app`` button.

Telegram hands the Mini App its launch data (``initData``: the user, a time, a hash) in the
URL fragment. The page's script posts it to ``/upload/app/open``; the server checks its HMAC
with the bot token (Telegram's scheme: the key is HMAC-SHA256("WebAppData", token)), takes the
user from it, and answers with a one-time upload link for that merchant's current files question,
which the page then opens. A forged, stale or foreign ``initData`` gets nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable
from urllib.parse import parse_qsl

from aiohttp import web

from bot.engine.messages import Msg
from bot.i18n import SUPPORTED
from bot.web.peek import expectation
from bot.web.upload import UploadPage

CHANNEL = "telegram"
MAX_AGE = 24 * 3600  # launch data older than this is refused
MAX_INIT_DATA = 4096


class BadInitData(Exception):
    pass


def verify_init_data(init_data: str, bot_token: str, now: float,
                     max_age: int = MAX_AGE) -> dict:
    """The ``user`` of valid launch data; ``BadInitData`` otherwise."""
    if not init_data or len(init_data) > MAX_INIT_DATA:
        raise BadInitData("missing or too long")
    fields = dict(parse_qsl(init_data, keep_blank_values=True, strict_parsing=False))
    given = fields.pop("hash", "")
    check = "\n".join(f"{k}={v}" for k, v in sorted(fields.items()))
    secret = hmac.new(b"WebAppData", bot_token.encode("utf-8"), hashlib.sha256).digest()
    expected = hmac.new(secret, check.encode("utf-8"), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(given.encode("ascii", "replace"), expected.encode("ascii")):
        raise BadInitData("bad hash")
    try:
        signed_at = int(fields.get("auth_date", "0"))
        user = json.loads(fields.get("user", "null"))
    except ValueError:
        raise BadInitData("malformed") from None
    if not isinstance(user, dict) or not isinstance(user.get("id"), int):
        raise BadInitData("no user")
    if now - signed_at > max_age:
        raise BadInitData("stale")
    return user


def sign_init_data(fields: dict[str, str], bot_token: str) -> str:
    """Launch data as Telegram signs it (for tests and local tries)."""
    from urllib.parse import urlencode

    check = "\n".join(f"{k}={v}" for k, v in sorted(fields.items()))
    secret = hmac.new(b"WebAppData", bot_token.encode("utf-8"), hashlib.sha256).digest()
    digest = hmac.new(secret, check.encode("utf-8"), hashlib.sha256).hexdigest()
    return urlencode({**fields, "hash": digest})


def serve_mini_app(page: UploadPage, bot_token: str) -> UploadPage:
    """``page`` also opens as a Telegram Mini App at ``/upload/app`` (its questions' messages
    then offer a ``web_app`` button), launch data checked with ``bot_token``."""
    page.telegram_token = bot_token
    page.also_serve(MiniApp(page, bot_token).add_routes)
    return page


class MiniApp:
    def __init__(self, uploads: UploadPage, bot_token: str,
                 clock: Callable[[], float] = time.time) -> None:
        self.uploads = uploads
        self._token = bot_token
        self.clock = clock

    @property
    def url(self) -> str:
        """The Mini App's page (the ``web_app`` button adds the question and the language:
        ``UploadPage.mini_app_url``)."""
        return f"{self.uploads.base_url}{self.uploads.path}/app"

    def add_routes(self, app: web.Application) -> None:
        # before the upload page's own /upload/{token}
        app.router.add_get(self.uploads.path + "/app", self.show)
        app.router.add_post(self.uploads.path + "/app/open", self.open)

    async def show(self, request: web.Request) -> web.Response:
        return self.uploads.launcher(request)

    async def open(self, request: web.Request) -> web.Response:
        form = await request.post()
        service = self.uploads.service
        t = service.guide.render.text
        try:
            user = verify_init_data(str(form.get("init_data") or ""), self._token, self.clock())
        except BadInitData:  # told in the language the button asked for: no user to ask
            wanted = request.query.get("lang", "")
            locale = wanted if wanted in SUPPORTED else service.default_locale
            text = t(locale, Msg("Please open this page with the button in the Telegram chat."))
            return web.json_response({"error": "invalid", "text": text}, status=403)
        user_key = str(user["id"])
        locale, expects = await expectation(service, CHANNEL, user_key)
        if expects.kind != "files" or not expects.step or self.uploads.spec(
                expects.step) is None:
            text = t(locale, Msg("The current question in the chat does not take files. Go "
                                 "back to the chat to continue."))
            return web.json_response({"error": "no_files", "text": text}, status=409)
        asked = request.query.get("step")  # the question whose button opened the Mini App
        if asked and asked != expects.step:
            text = t(locale, Msg("This link belongs to a question that is already answered; "
                                 "the chat shows the current one."))
            return web.json_response({"error": "answered", "text": text}, status=409)
        link = self.uploads.make_upload_link(CHANNEL, user_key, expects.step)
        return web.json_response({"link": link}, headers={"Cache-Control": "no-store"})
