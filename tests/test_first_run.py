"""A new user's first run: a bad setting is one sentence, not a traceback."""

from __future__ import annotations

import json
import os
import pty
import select
import shutil
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = 120  # seconds for one start-up on a loaded machine
PREFIXES = ("BOT_", "TELEGRAM_", "WECOM_")


def clean_env(tmp_path: Path, **settings: str) -> dict[str, str]:
    """The environment of a new user: none of the bot's settings but these."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(PREFIXES)}
    env.update({"PYTHONPATH": str(ROOT), "BOT_DATA_DIR": str(tmp_path / "data"), **settings})
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


@pytest.mark.parametrize(("setting", "said"), [
    ("BOT_DATABASE_URL", "BOT_DATABASE_URL: could not open the database"),
    ("BOT_DATA_DIR", "BOT_DATA_DIR: could not create"),
])
def test_an_unreachable_database_or_data_dir_names_its_setting(tmp_path, setting, said):
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the database's directory should be")
    value = f"sqlite+aiosqlite:///{blocker}/bot.db" if setting == "BOT_DATABASE_URL" \
        else str(blocker / "data")
    key = Fernet.generate_key().decode()  # no warning about unencrypted numbers either
    done = start(tmp_path, "chat", "--json", **{setting: value, "BOT_ENCRYPTION_KEY": key})
    assert done.returncode == 2, done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith(said) and str(blocker) in line


def test_debug_shows_the_traceback_as_well(tmp_path):
    done = start(tmp_path, BOT_TIMEZONE="Mars/Olympus", BOT_LOG_LEVEL="DEBUG")
    assert done.returncode == 2
    assert "Traceback" in done.stderr
    assert done.stderr.strip().splitlines()[-1].startswith("BOT_TIMEZONE='Mars/Olympus'")


# -- the console chat in a terminal ----------------------------------------------------------
class Terminal:
    """``python -m bot chat`` on a pseudo-terminal, as a person runs it: Ctrl-C and Ctrl-D go
    through the terminal's line discipline, not through a signal sent by the test."""

    def __init__(self, tmp_path: Path, *command: str) -> None:
        env = clean_env(tmp_path, BOT_DEFAULT_LOCALE="en")
        args = [sys.executable, "-m", "bot", *(command or ("chat", "--user", "person"))]
        self.pid, self.fd = pty.fork()
        if self.pid == 0:  # the child: the terminal is its controlling tty
            os.chdir(tmp_path)
            os.execve(sys.executable, args, env)
        self.seen = ""

    def until(self, text: str, timeout: float = TIMEOUT) -> str:
        """Everything shown up to ``text``; empty when the terminal closed before it."""
        end = time.monotonic() + timeout
        while text not in self.seen and time.monotonic() < end:
            ready, _, _ = select.select([self.fd], [], [], 0.5)
            if ready:
                try:
                    chunk = os.read(self.fd, 65536)
                except OSError:  # the other side closed
                    break
                if not chunk:
                    break
                self.seen += chunk.decode("utf-8", errors="replace")
        shown, _, self.seen = self.seen.partition(text)
        return shown + text if _ else ""

    def type(self, keys: str) -> None:
        os.write(self.fd, keys.encode())

    def exit_status(self, timeout: float) -> int | None:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            self.until("\0", timeout=0.2)  # keep draining, or a full terminal blocks the child
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                os.close(self.fd)
                return os.waitstatus_to_exitcode(status)
        os.kill(self.pid, signal.SIGKILL)
        os.waitpid(self.pid, 0)
        return None


def current_step(tmp_path: Path, user: str) -> str:
    """Where the conversation stands, read by a fresh process (the JSON console's first line)."""
    done = start(tmp_path, "chat", "--json", "--user", user, BOT_DEFAULT_LOCALE="en")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[0])["expects"]["step"]


@pytest.mark.parametrize(("command", "key", "status"), [
    (("chat", "--user", "person"), "\x03", 130),
    (("chat", "--user", "person"), "\x04", 0),
    (("run",), "\x03", 130),  # bin/run without channels: the chat beside the reminder worker
], ids=["chat-ctrl-c", "chat-ctrl-d", "run-ctrl-c"])
def test_ctrl_c_and_ctrl_d_end_the_chat_at_once_and_keep_the_answers(tmp_path, command, key,
                                                                     status):
    term = Terminal(tmp_path, *command)
    shown = term.until("> ")
    assert "[2] Basic certification" in shown
    assert shown.count("ID and passport numbers are stored unencrypted") == 1
    term.type("2\r")
    assert term.until("> ")
    term.type("/help\r")
    shown = term.until("> ")
    assert "/upload" in shown and "Ctrl-D" in shown and "Ctrl-C" in shown
    term.type(key)
    begun = time.monotonic()
    assert term.exit_status(timeout=TIMEOUT) == status
    ended = time.monotonic() - begun
    assert ended < TIMEOUT / 2  # at once: no thread left blocking in readline()
    user = "person" if command[0] == "chat" else "console"
    assert current_step(tmp_path, user).startswith("basic.")


def test_upload_takes_quoted_paths_and_paths_with_spaces(tmp_path):
    scans = tmp_path / "My scans"
    scans.mkdir()
    image = Image.new("RGB", (16, 16), "white")
    image.save(scans / "license scan.png")
    term = Terminal(tmp_path)
    term.until("> ")
    for typed in (f'/upload "{scans}/license scan.png"', f"/upload '{scans}/license scan.png'",
                  f"/upload {scans}/license scan.png", f"/upload {scans}/license\\ scan.png"):
        term.type(typed + "\r")
        assert "could not read" not in term.until("> ")
    term.type("/upload /nowhere/at all.png\r")
    assert "I could not read the file /nowhere/at all.png" in term.until("> ")
    term.type("\x04")
    assert term.exit_status(timeout=TIMEOUT) == 0


def test_data_is_private_and_an_unencrypted_store_is_said_once(tmp_path):
    done = start(tmp_path, "chat", "--json", "--user", "someone")
    assert done.returncode == 0, done.stderr
    data = tmp_path / "data"
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    assert stat.S_IMODE((data / "bot.db").stat().st_mode) == 0o600
    for extra in ("bot.db-wal", "bot.db-shm"):
        if (data / extra).exists():
            assert stat.S_IMODE((data / extra).stat().st_mode) == 0o600
    warnings = [line for line in done.stderr.splitlines() if "BOT_ENCRYPTION_KEY" in line]
    assert len(warnings) == 1 and "WARNING" in warnings[0], done.stderr
    assert "stored unencrypted" in warnings[0] and "Fernet.generate_key()" in warnings[0]
    key = Fernet.generate_key().decode()
    done = start(tmp_path, "chat", "--json", "--user", "someone", BOT_ENCRYPTION_KEY=key)
    assert done.returncode == 0 and "BOT_ENCRYPTION_KEY" not in done.stderr


# -- python -m bot i18n ------------------------------------------------------------------------
def test_i18n_leaves_the_catalogs_as_they_are_when_no_message_changed(tmp_path):
    copy = tmp_path / "tree"
    for part in ("bot", "dialogs", "locales"):
        shutil.copytree(ROOT / part, copy / part)
    before = {p: p.read_bytes() for p in (copy / "locales").rglob("*.po")}
    env = {**clean_env(tmp_path), "PYTHONPATH": str(copy)}
    for _ in range(2):
        subprocess.run([sys.executable, "-m", "bot", "i18n"], cwd=copy, env=env, check=True,
                       capture_output=True, timeout=TIMEOUT)
        after = {p: p.read_bytes() for p in (copy / "locales").rglob("*.po")}
        assert after == before


def test_a_setting_added_later_gets_its_sentence_for_free(tmp_path, monkeypatch, capsys):
    from pydantic import SecretStr, ValidationError, field_validator, model_validator

    from bot.config import Settings
    from bot.startup import EXIT_STATUS, plain_failures, require_together

    class Later(Settings):
        wecom_kf_secret: SecretStr | None = None
        wecom_kf_open_kfid: str | None = None
        bot_page_size: int = 10

        @field_validator("bot_page_size")
        @classmethod
        def _size(cls, value: int) -> int:
            if not 1 <= value <= 50:
                raise ValueError("use a number from 1 to 50")
            return value

        @model_validator(mode="after")
        def _kf_in_part(self) -> Later:
            require_together(self, "WeCom customer service", ("wecom_kf_secret",
                                                              "wecom_kf_open_kfid"))
            return self

    monkeypatch.chdir(tmp_path)
    for env, expected in [
        ({"BOT_PAGE_SIZE": "99"}, "BOT_PAGE_SIZE='99' is not accepted: use a number from 1 to 50."),
        ({"WECOM_KF_SECRET": "s3cret"}, ("WeCom customer service is configured in part: set "
                                         "WECOM_KF_OPEN_KFID as well (or leave "
                                         "WECOM_KF_SECRET empty).")),
    ]:
        with monkeypatch.context() as m:
            for name, value in env.items():
                m.setenv(name, value)
            with pytest.raises(SystemExit) as stopped, plain_failures(Later):
                Later()
        assert stopped.value.code == EXIT_STATUS
        err = capsys.readouterr().err
        assert err.strip() == expected and "s3cret" not in err
    with pytest.raises(ValidationError), plain_failures(Later):  # another model's: a bug
        raise ValidationError.from_exception_data(
            "Update", [{"type": "missing", "loc": ("update_id",), "input": {}}])
