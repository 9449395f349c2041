"""Telegram updates per second and p50/p99 latency through the real aiogram adapter with durable
SQLite state, against a bare aiogram FSM bot with ``MemoryStorage`` answering the same
questionnaire (basic certification: the menu button, company name, license scan as a document,
five text answers, two Done buttons).

    .venv/bin/python bench/bench_telegram.py [--merchants 100] [--json]

Both bots run in this process, one after the other, on a Bot API session that answers from
memory (no network), fed the same updates in the same order: round by round, each round one
update of every merchant, handled concurrently (as polling with tasks or a webhook would). A
latency is the time from handing the update over until its answer was sent.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncGenerator, Awaitable, Callable
from pathlib import Path
from typing import Any

from aiogram import Bot, Dispatcher, F, Router
from aiogram.client.session.base import BaseSession
from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.fsm.storage.memory import MemoryStorage
from aiogram.types import (
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    Update,
)
from PIL import Image, ImageDraw

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.channels.telegram.aiogram_transport import AiogramTransport, make_bot
from bot.channels.telegram.core import TelegramChannel
from bot.content import load_guide
from bot.engine.machine import Guide
from bot.engine.validators import id_check_char, uscc_check_char
from bot.service import Service
from bot.store.db import Database
from bot.store.files import FileStore

TOKEN = "123456789:BENCH-token_for-a-session-in-memory"
USCC = "91330106MA2B3C4D5" + uscc_check_char("91330106MA2B3C4D5")
ID = "33010619850317461" + id_check_char("33010619850317461")
ANSWERS = ["宁波海岸贸易有限公司", USCC, "张伟", ID, "sales@example.com", "13812345678"]


class MemorySession(BaseSession):
    """Answers every Bot API call at once; serves files from memory."""

    def __init__(self, files: dict[str, bytes]) -> None:
        super().__init__()
        self.files = files
        self.sent = 0
        self._ids = 0

    async def close(self) -> None:
        return None

    async def make_request(self, bot, method, timeout=None):
        name = method.__api_method__
        if name == "sendMessage":
            self.sent += 1
            self._ids += 1
            result: Any = {"message_id": self._ids, "date": 0, "text": "",
                           "chat": {"id": int(method.chat_id), "type": "private"}}
        elif name == "getFile":
            data = self.files[method.file_id]
            result = {"file_id": method.file_id, "file_unique_id": "u",
                      "file_size": len(data), "file_path": f"documents/{method.file_id}"}
        else:
            result = True
        return self.check_response(bot, method, 200, json.dumps({"ok": True, "result": result})
                                   ).result

    async def stream_content(self, url, headers=None, timeout=30, chunk_size=65536,
                             raise_for_status=True) -> AsyncGenerator[bytes, None]:
        yield self.files[url.rsplit("/", 1)[1]]


def scan(seed: int) -> bytes:
    image = Image.new("RGB", (900, 1200), "white")
    draw = ImageDraw.Draw(image)
    for y in range(40, 1160, 28):
        for x in range(40 + seed % 30, 820, 90):
            draw.rectangle([x, y, x + 60, y + 10], fill="black")
    draw.rectangle([100 + seed % 500, 100, 300 + seed % 500, 400], fill=(seed % 200, 0, 0))
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=85)
    return buffer.getvalue()


class Script:
    """The same updates for both bots; only the callback data differ (each bot's own)."""

    def __init__(self, merchants: int) -> None:
        self.merchants = merchants
        self.files: dict[str, bytes] = {}
        self._update = 0
        self._message = 0

    def _next(self, user: int, **content: Any) -> dict[str, Any]:
        self._update += 1
        self._message += 1
        sender = {"id": user, "is_bot": False, "first_name": "M", "language_code": "zh-hans"}
        chat = {"id": user, "type": "private"}
        if "data" in content:
            query = {"id": f"q{self._update}", "from": sender, "chat_instance": "c",
                     "data": content["data"],
                     "message": {"message_id": 1, "date": 0, "chat": chat, "text": "?"}}
            return {"update_id": self._update, "callback_query": query}
        message = {"message_id": self._message, "date": 0, "chat": chat, "from": sender,
                   **content}
        return {"update_id": self._update, "message": message}

    def rounds(self, button: Callable[[str, str], str]) -> list[list[dict[str, Any]]]:
        """``button(choice id, "flow.step")`` -> callback data of that bot."""
        users = [10_000 + i for i in range(self.merchants)]
        rounds: list[list[dict]] = [[self._next(u, text="/start") for u in users]]
        rounds.append([self._next(u, data=button("basic", "menu.main")) for u in users])
        rounds.append([self._next(u, text=ANSWERS[0]) for u in users])
        docs = []
        for u in users:
            file_id = f"f{u}"
            self.files[file_id] = self.files.get(file_id) or scan(u)
            docs.append(self._next(u, document={
                "file_id": file_id, "file_unique_id": file_id, "file_name": "license.jpg",
                "file_size": len(self.files[file_id])}))
        rounds.append(docs)
        for answer in ANSWERS[1:]:
            rounds.append([self._next(u, text=answer) for u in users])
        rounds.append([self._next(u, data=button("done", "basic.tax_cert")) for u in users])
        rounds.append([self._next(u, data=button("done", "basic.org_code")) for u in users])
        return rounds


async def measure(rounds: list[list[dict]], bot: Bot,
                  feed: Callable[[Update], Awaitable[None]]) -> list[float]:
    latencies: list[float] = []

    async def one(update: Update) -> None:
        start = time.perf_counter()
        await feed(update)
        latencies.append(time.perf_counter() - start)

    for batch in rounds:
        updates = [Update.model_validate(u, context={"bot": bot}) for u in batch]
        await asyncio.gather(*(one(u) for u in updates))
    return latencies


# -- the bare aiogram FSM bot -----------------------------------------------------------------
class Basic(StatesGroup):
    menu = State()
    company = State()
    license = State()
    uscc = State()
    legal = State()
    legal_id = State()
    email = State()
    phone = State()
    tax = State()
    org = State()


def bare_router(guide: Guide) -> Router:
    """The questionnaire as a typical aiogram FSM bot writes it: a state per question, answers
    in FSM data, no validation, no durability."""
    def q(step: str, flow: str = "basic") -> str:
        return guide.render.text("zh_CN", guide.flows[flow].steps[step].text)

    def keyboard(*ids: str) -> InlineKeyboardMarkup:
        return InlineKeyboardMarkup(inline_keyboard=[
            [InlineKeyboardButton(text=i, callback_data=i)] for i in ids])

    menu = guide.flows["menu"].steps["main"]
    router = Router()
    texts = [(Basic.company, "company_name", Basic.license, "license"),
             (Basic.uscc, "uscc", Basic.legal, "legal_name"),
             (Basic.legal, "legal_name", Basic.legal_id, "legal_id"),
             (Basic.legal_id, "legal_id", Basic.email, "email"),
             (Basic.email, "email", Basic.phone, "phone"),
             (Basic.phone, "phone", Basic.tax, "tax_cert")]

    @router.message(Command("start"))
    async def start(message: Message, state: FSMContext) -> None:
        await state.set_state(Basic.menu)
        await message.answer(q("main", "menu"),
                             reply_markup=keyboard(*(o.id for o in menu.options)))

    @router.callback_query(Basic.menu, F.data == "basic")
    async def basic(query: CallbackQuery, state: FSMContext) -> None:
        await query.answer()
        await state.set_state(Basic.company)
        await query.message.answer(q("company_name"))

    for current, key, following, question in texts:
        def make(key: str, following: State, question: str):
            async def answer(message: Message, state: FSMContext) -> None:
                await state.update_data({key: message.text})
                await state.set_state(following)
                markup = keyboard("done") if following == Basic.tax else None
                await message.answer(q(question), reply_markup=markup)
            return answer
        router.message(current, F.text)(make(key, following, question))

    @router.message(Basic.license, F.document)
    async def license_(message: Message, state: FSMContext, bot: Bot) -> None:
        data = await bot.download(message.document.file_id, destination=io.BytesIO())
        await state.update_data(license=len(data.getvalue()))
        await state.set_state(Basic.uscc)
        await message.answer(q("uscc"))

    @router.callback_query(Basic.tax, F.data == "done")
    async def tax(query: CallbackQuery, state: FSMContext) -> None:
        await query.answer()
        await state.set_state(Basic.org)
        await query.message.answer(q("org_code"), reply_markup=keyboard("done"))

    @router.callback_query(Basic.org, F.data == "done")
    async def org(query: CallbackQuery, state: FSMContext) -> None:
        await query.answer()
        data = await state.get_data()
        await state.clear()
        await query.message.answer("\n".join(f"{k}: {v}" for k, v in data.items()))
        await query.message.answer(q("main", "menu"),
                                   reply_markup=keyboard(*(o.id for o in menu.options)))

    return router


# -- runs -------------------------------------------------------------------------------------
async def run_adapter(guide: Guide, script: Script, directory: Path) -> tuple[list[float], int]:
    db = Database(f"sqlite+aiosqlite:///{directory / 'bot.db'}")
    await db.migrate()
    service = Service(guide, db, FileStore(directory / "files"))
    session = MemorySession(script.files)
    bot = make_bot(TOKEN, "http://127.0.0.1:9", session=session)
    channel = TelegramChannel(service, AiogramTransport(bot))
    rounds = script.rounds(lambda choice, step: channel.codec.encode(choice, step))
    try:
        latencies = await measure(rounds, bot, channel.accept)
    finally:
        await db.close()
    return latencies, session.sent


async def run_bare(guide: Guide, script: Script) -> tuple[list[float], int]:
    session = MemorySession(script.files)
    bot = Bot(TOKEN, session=session)
    dispatcher = Dispatcher(storage=MemoryStorage())
    dispatcher.include_router(bare_router(guide))
    rounds = script.rounds(lambda choice, step: choice)

    async def feed(update: Update) -> None:
        await dispatcher.feed_update(bot, update)

    return await measure(rounds, bot, feed), session.sent


def summary(latencies: list[float], seconds: float) -> dict[str, float]:
    ordered = sorted(latencies)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return {"updates": len(latencies), "updates_per_s": len(latencies) / seconds,
            "p50_ms": statistics.median(ordered) * 1000, "p99_ms": p99 * 1000}


async def main(merchants: int) -> dict[str, Any]:
    guide = load_guide()
    script = Script(merchants)
    with tempfile.TemporaryDirectory(prefix="bench-telegram-") as tmp:
        start = time.perf_counter()
        latencies, sent = await run_adapter(guide, script, Path(tmp))
        adapter = {**summary(latencies, time.perf_counter() - start), "messages_sent": sent}
    start = time.perf_counter()
    latencies, sent = await run_bare(guide, script)
    bare = {**summary(latencies, time.perf_counter() - start), "messages_sent": sent}
    return {"merchants": merchants, "adapter_sqlite": adapter, "bare_fsm_memory": bare,
            "throughput_ratio": adapter["updates_per_s"] / bare["updates_per_s"],
            "p50_ratio": adapter["p50_ms"] / bare["p50_ms"],
            "p99_ratio": adapter["p99_ms"] / bare["p99_ms"]}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--merchants", type=int, default=100)
    parser.add_argument("--json", action="store_true", help="one JSON object instead of text")
    args = parser.parse_args()
    result = asyncio.run(main(args.merchants))
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        for name in ("adapter_sqlite", "bare_fsm_memory"):
            r = result[name]
            print(f"{name:17} {r['updates']:6d} updates  {r['updates_per_s']:9.1f} updates/s  "
                  f"p50 {r['p50_ms']:8.2f} ms  p99 {r['p99_ms']:8.2f} ms  "
                  f"({r['messages_sent']} messages)")
        print(f"ratio adapter/bare: throughput {result['throughput_ratio']:.3f}  "
              f"p50 {result['p50_ratio']:.1f}x  p99 {result['p99_ratio']:.1f}x")
