"""``python -m bot remind --once`` run by cron reaches Telegram and WeCom merchants too: the
process builds each configured channel's sender and talks HTTP to the (fake) APIs."""

import asyncio
import json
import os
import sys
from pathlib import Path

from reminder_kit import open_bench

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "channels"))

from fake_telegram import TOKEN, FakeBotAPI
from fake_wecom import AES_KEY, AGENT_ID, CORP_ID, SECRET, FakeWeCom

from bot.content import load_guide

ROOT = Path(__file__).resolve().parents[2]


async def remind_once(data_dir: Path, url: str, now: str, **env_extra: str) -> list[dict]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("BOT_", "TELEGRAM_", "WECOM_"))}
    env.update(BOT_DATA_DIR=str(data_dir), BOT_DATABASE_URL=url, BOT_LOG_LEVEL="WARNING",
               **env_extra)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "remind", "--once", "--now", now, cwd=ROOT, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode == 0, err.decode()
    return [json.loads(line) for line in out.decode().splitlines() if line.strip()]


async def test_cron_sends_telegram_and_wecom_reminders_through_their_apis(tmp_path,
                                                                         database_url):
    data_dir = tmp_path / "data"
    bench = await open_bench(database_url, data_dir, load_guide())
    try:
        await bench.passed("7001", "basic", "2026-03-10", channel="telegram")
        await bench.passed("zhangwei", "factory", "2026-03-10", channel="wecom", lang="zh_CN")
    finally:
        await bench.db.close()
    telegram, wecom = FakeBotAPI(), FakeWeCom()
    await telegram.start()
    await wecom.start()
    try:
        sent = await remind_once(
            data_dir, database_url, "2027-01-09T11:00:00+08:00",
            TELEGRAM_BOT_TOKEN=TOKEN, TELEGRAM_API_SERVER=telegram.url,
            WECOM_CORP_ID=CORP_ID, WECOM_AGENT_ID=AGENT_ID, WECOM_SECRET=SECRET,
            WECOM_TOKEN="token", WECOM_ENCODING_AES_KEY=AES_KEY, WECOM_API_BASE=wecom.base_url)
        assert sorted((s["channel"], s["merchant"]) for s in sent) == [
            ("telegram", "7001"), ("wecom", "zhangwei")]
        (message,) = [m for m in telegram.messages if m["chat"]["id"] == 7001]
        assert "Basic certification" in message["text"]
        (text,) = wecom.texts("zhangwei")
        assert "工厂认证" in text
        again = await remind_once(
            data_dir, database_url, "2027-01-09T11:30:00+08:00",
            TELEGRAM_BOT_TOKEN=TOKEN, TELEGRAM_API_SERVER=telegram.url)
        assert again == []  # sent once, never twice
    finally:
        await telegram.stop()
        await wecom.stop()
