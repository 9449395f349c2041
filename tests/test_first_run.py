"""A new user's first run: a bad setting is one sentence, not a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = 120  # seconds for one start-up on a loaded machine
PREFIXES = ("BOT_", "TELEGRAM_", "WECOM_")


def clean_env(tmp_path: Path, **settings: str) -> dict[str, str]:
    """The environment of a new user: none of the bot's settings but these."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(PREFIXES)}
    env.update(PYTHONPATH=str(ROOT), BOT_DATA_DIR=str(tmp_path / "data"), **settings)
    return env


def start(tmp_path: Path, *args: str, **settings: str) -> subprocess.CompletedProcess:
    # cwd is a bare directory: no .env of the developer's is read
    return subprocess.run([sys.executable, "-m", "bot", *(args or ("run",))], check=False,
                          cwd=tmp_path,
                          env=clean_env(tmp_path, **settings), stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, encoding="utf-8", timeout=TIMEOUT)


BAD = [
    ({"BOT_QUIET_HOURS": "25:00-99"}, "BOT_QUIET_HOURS='25:00-99'", "21:00-09:00"),
    ({"BOT_TIMEZONE": "Mars/Olympus"}, "BOT_TIMEZONE='Mars/Olympus'", "Asia/Shanghai"),
    ({"BOT_DEFAULT_LOCALE": "fr"}, "BOT_DEFAULT_LOCALE='fr'", "zh_CN, en"),
    ({"BOT_ENCRYPTION_KEY": "not-a-key"}, "BOT_ENCRYPTION_KEY", "Fernet key"),
    ({"BOT_REMINDER_TIME": "7pm"}, "BOT_REMINDER_TIME='7pm'", "10:00"),
    ({"BOT_DATABASE_URL": "mysql+nosuch://u:hunter2@db/bot"}, "BOT_DATABASE_URL",
     "sqlite+aiosqlite:///"),
    ({"TELEGRAM_BOT_TOKEN": "my token"}, "TELEGRAM_BOT_TOKEN", "123456789:"),
    ({"TELEGRAM_BOT_TOKEN": "1:x", "TELEGRAM_WEBHOOK_URL": "https://bot.example.com/tg"},
     "TELEGRAM_WEBHOOK_SECRET", "A-Z, a-z, 0-9"),
    ({"WECOM_CORP_ID": "ww0123", "WECOM_SECRET": "s"},
     "WECOM_AGENT_ID, WECOM_TOKEN and WECOM_ENCODING_AES_KEY", "WeCom self-built app"),
    ({"BOT_REMINDER_LEASE": "five minutes"}, "BOT_REMINDER_LEASE", "integer"),
]


@pytest.mark.parametrize(("settings", "names", "accepted"), BAD,
                         ids=[next(iter(s)) for s, _, _ in BAD])
def test_a_bad_setting_stops_start_up_with_one_sentence(tmp_path, settings, names, accepted):
    done = start(tmp_path, **settings)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr  # one sentence, no traceback
    assert names in lines[0] and accepted in lines[0]
    assert "hunter2" not in done.stderr  # a password in a URL is never echoed
    assert done.stdout == ""
    assert not (tmp_path / "data").exists()  # stopped before anything was created


def test_an_unreachable_database_names_its_setting(tmp_path):
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the database's directory should be")
    url = f"sqlite+aiosqlite:///{blocker}/bot.db"
    done = start(tmp_path, "chat", "--json", BOT_DATABASE_URL=url)
    assert done.returncode == 2, done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith("BOT_DATABASE_URL: could not open the database")
    assert str(blocker) in line


def test_debug_shows_the_traceback_as_well(tmp_path):
    done = start(tmp_path, BOT_TIMEZONE="Mars/Olympus", BOT_LOG_LEVEL="DEBUG")
    assert done.returncode == 2
    assert "Traceback" in done.stderr
    assert done.stderr.strip().splitlines()[-1].startswith("BOT_TIMEZONE='Mars/Olympus'")
