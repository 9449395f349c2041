"""The one-time upload page over HTTP (the browser test drives it in Chromium)."""

from __future__ import annotations

import io
import re

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from fake_wecom import mini_guide, minimal_pdf, png
from sqlalchemy import select

from bot.engine.model import Choose, Hello, Text
from bot.service import Result, Service
from bot.store.db import Database
from bot.store.files import FileStore
from bot.store.models import Document
from bot.web import tokens
from bot.web.upload import UploadPage, safe_name

SECRET = b"k" * 32
REPORT = "docs.report"


class Clock:
    now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


class Page:
    def __init__(self, client, service, uploads, delivered, clock) -> None:
        self.client = client
        self.service = service
        self.uploads = uploads
        self.delivered = delivered
        self.clock = clock

    async def at_report(self, user: str, channel: str = "tg") -> str:
        """Walk ``user`` to the report question (PDF/XLSX); return a fresh link's path."""
        for event in (Hello(), Choose("docs"), Text("宁波海岸贸易有限公司")):
            await self.service.handle(channel, user, event)
        result = await self.service.handle(channel, user, _upload_png())
        assert result.expects.step == REPORT
        return self.path(self.uploads.make_upload_link(channel, user, REPORT))

    @staticmethod
    def path(link: str) -> str:
        return link.removeprefix("http://bot.test")

    async def send(self, path: str, data: bytes, name: str) -> tuple[int, str]:
        form = aiohttp.FormData()
        form.add_field("file", io.BytesIO(data), filename=name,
                       content_type="application/octet-stream")
        resp = await self.client.post(path, data=form)
        return resp.status, await resp.text()

    async def documents(self) -> list[Document]:
        async with self.service.db.session() as session:
            return list(await session.scalars(select(Document)))


def _upload_png():
    from bot.engine.model import Upload

    return Upload(png(), "license.png")


@pytest.fixture
async def page(tmp_path, database_url):
    db = Database(database_url)
    await db.migrate()
    service = Service(mini_guide(tmp_path / "dialogs"), db, FileStore(tmp_path / "files"))
    clock = Clock()
    uploads = UploadPage(service, secret=SECRET, base_url="http://bot.test/", ttl=600,
                         clock=clock)
    delivered: list[tuple[str, Result]] = []

    async def deliver(user: str, result: Result) -> None:
        delivered.append((user, result))

    uploads.register("tg", deliver)
    app = web.Application()
    uploads.add_routes(app)
    async with TestClient(TestServer(app)) as client:
        yield Page(client, service, uploads, delivered, clock)
    await uploads.close()
    await db.close()


async def test_page_shows_what_the_step_accepts(page):
    path = await page.at_report("u1")
    resp = await page.client.get(path)
    html = await resp.text()
    assert resp.status == 200
    assert "Transaction report" in html
    assert "Accepted: PDF, XLSX, up to 1 MB a file." in html
    assert 'accept=".pdf,application/pdf,.xlsx"' in html
    assert 'name="viewport"' in html
    assert resp.headers["Referrer-Policy"] == "no-referrer"
    assert "default-src 'none'" in resp.headers["Content-Security-Policy"]
    assert resp.headers["Cache-Control"] == "no-store"


async def test_accepted_file_is_stored_the_chat_continues_and_the_link_is_used_up(page):
    path = await page.at_report("u1")
    status, html = await page.send(path, minimal_pdf(), "report.pdf")
    assert status == 200
    assert "Received report.pdf" in html
    assert "Go back to the chat to continue." in html
    assert len(await page.documents()) == 2  # the license and the report
    await page.uploads.close()
    [(user, result)] = page.delivered
    assert user == "u1" and "Received report.pdf" in result.replies[0].text
    # the question takes one more file: the page offers a fresh link
    again = re.search(r'id="again" href="([^"]+)"', html)
    assert again and page.path(again.group(1)) != path
    # the used link: refused, on GET and on POST, and nothing more is stored
    resp = await page.client.get(path)
    assert resp.status == 410 and "already used" in await resp.text()
    status, html = await page.send(path, minimal_pdf() + b"%extra", "again.pdf")
    assert status == 410
    assert len(await page.documents()) == 2


async def test_refused_file_keeps_the_link_usable(page):
    path = await page.at_report("u1")
    status, html = await page.send(path, png(), "scan.png")
    assert status == 422
    assert "PDF, XLSX" in html
    assert 'id="upload"' in html  # the form again
    assert len(await page.documents()) == 1
    assert page.delivered == []  # nothing happened in the chat
    status, html = await page.send(path, minimal_pdf(), "report.pdf")
    assert status == 200


async def test_too_large_file_is_refused(page):
    path = await page.at_report("u1")
    status, html = await page.send(path, b"%PDF-1.4" + b"0" * (1024 * 1024), "big.pdf")
    assert status == 413
    assert "over the 1 MB limit" in html


async def test_no_file_is_refused(page):
    path = await page.at_report("u1")
    resp = await page.client.post(path, data={"other": "x"})
    assert resp.status == 400
    assert "No file was chosen" in await resp.text()


async def test_expired_link(page):
    path = await page.at_report("u1")
    page.clock.now += 601
    resp = await page.client.get(path)
    assert resp.status == 410
    assert "expired" in await resp.text()
    status, _ = await page.send(path, minimal_pdf(), "report.pdf")
    assert status == 410
    assert len(await page.documents()) == 1


async def test_tampered_or_foreign_links_are_not_valid(page):
    path = await page.at_report("u1")
    body, mac = path.rsplit("/", 1)[1].split(".")
    other = tokens.issue(b"x" * 32, "tg", "u1", REPORT, page.clock(), 600)
    for token in (f"{body}.{mac[:-2]}AA", f"{body[:-2]}AA.{mac}", other, "nonsense", "a.b.c"):
        resp = await page.client.get(f"/upload/{token}")
        assert resp.status == 404, token
    unknown_channel = tokens.issue(SECRET, "smoke-signals", "u1", REPORT, page.clock(), 600)
    assert (await page.client.get(f"/upload/{unknown_channel}")).status == 404


async def test_link_for_an_answered_question(page):
    await page.at_report("u1")
    stale = page.path(page.uploads.make_upload_link("tg", "u1", "docs.license"))
    resp = await page.client.get(stale)
    assert resp.status == 410
    assert "already answered" in await resp.text()


async def test_link_is_bound_to_its_merchant(page):
    path_u1 = await page.at_report("u1")
    await page.at_report("u2")
    status, _ = await page.send(path_u1, minimal_pdf(), "report.pdf")
    assert status == 200
    await page.uploads.close()
    assert [user for user, _ in page.delivered] == ["u1"]


async def test_hostile_file_name_is_escaped_and_cleaned(page):
    path = await page.at_report("u1")
    status, html = await page.send(path, minimal_pdf(), "../../<img src=x onerror=alert(1)>.pdf")
    assert status == 200
    assert "<img" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;.pdf" in html
    assert safe_name("C:\\x\\..\\a\x00b.pdf", "f") == "ab.pdf"
    assert safe_name("", "fallback") == "fallback"


async def test_chinese_merchant_gets_the_page_in_chinese_locale(page):
    path = await page.at_report("u1")
    html = await (await page.client.get(path)).text()
    assert '<html lang="zh-CN">' in html


def test_tokens_roundtrip_and_refuse_tampering():
    token = tokens.issue(SECRET, "wecom", "张三", "basic.tax_cert", 1000, 60)
    grant = tokens.check(SECRET, token, 1010)
    assert (grant.channel, grant.user_key, grant.step) == ("wecom", "张三", "basic.tax_cert")
    assert grant.update_id.startswith("upload:")
    with pytest.raises(tokens.BadToken) as late:
        tokens.check(SECRET, token, 1061)
    assert late.value.expired
    with pytest.raises(tokens.BadToken):
        tokens.check(b"other-secret-other-secret", token, 1010)
    with pytest.raises(tokens.BadToken):
        tokens.check(SECRET, "é" + token, 1010)
    with pytest.raises(tokens.BadToken):
        tokens.check(SECRET, token + "x" * 2000, 1010)
    assert tokens.issue(SECRET, "wecom", "u", "s", 0, 60) != tokens.issue(SECRET, "wecom", "u",
                                                                          "s", 0, 60)
