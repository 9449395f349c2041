"""The upload page in a real headless Chromium (Debian's), driven by Playwright.

Skipped only when Chromium is absent and CI is not set: in CI, .ci/run installs it.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import time
from pathlib import Path

import pytest
from aiohttp import web
from sqlalchemy import func, select

from bot.engine.model import Choose, Hello, Text, Upload
from bot.service import Result, Service
from bot.store.db import Database
from bot.store.files import FileStore
from bot.store.models import Document
from bot.web.upload import UploadPage
from tests.channels.fake_wecom import mini_guide, minimal_pdf, png

CHROMIUM = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]
WAIT_MS = 15_000

if not Path(CHROMIUM).exists() and not os.environ.get("CI"):
    pytest.skip("Chromium is not installed (apt-get install chromium)", allow_module_level=True)

from playwright.async_api import async_playwright  # noqa: E402  (a test dependency)


@pytest.fixture
async def site(tmp_path, database_url):
    db = Database(database_url)
    await db.migrate()
    service = Service(mini_guide(tmp_path / "dialogs"), db, FileStore(tmp_path / "files"))
    delivered: list[tuple[str, Result]] = []

    async def deliver(user: str, result: Result) -> None:
        delivered.append((user, result))

    app = web.Application()
    runner = web.AppRunner(app, access_log=None)
    uploads = UploadPage(service, secret=b"b" * 32, base_url="http://placeholder")
    uploads.register("wecom", deliver)
    uploads.add_routes(app)
    await runner.setup()
    server = web.TCPSite(runner, "127.0.0.1", 0)
    await server.start()
    uploads.base_url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    for event in (Hello(), Choose("docs"), Text("宁波海岸贸易有限公司"),
                  Upload(png(), "license.png")):
        await service.handle("wecom", "merchant", event)
    yield service, uploads, delivered
    await uploads.close()
    await runner.cleanup()
    await db.close()


@pytest.fixture
async def browser_page(tmp_path):
    async with async_playwright() as pw:
        context = await pw.chromium.launch_persistent_context(
            str(tmp_path / "profile"), executable_path=CHROMIUM, headless=True, args=FLAGS,
            viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True,
            device_scale_factor=2)
        context.set_default_timeout(WAIT_MS)
        page = context.pages[0] if context.pages else await context.new_page()
        try:
            yield page
        finally:
            await context.close()


async def stored(service: Service) -> int:
    async with service.db.session() as session:
        return await session.scalar(select(func.count()).select_from(Document))


async def test_upload_page_in_chromium(site, browser_page, tmp_path):
    service, uploads, delivered = site
    page = browser_page
    link = uploads.make_upload_link("wecom", "merchant", "docs.report")

    response = await page.goto(link)
    assert response.status == 200
    assert await page.locator("#what").inner_text() == "Transaction report"
    assert "PDF, XLSX" in await page.locator("#accepts").inner_text()
    # phone-sized: nothing wider than the screen
    assert await page.evaluate(
        "document.documentElement.scrollWidth <= document.documentElement.clientWidth")

    # a refused file: the page says why, the form stays, nothing is stored
    await page.set_input_files("#file", files=[{"name": "photo.png", "mimeType": "image/png",
                                                "buffer": png()}])
    await page.click("#send")
    refused = page.locator("#results li.bad")
    await refused.wait_for()
    assert "PDF, XLSX" in await refused.inner_text()
    assert await page.locator("#upload").is_visible()
    assert await stored(service) == 1

    # too big: refused in the browser before anything is sent
    await page.set_input_files("#file", files=[{"name": "huge.pdf", "mimeType": "application/pdf",
                                                "buffer": b"%PDF-1.4" + b"0" * (1100 * 1024)}])
    await page.click("#send")
    await page.locator("#client-error").wait_for(state="visible")
    assert "1 MB" in await page.locator("#client-error").inner_text()
    assert await stored(service) == 1

    # the real document: its result shows when it is done, with a full progress bar
    await page.set_input_files("#file", files=[{"name": "交易额报表.pdf",
                                                "mimeType": "application/pdf",
                                                "buffer": minimal_pdf()}])
    await page.click("#send")
    done = page.locator("#results li.ok")
    await done.wait_for()
    assert "交易额报表.pdf" in await done.inner_text()
    assert await done.locator("progress").get_attribute("value") == "100"
    assert await page.locator("#back").is_visible()
    await page.screenshot(path=str(tmp_path / "upload-done.png"), full_page=True)
    assert await stored(service) == 2
    await uploads.close()
    assert [user for user, _ in delivered] == ["merchant"]
    assert "交易额报表.pdf" in delivered[0][1].replies[0].text

    # the link is used up
    response = await page.goto(link)
    assert response.status == 410
    assert "already used" in await page.locator("#outcome").inner_text()


def two_page_pdf() -> bytes:
    from io import BytesIO

    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(width=200, height=200)
    writer.add_blank_page(width=300, height=300)
    out = BytesIO()
    writer.write(out)
    return out.getvalue()


async def test_several_files_at_once_each_with_its_result(site, browser_page, tmp_path):
    service, uploads, delivered = site
    page = browser_page
    await page.goto(uploads.make_upload_link("wecom", "merchant", "docs.report"))
    assert await page.locator("#file").get_attribute("multiple") is not None
    await page.set_input_files("#file", files=[
        {"name": "一月.pdf", "mimeType": "application/pdf", "buffer": minimal_pdf()},
        {"name": "photo.png", "mimeType": "image/png", "buffer": png()},
        {"name": "二月.pdf", "mimeType": "application/pdf", "buffer": two_page_pdf()}])
    await page.click("#send")
    items = page.locator("#results li")
    await page.locator("#results li.ok, #results li.bad").nth(2).wait_for()  # all three done
    classes = [await items.nth(i).get_attribute("class") for i in range(3)]
    assert classes == ["ok", "bad", "ok"]
    assert "一月.pdf" in await items.nth(0).inner_text()
    assert "PDF, XLSX" in await items.nth(1).inner_text()
    assert await page.evaluate(
        "document.documentElement.scrollWidth <= document.documentElement.clientWidth")
    await page.screenshot(path=str(tmp_path / "upload-several.png"), full_page=True)
    assert await stored(service) == 3
    await uploads.close()
    assert [user for user, _ in delivered] == ["merchant", "merchant"]


async def test_the_mini_app_launcher_opens_the_upload_form(site, browser_page):
    from urllib.parse import quote

    from aiohttp import web as aioweb

    from bot.web.webapp import MiniApp, sign_init_data

    service, uploads, _ = site
    token = "123456789:TEST-token_for-the-fake-bot-api-000"
    uploads.register("telegram", lambda user, result: asyncio.sleep(0))
    for event in (Hello(), Choose("docs"), Text("宁波海岸贸易有限公司")):
        await service.handle("telegram", "42", event)
    app = aioweb.Application()
    MiniApp(uploads, token).add_routes(app)
    uploads.add_routes(app)
    runner = aioweb.AppRunner(app, access_log=None)
    await runner.setup()
    server = aioweb.TCPSite(runner, "127.0.0.1", 0)
    await server.start()
    base = f"http://127.0.0.1:{runner.addresses[0][1]}"
    uploads.base_url = base
    try:
        init_data = sign_init_data({"user": '{"id":42,"first_name":"Li"}',
                                    "auth_date": str(int(time.time()))}, token)
        page = browser_page
        await page.goto(f"{base}/upload/app#tgWebAppData={quote(init_data)}&tgWebAppVersion=8")
        await page.locator("#upload").wait_for()
        assert await page.locator("#what").inner_text() == "Business license scan"
        assert await page.locator("#camera").count() == 1  # photos: the camera is offered
    finally:
        await runner.cleanup()
