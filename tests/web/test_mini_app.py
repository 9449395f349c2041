"""The upload page as a Telegram Mini App: launch data verified with the bot token's HMAC."""

from __future__ import annotations

import json

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot.engine.model import Choose, Hello, Text
from bot.service import Service
from bot.store.db import Database
from bot.store.files import FileStore
from bot.web.upload import UploadPage
from bot.web.webapp import (
    BadInitData,
    MiniApp,
    serve_mini_app,
    sign_init_data,
    verify_init_data,
)
from tests.channels.fake_wecom import mini_guide

TOKEN = "123456789:TEST-token_for-the-fake-bot-api-000"
NOW = 1_790_000_000


def launch(user_id: int = 42, token: str = TOKEN, signed_at: int = NOW - 60) -> str:
    return sign_init_data({"user": json.dumps({"id": user_id, "first_name": "Li"}),
                           "auth_date": str(signed_at), "query_id": "AAH"}, token)


def test_valid_launch_data_names_the_user():
    assert verify_init_data(launch(), TOKEN, NOW)["id"] == 42


@pytest.mark.parametrize("data", [
    launch(token="987654321:another-bot-token"),  # signed for another bot
    launch().replace("%22id%22%3A+42", "%22id%22%3A+43"),  # another user, same hash
    launch(signed_at=NOW - 2 * 86400),  # stale
    launch().split("&hash=")[0],  # no hash
    "", "x" * 5000,
])
def test_forged_or_stale_launch_data_is_refused(data):
    with pytest.raises(BadInitData):
        verify_init_data(data, TOKEN, NOW)


@pytest.fixture
async def app(tmp_path, database_url):
    db = Database(database_url)
    await db.migrate()
    service = Service(mini_guide(tmp_path / "dialogs"), db, FileStore(tmp_path / "files"))
    uploads = UploadPage(service, secret=b"s" * 32, base_url="http://bot.test",
                         clock=lambda: NOW)

    async def deliver(user, result):
        pass

    uploads.register("telegram", deliver)
    application = web.Application()
    MiniApp(uploads, TOKEN, clock=lambda: NOW).add_routes(application)
    uploads.add_routes(application)
    for event in (Hello(), Choose("docs"), Text("宁波海岸贸易有限公司")):
        await service.handle("telegram", "42", event)
    async with TestClient(TestServer(application)) as client:
        yield client, service
    await db.close()


async def test_the_mini_app_opens_the_upload_page_of_the_current_question(app):
    client, _ = app
    page = await client.get("/upload/app")
    assert page.status == 200 and "tgWebAppData" in await page.text()
    answer = await client.post("/upload/app/open", data={"init_data": launch()})
    assert answer.status == 200
    link = (await answer.json())["link"]
    assert link.startswith("http://bot.test/upload/")
    form = await client.get(link.removeprefix("http://bot.test"))
    assert form.status == 200 and "Business license scan" in await form.text()


async def test_forged_launch_data_gets_no_link(app):
    client, _ = app
    answer = await client.post("/upload/app/open", data={
        "init_data": launch(token="987654321:another-bot-token")})
    assert answer.status == 403
    assert "link" not in await answer.json()


async def test_a_merchant_not_at_a_files_question_is_told_so(app):
    client, _ = app
    answer = await client.post("/upload/app/open", data={"init_data": launch(user_id=99)})
    assert answer.status == 409
    assert "does not take files" in (await answer.json())["text"]


async def test_an_upload_page_with_the_bot_token_serves_the_mini_app(tmp_path, database_url):
    db = Database(database_url)
    service = Service(mini_guide(tmp_path / "dialogs"), db, FileStore(tmp_path / "files"))
    plain = web.Application()
    UploadPage(service, secret=b"s" * 32, base_url="http://bot.test").add_routes(plain)
    with_app = web.Application()
    uploads = UploadPage(service, secret=b"s" * 32, base_url="http://bot.test")
    serve_mini_app(uploads, TOKEN)
    uploads.add_routes(with_app)
    async with TestClient(TestServer(plain)) as client:
        assert (await client.get("/upload/app")).status == 404
    async with TestClient(TestServer(with_app)) as client:
        assert (await client.get("/upload/app")).status == 200
    await db.close()
