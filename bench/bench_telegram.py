"""The guide on Telegram over HTTP against a bare aiogram FSM bot, on the same fake Bot API.

    .venv/bin/python bench/bench_telegram.py [--burst 400] [--merchants 100] [--repeat 3]
                                             [--json]

A Bot API server on loopback (in this process) plays Telegram: it serves ``getUpdates`` from a
queue, answers ``sendMessage`` and the other calls, and serves files. Each bot runs as it would in
production, by long polling: the guide through ``bot.channels.telegram.serve`` (durable SQLite
state, every answer sent only after its turn is committed), once per library, and a bare aiogram
``Dispatcher`` with ``MemoryStorage`` (``start_polling``: no validation, no durability).

- **/start burst**: ``--burst`` merchants send /start at once; users/s until every one of them
  has the main menu.
- **questionnaire**: ``--merchants`` merchants go through basic certification as the content has
  it today (menu button, company name, license scan as a document, license end date, five text
  answers, two Done buttons), round by round: a round is done when every merchant has the next
  question. Updates/s over all rounds.
- **sending alone**: ``--burst`` sendMessage calls at once through the plain JSON client and
  through aiogram's ``Bot``: what the default's hot path gains by the plain client.

Each side runs ``--repeat`` times, taking turns with the other, every run with merchants new to
the bot (and the guide on a new database); a figure is the median of its runs.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import io
import itertools
import json
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiogram import Bot, Dispatcher, F, Router
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.fsm.storage.memory import MemoryStorage
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from aiohttp import web
from PIL import Image, ImageDraw

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.report import emit, figure
from bot.channels.telegram.render import CallbackCodec
from bot.channels.telegram.serve import serve
from bot.config import Settings
from bot.content import load_guide
from bot.engine.machine import Guide
from bot.engine.messages import Msg
from bot.engine.validators import id_check_char, uscc_check_char
from bot.service import Service
from bot.store.db import Database
from bot.store.files import FileStore

TOKEN = "123456789:BENCH-token_for-a-fake-bot-api-000"
USCC = "91330106MA2B3C4D5" + uscc_check_char("91330106MA2B3C4D5")
ID = "33010619850317461" + id_check_char("33010619850317461")
LICENSE_END = "长期"  # the license has no end date
ANSWERS = ["宁波海岸贸易有限公司", LICENSE_END, USCC, "张伟", ID, "sales@example.com",
           "13812345678"]
LIBRARIES = ("botapi", "aiogram")
AGAIN = "again"  # the main menu's choices again, after a flow
NEXT = Msg("What would you like to do next?")
WAIT = 300.0


# -- the fake Bot API -------------------------------------------------------------------------
class FakeTelegram:
    """Telegram for both bots: a queue of updates, and what each chat was sent."""

    def __init__(self) -> None:
        self.pending: list[tuple[int, bytes]] = []  # (update_id, its JSON)
        self.files: dict[str, bytes] = {}
        self.sent: dict[int, list[tuple[float, str]]] = defaultdict(list)  # chat -> (when, text)
        self.polled = asyncio.Event()
        self.arrived = asyncio.Event()  # updates were pushed: wake a waiting getUpdates
        self.changed = asyncio.Event()  # something was sent
        self._ids = 0
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def start(self) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_post("/bot{token}/{method}", self._method)
        app.router.add_get("/file/bot{token}/{path:.+}", self._file)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def reset(self) -> None:
        self.pending.clear()
        self.sent.clear()
        self.polled.clear()

    def push(self, updates: list[dict[str, Any]]) -> None:
        self.pending += [(u["update_id"], json.dumps(u, ensure_ascii=False).encode())
                         for u in updates]
        self.arrived.set()

    async def until(self, done: Callable[[], bool]) -> None:
        deadline = time.monotonic() + WAIT
        while not done():
            if time.monotonic() > deadline:
                raise TimeoutError("the bot did not answer in time")
            self.changed.clear()
            try:
                await asyncio.wait_for(self.changed.wait(), 0.05)
            except TimeoutError:
                pass

    async def _params(self, request: web.Request) -> dict[str, Any]:
        if request.content_type == "application/json":
            return await request.json()
        params: dict[str, Any] = {}
        for key, value in (await request.post()).items():
            params[key] = value if isinstance(value, str) else "<file>"
        return params

    async def _method(self, request: web.Request) -> web.Response:
        name = request.match_info["method"]
        params = await self._params(request)
        if name == "getUpdates":
            return await self._get_updates(params)
        if name == "sendMessage":
            chat = int(params["chat_id"])
            self.sent[chat].append((time.perf_counter(), params["text"]))
            self.changed.set()
            self._ids += 1
            result: Any = {"message_id": self._ids, "date": 0, "text": params["text"],
                           "chat": {"id": chat, "type": "private"}}
        elif name == "getMe":
            result = {"id": 123456789, "is_bot": True, "first_name": "Bench",
                      "username": "bench_bot"}
        elif name == "getFile":
            data = self.files[params["file_id"]]
            result = {"file_id": params["file_id"], "file_unique_id": "u",
                      "file_size": len(data), "file_path": f"documents/{params['file_id']}"}
        else:
            result = True
        return web.json_response({"ok": True, "result": result})

    async def _get_updates(self, params: dict[str, Any]) -> web.Response:
        offset = int(params.get("offset") or 0)
        self.pending = [p for p in self.pending if p[0] >= offset]
        self.polled.set()
        if not self.pending:
            self.arrived.clear()
            try:
                await asyncio.wait_for(self.arrived.wait(), 0.2)
            except TimeoutError:
                pass
        limit = int(params.get("limit") or 100)
        body = b'{"ok":true,"result":[' + b",".join(
            p[1] for p in self.pending[:limit] if p[0] >= offset) + b"]}"
        return web.Response(body=body, content_type="application/json")

    async def _file(self, request: web.Request) -> web.Response:
        return web.Response(body=self.files[request.match_info["path"].rsplit("/", 1)[1]])


# -- updates ----------------------------------------------------------------------------------
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

    def __init__(self, files: dict[str, bytes]) -> None:
        self.files = files
        self._update = 0

    def _next(self, user: int, **content: Any) -> dict[str, Any]:
        self._update += 1
        sender = {"id": user, "is_bot": False, "first_name": "M", "language_code": "zh-hans"}
        chat = {"id": user, "type": "private"}
        if "data" in content:
            query = {"id": f"q{self._update}", "from": sender, "chat_instance": "c",
                     "data": content["data"],
                     "message": {"message_id": 1, "date": 0, "chat": chat, "text": "?"}}
            return {"update_id": self._update, "callback_query": query}
        message = {"message_id": self._update, "date": 0, "chat": chat, "from": sender,
                   **content}
        return {"update_id": self._update, "message": message}

    def burst(self, users: list[int]) -> list[dict[str, Any]]:
        return [self._next(u, text="/start") for u in users]

    def rounds(self, users: list[int], button: Callable[[str, str], str],
               prompt: Callable[[str, str], str]) -> list[tuple[list[dict], str]]:
        """(one update of every merchant, the prompt each must get next) in flow order."""
        rounds = [([self._next(u, text="/start") for u in users], prompt("menu", "main")),
                  ([self._next(u, data=button("basic", "menu.main")) for u in users],
                   prompt("basic", "company_name")),
                  ([self._next(u, text=ANSWERS[0]) for u in users], prompt("basic", "license"))]
        docs = []
        for u in users:
            file_id = f"f{u}"
            self.files[file_id] = self.files.get(file_id) or scan(u)
            docs.append(self._next(u, document={
                "file_id": file_id, "file_unique_id": file_id, "file_name": "license.jpg",
                "file_size": len(self.files[file_id])}))
        rounds.append((docs, prompt("basic", "license_end")))
        following = ["uscc", "legal_name", "legal_id", "email", "phone", "tax_cert"]
        for answer, step in zip(ANSWERS[1:], following, strict=True):
            rounds.append(([self._next(u, text=answer) for u in users], prompt("basic", step)))
        rounds.append(([self._next(u, data=button("done", "basic.tax_cert")) for u in users],
                       prompt("basic", "org_code")))
        # After a flow the guide offers the menu's choices under its last message, not the
        # whole greeting again.
        rounds.append(([self._next(u, data=button("done", "basic.org_code")) for u in users],
                       prompt("menu", AGAIN)))
        return rounds


async def drive(api: FakeTelegram, rounds: list[tuple[list[dict], str]]) -> float:
    """Push each round once the last is answered; seconds until the last round is answered."""
    start = end = time.perf_counter()
    for updates, prompt in rounds:
        chats = [u["message"]["chat"]["id"] if "message" in u
                 else u["callback_query"]["from"]["id"] for u in updates]
        seen = {c: len(api.sent[c]) for c in chats}
        api.push(updates)

        def answered(chats=chats, seen=seen, prompt=prompt) -> list[float] | None:
            times = []
            for c in chats:
                hit = next((t for t, text in api.sent[c][seen[c]:] if prompt in text), None)
                if hit is None:
                    return None
                times.append(hit)
            return times

        await api.until(lambda answered=answered: answered() is not None)
        end = max(answered())
    return end - start


# -- the bare aiogram FSM bot -----------------------------------------------------------------
class Basic(StatesGroup):
    menu = State()
    company = State()
    license = State()
    license_end = State()
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
             (Basic.license_end, "license_end", Basic.uscc, "uscc"),
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
        await state.set_state(Basic.license_end)
        await message.answer(q("license_end"))

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
        await query.message.answer(guide.render.text("zh_CN", NEXT),
                                   reply_markup=keyboard(*(o.id for o in menu.options)))

    return router


# -- runs -------------------------------------------------------------------------------------
Run = Callable[[FakeTelegram], Awaitable[float]]


async def run_guide(guide: Guide, library: str, api: FakeTelegram, directory: Path,
                    work: Callable[[FakeTelegram, Callable[[str, str], str]], Awaitable[float]]
                    ) -> float:
    db = Database(f"sqlite+aiosqlite:///{directory / f'{library}.db'}")
    await db.migrate()
    service = Service(guide, db, FileStore(directory / f"files-{library}"))
    settings = Settings(_env_file=None, telegram_bot_token=TOKEN, telegram_api_server=api.url,
                        telegram_library=library, telegram_poll_timeout=1)
    codec = CallbackCodec(guide.flows)
    api.reset()
    task = asyncio.create_task(serve(service, settings))
    try:
        await asyncio.wait_for(api.polled.wait(), 60)
        return await work(api, codec.encode)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await service.close()
        await db.close()


async def run_bare(guide: Guide, api: FakeTelegram,
                   work: Callable[[FakeTelegram, Callable[[str, str], str]], Awaitable[float]]
                   ) -> float:
    session = AiohttpSession(api=TelegramAPIServer.from_base(api.url))
    bot = Bot(TOKEN, session=session)
    dispatcher = Dispatcher(storage=MemoryStorage())
    dispatcher.include_router(bare_router(guide))
    api.reset()
    task = asyncio.create_task(dispatcher.start_polling(bot, polling_timeout=1,
                                                        handle_signals=False))
    try:
        await asyncio.wait_for(api.polled.wait(), 60)
        return await work(api, lambda choice, step: choice)
    finally:
        await dispatcher.stop_polling()
        await asyncio.gather(task, return_exceptions=True)
        await session.close()


async def sends(api: FakeTelegram, count: int) -> tuple[float, float]:
    """sendMessage alone, ``count`` at once: the plain client, then aiogram's ``Bot`` (s)."""
    from bot.channels.telegram.botapi import BotAPI
    from bot.channels.telegram.render import Button

    buttons = [Button("基本认证", "c|basic|abc123"), Button("工厂认证", "c|factory|abc123")]
    plain = BotAPI(TOKEN, api.url)
    session = AiohttpSession(api=TelegramAPIServer.from_base(api.url))
    bot = Bot(TOKEN, session=session)
    markup = InlineKeyboardMarkup(inline_keyboard=[
        [InlineKeyboardButton(text=b.label, callback_data=b.data)] for b in buttons])
    try:
        start = time.perf_counter()
        await asyncio.gather(*(plain.send_text(300_000 + i, "您想做什么？", buttons)
                               for i in range(count)))
        ours = time.perf_counter() - start
        start = time.perf_counter()
        await asyncio.gather(*(bot.send_message(300_000 + i, "您想做什么？", reply_markup=markup)
                               for i in range(count)))
        theirs = time.perf_counter() - start
    finally:
        await plain.close()
        await session.close()
    return ours, theirs


async def main(burst: int, merchants: int, libraries: tuple[str, ...],
               repeat: int = 3) -> list[dict]:
    guide = load_guide()
    # Both bots share this process, whose heap holds the guide's content and both libraries:
    # out of the collector's sight, as the guide's start-up does (bot.app) and as a bare bot's
    # smaller heap would be, so neither pays full collections over what the other loaded.
    gc.freeze()
    api = FakeTelegram()
    await api.start()
    script = Script(api.files)

    def prompt(flow: str, step: str) -> str:
        if (flow, step) == ("menu", AGAIN):
            return guide.render.text("zh_CN", NEXT)
        return guide.render.text("zh_CN", guide.flows[flow].steps[step].text)

    runs = itertools.count(1)  # every run has merchants of its own: all new to the bot

    async def start_burst(fake: FakeTelegram, _button) -> float:
        first = 1_000_000 * next(runs)
        users = [first + i for i in range(burst)]
        return await drive(fake, [(script.burst(users), prompt("menu", "main"))])

    async def questionnaire(fake: FakeTelegram, button) -> float:
        first = 1_000_000 * next(runs)
        users = [first + i for i in range(merchants)]
        return await drive(fake, script.rounds(users, button, prompt))

    rows: list[dict] = []
    updates = merchants * len(script.rounds([0], lambda c, s: c, prompt))
    try:
        with tempfile.TemporaryDirectory(prefix="bench-telegram-") as tmp:
            for name, work, count, unit in (("start_burst", start_burst, burst, "users/s"),
                                            ("questionnaire", questionnaire, updates,
                                             "updates/s")):
                # The sides take turns, ``repeat`` times; each figure is the median of its
                # runs (a shared machine's load comes and goes within a second).
                bares: list[float] = []
                ours: dict[str, list[float]] = defaultdict(list)
                for run in range(repeat):
                    bares.append(count / await run_bare(guide, api, work))
                    for library in libraries:
                        directory = Path(tmp) / f"{name}-{run}"  # a new database each run
                        directory.mkdir(exist_ok=True)
                        ours[library].append(
                            count / await run_guide(guide, library, api, directory, work))
                target = 1.5 if name == "start_burst" else None
                for library in libraries:
                    rows.append(figure(f"telegram_{name}_{library}", unit,
                                       statistics.median(ours[library]),
                                       "bare aiogram FSM bot, MemoryStorage",
                                       statistics.median(bares), target))
        plain, theirs = await sends(api, burst)
        rows.append(figure("telegram_send_plain_json", "messages/s", burst / plain,
                           "aiogram Bot.send_message", burst / theirs))
    finally:
        await api.stop()
    return rows


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--burst", type=int, default=400)
    parser.add_argument("--merchants", type=int, default=100)
    parser.add_argument("--library", choices=LIBRARIES, action="append",
                        help="the guide's library (default: each of botapi and aiogram)")
    parser.add_argument("--repeat", type=int, default=3,
                        help="runs of each side, taking turns; the median is reported")
    parser.add_argument("--json", action="store_true", help="one JSON object a line")
    args = parser.parse_args()
    results = asyncio.run(main(args.burst, args.merchants, tuple(args.library or LIBRARIES),
                               max(1, args.repeat)))
    if args.json:
        emit(results)
    else:
        for r in results:
            print(f"{r['name']:36} {r['value']:9.1f} {r['unit']:9}  bare {r['baseline']:9.1f}"
                  f"  ratio {r['ratio']:.3f}" + (f"  (target {r['target']})"
                                                 if r["target"] else ""))
