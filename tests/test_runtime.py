"""The runtime under the service: group commit, the state cache and its version guard, two
services on one database, retries that run out, the reply outbox and the transcript.

Real engine, real content, real SQLite files; a second ``Service`` on the same file stands in
for a second worker process (its own engine, connections and cache).
"""

import asyncio
import sqlite3
from datetime import time

import pytest
from sqlalchemy import event as sa_event
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.pool import Pool

from bot.content import load_guide
from bot.engine.model import Choose, Hello, Reply, Text, Upload
from bot.plugins import Plugin
from bot.reminders.commands import install as install_reminders
from bot.reminders.timing import QuietHours, Timing
from bot.service import Service, image_pool
from bot.store.db import Database
from bot.store.files import FileStore
from bot.store.models import Merchant, Turn
from bot.transcript import mask_text
from tests.documents import samples

ID = "11010519491231002X"


@pytest.fixture(scope="module")
def guide():
    return load_guide()


@pytest.fixture
def path(tmp_path):
    return tmp_path / "bot.db"


@pytest.fixture
async def open_service(tmp_path, path, guide):
    made = []

    async def make(**options) -> Service:
        db = Database(f"sqlite+aiosqlite:///{path}")
        await db.migrate()
        service = Service(guide, db, FileStore(tmp_path / "files"), **options)
        made.append(db)
        return service

    yield make
    for db in made:
        await db.close()


async def rows(service, model, **where):
    async with service.db.session() as session:
        query = select(model)
        for name, value in where.items():
            query = query.where(getattr(model, name) == value)
        return list((await session.scalars(query)).all())


async def count(service, model):
    async with service.db.session() as session:
        return await session.scalar(select(func.count()).select_from(model))


class FailFor(Plugin):
    """Breaks the turns of one merchant inside the writer's transaction, after its rows were
    written: what a bug in a plugin's write does."""

    def __init__(self, user_key: str) -> None:
        self.user_key = user_key

    def on_turn(self, change):
        async def write(turn):
            if turn.merchant.user_key == self.user_key:
                raise RuntimeError("broken write")

        return write


# -- group commit ----------------------------------------------------------------------------
async def test_a_failing_turn_in_a_batch_does_not_lose_the_others(open_service):
    service = await open_service()
    service.install(FailFor("bad"))
    users = [f"m{i}" for i in range(12)] + ["bad"]
    results = await asyncio.gather(*(service.handle("t", u, Hello(), update_id=f"u-{u}")
                                     for u in users), return_exceptions=True)
    failed = results.pop()
    assert isinstance(failed, RuntimeError)
    assert all(r.expects.step == "menu.main" and r.turn_id for r in results)
    # Several turns went into one transaction, and only the broken one was rolled back.
    assert service.writer.batches < len(users)
    stored = {t.update_key for t in await rows(service, Turn)}
    assert stored == {f"u-m{i}" for i in range(12)}
    assert {m.user_key for m in await rows(service, Merchant)} == {f"m{i}" for i in range(12)}


async def test_replies_are_released_only_after_the_commit(open_service, path):
    service = await open_service()
    seen: dict[str, bool] = {}

    def committed(user: str, task: asyncio.Task) -> None:
        # Checked the moment the reply is released, from another connection: only what is
        # committed is visible there.
        with sqlite3.connect(path) as other:
            found = other.execute("SELECT 1 FROM turns WHERE id = ?",
                                  (task.result().turn_id,)).fetchone()
        seen[user] = found is not None

    tasks = []
    for i in range(20):
        task = asyncio.create_task(service.handle("t", f"c{i}", Hello()))
        task.add_done_callback(lambda t, u=f"c{i}": committed(u, t))
        tasks.append(task)
    await asyncio.gather(*tasks)
    assert len(seen) == 20 and all(seen.values())
    assert service.writer.batches < 20


async def warm(service, users):
    await asyncio.gather(*(service.handle("t", u, Hello(), update_id=f"hello-{u}")
                           for u in users))


async def test_a_batch_of_turns_is_stored_as_one_turn_alone_is(open_service):
    service = await open_service()
    # "solo" is answered alone (a batch of one); the crowd together, in batches of many.
    crowd = [f"c{i}" for i in range(16)]
    script = [Hello(), Choose("basic"), Text("宁波海岸贸易有限公司"), Text("/status")]
    for n, event in enumerate(script):
        await service.handle("t", "solo", event, update_id=f"solo-{n}")
    batches = service.writer.batches
    for n, event in enumerate(script):
        await asyncio.gather(*(service.handle("t", u, event, update_id=f"{u}-{n}")
                               for u in crowd))
    assert service.writer.batches - batches < len(crowd) * len(script) / 4

    def view(merchant, turns):
        return (merchant.state, merchant.locale, merchant.version, merchant.timezone,
                [(t.flow, t.step, t.incoming, t.replies, t.author, t.sent_at) for t in turns])

    (solo,) = await rows(service, Merchant, user_key="solo")
    expected = view(solo, await rows(service, Turn, merchant_id=solo.id))
    for user in crowd:
        (merchant,) = await rows(service, Merchant, user_key=user)
        turns = await rows(service, Turn, merchant_id=merchant.id)
        assert view(merchant, turns) == expected
        assert [t.update_key for t in turns] == [f"{user}-{n}" for n in range(len(script))]
        assert all(t.created_at.year >= 2026 for t in turns)


async def test_a_stale_turn_in_a_batch_is_retried_alone(open_service):
    first, second = await open_service(), await open_service()
    users = [f"m{i}" for i in range(10)]
    await warm(first, users)
    await second.handle("t", "m3", Choose("basic"))  # m3 moved on behind the first's back
    results = await asyncio.gather(*(first.handle("t", u, Choose("basic"), update_id=f"b-{u}")
                                     for u in users))
    by_user = dict(zip(users, results, strict=True))
    # Everyone else went to the company name together; m3's turn ran again on what the
    # second service wrote (a second "basic" on that question is not an answer).
    assert all(r.expects.step == "basic.company_name" for u, r in by_user.items() if u != "m3")
    (m3,) = await rows(first, Merchant, user_key="m3")
    assert m3.version == 3
    assert {t.update_key for t in await rows(first, Turn)} >= {f"b-{u}" for u in users}
    ids = [r.turn_id for r in results]
    assert len(set(ids)) == len(users)
    for user, result in by_user.items():
        (turn,) = await rows(first, Turn, id=result.turn_id)
        assert turn.update_key == f"b-{user}"


async def test_an_update_applied_before_in_a_batch_is_a_duplicate_alone(open_service):
    service = await open_service()
    users = [f"d{i}" for i in range(10)]
    await warm(service, users)
    await service.handle("t", "d5", Choose("basic"), update_id="seen")
    results = await asyncio.gather(*(
        service.handle("t", u, Choose("basic"), update_id="seen" if u == "d5" else f"x-{u}")
        for u in users))
    assert [r.duplicate for r in results] == [u == "d5" for u in users]
    assert all(r.expects.step == "basic.company_name" for r in results)
    assert len(await rows(service, Turn, update_key="seen")) == 1
    (d5,) = await rows(service, Merchant, user_key="d5")
    assert d5.version == 2


async def test_replies_marked_sent_soon_are_marked_with_a_later_batch_or_at_close(
        open_service):
    service = await open_service()
    first = await service.handle("t", "s1", Hello(), update_id="s1")
    service.mark_sent_soon(first.turn_id)  # returns at once
    second = await service.handle("t", "s2", Hello(), update_id="s2")
    for _ in range(100):
        (row,) = await rows(service, Turn, id=first.turn_id)
        if row.sent_at is not None:
            break
        await asyncio.sleep(0.01)
    assert row.sent_at is not None
    service.mark_sent_soon(second.turn_id)
    await service.close()  # what lingers is committed before the writer goes
    (row,) = await rows(service, Turn, id=second.turn_id)
    assert row.sent_at is not None


async def test_marks_of_sent_replies_in_one_batch_with_turns_mark_each_turn(open_service):
    service = await open_service()
    users = [f"k{i}" for i in range(10)]
    results = await asyncio.gather(*(service.handle("t", u, Hello(), update_id=f"k-{u}")
                                     for u in users))
    # marks and the next turns of the same merchants, all at once: one batch or two
    await asyncio.gather(*(service.mark_sent(r.turn_id) for r in results),
                         *(service.handle("t", u, Choose("basic")) for u in users))
    for result in results:
        (row,) = await rows(service, Turn, id=result.turn_id)
        assert row.sent_at is not None
    unsent = [t for t in await rows(service, Turn) if t.sent_at is None]
    assert len(unsent) == len(users)  # the second turns: nobody marked them


# -- the cache and its version guard ---------------------------------------------------------
async def test_a_write_by_another_process_is_noticed_and_the_turn_retried(open_service):
    first, second = await open_service(), await open_service()
    await first.handle("t", "u", Hello())
    await first.handle("t", "u", Choose("basic"))  # cached by the first: company name next
    await second.handle("t", "u", Text("宁波海岸贸易有限公司"))  # now at the license
    # The first still holds the company-name question in its cache; the version guard sends
    # the turn back to be run on what the second wrote.
    result = await first.handle("t", "u", Text("甲公司有限公司"))
    assert result.expects.step == "basic.license"
    (merchant,) = await rows(first, Merchant)
    assert merchant.state["answers"]["company_name"] == "宁波海岸贸易有限公司"
    assert merchant.version == 4


async def test_a_new_merchant_from_two_services_at_once(open_service):
    first, second = await open_service(), await open_service()
    results = await asyncio.gather(first.handle("t", "new", Hello(), update_id="a"),
                                   second.handle("t", "new", Choose("basic"), update_id="b"))
    assert {r.duplicate for r in results} == {False}
    assert await count(first, Merchant) == 1
    assert await count(first, Turn) == 2
    (merchant,) = await rows(first, Merchant)
    assert merchant.version == 2


async def test_one_update_to_two_services_is_applied_once(open_service):
    first, second = await open_service(), await open_service()
    await first.handle("t", "u", Hello(), update_id="1")
    await second.handle("t", "u", Hello(), update_id="1b")
    results = await asyncio.gather(first.handle("t", "u", Choose("basic"), update_id="2"),
                                   second.handle("t", "u", Choose("basic"), update_id="2"))
    assert sorted(r.duplicate for r in results) == [False, True]
    assert len(await rows(first, Turn, update_key="2")) == 1


# -- retries run out --------------------------------------------------------------------------
@pytest.mark.parametrize(("locale", "words"), [("en", "Sorry"), ("zh_CN", "抱歉")])
async def test_retries_exhausted_end_in_an_apology(open_service, path, locale, words):
    service = await open_service(retries=3, backoff=0.001)
    await service.handle("t", "stuck", Hello(), locale=locale)
    # The database refuses every write of this merchant's state, as a constraint would.
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TRIGGER refuse BEFORE UPDATE OF state ON merchants "
                     "WHEN NEW.user_key = 'stuck' BEGIN SELECT RAISE(ABORT, 'refused'); END")
    result = await service.handle("t", "stuck", Choose("basic"), update_id="9")
    assert words in result.replies[0].text and result.turn_id is None
    assert result.expects.step == "menu.main"  # the state stayed as it was
    assert await rows(service, Turn, update_key="9") == []


# -- the outbox ------------------------------------------------------------------------------
async def test_replies_never_marked_sent_come_again_on_redelivery(open_service):
    service = await open_service()
    await service.handle("t", "u", Hello(), update_id="1")
    first = await service.handle("t", "u", Choose("basic"), update_id="2")
    restarted = await open_service(outbox_lease=0.2)  # a crash before the replies went out
    again = await restarted.handle("t", "u", Choose("basic"), update_id="2")
    assert again.duplicate and again.turn_id == first.turn_id
    assert [r.text for r in again.replies] == [r.text for r in first.replies]
    assert again.expects == first.expects
    await restarted.mark_sent(again.turn_id)
    third = await restarted.handle("t", "u", Choose("basic"), update_id="2")
    assert third.duplicate and third.replies == []
    (turn,) = await rows(service, Turn, update_key="2")
    assert turn.sent_at is not None and turn.incoming == {"choice": "basic"}
    assert turn.flow == "basic" and turn.step == "company_name"


async def test_a_redelivery_while_the_first_worker_sends_says_nothing(open_service):
    first, second = await open_service(), await open_service(outbox_lease=5)
    await first.handle("t", "u", Hello(), update_id="1")
    applied = await first.handle("t", "u", Choose("basic"), update_id="2")

    async def deliver_slowly():  # the first worker is still sending when the copy arrives
        await asyncio.sleep(0.3)
        await first.mark_sent(applied.turn_id)

    again, _ = await asyncio.gather(second.handle("t", "u", Choose("basic"), update_id="2"),
                                    deliver_slowly())
    assert again.duplicate and again.replies == [] and again.turn_id is None
    assert again.expects == applied.expects


async def test_unsent_replies_go_to_one_redelivery_only(open_service):
    first = await open_service()
    await first.handle("t", "u", Hello(), update_id="1")
    applied = await first.handle("t", "u", Choose("basic"), update_id="2")  # then a crash
    copies = [await open_service(outbox_lease=0.2) for _ in range(3)]
    results = await asyncio.gather(*(c.handle("t", "u", Choose("basic"), update_id="2")
                                     for c in copies))
    answered = [r for r in results if r.replies]
    assert len(answered) == 1 and all(r.duplicate for r in results)
    assert [r.text for r in answered[0].replies] == [r.text for r in applied.replies]


# -- the transcript --------------------------------------------------------------------------
def test_id_numbers_are_masked_in_the_transcript(guide):
    step = guide.flows["basic"].steps["legal_id"]
    masked = mask_text(f"my ID is {ID}", step)
    assert ID not in masked and masked.startswith("my ID is 1101") and masked.endswith("002X")
    passport = mask_text("E12345678", step)
    assert passport != "E12345678"
    # Elsewhere: long digit runs are masked too, a phone number is kept.
    other = guide.flows["basic"].steps["company_name"]
    assert ID not in mask_text(f"公司 {ID}", other)
    assert mask_text("13812345678", other) == "13812345678"


async def test_the_stored_transcript_masks_numbers(open_service):
    service = await open_service()
    for event in (Hello(), Choose("basic"), Text(f"{ID} 有限公司")):
        await service.handle("t", "idm", event, locale="en")
    texts = [t.incoming["text"] for t in await rows(service, Turn)
             if t.incoming and "text" in t.incoming]
    assert len(texts) == 1 and ID not in texts[0] and texts[0].endswith("有限公司")


# -- image checks in a process pool ------------------------------------------------------------
async def test_uploads_are_checked_in_a_process_pool(open_service):
    pool = image_pool(1)
    try:
        service = await open_service(pool=pool)
        for event in (Hello(), Choose("basic"), Text("宁波海岸贸易有限公司")):
            await service.handle("t", "p", event, locale="en")
        blurred = await service.handle("t", "p", Upload(samples.scan(blur=3), "license.png"))
        assert "looks blurred" in blurred.replies[0].text
        assert blurred.expects.step == "basic.license" and blurred.documents == []
        sharp = await service.handle("t", "p", Upload(samples.scan(), "license.png"))
        assert [d.name for d in sharp.documents] == ["license.png"]
        assert sharp.expects.step != "basic.license"
    finally:
        pool.shutdown()


# -- the hot path --------------------------------------------------------------------------------
async def test_a_warm_turn_is_one_update_and_one_insert(open_service):
    service = await open_service()
    install_reminders(service, Timing(QuietHours(time(21), time(9)), time(10)))
    await service.handle("t", "w", Hello())  # cold: the merchant is read and created
    statements: list[str] = []
    traced: list[sqlite3.Connection] = []

    def note(statement: str) -> None:
        words = statement.split()
        verb = words[0].upper()
        target = {"INSERT": 2, "UPDATE": 1}.get(verb)
        statements.append(f"{verb} {words[target]}" if target else verb)

    def seen(conn, cursor, statement, *args):
        if conn.dialect.driver != "pysqlite":  # sqlite3 itself reports those (below)
            note(statement)

    def checkout(dbapi_connection, *args):
        # The writer's hot path talks to sqlite3 directly: watch the driver, not SQLAlchemy.
        if isinstance(dbapi_connection, sqlite3.Connection):
            dbapi_connection.set_trace_callback(note)
            traced.append(dbapi_connection)

    sa_event.listen(Engine, "before_cursor_execute", seen)
    sa_event.listen(Pool, "checkout", checkout)
    try:
        await service.handle("t", "w", Choose("basic"))
        await service.handle("t", "w", Text("宁波海岸贸易有限公司"))
    finally:
        sa_event.remove(Engine, "before_cursor_execute", seen)
        sa_event.remove(Pool, "checkout", checkout)
        for connection in traced:
            connection.set_trace_callback(None)
    writes = [s for s in statements if s not in ("SAVEPOINT", "RELEASE", "BEGIN", "COMMIT")]
    # Two warm turns: no reads, no reminder rows (nothing was reported), just the two writes.
    assert writes == ["UPDATE merchants", "INSERT turns"] * 2, statements


async def test_a_person_s_reply_goes_into_the_transcript_and_outbox(open_service):
    service = await open_service()
    await service.handle("t", "op", Hello(), update_id="1")
    turn_id = await service.record("t", "op", [Reply("您好，我是客服小王。")],
                                   author="operator:wang")
    assert await service.record("t", "nobody", [Reply("?")]) is None
    (row,) = await rows(service, Turn, id=turn_id)
    assert (row.author, row.incoming, row.sent_at) == ("operator:wang", None, None)
    assert row.replies == [{"text": "您好，我是客服小王。", "choices": [], "document": None}]
    await service.mark_sent(turn_id)
    (row,) = await rows(service, Turn, id=turn_id)
    assert row.sent_at is not None
