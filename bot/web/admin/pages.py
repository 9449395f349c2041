"""The console's pages: merchants, one merchant, inbox, funnel, export, audit log, files."""

from __future__ import annotations

import asyncio
import csv
import io
from datetime import date, timedelta
from typing import TYPE_CHECKING
from urllib.parse import urlencode

from aiohttp import web
from PIL import Image, UnidentifiedImageError

from bot import places
from bot.delivery import DeliveryError
from bot.engine.messages import Msg
from bot.handoff import NoChannel
from bot.store import console as store
from bot.store import handoffs, staff
from bot.web.admin import views
from bot.web.admin.app import LOCALE, USER

if TYPE_CHECKING:
    from bot.web.admin.app import Console

THUMB = (240, 240)
MAX_REPLY = 4000


def add_routes(app: web.Application, console: Console) -> None:
    p = Pages(console)
    app.router.add_get("/admin/", p.merchants)
    app.router.add_get(r"/admin/merchants/{id:\d+}", p.merchant)
    app.router.add_post(r"/admin/merchants/{id:\d+}/reply", p.reply)
    app.router.add_post(r"/admin/merchants/{id:\d+}/release", p.release)
    app.router.add_get("/admin/inbox", p.inbox)
    app.router.add_get("/admin/funnel", p.funnel)
    app.router.add_get("/admin/export.csv", p.export)
    app.router.add_get("/admin/audit", p.audit)
    app.router.add_get(r"/admin/documents/{id:\d+}/thumb", p.thumbnail)
    app.router.add_get(r"/admin/documents/{id:\d+}", p.download)


class Pages:
    def __init__(self, console: Console) -> None:
        self.c = console
        self.service = console.service
        self.guide = console.service.guide

    def _row(self, records: store.MerchantRecords, locale: str) -> views.MerchantRow:
        return views.merchant_row(self.guide, records,
                                  views.state_of(records, self.service.unseal, locale))

    # -- merchants ----------------------------------------------------------------------------
    async def merchants(self, request: web.Request) -> web.Response:
        """One page of the merchants; the search and the stuck filter run in the database,
        over all of them."""
        query = request.query.get("q", "")[:100]
        days = _int(request.query.get("stuck"))
        page = max(1, _int(request.query.get("page")) or 1)
        idle = self.service.clock() - timedelta(days=days) if days is not None else None
        size = store.PAGE_SIZE
        listing = await store.merchants(self.c.db, store.Filter(query, idle),
                                        offset=(page - 1) * size, limit=size)
        pages = max(1, -(-listing.total // size))
        kept = {k: v for k, v in (("q", query), ("stuck", "" if days is None else str(days)))
                if v}
        link = lambda n: "/admin/?" + urlencode({**kept, "page": n})  # noqa: E731
        return self.c.render(
            request, "merchants.html.j2",
            rows=[self._row(r, request[LOCALE]) for r in listing.rows], q=query,
            stuck=days if days is not None else "", total=listing.total,
            waiting=listing.waiting, page=page, pages=pages,
            previous=link(page - 1) if page > 1 else None,
            following=link(page + 1) if page < pages else None)

    async def merchant(self, request: web.Request, *, error: str = "",
                       status: int = 200) -> web.Response:
        records = await store.merchant(self.c.db, int(request.match_info["id"]))
        if records is None:
            return self.c.refuse(request, 404)
        locale = request[LOCALE]
        state = views.state_of(records, self.service.unseal, locale)
        row = views.merchant_row(self.guide, records, state)
        turns = await store.transcript(self.c.db, records.merchant.id)
        lines = views.transcript_lines(turns, lambda cid: self._choice_label(cid, locale))
        return self.c.render(
            request, "merchant.html.j2", status=status, m=row, lines=lines, error=error,
            documents=records.documents,
            milestones=records.milestones, reminders=records.reminders,
            can_download=request[USER].is_admin,
            subject=lambda s: places.subject(self.guide, locale, s),
            status_name=lambda s: places.review(self.guide, locale, "", s)[1] if s else "")

    def _choice_label(self, choice_id: str, locale: str) -> str:
        for flow in self.guide.flows.values():
            for step in flow.steps.values():
                option = step.option(choice_id) if step.options else None
                if option is not None:
                    return self.guide.render.label(locale, option)
        return choice_id

    async def reply(self, request: web.Request) -> web.Response:
        records = await store.merchant(self.c.db, int(request.match_info["id"]))
        if records is None:
            return self.c.refuse(request, 404)
        text = str((await request.post()).get("text") or "").strip()
        t = self.c.t(request)
        if not text or len(text) > MAX_REPLY:
            return await self.merchant(request, status=400, error=t(Msg(
                "Write a reply of 1 to {n} characters.", n=MAX_REPLY)))
        user = request[USER]
        try:
            await self.c.handoffs.reply(records.merchant, user.name, text)
        except NoChannel:
            return await self.merchant(request, status=409, error=t(Msg(
                "The merchant's channel ({channel}) is not running here: the reply was not "
                "sent.", channel=records.merchant.channel)))
        except (DeliveryError, OSError, TimeoutError) as exc:  # blocked bot, network: say so
            return await self.merchant(request, status=502, error=t(Msg(
                "The channel did not take the reply: {error}", error=type(exc).__name__)))
        await staff.audit(self.c.db, user.name, "reply", self.service.clock(),
                          merchant_id=records.merchant.id, address=self.c.address(request))
        return _back(request, records.merchant.id)

    async def release(self, request: web.Request) -> web.Response:
        records = await store.merchant(self.c.db, int(request.match_info["id"]))
        if records is None:
            return self.c.refuse(request, 404)
        user = request[USER]
        await self.c.handoffs.release(records.merchant, user.name)
        await staff.audit(self.c.db, user.name, "release", self.service.clock(),
                          merchant_id=records.merchant.id, address=self.c.address(request))
        return _back(request, records.merchant.id)

    # -- inbox --------------------------------------------------------------------------------
    async def inbox(self, request: web.Request) -> web.Response:
        waiting = await handoffs.waiting(self.c.db)
        last = await store.last_incoming(self.c.db, [w.merchant_id for w in waiting])
        now = self.service.clock()
        items = []
        for w in waiting:
            turn = last.get(w.merchant_id)
            said = views.transcript_lines(
                [turn], lambda cid: self._choice_label(cid, request[LOCALE]))[0].texts[0] \
                if turn else ""
            since = w.waiting_since
            flow, step = places.place(self.guide, request[LOCALE], w.state.get("flow"),
                                      w.state.get("step"))
            items.append({
                "flow": flow, "step": step,
                "id": w.merchant_id, "channel": w.channel,
                "company": views.mask_numbers(str((w.state.get("answers") or {}).get(
                    "company_name") or "")) or f"#{w.merchant_id}",
                "since": since, "minutes": int((now - since).total_seconds() // 60)
                if since else None, "answered_at": w.answered_at, "said": said})
        return self.c.render(request, "inbox.html.j2", items=items)

    # -- funnel -------------------------------------------------------------------------------
    async def funnel(self, request: web.Request) -> web.Response:
        clock = self.c.clock  # the period's days are the team's calendar days
        today = clock.today(self.service.clock())
        until = _date(request.query.get("until")) or today
        since = _date(request.query.get("since")) or until - timedelta(days=29)
        flows = [f for f in self.guide.flows.values() if f.id != views.MENU]
        flow_id = request.query.get("flow") or (flows[0].id if flows else "")
        channel = request.query.get("channel") or None
        locale = request[LOCALE]
        total, steps, chart = 0, [], None
        if flow_id in self.guide.flows:
            passages = await store.passages(
                self.c.db, clock.day_start(since), clock.day_start(until + timedelta(days=1)),
                channel)
            total, steps = views.funnel(self.guide, locale, flow_id, passages)
            chart = views.chart(steps)
        return self.c.render(
            request, "funnel.html.j2", flows=[(f.id, self.guide.render.text(locale, f.title))
                                              for f in flows],
            flow=flow_id, channels=await store.channels(self.c.db), channel=channel or "",
            since=since.isoformat(), until=until.isoformat(), total=total, steps=steps,
            chart=chart)

    # -- export -------------------------------------------------------------------------------
    async def export(self, request: web.Request) -> web.Response:
        t = self.c.t(request)
        rows = [self._row(r, request[LOCALE]) async for r in store.every_merchant(self.c.db)]
        out = io.StringIO()
        out.write("\ufeff")  # a BOM: Excel then reads the file as UTF-8 (Chinese names)
        writer = csv.writer(out)
        writer.writerow([t(h) for h in (
            Msg("ID"), Msg("Company"), Msg("Legal representative"), Msg("Channel"),
            Msg("Language"), Msg("Process"), Msg("Question"), Msg("Progress"),
            Msg("Last activity ({zone})", zone=self.c.clock.label()), Msg("Reviews"),
            Msg("Documents"),
            Msg("Waiting for a person"))])
        for r in rows:
            writer.writerow([r.id, r.company, r.contact, r.channel, r.language, r.flow, r.step,
                             r.progress, self.c.clock.show(r.last_activity),
                             "; ".join(map(str, r.reviews)), r.documents,
                             "1" if r.waiting else ""])
        user = request[USER]
        await staff.audit(self.c.db, user.name, "export", self.service.clock(),
                          address=self.c.address(request), detail=f"{len(rows)} merchants")
        return web.Response(body=out.getvalue().encode("utf-8"), headers={
            "Content-Type": "text/csv; charset=utf-8", "Cache-Control": "no-store",
            "Content-Disposition": 'attachment; filename="merchants.csv"'})

    # -- audit log (admins) -------------------------------------------------------------------
    async def audit(self, request: web.Request) -> web.Response:
        if not request[USER].is_admin:
            return self.c.refuse(request, 403)
        entries = await staff.audit_entries(self.c.db)
        return self.c.render(request, "audit.html.j2", entries=entries)

    # -- files --------------------------------------------------------------------------------
    def _path(self, doc):
        files = self.service.files
        return files.locate(doc.storage) if doc.storage else files.path(doc.sha256, doc.kind)

    async def thumbnail(self, request: web.Request) -> web.Response:
        doc = await store.document(self.c.db, int(request.match_info["id"]))
        if doc is None or doc.kind not in ("jpg", "png"):
            return self.c.refuse(request, 404)
        try:
            data = await asyncio.to_thread(_thumbnail, self._path(doc))
        except (OSError, UnidentifiedImageError, Image.DecompressionBombError):
            return self.c.refuse(request, 404)
        return web.Response(body=data, content_type="image/jpeg",
                            headers={"Cache-Control": "private, max-age=3600"})

    async def download(self, request: web.Request) -> web.StreamResponse:
        user = request[USER]
        if not user.is_admin:
            return self.c.refuse(request, 403)
        doc = await store.document(self.c.db, int(request.match_info["id"]))
        path = self._path(doc) if doc is not None else None
        if path is None or not path.is_file():
            return self.c.refuse(request, 404)
        await staff.audit(self.c.db, user.name, "download", self.service.clock(),
                          merchant_id=doc.merchant_id, address=self.c.address(request),
                          detail=doc.name)
        return web.FileResponse(path, headers={
            "Content-Disposition": "attachment; filename*=UTF-8''"
            + _quote(doc.name), "Cache-Control": "no-store"})


def _thumbnail(path) -> bytes:
    with Image.open(path) as image:
        image.thumbnail(THUMB)
        out = io.BytesIO()
        image.convert("RGB").save(out, "JPEG", quality=80)
    return out.getvalue()


def _quote(name: str) -> str:
    from urllib.parse import quote

    return quote(name, safe="")


def _back(request: web.Request, merchant_id: int) -> web.Response:
    target = "/admin/inbox" if request.query.get("back") == "inbox" else (
        f"/admin/merchants/{merchant_id}")
    return web.Response(status=303, headers={"Location": target})


def _int(text: str | None) -> int | None:
    try:
        value = int(text) if text else None
    except ValueError:
        return None
    return value if value is None or 0 <= value <= 3650 else None


def _date(text: str | None) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None
