"""The console's web application: sign-in, sessions, CSRF, language, rendering.

Its own aiohttp application on its own address (``BOT_ADMIN_LISTEN``): staff pages never share
a server with what merchants open. Pages live in ``pages.py``.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from aiohttp import web
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from bot.content import DIALOGS, LOCALES
from bot.engine.messages import Msg
from bot.handoff import Handoffs
from bot.i18n import SUPPORTED, Translator, negotiate
from bot.service import Service
from bot.store import staff
from bot.teamtime import TeamTime
from bot.web.admin import auth
from bot.web.admin.passwords import dummy_hash, verify_password

log = logging.getLogger(__name__)

TEMPLATES = DIALOGS / "templates" / "admin"
LANG_COOKIE = "bot_admin_lang"
# What the middleware learns about a request, for the pages.
LOCALE = web.RequestKey("locale", str)
USER = web.RequestKey("user", staff.Staff)
CSRF = web.RequestKey("csrf", str)
USERNAME = web.RequestKey("username", str)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def admin_envs(translator: Translator, clock: TeamTime,
               directory: Path = TEMPLATES) -> dict[str, Environment]:
    """The console's Jinja2 environment, one per locale, its gettext bound to that catalog
    (as ``bot.content.template_env`` does for the guide's templates). HTML: autoescape on.
    ``when`` shows a stored moment in the team's timezone (``clock``)."""
    envs = {}
    for locale in SUPPORTED:
        env = Environment(loader=FileSystemLoader(directory), autoescape=True, trim_blocks=True,
                          lstrip_blocks=True, undefined=StrictUndefined,
                          extensions=["jinja2.ext.i18n"])
        env.policies["ext.i18n.trimmed"] = True
        env.install_gettext_translations(translator.translations(locale), newstyle=True)
        env.filters["when"] = clock.show
        envs[locale] = env
    return envs


class Console:
    def __init__(self, service: Service, handoffs: Handoffs, *, secure_cookie: bool = False,
                 session_hours: int = 12, throttle: auth.LoginThrottle | None = None,
                 translator: Translator | None = None, timezone: str | None = None) -> None:
        self.service = service
        self.db = service.db
        self.handoffs = handoffs
        self.secure_cookie = secure_cookie
        self.session_ttl = timedelta(hours=session_hours)
        self.throttle = throttle or auth.LoginThrottle(service.db, service.clock)
        self.translator = translator or Translator.load(LOCALES)
        self.clock = TeamTime(timezone or service.timezone)  # BOT_TIMEZONE: the team's
        self.envs = admin_envs(self.translator, self.clock)

    def add_routes(self, app: web.Application) -> None:
        """Signing in and out; the pages add theirs (``bot.web.admin.site``)."""
        app.middlewares.append(self._middleware)
        app.router.add_get("/admin", self.home)
        app.router.add_get("/admin/login", self.login_form)
        app.router.add_post("/admin/login", self.login)
        app.router.add_post("/admin/logout", self.logout)

    async def home(self, _request: web.Request) -> web.Response:
        return _redirect("/admin/")

    # -- requests ---------------------------------------------------------------------------
    def locale(self, request: web.Request) -> str:
        wanted = request.query.get("lang") or request.cookies.get(LANG_COOKIE)
        if wanted in SUPPORTED:
            return wanted
        header = request.headers.get("Accept-Language", "")
        first = header.split(",")[0].split(";")[0].strip()
        return negotiate(first, self.service.default_locale)

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        request[LOCALE] = self.locale(request)
        public = request.path == "/admin/login" or request.path == "/admin"
        if not public:
            token = request.cookies.get(auth.COOKIE, "")
            found = await staff.session_user(self.db, token, self.service.clock()) if token else None
            if found is None:
                if request.method == "POST":
                    return self.refuse(request, 403)
                return _redirect("/admin/login")
            request[USER], request[CSRF] = found
            if request.method == "POST":
                form = await request.post()
                if not auth.same(str(form.get("csrf_token") or ""), found[1]):
                    return self.refuse(request, 403)
        response = await handler(request)
        if request.query.get("lang") in SUPPORTED:
            response.set_cookie(LANG_COOKIE, request.query["lang"], max_age=365 * 86400,
                                httponly=True, samesite="Lax", secure=self.secure_cookie,
                                path="/admin")
        return response

    def address(self, request: web.Request) -> str:
        return request.remote or "?"

    # -- sign-in ----------------------------------------------------------------------------
    async def login_form(self, request: web.Request, *, error: str = "",
                         status: int = 200) -> web.Response:
        token = request.cookies.get(auth.LOGIN_CSRF_COOKIE) or auth.new_token()
        response = self.render(request, "login.html.j2", status=status, csrf=token,
                               error=error, username=request.get(USERNAME, ""))
        response.set_cookie(auth.LOGIN_CSRF_COOKIE, token, httponly=True, samesite="Strict",
                            secure=self.secure_cookie, path="/admin/login")
        return response

    async def login(self, request: web.Request) -> web.Response:
        form = await request.post()
        if not auth.same(str(form.get("csrf_token") or ""),
                         request.cookies.get(auth.LOGIN_CSRF_COOKIE)):
            return self.refuse(request, 403)
        name = str(form.get("username") or "").strip()[:64]
        password = str(form.get("password") or "")
        address = self.address(request)
        request[USERNAME] = name
        t = self.t(request)
        wait = await self.throttle.wait(name, address)
        if wait > 0:
            return await self.login_form(request, status=429, error=t(Msg(
                "Too many failed sign-ins. Try again in {seconds} seconds.",
                seconds=int(wait + 0.999))))
        found = await staff.credentials(self.db, name) if name else None
        # scrypt takes tens of milliseconds: off the event loop, as every other page waits
        ok = await asyncio.to_thread(
            verify_password, password, found[1] if found else dummy_hash())
        ok = ok and found is not None
        now = self.service.clock()
        if not ok:
            await self.throttle.failed(name, address)
            await staff.audit(self.db, name or "?", "login_failed", now, address=address)
            return await self.login_form(request, status=401, error=t(Msg(
                "The user name or the password is wrong.")))
        await self.throttle.succeeded(name)
        user = found[0]
        token = auth.new_token()
        await staff.open_session(self.db, user, token, auth.new_token(), now,
                                 now + self.session_ttl)
        await staff.audit(self.db, user.name, "login", now, address=address)
        response = _redirect("/admin/")
        response.set_cookie(auth.COOKIE, token, max_age=int(self.session_ttl.total_seconds()),
                            httponly=True, samesite="Lax", secure=self.secure_cookie,
                            path="/admin")
        response.del_cookie(auth.LOGIN_CSRF_COOKIE, path="/admin/login")
        return response

    async def logout(self, request: web.Request) -> web.Response:
        await staff.close_session(self.db, request.cookies.get(auth.COOKIE, ""))
        await staff.audit(self.db, request[USER].name, "logout", self.service.clock(),
                          address=self.address(request))
        response = _redirect("/admin/login")
        response.del_cookie(auth.COOKIE, path="/admin")
        return response

    # -- rendering --------------------------------------------------------------------------
    def t(self, request: web.Request) -> Callable[[Msg | str], str]:
        locale = request[LOCALE]
        return lambda message: self.translator(locale, message)

    def refuse(self, request: web.Request, status: int) -> web.Response:
        t = self.t(request)
        text = {403: Msg("Forbidden: this form has expired or you may not do this. Reload "
                         "the page and try again."),
                404: Msg("Not found.")}.get(status, Msg("Not found."))
        return self.render(request, "message.html.j2", status=status, message=t(text))

    def render(self, request: web.Request, template: str, *, status: int = 200,
               **context: Any) -> web.Response:
        nonce = secrets.token_urlsafe(16)
        locale = request[LOCALE]
        values = {"user": request.get(USER), "csrf": request.get(CSRF, ""),
                  "lang": "zh-CN" if locale == "zh_CN" else "en", "locale": locale,
                  "nonce": nonce, "path": request.path, "query": request.query_string,
                  "zone": self.clock.offset(), "zone_label": self.clock.label()}
        values.update(context)
        html = self.envs[locale].get_template(template).render(**values)
        response = web.Response(text=html, status=status, content_type="text/html",
                                charset="utf-8")
        response.headers.update(security_headers(nonce))
        return response


def security_headers(nonce: str) -> dict[str, str]:
    return {
        "Content-Security-Policy": (
            f"default-src 'none'; style-src 'nonce-{nonce}'; script-src 'nonce-{nonce}'; "
            "img-src 'self' data:; form-action 'self'; base-uri 'none'; "
            "frame-ancestors 'none'"),
        "Referrer-Policy": "same-origin",
        "Cache-Control": "no-store",
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
    }


def _redirect(location: str) -> web.Response:
    return web.Response(status=303, headers={"Location": location})
