"""``python -m bot remind --once --now …`` as cron would run it: one JSON line per reminder sent,
exactly once across concurrent workers and across a crash between claim and send."""

import json
import os
import subprocess
import sys
from datetime import date, datetime
from pathlib import Path

import pytest
from reminder_kit import local, open_bench, utc
from sqlalchemy import select

from bot.content import load_guide
from bot.reminders.worker import EXIT_AFTER_CLAIM
from bot.store.db import Database
from bot.store.models import Merchant, Reminder

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 120  # seconds for one worker process on a loaded machine


def remind(data_dir: Path, now: str, **env_extra: str) -> subprocess.Popen:
    env = {**os.environ, "BOT_DATA_DIR": str(data_dir), "BOT_LOG_LEVEL": "WARNING",
           **env_extra}
    return subprocess.Popen(
        [sys.executable, "-m", "bot", "remind", "--once", "--now", now], cwd=ROOT, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, encoding="utf-8")


def finish(proc: subprocess.Popen) -> tuple[int, list[dict]]:
    out, _ = proc.communicate(timeout=TIMEOUT)
    return proc.returncode, [json.loads(line) for line in out.splitlines() if line.strip()]


def run(data_dir: Path, now: str, **env_extra: str) -> list[dict]:
    code, lines = finish(remind(data_dir, now, **env_extra))
    assert code == 0
    return lines


@pytest.fixture
def data_dir(tmp_path, database_url, monkeypatch):
    monkeypatch.setenv("BOT_DATABASE_URL", database_url)  # the workers' database (inherited)
    return tmp_path / "data"


def database() -> Database:
    return Database(os.environ["BOT_DATABASE_URL"])


async def seed(data_dir: Path, count: int, due: datetime) -> list[int]:
    """``count`` console merchants, each with one renewal reminder due at ``due`` (UTC)."""
    db = database()
    await db.migrate()
    try:
        async with db.session() as session, session.begin():
            reminders = []
            for i in range(count):
                merchant = Merchant(channel="console", user_key=f"m{i}", locale="en",
                                    timezone="Asia/Shanghai", state={}, version=0,
                                    created_at=due, updated_at=due)
                session.add(merchant)
                await session.flush()
                reminder = Reminder(
                    merchant_id=merchant.id, key="renewal:basic:2027-03-10:60", kind="renewal",
                    subject="basic", anchor=date(2027, 3, 10), lead_days=60, status="pending",
                    due_at=due, next_at=due, attempts=0, created_at=due, updated_at=due)
                session.add(reminder)
                reminders.append(reminder)
            await session.flush()
            return [r.id for r in reminders]
    finally:
        await db.close()


async def statuses(data_dir: Path) -> dict[int, tuple[str, int]]:
    db = database()
    try:
        async with db.session() as session:
            rows = await session.scalars(select(Reminder))
            return {r.id: (r.status, r.attempts) for r in rows}
    finally:
        await db.close()


async def test_the_console_line_is_the_delivery(data_dir):
    bench = await open_bench(os.environ["BOT_DATABASE_URL"], data_dir, load_guide())
    try:
        await bench.passed("shop", "basic", "2026-03-10", channel="console", lang="en")
        first = (await bench.reminders("shop"))[0]
    finally:
        await bench.db.close()
    assert run(data_dir, "2027-01-09T09:00:00+08:00") == []
    (line,) = run(data_dir, "2027-01-09T10:40:00+08:00")
    assert {k: line[k] for k in ("merchant", "kind", "channel")} == {
        "merchant": "shop", "kind": "renewal", "channel": "console"}
    assert line["due"] == local(first.due_at).isoformat() + "+08:00"
    assert "Basic certification" in line["text"] and "认证中心" in line["text"]
    assert [c["id"] for c in line["choices"]] == [
        f"rem:{first.id}:done", f"rem:{first.id}:snooze_day", f"rem:{first.id}:snooze_week"]
    assert run(data_dir, "2027-01-09T10:50:00+08:00") == []
    # an offset-free --now is read in BOT_TIMEZONE (Asia/Shanghai)
    (line,) = run(data_dir, "2027-02-08T10:40")
    assert line["due"].startswith("2027-02-08T10:")


async def test_two_workers_started_together_send_each_reminder_once(data_dir):
    ids = await seed(data_dir, 120, utc("2027-01-09 10:07"))
    procs = [remind(data_dir, "2027-01-09T10:30:00+08:00") for _ in range(2)]
    results = [finish(p) for p in procs]
    assert [code for code, _ in results] == [0, 0]
    sent = [line["reminder"] for _, lines in results for line in lines]
    assert sorted(sent) == sorted(ids)  # every reminder, none twice
    assert set((await statuses(data_dir)).values()) == {("sent", 1)}


async def test_a_crash_between_claim_and_send_gives_exactly_one_later_send(data_dir):
    (rid,) = await seed(data_dir, 1, utc("2027-01-09 10:07"))
    code, lines = finish(remind(data_dir, "2027-01-09T10:30:00+08:00",
                                **{EXIT_AFTER_CLAIM: "1"}))
    assert code == 17 and lines == []  # died holding the claim, nothing sent
    assert (await statuses(data_dir))[rid] == ("claimed", 1)
    assert run(data_dir, "2027-01-09T10:33:00+08:00") == []  # the lease (5 min) still holds
    (line,) = run(data_dir, "2027-01-09T10:36:00+08:00")
    assert line["reminder"] == rid
    assert run(data_dir, "2027-01-09T11:00:00+08:00") == []
    assert (await statuses(data_dir))[rid] == ("sent", 2)


def test_now_must_be_iso_and_needs_once(data_dir):
    env = {**os.environ, "BOT_DATA_DIR": str(data_dir)}
    bad = subprocess.run([sys.executable, "-m", "bot", "remind", "--once", "--now", "soon"],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=TIMEOUT,
                         check=False)
    assert bad.returncode == 2 and "ISO-8601" in bad.stderr
    loop = subprocess.run([sys.executable, "-m", "bot", "remind", "--now", "2027-01-09"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=TIMEOUT,
                          check=False)
    assert loop.returncode == 2 and "--once" in loop.stderr
