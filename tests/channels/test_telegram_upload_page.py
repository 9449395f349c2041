"""A file over Telegram's download limit goes through the one-time upload page instead: the
Telegram adapter on a recording session, the page on aiohttp's test server, the real service."""

from __future__ import annotations

import io
import re
import shutil
import socket

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from fake_telegram import Updates, picture
from test_telegram import TINY, UID, Rig, rows

from bot.config import Settings
from bot.content import load_guide
from bot.service import Service
from bot.store.db import Database
from bot.store.files import FileStore
from bot.store.models import Document
from bot.web import serving_uploads
from bot.web.upload import UploadPage

MB = 1024 * 1024
LINK = re.compile(r"http://bot\.test(/upload/\S+)")


@pytest.fixture
async def service(tmp_path, database_url):
    # the tiny guide, its license question taking files larger than bots may download
    dialogs = shutil.copytree(TINY / "dialogs", tmp_path / "dialogs")
    form = dialogs / "form.yaml"
    text = form.read_text(encoding="utf-8")
    larger = text.replace("max_mb: 10\n      recommend_mb", "max_mb: 30\n      recommend_mb", 1)
    assert larger != text
    form.write_text(larger, encoding="utf-8")
    db = Database(database_url)
    await db.migrate()
    yield Service(load_guide(dialogs, TINY / "locales"), db, FileStore(tmp_path / "files"))
    await db.close()


@pytest.fixture
async def uploads(service):
    page = UploadPage(service, secret=b"s" * 32, base_url="http://bot.test/")
    yield page
    await page.close()


@pytest.fixture
async def client(uploads):
    app = web.Application()
    uploads.add_routes(app)
    async with TestClient(TestServer(app)) as client:
        yield client


@pytest.fixture
def rig(service, uploads):
    return Rig(service, Updates(), uploads)


async def at_license(rig: Rig) -> None:
    menu = (await rig.say("/start"))[-1]
    await rig.press(menu, "form")
    kinds = (await rig.say("Acme Trading Co"))[-1]
    await rig.press(kinds, "maker")


async def post(client: TestClient, path: str, data: bytes, name: str) -> tuple[int, str]:
    form = aiohttp.FormData()
    form.add_field("file", io.BytesIO(data), filename=name, content_type="image/jpeg")
    resp = await client.post(path, data=form)
    return resp.status, await resp.text()


async def test_a_file_over_the_limit_gets_a_link_and_the_page_continues_the_chat(
        rig, service, uploads, client):
    await at_license(rig)
    sent = await rig.feed(rig.updates.document(UID, b"x", "license.jpg", "en", size=25 * MB))
    assert "25 MB" in sent[0].text and "too large for Telegram" in sent[0].text
    assert "valid for 30 minutes" in sent[0].text
    assert "Send the business license." in sent[-1].text
    assert not rig.session.calls("getFile")
    path = LINK.search(sent[0].text).group(1)

    resp = await client.get(path)
    assert resp.status == 200 and "License scan" in await resp.text()
    status, html = await post(client, path, picture(), "license.jpg")
    assert status == 200 and "Received license.jpg" in html
    (doc,) = await rows(service, Document)
    assert doc.category == "business_license" and doc.name == "license.jpg"

    await uploads.close()  # the answer reaches the chat
    said, question = rig.session.sent()[-2:]
    assert "Received license.jpg" in said.text
    assert question.chat_id == UID and "Send photos of the site." in question.text
    assert (await client.get(path)).status == 410  # the link is used up


async def test_no_link_when_the_question_takes_no_file_that_large(rig, service):
    await at_license(rig)
    await rig.feed(rig.updates.document(UID, picture(), "license.jpg", "en"))
    sent = await rig.feed(rig.updates.document(UID, b"x", "site.jpg", "en", size=25 * MB))
    assert "Please send a smaller file" in sent[0].text and "http" not in sent[0].text
    assert "Send photos of the site." in sent[-1].text
    assert len(await rows(service, Document)) == 1


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def polling_settings(tmp_path, listen: str) -> Settings:
    return Settings(_env_file=None, telegram_bot_token="1:x", bot_data_dir=tmp_path,
                    bot_upload_listen=listen, bot_public_url="https://bot.example.com")


async def test_with_telegram_polling_alone_the_page_has_a_server_of_its_own(service, tmp_path):
    listen = f"127.0.0.1:{free_port()}"
    async with serving_uploads(service, polling_settings(tmp_path, listen)) as page:
        assert page is not None
        Rig(service, Updates(), page)  # its channel registers the page's "telegram" delivery
        link = page.make_upload_link("telegram", str(UID), "form.license")
        assert link.startswith("https://bot.example.com/upload/")
        async with aiohttp.ClientSession() as http:
            resp = await http.get(link.replace("https://bot.example.com", f"http://{listen}"))
            assert resp.status == 410  # served; this merchant is not on that question
            assert "already answered" in await resp.text()


async def test_a_taken_port_leaves_the_bot_without_the_page(service, tmp_path, caplog):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        listen = f"127.0.0.1:{taken.getsockname()[1]}"
        async with serving_uploads(service, polling_settings(tmp_path, listen)) as page:
            assert page is None
    assert "cannot listen" in caplog.text
