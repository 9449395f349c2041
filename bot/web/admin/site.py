"""The console's web application: sign-in (``app.Console``) and the pages that need it."""

from __future__ import annotations

from aiohttp import web

from bot.web.admin import pages, users
from bot.web.admin.app import Console


def make_app(console: Console) -> web.Application:
    app = web.Application()
    console.add_routes(app)
    pages.add_routes(app, console)
    users.add_routes(app, console)
    return app
