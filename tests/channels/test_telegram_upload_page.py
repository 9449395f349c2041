"""A file over Telegram's download limit goes through the one-time upload page instead: the
Telegram adapter on a recording session, the page on aiohttp's test server, the real service."""

from __future__ import annotations

import io
import json
import re
import shutil
import socket
import time

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from fake_telegram import TOKEN, FakeBotAPI, Person, Updates, picture, web_app_buttons
from test_telegram import TINY, UID, Rig, rows
from test_telegram_process import BotProcess

from bot.config import Settings
from bot.content import load_guide
from bot.service import Service
from bot.store.db import Database
from bot.store.files import FileStore
from bot.store.models import Document
from bot.web import serving_uploads
from bot.web.upload import UploadPage
from bot.web.webapp import serve_mini_app, sign_init_data

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
    service = Service(load_guide(dialogs, TINY / "locales"), db, FileStore(tmp_path / "files"))
    yield service
    await service.close()  # its marks of sent replies, still lingering
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


# --- the upload page as a Telegram Mini App ---------------------------------------------------
HTTPS = "https://bot.test"


@pytest.fixture
async def secure_uploads(service):
    page = UploadPage(service, secret=b"s" * 32, base_url=HTTPS)
    serve_mini_app(page, TOKEN)  # the page also serves the Mini App
    yield page
    await page.close()


@pytest.fixture
async def secure_client(secure_uploads):
    app = web.Application()
    secure_uploads.add_routes(app)
    async with TestClient(TestServer(app)) as client:
        yield client


def launch(user_id: int = UID, token: str = TOKEN) -> str:
    return sign_init_data({"user": json.dumps({"id": user_id, "first_name": "Li"}),
                           "auth_date": str(int(time.time())), "query_id": "AAH"}, token)


def web_app(method) -> list:
    markup = method.reply_markup
    return [b for row in markup.inline_keyboard for b in row if b.web_app] if markup else []


async def test_a_files_question_offers_the_mini_app_in_the_merchants_language(
        service, secure_uploads):
    rig = Rig(service, Updates(), secure_uploads)
    await at_license(rig)
    question = rig.session.sent()[-1]
    assert "Send the business license." in question.text
    (button,) = web_app(question)
    assert button.text == "📎 Open the upload page"
    assert button.web_app.url == f"{HTTPS}/upload/app?step=form.license&lang=en"
    # a question without files has no such button; a Chinese merchant gets a Chinese one
    sent = await rig.feed(rig.updates.text(UID + 1, "/start", "zh-hans"))
    assert not web_app(sent[-1])
    (menu,) = sent[-1:]
    await rig.press(menu, "form", language="zh-hans", user=UID + 1)
    await rig.feed(rig.updates.text(UID + 1, "宁波海岸贸易有限公司", "zh-hans"))
    kinds = rig.session.sent()[-1]
    sent = await rig.press(kinds, "maker", language="zh-hans", user=UID + 1)
    (button,) = web_app(sent[-1])
    assert button.text == "📎 打开上传页面"
    assert button.web_app.url.endswith("step=form.license&lang=zh_CN")


async def test_without_https_the_question_has_no_mini_app_button(rig):
    await at_license(rig)  # the rig's page is on http://bot.test
    assert not web_app(rig.session.sent()[-1])


async def test_the_mini_app_stores_the_file_and_the_chat_answers(service, secure_uploads,
                                                               secure_client):
    rig = Rig(service, Updates(), secure_uploads)
    await at_license(rig)
    url = web_app(rig.session.sent()[-1])[0].web_app.url
    path = url.removeprefix(HTTPS)
    page = await secure_client.get(path)
    assert page.status == 200 and "tgWebAppData" in await page.text()
    opener = re.search(r'data-open="([^"]+)"', await page.text()).group(1).replace("&amp;", "&")
    assert "step=form.license" in opener

    forged = await secure_client.post(opener, data={"init_data": launch(token="1:other")})
    assert forged.status == 403
    assert "button in the Telegram chat" in (await forged.json())["text"]
    assert "link" not in await forged.json()
    someone_else = await secure_client.post(opener, data={"init_data": launch(UID + 5)})
    assert someone_else.status == 409 and "link" not in await someone_else.json()

    answer = await secure_client.post(opener, data={"init_data": launch()})
    assert answer.status == 200
    link = (await answer.json())["link"]
    assert link.startswith(f"{HTTPS}/upload/")
    status, html = await post(secure_client, link.removeprefix(HTTPS), picture(), "license.jpg")
    assert status == 200 and "Received license.jpg" in html
    (doc,) = await rows(service, Document)
    assert doc.category == "business_license" and doc.name == "license.jpg"
    await secure_uploads.close()  # the answer reaches the chat
    said, question = rig.session.sent()[-2:]
    assert "Received license.jpg" in said.text
    assert question.chat_id == UID and "Send photos of the site." in question.text
    # the next files question has its own button; the old one's question is answered
    assert web_app(question)[0].web_app.url.endswith("step=form.photos&lang=en")
    stale = await secure_client.post(opener, data={"init_data": launch()})
    assert stale.status == 409 and "already answered" in (await stale.json())["text"]


@pytest.mark.parametrize("library", ["aiogram", "ptb"])
async def test_the_mini_app_through_the_bot_process(tmp_path, database_url, library):
    """``python -m bot run`` on the fake Bot API, its page on https (as merchants see it): the
    license question carries the web_app button; the Mini App stores the file; the chat
    answers."""
    if library == "ptb":
        pytest.importorskip("telegram", reason="pip install .[ptb]")
    api = FakeBotAPI()
    await api.start()
    bot = BotProcess(tmp_path, api, database_url, library,
                     BOT_PUBLIC_URL="https://bot.example.com")
    listen = bot.env["BOT_UPLOAD_LISTEN"]
    try:
        await bot.start()
        person = Person(api, 601, "zh-hans")
        out = await person.say("/start")
        out = await person.click(out[-1], "basic")
        out = await person.say("杭州星辰贸易有限公司")
        (button,) = web_app_buttons(out[-1])
        assert button["text"] == "📎 打开上传页面"
        url = button["web_app"]["url"]
        assert url == "https://bot.example.com/upload/app?step=basic.license&lang=zh_CN"
        local = f"http://{listen}"
        async with aiohttp.ClientSession() as http:
            async with http.get(url.replace("https://bot.example.com", local)) as page:
                assert page.status == 200
                html = await page.text()
            assert 'lang="zh-CN"' in html
            opener = local + re.search(r'data-open="([^"]+)"', html).group(1).replace(
                "&amp;", "&")
            async with http.post(opener, data={"init_data": launch(601, "1:forged")}) as no:
                assert no.status == 403
            async with http.post(opener, data={"init_data": launch(601)}) as yes:
                assert yes.status == 200
                link = (await yes.json())["link"]
            seen = len(person.inbox)
            form = aiohttp.FormData()
            form.add_field("file", picture(1200, 1600, seed=3), filename="营业执照.jpg",
                           content_type="image/jpeg")
            async with http.post(link.replace("https://bot.example.com", local),
                                 data=form) as sent:
                assert sent.status == 200, await sent.text()
        await api.until(lambda: len(person.inbox) >= seen + 2)
        answer = "\n".join(m.get("text") or "" for m in person.inbox[seen:])
        assert "营业执照.jpg" in answer
        assert [name for name, _ in bot.documents("business_license")] == ["营业执照.jpg"]
        # the question's button is gone once the file is in; the next question has none
        pressed = [p for n, p in api.calls if n == "editMessageReplyMarkup"]
        assert any(int(p["message_id"]) == out[-1]["message_id"] for p in pressed)
    finally:
        await bot.stop()
        await api.stop()
