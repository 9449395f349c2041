"""The operator console in a real headless Chromium (Debian's) on a phone-sized screen: sign in,
find a merchant, read the transcript, reply, release, open the funnel.

Skipped only when Chromium is absent and CI is not set: in CI, .ci/run installs it.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.admin.kit import PASSWORD, close_site, open_site

CHROMIUM = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]
WAIT_MS = 15_000
SCREENSHOTS = os.environ.get("CONSOLE_SCREENSHOTS")  # a directory to keep them in

if not Path(CHROMIUM).exists() and not os.environ.get("CI"):
    pytest.skip("Chromium is not installed (apt-get install chromium)", allow_module_level=True)

from playwright.async_api import async_playwright  # a test dependency, after the skip


@pytest.fixture
async def site(tmp_path, database_url):
    site = await open_site(tmp_path, database_url)
    await site.start_form("m1", "宁波海岸贸易有限公司")
    await site.talk("m1", "营业执照在哪里看？")
    await site.talk("m1", "转人工")
    await site.talk("m1", "请问实地认证要多久？")
    await site.start_form("m2", "Shenzhen Bright Lamps Co., Ltd.")
    yield site
    await close_site(site)


@pytest.fixture
async def page(tmp_path):
    async with async_playwright() as pw:
        context = await pw.chromium.launch_persistent_context(
            str(tmp_path / "profile"), executable_path=CHROMIUM, headless=True, args=FLAGS,
            viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True,
            device_scale_factor=2, locale="zh-CN")
        context.set_default_timeout(WAIT_MS)
        page = context.pages[0] if context.pages else await context.new_page()
        try:
            yield page
        finally:
            await context.close()


async def fits(page) -> bool:
    return await page.evaluate(
        "document.documentElement.scrollWidth <= document.documentElement.clientWidth")


async def shot(page, tmp_path: Path, name: str) -> None:
    folder = Path(SCREENSHOTS) if SCREENSHOTS else tmp_path
    folder.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(folder / f"{name}.png"), full_page=True)


async def test_console_on_a_phone(site, page, tmp_path):
    base = str(site.client.make_url("")).rstrip("/")
    await page.goto(base + "/admin/")
    assert page.url.endswith("/admin/login")
    assert await page.locator("#sign-in").inner_text() == "登录"  # the browser's language
    await page.fill("#username", "olga")
    await page.fill("#password", PASSWORD)
    async with page.expect_navigation():
        await page.click("#sign-in")
    assert page.url.endswith("/admin/")
    assert await page.locator("tr.merchant").count() == 2
    assert await fits(page)
    # times in the team's zone, named: 08:00 UTC is 16:00 in Shanghai
    assert "16:00" in await page.locator("tr.merchant").first.inner_text()
    assert "Asia/Shanghai" in await page.locator("#zone").inner_text()
    await shot(page, tmp_path, "merchants")

    # find a merchant
    await page.fill("#q", "宁波")
    async with page.expect_navigation():
        await page.press("#q", "Enter")
    assert await page.locator("tr.merchant").count() == 1
    assert "等待人工" in await page.locator("tr.merchant").inner_text()
    async with page.expect_navigation():
        await page.click("a.open")

    # the transcript, both sides
    transcript = page.locator("#transcript")
    assert "营业执照在哪里看？" in await transcript.inner_text()
    assert "What is the company name?" in await transcript.inner_text()
    assert await page.locator("#waiting").is_visible()
    assert await fits(page)
    await shot(page, tmp_path, "merchant")

    # reply: it reaches the merchant's channel and the transcript
    await page.fill("#text", "您好，实地认证一般需要几个工作日，我们稍后电话联系您。")
    async with page.expect_navigation():
        await page.click("#send")
    assert site.sender.texts("m1") == ["您好，实地认证一般需要几个工作日，我们稍后电话联系您。"]
    last = page.locator("#transcript .msg.operator").last
    assert "olga" in await last.inner_text()

    # release: back to the guide at the question
    async with page.expect_navigation():
        await page.click("#release-button")
    assert await page.locator("#waiting").count() == 0
    assert site.sender.texts("m1")[-1].endswith("Which kind of company?")

    # the inbox is empty again; the funnel shows the form
    async with page.expect_navigation():
        await page.click("#nav-inbox")
    assert await page.locator("#empty").is_visible()
    async with page.expect_navigation():
        await page.click("#nav-funnel")
    assert await page.locator("#chart").is_visible()
    assert "2" in await page.locator("#total").inner_text()
    assert await fits(page)
    await shot(page, tmp_path, "funnel")
