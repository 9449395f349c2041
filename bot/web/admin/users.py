"""Admins manage the console's users in the browser too (as ``python -m bot admin``)."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from aiohttp import web

from bot.engine.messages import Msg
from bot.store import staff
from bot.web.admin.app import USER
from bot.web.admin.passwords import MIN_LENGTH, hash_password

if TYPE_CHECKING:
    from bot.web.admin.app import Console


def add_routes(app: web.Application, console: Console) -> None:
    users = Users(console)
    app.router.add_get("/admin/users", users.show)
    app.router.add_post("/admin/users", users.add)
    app.router.add_post("/admin/users/remove", users.remove)


class Users:
    def __init__(self, console: Console) -> None:
        self.c = console

    async def show(self, request: web.Request, *, error: str = "",
                   status: int = 200) -> web.Response:
        if not request[USER].is_admin:
            return self.c.refuse(request, 403)
        users = await staff.list_users(self.c.db)
        return self.c.render(request, "users.html.j2", users=users, error=error,
                             status=status, min_length=MIN_LENGTH)

    async def add(self, request: web.Request) -> web.Response:
        if not request[USER].is_admin:
            return self.c.refuse(request, 403)
        form = await request.post()
        name = str(form.get("name") or "").strip()
        role = str(form.get("role") or "")
        password = str(form.get("new_password") or "")
        t = self.c.t(request)
        if not name or len(name) > 64 or ":" in name:
            return await self.show(request, status=400, error=t(Msg(
                "A user name has 1 to 64 characters and no colon.")))
        if role not in staff.ROLES:
            return await self.show(request, status=400, error=t(Msg(
                "Choose a role: operator or admin.")))
        if len(password) < MIN_LENGTH:
            return await self.show(request, status=400, error=t(Msg(
                "The password needs at least {n} characters.", n=MIN_LENGTH)))
        now = self.c.service.clock()
        hashed = await asyncio.to_thread(hash_password, password)
        await staff.add_user(self.c.db, name, role, hashed, now)
        await staff.audit(self.c.db, request[USER].name, "user_add", now,
                          address=self.c.address(request), detail=f"{name} ({role})")
        return web.Response(status=303, headers={"Location": "/admin/users"})

    async def remove(self, request: web.Request) -> web.Response:
        if not request[USER].is_admin:
            return self.c.refuse(request, 403)
        name = str((await request.post()).get("name") or "")
        if name == request[USER].name:
            return await self.show(request, status=400, error=self.c.t(request)(Msg(
                "You cannot remove yourself; another admin can.")))
        if await staff.remove_user(self.c.db, name):
            await staff.audit(self.c.db, request[USER].name, "user_remove",
                              self.c.service.clock(), address=self.c.address(request),
                              detail=name)
        return web.Response(status=303, headers={"Location": "/admin/users"})
