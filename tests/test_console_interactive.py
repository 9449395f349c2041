"""The interactive console: numbers are the engine's, shown on the question they belong to."""

from __future__ import annotations

import io

import pytest

from bot.channels.console import Console
from bot.content import load_guide
from bot.service import Service
from bot.store.db import Database
from bot.store.files import FileStore


@pytest.fixture
async def service(tmp_path, database_url):
    db = Database(database_url)
    await db.migrate()
    service = Service(load_guide(), db, FileStore(tmp_path / "files"))
    yield service
    await service.close()  # its marks of sent replies, still lingering
    await db.close()


async def chat(service, *lines: str) -> str:
    out = io.StringIO()
    console = Console(service, "person", "en", stdin=io.StringIO("\n".join(lines) + "\n"),
                      stdout=out)
    await console.run_interactive()
    return out.getvalue()


async def test_a_typed_number_picks_the_numbered_choice(service):
    shown = await chat(service)
    menu = service.guide.flows["menu"].steps["main"]
    second = service.guide.render.label("en", menu.options[1])
    assert f"  [2] {second}" in shown
    await chat(service, "2")
    result = await service.peek("console", "person")
    assert result.expects.step.startswith(f"{menu.options[1].next.removeprefix('flow:')}.")


async def test_a_languages_name_switches_the_console_too(service):
    await chat(service, "中文")
    assert (await service.peek("console", "person")).locale == "zh_CN"
