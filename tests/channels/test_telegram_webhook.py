"""The webhook server: the secret header is checked before anything else, and Telegram gets its
answer only once the update was handled (a crash before that means a redelivery)."""

from __future__ import annotations

import asyncio

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.channels.telegram.webhook import SECRET_HEADER, parse_listen, webhook_app

SECRET = "s3cret_-X"


@pytest.fixture
async def hook():
    accepted: list[dict] = []
    gate = asyncio.Event()

    def accept(update: dict) -> asyncio.Future:
        accepted.append(update)

        async def handled() -> None:
            await gate.wait()

        return asyncio.ensure_future(handled())

    app = webhook_app("https://bot.example.com/tg/hook", SECRET, accept)
    async with TestClient(TestServer(app)) as client:
        yield client, accepted, gate


UPDATE = {"update_id": 7, "message": {"message_id": 1, "date": 0, "text": "/start",
                                      "chat": {"id": 5, "type": "private"},
                                      "from": {"id": 5, "is_bot": False, "first_name": "M"}}}


@pytest.mark.parametrize("headers", [{}, {SECRET_HEADER: "wrong"}, {SECRET_HEADER: SECRET + "x"}])
async def test_a_wrong_or_missing_secret_is_refused(hook, headers):
    client, accepted, _ = hook
    response = await client.post("/tg/hook", json=UPDATE, headers=headers)
    assert response.status == 401 and accepted == []


async def test_a_body_that_is_no_update_is_refused(hook):
    client, accepted, _ = hook
    response = await client.post("/tg/hook", data=b"{not json", headers={SECRET_HEADER: SECRET})
    assert response.status == 400 and accepted == []


async def test_the_answer_waits_until_the_update_was_handled(hook):
    client, accepted, gate = hook
    call = asyncio.ensure_future(client.post("/tg/hook", json=UPDATE,
                                             headers={SECRET_HEADER: SECRET}))

    async def arrived() -> None:
        while not accepted:
            await asyncio.sleep(0.01)

    await asyncio.wait_for(arrived(), 5)
    assert not call.done()
    gate.set()
    response = await asyncio.wait_for(call, 5)
    assert response.status == 200 and accepted[0]["update_id"] == 7


def test_listen_addresses():
    assert parse_listen("127.0.0.1:8081") == ("127.0.0.1", 8081)
    assert parse_listen("[::1]:8443") == ("::1", 8443)
    with pytest.raises(ValueError):
        parse_listen("8081")
