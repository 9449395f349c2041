"""serve(): settings -> a running web server; the channel offered as a reminder sender."""

from __future__ import annotations

import asyncio
import socket

import aiohttp
import pytest
from fake_wecom import AES_KEY, AGENT_ID, CORP_ID, SECRET, TOKEN, mini_guide, verification

from bot.channels.wecom.app import parse_listen, serve
from bot.channels.wecom.channel import WeComChannel
from bot.config import Settings
from bot.service import Service
from bot.store.db import Database
from bot.store.files import FileStore


def test_parse_listen():
    assert parse_listen("127.0.0.1:8080") == ("127.0.0.1", 8080)
    assert parse_listen(":9000") == ("0.0.0.0", 9000)
    assert parse_listen("[::1]:8443") == ("::1", 8443)
    with pytest.raises(ValueError):
        parse_listen("8080")


def test_wecom_is_configured_only_with_all_five():
    full = dict(wecom_corp_id=CORP_ID, wecom_agent_id=AGENT_ID, wecom_secret=SECRET,
                wecom_token=TOKEN, wecom_encoding_aes_key=AES_KEY)
    assert Settings(_env_file=None, **full).wecom_configured
    for name in full:  # configured in part: start-up names what is missing
        with pytest.raises(ValueError, match=f"set {name.upper()} as well"):
            Settings(_env_file=None, **{**full, name: ""})
    with pytest.raises(ValueError):
        Settings(_env_file=None, wecom_agent_id="abc")


async def test_serve_listens_registers_its_sender_and_stops(tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings = Settings(
        _env_file=None, bot_data_dir=tmp_path, wecom_corp_id=CORP_ID, wecom_agent_id=AGENT_ID,
        wecom_secret=SECRET, wecom_token=TOKEN, wecom_encoding_aes_key=AES_KEY,
        wecom_listen=f"127.0.0.1:{port}", wecom_api_base="http://127.0.0.1:9",
        bot_public_url="https://bot.example.com")
    db = Database(settings.database_url)
    await db.migrate()
    service = Service(mini_guide(tmp_path / "dialogs"), db, FileStore(tmp_path / "files"))
    stop, senders = asyncio.Event(), {}
    task = asyncio.create_task(serve(service, settings, stop, senders=senders))
    try:
        query, echo = verification("314159")
        async with aiohttp.ClientSession() as http:
            for _ in range(100):
                try:
                    async with http.get(f"http://127.0.0.1:{port}/wecom/callback?{query}") as r:
                        assert r.status == 200 and await r.text() == echo
                        break
                except aiohttp.ClientConnectionError:
                    await asyncio.sleep(0.05)
            else:
                raise AssertionError("serve() did not listen")
        assert isinstance(senders["wecom"], WeComChannel)
        assert (tmp_path / "upload_secret").exists()
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)
        await db.close()
    assert "wecom" not in senders
